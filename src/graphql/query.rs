//! The query root.

use async_graphql::{Context, InputObject, Object, ID};

use super::connection::page_args;
use super::ids::{self, decode};
use super::objects::*;
use super::scalars::Date;
use super::work::*;
use super::{require_global, scope, state, viewer};
use crate::authz::{HiddenReason, Right};
use crate::db::audit::{self, EventFilter};
use crate::db::credentials;
use crate::db::org::{self, Named};
use crate::db::projects::{self, ProjectFilter as DbProjectFilter};
use crate::db::users::{self, UserFilter as DbUserFilter};
use crate::db::{documents, entries, invoices, tasks};
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
    /// Case-insensitive match on name or code; at most 200 characters.
    pub search: Option<String>,
}

/// Narrows `users`.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Case-insensitive match on the name (and, for ADMIN, the email); at most 200
    /// characters.
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

/// Narrows `tasks`.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    pub project_id: Option<ID>,
    pub assignee_id: Option<ID>,
    pub status: Option<Vec<TaskStatus>>,
}

/// Narrows `timeEntries`.
#[derive(InputObject, Default)]
pub struct TimeEntryFilter {
    pub project_id: Option<ID>,
    /// With `projectId`: also the entries of its sub-projects (the visible ones).
    #[graphql(default)]
    pub include_sub_projects: bool,
    pub task_id: Option<ID>,
    pub user_id: Option<ID>,
    /// First day, inclusive.
    pub from: Option<Date>,
    /// Last day, inclusive.
    pub to: Option<Date>,
}

/// Narrows `documents`.
#[derive(InputObject, Default)]
pub struct DocumentFilter {
    pub project_id: Option<ID>,
    pub folder: Option<String>,
    pub visibility: Option<DocumentVisibility>,
}

/// Narrows `invoices`.
#[derive(InputObject, Default)]
pub struct InvoiceFilter {
    pub project_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub status: Option<InvoiceStatus>,
}

