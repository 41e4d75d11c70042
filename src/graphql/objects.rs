//! The GraphQL object types.

use async_graphql::{Context, Enum, Interface, Object, SimpleObject, Value, ID};

use super::connection::connection;
use futures_util::future::BoxFuture;

use super::flat::{self, not_flat, val, Connections, Cx, Flat, Kind, Load, Plan, Step};
use super::ids::encode;
use super::loaders::{self, MemberProjectsKey, NamedKey, OwnTotalsKey, ProfileKey, ProjectKey};
use super::scalars::hours;
use super::scalars::{Date, DateTime, Decimal};
use super::work::{
    figure_over, figures, Document, DocumentConnection, DocumentEdge, Figure, FolderRule, Invoice,
    InvoiceConnection, InvoiceEdge, Task, TaskConnection, TaskEdge, TimeEntry, TimeEntryConnection,
    TimeEntryEdge,
};
use super::{guard, scope, state, viewer};
use crate::authz::{GrantVia, HiddenReason, Right};
use crate::db::audit::EventRow;
use crate::db::credentials::ApiKeyRow;
use crate::db::org::{Named, NamedRow, ProfileRow};
use crate::db::projects::{self, MembershipRow, ProjectRow};
use crate::db::tasks::{self, Totals};
use crate::db::users::{self, UserRow};
use crate::db::{documents, entries, invoices};
use crate::error::Result;

/// Anything with a global id; `node(id:)` finds it.
#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    Project(Project),
    User(User),
    Membership(Membership),
    Profile(Profile),
    Group(Group),
    Customer(Customer),
    Department(Department),
    ApiKey(ApiKey),
    AuditEvent(AuditEvent),
    Task(Task),
    TimeEntry(TimeEntry),
    Document(Document),
    Invoice(Invoice),
    FolderRule(FolderRule),
}

/// Internal staff or an external (customer) user.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserKind {
    Internal,
    External,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Internal => "INTERNAL",
            UserKind::External => "EXTERNAL",
        }
    }
    fn parse(s: &str) -> UserKind {
        if s == "EXTERNAL" {
            UserKind::External
        } else {
            UserKind::Internal
        }
    }
}

/// Life cycle of a project. POTENTIAL and CLOSED projects are hidden from users without
/// VIEW_PROJECT_HISTORY or VIEW_ALL_PROJECTS.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProjectStatus {
    Potential,
    Open,
    OnHold,
    Closed,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Potential => "POTENTIAL",
            ProjectStatus::Open => "OPEN",
            ProjectStatus::OnHold => "ON_HOLD",
            ProjectStatus::Closed => "CLOSED",
        }
    }
    fn parse(s: &str) -> ProjectStatus {
        match s {
            "POTENTIAL" => ProjectStatus::Potential,
            "ON_HOLD" => ProjectStatus::OnHold,
            "CLOSED" => ProjectStatus::Closed,
            _ => ProjectStatus::Open,
        }
    }
}

/// A person who can sign in.
#[derive(Clone)]
pub struct User(pub UserRow);

impl User {
    /// Rates: ADMIN, the user themself, or SEE_COST on a project the user is a member of.
    async fn rates_visible(&self, ctx: &Context<'_>) -> Result<bool> {
        if self.private(ctx).await? {
            return Ok(true);
        }
        let s = scope(ctx).await?;
        let projects = loaders::one(ctx, MemberProjectsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(projects.iter().any(|p| s.can(*p, Right::SeeCost)))
    }

    /// May the caller see this user's private fields (email, profile, department...)?
    async fn private(&self, ctx: &Context<'_>) -> Result<bool> {
        let rc = super::req(ctx);
        if self.answer_to_login(rc) {
            return Ok(true);
        }
        Ok(self.private_in(&*scope(ctx).await?))
    }

    /// The answer to a `login` (no caller yet) shows the user it signed in.
    fn answer_to_login(&self, rc: &super::RequestCtx) -> bool {
        rc.viewer.is_none() && rc.logged_in.get() == Some(&self.0.id)
    }

    fn private_in(&self, s: &crate::authz::Scope) -> bool {
        s.is_admin() || s.user_id == self.0.id
    }
}

impl Flat for User {
    type Pre = ();

