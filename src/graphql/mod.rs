//! The GraphQL schema: objects, inputs, connections, queries and mutations.

pub mod connection;
pub mod flat;
pub mod hygiene;
pub mod ids;
pub mod loaders;
pub mod mutation;
pub mod objects;
pub mod query;
pub mod scalars;
pub mod work;
pub mod work_mutation;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, EmptySubscription, Schema, SchemaBuilder};

use crate::auth::Viewer;
use crate::authz::{Right, Scope};
use crate::error::{Error, Result};
use crate::AppState;

pub type PorticoSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Limits on what one operation may ask for.
pub const MAX_DEPTH: usize = 15;
pub const MAX_COMPLEXITY: usize = 20_000;

/// The schema without request data; `portico schema` prints its SDL.
pub fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(
        query::Query,
        mutation::Mutation::default(),
        EmptySubscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

pub fn schema(state: AppState) -> PorticoSchema {
    builder().data(state).finish()
}

/// The SDL of the published contract (schema.graphql).
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// Per-request data: who is calling, their scope (computed at most once), and the fields
/// hidden from them so far.
pub struct RequestCtx {
    pub viewer: Option<Viewer>,
    /// The client's address (the connection's, or the first of X-Forwarded-For when the
    /// server is told to trust it): failed logins are counted per address too.
    pub client: Option<std::net::IpAddr>,
    /// The user a `login` in this request signed in, so its answer may show their own data.
    pub logged_in: std::sync::OnceLock<i64>,
    /// Computed on first use; cleared when a mutation changes access, so that the rest of
    /// the request (the mutation's answer, later mutations) sees the new rights.
    scope: Mutex<Option<Arc<Scope>>>,
    /// Serialises the computation of the scope (resolvers read `scope` without waiting).
    scope_init: tokio::sync::Mutex<()>,
    /// The access version read with the credentials, until the first computation of the
    /// scope uses it or access changes; later computations read the version anew.
    access_version: Mutex<Option<i64>>,
    redacted: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Reference fields answered null because they point to what the caller cannot see.
    not_visible: Mutex<BTreeMap<&'static str, u64>>,
    /// Batched loads of this request, with its scope.
    pub loader: std::sync::Mutex<Option<Arc<loaders::RequestLoader>>>,
}

impl RequestCtx {
    pub fn new(
        viewer: Option<Viewer>,
        access_version: Option<i64>,
        client: Option<std::net::IpAddr>,
    ) -> Self {
        RequestCtx {
            viewer,
            client,
            logged_in: std::sync::OnceLock::new(),
            scope: Mutex::new(None),
            scope_init: tokio::sync::Mutex::new(()),
            access_version: Mutex::new(access_version),
            redacted: Mutex::new(BTreeMap::new()),
            not_visible: Mutex::new(BTreeMap::new()),
            loader: std::sync::Mutex::new(None),
        }
    }

    /// The scope when it is already computed.
    pub fn scope_now(&self) -> Option<Arc<Scope>> {
        self.scope.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records that `field` was hidden for lack of `right`, for `extensions.redacted`.
    pub fn redact(&self, field: &'static str, right: Right) {
        let mut map = self.redacted.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((field, right.name())).or_insert(0) += 1;
    }

    /// Records that reference `field` was answered null because it points to a user, group,
    /// department, customer or project the caller cannot see.
    pub fn not_visible(&self, field: &'static str) {
        let mut map = self.not_visible.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(field).or_insert(0) += 1;
    }

    /// `Some(row)` when the caller may see what the reference points to; else None, and the
    /// field recorded as NOT_VISIBLE when there was something to point to.
    pub fn reference<T>(&self, field: &'static str, pointed: bool, row: Option<T>) -> Option<T> {
        if pointed && row.is_none() {
            self.not_visible(field);
        }
        row
    }

    /// `value` when `allowed`, else None and the field recorded as hidden.
    pub fn guard<T>(
        &self,
        allowed: bool,
        field: &'static str,
        right: Right,
        value: T,
    ) -> Option<T> {
        if allowed {
            return Some(value);
        }
        self.redact(field, right);
        None
    }

    /// `extensions.redacted` of the response: one entry per hidden field and right.
    pub fn redacted(&self) -> Option<serde_json::Value> {
        let map = self.redacted.lock().ok()?;
        let refs = self.not_visible.lock().ok()?;
        if map.is_empty() && refs.is_empty() {
            return None;
        }
        Some(serde_json::Value::Array(
            map.iter()
                .map(|((field, right), count)| {
                    serde_json::json!({ "field": field, "right": right, "count": count })
                })
                .chain(refs.iter().map(|(field, count)| {
                    serde_json::json!({ "field": field, "reason": "NOT_VISIBLE", "count": count })
                }))
                .collect(),
        ))
    }
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn req<'a>(ctx: &Context<'a>) -> &'a RequestCtx {
    ctx.data_unchecked::<Arc<RequestCtx>>()
}

/// The caller, or UNAUTHENTICATED.
pub fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer> {
    req(ctx).viewer.as_ref().ok_or(Error::Unauthenticated)
}

/// What the visibility of customers, departments and groups depends on besides the scope.
pub fn me(ctx: &Context<'_>) -> Result<crate::db::org::Me> {
    let v = viewer(ctx)?;
    Ok(crate::db::org::Me {
        user_id: v.user.id,
        customer_id: v.user.customer_id,
        department_id: v.user.department_id,
    })
}

/// The caller, when they may write: not through a read-only API key, not impersonated.
pub fn writer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer> {
    let v = viewer(ctx)?;
    if v.impersonator.is_some() {
        return Err(Error::forbidden("impersonated requests are read-only"));
    }
    if v.read_only {
        return Err(Error::forbidden("this API key is read-only"));
    }
    Ok(v)
}

/// May the caller see and revoke this API key? Its own keys (ADMIN: everyone's); through an
/// API key, only that key: a key cannot list or revoke its owner's other keys.
pub fn may_see_key(v: &Viewer, s: &Scope, owner: i64, key_id: i64) -> bool {
    match v.via.api_key_id() {
        Some(current) => key_id == current,
        None => s.is_admin() || owner == v.user.id,
    }
}

/// The caller's scope, computed once per request.
pub async fn scope(ctx: &Context<'_>) -> Result<Arc<Scope>> {
    let v = viewer(ctx)?;
    let db = &state(ctx).db;
    let rc = req(ctx);
    // The fast path every field resolver takes: no waiting once the scope is known.
    if let Some(s) = rc.scope_now() {
        return Ok(s);
    }
    // Held across the computation, so concurrent resolvers wait for one computation.
    let _computing = rc.scope_init.lock().await;
    if let Some(s) = rc.scope_now() {
        return Ok(s);
    }
    let known_version = rc
        .access_version
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let mut s = state(ctx)
        .access
        .scope(db, subject(&v.user, v.key_projects.clone()), known_version)
        .await?;
    if let (Some(me), Some(_)) = (&v.impersonator, v.via.api_key_id()) {
        // "View as" through an API key stays inside what the key alone may read.
        let limit = state(ctx)
            .access
            .scope(db, subject(me, v.key_projects.clone()), None)
            .await?;
        s = Arc::new(s.intersect(&limit));
    }
    if v.key_projects.is_some() {
        // A key narrowed to projects (a portal's) acts within them only: none of its
        // owner's global powers (administration, all users, the audit log) come along.
        let mut narrowed = (*s).clone();
        narrowed.global = crate::authz::RightSet::EMPTY;
        s = Arc::new(narrowed);
    }
    *rc.scope.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.clone());
    Ok(s)
}

