//! Object types of project work: tasks, time entries, documents, folder rules, invoices.

use std::collections::{HashMap, HashSet};

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, Value, ID};

use super::connection::connection;
use futures_util::future::BoxFuture;

use super::flat::{val, Cx, Flat, Kind, Load, Plan, Step};
use super::ids::encode;
use super::loaders::{self, InvoiceKey, LinesKey, ProjectKey, TaskKey, VisibleUserKey};
use super::objects::{Customer, Group, Project, User};
use super::scalars::{hours, Date, DateTime, Decimal};
use super::{req, scope, RequestCtx};
use crate::authz::{Right, Scope};
use crate::db::documents::{DocumentRow, FolderRuleRow};
use crate::db::entries::EntryRow;
use crate::db::invoices::InvoiceRow;
use crate::db::org::Named;
use crate::db::tasks::{self, TaskRow};
use crate::db::users::{self, UserRow};
use crate::error::Result;

connection!(TaskConnection, TaskEdge, Task, "tasks");
connection!(
    TimeEntryConnection,
    TimeEntryEdge,
    TimeEntry,
    "time entries"
);
connection!(DocumentConnection, DocumentEdge, Document, "documents");
connection!(InvoiceConnection, InvoiceEdge, Invoice, "invoices");

/// A guarded figure: the field name for `extensions.redacted`, the rights any of which
/// shows it, and the right reported when hidden.
pub struct Figure {
    pub field: &'static str,
    pub any: &'static [Right],
}

impl Figure {
    fn reported(&self) -> Right {
        self.any[0]
    }

    /// `value()` when one of the figure's rights holds on every project of `ids`; else None,
    /// and the field is recorded as hidden.
    pub fn shown<T>(
        &self,
        scope: &Scope,
        rc: &RequestCtx,
        ids: &[i64],
        value: impl FnOnce() -> T,
    ) -> Option<T> {
        self.allowed(scope, rc, ids).then(value)
    }

    /// Whether one of the figure's rights holds on every project of `ids`; if not, the
    /// field is recorded as hidden.
    fn allowed(&self, scope: &Scope, rc: &RequestCtx, ids: &[i64]) -> bool {
        let ok = scope.holds_on_all(ids, self.any);
        if !ok {
            rc.redact(self.field, self.reported());
        }
        ok
    }
}

macro_rules! figure {
    ($name:ident, $field:literal, $($right:ident),+) => {
        pub const $name: Figure = Figure { field: $field, any: &[$(Right::$right),+] };
    };
}

pub mod figures {
    use super::*;
    figure!(P_BUDGET, "Project.budget", SeeCost);
    figure!(
        P_VALIDATED_WORK,
        "Project.validatedWork",
        SeeValidatedWork,
        SeeWork
    );
    figure!(P_PLANNED_WORK, "Project.plannedWork", SeeWork);
    figure!(P_REAL_WORK, "Project.realWork", SeeWork);
    figure!(P_LEFT_WORK, "Project.leftWork", SeeWork);
    figure!(
        P_VALIDATED_COST,
        "Project.validatedCost",
        SeeValidatedCost,
        SeeCost
    );
    figure!(P_PLANNED_COST, "Project.plannedCost", SeeCost);
    figure!(P_REAL_COST, "Project.realCost", SeeCost);
    figure!(
        T_VALIDATED_WORK,
        "Task.validatedWork",
        SeeValidatedWork,
        SeeWork
    );
    figure!(T_PLANNED_WORK, "Task.plannedWork", SeeWork);
    figure!(T_REAL_WORK, "Task.realWork", SeeWork);
    figure!(T_LEFT_WORK, "Task.leftWork", SeeWork);
    figure!(
        T_VALIDATED_COST,
        "Task.validatedCost",
        SeeValidatedCost,
        SeeCost
    );
    figure!(T_PLANNED_COST, "Task.plannedCost", SeeCost);
    figure!(T_REAL_COST, "Task.realCost", SeeCost);
    figure!(E_HOURS, "TimeEntry.hours", SeeWork);
    figure!(E_COST, "TimeEntry.cost", SeeCost);
}