    fn kind(name: &str) -> Option<Kind> {
        matches!(
            name,
            "id" | "name" | "kind" | "email" | "active" | "createdAt"
        )
        .then_some(Kind::Leaf)
    }

    fn value(&self, _: &(), cx: &Cx<'_>, step: &Step) -> async_graphql::Value {
        let u = &self.0;
        let private = || self.answer_to_login(cx.rc) || self.private_in(cx.scope);
        match step.name.as_str() {
            "id" => val(encode("User", u.id)),
            "name" => val(u.name.clone()),
            "kind" => val(UserKind::parse(&u.kind)),
            "email" => val(cx
                .rc
                .guard(private(), "User.email", Right::Admin, u.email.clone())),
            "active" => val(cx
                .rc
                .guard(private(), "User.active", Right::Admin, u.active)),
            "createdAt" => val(DateTime(u.created_at)),
            _ => async_graphql::Value::Null,
        }
    }
}

#[Object]
impl User {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("User", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Visible to ADMIN and to the user themself.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let ok = self.private(ctx).await?;
        Ok(guard(
            ctx,
            ok,
            "User.email",
            Right::Admin,
            self.0.email.clone(),
        ))
    }
    async fn kind(&self) -> UserKind {
        UserKind::parse(&self.0.kind)
    }
    /// The company an external user belongs to. Visible to ADMIN and to the user themself.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        if !self.private(ctx).await? {
            super::redact(ctx, "User.customer", Right::Admin);
            return Ok(None);
        }
        named_ref(ctx, Named::Customer, self.0.customer_id, "User.customer")
            .await
            .map(|o| o.map(Customer))
    }
    /// Visible to ADMIN and to the user themself.
    async fn department(&self, ctx: &Context<'_>) -> Result<Option<Department>> {
        if !self.private(ctx).await? {
            super::redact(ctx, "User.department", Right::Admin);
            return Ok(None);
        }
        named_ref(
            ctx,
            Named::Department,
            self.0.department_id,
            "User.department",
        )
        .await
        .map(|o| o.map(Department))
    }
    /// The default profile. Visible to ADMIN and to the user themself.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Option<Profile>> {
        if !self.private(ctx).await? {
            super::redact(ctx, "User.profile", Right::Admin);
            return Ok(None);
        }
        if super::req(ctx).viewer.is_none() {
            return Ok(
                crate::db::org::find_profile(&state(ctx).db, self.0.profile_id)
                    .await?
                    .map(Profile),
            );
        }
        Ok(loaders::one(ctx, ProfileKey(self.0.profile_id))
            .await?
            .map(Profile))
    }
    /// Cost per hour. Needs ADMIN, being this user, or SEE_COST on a project they are a
    /// member of.
    async fn cost_rate(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        let ok = self.rates_visible(ctx).await?;
        Ok(guard(
            ctx,
            ok,
            "User.costRate",
            Right::SeeCost,
            Decimal(self.0.cost_rate),
        ))
    }
    /// Billing rate per hour. Needs ADMIN, being this user, or SEE_COST on a project they
    /// are a member of.
    async fn billing_rate(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        let ok = self.rates_visible(ctx).await?;
        Ok(guard(
            ctx,
            ok,
            "User.billingRate",
            Right::SeeCost,
            Decimal(self.0.billing_rate),
        ))
    }
    /// Whether the user may sign in. Visible to ADMIN and to the user themself.
    async fn active(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        let ok = self.private(ctx).await?;
        Ok(guard(ctx, ok, "User.active", Right::Admin, self.0.active))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// A reference to a customer, department or group: the row when the caller may see it by
/// the rule of the `customers`, `departments` and `groups` lists; else null, reported in
/// `extensions.redacted` as NOT_VISIBLE.
pub(super) async fn named_ref(
    ctx: &Context<'_>,
    kind: Named,
    id: Option<i64>,
    field: &'static str,
) -> Result<Option<NamedRow>> {
    let row = match id {
        // The answer to `login` has no caller (and so no loaders) yet: it shows the user's
        // own customer and department, which are theirs to see.
        Some(id) if super::req(ctx).viewer.is_none() => kind.find(&state(ctx).db, id).await?,
        Some(id) => loaders::one(ctx, NamedKey(kind, id)).await?,
        None => None,
    };
    Ok(super::req(ctx).reference(field, id.is_some(), row))
}

/// A named set of rights. Global rights apply from a user's default profile; project
/// rights through memberships.
#[derive(Clone)]
pub struct Profile(pub ProfileRow);

#[Object]
impl Profile {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("Profile", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The rights this profile grants.
    async fn rights(&self) -> Vec<Right> {
        self.0.rights.iter().collect()
    }
}

/// A named set of users; a group can be a project member.
#[derive(Clone)]
pub struct Group(pub NamedRow);

#[Object]
impl Group {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("Group", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The group's users that the caller may see.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let db = &state(ctx).db;
        let s = scope(ctx).await?;
        let ids = crate::db::org::group_member_ids(db, self.0.id).await?;
        Ok(users::list_visible_users_by_ids(db, &s, ids)
            .await?
            .into_iter()
            .map(User)
            .collect())
    }
}

/// A client company.
#[derive(Clone)]
pub struct Customer(pub NamedRow);

#[Object]
impl Customer {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("Customer", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A cost center; departments form a tree.
#[derive(Clone)]
pub struct Department(pub NamedRow);

#[Object]
impl Department {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("Department", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The parent department; null (reported NOT_VISIBLE) when the caller may not see it.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Department>> {
        named_ref(
            ctx,
            Named::Department,
            self.0.parent_id,
            "Department.parent",
        )
        .await
        .map(|o| o.map(Department))
    }
}

/// A project or sub-project.
#[derive(Clone)]
pub struct Project(pub ProjectRow);

impl Project {
    pub fn new(row: ProjectRow) -> Self {
        Project(row)
    }

    /// A roll-up over this project and all its sub-projects: shown only when one of the
    /// figure's rights holds on every one of them.
    async fn rollup<T>(
        &self,
        ctx: &Context<'_>,
        fig: &Figure,
        f: impl FnOnce(Totals) -> T,
    ) -> Result<Option<T>> {
        let s = scope(ctx).await?;
        let ids = s.subtree(self.0.id);
        figure_over(ctx, fig, &ids, || async {
            let own = loaders::many(ctx, ids.iter().map(|p| OwnTotalsKey(*p))).await?;
            Ok(f(own.into_values().sum()))
        })
        .await
    }
}

connection!(ProjectConnection, ProjectEdge, Project, "projects");
not_flat!(Membership, AuditEvent);
connection!(
    MembershipConnection,
    MembershipEdge,
    Membership,
    "memberships"
);
connection!(UserConnection, UserEdge, User, "users");
connection!(
    AuditEventConnection,
    AuditEventEdge,
    AuditEvent,
    "audit events"
);

/// What a list of projects prefetches: the pages of their connection fields, and the own
/// totals of their subtrees for the roll-ups.
#[derive(Default)]
pub struct ProjectPre {
    connections: Connections,
    totals: std::collections::HashMap<i64, Totals>,
}

/// A roll-up's value from the totals of a subtree.
type RollupValue = fn(Totals) -> Value;

/// The roll-up figures of a project, with their rules and values.
fn rollup_of(name: &str) -> Option<(&'static Figure, RollupValue)> {
    let (fig, f): (&Figure, RollupValue) = match name {
        "validatedWork" => (&figures::P_VALIDATED_WORK, |t| val(hours(t.validated_work))),
        "plannedWork" => (&figures::P_PLANNED_WORK, |t| val(hours(t.planned_work))),
        "realWork" => (&figures::P_REAL_WORK, |t| val(hours(t.real_work))),
        "leftWork" => (&figures::P_LEFT_WORK, |t| val(hours(t.left_work))),
        "validatedCost" => (&figures::P_VALIDATED_COST, |t| {
            val(Decimal(t.validated_cost))
        }),
        "plannedCost" => (&figures::P_PLANNED_COST, |t| val(Decimal(t.planned_cost))),
        "realCost" => (&figures::P_REAL_COST, |t| val(Decimal(t.real_cost))),
        _ => return None,
    };
    Some((fig, f))
}

impl Project {
    async fn prefetched(items: &[&Self], load: &Load<'_>, plan: &Plan) -> Option<ProjectPre> {
        let ctx = load.ctx;
        let ids: Vec<i64> = items.iter().map(|p| p.0.id).collect();
        let mut pre = ProjectPre::default();
        if plan
            .steps
            .iter()
            .any(|s| rollup_of(s.name.as_str()).is_some())
        {
            let scope = super::req(ctx).scope_now()?;
            let mut all: Vec<i64> = ids.iter().flat_map(|id| scope.subtree(*id)).collect();
            all.sort_unstable();
            all.dedup();
            pre.totals = if load.batched {
                let found = loaders::many(ctx, all.into_iter().map(OwnTotalsKey)).await;
                found.ok()?.into_iter().map(|(k, t)| (k.0, t)).collect()
            } else {
                tasks::own_totals_unscoped(&state(ctx).db, all).await.ok()?
            };
        }
        let c = &mut pre.connections;
        for step in &plan.steps {
            match step.name.as_str() {
                "tasks" => c.insert(
                    step,
                    flat::connection::<tasks::TasksOfProject, _>(load, &ids, step, Task::new)
                        .await?,
                ),
                "children" => c.insert(
                    step,
                    flat::connection::<projects::ChildrenOfProject, _>(
                        load,
                        &ids,
                        step,
                        Project::new,
                    )
                    .await?,
                ),
                "timeEntries" => c.insert(
                    step,
                    flat::connection::<entries::EntriesOfProject, _>(load, &ids, step, TimeEntry)
                        .await?,
                ),
                "documents" => c.insert(
                    step,
                    flat::connection::<documents::DocumentsOfProject, _>(
                        load, &ids, step, Document,
                    )
                    .await?,
                ),
                "invoices" => c.insert(
                    step,
                    flat::connection::<invoices::InvoicesOfProject, _>(load, &ids, step, Invoice)
                        .await?,
                ),
                _ => {}
            }
        }
        Some(pre)
    }
}

impl Flat for Project {
    type Pre = ProjectPre;

    fn kind(name: &str) -> Option<Kind> {
        Some(match name {
            "id" | "name" | "code" | "status" | "inheritMembers" | "viewerRights" | "budget"
            | "createdAt" | "updatedAt" => Kind::Leaf,
            "tasks" => Kind::Connection(Plan::connection::<TaskConnection, TaskEdge, Task>),
            "children" => {
                Kind::Connection(Plan::connection::<ProjectConnection, ProjectEdge, Project>)
            }
            "timeEntries" => {
                Kind::Connection(Plan::connection::<TimeEntryConnection, TimeEntryEdge, TimeEntry>)
            }
            "documents" => {
                Kind::Connection(Plan::connection::<DocumentConnection, DocumentEdge, Document>)
            }
            "invoices" => {
                Kind::Connection(Plan::connection::<InvoiceConnection, InvoiceEdge, Invoice>)
            }
            _ if rollup_of(name).is_some() => Kind::PrefetchedLeaf,
            _ => return None,
        })
    }

    fn prefetch<'a>(
        items: &'a [&'a Self],
        load: &'a Load<'a>,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Option<ProjectPre>> {
        Box::pin(Self::prefetched(items, load, plan))
    }

    fn value(&self, pre: &ProjectPre, cx: &Cx<'_>, step: &Step) -> Value {
        let r = &self.0;
        let c = &pre.connections;
        match step.name.as_str() {
            "id" => val(encode("Project", r.id)),
            "name" => val(r.name.clone()),
            "code" => val(r.code.clone()),
            "status" => val(ProjectStatus::parse(&r.status)),
            "inheritMembers" => val(r.inherit_members),
            "viewerRights" => val(cx
                .scope
                .rights(r.id)
                .map(|r| r.iter().collect::<Vec<Right>>())
                .unwrap_or_default()),
            "budget" => cx.figure(&figures::P_BUDGET, &[r.id], || r.budget.map(Decimal)),
            "createdAt" => val(DateTime(r.created_at)),
            "updatedAt" => val(DateTime(r.updated_at)),
            "tasks" => cx.connection(c.get::<Task>(step), r.id, step),
            "children" => cx.connection(c.get::<Project>(step), r.id, step),
            "timeEntries" => cx.connection(c.get::<TimeEntry>(step), r.id, step),
            "documents" => cx.connection(c.get::<Document>(step), r.id, step),
            "invoices" => cx.connection(c.get::<Invoice>(step), r.id, step),
            name => match rollup_of(name) {
                Some((fig, f)) => {
                    let ids = cx.scope.subtree(r.id);
                    fig.shown(cx.scope, cx.rc, &ids, || {
                        f(ids.iter().filter_map(|p| pre.totals.get(p).copied()).sum())
                    })
                    .unwrap_or(Value::Null)
                }
                None => Value::Null,
            },
        }
    }
}

#[Object]
impl Project {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("Project", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    async fn status(&self) -> ProjectStatus {
        ProjectStatus::parse(&self.0.status)
    }
    /// The client; null (reported NOT_VISIBLE) when the caller may not see it.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        named_ref(ctx, Named::Customer, self.0.customer_id, "Project.customer")
            .await
            .map(|o| o.map(Customer))
    }
    /// The department; null (reported NOT_VISIBLE) when the caller may not see it.
    async fn department(&self, ctx: &Context<'_>) -> Result<Option<Department>> {
        named_ref(
            ctx,
            Named::Department,
            self.0.department_id,
            "Project.department",
        )
        .await
        .map(|o| o.map(Department))
    }
    /// The parent project, when the caller may see it.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        let row = loaders::one(ctx, ProjectKey(parent)).await?;
        Ok(super::req(ctx)
            .reference("Project.parent", true, row)
            .map(Project::new))
    }
    /// The ancestors the caller may see, nearest first.
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        let mut next = self.0.parent_id;
        // Walk up through the rows the caller may see; a hidden ancestor ends the chain.
        while let Some(id) = next {
            match loaders::one(ctx, ProjectKey(id)).await? {
                Some(p) => {
                    next = p.parent_id;
                    out.push(Project::new(p));
                }
                None => break,
            }
        }
        Ok(out)
    }
    /// Direct sub-projects the caller may see.
    async fn children(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ProjectConnection> {
        let (page, args) =
            loaders::children::<projects::ChildrenOfProject>(ctx, self.0.id, first, after).await?;
        Ok(ProjectConnection::nested::<projects::ChildrenOfProject>(
            &page,
            self.0.id,
            args,
            Project::new,
        ))
    }
    /// Whether memberships of the parent apply here too. False makes this project a
    /// "room with its own rights".
    async fn inherit_members(&self) -> bool {
        self.0.inherit_members
    }
    /// Memberships made on this project (not those inherited from above).
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<MembershipConnection> {
        let (page, args) =
            loaders::children::<projects::MembersOfProject>(ctx, self.0.id, first, after).await?;
        Ok(MembershipConnection::nested::<projects::MembersOfProject>(
            &page, self.0.id, args, Membership,
        ))
    }
    /// Narrows the ceiling for external users on this project and below; null for no
    /// narrowing.
    async fn external_rights(&self, ctx: &Context<'_>) -> Result<Option<Vec<Right>>> {
        let s = scope(ctx).await?;
        Ok(s.project_facts(self.0.id)
            .and_then(|f| f.external_rights)
            .map(|r| r.iter().collect()))
    }
    /// The caller's effective project rights here.
    async fn viewer_rights(&self, ctx: &Context<'_>) -> Result<Vec<Right>> {
        let s = scope(ctx).await?;
        Ok(s.rights(self.0.id)
            .map(|r| r.iter().collect())
            .unwrap_or_default())
    }
    /// The budget. Needs SEE_COST.
    async fn budget(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        let budget = self.0.budget;
        Ok(
            figure_over(ctx, &figures::P_BUDGET, &[self.0.id], || async {
                Ok(budget.map(Decimal))
            })
            .await?
            .flatten(),
        )
    }
    /// Agreed baseline work of its tasks and sub-projects' tasks, hours. Needs
    /// SEE_VALIDATED_WORK or SEE_WORK on the project and every sub-project.
    async fn validated_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.rollup(ctx, &figures::P_VALIDATED_WORK, |t| hours(t.validated_work))
            .await
    }
    /// Planned work, hours, with sub-projects. Needs SEE_WORK on all of them.
    async fn planned_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.rollup(ctx, &figures::P_PLANNED_WORK, |t| hours(t.planned_work))
            .await
    }
    /// Work logged, hours, with sub-projects. Needs SEE_WORK on all of them.
    async fn real_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.rollup(ctx, &figures::P_REAL_WORK, |t| hours(t.real_work))
            .await
    }
    /// Work left, hours, with sub-projects. Needs SEE_WORK on all of them.
    async fn left_work(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.rollup(ctx, &figures::P_LEFT_WORK, |t| hours(t.left_work))
            .await
    }
    /// Agreed baseline cost, with sub-projects. Needs SEE_VALIDATED_COST or SEE_COST on all.
    async fn validated_cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        self.rollup(ctx, &figures::P_VALIDATED_COST, |t| {
            Decimal(t.validated_cost)
        })
        .await
    }
    /// Planned cost, with sub-projects. Needs SEE_COST on all of them.
    async fn planned_cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        self.rollup(ctx, &figures::P_PLANNED_COST, |t| Decimal(t.planned_cost))
            .await
    }
    /// Cost logged, with sub-projects. Needs SEE_COST on all of them.
    async fn real_cost(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        self.rollup(ctx, &figures::P_REAL_COST, |t| Decimal(t.real_cost))
            .await
    }
    /// The project's own tasks.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<TaskConnection> {
        let (page, args) =
            loaders::children::<crate::db::tasks::TasksOfProject>(ctx, self.0.id, first, after)
                .await?;
        Ok(TaskConnection::nested::<crate::db::tasks::TasksOfProject>(
            &page,
            self.0.id,
            args,
            Task::new,
        ))
    }
    /// Time logged on the project's own tasks that the caller may see.
    async fn time_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<TimeEntryConnection> {
        let (page, args) =
            loaders::children::<crate::db::entries::EntriesOfProject>(ctx, self.0.id, first, after)
                .await?;
        Ok(TimeEntryConnection::nested::<
            crate::db::entries::EntriesOfProject,
        >(&page, self.0.id, args, TimeEntry))
    }
    /// The project's documents that the caller may see.
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<DocumentConnection> {
        let (page, args) = loaders::children::<crate::db::documents::DocumentsOfProject>(
            ctx, self.0.id, first, after,
        )
        .await?;
        Ok(DocumentConnection::nested::<
            crate::db::documents::DocumentsOfProject,
        >(&page, self.0.id, args, Document))
    }
    /// The project's invoices, with VIEW_INVOICES.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<InvoiceConnection> {
        let (page, args) = loaders::children::<crate::db::invoices::InvoicesOfProject>(
            ctx, self.0.id, first, after,
        )
        .await?;
        Ok(InvoiceConnection::nested::<
            crate::db::invoices::InvoicesOfProject,
        >(&page, self.0.id, args, Invoice))
    }
    /// Rules restricting the project's folders; only MANAGE_DOCUMENTS holders see them.
    async fn folder_rules(&self, ctx: &Context<'_>) -> Result<Vec<FolderRule>> {
        let s = scope(ctx).await?;
        if !s.can(self.0.id, Right::ManageDocuments) {
            return Ok(Vec::new());
        }
        Ok(
            crate::db::documents::list_folder_rules(&state(ctx).db, self.0.id)
                .await?
                .into_iter()
                .map(FolderRule)
                .collect(),
        )
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// A user or group bound to a project with a profile, optionally for a period.
#[derive(Clone)]
pub struct Membership(pub MembershipRow);

#[Object]
impl Membership {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("Membership", self.0.id)
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        Ok(loaders::one(ctx, ProjectKey(self.0.project_id))
            .await?
            .map(Project::new))
    }
    /// The member user (one of user and group is set).
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        super::work::user_ref(ctx, self.0.user_id, "Membership.user").await
    }
    /// The member group (one of user and group is set).
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        named_ref(ctx, Named::Group, self.0.group_id, "Membership.group")
            .await
            .map(|o| o.map(Group))
    }
    async fn profile(&self, ctx: &Context<'_>) -> Result<Option<Profile>> {
        Ok(loaders::one(ctx, ProfileKey(self.0.profile_id))
            .await?
            .map(Profile))
    }
    /// First day the membership counts; none means always.
    async fn valid_from(&self) -> Option<Date> {
        self.0.valid_from.map(Date)
    }
    /// Last day the membership counts; none means always.
    async fn valid_until(&self) -> Option<Date> {
        self.0.valid_until.map(Date)
    }
}

