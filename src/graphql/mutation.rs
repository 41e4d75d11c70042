//! The mutation root. Each mutation validates all of its input before writing, writes in
//! one transaction together with its audit event, and answers the entity it changed.

use async_graphql::{Context, InputObject, MaybeUndefined, MergedObject, Object, ID};
use chrono::Utc;

use super::ids::{self, id_input, id_input_opt};
use super::objects::*;
use super::scalars::{DateTime, Decimal};
use super::{require_global, state, viewer, writer};
use crate::auth::{token, Via, Viewer};
use crate::authz::{Right, RightSet};
use crate::db::audit::{self, NewEvent};
use crate::db::credentials::{self, NewApiKey};
use crate::db::org::{self, Named};
use crate::db::users::{self, NewUser, UserChanges};
use crate::db::{is_unique_violation, Tx};
use crate::error::{Error, Result};

/// The mutation root: administration, and project work.
#[derive(MergedObject, Default)]
pub struct Mutation(AdminMutation, super::work_mutation::WorkMutation);

#[derive(Default)]
pub struct AdminMutation;

pub const MAX_NAME: usize = 200;
/// At most this many failed logins per account, and per address at one account, within the
/// window (see `LoginThrottle`).
pub const MAX_FAILED_LOGINS: i64 = 10;
/// At most this many failed logins from one address within the window, at any accounts.
pub const MAX_FAILED_LOGINS_PER_ADDRESS: i64 = 50;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 1024;

