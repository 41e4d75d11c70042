//! Login, sessions and API keys.

use serde_json::json;

use crate::common::{spawn, ADMIN_EMAIL, PASSWORD};
use portico::db::q;

const VIEWER: &str = "{ viewer { user { name email } globalRights } }";

#[tokio::test]
async fn login_with_the_right_password_gives_a_working_token() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            None,
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token expiresAt user { name email } } }",
            json!({ "e": ADMIN_EMAIL.to_uppercase(), "p": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let login = &body["data"]["login"];
    assert_eq!(
        login["user"]["email"], ADMIN_EMAIL,
        "email matches without case: {body}"
    );
    let token = login["token"].as_str().expect("token");
    assert!(login["expiresAt"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));
    let data = app.ok(token, VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["user"]["email"], ADMIN_EMAIL);
    assert_eq!(data["viewer"]["globalRights"], json!(["ADMIN"]));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_the_same() {
    let app = spawn().await;
    let login =
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }";
    let (code1, e1) = app
        .err(
            None,
            login,
            json!({ "e": ADMIN_EMAIL, "p": "wrong password!" }),
        )
        .await;
    let (code2, e2) = app
        .err(
            None,
            login,
            json!({ "e": "nobody@test.example", "p": "wrong password!" }),
        )
        .await;
    assert_eq!(code1, "UNAUTHENTICATED");
    assert_eq!(code2, "UNAUTHENTICATED");
    assert_eq!(e1["message"], e2["message"]);
    // The failure at a real account is in the audit log; one at an email that names no
    // account is only counted (anyone could fill the log with made-up emails).
    let admin = app.admin().await;
    let data = app
        .ok(&admin, "{ auditEvents(filter: {action: \"LOGIN_FAILED\"}) { totalCount nodes { action actor { id } target details } } }", json!({}))
        .await;
    assert_eq!(data["auditEvents"]["totalCount"], 1, "{data}");
}

#[tokio::test]
async fn no_token_only_allows_login_typename_and_introspection() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            None,
            "{ __typename __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    let (code, _) = app.err(None, VIEWER, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
    let (code, _) = app
        .err(None, "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    let (code, _) = app
        .err(Some("pts_not-a-real-token"), VIEWER, json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn expired_and_logged_out_sessions_are_refused() {
    let app = spawn().await;
    let expired = app.admin().await;
    app.state
        .db
        .execute(
            q("UPDATE session SET expires_at = $1")
                .bind(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .await
        .unwrap();
    let (code, _) = app.err(Some(&expired), VIEWER, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");

    let token = app.admin().await;
    app.ok(&token, VIEWER, json!({})).await;
    let data = app.ok(&token, "mutation { logout }", json!({})).await;
    assert_eq!(data["logout"], true);
    let (code, _) = app.err(Some(&token), VIEWER, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn deactivated_users_lose_their_sessions() {
    let app = spawn().await;
    let admin = app.admin().await;
    let id = app.user(&admin, "temp@test.example", "Full member").await;
    let token = app.login("temp@test.example", PASSWORD).await;
    app.ok(&token, VIEWER, json!({})).await;
    app.ok(
        &admin,
        "mutation($id: ID!) { updateUser(input: {id: $id, active: false}) { id } }",
        json!({ "id": id }),
    )
    .await;
    let (code, _) = app.err(Some(&token), VIEWER, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
    let login = "mutation { login(input: {email: \"temp@test.example\", password: \"correct horse battery\"}) { token } }";
    let (code, _) = app.err(None, login, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
}

const CREATE_KEY: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id name readOnly prefix expiresAt } } }";

#[tokio::test]
async fn api_keys_act_as_their_owner_until_revoked() {
    let app = spawn().await;
    let admin = app.admin().await;
    let data = app
        .ok(&admin, CREATE_KEY, json!({ "i": { "name": "portal" } }))
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_string();
    let id = data["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.starts_with(data["createApiKey"]["apiKey"]["prefix"].as_str().unwrap()));
    let me = app.ok(&secret, VIEWER, json!({})).await;
    assert_eq!(me["viewer"]["user"]["email"], ADMIN_EMAIL);
    // A key can make changes unless read-only.
    app.ok(
        &secret,
        "mutation { createCustomer(input: {name: \"Via key\"}) { id } }",
        json!({}),
    )
    .await;

    let revoked = app
        .ok(
            &admin,
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(revoked["revokeApiKey"]["revokedAt"].is_string());
    let (code, _) = app.err(Some(&secret), VIEWER, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn read_only_keys_refuse_every_mutation() {
    let app = spawn().await;
    let admin = app.admin().await;
    let data = app
        .ok(
            &admin,
            CREATE_KEY,
            json!({ "i": { "name": "reader", "readOnly": true } }),
        )
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_string();
    app.ok(&secret, VIEWER, json!({})).await;
    app.refused(
        Some(&secret),
        "mutation { createCustomer(input: {name: \"Nope\"}) { id } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let app = spawn().await;
    let admin = app.admin().await;
    let e = app
        .refused(
            Some(&admin),
            CREATE_KEY,
            json!({ "i": { "name": "old", "expiresAt": "2001-01-01T00:00:00Z" } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(e["extensions"]["field"], "expiresAt");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM api_key").await, 0);

    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let data = app
        .ok(
            &admin,
            CREATE_KEY,
            json!({ "i": { "name": "soon", "expiresAt": soon } }),
        )
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_string();
    app.ok(&secret, VIEWER, json!({})).await;
    app.state
        .db
        .execute(
            q("UPDATE api_key SET expires_at = $1")
                .bind(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .await
        .unwrap();
    let (code, _) = app.err(Some(&secret), VIEWER, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn only_hashes_of_secrets_are_stored() {
    let app = spawn().await;
    let token = app.admin().await;
    let data = app
        .ok(&token, CREATE_KEY, json!({ "i": { "name": "k" } }))
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_string();
    let stored: Vec<String> = {
        let mut out = Vec::new();
        for sql in [
            "SELECT token_hash AS h FROM session",
            "SELECT key_hash AS h FROM api_key",
            "SELECT password_hash AS h FROM app_user",
            "SELECT details AS h FROM audit_event",
        ] {
            for row in app.state.db.fetch_all(q(sql)).await.unwrap() {
                out.push(row.get::<String>("h").unwrap());
            }
        }
        out
    };
    for s in &stored {
        assert!(
            !s.contains(&token) && !s.contains(&secret) && !s.contains(PASSWORD),
            "secret stored: {s}"
        );
    }
    assert!(
        stored.iter().any(|s| s.starts_with("$argon2id$")),
        "argon2id password hash"
    );
}

#[tokio::test]
async fn keys_narrowed_to_projects_see_only_those_and_their_sub_projects() {
    let app = spawn().await;
    let admin = app.admin().await;
    // Two root projects, one with a child, made directly in storage (project mutations
    // belong to another part of the suite).
    let mut tx = app.state.db.begin().await.unwrap();
    let mk = |name: &str, parent: Option<i64>| portico::db::projects::NewProject {
        name: name.into(),
        code: None,
        status: "OPEN".into(),
        customer_id: None,
        department_id: None,
        parent_id: parent,
        inherit_members: true,
        budget: None,
    };
    let one = portico::db::projects::create_project(&mut tx, mk("One", None))
        .await
        .unwrap();
    portico::db::projects::create_project(&mut tx, mk("One child", Some(one.id)))
        .await
        .unwrap();
    portico::db::projects::create_project(&mut tx, mk("Two", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = app
        .ok(
            &admin,
            "{ projects { totalCount nodes { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(all["projects"]["totalCount"], 3);
    let one_id = all["projects"]["nodes"][0]["id"].as_str().unwrap();
    let data = app
        .ok(
            &admin,
            CREATE_KEY,
            json!({ "i": { "name": "portal", "readOnly": true, "projectIds": [one_id] } }),
        )
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_string();
    let seen = app
        .ok(
            &secret,
            "{ projects { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["projects"]["totalCount"], 2, "{seen}");
    let names: Vec<&str> = seen["projects"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["One", "One child"]);
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_for_any_email() {
    let app = spawn().await;
    let login =
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }";
    for email in [ADMIN_EMAIL, "ghost@test.example"] {
        for _ in 0..10 {
            let (code, _) = app
                .err(None, login, json!({ "e": email, "p": "wrong password!" }))
                .await;
            assert_eq!(code, "UNAUTHENTICATED");
        }
        let (code, _) = app
            .err(None, login, json!({ "e": email, "p": "wrong password!" }))
            .await;
        assert_eq!(code, "RATE_LIMITED", "{email}");
    }
    // Even the right password waits out the window.
    let (code, _) = app
        .err(None, login, json!({ "e": ADMIN_EMAIL, "p": PASSWORD }))
        .await;
    assert_eq!(code, "RATE_LIMITED");
}
