//! Schema migrations, embedded in the binary, one folder per backend.
//!
//! Pending migrations run in one transaction and are recorded in `portico_migration`. On
//! PostgreSQL an advisory lock serialises servers that start together behind a load balancer.

use chrono::Utc;

use super::{q, Backend, Db, Tx};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "access_version",
        sqlite: include_str!("../../migrations/sqlite/0002_access_version.sql"),
        postgres: include_str!("../../migrations/postgres/0002_access_version.sql"),
    },
    Migration {
        version: 3,
        name: "task_real_totals",
        sqlite: include_str!("../../migrations/sqlite/0003_task_real_totals.sql"),
        postgres: include_str!("../../migrations/postgres/0003_task_real_totals.sql"),
    },
    Migration {
        version: 4,
        name: "access_version_parity",
        sqlite: include_str!("../../migrations/sqlite/0004_access_version_parity.sql"),
        postgres: include_str!("../../migrations/postgres/0004_access_version_parity.sql"),
    },
    Migration {
        version: 5,
        name: "page_indexes",
        sqlite: include_str!("../../migrations/sqlite/0005_page_indexes.sql"),
        postgres: include_str!("../../migrations/postgres/0005_page_indexes.sql"),
    },
    Migration {
        version: 6,
        name: "entry_page_index",
        sqlite: include_str!("../../migrations/sqlite/0006_entry_page_index.sql"),
        postgres: include_str!("../../migrations/postgres/0006_entry_page_index.sql"),
    },
    Migration {
        version: 7,
        name: "invoice_line_names_no_user",
        sqlite: include_str!("../../migrations/sqlite/0007_invoice_line_names_no_user.sql"),
        postgres: include_str!("../../migrations/postgres/0007_invoice_line_names_no_user.sql"),
    },
    Migration {
        version: 8,
        name: "external_ceiling",
        sqlite: include_str!("../../migrations/sqlite/0008_external_ceiling.sql"),
        postgres: include_str!("../../migrations/postgres/0008_external_ceiling.sql"),
    },
    Migration {
        version: 9,
        name: "project_code_scoped",
        sqlite: include_str!("../../migrations/sqlite/0009_project_code_scoped.sql"),
        postgres: include_str!("../../migrations/postgres/0009_project_code_scoped.sql"),
    },
    Migration {
        version: 10,
        name: "login_throttle",
        sqlite: include_str!("../../migrations/sqlite/0010_login_throttle.sql"),
        postgres: include_str!("../../migrations/postgres/0010_login_throttle.sql"),
    },
];

/// An arbitrary constant naming Portico's advisory lock on PostgreSQL.
const PG_LOCK_KEY: i64 = 0x0070_6f72_7469_636f;

/// Applies every migration the database lacks; answers how many ran.
pub async fn run(db: &Db) -> anyhow::Result<usize> {
    let create = match db.backend() {
        Backend::Sqlite => {
            "CREATE TABLE IF NOT EXISTS portico_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE IF NOT EXISTS portico_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        }
    };
    let mut tx = db.begin().await?;
    if tx.backend() == Backend::Postgres {
        tx.execute(q("SELECT pg_advisory_xact_lock($1)").bind(PG_LOCK_KEY))
            .await?;
    }
    tx.execute(q(create)).await?;
    let mut applied = 0;
    for m in MIGRATIONS {
        let done = tx
            .fetch_optional(
                q("SELECT version FROM portico_migration WHERE version = $1").bind(m.version),
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        let sql = match db.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        raw(&mut tx, sql).await?;
        tx.execute(
            q("INSERT INTO portico_migration (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(Utc::now()),
        )
        .await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied += 1;
    }
    tx.commit().await?;
    Ok(applied)
}

/// Runs a script of several statements.
async fn raw(tx: &mut Tx, sql: &'static str) -> Result<(), sqlx::Error> {
    tx.raw(sql).await
}
