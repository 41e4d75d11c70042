//! Session tokens and API keys, stored only as hashes.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::users::{self, UserRow};
use super::{q, Db, Row, Tx};
use crate::error::Result;

/// What a presented token resolves to, before its validity is checked: the credential, its
/// user, and the access version (see `authz::load`), all read in one statement, because
/// every request starts with them.
#[derive(Clone, Debug)]
pub struct Credential {
    pub kind: CredentialKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub user: UserRow,
    pub access_version: i64,
}

/// A credential lookup by token hash: the credential's own `columns` from `table` (as `k`),
/// its user (as `u`) and the access version. Built once per kind, as every request runs one.
fn lookup_sql(columns: &str, table: &str, hash_column: &str) -> String {
    format!(
        "SELECT {columns}, {}, (SELECT version FROM access_version WHERE id = 1) AS access_version
         FROM {table} k JOIN app_user u ON u.user_id = k.user_id
         WHERE k.{hash_column} = $1",
        users::qualified_cols("u"),
    )
}

static SESSION_LOOKUP: LazyLock<String> = LazyLock::new(|| {
    lookup_sql(
        "k.session_id, k.expires_at, k.revoked_at",
        "session",
        "token_hash",
    )
});

static API_KEY_LOOKUP: LazyLock<String> = LazyLock::new(|| {
    lookup_sql(
        "k.api_key_id, k.read_only, k.expires_at, k.revoked_at",
        "api_key",
        "key_hash",
    )
});

#[derive(Clone, Debug)]
pub enum CredentialKind {
    Session {
        session_id: i64,
    },
    ApiKey {
        api_key_id: i64,
        read_only: bool,
        /// Narrowed to these projects; `None` for an unrestricted key.
        project_ids: Option<Vec<i64>>,
    },
}

pub async fn create_session(
    db: &Db,
    user_id: i64,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    db.execute(
        q("INSERT INTO session (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(token_hash)
            .bind(Utc::now())
            .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// Revokes a session; answers false when it was already revoked.
pub async fn revoke_session(db: &Db, session_id: i64) -> Result<bool> {
    Ok(db
        .execute(
            q("UPDATE session SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL")
                .bind(session_id)
                .bind(Utc::now()),
        )
        .await?
        > 0)
}

pub async fn find_session(db: &Db, token_hash: &str) -> Result<Option<Credential>> {
    let row = db
        .fetch_optional(q(SESSION_LOOKUP.as_str()).bind(token_hash))
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Credential {
        kind: CredentialKind::Session {
            session_id: r.get("session_id")?,
        },
        expires_at: Some(r.get("expires_at")?),
        revoked: r.get::<Option<DateTime<Utc>>>("revoked_at")?.is_some(),
        user: users::from_row(&r)?,
        access_version: r.get("access_version")?,
    }))
}

#[derive(Clone, Debug)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub read_only: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub project_ids: Vec<i64>,
}

const KEY_COLS: &str =
    "api_key_id, user_id, name, prefix, read_only, expires_at, revoked_at, last_used_at, created_at";

fn key_from_row(r: &Row, project_ids: Vec<i64>) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.get("api_key_id")?,
        user_id: r.get("user_id")?,
        name: r.get("name")?,
        prefix: r.get("prefix")?,
        read_only: r.get("read_only")?,
        expires_at: r.get("expires_at")?,
        revoked_at: r.get("revoked_at")?,
        last_used_at: r.get("last_used_at")?,
        created_at: r.get("created_at")?,
        project_ids,
    })
}

async fn key_projects(db: &Db, api_key_id: i64) -> Result<Vec<i64>> {
    let rows = db
        .fetch_all(
            q("SELECT project_id FROM api_key_project WHERE api_key_id = $1 ORDER BY project_id")
                .bind(api_key_id),
        )
        .await?;
    rows.iter().map(|r| Ok(r.get("project_id")?)).collect()
}

pub struct NewApiKey<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    pub read_only: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub project_ids: &'a [i64],
}

pub async fn create_api_key(tx: &mut Tx, k: NewApiKey<'_>) -> Result<ApiKeyRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO api_key (user_id, name, key_hash, prefix, read_only, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {KEY_COLS}"
            ))
            .bind(k.user_id)
            .bind(k.name)
            .bind(k.key_hash)
            .bind(k.prefix)
            .bind(k.read_only)
            .bind(k.expires_at)
            .bind(Utc::now()),
        )
        .await?;
    let id: i64 = row.get("api_key_id")?;
    for p in k.project_ids {
        tx.execute(
            q("INSERT INTO api_key_project (api_key_id, project_id) VALUES ($1, $2)")
                .bind(id)
                .bind(*p),
        )
        .await?;
    }
    key_from_row(&row, k.project_ids.to_vec())
}

/// The caller's own keys (an ADMIN passes `None` to see everyone's).
pub async fn list_api_keys(db: &Db, owner: Option<i64>) -> Result<Vec<ApiKeyRow>> {
    let rows = db
        .fetch_all(
            q(format!(
                "SELECT {KEY_COLS} FROM api_key WHERE ($1 IS NULL OR user_id = $1) ORDER BY api_key_id"
            ))
            .bind(owner),
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.get("api_key_id")?;
        out.push(key_from_row(r, key_projects(db, id).await?)?);
    }
    Ok(out)
}

pub async fn find_api_key_by_id(db: &Db, id: i64) -> Result<Option<ApiKeyRow>> {
    let row = db
        .fetch_optional(
            q(format!(
                "SELECT {KEY_COLS} FROM api_key WHERE api_key_id = $1"
            ))
            .bind(id),
        )
        .await?;
    match row {
        Some(r) => Ok(Some(key_from_row(&r, key_projects(db, id).await?)?)),
        None => Ok(None),
    }
}

pub async fn revoke_api_key(tx: &mut Tx, id: i64) -> Result<()> {
    tx.execute(
        q("UPDATE api_key SET revoked_at = $2 WHERE api_key_id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(Utc::now()),
    )
    .await?;
    Ok(())
}

pub async fn find_api_key(db: &Db, key_hash: &str) -> Result<Option<Credential>> {
    let row = db
        .fetch_optional(q(API_KEY_LOOKUP.as_str()).bind(key_hash))
        .await?;
    let Some(r) = row else { return Ok(None) };
    let id: i64 = r.get("api_key_id")?;
    let projects = key_projects(db, id).await?;
    Ok(Some(Credential {
        kind: CredentialKind::ApiKey {
            api_key_id: id,
            read_only: r.get("read_only")?,
            project_ids: (!projects.is_empty()).then_some(projects),
        },
        expires_at: r.get("expires_at")?,
        revoked: r.get::<Option<DateTime<Utc>>>("revoked_at")?.is_some(),
        user: users::from_row(&r)?,
        access_version: r.get("access_version")?,
    }))
}

/// Notes when a key was last used (at most about once a minute per key).
pub async fn touch_api_key(db: &Db, id: i64) -> Result<()> {
    let now = Utc::now();
    db.execute(
        q("UPDATE api_key SET last_used_at = $2 WHERE api_key_id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(id)
            .bind(now)
            .bind(now - chrono::Duration::seconds(60)),
    )
    .await?;
    Ok(())
}