/// Whom the policy judges: a user, narrowed by the API key in use.
pub fn subject(
    user: &crate::db::users::UserRow,
    key_projects: Option<Vec<i64>>,
) -> crate::authz::load::Subject {
    crate::authz::load::Subject {
        user_id: user.id,
        profile_id: user.profile_id,
        department_id: user.department_id,
        key_projects,
        external: user.kind == "EXTERNAL",
    }
}

/// A mutation changed what the caller may see: recompute the scope (and the loaders that
/// carry it) on next use.
pub async fn access_changed(ctx: &Context<'_>) {
    *req(ctx)
        .access_version
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
    *req(ctx).scope.lock().unwrap_or_else(|p| p.into_inner()) = None;
    *req(ctx).loader.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The caller must hold a global right (ADMIN holds them all).
pub async fn require_global(ctx: &Context<'_>, right: Right) -> Result<Arc<Scope>> {
    let s = scope(ctx).await?;
    if s.is_admin() || s.global.contains(right) {
        Ok(s)
    } else {
        Err(Error::forbidden(format!("requires {}", right.name())))
    }
}

/// Answers `value` when `allowed`, else records the redaction and answers None.
pub fn guard<T>(
    ctx: &Context<'_>,
    allowed: bool,
    field: &'static str,
    right: Right,
    value: T,
) -> Option<T> {
    req(ctx).guard(allowed, field, right, value)
}

/// Records that `field` was hidden for lack of `right`, for `extensions.redacted`.
pub fn redact(ctx: &Context<'_>, field: &'static str, right: Right) {
    req(ctx).redact(field, right);
}
