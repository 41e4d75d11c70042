//! The demo world and the create-admin command.

use serde_json::json;

use crate::common::{fresh_database, spawn_empty};

async fn project_names(app: &crate::common::TestApp, email: &str) -> Vec<String> {
    let token = app.login(email, portico::demo::DEMO_PASSWORD).await;
    app.sees(&token).await
}

#[tokio::test]
async fn demo_world_shows_each_user_what_the_printout_says() {
    let app = spawn_empty().await;
    let text = portico::demo::load_if_empty(&app.state)
        .await
        .unwrap()
        .expect("loaded");
    assert!(text.contains("client@acme.example"));
    assert!(
        portico::demo::load_if_empty(&app.state)
            .await
            .unwrap()
            .is_none(),
        "loads only once"
    );

    assert_eq!(
        project_names(&app, "client@acme.example").await,
        ["Support contract"]
    );
    assert_eq!(
        project_names(&app, "leader@acme.example").await,
        ["Acme Website", "Design", "Newsletter"]
    );
    assert_eq!(
        project_names(&app, "dev@portico.example").await,
        [
            "Acme Support Program",
            "Other support work",
            "Support contract"
        ]
    );
    assert_eq!(project_names(&app, "senior@portico.example").await.len(), 8);
    assert_eq!(project_names(&app, "admin@portico.example").await.len(), 8);
    // An external user with the Project manager profile stays under the ceiling.
    assert_eq!(
        project_names(&app, "partner@acme.example").await,
        ["Acme Website", "Design", "Newsletter"]
    );
    let partner = app
        .login("partner@acme.example", portico::demo::DEMO_PASSWORD)
        .await;
    let (_, body) = app
        .post(
            Some(&partner),
            "{ projects(filter: {topLevelOnly: true}) { nodes { name budget viewerRights } } }",
            json!({}),
        )
        .await;
    let website = &body["data"]["projects"]["nodes"][0];
    assert_eq!(website["name"], "Acme Website", "{body}");
    assert!(website["budget"].is_null(), "{body}");
    let rights = website["viewerRights"].as_array().unwrap();
    assert!(rights.contains(&json!("EDIT_PROJECT")), "{body}");
    for hidden in ["SEE_COST", "MANAGE_MEMBERS", "VIEW_INTERNAL_DOCUMENTS"] {
        assert!(!rights.contains(&json!(hidden)), "{hidden}: {body}");
    }
    assert!(crate::common::redacted(&body, "Project.budget").is_some());
    let pm = project_names(&app, "pm@portico.example").await;
    assert_eq!(pm.len(), 7);
    assert!(!pm.contains(&"Legacy migration".to_string()));
}

#[tokio::test]
async fn create_admin_command_bootstraps_the_first_administrator() {
    let (url, _cleanup) = fresh_database().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([
            "create-admin",
            "--email",
            "boss@test.example",
            "--name",
            "Boss",
            "--database-url",
            &url,
        ])
        .env("PORTICO_ADMIN_PASSWORD", "a long enough password")
        .env_remove("PORTICO_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = portico::open(&url).await.unwrap();
    let (user, hash) = portico::db::users::find_user_for_login_unscoped(&db, "boss@test.example")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(user.name, "Boss");
    assert!(hash.starts_with("$argon2id$"));
    // Too short a password is refused and writes nothing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([
            "create-admin",
            "--email",
            "b2@test.example",
            "--name",
            "B",
            "--database-url",
            &url,
        ])
        .env("PORTICO_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        portico::db::users::find_user_for_login_unscoped(&db, "b2@test.example")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn demo_client_sees_hours_invoice_and_shared_documents_but_no_cost() {
    let app = spawn_empty().await;
    portico::demo::load_if_empty(&app.state).await.unwrap();
    let token = app
        .login("client@acme.example", portico::demo::DEMO_PASSWORD)
        .await;
    let (_, body) = app
        .post(
            Some(&token),
            "{ projects { nodes { name budget tasks { nodes { name realWork realCost timeEntries { totalCount nodes { hours cost } } } } documents { nodes { title } } invoices { nodes { total lines { hours } } } } } }",
            json!({}),
        )
        .await;
    let p = &body["data"]["projects"]["nodes"][0];
    assert_eq!(p["name"], "Support contract");
    assert!(p["budget"].is_null());
    let task = &p["tasks"]["nodes"][0];
    assert_eq!(task["realWork"].as_f64(), Some(5.25));
    assert!(task["realCost"].is_null());
    assert_eq!(task["timeEntries"]["totalCount"], 3);
    assert_eq!(
        p["documents"]["nodes"],
        json!([{ "title": "Support handbook" }])
    );
    assert_eq!(p["invoices"]["nodes"][0]["total"], "337.50");
    assert!(crate::common::redacted(&body, "TimeEntry.cost").is_some());
}
