//! Migrations and storage basics on the backend under test.

use portico::db::{q, Backend};

use crate::common::{base_url, fresh_database};

#[tokio::test]
async fn migrations_apply_once_and_are_idempotent() {
    let (url, _cleanup) = fresh_database().await;
    let db = portico::db::Db::connect(&url).await.unwrap();
    assert_eq!(
        db.backend(),
        if base_url().is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    );
    assert_eq!(portico::db::migrate::run(&db).await.unwrap(), 6);
    assert_eq!(portico::db::migrate::run(&db).await.unwrap(), 0);
    // Opening again (as a second server process would) changes nothing.
    let again = portico::open(&url).await.unwrap();
    let n: i64 = again
        .fetch_one(q("SELECT COUNT(*) AS n FROM portico_migration"))
        .await
        .unwrap()
        .get("n")
        .unwrap();
    assert_eq!(n, 6);
    // Every table of the data model exists.
    for table in [
        "profile",
        "profile_right",
        "department",
        "customer",
        "app_user",
        "user_group",
        "group_member",
        "project",
        "membership",
        "task",
        "time_entry",
        "document",
        "folder_rule",
        "invoice",
        "invoice_line",
        "session",
        "api_key",
        "api_key_project",
        "audit_event",
    ] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        again
            .fetch_one(q(sql))
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    // The seeded profiles are there, once.
    let n: i64 = again
        .fetch_one(q("SELECT COUNT(*) AS n FROM profile"))
        .await
        .unwrap()
        .get("n")
        .unwrap();
    assert_eq!(n, 6);
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    if base_url().is_some() {
        return;
    }
    let (url, _cleanup) = fresh_database().await;
    let db = portico::open(&url).await.unwrap();
    let mode: String = db
        .fetch_one(q("PRAGMA journal_mode"))
        .await
        .unwrap()
        .get("journal_mode")
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = db
        .fetch_one(q("PRAGMA foreign_keys"))
        .await
        .unwrap()
        .get("foreign_keys")
        .unwrap();
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn constraints_hold_on_both_backends() {
    let (url, _cleanup) = fresh_database().await;
    let db = portico::open(&url).await.unwrap();
    // A membership must name exactly one of user and group.
    let err = db
        .execute(
            q("INSERT INTO membership (project_id, profile_id, created_at) VALUES (1, 1, $1)")
                .bind(chrono::Utc::now()),
        )
        .await
        .unwrap_err();
    assert!(err.as_database_error().is_some());
    // A reference to a missing row is refused.
    let err = db
        .execute(
            q("INSERT INTO project (name, status, parent_id, inherit_members, created_at, updated_at) VALUES ('x', 'OPEN', 999, TRUE, $1, $1)")
                .bind(chrono::Utc::now()),
        )
        .await
        .unwrap_err();
    assert!(portico::db::is_foreign_key_violation(&err), "{err}");
}
