//! Mutations on project work: projects and memberships, tasks, time, documents, invoices.
//!
//! Every mutation answers NOT_FOUND for what the caller cannot see, FORBIDDEN for what it
//! sees but may not change, BAD_USER_INPUT naming the field, CONFLICT for a state clash,
//! and writes nothing then. A change and its audit event commit together.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};
use chrono::NaiveDate;

use super::ids::{self, id_input, id_input_opt};
use super::mutation::{begin, commit, event, money, name};
use super::objects::{Membership, Project, ProjectStatus};
use super::scalars::{centi_hours, Date, Decimal};
use super::work::*;
use super::{scope, state, writer};
use crate::authz::grant::{self, Change};
use crate::authz::{load, MembershipFacts, ProjectFacts, Right, Scope};
use crate::db::audit;
use crate::db::documents::{self, DocumentFields};
use crate::db::entries::{self, NewEntry};
use crate::db::invoices;
use crate::db::org::{self, Named};
use crate::db::projects::{self, NewMembership, NewProject, ProjectChanges, ProjectRow};
use crate::db::tasks::{self, TaskFields};
use crate::db::{users, Tx};
use crate::error::{Error, Result};

#[derive(Default)]
pub struct WorkMutation;

/// Longest note on a time entry, and longest document content.
pub const MAX_NOTE: usize = 2000;
pub const MAX_CONTENT: usize = 200_000;
/// Largest work figure, in hours.
pub const MAX_WORK_HOURS: f64 = 10_000_000.0;

/// A visible project on which the caller holds `right`: NOT_FOUND when invisible,
/// FORBIDDEN when visible without the right.
pub fn require(scope: &Scope, project_id: i64, right: Right) -> Result<()> {
    match scope.rights(project_id) {
        None => Err(Error::NotFound),
        Some(r) if r.contains(right) => Ok(()),
        Some(_) => Err(Error::forbidden(format!(
            "requires {} on this project",
            right.name()
        ))),
    }
}

/// The one grant check (authz::grant): refuses, FORBIDDEN and before anything is written, a
/// change that would give anyone a right the caller does not hold where it would apply.
/// `projects` are the projects whose members the change can reach (the moved project's old
/// and new ancestors and its subtree); a membership names its users in the change itself.
async fn no_escalation(ctx: &Context<'_>, change: Change, projects: Vec<i64>) -> Result<()> {
    let s = scope(ctx).await?;
    if s.is_admin() {
        return Ok(());
    }
    let v = writer(ctx)?;
    let db = &state(ctx).db;
    let caller = load::facts(db, &super::subject(&v.user, v.key_projects.clone())).await?;
    let users = match &change {
        Change::Membership { users, .. } => users.clone(),
        Change::Project { .. } => Vec::new(),
    };
    let subjects = load::subjects(db, &users, &projects).await?;
    match grant::escalation(&caller, v.via.last_day(), &subjects, &change) {
        None => Ok(()),
        Some(e) => {
            // Name the rights only where the caller sees the project they concern.
            let what = if s.sees(e.project_id) && !e.rights.is_empty() {
                e.rights
                    .iter()
                    .map(Right::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                "rights".to_string()
            };
            let when = if e.day > caller.today {
                format!(" from {}", e.day)
            } else {
                String::new()
            };
            Err(Error::forbidden(format!(
                "this change would give {what}{when} where you do not hold them (no right is gained through a membership, a move or inheritance)"
            )))
        }
    }
}

/// A change to a project's place, inheritance, department, status or narrowing of the
/// ceiling, through the one grant check: its members are those of the project's subtree
/// and of its ancestors, before and after.
async fn project_change_allowed(
    ctx: &Context<'_>,
    s: &Scope,
    project_id: i64,
    change: impl FnOnce(ProjectFacts) -> ProjectFacts,
) -> Result<()> {
    let Some(before) = s.project_facts(project_id) else {
        return Ok(());
    };
    let after = change(before);
    if after == before {
        return Ok(());
    }
    let mut reached = s.subtree(project_id);
    reached.extend(s.ancestors(project_id));
    if let Some(p) = after.parent_id.filter(|p| Some(*p) != before.parent_id) {
        reached.push(p);
        reached.extend(s.ancestors(p));
    }
    no_escalation(ctx, Change::Project { project_id, after }, reached).await
}

/// `externalRights` as given: only rights inside the global ceiling.
async fn external_rights(
    ctx: &Context<'_>,
    given: Option<&Vec<Right>>,
) -> Result<Option<crate::authz::RightSet>> {
    let Some(given) = given else {
        return Ok(None);
    };
    let ceiling = load::external_ceiling(&state(ctx).db).await?;
    if let Some(outside) = given.iter().find(|r| !ceiling.contains(**r)) {
        return Err(Error::bad_input(
            "externalRights",
            format!(
                "{} is outside the global ceiling for external users",
                outside.name()
            ),
        ));
    }
    Ok(Some(given.iter().copied().collect()))
}

/// Writing a figure needs the right to read it.
fn require_figure(scope: &Scope, project_id: i64, fig: &Figure, field: &str) -> Result<()> {
    if scope.holds_on_all(&[project_id], fig.any) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "{field}: requires {} on this project",
            fig.any
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(" or ")
        )))
    }
}

fn work(field: &str, h: Option<f64>) -> Result<Option<i64>> {
    h.map(|h| {
        if !(0.0..=MAX_WORK_HOURS).contains(&h) {
            return Err(Error::bad_input(
                field,
                "must be between 0 and 10000000 hours",
            ));
        }
        centi_hours(h).ok_or_else(|| Error::bad_input(field, "at most two decimals"))
    })
    .transpose()
}

