//! Projects and memberships. Every read takes the caller's [`Scope`].

use chrono::{DateTime, NaiveDate, Utc};

use super::list::{fetch_page, Page, PageArgs, Rel, Where};
use super::Backend;
use super::{q, Db, Row, Tx};
use crate::authz::Scope;
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub code: Option<String>,
    pub status: String,
    pub customer_id: Option<i64>,
    pub department_id: Option<i64>,
    pub parent_id: Option<i64>,
    pub inherit_members: bool,
    /// Minor units.
    pub budget: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "project_id, name, code, status, customer_id, department_id, parent_id, inherit_members, budget, created_at, updated_at";

fn from_row(r: &Row) -> Result<ProjectRow> {
    Ok(ProjectRow {
        id: r.get("project_id")?,
        name: r.get("name")?,
        code: r.get("code")?,
        status: r.get("status")?,
        customer_id: r.get("customer_id")?,
        department_id: r.get("department_id")?,
        parent_id: r.get("parent_id")?,
        inherit_members: r.get("inherit_members")?,
        budget: r.get("budget")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// Filters of the `projects` query and of nested project lists.
#[derive(Default, Clone, Debug)]
pub struct ProjectFilter {
    pub statuses: Option<Vec<String>>,
    pub customer_id: Option<i64>,
    pub parent_id: Option<i64>,
    pub top_level_only: bool,
    pub search: Option<String>,
}

pub async fn list_projects(
    db: &Db,
    scope: &Scope,
    filter: &ProjectFilter,
    page: PageArgs,
) -> Result<Page<ProjectRow>> {
    let mut w = visible(db.backend(), scope);
    if let Some(statuses) = &filter.statuses {
        let list: Vec<String> = statuses.iter().map(|s| w.arg(s.clone())).collect();
        if list.is_empty() {
            w.and("FALSE");
        } else {
            w.and(format!("status IN ({})", list.join(", ")));
        }
    }
    if let Some(c) = filter.customer_id {
        let p = w.arg(c);
        w.and(format!("customer_id = {p}"));
    }
    if let Some(parent) = filter.parent_id {
        let p = w.arg(parent);
        w.and(format!("parent_id = {p}"));
    }
    if filter.top_level_only {
        // A project whose parent the caller cannot see is top level for them (its
        // `parent` answers null).
        let visible_parent = w.ids_fragment("parent_id", scope.visible_ids().to_vec());
        w.and(format!("(parent_id IS NULL OR NOT {visible_parent})"));
    }
    if let Some(s) = &filter.search {
        let p = w.arg(super::list::like_pattern(s));
        w.and(format!(
            "(LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(COALESCE(code, '')) LIKE {p} ESCAPE '\\')"
        ));
    }
    fetch_page(db, COLS, "project", "project_id", w, page, from_row).await
}

/// Visible projects among `ids`.
pub async fn list_projects_by_ids(
    db: &Db,
    scope: &Scope,
    ids: Vec<i64>,
) -> Result<Vec<ProjectRow>> {
    let visible: Vec<i64> = ids.into_iter().filter(|id| scope.sees(*id)).collect();
    if visible.is_empty() {
        return Ok(Vec::new());
    }
    let mut w = Where::new(db.backend());
    w.ids("project_id", visible);
    let rows = db
        .fetch_all(w.query(format!("SELECT {COLS} FROM project WHERE {}", w.sql())))
        .await?;
    rows.iter().map(from_row).collect()
}

/// A visible project, or `None` (missing and invisible look the same).
pub async fn find_project(db: &Db, scope: &Scope, id: i64) -> Result<Option<ProjectRow>> {
    Ok(list_projects_by_ids(db, scope, vec![id]).await?.pop())
}

/// A project whatever the caller sees, for checks inside mutations.
pub async fn find_project_unscoped(tx: &mut Tx, id: i64) -> Result<Option<ProjectRow>> {
    let row = tx
        .fetch_optional(q(format!("SELECT {COLS} FROM project WHERE project_id = $1")).bind(id))
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

pub struct NewProject {
    pub name: String,
    pub code: Option<String>,
    pub status: String,
    pub customer_id: Option<i64>,
    pub department_id: Option<i64>,
    pub parent_id: Option<i64>,
    pub inherit_members: bool,
    pub budget: Option<i64>,
}

pub async fn create_project(tx: &mut Tx, p: NewProject) -> Result<ProjectRow> {
    let now = Utc::now();
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO project (name, code, status, customer_id, department_id, parent_id, inherit_members, budget, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLS}"
            ))
            .bind(p.name)
            .bind(p.code)
            .bind(p.status)
            .bind(p.customer_id)
            .bind(p.department_id)
            .bind(p.parent_id)
            .bind(p.inherit_members)
            .bind(p.budget)
            .bind(now),
        )
        .await?;
    from_row(&row)
}

#[derive(Clone, Debug)]
pub struct MembershipRow {
    pub id: i64,
    pub project_id: i64,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub profile_id: i64,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

const MEMBERSHIP_COLS: &str =
    "membership_id, project_id, user_id, group_id, profile_id, valid_from, valid_until, created_at";

fn membership_from_row(r: &Row) -> Result<MembershipRow> {
    Ok(MembershipRow {
        id: r.get("membership_id")?,
        project_id: r.get("project_id")?,
        user_id: r.get("user_id")?,
        group_id: r.get("group_id")?,
        profile_id: r.get("profile_id")?,
        valid_from: r.get("valid_from")?,
        valid_until: r.get("valid_until")?,
        created_at: r.get("created_at")?,
    })
}

pub struct NewMembership {
    pub project_id: i64,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub profile_id: i64,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

pub async fn create_membership(tx: &mut Tx, m: NewMembership) -> Result<MembershipRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO membership (project_id, user_id, group_id, profile_id, valid_from, valid_until, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {MEMBERSHIP_COLS}"
            ))
            .bind(m.project_id)
            .bind(m.user_id)
            .bind(m.group_id)
            .bind(m.profile_id)
            .bind(m.valid_from)
            .bind(m.valid_until)
            .bind(Utc::now()),
        )
        .await?;
    membership_from_row(&row)
}

