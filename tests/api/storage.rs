//! Migrations and storage basics on the backend under test.

use portico::db::{q, Backend};

use crate::common::{base_url, fresh_database, skip};

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
    assert_eq!(portico::db::migrate::run(&db).await.unwrap(), 10);
    assert_eq!(portico::db::migrate::run(&db).await.unwrap(), 0);
    // Opening again (as a second server process would) changes nothing.
    let again = portico::open(&url).await.unwrap();
    let n: i64 = again
        .fetch_one(q("SELECT COUNT(*) AS n FROM portico_migration"))
        .await
        .unwrap()
        .get("n")
        .unwrap();
    assert_eq!(n, 10);
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
        return skip(
            "storage::sqlite_runs_in_wal_mode_with_foreign_keys",
            "SQLite settings, on PostgreSQL",
        );
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
    let now = chrono::Utc::now();
    // Real rows for every reference, so that only the constraint under test can fail.
    let profile: i64 = db
        .fetch_one(q("SELECT MIN(profile_id) AS n FROM profile"))
        .await
        .unwrap()
        .get("n")
        .unwrap();
    let mut ids = Vec::new();
    for (what, statement) in [
        (
            "project",
            q("INSERT INTO project (name, status, inherit_members, created_at, updated_at) VALUES ('p', 'OPEN', TRUE, $1, $1) RETURNING project_id AS id")
                .bind(now),
        ),
        (
            "user",
            q("INSERT INTO app_user (email, name, kind, profile_id, password_hash, active, created_at) VALUES ('u@x', 'u', 'INTERNAL', $1, 'x', TRUE, $2) RETURNING user_id AS id")
                .bind(profile)
                .bind(now),
        ),
        (
            "group",
            q("INSERT INTO user_group (name, created_at) VALUES ('g', $1) RETURNING group_id AS id")
                .bind(now),
        ),
    ] {
        let row = db
            .fetch_one(statement)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        ids.push(row.get::<i64>("id").unwrap());
    }
    let (project, user, group) = (ids[0], Some(ids[1]), Some(ids[2]));
    let membership = |user: Option<i64>,
                      group: Option<i64>,
                      from: Option<&str>,
                      until: Option<&str>| {
        let day = |d: Option<&str>| d.map(|d| d.parse::<chrono::NaiveDate>().unwrap());
        q("INSERT INTO membership (project_id, user_id, group_id, profile_id, valid_from, valid_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(project)
            .bind(user)
            .bind(group)
            .bind(profile)
            .bind(day(from))
            .bind(day(until))
            .bind(now)
    };
    let is_check = |e: &sqlx::Error| {
        e.as_database_error()
            .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::CheckViolation)
    };
    // The same row with exactly one principal and ordered dates is accepted (both days
    // included: one day is a valid span)...
    for (user, group) in [(user, None), (None, group)] {
        db.execute(membership(
            user,
            group,
            Some("2026-01-01"),
            Some("2026-01-01"),
        ))
        .await
        .unwrap();
    }
    // ...so each of these fails on its CHECK only: a membership names exactly one of user
    // and group, and does not end before it starts.
    for (case, user, group, from, until) in [
        ("neither user nor group", None, None, None, None),
        ("both user and group", user, group, None, None),
        (
            "ends before it starts",
            user,
            None,
            Some("2026-01-02"),
            Some("2026-01-01"),
        ),
    ] {
        let err = db
            .execute(membership(user, group, from, until))
            .await
            .expect_err(case);
        assert!(is_check(&err), "{case}: {err}");
    }
    // A folder rule too names exactly one principal.
    let rule = |user: Option<i64>, group: Option<i64>| {
        q("INSERT INTO folder_rule (project_id, folder, user_id, group_id, created_at) VALUES ($1, 'F', $2, $3, $4)")
            .bind(project)
            .bind(user)
            .bind(group)
            .bind(now)
    };
    db.execute(rule(user, None)).await.unwrap();
    for (user, group) in [(None, None), (user, group)] {
        let err = db.execute(rule(user, group)).await.unwrap_err();
        assert!(is_check(&err), "{user:?} {group:?}: {err}");
    }
    // A reference to a missing row is refused; the same row with a real parent is not.
    let child = |parent: i64| {
        q("INSERT INTO project (name, status, parent_id, inherit_members, created_at, updated_at) VALUES ('x', 'OPEN', $1, TRUE, $2, $2)")
            .bind(parent)
            .bind(now)
    };
    let err = db.execute(child(project + 1000)).await.unwrap_err();
    assert!(portico::db::is_foreign_key_violation(&err), "{err}");
    db.execute(child(project)).await.unwrap();
}