/// Shows `value()` when one of the figure's rights holds on every project of `ids`.
pub async fn figure_over<T, F, Fut>(
    ctx: &Context<'_>,
    fig: &Figure,
    ids: &[i64],
    value: F,
) -> Result<Option<T>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    if fig.allowed(&*scope(ctx).await?, req(ctx), ids) {
        Ok(Some(value().await?))
    } else {
        Ok(None)
    }
}

/// Progress of a task.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "TODO",
            TaskStatus::InProgress => "IN_PROGRESS",
            TaskStatus::Done => "DONE",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "IN_PROGRESS" => TaskStatus::InProgress,
            "DONE" => TaskStatus::Done,
            _ => TaskStatus::Todo,
        }
    }
}

/// A task of a project.
#[derive(Clone)]
pub struct Task {
    pub row: TaskRow,
}

impl Task {
    pub fn new(row: TaskRow) -> Self {
        Task { row }
    }

    async fn fig<T>(
        &self,
        ctx: &Context<'_>,
        fig: &Figure,
        f: impl FnOnce(&TaskRow) -> T,
    ) -> Result<Option<T>> {
        let s = scope(ctx).await?;
        Ok(fig.shown(&s, req(ctx), &[self.row.project_id], || f(&self.row)))
    }
}

impl Flat for Task {
    type Pre = ();

    fn columns(plans: &[&Plan]) -> Option<String> {
        let fields = plans
            .iter()
            .flat_map(|p| p.steps.iter().map(|s| s.name.as_str()));
        tasks::columns_for(fields)
    }

    fn kind(name: &str) -> Option<Kind> {
        matches!(
            name,
            "id" | "name"
                | "status"
                | "validatedWork"
                | "plannedWork"
                | "realWork"
                | "leftWork"
                | "validatedCost"
                | "plannedCost"
                | "realCost"
                | "createdAt"
                | "updatedAt"
        )
        .then_some(Kind::Leaf)
    }

    fn value(&self, _: &(), cx: &Cx<'_>, step: &Step) -> Value {
        let r = &self.row;
        let p = &[r.project_id];
        match step.name.as_str() {
            "id" => val(encode("Task", r.id)),
            "name" => val(r.name.clone()),
            "status" => val(TaskStatus::parse(&r.status)),
            "validatedWork" => cx.figure(&figures::T_VALIDATED_WORK, p, || hours(r.validated_work)),
            "plannedWork" => cx.figure(&figures::T_PLANNED_WORK, p, || hours(r.planned_work)),
            "realWork" => cx.figure(&figures::T_REAL_WORK, p, || hours(r.real_work)),
            "leftWork" => cx.figure(&figures::T_LEFT_WORK, p, || hours(r.left_work)),
            "validatedCost" => {
                cx.figure(&figures::T_VALIDATED_COST, p, || Decimal(r.validated_cost))
            }
            "plannedCost" => cx.figure(&figures::T_PLANNED_COST, p, || Decimal(r.planned_cost)),
            "realCost" => cx.figure(&figures::T_REAL_COST, p, || Decimal(r.real_cost)),
            "createdAt" => val(DateTime(r.created_at)),
            "updatedAt" => val(DateTime(r.updated_at)),
            _ => Value::Null,
        }
    }
}