/// Memberships made on a visible project (its members list).
pub async fn list_memberships(
    db: &Db,
    scope: &Scope,
    project_id: i64,
    page: PageArgs,
) -> Result<Page<MembershipRow>> {
    let mut w = visible(db.backend(), scope);
    let p = w.arg(project_id);
    w.and(format!("project_id = {p}"));
    fetch_page(
        db,
        MEMBERSHIP_COLS,
        "membership",
        "membership_id",
        w,
        page,
        membership_from_row,
    )
    .await
}

/// Changes to a project; `None` leaves a field as it is.
#[derive(Default, Clone, Debug)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub code: Option<Option<String>>,
    pub status: Option<String>,
    pub customer_id: Option<Option<i64>>,
    pub department_id: Option<Option<i64>>,
    pub parent_id: Option<Option<i64>>,
    pub inherit_members: Option<bool>,
    pub budget: Option<Option<i64>>,
}

/// Sets or clears (`None`) the project's narrowing of the ceiling for external users.
pub async fn set_external_rights(
    tx: &mut Tx,
    id: i64,
    rights: Option<crate::authz::RightSet>,
) -> Result<()> {
    let text = rights.map(|r| r.iter().map(|r| r.name()).collect::<Vec<_>>().join(","));
    tx.execute(
        q("UPDATE project SET external_rights = $2 WHERE project_id = $1")
            .bind(id)
            .bind(text),
    )
    .await?;
    Ok(())
}

pub async fn update_project(tx: &mut Tx, id: i64, c: ProjectChanges) -> Result<ProjectRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "UPDATE project SET
                    name = COALESCE($2, name),
                    code = CASE WHEN $3 THEN $4 ELSE code END,
                    status = COALESCE($5, status),
                    customer_id = CASE WHEN $6 THEN $7 ELSE customer_id END,
                    department_id = CASE WHEN $8 THEN $9 ELSE department_id END,
                    parent_id = CASE WHEN $10 THEN $11 ELSE parent_id END,
                    inherit_members = COALESCE($12, inherit_members),
                    budget = CASE WHEN $13 THEN $14 ELSE budget END,
                    updated_at = $15
                 WHERE project_id = $1 RETURNING {COLS}"
            ))
            .bind(id)
            .bind(c.name)
            .bind(c.code.is_some())
            .bind(c.code.flatten())
            .bind(c.status)
            .bind(c.customer_id.is_some())
            .bind(c.customer_id.flatten())
            .bind(c.department_id.is_some())
            .bind(c.department_id.flatten())
            .bind(c.parent_id.is_some())
            .bind(c.parent_id.flatten())
            .bind(c.inherit_members)
            .bind(c.budget.is_some())
            .bind(c.budget.flatten())
            .bind(Utc::now()),
        )
        .await?;
    from_row(&row)
}

/// Projects other than `except` that carry `code`, visible or not (the caller decides
/// which clash it may be told of). Read inside the writing transaction, after
/// [`lock_tree`].
pub async fn ids_with_code_unscoped(tx: &mut Tx, code: &str, except: i64) -> Result<Vec<i64>> {
    let rows = tx
        .fetch_all(
            q("SELECT project_id FROM project WHERE code = $1 AND project_id <> $2")
                .bind(code)
                .bind(except),
        )
        .await?;
    rows.iter().map(|r| Ok(r.get("project_id")?)).collect()
}

/// Serialises changes to the project tree (moves) and to codes, so that two concurrent
/// moves cannot together make a cycle, nor two creations one code twice. SQLite's write
/// transactions are serial already.
pub async fn lock_tree(tx: &mut Tx) -> Result<()> {
    if tx.backend() == super::Backend::Postgres {
        tx.execute(q("SELECT pg_advisory_xact_lock($1)").bind(0x0070_7472_6565_i64))
            .await?;
    }
    Ok(())
}