/// SQLite's plans for nested pages, on a seeded world with its statistics: every table is
/// reached by key, from the parents. (Left to itself, the planner once chose to scan the
/// whole project table and run the per-parent subquery for each of its rows: Q1 took 1.3 s
/// instead of 10 ms.)
#[tokio::test]
#[allow(
    clippy::await_holding_lock,
    reason = "the guard only keeps heavy tests apart"
)]
async fn nested_pages_never_scan_a_table_on_sqlite() {
    use portico::db::list::{children_query, PageArgs, Rel};
    use portico::db::{documents, entries, invoices, projects, tasks, Query};
    if base_url().is_some() {
        return skip(
            "storage::nested_pages_never_scan_a_table_on_sqlite",
            "SQLite's query plans, on PostgreSQL",
        );
    }
    let _alone = crate::common::exclusive();
    let app = crate::common::spawn_empty().await;
    let db = &app.state.db;
    let seeded = portico::seed::seed(
        db,
        &app.state.hasher,
        portico::seed::Scale::Small,
        1,
        "portico-seed",
    )
    .await
    .unwrap();
    let me = db
        .fetch_one(
            q("SELECT user_id, profile_id, department_id FROM app_user WHERE email = $1")
                .bind(seeded.manager_email.clone()),
        )
        .await
        .unwrap();
    let subject = portico::authz::load::Subject {
        user_id: me.get("user_id").unwrap(),
        profile_id: me.get("profile_id").unwrap(),
        department_id: me.get("department_id").unwrap(),
        key_projects: None,
        external: false,
    };
    let scope = app.state.access.scope(db, subject, None).await.unwrap();
    let parents: Vec<i64> = scope.visible_ids().to_vec();
    assert!(parents.len() > 5, "{} visible projects", parents.len());
    let page = PageArgs {
        first: 50,
        after: None,
    };
    fn query<R: Rel>(s: &portico::authz::Scope, parents: &[i64], page: PageArgs) -> Query {
        children_query::<R>(Backend::Sqlite, s, parents, page, None)
    }
    for (name, statement) in [
        (
            "children",
            query::<projects::ChildrenOfProject>(&scope, &parents, page),
        ),
        (
            "members",
            query::<projects::MembersOfProject>(&scope, &parents, page),
        ),
        (
            "tasks",
            query::<tasks::TasksOfProject>(&scope, &parents, page),
        ),
        (
            "entries",
            query::<entries::EntriesOfProject>(&scope, &parents, page),
        ),
        (
            "task entries",
            query::<entries::EntriesOfTask>(&scope, &[1, 2, 3], page),
        ),
        (
            "documents",
            query::<documents::DocumentsOfProject>(&scope, &parents, page),
        ),
        (
            "invoices",
            query::<invoices::InvoicesOfProject>(&scope, &parents, page),
        ),
    ] {
        let details: Vec<String> = db
            .fetch_all(statement.explain())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String>("detail").unwrap())
            .collect();
        let scans: Vec<&String> = details
            .iter()
            .filter(|d| d.starts_with("SCAN ") && !d.contains("VIRTUAL TABLE"))
            .collect();
        assert!(scans.is_empty(), "{name}: {details:?}");
    }
}

