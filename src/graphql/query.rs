//! The query root.

use async_graphql::{Context, InputObject, Object, ID};

use super::connection::page_args;
use super::ids::{self, decode};
use super::objects::*;
use super::{require_global, scope, state, viewer};
use crate::authz::{HiddenReason, Right};
use crate::db::audit::{self, EventFilter};
use crate::db::credentials;
use crate::db::org::{self, Named};
use crate::db::projects::{self, ProjectFilter as DbProjectFilter};
use crate::db::users::{self, UserFilter as DbUserFilter};
use crate::error::{Error, Result};

pub struct Query;

/// Narrows `projects`.
#[derive(InputObject, Default)]
pub struct ProjectFilter {
    /// Only projects in one of these statuses.
    pub status: Option<Vec<ProjectStatus>>,
    pub customer_id: Option<ID>,
    /// Only direct sub-projects of this project.
    pub parent_id: Option<ID>,
    /// Only projects without a parent.
    pub top_level_only: Option<bool>,
    /// Case-insensitive match on name or code.
    pub search: Option<String>,
}

/// Narrows `users`.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Case-insensitive match on the name (and, for ADMIN, the email).
    pub search: Option<String>,
    pub kind: Option<UserKind>,
    pub customer_id: Option<ID>,
}

/// Narrows `auditEvents`.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    pub action: Option<String>,
    /// Events this user did or impersonated.
    pub actor_id: Option<ID>,
}

/// A filter id that names nothing of its type matches nothing.
fn filter_id(type_name: &str, id: &Option<ID>) -> Option<i64> {
    id.as_ref().map(|i| decode(type_name, i).unwrap_or(0))
}