fn money_opt(field: &str, m: Option<Decimal>) -> Result<Option<i64>> {
    m.map(|m| money(field, m)).transpose()
}

fn folder(field: &str, f: Option<&str>) -> Result<Option<String>> {
    f.map(|f| {
        let f = f.trim().trim_matches('/').to_string();
        if f.chars().count() > 200 {
            return Err(Error::bad_input(field, "must be at most 200 characters"));
        }
        Ok(f)
    })
    .transpose()
}

fn bounded(field: &str, s: Option<String>, max: usize) -> Result<Option<String>> {
    match s {
        Some(s) if s.chars().count() > max => Err(Error::bad_input(
            field,
            format!("must be at most {max} characters"),
        )),
        other => Ok(other),
    }
}

/// A user the caller may see (or nothing is revealed about whether the id exists).
async fn visible_user(ctx: &Context<'_>, s: &Scope, id: Option<i64>, field: &str) -> Result<()> {
    if let Some(id) = id {
        if users::list_visible_users_by_ids(&state(ctx).db, s, vec![id])
            .await?
            .is_empty()
        {
            return Err(Error::bad_input(field, "does not exist"));
        }
    }
    Ok(())
}

/// A customer, department or group the caller may see; one it may not see answers exactly
/// as a missing one.
async fn visible_ref(ctx: &Context<'_>, kind: Named, id: Option<i64>, field: &str) -> Result<()> {
    if let Some(id) = id {
        if super::query::visible_named(ctx, kind, Some(id))
            .await?
            .is_empty()
        {
            return Err(Error::bad_input(field, "does not exist"));
        }
    }
    Ok(())
}

/// A project code is unique among the projects the caller can see: a clash with a project
/// it cannot see is no clash, so the answer never tells that such a project exists.
/// Checked in the writing transaction, under the tree lock.
async fn code_free(tx: &mut Tx, s: &Scope, code: Option<&str>, except: i64) -> Result<()> {
    let Some(code) = code else { return Ok(()) };
    projects::lock_tree(tx).await?;
    let clashes = projects::ids_with_code_unscoped(tx, code, except).await?;
    if clashes.iter().any(|p| s.sees(*p)) {
        return Err(Error::bad_input("code", "this code is already in use"));
    }
    Ok(())
}

/// A project the caller sees, by global id, or NOT_FOUND.
async fn visible_project(ctx: &Context<'_>, scope: &Scope, id: &ID) -> Result<ProjectRow> {
    let n = ids::decode("Project", id).ok_or(Error::NotFound)?;
    projects::find_project(&state(ctx).db, scope, n)
        .await?
        .ok_or(Error::NotFound)
}

#[derive(InputObject)]
pub struct CreateProjectInput {
    pub name: String,
    /// A short code, unique among the projects the caller can see.
    pub code: Option<String>,
    /// Make it a sub-project of this project (needs CREATE_SUBPROJECTS there); without it,
    /// a top-level project (needs CREATE_PROJECTS).
    pub parent_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub department_id: Option<ID>,
    #[graphql(default_with = "ProjectStatus::Open")]
    pub status: ProjectStatus,
    /// Needs SEE_COST where the project is made (the parent's rights for a sub-project).
    pub budget: Option<Decimal>,
    /// False makes the project a "room with its own rights".
    #[graphql(default = true)]
    pub inherit_members: bool,
    /// Narrow the ceiling for external users here and below (rights inside the global
    /// ceiling only); none for no narrowing.
    pub external_rights: Option<Vec<Right>>,
}

#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub id: ID,
    pub name: Option<String>,
    /// Null clears it.
    pub code: MaybeUndefined<String>,
    pub customer_id: MaybeUndefined<ID>,
    pub department_id: MaybeUndefined<ID>,
    /// Needs SEE_COST. Null clears it.
    pub budget: MaybeUndefined<Decimal>,
    /// Needs MANAGE_MEMBERS as well: it changes who has access.
    pub inherit_members: Option<bool>,
    /// Move the project: under a project where the caller holds CREATE_SUBPROJECTS, or to
    /// the top level (null) with CREATE_PROJECTS. Never under itself or its descendants.
    pub parent_id: MaybeUndefined<ID>,
    /// Narrows the ceiling for external users here and below (rights inside the global
    /// ceiling only); null clears the narrowing. Widening it is refused when it would give
    /// an external user a right the caller does not hold.
    pub external_rights: MaybeUndefined<Vec<Right>>,
}

#[derive(InputObject)]
pub struct SetProjectStatusInput {
    pub project_id: ID,
    pub status: ProjectStatus,
}

#[derive(InputObject)]
pub struct AddProjectMemberInput {
    pub project_id: ID,
    /// One of userId and groupId.
    pub user_id: Option<ID>,
    pub group_id: Option<ID>,
    /// Its project rights must be among the caller's on this project (unless ADMIN).
    pub profile_id: ID,
    pub valid_from: Option<Date>,
    pub valid_until: Option<Date>,
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    pub project_id: ID,
    pub name: String,
    pub assignee_id: Option<ID>,
    pub status: Option<TaskStatus>,
    /// Hours; writing a figure needs the right to read it.
    pub validated_work: Option<f64>,
    pub planned_work: Option<f64>,
    pub left_work: Option<f64>,
    pub validated_cost: Option<Decimal>,
    pub planned_cost: Option<Decimal>,
}

