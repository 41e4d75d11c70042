//! Tasks. A task is visible when its project is.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::list::{fetch_page, Page, PageArgs, Rel, Where};
use super::Backend;
use super::{q, Db, Row, Tx};
use crate::authz::Scope;
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct TaskRow {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub assignee_id: Option<i64>,
    pub status: String,
    /// Hundredths of an hour.
    pub validated_work: i64,
    pub planned_work: i64,
    pub left_work: i64,
    /// Minor units.
    pub validated_cost: i64,
    pub planned_cost: i64,
    /// Sums of the task's time entries (kept by triggers).
    pub real_work: i64,
    pub real_cost: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "task_id, project_id, name, assignee_id, status, validated_work, planned_work, left_work, validated_cost, planned_cost, real_work, real_cost, created_at, updated_at";

fn from_row(r: &Row) -> Result<TaskRow> {
    Ok(TaskRow {
        id: r.get("task_id")?,
        project_id: r.get("project_id")?,
        name: r.get("name")?,
        assignee_id: r.get("assignee_id")?,
        status: r.get("status")?,
        validated_work: r.get("validated_work")?,
        planned_work: r.get("planned_work")?,
        left_work: r.get("left_work")?,
        validated_cost: r.get("validated_cost")?,
        planned_cost: r.get("planned_cost")?,
        real_work: r.get("real_work")?,
        real_cost: r.get("real_cost")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// The columns that answer some GraphQL fields of a task, when all of them are known
/// (the id and project are always read: guards need the project). None means all columns.
pub fn columns_for<'a>(fields: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut cols = vec!["task_id", "project_id"];
    for field in fields {
        let col = match field {
            "__typename" | "id" => continue,
            "name" => "name",
            "status" => "status",
            "validatedWork" => "validated_work",
            "plannedWork" => "planned_work",
            "realWork" => "real_work",
            "leftWork" => "left_work",
            "validatedCost" => "validated_cost",
            "plannedCost" => "planned_cost",
            "realCost" => "real_cost",
            "createdAt" => "created_at",
            "updatedAt" => "updated_at",
            _ => return None,
        };
        if !cols.contains(&col) {
            cols.push(col);
        }
    }
    Some(cols.join(", "))
}

/// A task from a statement that read only some columns ([`columns_for`]): the others take
/// empty values, which nothing reads.
fn from_some_columns(r: &Row) -> Result<TaskRow> {
    fn or_default<T: crate::db::Col + Default>(r: &Row, col: &str) -> Result<T> {
        Ok(r.get_if_selected(col)?.unwrap_or_default())
    }
    Ok(TaskRow {
        id: r.get("task_id")?,
        project_id: r.get("project_id")?,
        name: or_default(r, "name")?,
        assignee_id: or_default(r, "assignee_id")?,
        status: or_default(r, "status")?,
        validated_work: or_default(r, "validated_work")?,
        planned_work: or_default(r, "planned_work")?,
        left_work: or_default(r, "left_work")?,
        validated_cost: or_default(r, "validated_cost")?,
        planned_cost: or_default(r, "planned_cost")?,
        real_work: or_default(r, "real_work")?,
        real_cost: or_default(r, "real_cost")?,
        created_at: or_default(r, "created_at")?,
        updated_at: or_default(r, "updated_at")?,
    })
}

#[derive(Default, Clone, Debug)]
pub struct TaskFilter {
    pub project_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub statuses: Option<Vec<String>>,
}

pub async fn list_tasks(
    db: &Db,
    scope: &Scope,
    f: &TaskFilter,
    page: PageArgs,
) -> Result<Page<TaskRow>> {
    let mut w = visible(db.backend(), scope);
    if let Some(p) = f.project_id {
        let a = w.arg(p);
        w.and(format!("project_id = {a}"));
    }
    if let Some(u) = f.assignee_id {
        let a = w.arg(u);
        w.and(format!("assignee_id = {a}"));
    }
    if let Some(statuses) = &f.statuses {
        let list: Vec<String> = statuses.iter().map(|s| w.arg(s.clone())).collect();
        if list.is_empty() {
            w.and("FALSE");
        } else {
            w.and(format!("status IN ({})", list.join(", ")));
        }
    }
    fetch_page(db, COLS, "task", "task_id", w, page, from_row).await
}

/// Visible tasks among `ids`.
pub async fn list_tasks_by_ids(db: &Db, scope: &Scope, ids: Vec<i64>) -> Result<Vec<TaskRow>> {
    let mut w = Where::new(db.backend());
    w.ids("task_id", ids);
    w.ids_checked("project_id", scope.visible_ids().to_vec());
    let rows = db
        .fetch_all(w.query(format!("SELECT {COLS} FROM task WHERE {}", w.sql())))
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn find_task(db: &Db, scope: &Scope, id: i64) -> Result<Option<TaskRow>> {
    Ok(list_tasks_by_ids(db, scope, vec![id]).await?.pop())
}

/// A task whatever the caller sees, inside a mutation that checks rights itself.
pub async fn find_task_unscoped(tx: &mut Tx, id: i64) -> Result<Option<TaskRow>> {
    let row = tx
        .fetch_optional(q(format!("SELECT {COLS} FROM task WHERE task_id = $1")).bind(id))
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Fields of a new or changed task.
#[derive(Clone, Debug, Default)]
pub struct TaskFields {
    pub name: Option<String>,
    pub assignee_id: Option<Option<i64>>,
    pub status: Option<String>,
    pub validated_work: Option<i64>,
    pub planned_work: Option<i64>,
    pub left_work: Option<i64>,
    pub validated_cost: Option<i64>,
    pub planned_cost: Option<i64>,
}

pub async fn create_task(tx: &mut Tx, project_id: i64, f: TaskFields) -> Result<TaskRow> {
    let now = Utc::now();
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO task (project_id, name, assignee_id, status, validated_work, planned_work, left_work, validated_cost, planned_cost, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLS}"
            ))
            .bind(project_id)
            .bind(f.name.unwrap_or_default())
            .bind(f.assignee_id.flatten())
            .bind(f.status.unwrap_or_else(|| "TODO".into()))
            .bind(f.validated_work.unwrap_or(0))
            .bind(f.planned_work.unwrap_or(0))
            .bind(f.left_work.unwrap_or(0))
            .bind(f.validated_cost.unwrap_or(0))
            .bind(f.planned_cost.unwrap_or(0))
            .bind(now),
        )
        .await?;
    from_row(&row)
}

pub async fn update_task(tx: &mut Tx, id: i64, f: TaskFields) -> Result<TaskRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "UPDATE task SET
                    name = COALESCE($2, name),
                    assignee_id = CASE WHEN $3 THEN $4 ELSE assignee_id END,
                    status = COALESCE($5, status),
                    validated_work = COALESCE($6, validated_work),
                    planned_work = COALESCE($7, planned_work),
                    left_work = COALESCE($8, left_work),
                    validated_cost = COALESCE($9, validated_cost),
                    planned_cost = COALESCE($10, planned_cost),
                    updated_at = $11
                 WHERE task_id = $1 RETURNING {COLS}"
            ))
            .bind(id)
            .bind(f.name)
            .bind(f.assignee_id.is_some())
            .bind(f.assignee_id.flatten())
            .bind(f.status)
            .bind(f.validated_work)
            .bind(f.planned_work)
            .bind(f.left_work)
            .bind(f.validated_cost)
            .bind(f.planned_cost)
            .bind(Utc::now()),
        )
        .await?;
    from_row(&row)
}