#[Object]
impl Task {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode("Task", self.row.id)
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    async fn status(&self) -> TaskStatus {
        TaskStatus::parse(&self.row.status)
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        Ok(loaders::one(ctx, ProjectKey(self.row.project_id))
            .await?
            .map(Project::new))
    }
    /// Who does the task (name only, unless the caller may see more of them).
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_ref(ctx, self.row.assignee_id, "Task.assignee").await
    }
    /// Time logged on this task that the caller may see.
    async fn time_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<TimeEntryConnection> {
        let (page, args) =
            loaders::children::<crate::db::entries::EntriesOfTask>(ctx, self.row.id, first, after)
                .await?;
        Ok(TimeEntryConnection::nested::<
            crate::db::entries::EntriesOfTask,
        >(&page, self.row.id, args, TimeEntry))
    }
    /// Agreed baseline work, hours. Needs SEE_VALIDATED_WORK or SEE_WORK.
    async fn validated_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.fig(ctx, &figures::T_VALIDATED_WORK, |r| hours(r.validated_work))
            .await
    }
    /// Planned work, hours. Needs SEE_WORK.
    async fn planned_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.fig(ctx, &figures::T_PLANNED_WORK, |r| hours(r.planned_work))
            .await
    }
    /// Work logged so far (sum of its time entries), hours. Needs SEE_WORK.
    async fn real_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.fig(ctx, &figures::T_REAL_WORK, |r| hours(r.real_work))
            .await
    }
    /// Work left, hours. Needs SEE_WORK.
    async fn left_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.fig(ctx, &figures::T_LEFT_WORK, |r| hours(r.left_work))
            .await
    }
    /// Agreed baseline cost. Needs SEE_VALIDATED_COST or SEE_COST.
    async fn validated_cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        self.fig(ctx, &figures::T_VALIDATED_COST, |r| {
            Decimal(r.validated_cost)
        })
        .await
    }
    /// Planned cost. Needs SEE_COST.
    async fn planned_cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        self.fig(ctx, &figures::T_PLANNED_COST, |r| Decimal(r.planned_cost))
            .await
    }
    /// Cost logged so far (sum of its time entries' cost). Needs SEE_COST.
    async fn real_cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        self.fig(ctx, &figures::T_REAL_COST, |r| Decimal(r.real_cost))
            .await
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.row.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.row.updated_at)
    }
}

/// A reference to a user: the user when the caller may see them by the rule of the `users`
/// list (themself, co-members of a visible project, everyone for ADMIN); else null,
/// reported in `extensions.redacted` as NOT_VISIBLE.
pub async fn user_ref(
    ctx: &Context<'_>,
    id: Option<i64>,
    field: &'static str,
) -> Result<Option<User>> {
    let row = match id {
        Some(id) => loaders::one(ctx, VisibleUserKey(id)).await?,
        None => None,
    };
    Ok(req(ctx).reference(field, id.is_some(), row).map(User))
}

/// Where a time entry stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimeEntryStatus {
    /// Logged; its author may still change or delete it.
    Submitted,
    /// Approved; it can no longer change.
    Approved,
    /// On an invoice.
    Billed,
}

/// Hours a user logged on a task on a day.
#[derive(Clone)]
pub struct TimeEntry(pub EntryRow);

impl TimeEntry {
    /// Hours: one's own always, others' with SEE_WORK.
    fn hours_shown(&self, s: &Scope, rc: &RequestCtx) -> Option<f64> {
        let value = || hours(self.0.hours);
        if self.0.user_id == s.user_id {
            Some(value())
        } else {
            figures::E_HOURS.shown(s, rc, &[self.0.project_id], value)
        }
    }

    fn cost_shown(&self, s: &Scope, rc: &RequestCtx) -> Option<Decimal> {
        figures::E_COST.shown(s, rc, &[self.0.project_id], || Decimal(self.0.cost))
    }

    fn status_value(&self) -> TimeEntryStatus {
        match self.0.status.as_str() {
            "APPROVED" => TimeEntryStatus::Approved,
            "BILLED" => TimeEntryStatus::Billed,
            _ => TimeEntryStatus::Submitted,
        }
    }
}

/// The authors and tasks of a page of time entries, loaded in one batch each.
#[derive(Default)]
pub struct EntryRelations {
    users: HashMap<i64, User>,
    tasks: HashMap<i64, Task>,
}