#[derive(InputObject)]
pub struct UpdateTaskInput {
    pub id: ID,
    pub name: Option<String>,
    /// Null clears it.
    pub assignee_id: MaybeUndefined<ID>,
    pub status: Option<TaskStatus>,
    pub validated_work: Option<f64>,
    pub planned_work: Option<f64>,
    pub left_work: Option<f64>,
    pub validated_cost: Option<Decimal>,
    pub planned_cost: Option<Decimal>,
}

#[derive(InputObject)]
pub struct LogTimeInput {
    pub task_id: ID,
    pub date: Date,
    /// More than 0, at most 24, two decimals; at most 24 per user and day.
    pub hours: f64,
    pub note: Option<String>,
    #[graphql(default = true)]
    pub billable: bool,
}

#[derive(InputObject)]
pub struct UpdateTimeEntryInput {
    pub id: ID,
    pub task_id: Option<ID>,
    pub date: Option<Date>,
    pub hours: Option<f64>,
    /// Null clears it.
    pub note: MaybeUndefined<String>,
    pub billable: Option<bool>,
}

#[derive(InputObject)]
pub struct CreateDocumentInput {
    pub project_id: ID,
    /// Folder path, such as `Contracts/2026`; empty for the root.
    pub folder: Option<String>,
    pub title: String,
    /// INTERNAL (the default) needs VIEW_INTERNAL_DOCUMENTS as well as MANAGE_DOCUMENTS.
    pub visibility: Option<DocumentVisibility>,
    pub content: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateDocumentInput {
    pub id: ID,
    pub folder: Option<String>,
    pub title: Option<String>,
    pub visibility: Option<DocumentVisibility>,
    pub content: Option<String>,
}

#[derive(InputObject)]
pub struct SetFolderRuleInput {
    pub project_id: ID,
    pub folder: String,
    /// One of userId and groupId.
    pub user_id: Option<ID>,
    pub group_id: Option<ID>,
}

#[derive(InputObject)]
pub struct GenerateInvoiceInput {
    pub project_id: ID,
    /// First day of the period, inclusive.
    pub from: Date,
    /// Last day of the period, inclusive.
    pub to: Date,
}

fn hours_input(field: &str, h: f64) -> Result<i64> {
    let c = centi_hours(h).ok_or_else(|| Error::bad_input(field, "at most two decimals"))?;
    if c <= 0 || c > 2400 {
        return Err(Error::bad_input(
            field,
            "must be more than 0 and at most 24",
        ));
    }
    Ok(c)
}

/// Checks the 24-hours-a-day rule inside the transaction (after locking the user).
async fn check_day(
    tx: &mut Tx,
    user_id: i64,
    date: NaiveDate,
    hours: i64,
    except: Option<i64>,
) -> Result<()> {
    entries::lock_user(tx, user_id).await?;
    let already = entries::hours_on_day(tx, user_id, date, except).await?;
    if already + hours > 2400 {
        return Err(Error::bad_input(
            "hours",
            format!(
                "at most 24 hours a day: {} already logged on {date}",
                super::scalars::hours(already)
            ),
        ));
    }
    Ok(())
}

async fn cost_rate(tx: &mut Tx, user_id: i64) -> Result<i64> {
    Ok(tx
        .fetch_one(crate::db::q("SELECT cost_rate FROM app_user WHERE user_id = $1").bind(user_id))
        .await?
        .get("cost_rate")?)
}

/// A visible task on whose project the caller holds `right`.
async fn task_with(ctx: &Context<'_>, s: &Scope, id: &ID, right: Right) -> Result<tasks::TaskRow> {
    let n = ids::decode("Task", id).ok_or(Error::NotFound)?;
    let t = tasks::find_task(&state(ctx).db, s, n)
        .await?
        .ok_or(Error::NotFound)?;
    require(s, t.project_id, right)?;
    Ok(t)
}

/// One of the caller's own entries that can still change.
async fn own_open_entry(ctx: &Context<'_>, s: &Scope, id: &ID) -> Result<entries::EntryRow> {
    let n = ids::decode("TimeEntry", id).ok_or(Error::NotFound)?;
    let e = entries::find_entry(&state(ctx).db, s, n)
        .await?
        .ok_or(Error::NotFound)?;
    if e.user_id != s.user_id {
        return Err(Error::forbidden("only the author changes a time entry"));
    }
    if e.status != "SUBMITTED" {
        return Err(Error::conflict(
            "the entry is approved or billed and can no longer change",
        ));
    }
    Ok(e)
}

/// A visible document on whose project the caller holds MANAGE_DOCUMENTS.
async fn managed_document(ctx: &Context<'_>, s: &Scope, id: &ID) -> Result<documents::DocumentRow> {
    let n = ids::decode("Document", id).ok_or(Error::NotFound)?;
    let d = documents::find_document(&state(ctx).db, s, n)
        .await?
        .ok_or(Error::NotFound)?;
    require(s, d.project_id, Right::ManageDocuments)?;
    Ok(d)
}

fn task_fields(
    s: &Scope,
    project_id: i64,
    validated_work: Option<f64>,
    planned_work: Option<f64>,
    left_work: Option<f64>,
    validated_cost: Option<Decimal>,
    planned_cost: Option<Decimal>,
) -> Result<TaskFields> {
    let checks: [(&str, bool, &Figure); 5] = [
        (
            "validatedWork",
            validated_work.is_some(),
            &figures::T_VALIDATED_WORK,
        ),
        (
            "plannedWork",
            planned_work.is_some(),
            &figures::T_PLANNED_WORK,
        ),
        ("leftWork", left_work.is_some(), &figures::T_LEFT_WORK),
        (
            "validatedCost",
            validated_cost.is_some(),
            &figures::T_VALIDATED_COST,
        ),
        (
            "plannedCost",
            planned_cost.is_some(),
            &figures::T_PLANNED_COST,
        ),
    ];
    let fields = TaskFields {
        validated_work: work("validatedWork", validated_work)?,
        planned_work: work("plannedWork", planned_work)?,
        left_work: work("leftWork", left_work)?,
        validated_cost: money_opt("validatedCost", validated_cost)?,
        planned_cost: money_opt("plannedCost", planned_cost)?,
        ..TaskFields::default()
    };
    for (field, given, fig) in checks {
        if given {
            require_figure(s, project_id, fig, field)?;
        }
    }
    Ok(fields)
}

#[Object]
impl WorkMutation {
    /// Creates a project. Top level: needs CREATE_PROJECTS, and the creator becomes a member
    /// with their default profile. Sub-project: needs CREATE_SUBPROJECTS on the parent.
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> Result<Project> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let parent = match &input.parent_id {
            Some(p) => {
                let parent = visible_project(ctx, &s, p).await?;
                require(&s, parent.id, Right::CreateSubprojects)?;
                Some(parent)
            }
            None => {
                if !(s.is_admin() || s.global.contains(Right::CreateProjects)) {
                    return Err(Error::forbidden("requires CREATE_PROJECTS"));
                }
                None
            }
        };
        let project_name = name("name", &input.name)?;
        let code = input.code.as_deref().map(|c| name("code", c)).transpose()?;
        let customer_id = id_input_opt("Customer", input.customer_id.as_ref(), "customerId")?;
        let department_id =
            id_input_opt("Department", input.department_id.as_ref(), "departmentId")?;
        let budget = money_opt("budget", input.budget)?;
        let narrowing = external_rights(ctx, input.external_rights.as_ref()).await?;
        visible_ref(ctx, Named::Customer, customer_id, "customerId").await?;
        visible_ref(ctx, Named::Department, department_id, "departmentId").await?;
        if budget.is_some() {
            let allowed = match &parent {
                Some(p) => s.can(p.id, Right::SeeCost),
                // The creator's rights there will be those of their default profile.
                // (cut to the ceiling for an external user).
                None => {
                    s.is_admin()
                        || (profile_has(ctx, v.user.profile_id, Right::SeeCost).await?
                            && (v.user.kind != "EXTERNAL"
                                || load::external_ceiling(&state(ctx).db)
                                    .await?
                                    .contains(Right::SeeCost)))
                }
            };
            if !allowed {
                return Err(Error::forbidden("budget: requires SEE_COST"));
            }
        }
        let mut tx = begin(ctx).await?;
        code_free(&mut tx, &s, code.as_deref(), 0).await?;
        let project = projects::create_project(
            &mut tx,
            NewProject {
                name: project_name,
                code,
                status: input.status.as_str().into(),
                customer_id,
                department_id,
                parent_id: parent.as_ref().map(|p| p.id),
                inherit_members: input.inherit_members,
                budget,
            },
        )
        .await?;
        if narrowing.is_some() {
            projects::set_external_rights(&mut tx, project.id, narrowing).await?;
        }
        // ProjeQtOr's automatic affectation; in a room with its own rights the creator
        // would otherwise lose the project they just made.
        if parent.is_none() || !input.inherit_members {
            projects::create_membership(
                &mut tx,
                NewMembership {
                    project_id: project.id,
                    user_id: Some(v.user.id),
                    group_id: None,
                    profile_id: v.user.profile_id,
                    valid_from: None,
                    valid_until: None,
                },
            )
            .await?;
        }
        commit(
            ctx,
            tx,
            event(
                v,
                "CREATE_PROJECT",
                Some(ids::encode("Project", project.id)),
                serde_json::json!({ "name": project.name }),
            ),
        )
        .await?;
        Ok(Project::new(project))
    }

