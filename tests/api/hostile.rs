//! A careless or hostile client: input the database would reject, searches no person types,
//! and one request trying many passwords. Each is refused before it reaches the database,
//! with the api.md code naming the field, and writes nothing.

use serde_json::json;

use crate::common::{send, spawn, unchanged, EVERY_TABLE};

/// The error's code and field, and whether the answer carried data.
fn code_and_field(body: &serde_json::Value) -> (String, String) {
    let e = &body["errors"][0];
    (
        e["extensions"]["code"].as_str().unwrap_or("").to_string(),
        e["extensions"]["field"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn a_nul_character_is_bad_user_input_naming_its_field() {
    let app = spawn().await;
    let admin = app.admin().await;
    // In a variable, anonymously: the login's email (PostgreSQL rejects NUL in text).
    let login =
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }";
    let (status, body) = unchanged(&app, EVERY_TABLE, || {
        app.post(
            None,
            login,
            json!({ "e": "someone\u{0}@test.example", "p": "whatever it is" }),
        )
    })
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        code_and_field(&body),
        ("BAD_USER_INPUT".into(), "email".into()),
        "{body}"
    );
    // Deep in an input object given as a variable.
    let create = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }";
    let (_, body) = unchanged(&app, EVERY_TABLE, || {
        app.post(
            Some(&admin),
            create,
            json!({ "i": { "name": "Fine", "code": "A\u{0}B" } }),
        )
    })
    .await;
    assert_eq!(
        code_and_field(&body),
        ("BAD_USER_INPUT".into(), "code".into()),
        "{body}"
    );
    // As a literal in the document (an escaped NUL in a GraphQL string).
    let (_, body) = unchanged(&app, EVERY_TABLE, || {
        app.post(
            Some(&admin),
            "mutation { createProject(input: {name: \"a\\u0000b\"}) { id } }",
            json!({}),
        )
    })
    .await;
    assert_eq!(
        code_and_field(&body),
        ("BAD_USER_INPUT".into(), "name".into()),
        "{body}"
    );
    // And in a query's filter.
    let (_, body) = app
        .post(
            Some(&admin),
            "query($s: String) { projects(filter: {search: $s}) { totalCount } }",
            json!({ "s": "x\u{0}" }),
        )
        .await;
    assert_eq!(
        code_and_field(&body),
        ("BAD_USER_INPUT".into(), "search".into()),
        "{body}"
    );
    // The same text without the NUL is accepted.
    app.ok(
        &admin,
        create,
        json!({ "i": { "name": "Fine", "code": "AB" } }),
    )
    .await;
}

#[tokio::test]
async fn a_search_is_bounded() {
    let app = spawn().await;
    let admin = app.admin().await;
    let q = "query($s: String) { projects(filter: {search: $s}) { totalCount } users(filter: {search: $s}) { totalCount } }";
    let (_, body) = app
        .post(Some(&admin), q, json!({ "s": "x".repeat(50_000) }))
        .await;
    assert_eq!(
        code_and_field(&body),
        ("BAD_USER_INPUT".into(), "search".into()),
        "{body}"
    );
    let data = app.ok(&admin, q, json!({ "s": "x".repeat(200) })).await;
    assert_eq!(data["projects"]["totalCount"], 0);
}

#[tokio::test]
async fn one_request_checks_at_most_one_password() {
    let app = spawn().await;
    let failed = "SELECT COUNT(*) AS n FROM audit_event WHERE action = 'LOGIN_FAILED'";
    // Aliases: 20 guesses in one document; none is checked, nothing is recorded.
    let guesses: String = (0..20)
        .map(|i| {
            format!(
                "g{i}: login(input: {{email: \"root@test.example\", password: \"guess-number-{i}\"}}) {{ token }} "
            )
        })
        .collect();
    let doc = format!("mutation {{ {guesses} }}");
    let (status, body) = unchanged(&app, EVERY_TABLE, || app.post(None, &doc, json!({}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        code_and_field(&body),
        ("BAD_USER_INPUT".into(), "login".into()),
        "{body}"
    );
    assert_eq!(app.count(failed).await, 0);
    // A batch of logins: the first is checked, the rest refused unchecked.
    let one = |pw: &str| {
        json!({
            "query": "mutation($p: String!) { login(input: {email: \"root@test.example\", password: $p}) { token } }",
            "variables": { "p": pw },
        })
    };
    let batch = json!([
        one("wrong password 1"),
        one("wrong password 2"),
        one("wrong password 3")
    ]);
    let (_, answers) = send(&app.client, &app.url, None, &batch).await;
    let codes: Vec<String> = answers
        .as_array()
        .expect("a batch answer")
        .iter()
        .map(|a| code_and_field(a).0)
        .collect();
    assert_eq!(
        codes,
        ["UNAUTHENTICATED", "BAD_USER_INPUT", "BAD_USER_INPUT"],
        "{answers}"
    );
    assert_eq!(app.count(failed).await, 1);
    // One login alone still works.
    app.login(crate::common::ADMIN_EMAIL, crate::common::PASSWORD)
        .await;
}

/// Serves the same database again with other settings; answers the new `/graphql` URL.
async fn serve_with(
    app: &crate::common::TestApp,
    tweak: impl FnOnce(&mut portico::AppState),
) -> String {
    let mut state = app.state.clone();
    tweak(&mut state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, portico::app(state)).await;
    });
    format!("http://{addr}/graphql")
}

