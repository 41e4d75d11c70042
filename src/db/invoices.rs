//! Invoices, generated from approved, billable time. An invoice is visible with
//! VIEW_INVOICES on its project.

use chrono::{DateTime, NaiveDate, Utc};

use super::list::{fetch_page, Page, PageArgs, Rel, Where};
use super::Backend;
use super::{q, Db, Row, Tx};
use crate::authz::{Right, Scope};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct InvoiceRow {
    pub id: i64,
    pub number: String,
    pub customer_id: Option<i64>,
    pub project_id: i64,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub status: String,
    pub total: i64,
    pub created_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
}

const COLS: &str = "invoice_id, number, customer_id, project_id, period_start, period_end, status, total, created_at, issued_at";

fn from_row(r: &Row) -> Result<InvoiceRow> {
    Ok(InvoiceRow {
        id: r.get("invoice_id")?,
        number: r.get("number")?,
        customer_id: r.get("customer_id")?,
        project_id: r.get("project_id")?,
        period_start: r.get("period_start")?,
        period_end: r.get("period_end")?,
        status: r.get("status")?,
        total: r.get("total")?,
        created_at: r.get("created_at")?,
        issued_at: r.get("issued_at")?,
    })
}

#[derive(Clone, Debug)]
pub struct LineRow {
    pub description: String,
    pub user_id: Option<i64>,
    pub task_id: Option<i64>,
    /// The project of the line's task: a reader who cannot see it does not see the line.
    pub project_id: Option<i64>,
    pub hours: i64,
    pub rate: i64,
    pub amount: i64,
}

#[derive(Default, Clone, Debug)]
pub struct InvoiceFilter {
    pub project_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub status: Option<String>,
}

pub async fn list_invoices(
    db: &Db,
    scope: &Scope,
    f: &InvoiceFilter,
    page: PageArgs,
) -> Result<Page<InvoiceRow>> {
    let mut w = visible(db.backend(), scope);
    if let Some(p) = f.project_id {
        let a = w.arg(p);
        w.and(format!("project_id = {a}"));
    }
    if let Some(c) = f.customer_id {
        let a = w.arg(c);
        w.and(format!("customer_id = {a}"));
    }
    if let Some(s) = &f.status {
        let a = w.arg(s.clone());
        w.and(format!("status = {a}"));
    }
    fetch_page(db, COLS, "invoice", "invoice_id", w, page, from_row).await
}