/// A trimmed, non-empty name of at most [`MAX_NAME`] characters.
pub fn name(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::bad_input(field, "must not be empty"));
    }
    if v.chars().count() > MAX_NAME {
        return Err(Error::bad_input(
            field,
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    Ok(v.to_string())
}

fn email(field: &str, value: &str) -> Result<String> {
    let v = users::normalize_email(value);
    let ok = v.len() <= 254
        && v.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !v.chars().any(char::is_whitespace);
    if ok {
        Ok(v)
    } else {
        Err(Error::bad_input(field, "must be an email address"))
    }
}

fn password(field: &str, value: &str) -> Result<String> {
    let n = value.chars().count();
    if n < MIN_PASSWORD {
        return Err(Error::bad_input(
            field,
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(Error::bad_input(
            field,
            format!("must be at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(value.to_string())
}

pub fn money(field: &str, value: Decimal) -> Result<i64> {
    if value.0 < 0 {
        return Err(Error::bad_input(field, "must not be negative"));
    }
    Ok(value.0)
}

/// Records a change's audit event in its transaction, commits, and lets the rest of the
/// request see the change (its answer, later mutations).
pub async fn commit(ctx: &Context<'_>, mut tx: Tx, e: NewEvent<'_>) -> Result<()> {
    audit::record(&mut tx, e).await?;
    tx.commit().await?;
    super::access_changed(ctx).await;
    Ok(())
}

/// The claims of one login attempt on the failure counters (db::throttle): per account
/// (keyed by a hash of the email, so nothing typed is kept), per client address, and per
/// pair of them.
///
/// The limits slow an attacker without locking the owner out: an address gets at most
/// [`MAX_FAILED_LOGINS`] tries at one account and [`MAX_FAILED_LOGINS_PER_ADDRESS`] in all
/// per window; once an account has had [`MAX_FAILED_LOGINS`] failures from anywhere, only
/// addresses that never failed at it may still try (the owner, from elsewhere).
struct LoginThrottle {
    account: String,
    address: String,
    pair: String,
    first_failure_of_account: bool,
}

impl LoginThrottle {
    /// Claims the attempt, or `None` when a limit holds (RATE_LIMITED, no password checked).
    async fn claim(ctx: &Context<'_>, email: &str) -> Result<Option<LoginThrottle>> {
        let db = &state(ctx).db;
        let who = &token::hash(email)[..32];
        let addr = super::req(ctx)
            .client
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        let now = Utc::now();
        let cutoff = now - chrono::Duration::minutes(LOGIN_WINDOW_MINUTES);
        let t = LoginThrottle {
            account: format!("account:{who}"),
            address: format!("address:{addr}"),
            pair: format!("pair:{who}:{addr}"),
            first_failure_of_account: false,
        };
        use crate::db::throttle::{claim, give_back};
        if claim(db, &t.address, MAX_FAILED_LOGINS_PER_ADDRESS, now, cutoff)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let Some(pair) = claim(db, &t.pair, MAX_FAILED_LOGINS, now, cutoff).await? else {
            give_back(db, &t.address).await?;
            return Ok(None);
        };
        let account = claim(db, &t.account, MAX_FAILED_LOGINS, now, cutoff).await?;
        if account.is_none() && pair > 1 {
            // The account is under attack and this address has failed at it before.
            give_back(db, &t.address).await?;
            give_back(db, &t.pair).await?;
            return Ok(None);
        }
        Ok(Some(LoginThrottle {
            first_failure_of_account: account == Some(1),
            ..t
        }))
    }

    /// A correct password: this attempt was no failure, and the account's and this
    /// address's failures at it are forgotten.
    async fn succeeded(&self, db: &crate::db::Db) -> Result<()> {
        use crate::db::throttle::{clear, give_back};
        give_back(db, &self.address).await?;
        clear(db, &self.pair).await?;
        clear(db, &self.account).await
    }
}

/// An audit event done by the caller.
pub fn event<'a>(
    v: &Viewer,
    action: &'a str,
    target: Option<ID>,
    details: serde_json::Value,
) -> NewEvent<'a> {
    NewEvent {
        actor_id: Some(v.user.id),
        impersonator_id: v.impersonator.as_ref().map(|u| u.id),
        action,
        target: target.map(|t| t.0),
        details,
    }
}

/// The id must name an existing row of `kind`, else BAD_USER_INPUT on `field`.
pub(super) async fn existing(
    ctx: &Context<'_>,
    kind: Named,
    id: Option<i64>,
    field: &str,
) -> Result<()> {
    if let Some(id) = id {
        if kind.find(&state(ctx).db, id).await?.is_none() {
            return Err(Error::bad_input(field, "does not exist"));
        }
    }
    Ok(())
}

async fn existing_profile(ctx: &Context<'_>, id: i64, field: &str) -> Result<()> {
    if org::find_profile(&state(ctx).db, id).await?.is_none() {
        return Err(Error::bad_input(field, "does not exist"));
    }
    Ok(())
}

pub(super) async fn begin(ctx: &Context<'_>) -> Result<Tx> {
    Ok(state(ctx).db.begin().await?)
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// A name to recognise the key by.
    pub name: String,
    /// When the key stops working; none for never.
    pub expires_at: Option<DateTime>,
    /// A read-only key cannot run mutations.
    #[graphql(default)]
    pub read_only: bool,
    /// Narrow the key to these projects and their sub-projects (a customer portal).
    pub project_ids: Option<Vec<ID>>,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    /// At least 10 characters.
    pub password: String,
    #[graphql(default_with = "UserKind::Internal")]
    pub kind: UserKind,
    /// The company an external user belongs to.
    pub customer_id: Option<ID>,
    pub department_id: Option<ID>,
    /// The default profile: its global rights apply everywhere.
    pub profile_id: ID,
    /// Cost per hour (default 0).
    pub cost_rate: Option<Decimal>,
    /// Billing rate per hour (default 0).
    pub billing_rate: Option<Decimal>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub id: ID,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Option<String>,
    pub kind: Option<UserKind>,
    /// Null clears it.
    pub customer_id: MaybeUndefined<ID>,
    /// Null clears it.
    pub department_id: MaybeUndefined<ID>,
    pub profile_id: Option<ID>,
    pub cost_rate: Option<Decimal>,
    pub billing_rate: Option<Decimal>,
    /// False stops the user from signing in; their sessions and keys stop working.
    pub active: Option<bool>,
}

#[derive(InputObject)]
pub struct CreateProfileInput {
    pub name: String,
    pub rights: Vec<Right>,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub id: ID,
    pub name: Option<String>,
    /// Replaces the profile's rights.
    pub rights: Option<Vec<Right>>,
}

#[derive(InputObject)]
pub struct SetExternalCeilingInput {
    /// The rights an EXTERNAL user may ever hold; replaces the current ceiling.
    pub rights: Vec<Right>,
}

#[derive(InputObject)]
pub struct CreateGroupInput {
    pub name: String,
}

#[derive(InputObject)]
pub struct GroupMemberInput {
    pub group_id: ID,
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct CreateCustomerInput {
    pub name: String,
}

#[derive(InputObject)]
pub struct CreateDepartmentInput {
    pub name: String,
    pub parent_id: Option<ID>,
}

fn map_unique(e: Error, field: &str, what: &str) -> Error {
    match e {
        Error::Database(ref db) if is_unique_violation(db) => {
            Error::bad_input(field, format!("{what} is already in use"))
        }
        other => other,
    }
}

#[Object]
impl AdminMutation {
    /// Signs in. A wrong password and an unknown email answer the same UNAUTHENTICATED.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<Session> {
        let app = state(ctx);
        if input.password.len() > MAX_PASSWORD || input.email.len() > 254 {
            return Err(Error::Unauthenticated);
        }
        let email = users::normalize_email(&input.email);
        let Some(throttle) = LoginThrottle::claim(ctx, &email).await? else {
            return Err(Error::RateLimited);
        };
        let found = users::find_user_for_login_unscoped(&app.db, &input.email).await?;
        let (user, hash) = match found {
            Some((u, h)) if u.active => (Some(u), Some(h)),
            _ => (None, None),
        };
        let ok = app.hasher.verify(input.password, hash).await?;
        let Some(user) = user.filter(|_| ok) else {
            // Counted by the claim; audited once per account and window, not per attempt
            // (and never for an email that names no account).
            if throttle.first_failure_of_account {
                if let Some((known, _)) =
                    users::find_user_for_login_unscoped(&app.db, &email).await?
                {
                    audit::record_alone(
                        &app.db,
                        NewEvent {
                            actor_id: None,
                            impersonator_id: None,
                            action: "LOGIN_FAILED",
                            target: Some(ids::encode("User", known.id).0),
                            details: serde_json::json!({}),
                        },
                    )
                    .await?;
                }
            }
            return Err(Error::Unauthenticated);
        };
        throttle.succeeded(&app.db).await?;
        let secret = token::generate(token::SESSION_PREFIX);
        let expires_at = Utc::now() + app.session_ttl;
        credentials::create_session(&app.db, user.id, &token::hash(&secret), expires_at).await?;
        audit::record_alone(
            &app.db,
            NewEvent {
                actor_id: Some(user.id),
                impersonator_id: None,
                action: "LOGIN",
                target: Some(ids::encode("User", user.id).0),
                details: serde_json::json!({}),
            },
        )
        .await?;
        let _ = super::req(ctx).logged_in.set(user.id);
        Ok(Session {
            token: secret,
            expires_at: DateTime(expires_at),
            user: User(user),
        })
    }

    /// Ends the session whose token this request carries.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let v = viewer(ctx)?;
        if v.impersonator.is_some() {
            return Err(Error::forbidden("impersonated requests are read-only"));
        }
        let Via::Session { session_id } = v.via else {
            return Err(Error::forbidden(
                "logout ends a session; revoke an API key with revokeApiKey",
            ));
        };
        let db = &state(ctx).db;
        let done = credentials::revoke_session(db, session_id).await?;
        audit::record_alone(db, event(v, "LOGOUT", None, serde_json::json!({}))).await?;
        Ok(done)
    }

    /// Creates an API key acting as the caller. The secret is in the answer only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<ApiKeyCreated> {
        let v = writer(ctx)?;
        let s = super::scope(ctx).await?;
        let key_name = name("name", &input.name)?;
        if input.expires_at.is_some_and(|e| e.0 <= Utc::now()) {
            return Err(Error::bad_input("expiresAt", "must be in the future"));
        }
        // A key made through a key cannot outlive it.
        if let Via::ApiKey {
            expires_at: Some(limit),
            ..
        } = v.via
        {
            if input.expires_at.is_none_or(|e| e.0 > limit) {
                return Err(Error::forbidden(format!(
                    "expiresAt: a key made through an API key cannot outlive it; give an expiry no later than {}",
                    limit.to_rfc3339()
                )));
            }
        }
        if input.project_ids.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::bad_input(
                "projectIds",
                "name at least one project, or leave it out for a key over all your projects",
            ));
        }
        let mut project_ids = Vec::new();
        for id in input.project_ids.unwrap_or_default() {
            let p = id_input_opt("Project", Some(&id), "projectIds")?.unwrap_or(0);
            // A key cannot reach further than its owner; an unknown project looks the same.
            if !s.sees(p) {
                return Err(Error::bad_input("projectIds", "no such project"));
            }
            if !project_ids.contains(&p) {
                project_ids.push(p);
            }
        }
        // A key made through a narrowed key stays within that key's projects.
        if let Some(narrow) = &v.key_projects {
            if project_ids.is_empty() {
                project_ids = narrow.clone();
            }
        }
        let secret = token::generate(token::API_KEY_PREFIX);
        let hash = token::hash(&secret);
        let prefix: String = secret
            .chars()
            .take(token::API_KEY_PREFIX.len() + 6)
            .collect();
        let mut tx = begin(ctx).await?;
        let key = credentials::create_api_key(
            &mut tx,
            NewApiKey {
                user_id: v.user.id,
                name: &key_name,
                key_hash: &hash,
                prefix: &prefix,
                read_only: input.read_only,
                expires_at: input.expires_at.map(|e| e.0),
                project_ids: &project_ids,
            },
        )
        .await?;
        commit(ctx, tx, event(
                v,
                "CREATE_API_KEY",
                Some(ids::encode("ApiKey", key.id)),
                serde_json::json!({ "name": key.name, "readOnly": key.read_only, "projects": project_ids.len() }),
            )).await?;
        Ok(ApiKeyCreated {
            secret,
            api_key: ApiKey(key),
        })
    }

    /// Revokes one of the caller's API keys (ADMIN: anyone's).
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let v = writer(ctx)?;
        let s = super::scope(ctx).await?;
        let db = &state(ctx).db;
        let key_id = ids::decode("ApiKey", &id).ok_or(Error::NotFound)?;
        let key = credentials::find_api_key_by_id(db, key_id)
            .await?
            .filter(|k| super::may_see_key(v, &s, k.user_id, k.id))
            .ok_or(Error::NotFound)?;
        let mut tx = begin(ctx).await?;
        credentials::revoke_api_key(&mut tx, key.id).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "REVOKE_API_KEY",
                Some(id),
                serde_json::json!({ "name": key.name }),
            ),
        )
        .await?;
        let key = credentials::find_api_key_by_id(db, key_id)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(ApiKey(key))
    }

    /// Creates a user. Needs ADMIN.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let v = writer(ctx)?;
        require_global(ctx, Right::Admin).await?;
        let email = email("email", &input.email)?;
        let user_name = name("name", &input.name)?;
        let pw = password("password", &input.password)?;
        let customer_id = id_input_opt("Customer", input.customer_id.as_ref(), "customerId")?;
        let department_id =
            id_input_opt("Department", input.department_id.as_ref(), "departmentId")?;
        let profile_id = id_input("Profile", &input.profile_id, "profileId")?;
        let cost_rate = input.cost_rate.map(|m| money("costRate", m)).transpose()?;
        let billing_rate = input
            .billing_rate
            .map(|m| money("billingRate", m))
            .transpose()?;
        existing(ctx, Named::Customer, customer_id, "customerId").await?;
        existing(ctx, Named::Department, department_id, "departmentId").await?;
        existing_profile(ctx, profile_id, "profileId").await?;
        let password_hash = state(ctx).hasher.hash(pw).await?;
        let mut tx = begin(ctx).await?;
        let user = users::create_user(
            &mut tx,
            NewUser {
                email,
                name: user_name,
                kind: input.kind.as_str().into(),
                customer_id,
                department_id,
                profile_id,
                cost_rate: cost_rate.unwrap_or(0),
                billing_rate: billing_rate.unwrap_or(0),
                password_hash,
            },
        )
        .await
        .map_err(|e| map_unique(e, "email", "this email"))?;
        commit(
            ctx,
            tx,
            event(
                v,
                "CREATE_USER",
                Some(ids::encode("User", user.id)),
                serde_json::json!({ "profileId": ids::encode("Profile", profile_id).0 }),
            ),
        )
        .await?;
        Ok(User(user))
    }

    /// Changes a user. Needs ADMIN.
    async fn update_user(&self, ctx: &Context<'_>, input: UpdateUserInput) -> Result<User> {
        let v = writer(ctx)?;
        require_global(ctx, Right::Admin).await?;
        let id = id_input("User", &input.id, "id")?;
        let email = input
            .email
            .as_deref()
            .map(|e| email("email", e))
            .transpose()?;
        let user_name = input.name.as_deref().map(|n| name("name", n)).transpose()?;
        let pw = input
            .password
            .as_deref()
            .map(|p| password("password", p))
            .transpose()?;
        let customer_id = match &input.customer_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(c) => Some(Some(id_input("Customer", c, "customerId")?)),
        };
        let department_id = match &input.department_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => Some(Some(id_input("Department", d, "departmentId")?)),
        };
        let profile_id = id_input_opt("Profile", input.profile_id.as_ref(), "profileId")?;
        let cost_rate = input.cost_rate.map(|m| money("costRate", m)).transpose()?;
        let billing_rate = input
            .billing_rate
            .map(|m| money("billingRate", m))
            .transpose()?;
        existing(ctx, Named::Customer, customer_id.flatten(), "customerId").await?;
        existing(
            ctx,
            Named::Department,
            department_id.flatten(),
            "departmentId",
        )
        .await?;
        if let Some(p) = profile_id {
            existing_profile(ctx, p, "profileId").await?;
        }
        if id == v.user.id && (input.active == Some(false) || profile_id.is_some()) {
            // An admin cannot lock themself out by mistake.
            return Err(Error::bad_input(
                if profile_id.is_some() {
                    "profileId"
                } else {
                    "active"
                },
                "cannot be changed on your own account",
            ));
        }
        let password_hash = match pw {
            Some(p) => Some(state(ctx).hasher.hash(p).await?),
            None => None,
        };
        let changed: Vec<&str> = [
            ("email", email.is_some()),
            ("name", user_name.is_some()),
            ("password", password_hash.is_some()),
            ("kind", input.kind.is_some()),
            ("customerId", customer_id.is_some()),
            ("departmentId", department_id.is_some()),
            ("profileId", profile_id.is_some()),
            ("costRate", cost_rate.is_some()),
            ("billingRate", billing_rate.is_some()),
            ("active", input.active.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, c)| c.then_some(f))
        .collect();
        let mut tx = begin(ctx).await?;
        let user = users::update_user(
            &mut tx,
            id,
            UserChanges {
                email,
                name: user_name,
                kind: input.kind.map(|k| k.as_str().to_string()),
                customer_id,
                department_id,
                profile_id,
                cost_rate,
                billing_rate,
                password_hash,
                active: input.active,
            },
        )
        .await
        .map_err(|e| map_unique(e, "email", "this email"))?
        .ok_or(Error::NotFound)?;
        commit(
            ctx,
            tx,
            event(
                v,
                "UPDATE_USER",
                Some(input.id.clone()),
                serde_json::json!({ "changed": changed }),
            ),
        )
        .await?;
        Ok(User(user))
    }

    /// Creates a profile. Needs ADMIN.
    async fn create_profile(
        &self,
        ctx: &Context<'_>,
        input: CreateProfileInput,
    ) -> Result<Profile> {
        let v = writer(ctx)?;
        require_global(ctx, Right::Admin).await?;
        let profile_name = name("name", &input.name)?;
        let rights: RightSet = input.rights.iter().copied().collect();
        let mut tx = begin(ctx).await?;
        let p = org::create_profile(&mut tx, &profile_name, rights)
            .await
            .map_err(|e| map_unique(e, "name", "this name"))?;
        commit(
            ctx,
            tx,
            event(
                v,
                "CREATE_PROFILE",
                Some(ids::encode("Profile", p.id)),
                serde_json::json!({ "rights": rights.iter().map(Right::name).collect::<Vec<_>>() }),
            ),
        )
        .await?;
        Ok(Profile(p))
    }

    /// Renames a profile or replaces its rights. Needs ADMIN. Takes effect on every
    /// member's next request.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> Result<Profile> {
        let v = writer(ctx)?;
        require_global(ctx, Right::Admin).await?;
        let id = id_input("Profile", &input.id, "id")?;
        let profile_name = input.name.as_deref().map(|n| name("name", n)).transpose()?;
        let rights: Option<RightSet> = input.rights.map(|r| r.into_iter().collect());
        let mut tx = begin(ctx).await?;
        let found = org::update_profile(&mut tx, id, profile_name.as_deref(), rights)
            .await
            .map_err(|e| map_unique(e, "name", "this name"))?;
        if !found {
            return Err(Error::NotFound);
        }
        commit(
            ctx,
            tx,
            event(
                v,
                "UPDATE_PROFILE",
                Some(input.id.clone()),
                serde_json::json!({
                    "name": profile_name,
                    "rights": rights.map(|r| r.iter().map(Right::name).collect::<Vec<_>>()),
                }),
            ),
        )
        .await?;
        let p = org::find_profile(&state(ctx).db, id)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(Profile(p))
    }

    /// Replaces the global ceiling for external users. Needs ADMIN; audited. Takes effect
    /// on every external user's next request.
    async fn set_external_ceiling(
        &self,
        ctx: &Context<'_>,
        input: SetExternalCeilingInput,
    ) -> Result<Vec<Right>> {
        let v = writer(ctx)?;
        require_global(ctx, Right::Admin).await?;
        let rights: RightSet = input.rights.iter().copied().collect();
        let before = crate::authz::load::external_ceiling(&state(ctx).db).await?;
        let mut tx = begin(ctx).await?;
        org::set_external_ceiling(&mut tx, rights).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "SET_EXTERNAL_CEILING",
                None,
                serde_json::json!({
                    "from": before.iter().map(Right::name).collect::<Vec<_>>(),
                    "to": rights.iter().map(Right::name).collect::<Vec<_>>(),
                }),
            ),
        )
        .await?;
        Ok(rights.iter().collect())
    }

    /// Creates a group. Needs ADMIN.
    async fn create_group(&self, ctx: &Context<'_>, input: CreateGroupInput) -> Result<Group> {
        let g = create_named(ctx, Named::Group, &input.name, None, "CREATE_GROUP").await?;
        Ok(Group(g))
    }

    /// Adds a user to a group. Needs ADMIN.
    async fn add_group_member(&self, ctx: &Context<'_>, input: GroupMemberInput) -> Result<Group> {
        group_member(ctx, input, true).await
    }

    /// Removes a user from a group. Needs ADMIN.
    async fn remove_group_member(
        &self,
        ctx: &Context<'_>,
        input: GroupMemberInput,
    ) -> Result<Group> {
        group_member(ctx, input, false).await
    }

    /// Creates a customer. Needs ADMIN.
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> Result<Customer> {
        let c = create_named(ctx, Named::Customer, &input.name, None, "CREATE_CUSTOMER").await?;
        Ok(Customer(c))
    }

    /// Creates a department, under `parentId` when given. Needs ADMIN.
    async fn create_department(
        &self,
        ctx: &Context<'_>,
        input: CreateDepartmentInput,
    ) -> Result<Department> {
        let parent = id_input_opt("Department", input.parent_id.as_ref(), "parentId")?;
        let d = create_named(
            ctx,
            Named::Department,
            &input.name,
            parent,
            "CREATE_DEPARTMENT",
        )
        .await?;
        Ok(Department(d))
    }
}