#[tokio::test]
async fn a_request_past_its_time_limit_is_stopped_and_frees_the_database() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.project(&admin, "P", None, json!({})).await;
    let url = serve_with(&app, |s| {
        s.request_timeout = std::time::Duration::from_millis(1)
    })
    .await;
    // Hundreds of statements cannot finish within a millisecond.
    let many: String = (0..400)
        .map(|i| format!("a{i}: projects(first: 500) {{ totalCount nodes {{ name }} }} "))
        .collect();
    let (status, body) = send(
        &app.client,
        &url,
        Some(&admin),
        &json!({ "query": format!("{{ {many} }}") }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    // The cancelled work gave its connections back: the server answers others at once.
    for _ in 0..20 {
        let data = app
            .ok(&admin, "{ projects { totalCount } }", json!({}))
            .await;
        assert_eq!(data["projects"]["totalCount"], 1);
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn().await;
    let base = app.url.trim_end_matches("/graphql").to_string();
    let post = app
        .client
        .post(&app.url)
        .header("content-type", "application/json")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    let health = app
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    for resp in [&post, &health] {
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
    }
    // The IDE page runs its scripts, and only talks to this server.
    let ide = app.client.get(&app.url).send().await.unwrap();
    let csp = ide.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn postgresql_statements_have_a_time_limit() {
    let app = spawn().await;
    if app.state.db.backend() != portico::db::Backend::Postgres {
        crate::common::skip(
            "hostile::postgresql_statements_have_a_time_limit",
            "PostgreSQL's statement_timeout, on SQLite",
        );
        return;
    }
    let row = app
        .state
        .db
        .fetch_one(portico::db::q(
            "SELECT current_setting('statement_timeout') AS t",
        ))
        .await
        .unwrap();
    let t: String = row.get("t").unwrap();
    assert_eq!(t, "1min");
}

/// Posts a login from the client address `from` (the server trusts X-Forwarded-For);
/// answers the error code, or "OK".
async fn login_from(app: &crate::common::TestApp, url: &str, from: &str, password: &str) -> String {
    let resp = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("x-forwarded-for", from)
        .json(&json!({
            "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }",
            "variables": { "e": crate::common::ADMIN_EMAIL, "p": password },
        }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("OK")
        .to_string()
}

#[tokio::test]
async fn concurrent_failed_logins_never_pass_the_limit() {
    let app = spawn().await;
    let url = serve_with(&app, |s| s.trust_forwarded_for = true).await;
    let tries = (0..40).map(|_| login_from(&app, &url, "10.0.0.1", "wrong password!"));
    let codes = futures_util::future::join_all(tries).await;
    let checked = codes.iter().filter(|c| *c == "UNAUTHENTICATED").count();
    let limited = codes.iter().filter(|c| *c == "RATE_LIMITED").count();
    // The limit is 10 failures per account and address; the claim and the count are one
    // statement, so racing attempts cannot all be checked.
    assert_eq!((checked, limited), (10, 30), "{codes:?}");
}

#[tokio::test]
async fn an_attacker_cannot_lock_the_owner_out() {
    let app = spawn().await;
    let url = serve_with(&app, |s| s.trust_forwarded_for = true).await;
    for _ in 0..10 {
        assert_eq!(
            login_from(&app, &url, "10.0.0.66", "wrong password!").await,
            "UNAUTHENTICATED"
        );
    }
    // The attacker's address is stopped, even with the right password...
    assert_eq!(
        login_from(&app, &url, "10.0.0.66", crate::common::PASSWORD).await,
        "RATE_LIMITED"
    );
    // ...while the owner, from an address that never failed, signs in.
    assert_eq!(
        login_from(&app, &url, "10.0.0.7", crate::common::PASSWORD).await,
        "OK"
    );
    // Another address gets a try of its own, but not a series: the account is watched.
    for _ in 0..10 {
        login_from(&app, &url, "10.0.0.67", "wrong password!").await;
    }
    assert_eq!(
        login_from(&app, &url, "10.0.0.67", "wrong password!").await,
        "RATE_LIMITED"
    );
    assert_eq!(
        login_from(&app, &url, "10.0.0.68", "wrong password!").await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        login_from(&app, &url, "10.0.0.68", "wrong password!").await,
        "RATE_LIMITED"
    );
    assert_eq!(
        login_from(&app, &url, "10.0.0.7", crate::common::PASSWORD).await,
        "OK"
    );
}