impl TimeEntry {
    /// The authors and tasks the plan asks for.
    async fn relations(items: &[&Self], load: &Load<'_>, plan: &Plan) -> Option<EntryRelations> {
        let ctx = load.ctx;
        let users = plan.asks("user").map(|_| {
            let ids: HashSet<i64> = items.iter().map(|e| e.0.user_id).collect();
            ids.into_iter().collect::<Vec<i64>>()
        });
        let tasks = plan.asks("task").map(|_| {
            let ids: HashSet<i64> = items.iter().map(|e| e.0.task_id).collect();
            ids.into_iter().collect::<Vec<i64>>()
        });
        let (users, tasks): (Vec<UserRow>, Vec<TaskRow>) = if load.batched {
            // With the sibling lists', through the batching loader.
            let users = async {
                let keys = users.unwrap_or_default().into_iter().map(VisibleUserKey);
                loaders::many(ctx, keys)
                    .await
                    .map(|m| m.into_values().collect())
            };
            let tasks = async {
                let keys = tasks.unwrap_or_default().into_iter().map(TaskKey);
                loaders::many(ctx, keys)
                    .await
                    .map(|m| m.into_values().collect())
            };
            let (users, tasks) = futures_util::future::join(users, tasks).await;
            (users.ok()?, tasks.ok()?)
        } else {
            // The only list of its kind: one statement each, at once.
            let db = &super::state(ctx).db;
            let scope = req(ctx).scope_now()?;
            let users = async {
                match users {
                    Some(ids) => users::list_visible_users_by_ids(db, &scope, ids).await,
                    None => Ok(Vec::new()),
                }
            };
            let tasks = async {
                match tasks {
                    Some(ids) => tasks::list_tasks_by_ids(db, &scope, ids).await,
                    None => Ok(Vec::new()),
                }
            };
            let (users, tasks) = futures_util::future::join(users, tasks).await;
            (users.ok()?, tasks.ok()?)
        };
        Some(EntryRelations {
            users: users.into_iter().map(|u| (u.id, User(u))).collect(),
            tasks: tasks.into_iter().map(|t| (t.id, Task::new(t))).collect(),
        })
    }
}

impl Flat for TimeEntry {
    type Pre = EntryRelations;

    fn kind(name: &str) -> Option<Kind> {
        match name {
            "id" | "date" | "hours" | "cost" | "billable" | "status" | "note" | "createdAt" => {
                Some(Kind::Leaf)
            }
            "user" => Some(Kind::Prefetched(Plan::nested::<User>)),
            "task" => Some(Kind::Prefetched(Plan::nested::<Task>)),
            _ => None,
        }
    }

    fn prefetch<'a>(
        items: &'a [&'a Self],
        load: &'a Load<'a>,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Option<EntryRelations>> {
        Box::pin(Self::relations(items, load, plan))
    }

    fn value(&self, pre: &EntryRelations, cx: &Cx<'_>, step: &Step) -> Value {
        let e = &self.0;
        match step.name.as_str() {
            "id" => val(encode("TimeEntry", e.id)),
            "date" => val(Date(e.date)),
            "hours" => val(self.hours_shown(cx.scope, cx.rc)),
            "cost" => val(self.cost_shown(cx.scope, cx.rc)),
            "billable" => val(e.billable),
            "status" => val(self.status_value()),
            "note" => val(e.note.clone()),
            "createdAt" => val(DateTime(e.created_at)),
            "user" => cx.object(
                cx.rc
                    .reference("TimeEntry.user", true, pre.users.get(&e.user_id)),
                step,
            ),
            "task" => cx.object(pre.tasks.get(&e.task_id), step),
            _ => Value::Null,
        }
    }
}

