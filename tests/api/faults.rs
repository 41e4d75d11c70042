//! Faults and operations: servers starting side by side on an empty database, and backups
//! of a live database.

use serde_json::json;

use crate::common::{fresh_database, skip, spawn};

#[tokio::test]
async fn four_servers_starting_together_on_an_empty_database_all_start() {
    let (url, _cleanup) = fresh_database().await;
    // Migrations, seeded profiles and the demo world, all at once from four "processes".
    let opens = (0..4).map(|_| portico::open(&url));
    let mut dbs = Vec::new();
    for opened in futures_util::future::join_all(opens).await {
        dbs.push(
            opened
                .map_err(|e| format!("{e:#}"))
                .expect("every server starts"),
        );
    }
    let profiles: i64 = dbs[0]
        .fetch_one(portico::db::q("SELECT COUNT(*) AS n FROM profile"))
        .await
        .unwrap()
        .get("n")
        .unwrap();
    assert_eq!(profiles, 6, "the seeded profiles, once");
    let states: Vec<portico::AppState> = dbs
        .into_iter()
        .map(|db| portico::AppState::new(db, 1, 12))
        .collect();
    let demos = states.iter().map(portico::demo::load_if_empty);
    let loaded: Vec<bool> = futures_util::future::join_all(demos)
        .await
        .into_iter()
        .map(|r| {
            r.map(|l| l.is_some())
                .map_err(|e| e.cause())
                .expect("no server fails to start")
        })
        .collect();
    assert_eq!(
        loaded.iter().filter(|l| **l).count(),
        1,
        "exactly one loads the demo world: {loaded:?}"
    );
}