pub async fn find_invoice(db: &Db, scope: &Scope, id: i64) -> Result<Option<InvoiceRow>> {
    let mut w = visible(db.backend(), scope);
    let a = w.arg(id);
    w.and(format!("invoice_id = {a}"));
    let row = db
        .fetch_optional(w.query(format!("SELECT {COLS} FROM invoice WHERE {}", w.sql())))
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

pub async fn find_invoice_unscoped(tx: &mut Tx, id: i64) -> Result<Option<InvoiceRow>> {
    let row = tx
        .fetch_optional(q(format!("SELECT {COLS} FROM invoice WHERE invoice_id = $1")).bind(id))
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Amount of `centi_hours` at `rate` per hour, rounded half up to the minor unit.
pub fn amount(centi_hours: i64, rate: i64) -> i64 {
    let num = i128::from(centi_hours) * i128::from(rate);
    ((num + 50).div_euclid(100)) as i64
}

/// Generates an invoice in one transaction: claims the approved, billable, unbilled entries
/// of `project_ids` in the period (an entry already claimed by a concurrent call no longer
/// matches), and writes one line per user and task at each user's billing rate. `None`
/// when there is nothing to bill (the transaction is then dropped, writing nothing).
pub async fn generate(
    tx: &mut Tx,
    project_id: i64,
    customer_id: Option<i64>,
    project_ids: Vec<i64>,
    from: NaiveDate,
    to: NaiveDate,
    by: i64,
) -> Result<Option<InvoiceRow>> {
    let now = Utc::now();
    let placeholder = format!("PENDING-{}", crate::auth::token::short_id());
    let inv = tx
        .fetch_one(
            q("INSERT INTO invoice (number, customer_id, project_id, period_start, period_end, status, total, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5, 'DRAFT', 0, $6, $7) RETURNING invoice_id")
                .bind(placeholder)
                .bind(customer_id)
                .bind(project_id)
                .bind(from)
                .bind(to)
                .bind(by)
                .bind(now),
        )
        .await?;
    let invoice_id: i64 = inv.get("invoice_id")?;
    let mut w = Where::new(tx.backend());
    let inv_arg = w.arg(invoice_id);
    let now_arg = w.arg(now);
    w.ids("project_id", project_ids);
    let f = w.arg(from);
    let t = w.arg(to);
    w.and(format!(
        "status = 'APPROVED' AND billable = TRUE AND invoice_id IS NULL AND entry_date >= {f} AND entry_date <= {t}"
    ));
    let claimed = tx
        .fetch_all(w.query(format!(
            "UPDATE time_entry SET invoice_id = {inv_arg}, status = 'BILLED', updated_at = {now_arg} WHERE {} RETURNING user_id, task_id, hours",
            w.sql()
        )))
        .await?;
    if claimed.is_empty() {
        return Ok(None);
    }
    // One line per user and task, in a stable order.
    let mut groups: std::collections::BTreeMap<(i64, i64), i64> = std::collections::BTreeMap::new();
    for r in &claimed {
        *groups
            .entry((r.get("user_id")?, r.get("task_id")?))
            .or_insert(0) += r.get::<i64>("hours")?;
    }
    let mut total = 0i64;
    for ((user_id, task_id), hours) in groups {
        let info = tx
            .fetch_one(
                q("SELECT u.billing_rate, t.name AS task_name FROM app_user u, task t WHERE u.user_id = $1 AND t.task_id = $2")
                    .bind(user_id)
                    .bind(task_id),
            )
            .await?;
        let rate: i64 = info.get("billing_rate")?;
        let line_amount = amount(hours, rate);
        total += line_amount;
        // The task's name only: who worked is the line's `user`, which follows the
        // reader's right to see that user.
        let description: String = info.get("task_name")?;
        tx.execute(
            q("INSERT INTO invoice_line (invoice_id, user_id, task_id, description, hours, rate, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(invoice_id)
                .bind(user_id)
                .bind(task_id)
                .bind(description)
                .bind(hours)
                .bind(rate)
                .bind(line_amount),
        )
        .await?;
    }
    let row = tx
        .fetch_one(
            q(format!(
                "UPDATE invoice SET number = $2, total = $3 WHERE invoice_id = $1 RETURNING {COLS}"
            ))
            .bind(invoice_id)
            .bind(format!("INV-{}-{invoice_id:05}", from.format("%Y")))
            .bind(total),
        )
        .await?;
    Ok(Some(from_row(&row)?))
}

/// DRAFT to ISSUED; `None` when the invoice was not a draft.
pub async fn issue(tx: &mut Tx, id: i64) -> Result<Option<InvoiceRow>> {
    let row = tx
        .fetch_optional(
            q(format!(
                "UPDATE invoice SET status = 'ISSUED', issued_at = $2 WHERE invoice_id = $1 AND status = 'DRAFT' RETURNING {COLS}"
            ))
            .bind(id)
            .bind(Utc::now()),
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Invoices need VIEW_INVOICES on their project.
fn visible(backend: Backend, scope: &Scope) -> Where {
    let mut w = Where::new(backend);
    w.ids("project_id", scope.ids_with(Right::ViewInvoices));
    w
}

/// A project's invoices.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InvoicesOfProject;

impl Rel for InvoicesOfProject {
    type Row = InvoiceRow;
    const COLS: &'static str = COLS;
    const FROM: &'static str = "invoice";
    const KEY: &'static str = "invoice_id";
    const TABLE: &'static str = "invoice";
    const ID: &'static str = "invoice_id";
    const PARENT: &'static str = "project_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        visible(backend, scope)
    }
    fn map(r: &Row) -> Result<InvoiceRow> {
        from_row(r)
    }
}

/// Lines of many invoices.
pub async fn list_lines_many(
    db: &Db,
    invoice_ids: Vec<i64>,
) -> Result<std::collections::HashMap<i64, Vec<LineRow>>> {
    let mut w = Where::new(db.backend());
    w.ids("l.invoice_id", invoice_ids.clone());
    let rows = db
        .fetch_all(w.query(format!(
            "SELECT l.invoice_id, l.description, l.user_id, l.task_id, t.project_id, l.hours, l.rate, l.amount
             FROM invoice_line l LEFT JOIN task t ON t.task_id = l.task_id
             WHERE {} ORDER BY l.invoice_line_id",
            w.sql()
        )))
        .await?;
    let mut out: std::collections::HashMap<i64, Vec<LineRow>> =
        invoice_ids.iter().map(|i| (*i, Vec::new())).collect();
    for r in rows {
        out.entry(r.get("invoice_id")?).or_default().push(LineRow {
            description: r.get("description")?,
            user_id: r.get("user_id")?,
            task_id: r.get("task_id")?,
            project_id: r.get("project_id")?,
            hours: r.get("hours")?,
            rate: r.get("rate")?,
            amount: r.get("amount")?,
        });
    }
    Ok(out)
}

/// Visible invoices among `ids`.
pub async fn list_invoices_by_ids(
    db: &Db,
    scope: &Scope,
    ids: Vec<i64>,
) -> Result<Vec<InvoiceRow>> {
    let mut w = Where::new(db.backend());
    w.ids("invoice_id", ids);
    w.ids_checked("project_id", scope.ids_with(Right::ViewInvoices));
    let rows = db
        .fetch_all(w.query(format!("SELECT {COLS} FROM invoice WHERE {}", w.sql())))
        .await?;
    rows.iter().map(from_row).collect()
}