    /// Changes a project. Needs EDIT_PROJECT (and SEE_COST for the budget, MANAGE_MEMBERS
    /// for inheritMembers; a move is checked against both places).
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        input: UpdateProjectInput,
    ) -> Result<Project> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.id).await?;
        require(&s, project.id, Right::EditProject)?;
        let mut c = ProjectChanges {
            name: input.name.as_deref().map(|n| name("name", n)).transpose()?,
            ..Default::default()
        };
        c.code = match &input.code {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(code) => Some(Some(name("code", code)?)),
        };
        c.customer_id = match &input.customer_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id_input("Customer", id, "customerId")?)),
        };
        c.department_id = match &input.department_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id_input("Department", id, "departmentId")?)),
        };
        c.budget = match input.budget {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(b) => Some(Some(money("budget", b)?)),
        };
        if c.budget.is_some() {
            require(&s, project.id, Right::SeeCost)
                .map_err(|_| Error::forbidden("budget: requires SEE_COST on this project"))?;
        }
        if let Some(inherit) = input.inherit_members {
            if inherit != project.inherit_members {
                require(&s, project.id, Right::ManageMembers).map_err(|_| {
                    Error::forbidden("inheritMembers: requires MANAGE_MEMBERS on this project")
                })?;
            }
            c.inherit_members = Some(inherit);
        }
        visible_ref(ctx, Named::Customer, c.customer_id.flatten(), "customerId").await?;
        visible_ref(
            ctx,
            Named::Department,
            c.department_id.flatten(),
            "departmentId",
        )
        .await?;
        let new_parent = match &input.parent_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => {
                if !(s.is_admin() || s.global.contains(Right::CreateProjects)) {
                    return Err(Error::forbidden(
                        "parentId: moving to the top level requires CREATE_PROJECTS",
                    ));
                }
                Some(None)
            }
            MaybeUndefined::Value(p) => {
                let parent = visible_project(ctx, &s, p).await?;
                require(&s, parent.id, Right::CreateSubprojects)?;
                Some(Some(parent.id))
            }
        };
        c.parent_id = new_parent;
        if new_parent.is_some() || c.department_id.is_some() {
            // A move or a new department changes who has access, like inheritMembers.
            require(&s, project.id, Right::ManageMembers).map_err(|_| {
                Error::forbidden(
                    "moving a project or changing its department requires MANAGE_MEMBERS on it",
                )
            })?;
        }
        let narrowing = match &input.external_rights {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(r) => Some(external_rights(ctx, Some(r)).await?),
        };
        project_change_allowed(ctx, &s, project.id, |before| ProjectFacts {
            parent_id: new_parent.unwrap_or(before.parent_id),
            inherit_members: c.inherit_members.unwrap_or(before.inherit_members),
            department_id: c.department_id.unwrap_or(before.department_id),
            external_rights: narrowing.unwrap_or(before.external_rights),
            ..before
        })
        .await?;
        let mut tx = begin(ctx).await?;
        if let Some(Some(parent)) = new_parent {
            projects::lock_tree(&mut tx).await?;
            if projects::would_cycle(&mut tx, project.id, parent).await? {
                return Err(Error::bad_input(
                    "parentId",
                    "a project cannot move under itself or its own sub-projects",
                ));
            }
        }
        if let Some(n) = narrowing {
            projects::set_external_rights(&mut tx, project.id, n).await?;
        }
        code_free(
            &mut tx,
            &s,
            c.code.as_ref().and_then(|c| c.as_deref()),
            project.id,
        )
        .await?;
        let updated = projects::update_project(&mut tx, project.id, c).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "UPDATE_PROJECT",
                Some(input.id.clone()),
                serde_json::json!({ "moved": new_parent.is_some() }),
            ),
        )
        .await?;
        Ok(Project::new(updated))
    }

    /// Changes a project's status. Needs EDIT_PROJECT.
    async fn set_project_status(
        &self,
        ctx: &Context<'_>,
        input: SetProjectStatusInput,
    ) -> Result<Project> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.project_id).await?;
        require(&s, project.id, Right::EditProject)?;
        // Reopening a POTENTIAL or CLOSED project shows it to members who lack
        // VIEW_PROJECT_HISTORY: their rights there must be the caller's too.
        project_change_allowed(ctx, &s, project.id, |before| ProjectFacts {
            historical: matches!(
                input.status,
                ProjectStatus::Potential | ProjectStatus::Closed
            ),
            ..before
        })
        .await?;
        let mut tx = begin(ctx).await?;
        let updated = projects::update_project(
            &mut tx,
            project.id,
            ProjectChanges {
                status: Some(input.status.as_str().into()),
                ..Default::default()
            },
        )
        .await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "SET_PROJECT_STATUS",
                Some(input.project_id.clone()),
                serde_json::json!({ "from": project.status, "to": input.status.as_str() }),
            ),
        )
        .await?;
        Ok(Project::new(updated))
    }

    /// Adds a user or a group to a project with a profile. Needs MANAGE_MEMBERS.
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        input: AddProjectMemberInput,
    ) -> Result<Membership> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.project_id).await?;
        require(&s, project.id, Right::ManageMembers)?;
        let user_id = id_input_opt("User", input.user_id.as_ref(), "userId")?;
        let group_id = id_input_opt("Group", input.group_id.as_ref(), "groupId")?;
        if user_id.is_some() == group_id.is_some() {
            return Err(Error::bad_input(
                "userId",
                "give exactly one of userId and groupId",
            ));
        }
        let profile_id = id_input("Profile", &input.profile_id, "profileId")?;
        let profile = org::find_profile(&state(ctx).db, profile_id)
            .await?
            .ok_or_else(|| Error::bad_input("profileId", "does not exist"))?;
        if let (Some(f), Some(u)) = (input.valid_from, input.valid_until) {
            if f > u {
                return Err(Error::bad_input(
                    "validUntil",
                    "must not be before validFrom",
                ));
            }
        }
        visible_user(ctx, &s, user_id, "userId").await?;
        visible_ref(ctx, Named::Group, group_id, "groupId").await?;
        let users = match (user_id, group_id) {
            (Some(u), _) => vec![u],
            (None, Some(g)) => org::group_member_ids(&state(ctx).db, g).await?,
            (None, None) => Vec::new(),
        };
        // The membership reaches the project's inheriting sub-projects too, and lasts as
        // long as it says: the caller must hold what it grants there, on every day it counts.
        no_escalation(
            ctx,
            Change::Membership {
                membership: MembershipFacts {
                    membership_id: 0,
                    project_id: project.id,
                    group_id,
                    profile_id,
                    valid_from: input.valid_from.map(|d| d.0),
                    valid_until: input.valid_until.map(|d| d.0),
                },
                users,
            },
            Vec::new(),
        )
        .await?;
        let mut tx = begin(ctx).await?;
        let m = projects::create_membership(
            &mut tx,
            NewMembership {
                project_id: project.id,
                user_id,
                group_id,
                profile_id,
                valid_from: input.valid_from.map(|d| d.0),
                valid_until: input.valid_until.map(|d| d.0),
            },
        )
        .await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "ADD_PROJECT_MEMBER",
                Some(ids::encode("Membership", m.id)),
                serde_json::json!({
                    "project": input.project_id.0,
                    "user": input.user_id.map(|u| u.0),
                    "group": input.group_id.map(|g| g.0),
                    "profile": profile.name,
                }),
            ),
        )
        .await?;
        Ok(Membership(m))
    }

    /// Removes a membership. Needs MANAGE_MEMBERS on its project. Answers it as it was.
    async fn remove_project_member(&self, ctx: &Context<'_>, id: ID) -> Result<Membership> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let n = ids::decode("Membership", &id).ok_or(Error::NotFound)?;
        let m = projects::find_membership(&state(ctx).db, &s, n)
            .await?
            .ok_or(Error::NotFound)?;
        require(&s, m.project_id, Right::ManageMembers)?;
        let mut tx = begin(ctx).await?;
        projects::delete_membership(&mut tx, n).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "REMOVE_PROJECT_MEMBER",
                Some(id.clone()),
                serde_json::json!({ "project": ids::encode("Project", m.project_id).0 }),
            ),
        )
        .await?;
        Ok(Membership(m))
    }

    /// Creates a task. Needs MANAGE_TASKS; each figure given needs the right to read it.
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> Result<Task> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.project_id).await?;
        require(&s, project.id, Right::ManageTasks)?;
        let mut f = task_fields(
            &s,
            project.id,
            input.validated_work,
            input.planned_work,
            input.left_work,
            input.validated_cost,
            input.planned_cost,
        )?;
        f.name = Some(name("name", &input.name)?);
        let assignee = id_input_opt("User", input.assignee_id.as_ref(), "assigneeId")?;
        visible_user(ctx, &s, assignee, "assigneeId").await?;
        f.assignee_id = Some(assignee);
        f.status = input.status.map(|st| st.as_str().to_string());
        let mut tx = begin(ctx).await?;
        let t = tasks::create_task(&mut tx, project.id, f).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "CREATE_TASK",
                Some(ids::encode("Task", t.id)),
                serde_json::json!({ "project": input.project_id.0 }),
            ),
        )
        .await?;
        Ok(Task::new(t))
    }

    /// Changes a task. Needs MANAGE_TASKS; each figure given needs the right to read it.
    async fn update_task(&self, ctx: &Context<'_>, input: UpdateTaskInput) -> Result<Task> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let task = task_with(ctx, &s, &input.id, Right::ManageTasks).await?;
        let mut f = task_fields(
            &s,
            task.project_id,
            input.validated_work,
            input.planned_work,
            input.left_work,
            input.validated_cost,
            input.planned_cost,
        )?;
        f.name = input.name.as_deref().map(|n| name("name", n)).transpose()?;
        f.assignee_id = match &input.assignee_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id_input("User", id, "assigneeId")?)),
        };
        visible_user(ctx, &s, f.assignee_id.flatten(), "assigneeId").await?;
        f.status = input.status.map(|st| st.as_str().to_string());
        let mut tx = begin(ctx).await?;
        let t = tasks::update_task(&mut tx, task.id, f).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "UPDATE_TASK",
                Some(input.id.clone()),
                serde_json::json!({}),
            ),
        )
        .await?;
        Ok(Task::new(t))
    }

    /// Logs the caller's time on a task. Needs LOG_TIME; cost is hours x the caller's cost
    /// rate now.
    async fn log_time(&self, ctx: &Context<'_>, input: LogTimeInput) -> Result<TimeEntry> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let task = task_with(ctx, &s, &input.task_id, Right::LogTime).await?;
        let hours = hours_input("hours", input.hours)?;
        let note = bounded("note", input.note, MAX_NOTE)?;
        let mut tx = begin(ctx).await?;
        check_day(&mut tx, v.user.id, input.date.0, hours, None).await?;
        let rate = cost_rate(&mut tx, v.user.id).await?;
        let e = entries::create_entry(
            &mut tx,
            NewEntry {
                user_id: v.user.id,
                task_id: task.id,
                project_id: task.project_id,
                date: input.date.0,
                hours,
                cost: invoices::amount(hours, rate),
                billable: input.billable,
                note,
            },
        )
        .await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "LOG_TIME",
                Some(ids::encode("TimeEntry", e.id)),
                serde_json::json!({ "task": input.task_id.0 }),
            ),
        )
        .await?;
        Ok(TimeEntry(e))
    }

    /// Changes one of the caller's entries while it is neither approved nor billed.
    async fn update_time_entry(
        &self,
        ctx: &Context<'_>,
        input: UpdateTimeEntryInput,
    ) -> Result<TimeEntry> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let e = own_open_entry(ctx, &s, &input.id).await?;
        let (task_id, project_id) = match &input.task_id {
            Some(t) => {
                let task = task_with(ctx, &s, t, Right::LogTime).await?;
                (task.id, task.project_id)
            }
            None => {
                require(&s, e.project_id, Right::LogTime)?;
                (e.task_id, e.project_id)
            }
        };
        let hours = match input.hours {
            Some(h) => hours_input("hours", h)?,
            None => e.hours,
        };
        let note = match input.note {
            MaybeUndefined::Undefined => e.note.clone(),
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(n) => bounded("note", Some(n), MAX_NOTE)?,
        };
        let date = input.date.map(|d| d.0).unwrap_or(e.date);
        let mut tx = begin(ctx).await?;
        check_day(&mut tx, v.user.id, date, hours, Some(e.id)).await?;
        let rate = cost_rate(&mut tx, v.user.id).await?;
        let updated = entries::update_entry(
            &mut tx,
            e.id,
            NewEntry {
                user_id: v.user.id,
                task_id,
                project_id,
                date,
                hours,
                cost: invoices::amount(hours, rate),
                billable: input.billable.unwrap_or(e.billable),
                note,
            },
        )
        .await?
        .ok_or_else(|| {
            Error::conflict("the entry is approved or billed and can no longer change")
        })?;
        commit(
            ctx,
            tx,
            event(
                v,
                "UPDATE_TIME_ENTRY",
                Some(input.id.clone()),
                serde_json::json!({}),
            ),
        )
        .await?;
        Ok(TimeEntry(updated))
    }

    /// Deletes one of the caller's entries while it is neither approved nor billed. Answers
    /// it as it was.
    async fn delete_time_entry(&self, ctx: &Context<'_>, id: ID) -> Result<TimeEntry> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let e = own_open_entry(ctx, &s, &id).await?;
        let mut tx = begin(ctx).await?;
        if !entries::delete_entry(&mut tx, e.id).await? {
            return Err(Error::conflict(
                "the entry is approved or billed and can no longer change",
            ));
        }
        commit(
            ctx,
            tx,
            event(
                v,
                "DELETE_TIME_ENTRY",
                Some(id.clone()),
                serde_json::json!({}),
            ),
        )
        .await?;
        Ok(TimeEntry(e))
    }

    /// Approves entries. Needs APPROVE_TIMESHEETS on each entry's project; all or nothing.
    async fn approve_time_entries(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> Result<Vec<TimeEntry>> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let db = &state(ctx).db;
        if ids.is_empty() || ids.len() > 500 {
            return Err(Error::bad_input("ids", "give between 1 and 500 ids"));
        }
        let mut found = Vec::with_capacity(ids.len());
        for id in &ids {
            let n = ids::decode("TimeEntry", id).ok_or(Error::NotFound)?;
            let e = entries::find_entry(db, &s, n)
                .await?
                .ok_or(Error::NotFound)?;
            require(&s, e.project_id, Right::ApproveTimesheets)?;
            if e.status == "BILLED" {
                return Err(Error::conflict("a billed entry cannot be approved again"));
            }
            found.push(e);
        }
        let mut tx = begin(ctx).await?;
        for e in &found {
            if e.status == "SUBMITTED" && !entries::approve_entry(&mut tx, e.id, v.user.id).await? {
                return Err(Error::conflict("an entry changed while being approved"));
            }
        }
        audit::record(
            &mut tx,
            event(
                v,
                "APPROVE_TIME_ENTRIES",
                None,
                serde_json::json!({ "entries": ids.iter().map(|i| i.0.clone()).collect::<Vec<_>>() }),
            ),
        )
        .await?;
        let mut out = Vec::with_capacity(found.len());
        for e in &found {
            if let Some(fresh) = entries::find_entry_unscoped(&mut tx, e.id).await? {
                out.push(TimeEntry(fresh));
            }
        }
        tx.commit().await?;
        super::access_changed(ctx).await;
        Ok(out)
    }

    /// Adds a document. Needs MANAGE_DOCUMENTS (and VIEW_INTERNAL_DOCUMENTS for INTERNAL).
    async fn create_document(
        &self,
        ctx: &Context<'_>,
        input: CreateDocumentInput,
    ) -> Result<Document> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.project_id).await?;
        require(&s, project.id, Right::ManageDocuments)?;
        let visibility = input.visibility.unwrap_or(DocumentVisibility::Internal);
        if visibility == DocumentVisibility::Internal {
            require(&s, project.id, Right::ViewInternalDocuments).map_err(|_| {
                Error::forbidden("visibility: INTERNAL requires VIEW_INTERNAL_DOCUMENTS")
            })?;
        }
        let f = DocumentFields {
            folder: folder("folder", input.folder.as_deref())?,
            title: Some(name("title", &input.title)?),
            visibility: Some(visibility.as_str().into()),
            content: bounded("content", input.content, MAX_CONTENT)?,
        };
        let mut tx = begin(ctx).await?;
        let d = documents::create_document(&mut tx, project.id, v.user.id, f).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "CREATE_DOCUMENT",
                Some(ids::encode("Document", d.id)),
                serde_json::json!({ "project": input.project_id.0 }),
            ),
        )
        .await?;
        Ok(Document(d))
    }

    /// Changes a document. Needs MANAGE_DOCUMENTS.
    async fn update_document(
        &self,
        ctx: &Context<'_>,
        input: UpdateDocumentInput,
    ) -> Result<Document> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let d = managed_document(ctx, &s, &input.id).await?;
        if input.visibility == Some(DocumentVisibility::Internal) {
            require(&s, d.project_id, Right::ViewInternalDocuments).map_err(|_| {
                Error::forbidden("visibility: INTERNAL requires VIEW_INTERNAL_DOCUMENTS")
            })?;
        }
        let f = DocumentFields {
            folder: folder("folder", input.folder.as_deref())?,
            title: input
                .title
                .as_deref()
                .map(|t| name("title", t))
                .transpose()?,
            visibility: input.visibility.map(|vis| vis.as_str().into()),
            content: bounded("content", input.content, MAX_CONTENT)?,
        };
        let mut tx = begin(ctx).await?;
        let updated = documents::update_document(&mut tx, d.id, f).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "UPDATE_DOCUMENT",
                Some(input.id.clone()),
                serde_json::json!({}),
            ),
        )
        .await?;
        Ok(Document(updated))
    }

    /// Removes a document. Needs MANAGE_DOCUMENTS. Answers it as it was.
    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> Result<Document> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let d = managed_document(ctx, &s, &id).await?;
        let mut tx = begin(ctx).await?;
        documents::delete_document(&mut tx, d.id).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "DELETE_DOCUMENT",
                Some(id.clone()),
                serde_json::json!({ "title": d.title }),
            ),
        )
        .await?;
        Ok(Document(d))
    }

    /// Restricts a folder to a user or group (and MANAGE_DOCUMENTS holders). Needs
    /// MANAGE_DOCUMENTS.
    async fn set_folder_rule(
        &self,
        ctx: &Context<'_>,
        input: SetFolderRuleInput,
    ) -> Result<FolderRule> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.project_id).await?;
        require(&s, project.id, Right::ManageDocuments)?;
        let f = folder("folder", Some(&input.folder))?.unwrap_or_default();
        let user_id = id_input_opt("User", input.user_id.as_ref(), "userId")?;
        let group_id = id_input_opt("Group", input.group_id.as_ref(), "groupId")?;
        if user_id.is_some() == group_id.is_some() {
            return Err(Error::bad_input(
                "userId",
                "give exactly one of userId and groupId",
            ));
        }
        visible_user(ctx, &s, user_id, "userId").await?;
        visible_ref(ctx, Named::Group, group_id, "groupId").await?;
        let mut tx = begin(ctx).await?;
        let r = documents::create_folder_rule(&mut tx, project.id, &f, user_id, group_id).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "SET_FOLDER_RULE",
                Some(ids::encode("FolderRule", r.id)),
                serde_json::json!({ "folder": f }),
            ),
        )
        .await?;
        Ok(FolderRule(r))
    }

    /// Removes a folder rule. Needs MANAGE_DOCUMENTS. Answers it as it was.
    async fn remove_folder_rule(&self, ctx: &Context<'_>, id: ID) -> Result<FolderRule> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let n = ids::decode("FolderRule", &id).ok_or(Error::NotFound)?;
        // Rules are shown to MANAGE_DOCUMENTS holders only: for others they look missing.
        let r = documents::find_folder_rule(&state(ctx).db, &s, n)
            .await?
            .ok_or(Error::NotFound)?;
        let mut tx = begin(ctx).await?;
        documents::delete_folder_rule(&mut tx, n).await?;
        commit(
            ctx,
            tx,
            event(
                v,
                "REMOVE_FOLDER_RULE",
                Some(id.clone()),
                serde_json::json!({ "folder": r.folder }),
            ),
        )
        .await?;
        Ok(FolderRule(r))
    }

    /// Bills the approved, billable, unbilled time entries of the project and its
    /// sub-projects (those where the caller holds MANAGE_INVOICES) in the period, one line
    /// per user and task at each user's billing rate. Needs MANAGE_INVOICES. An entry is
    /// billed at most once, also under concurrent calls.
    async fn generate_invoice(
        &self,
        ctx: &Context<'_>,
        input: GenerateInvoiceInput,
    ) -> Result<Invoice> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let project = visible_project(ctx, &s, &input.project_id).await?;
        require(&s, project.id, Right::ManageInvoices)?;
        if input.from > input.to {
            return Err(Error::bad_input("to", "must not be before from"));
        }
        let billed: Vec<i64> = s
            .subtree(project.id)
            .into_iter()
            .filter(|p| s.can(*p, Right::ManageInvoices))
            .collect();
        let mut tx = begin(ctx).await?;
        // One generation at a time: concurrent ones claimed overlapping entries in
        // different orders and PostgreSQL broke the deadlock by failing one of them.
        tx.lock(crate::db::INVOICE_LOCK).await?;
        let invoice = invoices::generate(
            &mut tx,
            project.id,
            project.customer_id,
            billed,
            input.from.0,
            input.to.0,
            v.user.id,
        )
        .await?
        .ok_or_else(|| {
            Error::bad_input(
                "projectId",
                "nothing to bill: no approved, billable, unbilled time in this period",
            )
        })?;
        commit(ctx, tx, event(
                v,
                "GENERATE_INVOICE",
                Some(ids::encode("Invoice", invoice.id)),
                serde_json::json!({ "number": invoice.number, "total": Decimal(invoice.total).to_string() }),
            )).await?;
        Ok(Invoice(invoice))
    }

    /// Issues a draft invoice, freezing it. Needs MANAGE_INVOICES.
    async fn issue_invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Invoice> {
        let v = writer(ctx)?;
        let s = scope(ctx).await?;
        let n = ids::decode("Invoice", &id).ok_or(Error::NotFound)?;
        let inv = invoices::find_invoice(&state(ctx).db, &s, n)
            .await?
            .ok_or(Error::NotFound)?;
        require(&s, inv.project_id, Right::ManageInvoices)?;
        let mut tx = begin(ctx).await?;
        let issued = invoices::issue(&mut tx, n)
            .await?
            .ok_or_else(|| Error::conflict("the invoice is already issued"))?;
        commit(
            ctx,
            tx,
            event(
                v,
                "ISSUE_INVOICE",
                Some(id.clone()),
                serde_json::json!({ "number": issued.number }),
            ),
        )
        .await?;
        Ok(Invoice(issued))
    }
}

/// Does a profile grant `right`?
async fn profile_has(ctx: &Context<'_>, profile_id: i64, right: Right) -> Result<bool> {
    Ok(org::find_profile(&state(ctx).db, profile_id)
        .await?
        .is_some_and(|p| p.rights.contains(right)))
}