/// Is `candidate` the project itself or one of its ancestors-to-be's descendants, i.e. would
/// putting `project_id` under `candidate` make a cycle? Reads the tree inside the
/// transaction.
pub async fn would_cycle(tx: &mut Tx, project_id: i64, candidate: i64) -> Result<bool> {
    let row = tx
        .fetch_optional(
            q("WITH RECURSIVE up(id) AS (
                   SELECT CAST($2 AS BIGINT)
                   UNION
                   SELECT p.parent_id FROM project p JOIN up ON p.project_id = up.id WHERE p.parent_id IS NOT NULL
               )
               SELECT id FROM up WHERE id = $1")
            .bind(project_id)
            .bind(candidate),
        )
        .await?;
    Ok(row.is_some())
}

pub async fn delete_membership(tx: &mut Tx, id: i64) -> Result<()> {
    tx.execute(q("DELETE FROM membership WHERE membership_id = $1").bind(id))
        .await?;
    Ok(())
}

/// Projects a user is a member of, directly or through a group, with a membership valid
/// today.
pub async fn member_project_ids(db: &Db, user_id: i64) -> Result<Vec<i64>> {
    let today = Utc::now().date_naive();
    let rows = db
        .fetch_all(
            q("SELECT DISTINCT project_id FROM membership
               WHERE (user_id = $1 OR group_id IN (SELECT group_id FROM group_member WHERE user_id = $1))
                 AND (valid_from IS NULL OR valid_from <= $2)
                 AND (valid_until IS NULL OR valid_until >= $2)")
            .bind(user_id)
            .bind(today),
        )
        .await?;
    rows.iter().map(|r| Ok(r.get("project_id")?)).collect()
}

/// Projects (and the memberships made on them) are visible per the scope.
fn visible(backend: Backend, scope: &Scope) -> Where {
    let mut w = Where::new(backend);
    w.ids("project_id", scope.visible_ids().to_vec());
    w
}

/// A project's direct sub-projects.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChildrenOfProject;

impl Rel for ChildrenOfProject {
    type Row = ProjectRow;
    const COLS: &'static str = COLS;
    const FROM: &'static str = "project";
    const KEY: &'static str = "project_id";
    const TABLE: &'static str = "project";
    const ID: &'static str = "project_id";
    const PARENT: &'static str = "parent_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        // The parent picks the rows; visibility is checked on each. (SQLite would otherwise
        // probe the (parent_id, project_id) index once per visible project, per parent.)
        let mut w = Where::new(backend);
        w.ids_checked("project_id", scope.visible_ids().to_vec());
        w
    }
    fn map(r: &Row) -> Result<ProjectRow> {
        from_row(r)
    }
}

/// The memberships made on a project.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MembersOfProject;

impl Rel for MembersOfProject {
    type Row = MembershipRow;
    const COLS: &'static str = MEMBERSHIP_COLS;
    const FROM: &'static str = "membership";
    const KEY: &'static str = "membership_id";
    const TABLE: &'static str = "membership";
    const ID: &'static str = "membership_id";
    const PARENT: &'static str = "project_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        visible(backend, scope)
    }
    fn map(r: &Row) -> Result<MembershipRow> {
        membership_from_row(r)
    }
}

/// For each user, the projects they are a member of (directly or through a group, valid
/// today).
pub async fn member_project_ids_many(
    db: &Db,
    user_ids: Vec<i64>,
) -> Result<std::collections::HashMap<i64, Vec<i64>>> {
    let today = Utc::now().date_naive();
    let mut w = Where::new(db.backend());
    let t = w.arg(today);
    let direct = w.ids_fragment("m.user_id", user_ids.clone());
    let grouped = w.ids_fragment("gm.user_id", user_ids.clone());
    let rows = db
        .fetch_all(w.query(format!(
            "SELECT DISTINCT COALESCE(m.user_id, gm.user_id) AS member, m.project_id
             FROM membership m LEFT JOIN group_member gm ON gm.group_id = m.group_id
             WHERE ({direct} OR {grouped})
               AND (m.valid_from IS NULL OR m.valid_from <= {t})
               AND (m.valid_until IS NULL OR m.valid_until >= {t})"
        )))
        .await?;
    let mut out: std::collections::HashMap<i64, Vec<i64>> =
        user_ids.iter().map(|u| (*u, Vec::new())).collect();
    for r in rows {
        out.entry(r.get("member")?)
            .or_default()
            .push(r.get("project_id")?);
    }
    Ok(out)
}

/// A membership made on a project the caller sees.
pub async fn find_membership(db: &Db, scope: &Scope, id: i64) -> Result<Option<MembershipRow>> {
    let mut w = visible(db.backend(), scope);
    let a = w.arg(id);
    w.and(format!("membership_id = {a}"));
    let row = db
        .fetch_optional(w.query(format!(
            "SELECT {MEMBERSHIP_COLS} FROM membership WHERE {}",
            w.sql()
        )))
        .await?;
    row.map(|r| membership_from_row(&r)).transpose()
}
