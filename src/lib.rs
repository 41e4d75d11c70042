//! Portico: a GraphQL server over project-management data whose core is authorization.
//!
//! `main` parses the command line and calls [`serve`] and friends; the tests build the same
//! application with [`app`] on a random port.

pub mod auth;
pub mod authz;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod http;
pub mod seed;

use std::sync::Arc;

use auth::password::Hasher;
use db::Db;

/// The default of `--request-timeout-secs`.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;

/// What every request can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub hasher: Hasher,
    pub session_ttl: chrono::Duration,
    pub metrics: Arc<http::Metrics>,
    /// Callers' scopes, valid while the database's access version stays the same.
    pub access: Arc<authz::load::AccessCache>,
    /// How long one HTTP request's operations may run before they are cancelled.
    pub request_timeout: std::time::Duration,
    /// Take the client's address from X-Forwarded-For (behind a trusted proxy only).
    pub trust_forwarded_for: bool,
    /// Answer lists of plain fields in the synchronous pass (graphql/flat.rs). Off, every
    /// field takes its resolver: the tests serve both ways and compare the answers.
    pub fast_pass: bool,
}

impl AppState {
    pub fn new(db: Db, hash_threads: usize, session_ttl_hours: u32) -> Self {
        AppState {
            db,
            hasher: Hasher::new(hash_threads),
            session_ttl: chrono::Duration::hours(session_ttl_hours.into()),
            metrics: Arc::new(http::Metrics::default()),
            access: Arc::new(authz::load::AccessCache::default()),
            request_timeout: std::time::Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            trust_forwarded_for: false,
            fast_pass: true,
        }
    }
}

/// Connects and migrates.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await?;
    db::migrate::run(&db).await?;
    if db.backend() == db::Backend::Sqlite {
        // Readers look each page up in the write-ahead log first, and a read-mostly server
        // may never checkpoint a log another process left behind; checkpoint it now
        // (PASSIVE: never waits for other processes on the file).
        db.fetch_all(db::q("PRAGMA wal_checkpoint(PASSIVE)"))
            .await?;
    }
    db::org::ensure_seeded_profiles(&db)
        .await
        .map_err(|e| anyhow::anyhow!("seeding profiles: {e:?}"))?;
    Ok(db)
}

/// The HTTP application.
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}
