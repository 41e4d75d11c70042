//! The shape of a query, not the number of rows it returns, decides how many SQL statements
//! it runs; and cached scopes never serve stale access.

use serde_json::json;

use crate::common::{send, spawn, TestApp};

const NESTED: &str =
    "{ projects(first: 500) { totalCount nodes { name budget plannedWork realCost customer { name }
    tasks(first: 500) { totalCount nodes { name plannedWork realWork plannedCost assignee { name }
        timeEntries(first: 500) { totalCount nodes { hours cost user { name } task { name } } } } }
    documents { totalCount nodes { title createdBy { name } } }
    invoices { nodes { total lines { amount } } }
    children { totalCount nodes { name plannedWork tasks(first: 500) { nodes { name realWork } }
        children { nodes { name tasks(first: 500) { totalCount nodes { name realWork } } } } } } } } }";

/// A world of `roots` projects, each with two levels of sub-projects and `tasks` tasks with
/// an hour logged on each; answers the manager's token.
async fn world(app: &TestApp, roots: usize, tasks: usize) -> String {
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    let customer = app
        .ok(
            &admin,
            "mutation { createCustomer(input: {name: \"C\"}) { id } }",
            json!({}),
        )
        .await["createCustomer"]["id"]
        .clone();
    for r in 0..roots {
        let root = app
            .project(
                &admin,
                &format!("Root {r}"),
                None,
                json!({ "customerId": customer, "budget": "100" }),
            )
            .await;
        app.member(&admin, &root, &pm_id, "Project manager").await;
        let child = app
            .project(&admin, &format!("Child {r}"), Some(&root), json!({}))
            .await;
        let grand = app
            .project(&admin, &format!("Grandchild {r}"), Some(&child), json!({}))
            .await;
        for p in [&root, &child, &grand] {
            for t in 0..tasks {
                let task = app
                    .task(&pm, p, &format!("Task {t}"), json!({ "plannedWork": 2.0 }))
                    .await;
                app.log(&pm, &task, &format!("2026-10-{:02}", 1 + (t % 28)), 0.5)
                    .await;
            }
        }
        app.ok(
            &pm,
            "mutation($p: ID!) { createDocument(input: {projectId: $p, title: \"Doc\", visibility: SHARED}) { id } }",
            json!({ "p": root }),
        )
        .await;
    }
    pm
}

/// The statements of one request, after warming the caller's cached scope. The fewest of
/// ten: a batch waits 1 ms for its keys, and on a machine busy with the other tests a
/// level's keys can arrive across two batches; the fewest is the count the query's shape
/// gives.
async fn statements_of(app: &TestApp, token: &str) -> u64 {
    app.ok(token, NESTED, json!({})).await;
    let mut fewest = u64::MAX;
    for _ in 0..10 {
        let before = app.state.db.statements();
        let data = app.ok(token, NESTED, json!({})).await;
        assert!(data["projects"]["totalCount"].as_i64().unwrap() > 0);
        fewest = fewest.min(app.state.db.statements() - before);
    }
    fewest
}

#[tokio::test]
#[allow(
    clippy::await_holding_lock,
    reason = "the guard only keeps heavy tests apart"
)]
async fn nested_queries_run_as_many_statements_for_few_rows_as_for_many() {
    let _alone = crate::common::exclusive();
    let small = spawn().await;
    let small_pm = world(&small, 1, 1).await;
    let large = spawn().await;
    let large_pm = world(&large, 4, 4).await;
    let few = statements_of(&small, &small_pm).await;
    let many = statements_of(&large, &large_pm).await;
    assert_eq!(
        few, many,
        "statements for 3 projects and 3 tasks vs 12 projects and 48 tasks"
    );
    assert!(many < 40, "{many} statements");
}

