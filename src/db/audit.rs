//! The audit log: who did what, when, and on whose behalf.

use chrono::{DateTime, Utc};

use super::list::{fetch_page, Page, PageArgs, Where};
use super::{q, Db, Row, Tx};
use crate::error::Result;

/// An event to record.
pub struct NewEvent<'a> {
    pub actor_id: Option<i64>,
    pub impersonator_id: Option<i64>,
    pub action: &'a str,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub impersonator_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub details: String,
}

const INSERT: &str = "INSERT INTO audit_event (at, actor_id, impersonator_id, action, target, details) VALUES ($1, $2, $3, $4, $5, $6)";

fn insert(e: NewEvent<'_>) -> super::Query {
    q(INSERT)
        .bind(Utc::now())
        .bind(e.actor_id)
        .bind(e.impersonator_id)
        .bind(e.action)
        .bind(e.target)
        .bind(e.details.to_string())
}

/// Records an event inside the transaction of the change it describes.
pub async fn record(tx: &mut Tx, e: NewEvent<'_>) -> Result<()> {
    tx.execute(insert(e)).await?;
    Ok(())
}

/// Records an event on its own (a failed login, an impersonated read).
pub async fn record_alone(db: &Db, e: NewEvent<'_>) -> Result<()> {
    db.execute(insert(e)).await?;
    Ok(())
}

fn from_row(r: &Row) -> Result<EventRow> {
    Ok(EventRow {
        id: r.get("audit_event_id")?,
        at: r.get("at")?,
        actor_id: r.get("actor_id")?,
        impersonator_id: r.get("impersonator_id")?,
        action: r.get("action")?,
        target: r.get("target")?,
        details: r.get("details")?,
    })
}

/// Filters of `auditEvents`.
#[derive(Default, Clone, Debug)]
pub struct EventFilter {
    pub action: Option<String>,
    pub actor_id: Option<i64>,
}

/// The whole log, for ADMIN (the caller checks).
pub async fn list_events(db: &Db, filter: &EventFilter, page: PageArgs) -> Result<Page<EventRow>> {
    let mut w = Where::new(db.backend());
    if let Some(a) = &filter.action {
        let p = w.arg(a.clone());
        w.and(format!("action = {p}"));
    }
    if let Some(a) = filter.actor_id {
        let p = w.arg(a);
        w.and(format!("(actor_id = {p} OR impersonator_id = {p})"));
    }
    fetch_page(
        db,
        "audit_event_id, at, actor_id, impersonator_id, action, target, details",
        "audit_event",
        "audit_event_id",
        w,
        page,
        from_row,
    )
    .await
}

/// One event by id (ADMIN only: the caller checks).
pub async fn find_event(db: &Db, id: i64) -> Result<Option<EventRow>> {
    let row = db
        .fetch_optional(
            q("SELECT audit_event_id, at, actor_id, impersonator_id, action, target, details FROM audit_event WHERE audit_event_id = $1")
                .bind(id),
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}