#[tokio::test]
async fn a_backup_taken_under_writes_holds_every_write_acknowledged_before_it() {
    let app = spawn().await;
    let Some(path) = app.db_url.strip_prefix("sqlite://").map(str::to_string) else {
        skip(
            "faults::a_backup_taken_under_writes_holds_every_write_acknowledged_before_it",
            "portico backup copies SQLite; PostgreSQL backs up with pg_dump",
        );
        return;
    };
    let admin = app.admin().await;
    let create = "mutation($n: String!) { createProject(input: {name: $n}) { id } }";
    // A writer that never stops while the backup runs.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        let (client, url, admin) = (app.client.clone(), app.url.clone(), admin.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("write {i}");
                let body = json!({ "query": create, "variables": { "n": name } });
                let (status, answer) =
                    crate::common::send(&client, &url, Some(&admin), &body).await;
                if status == 200 && answer.get("errors").is_none() {
                    acknowledged.lock().unwrap().push(name);
                }
                i += 1;
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let to = std::env::temp_dir().join(format!("portico-backup-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&to);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["backup", "--database-url", &app.db_url, "--to"])
        .arg(&to)
        .output()
        .expect("run portico backup");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Restore: the copy opens as a database of its own and holds every write acknowledged
    // before the backup began (the write-ahead log's included).
    let copy = portico::open(&format!("sqlite://{}", to.display()))
        .await
        .unwrap();
    let rows = copy
        .fetch_all(portico::db::q("SELECT name FROM project"))
        .await
        .unwrap();
    let names: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .collect();
    for name in &before {
        assert!(
            names.contains(name),
            "{name} was acknowledged before the backup"
        );
    }
    // Writing over an existing file is refused.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["backup", "--database-url", &app.db_url, "--to"])
        .arg(&to)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let _ = std::fs::remove_file(&to);
    let _ = path;
}

/// Takes every connection of the server's pool, as an outage or a saturated pool would.
async fn hold_every_connection(app: &crate::common::TestApp) -> Vec<Box<dyn std::any::Any>> {
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    match &app.state.db.pool {
        portico::db::Pool::Sqlite(p) => {
            while let Ok(Ok(c)) =
                tokio::time::timeout(std::time::Duration::from_millis(300), p.acquire()).await
            {
                held.push(Box::new(c));
            }
        }
        portico::db::Pool::Postgres(p) => {
            while let Ok(Ok(c)) =
                tokio::time::timeout(std::time::Duration::from_millis(300), p.acquire()).await
            {
                held.push(Box::new(c));
            }
        }
    }
    assert!(!held.is_empty());
    held
}

#[tokio::test]
async fn an_unreachable_database_is_answered_as_an_outage() {
    let app = spawn().await;
    let admin = app.admin().await;
    let base = app.url.trim_end_matches("/graphql").to_string();
    let held = hold_every_connection(&app).await;
    // The caller's credentials cannot be read: 503, SERVICE_UNAVAILABLE, Retry-After.
    let resp = app
        .client
        .post(&app.url)
        .bearer_auth(&admin)
        .json(&json!({ "query": "{ projects { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    // The same fault inside a resolver (an anonymous login) answers the same way.
    let resp = app
        .client
        .post(&app.url)
        .json(&json!({ "query": "mutation { login(input: {email: \"a@b.example\", password: \"whatever it is\"}) { token } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    // Readiness says so without waiting out the pool.
    let started = std::time::Instant::now();
    let ready = app
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(started.elapsed() < std::time::Duration::from_millis(1900));
    // Back again once connections are free.
    drop(held);
    let data = app
        .ok(&admin, "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(data["projects"]["totalCount"], 0);
}

#[tokio::test]
async fn a_server_whose_database_never_comes_exits_naming_it() {
    // Nothing listens on port 9: the server retries for the time it is given, then exits
    // naming the host (never the credentials) and the cause.
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
            .args([
                "serve",
                "--database-url",
                "postgres://someone:secret@127.0.0.1:9/nothing",
                "--db-start-wait-secs",
                "2",
                "--listen",
                "127.0.0.1:0",
            ])
            .output()
            .expect("run portico serve")
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:9/nothing"), "{err}");
    assert!(err.contains("retrying"), "{err}");
    assert!(err.contains("refused"), "the cause: {err}");
    assert!(!err.contains("secret"), "{err}");
}

/// Runs `mount`/`umount`; false when this machine does not allow it.
fn mount(args: &[&str]) -> bool {
    std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn writes_recover_after_a_full_disk_without_a_restart() {
    let name = "faults::writes_recover_after_a_full_disk_without_a_restart";
    if crate::common::base_url().is_some() {
        skip(name, "a SQLite file on a small disk, on PostgreSQL");
        return;
    }
    let dir = std::env::temp_dir().join(format!("portico-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap().to_string();
    if !mount(&["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", &d]) {
        skip(name, "cannot mount a small tmpfs here (needs root)");
        return;
    }
    let result = std::panic::AssertUnwindSafe(async {
        let db = portico::open(&format!("sqlite://{d}/full.db"))
            .await
            .unwrap();
        let state = portico::AppState::new(db, 1, 12);
        portico::demo::create_admin(&state, "root@full.example", "Root", crate::common::PASSWORD)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        let app_state = state.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, portico::app(app_state)).await;
        });
        let client = reqwest::Client::new();
        let login = json!({ "query": "mutation { login(input: {email: \"root@full.example\", password: \"correct horse battery\"}) { token } }" });
        let (_, body) = crate::common::send(&client, &url, None, &login).await;
        let token = body["data"]["login"]["token"].as_str().unwrap().to_string();
        let write = |i: usize| {
            json!({
                "query": "mutation($n: String!, $c: String!) { createProject(input: {name: $n, code: $c}) { id } }",
                "variables": { "n": format!("project {i} {}", "x".repeat(150)), "c": format!("C{i}") },
            })
        };
        // Fill the disk.
        let filler = dir.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
        drop(f);
        // Writes fail now (as an error, not a hang), a few times over.
        let mut failed = 0;
        for i in 0..12 {
            let (_, body) = crate::common::send(&client, &url, Some(&token), &write(i)).await;
            if body.get("errors").is_some() {
                failed += 1;
            }
        }
        assert!(failed > 0, "the full disk refused writes");
        // Space again: every write works, on every pooled connection, without a restart.
        std::fs::remove_file(&filler).unwrap();
        for i in 100..112 {
            let (status, body) = crate::common::send(&client, &url, Some(&token), &write(i)).await;
            assert!(
                status == 200 && body.get("errors").is_none(),
                "write {i} after the disk was freed: {body}"
            );
        }
        server.abort();
        if let portico::db::Pool::Sqlite(p) = &state.db.pool {
            p.close().await;
        }
    });
    let outcome = futures_util::FutureExt::catch_unwind(result).await;
    mount(&["umount", "-l", &d]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