#[tokio::test]
async fn access_changes_show_on_the_next_request_on_every_server() {
    let a = spawn().await;
    // A second server process on the same database, with its own cache.
    let b_state = portico::AppState::new(portico::open(&a.db_url).await.unwrap(), 1, 12);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, portico::app(b_state)).await;
    });
    let admin = a.admin().await;
    let (u_id, u) = a.person(&admin, "u@test.example", "Full member").await;
    let p = a.project(&admin, "P", None, json!({})).await;
    let on_b = |token: String| {
        let (client, url) = (a.client.clone(), b_url.clone());
        async move {
            let query = json!({ "query": "{ projects { totalCount nodes { viewerRights } } }" });
            let (_, v) = send(&client, &url, Some(&token), &query).await;
            v["data"]["projects"].clone()
        }
    };
    assert_eq!(on_b(u.clone()).await["totalCount"], 0);
    // A membership made through server A shows on server B at once...
    let m = a.member(&admin, &p, &u_id, "Full member").await;
    assert_eq!(on_b(u.clone()).await["totalCount"], 1);
    // ...so does a profile change...
    let fm = a.profile_id(&admin, "Full member").await;
    a.ok(
        &admin,
        "mutation($p: ID!) { updateProfile(input: {id: $p, rights: [LOG_TIME, SEE_COST]}) { id } }",
        json!({ "p": fm }),
    )
    .await;
    assert_eq!(
        on_b(u.clone()).await["nodes"][0]["viewerRights"],
        json!(["LOG_TIME", "SEE_COST"])
    );
    // ...and a removal, and a change made straight in the database.
    a.ok(
        &admin,
        "mutation($m: ID!) { removeProjectMember(id: $m) { id } }",
        json!({ "m": m }),
    )
    .await;
    assert_eq!(on_b(u.clone()).await["totalCount"], 0);
    let group = a
        .ok(
            &admin,
            "mutation { createGroup(input: {name: \"G\"}) { id } }",
            json!({}),
        )
        .await["createGroup"]["id"]
        .clone();
    let gp = a.profile_id(&admin, "Customer").await;
    a.ok(
        &admin,
        "mutation($p: ID!, $g: ID!, $pr: ID!) { addProjectMember(input: {projectId: $p, groupId: $g, profileId: $pr}) { id } }",
        json!({ "p": p, "g": group, "pr": gp }),
    )
    .await;
    assert_eq!(on_b(u.clone()).await["totalCount"], 0);
    a.ok(
        &admin,
        "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u}) { id } }",
        json!({ "g": group, "u": u_id }),
    )
    .await;
    assert_eq!(on_b(u.clone()).await["totalCount"], 1);
    a.state
        .db
        .execute(portico::db::q("DELETE FROM group_member"))
        .await
        .unwrap();
    assert_eq!(on_b(u.clone()).await["totalCount"], 0);
}

/// Every request starts with one statement, which reads the credentials, their user and the
/// access version together; a cached scope needs nothing more.
#[tokio::test]
async fn a_request_starts_with_one_statement() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, u) = app.person(&admin, "u@test.example", "Full member").await;
    let query = "{ viewer { user { name } globalRights } }";
    app.ok(&u, query, json!({})).await;
    let before = app.state.db.statements();
    let data = app.ok(&u, query, json!({})).await;
    assert_eq!(data["viewer"]["user"]["name"], "u@test.example");
    assert_eq!(app.state.db.statements() - before, 1);
}

/// The access version read with the credentials serves the first operation of a batch only:
/// an operation after a mutation that changed access sees the change.
#[tokio::test]
async fn a_batch_sees_the_access_its_mutation_changed() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    let p = app.project(&admin, "P", None, json!({})).await;
    let m = app.member(&admin, &p, &pm_id, "Project manager").await;
    let count = "{ projects { totalCount } }";
    // Caches the manager's scope at the current access version.
    assert_eq!(
        app.ok(&pm, count, json!({})).await["projects"]["totalCount"],
        1
    );
    let batch = json!([
        { "query": count },
        {
            "query": "mutation($m: ID!) { removeProjectMember(id: $m) { id } }",
            "variables": { "m": m },
        },
        { "query": count },
    ]);
    let (_, answers) = send(&app.client, &app.url, Some(&pm), &batch).await;
    assert_eq!(answers[0]["data"]["projects"]["totalCount"], 1, "{answers}");
    assert_eq!(
        answers[1]["data"]["removeProjectMember"]["id"], m,
        "{answers}"
    );
    assert_eq!(answers[2]["data"]["projects"]["totalCount"], 0, "{answers}");
}

#[tokio::test]
#[ignore = "prints the statements of the nested query; run with RUST_LOG=sqlx::query=debug"]
async fn show_nested_statements() {
    let app = spawn().await;
    let size: usize = std::env::var("WORLD")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let pm = world(&app, size, size).await;
    app.ok(&pm, NESTED, json!({})).await;
    eprintln!("----- counted request -----");
    let before = app.state.db.statements();
    app.ok(&pm, NESTED, json!({})).await;
    eprintln!(
        "----- {} statements -----",
        app.state.db.statements() - before
    );
}