/// SQLite runs without its memory statistics: counting every allocation takes a
/// process-wide mutex, and the server reads rows one allocation per column.
#[tokio::test]
async fn sqlite_does_not_count_its_allocations() {
    let dir = std::env::temp_dir().join(format!("portico-memstat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = portico::db::Db::connect(&format!("sqlite://{}/m.db", dir.display()))
        .await
        .unwrap();
    portico::db::migrate::run(&db).await.unwrap();
    db.fetch_all(q("SELECT * FROM portico_migration"))
        .await
        .unwrap();
    // With the statistics on, SQLite's page cache alone holds kilobytes by now.
    // SAFETY: reads a counter; safe at any time.
    let counted = unsafe { libsqlite3_sys::sqlite3_memory_used() };
    assert_eq!(counted, 0);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// On SQLite, reads skip sqlx's row path (src/db/sqlite_read.rs); every type decodes as
/// sqlx decodes it, `$N` binds by number, and writes still go through sqlx. (On PostgreSQL
/// the same reads check the same values.)
#[tokio::test]
async fn reads_decode_as_sqlx_does() {
    use chrono::{DateTime, NaiveDate, Utc};
    let (url, _cleanup) = fresh_database().await;
    let db = portico::db::Db::connect(&url).await.unwrap();
    db.execute(q(
        "CREATE TABLE kinds (id BIGINT PRIMARY KEY, n BIGINT, f DOUBLE PRECISION, \
                  b BOOLEAN, t TEXT, d DATE, ts TIMESTAMPTZ)",
    ))
    .await
    .unwrap();
    let ts: DateTime<Utc> = "2026-11-23T06:24:28.624175Z".parse().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        q("INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(1_i64)
            .bind(-42_i64)
            .bind(2.5_f64)
            .bind(true)
            .bind("ünïcode ✓")
            .bind(day)
            .bind(ts),
    )
    .await
    .unwrap();
    tx.execute(
        q("INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(2_i64)
            .bind(None::<i64>)
            .bind(None::<f64>)
            .bind(false)
            .bind(None::<String>)
            .bind(None::<NaiveDate>)
            .bind(None::<DateTime<Utc>>),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Parameters out of order and repeated, a bound list, a date and a timestamp compared.
    let select = |ids: Vec<i64>| {
        let list = db.id_in("id", 1);
        q(format!(
            "SELECT id, n, f, b, t, d, ts FROM kinds WHERE {list} \
             AND (d = $2 OR d IS NULL) AND (ts >= $3 OR ts IS NULL) AND $4 = $4 ORDER BY id"
        ))
        .bind(ids)
        .bind(day)
        .bind(ts)
        .bind(7_i64)
    };
    let fast = db.fetch_all(select(vec![1, 2])).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let slow = tx.fetch_all(select(vec![1, 2])).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(fast.len(), 2);
    if base_url().is_none() {
        assert!(fast
            .iter()
            .all(|r| matches!(r, portico::db::Row::SqliteRead(_))));
        assert!(slow
            .iter()
            .all(|r| matches!(r, portico::db::Row::Sqlite(_))));
    }
    type Kinds = (
        i64,
        Option<i64>,
        Option<f64>,
        bool,
        Option<String>,
        Option<NaiveDate>,
        Option<DateTime<Utc>>,
    );
    let decode = |r: &portico::db::Row| -> Kinds {
        (
            r.get("id").unwrap(),
            r.get("n").unwrap(),
            r.get("f").unwrap(),
            r.get("b").unwrap(),
            r.get("t").unwrap(),
            r.get("d").unwrap(),
            r.get("ts").unwrap(),
        )
    };
    let fast: Vec<Kinds> = fast.iter().map(decode).collect();
    let slow: Vec<Kinds> = slow.iter().map(decode).collect();
    assert_eq!(fast, slow);
    assert_eq!(
        fast[0],
        (
            1,
            Some(-42),
            Some(2.5),
            true,
            Some("ünïcode ✓".into()),
            Some(day),
            Some(ts)
        )
    );
    assert_eq!(fast[1], (2, None, None, false, None, None, None));
    // A missing column and a NULL where none may be are errors, not defaults.
    let row = db.fetch_one(select(vec![2])).await.unwrap();
    assert!(row.get::<i64>("nope").is_err());
    assert!(row.get::<i64>("n").is_err());
    // Several statements in one text are run by sqlx, all of them (SQLite only: PostgreSQL
    // prepares one statement at a time).
    if base_url().is_none() {
        let both = db
            .fetch_all(q("SELECT 1 AS a; SELECT 2 AS a"))
            .await
            .unwrap();
        assert_eq!(both.len(), 2);
        assert!(!matches!(both[0], portico::db::Row::SqliteRead(_)));
    }
    // A statement that writes is run by sqlx (and writes).
    let returned = db
        .fetch_one(q("UPDATE kinds SET n = 5 WHERE id = 2 RETURNING n"))
        .await
        .unwrap();
    assert!(!matches!(returned, portico::db::Row::SqliteRead(_)));
    assert_eq!(returned.get::<i64>("n").unwrap(), 5);
}