/// Sums of the planned figures of the tasks of some projects, and of their time entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub validated_work: i64,
    pub planned_work: i64,
    pub left_work: i64,
    pub validated_cost: i64,
    pub planned_cost: i64,
    pub real_work: i64,
    pub real_cost: i64,
}

/// Tasks are visible when their project is.
fn visible(backend: Backend, scope: &Scope) -> Where {
    let mut w = Where::new(backend);
    w.ids("project_id", scope.visible_ids().to_vec());
    w
}

/// A project's tasks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TasksOfProject;

impl Rel for TasksOfProject {
    type Row = TaskRow;
    const COLS: &'static str = COLS;
    const FROM: &'static str = "task";
    const KEY: &'static str = "task_id";
    const TABLE: &'static str = "task";
    const ID: &'static str = "task_id";
    const PARENT: &'static str = "project_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        visible(backend, scope)
    }
    fn map(r: &Row) -> Result<TaskRow> {
        from_row(r)
    }
    fn map_some(r: &Row) -> Result<TaskRow> {
        from_some_columns(r)
    }
}

/// Totals of each project's own tasks and time entries (not its sub-projects').
pub async fn own_totals_unscoped(db: &Db, project_ids: Vec<i64>) -> Result<HashMap<i64, Totals>> {
    let mut out: HashMap<i64, Totals> = project_ids
        .iter()
        .map(|p| (*p, Totals::default()))
        .collect();
    let mut w = Where::new(db.backend());
    w.ids("project_id", project_ids);
    for r in db
        .fetch_all(w.query(format!(
            "SELECT project_id,
                    CAST(COALESCE(SUM(validated_work), 0) AS BIGINT) AS vw,
                    CAST(COALESCE(SUM(planned_work), 0) AS BIGINT) AS pw,
                    CAST(COALESCE(SUM(left_work), 0) AS BIGINT) AS lw,
                    CAST(COALESCE(SUM(validated_cost), 0) AS BIGINT) AS vc,
                    CAST(COALESCE(SUM(planned_cost), 0) AS BIGINT) AS pc,
                    CAST(COALESCE(SUM(real_work), 0) AS BIGINT) AS rw,
                    CAST(COALESCE(SUM(real_cost), 0) AS BIGINT) AS rc
             FROM task WHERE {} GROUP BY project_id",
            w.sql()
        )))
        .await?
    {
        let t = out.entry(r.get("project_id")?).or_default();
        t.validated_work = r.get("vw")?;
        t.planned_work = r.get("pw")?;
        t.left_work = r.get("lw")?;
        t.validated_cost = r.get("vc")?;
        t.planned_cost = r.get("pc")?;
        t.real_work = r.get("rw")?;
        t.real_cost = r.get("rc")?;
    }
    Ok(out)
}

impl std::iter::Sum for Totals {
    fn sum<I: Iterator<Item = Totals>>(iter: I) -> Totals {
        iter.fold(Totals::default(), |a, b| a + b)
    }
}

impl std::ops::Add for Totals {
    type Output = Totals;
    fn add(self, o: Totals) -> Totals {
        Totals {
            validated_work: self.validated_work + o.validated_work,
            planned_work: self.planned_work + o.planned_work,
            left_work: self.left_work + o.left_work,
            validated_cost: self.validated_cost + o.validated_cost,
            planned_cost: self.planned_cost + o.planned_cost,
            real_work: self.real_work + o.real_work,
            real_cost: self.real_cost + o.real_cost,
        }
    }
}
