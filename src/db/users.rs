//! Users.

use chrono::{DateTime, Utc};

use super::list::{fetch_page, Page, PageArgs, Where};
use super::{q, Db, Row, Tx};
use crate::authz::Scope;
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub department_id: Option<i64>,
    pub profile_id: i64,
    /// Minor units per hour.
    pub cost_rate: i64,
    pub billing_rate: i64,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Unqualified, so the same list serves SELECT and RETURNING.
const COLS: &str = "user_id, email, name, kind, customer_id, department_id, profile_id, cost_rate, billing_rate, active, created_at";

/// The columns of [`from_row`], qualified by `alias`, for statements that join other tables.
pub(crate) fn qualified_cols(alias: &str) -> String {
    COLS.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn from_row(r: &Row) -> Result<UserRow> {
    Ok(UserRow {
        id: r.get("user_id")?,
        email: r.get("email")?,
        name: r.get("name")?,
        kind: r.get("kind")?,
        customer_id: r.get("customer_id")?,
        department_id: r.get("department_id")?,
        profile_id: r.get("profile_id")?,
        cost_rate: r.get("cost_rate")?,
        billing_rate: r.get("billing_rate")?,
        active: r.get("active")?,
        created_at: r.get("created_at")?,
    })
}

/// Emails are compared without regard to case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A user and their password hash, for login only.
pub async fn find_user_for_login_unscoped(
    db: &Db,
    email: &str,
) -> Result<Option<(UserRow, String)>> {
    let row = db
        .fetch_optional(
            q(format!(
                "SELECT {COLS}, password_hash FROM app_user u WHERE u.email = $1"
            ))
            .bind(normalize_email(email)),
        )
        .await?;
    match row {
        Some(r) => Ok(Some((from_row(&r)?, r.get("password_hash")?))),
        None => Ok(None),
    }
}

/// A user by id, whoever asks: for authentication and for the policy's own use.
pub async fn find_user_unscoped(db: &Db, id: i64) -> Result<Option<UserRow>> {
    let row = db
        .fetch_optional(
            q(format!(
                "SELECT {COLS} FROM app_user u WHERE u.user_id = $1"
            ))
            .bind(id),
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// The condition "the caller may see this user": ADMIN sees everyone; others see themselves
/// and the members (direct or through a group, valid today) of the projects they see,
/// counting a membership on an ancestor that reaches a visible project by inheritance.
pub fn visible_users(w: &mut Where, scope: &Scope, col: &str) {
    if scope.is_admin() {
        return;
    }
    let me = w.arg(scope.user_id);
    let today = w.arg(chrono::Utc::now().date_naive());
    let projects = w.ids_fragment("m.project_id", scope.member_sources().to_vec());
    w.and(format!(
        "({col} = {me} OR {col} IN (
            SELECT COALESCE(m.user_id, gm.user_id) FROM membership m
            LEFT JOIN group_member gm ON gm.group_id = m.group_id
            WHERE {projects}
              AND (m.valid_from IS NULL OR m.valid_from <= {today})
              AND (m.valid_until IS NULL OR m.valid_until >= {today})))"
    ));
}

/// Filters of the `users` query.
#[derive(Default, Clone, Debug)]
pub struct UserFilter {
    pub search: Option<String>,
    pub kind: Option<String>,
    pub customer_id: Option<i64>,
}

pub async fn list_users(
    db: &Db,
    scope: &Scope,
    filter: &UserFilter,
    page: PageArgs,
) -> Result<Page<UserRow>> {
    let mut w = Where::new(db.backend());
    visible_users(&mut w, scope, "u.user_id");
    if let Some(s) = &filter.search {
        let p = w.arg(super::list::like_pattern(s));
        // Only ADMIN may search by email, which others cannot see.
        if scope.is_admin() {
            w.and(format!(
                "(LOWER(u.name) LIKE {p} ESCAPE '\\' OR u.email LIKE {p} ESCAPE '\\')"
            ));
        } else {
            w.and(format!("LOWER(u.name) LIKE {p} ESCAPE '\\'"));
        }
    }
    if let Some(k) = &filter.kind {
        let p = w.arg(k.clone());
        w.and(format!("u.kind = {p}"));
    }
    if let Some(c) = filter.customer_id {
        let p = w.arg(c);
        w.and(format!("u.customer_id = {p}"));
    }
    fetch_page(db, COLS, "app_user u", "u.user_id", w, page, from_row).await
}

/// Users the caller may see, among `ids`.
pub async fn list_visible_users_by_ids(
    db: &Db,
    scope: &Scope,
    ids: Vec<i64>,
) -> Result<Vec<UserRow>> {
    let mut w = Where::new(db.backend());
    w.ids("u.user_id", ids);
    visible_users(&mut w, scope, "u.user_id");
    let rows = db
        .fetch_all(w.query(format!("SELECT {COLS} FROM app_user u WHERE {}", w.sql())))
        .await?;
    rows.iter().map(from_row).collect()
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub department_id: Option<i64>,
    pub profile_id: i64,
    pub cost_rate: i64,
    pub billing_rate: i64,
    pub password_hash: String,
}

pub async fn create_user(tx: &mut Tx, u: NewUser) -> Result<UserRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO app_user (email, name, kind, customer_id, department_id, profile_id, cost_rate, billing_rate, password_hash, active, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10) RETURNING {COLS}"
            ))
            .bind(normalize_email(&u.email))
            .bind(u.name)
            .bind(u.kind)
            .bind(u.customer_id)
            .bind(u.department_id)
            .bind(u.profile_id)
            .bind(u.cost_rate)
            .bind(u.billing_rate)
            .bind(u.password_hash)
            .bind(Utc::now()),
        )
        .await?;
    from_row(&row)
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub customer_id: Option<Option<i64>>,
    pub department_id: Option<Option<i64>>,
    pub profile_id: Option<i64>,
    pub cost_rate: Option<i64>,
    pub billing_rate: Option<i64>,
    pub password_hash: Option<String>,
    pub active: Option<bool>,
}

pub async fn update_user(tx: &mut Tx, id: i64, c: UserChanges) -> Result<Option<UserRow>> {
    let row = tx
        .fetch_optional(
            q(format!(
                "UPDATE app_user SET
                    email = COALESCE($2, email),
                    name = COALESCE($3, name),
                    kind = COALESCE($4, kind),
                    customer_id = CASE WHEN $5 THEN $6 ELSE customer_id END,
                    department_id = CASE WHEN $7 THEN $8 ELSE department_id END,
                    profile_id = COALESCE($9, profile_id),
                    cost_rate = COALESCE($10, cost_rate),
                    billing_rate = COALESCE($11, billing_rate),
                    password_hash = COALESCE($12, password_hash),
                    active = COALESCE($13, active)
                 WHERE user_id = $1 RETURNING {COLS}"
            ))
            .bind(id)
            .bind(c.email.map(|e| normalize_email(&e)))
            .bind(c.name)
            .bind(c.kind)
            .bind(c.customer_id.is_some())
            .bind(c.customer_id.flatten())
            .bind(c.department_id.is_some())
            .bind(c.department_id.flatten())
            .bind(c.profile_id)
            .bind(c.cost_rate)
            .bind(c.billing_rate)
            .bind(c.password_hash)
            .bind(c.active),
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// How many users there are (the demo loads only into an empty database).
pub async fn count_users_unscoped(db: &Db) -> Result<i64> {
    Ok(db
        .fetch_one(q("SELECT COUNT(*) AS n FROM app_user"))
        .await?
        .get("n")?)
}