/// A long-lived credential acting as its owner.
#[derive(Clone)]
pub struct ApiKey(pub ApiKeyRow);

#[Object]
impl ApiKey {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("ApiKey", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the secret, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    /// A read-only key cannot run mutations.
    async fn read_only(&self) -> bool {
        self.0.read_only
    }
    async fn expires_at(&self) -> Option<DateTime> {
        self.0.expires_at.map(DateTime)
    }
    async fn revoked_at(&self) -> Option<DateTime> {
        self.0.revoked_at.map(DateTime)
    }
    async fn last_used_at(&self) -> Option<DateTime> {
        self.0.last_used_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// The projects the key is narrowed to (with their sub-projects); empty for all.
    async fn projects(&self, ctx: &Context<'_>) -> Result<Vec<Project>> {
        let s = scope(ctx).await?;
        Ok(
            projects::list_projects_by_ids(&state(ctx).db, &s, self.0.project_ids.clone())
                .await?
                .into_iter()
                .map(Project::new)
                .collect(),
        )
    }
    /// The owner.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(users::find_user_unscoped(&state(ctx).db, self.0.user_id)
            .await?
            .map(User))
    }
}

/// A new API key; `secret` is shown only here, once.
#[derive(SimpleObject)]
pub struct ApiKeyCreated {
    /// Send as `Authorization: Bearer <secret>`. It cannot be read again.
    pub secret: String,
    pub api_key: ApiKey,
}