#[Object]
impl Query {
    /// The caller. Needs authentication.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<ViewerInfo> {
        viewer(ctx)?;
        Ok(ViewerInfo)
    }

    /// Anything by global id; null when it does not exist or the caller may not see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let s = scope(ctx).await?;
        let db = &state(ctx).db;
        let Some((kind, n)) = ids::decode_any(&id) else {
            return Ok(None);
        };
        Ok(match kind.as_str() {
            "Project" => projects::find_project(db, &s, n)
                .await?
                .map(|p| Node::Project(Project(p))),
            "User" => users::list_visible_users_by_ids(db, &s, vec![n])
                .await?
                .pop()
                .map(|u| Node::User(User(u))),
            "Profile" => org::find_profile(db, n)
                .await?
                .map(|p| Node::Profile(Profile(p))),
            "Group" => Named::Group
                .find(db, n)
                .await?
                .map(|g| Node::Group(Group(g))),
            "Customer" => Named::Customer
                .find(db, n)
                .await?
                .map(|c| Node::Customer(Customer(c))),
            "Department" => Named::Department
                .find(db, n)
                .await?
                .map(|d| Node::Department(Department(d))),
            "ApiKey" => credentials::find_api_key_by_id(db, n)
                .await?
                .filter(|k| s.is_admin() || k.user_id == s.user_id)
                .map(|k| Node::ApiKey(ApiKey(k))),
            "AuditEvent" if s.is_admin() => audit::list_events(
                db,
                &EventFilter::default(),
                crate::db::list::PageArgs {
                    first: 1,
                    after: Some(n - 1),
                },
            )
            .await?
            .items
            .into_iter()
            .find(|(k, _)| *k == n)
            .map(|(_, e)| Node::AuditEvent(AuditEvent(e))),
            "Membership" => None,
            _ => None,
        })
    }

    /// A project by id; null when missing or not visible.
    async fn project(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Project>> {
        let s = scope(ctx).await?;
        let Some(n) = decode("Project", &id) else {
            return Ok(None);
        };
        Ok(projects::find_project(&state(ctx).db, &s, n)
            .await?
            .map(Project))
    }

    /// The projects the caller may see.
    async fn projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProjectFilter>,
    ) -> Result<ProjectConnection> {
        let s = scope(ctx).await?;
        let args = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let db_filter = DbProjectFilter {
            statuses: f
                .status
                .map(|v| v.into_iter().map(|s| s.as_str().to_string()).collect()),
            customer_id: filter_id("Customer", &f.customer_id),
            parent_id: filter_id("Project", &f.parent_id),
            top_level_only: f.top_level_only.unwrap_or(false),
            search: f.search,
        };
        let page = projects::list_projects(&state(ctx).db, &s, &db_filter, args).await?;
        Ok(ProjectConnection::new(page, args, Project))
    }

    /// The users the caller may see: everyone for ADMIN, else themself and the members of
    /// the projects they see.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<UserFilter>,
    ) -> Result<UserConnection> {
        let s = scope(ctx).await?;
        let args = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let db_filter = DbUserFilter {
            search: f.search,
            kind: f.kind.map(|k| k.as_str().to_string()),
            customer_id: filter_id("Customer", &f.customer_id),
        };
        let page = users::list_users(&state(ctx).db, &s, &db_filter, args).await?;
        Ok(UserConnection::new(page, args, User))
    }

    /// Every profile and its rights.
    async fn profiles(&self, ctx: &Context<'_>) -> Result<Vec<Profile>> {
        viewer(ctx)?;
        Ok(org::list_profiles(&state(ctx).db)
            .await?
            .into_iter()
            .map(Profile)
            .collect())
    }

    /// Every group.
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        viewer(ctx)?;
        Ok(Named::Group
            .list(&state(ctx).db)
            .await?
            .into_iter()
            .map(Group)
            .collect())
    }

    /// Every department.
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<Department>> {
        viewer(ctx)?;
        Ok(Named::Department
            .list(&state(ctx).db)
            .await?
            .into_iter()
            .map(Department)
            .collect())
    }

    /// Every customer.
    async fn customers(&self, ctx: &Context<'_>) -> Result<Vec<Customer>> {
        viewer(ctx)?;
        Ok(Named::Customer
            .list(&state(ctx).db)
            .await?
            .into_iter()
            .map(Customer)
            .collect())
    }

    /// The caller's API keys (ADMIN: everyone's).
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        let s = scope(ctx).await?;
        let owner = (!s.is_admin()).then_some(s.user_id);
        Ok(credentials::list_api_keys(&state(ctx).db, owner)
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }

    /// The audit log. Needs ADMIN.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditEventFilter>,
    ) -> Result<AuditEventConnection> {
        require_global(ctx, Right::Admin).await?;
        let args = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let db_filter = EventFilter {
            action: f.action,
            actor_id: filter_id("User", &f.actor_id),
        };
        let page = audit::list_events(&state(ctx).db, &db_filter, args).await?;
        Ok(AuditEventConnection::new(page, args, AuditEvent))
    }

    /// Why `userId` (default: the caller) sees `projectId` with the rights it has, or why
    /// not. Users may ask about themselves; ADMIN about anyone. A project the caller cannot
    /// see answers NOT_FOUND, as if missing.
    async fn explain_access(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: Option<ID>,
    ) -> Result<AccessExplanation> {
        let s = scope(ctx).await?;
        let v = viewer(ctx)?;
        let db = &state(ctx).db;
        let project = decode("Project", &project_id).ok_or(Error::NotFound)?;
        if !s.sees(project) {
            return Err(Error::NotFound);
        }
        let subject_id = match &user_id {
            Some(u) => decode("User", u).ok_or(Error::NotFound)?,
            None => v.user.id,
        };
        if subject_id != v.user.id && !s.is_admin() {
            return Err(Error::forbidden(
                "only ADMIN may explain another user's access",
            ));
        }
        let subject = users::find_user_unscoped(db, subject_id)
            .await?
            .ok_or(Error::NotFound)?;
        // The caller's own API key narrowing applies to their own explanation only.
        let key_projects = if subject_id == v.user.id {
            v.key_projects.clone()
        } else {
            None
        };
        let facts = crate::authz::load::facts(
            db,
            subject.id,
            subject.profile_id,
            subject.department_id,
            key_projects,
        )
        .await?;
        let access = facts.access(project, true);
        let mut grants = Vec::with_capacity(access.grants.len());
        let profiles = org::list_profiles(db).await?;
        for g in access.grants {
            let project = match g.project_id {
                Some(p) => projects::find_project(db, &s, p).await?.map(Project),
                None => None,
            };
            let group = match g.group_id {
                Some(id) => Named::Group.find(db, id).await?.map(Group),
                None => None,
            };
            grants.push(AccessGrant {
                right: g.right,
                via: g.via,
                project,
                group,
                profile: profiles
                    .iter()
                    .find(|p| p.id == g.profile_id)
                    .cloned()
                    .map(Profile),
            });
        }
        Ok(AccessExplanation {
            visible: access.visible,
            rights: access.rights.iter().collect(),
            grants,
            reason: access.reason,
            message: access.reason.map(|r| reason_text(r).to_string()),
        })
    }
}

fn reason_text(r: HiddenReason) -> &'static str {
    match r {
        HiddenReason::NoAccess => "no membership, group membership or global right reaches this project",
        HiddenReason::MembershipNotValid => "a membership reaches this project but is outside its validity period",
        HiddenReason::InheritanceStopped => "memberships above this project stop at a project with its own rights (inheritMembers: false)",
        HiddenReason::StatusHidden => "the project is POTENTIAL or CLOSED and VIEW_PROJECT_HISTORY is missing",
        HiddenReason::OutsideApiKeyProjects => "the API key in use is narrowed to other projects",
    }
}