#[Object]
impl TimeEntry {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode("TimeEntry", self.0.id)
    }
    /// Who logged it.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_ref(ctx, Some(self.0.user_id), "TimeEntry.user").await
    }
    async fn task(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        Ok(loaders::one(ctx, TaskKey(self.0.task_id))
            .await?
            .map(Task::new))
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        Ok(loaders::one(ctx, ProjectKey(self.0.project_id))
            .await?
            .map(Project::new))
    }
    async fn date(&self) -> Date {
        Date(self.0.date)
    }
    /// Hours. One's own always; others' need SEE_WORK.
    async fn hours(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(self.hours_shown(&*scope(ctx).await?, req(ctx)))
    }
    /// Cost (hours x the user's cost rate when logged). Needs SEE_COST.
    async fn cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        Ok(self.cost_shown(&*scope(ctx).await?, req(ctx)))
    }
    async fn billable(&self) -> bool {
        self.0.billable
    }
    async fn status(&self) -> TimeEntryStatus {
        self.status_value()
    }
    /// The invoice that billed it, when the caller may see invoices of the project.
    async fn invoice(&self, ctx: &Context<'_>) -> Result<Option<Invoice>> {
        let Some(id) = self.0.invoice_id else {
            return Ok(None);
        };
        Ok(loaders::one(ctx, InvoiceKey(id)).await?.map(Invoice))
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// Who may read a document.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DocumentVisibility {
    /// Only for holders of VIEW_INTERNAL_DOCUMENTS.
    Internal,
    /// For everybody who sees the project.
    Shared,
}

impl DocumentVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentVisibility::Internal => "INTERNAL",
            DocumentVisibility::Shared => "SHARED",
        }
    }
}

/// A document in a project's archive.
#[derive(Clone)]
pub struct Document(pub DocumentRow);

impl Document {
    fn visibility_value(&self) -> DocumentVisibility {
        if self.0.visibility == "SHARED" {
            DocumentVisibility::Shared
        } else {
            DocumentVisibility::Internal
        }
    }
}

impl Flat for Document {
    type Pre = ();

    fn kind(name: &str) -> Option<Kind> {
        matches!(
            name,
            "id" | "folder" | "title" | "visibility" | "content" | "createdAt" | "updatedAt"
        )
        .then_some(Kind::Leaf)
    }

    fn value(&self, _: &(), _: &Cx<'_>, step: &Step) -> Value {
        let d = &self.0;
        match step.name.as_str() {
            "id" => val(encode("Document", d.id)),
            "folder" => val(d.folder.clone()),
            "title" => val(d.title.clone()),
            "visibility" => val(self.visibility_value()),
            "content" => val(d.content.clone()),
            "createdAt" => val(DateTime(d.created_at)),
            "updatedAt" => val(DateTime(d.updated_at)),
            _ => Value::Null,
        }
    }
}

#[Object]
impl Document {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode("Document", self.0.id)
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        Ok(loaders::one(ctx, ProjectKey(self.0.project_id))
            .await?
            .map(Project::new))
    }
    /// Folder path; empty for the archive's root.
    async fn folder(&self) -> &str {
        &self.0.folder
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn visibility(&self) -> DocumentVisibility {
        self.visibility_value()
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_ref(ctx, self.0.created_by, "Document.createdBy").await
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// Restricts a folder of a project's archive to the principals its rules name (plus
/// MANAGE_DOCUMENTS holders).
#[derive(Clone)]
pub struct FolderRule(pub FolderRuleRow);

#[Object]
impl FolderRule {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode("FolderRule", self.0.id)
    }
    async fn folder(&self) -> &str {
        &self.0.folder
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        Ok(loaders::one(ctx, ProjectKey(self.0.project_id))
            .await?
            .map(Project::new))
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_ref(ctx, self.0.user_id, "FolderRule.user").await
    }
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        Ok(
            super::objects::named_ref(ctx, Named::Group, self.0.group_id, "FolderRule.group")
                .await?
                .map(Group),
        )
    }
}

/// Where an invoice stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    /// Frozen: sent to the customer.
    Issued,
}

/// One line of an invoice: one user's hours on one task.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct InvoiceLine {
    /// The task's name.
    pub description: String,
    /// Billed hours.
    pub hours: f64,
    /// Billing rate per hour.
    pub rate: Decimal,
    pub amount: Decimal,
    #[graphql(skip)]
    pub user_id: Option<i64>,
}