/// A signed-in session.
#[derive(SimpleObject)]
pub struct Session {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime,
    pub user: User,
}

/// Something that happened, for the audit log.
#[derive(Clone)]
pub struct AuditEvent(pub EventRow);

#[Object]
impl AuditEvent {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode("AuditEvent", self.0.id)
    }
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
    /// Who acted (whose view, under impersonation).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_opt(ctx, self.0.actor_id).await
    }
    /// Who sent the request when it was impersonated.
    async fn impersonator(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user_opt(ctx, self.0.impersonator_id).await
    }
    /// What happened, such as `LOGIN`, `LOGIN_FAILED`, `CREATE_API_KEY`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The global id of what it happened to.
    async fn target(&self) -> Option<&str> {
        self.0.target.as_deref()
    }
    /// Details as JSON.
    async fn details(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(serde_json::from_str(&self.0.details).unwrap_or_default())
    }
}

/// Only ADMIN reads audit events, so the users they name are readable whole.
async fn user_opt(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<User>> {
    match id {
        Some(id) => Ok(users::find_user_unscoped(&state(ctx).db, id)
            .await?
            .map(User)),
        None => Ok(None),
    }
}

/// The caller.
pub struct ViewerInfo;

#[Object(name = "Viewer")]
impl ViewerInfo {
    /// Whose view this request gets.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(viewer(ctx)?.user.clone()))
    }
    /// Global rights of the user's default profile.
    async fn global_rights(&self, ctx: &Context<'_>) -> Result<Vec<Right>> {
        Ok(scope(ctx).await?.global.iter().collect())
    }
    /// The user who is viewing as `user`, under "view as".
    async fn impersonated_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(viewer(ctx)?.impersonator.clone().map(User))
    }
    /// Whether mutations are refused (read-only API key or "view as").
    async fn read_only(&self, ctx: &Context<'_>) -> Result<bool> {
        let v = viewer(ctx)?;
        Ok(v.read_only || v.impersonator.is_some())
    }
}

/// One source of one right.
#[derive(SimpleObject)]
pub struct AccessGrant {
    pub right: Right,
    pub via: GrantVia,
    /// Where the membership was made: the project itself or an ancestor.
    pub project: Option<Project>,
    pub group: Option<Group>,
    pub profile: Option<Profile>,
}

/// Why a user sees a project with the rights they have, or why not.
#[derive(SimpleObject)]
pub struct AccessExplanation {
    pub visible: bool,
    pub rights: Vec<Right>,
    pub grants: Vec<AccessGrant>,
    /// Rights the ceiling for external users took away (empty for internal users).
    pub removed_by_ceiling: Vec<Right>,
    /// Why the project is hidden, when it is.
    pub reason: Option<HiddenReason>,
    /// The reason in words.
    pub message: Option<String>,
}
