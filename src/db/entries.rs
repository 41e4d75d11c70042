//! Time entries. The caller sees their own entries on visible projects, and everybody's on
//! projects where they hold VIEW_TIMESHEETS.

use chrono::{DateTime, NaiveDate, Utc};

use super::list::{fetch_page, Page, PageArgs, Rel, Where};
use super::{q, Backend, Db, Row, Tx};
use crate::authz::{Right, Scope};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct EntryRow {
    pub id: i64,
    pub user_id: i64,
    pub task_id: i64,
    pub project_id: i64,
    pub date: NaiveDate,
    /// Hundredths of an hour.
    pub hours: i64,
    /// Minor units.
    pub cost: i64,
    pub billable: bool,
    pub status: String,
    pub invoice_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "time_entry_id, user_id, task_id, project_id, entry_date, hours, cost, billable, status, invoice_id, note, created_at, updated_at";

fn from_row(r: &Row) -> Result<EntryRow> {
    Ok(EntryRow {
        id: r.get("time_entry_id")?,
        user_id: r.get("user_id")?,
        task_id: r.get("task_id")?,
        project_id: r.get("project_id")?,
        date: r.get("entry_date")?,
        hours: r.get("hours")?,
        cost: r.get("cost")?,
        billable: r.get("billable")?,
        status: r.get("status")?,
        invoice_id: r.get("invoice_id")?,
        note: r.get("note")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// The condition "the caller may see this entry".
pub fn visible_entries(w: &mut Where, scope: &Scope) {
    let me = w.arg(scope.user_id);
    let own = w.ids_fragment("project_id", scope.visible_ids().to_vec());
    let all = w.ids_fragment("project_id", scope.ids_with(Right::ViewTimesheets));
    w.and(format!("((user_id = {me} AND {own}) OR {all})"));
}

#[derive(Default, Clone, Debug)]
pub struct EntryFilter {
    pub project_ids: Option<Vec<i64>>,
    pub task_id: Option<i64>,
    pub user_id: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub invoice_id: Option<i64>,
}

pub async fn list_entries(
    db: &Db,
    scope: &Scope,
    f: &EntryFilter,
    page: PageArgs,
) -> Result<Page<EntryRow>> {
    let mut w = Where::new(db.backend());
    visible_entries(&mut w, scope);
    if let Some(ids) = &f.project_ids {
        w.ids("project_id", ids.clone());
    }
    if let Some(t) = f.task_id {
        let a = w.arg(t);
        w.and(format!("task_id = {a}"));
    }
    if let Some(u) = f.user_id {
        let a = w.arg(u);
        w.and(format!("user_id = {a}"));
    }
    if let Some(d) = f.from {
        let a = w.arg(d);
        w.and(format!("entry_date >= {a}"));
    }
    if let Some(d) = f.to {
        let a = w.arg(d);
        w.and(format!("entry_date <= {a}"));
    }
    if let Some(i) = f.invoice_id {
        let a = w.arg(i);
        w.and(format!("invoice_id = {a}"));
    }
    fetch_page(db, COLS, "time_entry", "time_entry_id", w, page, from_row).await
}

pub async fn find_entry(db: &Db, scope: &Scope, id: i64) -> Result<Option<EntryRow>> {
    let mut w = Where::new(db.backend());
    visible_entries(&mut w, scope);
    let a = w.arg(id);
    w.and(format!("time_entry_id = {a}"));
    let row = db
        .fetch_optional(w.query(format!("SELECT {COLS} FROM time_entry WHERE {}", w.sql())))
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

pub async fn find_entry_unscoped(tx: &mut Tx, id: i64) -> Result<Option<EntryRow>> {
    let row = tx
        .fetch_optional(
            q(format!(
                "SELECT {COLS} FROM time_entry WHERE time_entry_id = $1"
            ))
            .bind(id),
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Serialises writers of one user's time (the 24-hours-a-day rule): a row lock on
/// PostgreSQL; SQLite's write transactions are serial already.
pub async fn lock_user(tx: &mut Tx, user_id: i64) -> Result<()> {
    if tx.backend() == Backend::Postgres {
        tx.execute(q("SELECT user_id FROM app_user WHERE user_id = $1 FOR UPDATE").bind(user_id))
            .await?;
    }
    Ok(())
}

/// Hours a user has logged on a day, leaving out one entry (the one being edited).
pub async fn hours_on_day(
    tx: &mut Tx,
    user_id: i64,
    date: NaiveDate,
    except: Option<i64>,
) -> Result<i64> {
    let row = tx
        .fetch_one(
            q("SELECT CAST(COALESCE(SUM(hours), 0) AS BIGINT) AS h FROM time_entry WHERE user_id = $1 AND entry_date = $2 AND time_entry_id <> $3")
                .bind(user_id)
                .bind(date)
                .bind(except.unwrap_or(0)),
        )
        .await?;
    Ok(row.get("h")?)
}

pub struct NewEntry {
    pub user_id: i64,
    pub task_id: i64,
    pub project_id: i64,
    pub date: NaiveDate,
    pub hours: i64,
    pub cost: i64,
    pub billable: bool,
    pub note: Option<String>,
}

pub async fn create_entry(tx: &mut Tx, e: NewEntry) -> Result<EntryRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO time_entry (user_id, task_id, project_id, entry_date, hours, cost, billable, status, note, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'SUBMITTED', $8, $9, $9) RETURNING {COLS}"
            ))
            .bind(e.user_id)
            .bind(e.task_id)
            .bind(e.project_id)
            .bind(e.date)
            .bind(e.hours)
            .bind(e.cost)
            .bind(e.billable)
            .bind(e.note)
            .bind(Utc::now()),
        )
        .await?;
    from_row(&row)
}

/// Rewrites an entry that is still SUBMITTED; `None` when it no longer is.
pub async fn update_entry(tx: &mut Tx, id: i64, e: NewEntry) -> Result<Option<EntryRow>> {
    let row = tx
        .fetch_optional(
            q(format!(
                "UPDATE time_entry SET task_id = $2, project_id = $3, entry_date = $4, hours = $5, cost = $6, billable = $7, note = $8, updated_at = $9
                 WHERE time_entry_id = $1 AND status = 'SUBMITTED' RETURNING {COLS}"
            ))
            .bind(id)
            .bind(e.task_id)
            .bind(e.project_id)
            .bind(e.date)
            .bind(e.hours)
            .bind(e.cost)
            .bind(e.billable)
            .bind(e.note)
            .bind(Utc::now()),
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Deletes an entry that is still SUBMITTED; answers whether it did.
pub async fn delete_entry(tx: &mut Tx, id: i64) -> Result<bool> {
    Ok(tx
        .execute(
            q("DELETE FROM time_entry WHERE time_entry_id = $1 AND status = 'SUBMITTED'").bind(id),
        )
        .await?
        > 0)
}

/// Approves a SUBMITTED entry; answers whether it did.
pub async fn approve_entry(tx: &mut Tx, id: i64, by: i64) -> Result<bool> {
    let now = Utc::now();
    Ok(tx
        .execute(
            q("UPDATE time_entry SET status = 'APPROVED', approved_by = $2, approved_at = $3, updated_at = $3 WHERE time_entry_id = $1 AND status = 'SUBMITTED'")
                .bind(id)
                .bind(by)
                .bind(now),
        )
        .await?
        > 0)
}

/// Time entries of a project's own tasks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EntriesOfProject;

/// Time entries of a task.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EntriesOfTask;

fn visible(backend: Backend, scope: &Scope) -> Where {
    let mut w = Where::new(backend);
    visible_entries(&mut w, scope);
    w
}

impl Rel for EntriesOfProject {
    type Row = EntryRow;
    const COLS: &'static str = COLS;
    const FROM: &'static str = "time_entry";
    const KEY: &'static str = "time_entry_id";
    const TABLE: &'static str = "time_entry";
    const ID: &'static str = "time_entry_id";
    const PARENT: &'static str = "project_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        visible(backend, scope)
    }
    fn map(r: &Row) -> Result<EntryRow> {
        from_row(r)
    }
}

impl Rel for EntriesOfTask {
    type Row = EntryRow;
    const COLS: &'static str = COLS;
    const FROM: &'static str = "time_entry";
    const KEY: &'static str = "time_entry_id";
    const TABLE: &'static str = "time_entry";
    const ID: &'static str = "time_entry_id";
    const PARENT: &'static str = "task_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        visible(backend, scope)
    }
    fn map(r: &Row) -> Result<EntryRow> {
        from_row(r)
    }
}