#[ComplexObject]
impl InvoiceLine {
    /// Who worked; null (reported NOT_VISIBLE) when the caller may not see that user.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_ref(ctx, self.user_id, "InvoiceLine.user").await
    }
}

/// A line is shown with its task's project: a line whose task is gone stays visible, as
/// it names nothing.
fn line_visible(s: &Scope, l: &crate::db::invoices::LineRow) -> bool {
    l.project_id.is_none_or(|p| s.sees(p))
}

/// An invoice generated from approved, billable time.
#[derive(Clone)]
pub struct Invoice(pub InvoiceRow);

impl Invoice {
    fn status_value(&self) -> InvoiceStatus {
        if self.0.status == "ISSUED" {
            InvoiceStatus::Issued
        } else {
            InvoiceStatus::Draft
        }
    }
}

impl Flat for Invoice {
    type Pre = ();

    fn kind(name: &str) -> Option<Kind> {
        matches!(
            name,
            "id" | "number" | "periodStart" | "periodEnd" | "status" | "createdAt" | "issuedAt"
        )
        .then_some(Kind::Leaf)
    }

    fn value(&self, _: &(), _: &Cx<'_>, step: &Step) -> Value {
        let i = &self.0;
        match step.name.as_str() {
            "id" => val(encode("Invoice", i.id)),
            "number" => val(i.number.clone()),
            "periodStart" => val(Date(i.period_start)),
            "periodEnd" => val(Date(i.period_end)),
            "status" => val(self.status_value()),
            "createdAt" => val(DateTime(i.created_at)),
            "issuedAt" => val(i.issued_at.map(DateTime)),
            _ => Value::Null,
        }
    }
}

#[Object]
impl Invoice {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode("Invoice", self.0.id)
    }
    async fn number(&self) -> &str {
        &self.0.number
    }
    /// The client billed; null (reported NOT_VISIBLE) when the caller may not see it.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        Ok(
            super::objects::named_ref(ctx, Named::Customer, self.0.customer_id, "Invoice.customer")
                .await?
                .map(Customer),
        )
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        Ok(loaders::one(ctx, ProjectKey(self.0.project_id))
            .await?
            .map(Project::new))
    }
    async fn period_start(&self) -> Date {
        Date(self.0.period_start)
    }
    async fn period_end(&self) -> Date {
        Date(self.0.period_end)
    }
    async fn status(&self) -> InvoiceStatus {
        self.status_value()
    }
    /// The lines the caller may see: a line of a task in a project the caller cannot see
    /// (a sub-project that is a room of its own) is left out.
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<InvoiceLine>> {
        let s = scope(ctx).await?;
        let lines = loaders::one(ctx, LinesKey(self.0.id))
            .await?
            .unwrap_or_default();
        // Reported once per invoice: how many lines are hidden is theirs to keep too.
        if !lines.iter().all(|l| line_visible(&s, l)) {
            req(ctx).not_visible("Invoice.lines");
        }
        Ok(lines
            .into_iter()
            .filter(|l| line_visible(&s, l))
            .map(|l| InvoiceLine {
                description: l.description,
                hours: hours(l.hours),
                rate: Decimal(l.rate),
                amount: Decimal(l.amount),
                user_id: l.user_id,
            })
            .collect())
    }
    /// The invoice's total; null (reported NOT_VISIBLE) when some of its lines are of
    /// projects the caller cannot see, since it would tell what they bill.
    async fn total(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        let s = scope(ctx).await?;
        let lines = loaders::one(ctx, LinesKey(self.0.id))
            .await?
            .unwrap_or_default();
        let all = lines.iter().all(|l| line_visible(&s, l));
        Ok(req(ctx).reference("Invoice.total", !all, all.then_some(Decimal(self.0.total))))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn issued_at(&self) -> Option<DateTime> {
        self.0.issued_at.map(DateTime)
    }
}