pub async fn task_page(
    ctx: &Context<'_>,
    filter: tasks::TaskFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<TaskConnection> {
    let s = scope(ctx).await?;
    let args = page_args(first, after)?;
    let page = tasks::list_tasks(&state(ctx).db, &s, &filter, args).await?;
    Ok(TaskConnection::new(page, args, Task::new))
}

pub async fn time_entry_page(
    ctx: &Context<'_>,
    filter: entries::EntryFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<TimeEntryConnection> {
    let s = scope(ctx).await?;
    let args = page_args(first, after)?;
    let page = entries::list_entries(&state(ctx).db, &s, &filter, args).await?;
    Ok(TimeEntryConnection::new(page, args, TimeEntry))
}

pub async fn document_page(
    ctx: &Context<'_>,
    filter: documents::DocumentFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<DocumentConnection> {
    let s = scope(ctx).await?;
    let args = page_args(first, after)?;
    let page = documents::list_documents(&state(ctx).db, &s, &filter, args).await?;
    Ok(DocumentConnection::new(page, args, Document))
}

pub async fn invoice_page(
    ctx: &Context<'_>,
    filter: invoices::InvoiceFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<InvoiceConnection> {
    let s = scope(ctx).await?;
    let args = page_args(first, after)?;
    let page = invoices::list_invoices(&state(ctx).db, &s, &filter, args).await?;
    Ok(InvoiceConnection::new(page, args, Invoice))
}

/// Customers, departments or groups the caller may see (one of them when `id` is given).
pub(crate) async fn visible_named(
    ctx: &Context<'_>,
    kind: Named,
    id: Option<i64>,
) -> Result<Vec<crate::db::org::NamedRow>> {
    let s = scope(ctx).await?;
    kind.list_visible(&state(ctx).db, &s, &super::me(ctx)?, id.map(|i| vec![i]))
        .await
}

/// A filter by user: a user the caller may not see matches nothing, as a missing one does,
/// so that counts never tell what an invisible user is assigned or logged.
async fn user_filter(ctx: &Context<'_>, id: &Option<ID>) -> Result<Option<i64>> {
    let Some(n) = filter_id("User", id) else {
        return Ok(None);
    };
    let s = scope(ctx).await?;
    let seen = users::list_visible_users_by_ids(&state(ctx).db, &s, vec![n]).await?;
    Ok(Some(if seen.is_empty() { 0 } else { n }))
}

/// Longest search text: a longer one is no search a person types, and SQLite's LIKE
/// refuses patterns past 50,000 bytes.
pub const MAX_SEARCH: usize = 200;

/// A search text, bounded.
fn search(text: Option<String>) -> Result<Option<String>> {
    match text {
        Some(t) if t.chars().count() > MAX_SEARCH => Err(Error::bad_input(
            "search",
            format!("must be at most {MAX_SEARCH} characters"),
        )),
        other => Ok(other),
    }
}

/// A filter by customer: one the caller may not see matches nothing.
async fn customer_filter(ctx: &Context<'_>, id: &Option<ID>) -> Result<Option<i64>> {
    let Some(n) = filter_id("Customer", id) else {
        return Ok(None);
    };
    let seen = visible_named(ctx, Named::Customer, Some(n)).await?;
    Ok(Some(if seen.is_empty() { 0 } else { n }))
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
        let v = viewer(ctx)?;
        let db = &state(ctx).db;
        let Some((kind, n)) = ids::decode_any(&id) else {
            return Ok(None);
        };
        Ok(match kind.as_str() {
            "Project" => projects::find_project(db, &s, n)
                .await?
                .map(|p| Node::Project(Project::new(p))),
            "User" => users::list_visible_users_by_ids(db, &s, vec![n])
                .await?
                .pop()
                .map(|u| Node::User(User(u))),
            "Profile" => org::find_profile(db, n)
                .await?
                .map(|p| Node::Profile(Profile(p))),
            "Group" => visible_named(ctx, Named::Group, Some(n))
                .await?
                .pop()
                .map(|g| Node::Group(Group(g))),
            "Customer" => visible_named(ctx, Named::Customer, Some(n))
                .await?
                .pop()
                .map(|c| Node::Customer(Customer(c))),
            "Department" => visible_named(ctx, Named::Department, Some(n))
                .await?
                .pop()
                .map(|d| Node::Department(Department(d))),
            "ApiKey" => credentials::find_api_key_by_id(db, n)
                .await?
                .filter(|k| super::may_see_key(v, &s, k.user_id, k.id))
                .map(|k| Node::ApiKey(ApiKey(k))),
            "AuditEvent" if s.is_admin() => audit::find_event(db, n)
                .await?
                .map(|e| Node::AuditEvent(AuditEvent(e))),
            "Task" => tasks::find_task(db, &s, n)
                .await?
                .map(|t| Node::Task(Task::new(t))),
            "TimeEntry" => entries::find_entry(db, &s, n)
                .await?
                .map(|e| Node::TimeEntry(TimeEntry(e))),
            "Document" => documents::find_document(db, &s, n)
                .await?
                .map(|d| Node::Document(Document(d))),
            "Invoice" => invoices::find_invoice(db, &s, n)
                .await?
                .map(|i| Node::Invoice(Invoice(i))),
            "Membership" => projects::find_membership(db, &s, n)
                .await?
                .map(|m| Node::Membership(Membership(m))),
            "FolderRule" => documents::find_folder_rule(db, &s, n)
                .await?
                .map(|r| Node::FolderRule(FolderRule(r))),
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
            .map(Project::new))
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
            customer_id: customer_filter(ctx, &f.customer_id).await?,
            // A parent the caller cannot see matches nothing (it would reveal that it exists).
            parent_id: filter_id("Project", &f.parent_id).map(|p| if s.sees(p) { p } else { 0 }),
            top_level_only: f.top_level_only.unwrap_or(false),
            search: search(f.search)?,
        };
        let page = projects::list_projects(&state(ctx).db, &s, &db_filter, args).await?;
        Ok(ProjectConnection::new(page, args, Project::new))
    }

    /// A task by id; null when missing or not visible.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Task>> {
        let s = scope(ctx).await?;
        let Some(n) = decode("Task", &id) else {
            return Ok(None);
        };
        Ok(tasks::find_task(&state(ctx).db, &s, n)
            .await?
            .map(Task::new))
    }

    /// Tasks of the projects the caller may see.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TaskFilter>,
    ) -> Result<TaskConnection> {
        let f = filter.unwrap_or_default();
        let db_filter = tasks::TaskFilter {
            project_id: filter_id("Project", &f.project_id),
            assignee_id: user_filter(ctx, &f.assignee_id).await?,
            statuses: f
                .status
                .map(|v| v.into_iter().map(|s| s.as_str().to_string()).collect()),
        };
        task_page(ctx, db_filter, first, after).await
    }

    /// Time entries the caller may see: their own on visible projects, everybody's where
    /// they hold VIEW_TIMESHEETS.
    async fn time_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TimeEntryFilter>,
    ) -> Result<TimeEntryConnection> {
        let s = scope(ctx).await?;
        let f = filter.unwrap_or_default();
        let project_ids = filter_id("Project", &f.project_id).map(|p| {
            if !s.sees(p) {
                return vec![0];
            }
            if f.include_sub_projects {
                s.subtree(p)
            } else {
                vec![p]
            }
        });
        let db_filter = entries::EntryFilter {
            project_ids,
            task_id: filter_id("Task", &f.task_id),
            user_id: user_filter(ctx, &f.user_id).await?,
            from: f.from.map(|d| d.0),
            to: f.to.map(|d| d.0),
            invoice_id: None,
        };
        time_entry_page(ctx, db_filter, first, after).await
    }

    /// Documents the caller may see.
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DocumentFilter>,
    ) -> Result<DocumentConnection> {
        let f = filter.unwrap_or_default();
        let db_filter = documents::DocumentFilter {
            project_id: filter_id("Project", &f.project_id),
            folder: f.folder,
            visibility: f.visibility.map(|v| v.as_str().to_string()),
        };
        document_page(ctx, db_filter, first, after).await
    }

    /// Invoices of the projects where the caller holds VIEW_INVOICES.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<InvoiceFilter>,
    ) -> Result<InvoiceConnection> {
        let f = filter.unwrap_or_default();
        let db_filter = invoices::InvoiceFilter {
            project_id: filter_id("Project", &f.project_id),
            customer_id: customer_filter(ctx, &f.customer_id).await?,
            status: f.status.map(|s| match s {
                InvoiceStatus::Draft => "DRAFT".to_string(),
                InvoiceStatus::Issued => "ISSUED".to_string(),
            }),
        };
        invoice_page(ctx, db_filter, first, after).await
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
        if f.customer_id.is_some() && !s.is_admin() {
            // A user's customer is visible to ADMIN only; filtering by it would reveal it.
            return Err(Error::forbidden(
                "filtering users by customer requires ADMIN",
            ));
        }
        let db_filter = DbUserFilter {
            search: search(f.search)?,
            kind: f.kind.map(|k| k.as_str().to_string()),
            customer_id: customer_filter(ctx, &f.customer_id).await?,
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

    /// The groups the caller may see (ADMIN: all; others: their own and those that are
    /// members of projects they see).
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        Ok(visible_named(ctx, Named::Group, None)
            .await?
            .into_iter()
            .map(Group)
            .collect())
    }

    /// The departments the caller may see (ADMIN: all; others: their own and those of the
    /// projects they see).
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<Department>> {
        Ok(visible_named(ctx, Named::Department, None)
            .await?
            .into_iter()
            .map(Department)
            .collect())
    }

    /// The customers the caller may see (ADMIN: all; others: their own and those of the
    /// projects they see).
    async fn customers(&self, ctx: &Context<'_>) -> Result<Vec<Customer>> {
        Ok(visible_named(ctx, Named::Customer, None)
            .await?
            .into_iter()
            .map(Customer)
            .collect())
    }

    /// The caller's API keys (ADMIN: everyone's).
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        let s = scope(ctx).await?;
        let v = viewer(ctx)?;
        let owner = (!s.is_admin()).then_some(s.user_id);
        Ok(credentials::list_api_keys(&state(ctx).db, owner)
            .await?
            .into_iter()
            .filter(|k| super::may_see_key(v, &s, k.user_id, k.id))
            .map(ApiKey)
            .collect())
    }

    /// The global ceiling for external users: no EXTERNAL user holds a right outside it,
    /// whatever profile they are given. Anyone signed in may read it.
    async fn external_ceiling(&self, ctx: &Context<'_>) -> Result<Vec<Right>> {
        viewer(ctx)?;
        Ok(crate::authz::load::external_ceiling(&state(ctx).db)
            .await?
            .iter()
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
        let facts = crate::authz::load::facts(db, &super::subject(&subject, key_projects)).await?;
        let mut access = facts.access(project, true);
        if let (Some(me), Some(_), true) =
            (&v.impersonator, v.via.api_key_id(), subject_id == v.user.id)
        {
            // "View as" through a key reads within what the key alone may: so does the
            // explanation.
            let mine = crate::authz::load::facts(db, &super::subject(me, v.key_projects.clone()))
                .await?
                .access(project, false);
            access.rights = access.rights.intersect(mine.rights);
            access.visible &= mine.visible;
            let rights = access.rights;
            access.grants.retain(|g| rights.contains(g.right));
        }
        // Grants (and the redaction of their hidden projects) only when asked for.
        let wants_grants = ctx.look_ahead().field("grants").exists();
        let mut grants = Vec::with_capacity(access.grants.len());
        let profiles = org::list_profiles(db).await?;
        for g in access.grants.into_iter().filter(|_| wants_grants) {
            let project = match g.project_id {
                Some(p) => super::req(ctx)
                    .reference(
                        "AccessGrant.project",
                        true,
                        projects::find_project(db, &s, p).await?,
                    )
                    .map(Project::new),
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
            removed_by_ceiling: access.removed_by_ceiling.iter().collect(),
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