async fn create_named(
    ctx: &Context<'_>,
    kind: Named,
    raw_name: &str,
    parent: Option<i64>,
    action: &str,
) -> Result<org::NamedRow> {
    let v = writer(ctx)?;
    require_global(ctx, Right::Admin).await?;
    let n = name("name", raw_name)?;
    existing(ctx, kind, parent, "parentId").await?;
    let mut tx = begin(ctx).await?;
    let row = kind
        .create(&mut tx, &n, parent)
        .await
        .map_err(|e| map_unique(e, "name", "this name"))?;
    let type_name = match kind {
        Named::Group => "Group",
        Named::Customer => "Customer",
        Named::Department => "Department",
    };
    commit(
        ctx,
        tx,
        event(
            v,
            action,
            Some(ids::encode(type_name, row.id)),
            serde_json::json!({ "name": row.name }),
        ),
    )
    .await?;
    Ok(row)
}

async fn group_member(ctx: &Context<'_>, input: GroupMemberInput, add: bool) -> Result<Group> {
    let v = writer(ctx)?;
    require_global(ctx, Right::Admin).await?;
    let group_id = id_input("Group", &input.group_id, "groupId")?;
    let user_id = id_input("User", &input.user_id, "userId")?;
    let db = &state(ctx).db;
    let group = Named::Group
        .find(db, group_id)
        .await?
        .ok_or_else(|| Error::bad_input("groupId", "does not exist"))?;
    if users::find_user_unscoped(db, user_id).await?.is_none() {
        return Err(Error::bad_input("userId", "does not exist"));
    }
    let mut tx = begin(ctx).await?;
    let changed = if add {
        org::add_group_member(&mut tx, group_id, user_id).await?
    } else {
        org::remove_group_member(&mut tx, group_id, user_id).await?
    };
    if changed {
        audit::record(
            &mut tx,
            event(
                v,
                if add {
                    "ADD_GROUP_MEMBER"
                } else {
                    "REMOVE_GROUP_MEMBER"
                },
                Some(input.group_id.clone()),
                serde_json::json!({ "userId": input.user_id.0 }),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    super::access_changed(ctx).await;
    Ok(Group(group))
}
