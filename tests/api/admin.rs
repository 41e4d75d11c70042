//! The admin mutations, their validation, and the shapes every list shares.

use serde_json::json;

use crate::common::{spawn, unchanged, EVERY_TABLE, PASSWORD};

const CREATE_USER: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { id name email kind costRate billingRate profile { name } customer { name } } }";

#[tokio::test]
async fn admins_create_users_with_exact_rates() {
    let app = spawn().await;
    let admin = app.admin().await;
    let profile = app.profile_id(&admin, "Customer").await;
    let customer = app
        .ok(
            &admin,
            "mutation { createCustomer(input: {name: \"Acme\"}) { id name } }",
            json!({}),
        )
        .await["createCustomer"]["id"]
        .clone();
    let data = app
        .ok(
            &admin,
            CREATE_USER,
            json!({ "i": { "email": "Cleo@Acme.example", "name": "Cleo", "password": PASSWORD, "kind": "EXTERNAL",
                          "customerId": customer, "profileId": profile, "costRate": "0.10", "billingRate": "120.5" } }),
        )
        .await;
    let u = &data["createUser"];
    assert_eq!(u["email"], "cleo@acme.example");
    assert_eq!(u["kind"], "EXTERNAL");
    assert_eq!(u["costRate"], "0.10");
    assert_eq!(u["billingRate"], "120.50");
    assert_eq!(u["profile"]["name"], "Customer");
    assert_eq!(u["customer"]["name"], "Acme");
    // The new user can sign in and sees their own private fields.
    let token = app.login("cleo@acme.example", PASSWORD).await;
    let me = app
        .ok(
            &token,
            "{ viewer { user { email billingRate } globalRights } }",
            json!({}),
        )
        .await;
    assert_eq!(me["viewer"]["user"]["email"], "cleo@acme.example");
    assert_eq!(me["viewer"]["globalRights"], json!([]));
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let app = spawn().await;
    let admin = app.admin().await;
    let profile = app.profile_id(&admin, "Customer").await;
    let good = json!({ "email": "x@test.example", "name": "X", "password": PASSWORD, "profileId": profile });
    let cases = [
        ("email", json!("not-an-email")),
        ("name", json!("   ")),
        ("name", json!("n".repeat(201))),
        ("password", json!("short")),
        ("costRate", json!("-1.00")),
        ("billingRate", json!("-0.01")),
        ("profileId", json!("UHJvZmlsZTo5OTk")),
        ("customerId", json!("bm90IGFuIGlk")),
    ];
    for (field, value) in cases {
        let mut input = good.clone();
        input[field] = value;
        let e = app
            .refused(
                Some(&admin),
                CREATE_USER,
                json!({ "i": input }),
                "BAD_USER_INPUT",
            )
            .await;
        assert_eq!(e["extensions"]["field"], field, "{e}");
    }
    // A float for money is refused by the Decimal scalar itself.
    let mut input = good.clone();
    input["costRate"] = json!(1.5);
    app.refused(
        Some(&admin),
        CREATE_USER,
        json!({ "i": input }),
        "BAD_USER_INPUT",
    )
    .await;

    app.ok(&admin, CREATE_USER, json!({ "i": good.clone() }))
        .await;
    let mut dup = good.clone();
    dup["email"] = json!("X@TEST.example");
    let e = app
        .refused(
            Some(&admin),
            CREATE_USER,
            json!({ "i": dup }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(e["extensions"]["field"], "email");
}

#[tokio::test]
async fn only_admins_run_admin_mutations() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.user(&admin, "pm@test.example", "Project manager").await;
    let pm = app.login("pm@test.example", PASSWORD).await;
    let profile = app.profile_id(&admin, "Administrator").await;
    let attempts = [
        (
            "mutation { createCustomer(input: {name: \"C\"}) { id } }",
            json!({}),
        ),
        (
            "mutation { createGroup(input: {name: \"G\"}) { id } }",
            json!({}),
        ),
        (
            "mutation { createDepartment(input: {name: \"D\"}) { id } }",
            json!({}),
        ),
        (
            "mutation { createProfile(input: {name: \"P\", rights: [ADMIN]}) { id } }",
            json!({}),
        ),
        (
            "mutation($p: ID!) { updateProfile(input: {id: $p, rights: []}) { id } }",
            json!({ "p": profile }),
        ),
        (
            CREATE_USER,
            json!({ "i": { "email": "e@test.example", "name": "E", "password": PASSWORD, "profileId": profile } }),
        ),
        ("{ auditEvents { totalCount } }", json!({})),
    ];
    for (q, v) in attempts {
        app.refused(Some(&pm), q, v, "FORBIDDEN").await;
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM customer").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM user_group").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM profile").await, 6);
}

#[tokio::test]
async fn profiles_groups_departments_and_customers() {
    let app = spawn().await;
    let admin = app.admin().await;
    let p = app
        .ok(&admin, "mutation { createProfile(input: {name: \"Auditor\", rights: [VIEW_ALL_PROJECTS, SEE_COST]}) { id name rights } }", json!({}))
        .await;
    assert_eq!(
        p["createProfile"]["rights"],
        json!(["VIEW_ALL_PROJECTS", "SEE_COST"])
    );
    let id = p["createProfile"]["id"].clone();
    let p = app
        .ok(&admin, "mutation($id: ID!) { updateProfile(input: {id: $id, name: \"Auditor 2\", rights: [SEE_WORK]}) { name rights } }", json!({ "id": id }))
        .await;
    assert_eq!(
        p["updateProfile"],
        json!({ "name": "Auditor 2", "rights": ["SEE_WORK"] })
    );

    let parent = app
        .ok(
            &admin,
            "mutation { createDepartment(input: {name: \"Delivery\"}) { id } }",
            json!({}),
        )
        .await["createDepartment"]["id"]
        .clone();
    let child = app
        .ok(&admin, "mutation($p: ID) { createDepartment(input: {name: \"Web\", parentId: $p}) { name parent { name } } }", json!({ "p": parent }))
        .await;
    assert_eq!(child["createDepartment"]["parent"]["name"], "Delivery");

    let user = app.user(&admin, "g@test.example", "Full member").await;
    let group = app
        .ok(
            &admin,
            "mutation { createGroup(input: {name: \"Team\"}) { id } }",
            json!({}),
        )
        .await["createGroup"]["id"]
        .clone();
    let g = app
        .ok(&admin, "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u}) { name members { id } } }", json!({ "g": group, "u": user }))
        .await;
    assert_eq!(g["addGroupMember"]["members"][0]["id"], json!(user));
    let g = app
        .ok(&admin, "mutation($g: ID!, $u: ID!) { removeGroupMember(input: {groupId: $g, userId: $u}) { members { id } } }", json!({ "g": group, "u": user }))
        .await;
    assert_eq!(g["removeGroupMember"]["members"], json!([]));
    let e = app
        .refused(
            Some(&admin),
            "mutation { createGroup(input: {name: \"Team\"}) { id } }",
            json!({}),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(e["extensions"]["field"], "name");

    let lists = app
        .ok(
            &admin,
            "{ customers { name } groups { name } departments { name } profiles { name } }",
            json!({}),
        )
        .await;
    assert_eq!(lists["groups"], json!([{ "name": "Team" }]));
    assert_eq!(lists["departments"].as_array().unwrap().len(), 2);
    assert_eq!(lists["profiles"].as_array().unwrap().len(), 7);

    // Every change is audited, with the admin as actor.
    let events = app
        .ok(
            &admin,
            "{ auditEvents(first: 500) { nodes { action actor { email } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = events["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "CREATE_PROFILE",
        "UPDATE_PROFILE",
        "CREATE_DEPARTMENT",
        "CREATE_GROUP",
        "ADD_GROUP_MEMBER",
        "REMOVE_GROUP_MEMBER",
        "CREATE_USER",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test]
async fn connections_page_with_cursors_and_count() {
    let app = spawn().await;
    let admin = app.admin().await;
    for i in 0..7 {
        app.user(&admin, &format!("u{i}@test.example"), "Full member")
            .await;
    }
    let q = "query($a: String) { users(first: 3, after: $a) { totalCount edges { cursor node { id } } nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut after = serde_json::Value::Null;
    let mut seen = Vec::new();
    loop {
        let data = app.ok(&admin, q, json!({ "a": after })).await;
        let c = &data["users"];
        assert_eq!(c["totalCount"], 8);
        assert_eq!(c["pageInfo"]["hasPreviousPage"], !after.is_null());
        for (e, n) in c["edges"]
            .as_array()
            .unwrap()
            .iter()
            .zip(c["nodes"].as_array().unwrap())
        {
            assert_eq!(e["node"]["id"], n["id"]);
            seen.push(n["id"].as_str().unwrap().to_string());
        }
        if c["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 8);
    // Every user once: no page repeats another's (dedup drops adjacent repeats only).
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8);
    let (code, e) = app
        .err(
            Some(&admin),
            "{ users(first: 501) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (code.as_str(), e["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("first"))
    );
    let (code, _) = app
        .err(
            Some(&admin),
            "{ users(after: \"garbage\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test]
async fn node_finds_by_global_id_and_hides_what_is_missing() {
    let app = spawn().await;
    let admin = app.admin().await;
    let c = app
        .ok(
            &admin,
            "mutation { createCustomer(input: {name: \"Acme\"}) { id } }",
            json!({}),
        )
        .await;
    let id = c["createCustomer"]["id"].clone();
    let n = app
        .ok(
            &admin,
            "query($id: ID!) { node(id: $id) { __typename id ... on Customer { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(n["node"]["name"], "Acme");
    assert_eq!(n["node"]["__typename"], "Customer");
    for missing in ["Q3VzdG9tZXI6OTk5", "garbage", "UHJvamVjdDox"] {
        let n = app
            .ok(
                &admin,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": missing }),
            )
            .await;
        assert!(n["node"].is_null(), "{missing}");
    }
}

#[tokio::test]
async fn users_see_themselves_but_not_others_private_fields() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.user(&admin, "a@test.example", "Full member").await;
    let a = app.login("a@test.example", PASSWORD).await;
    let data = app
        .ok(&a, "{ users { totalCount nodes { email } } }", json!({}))
        .await;
    // Not a member of any project: only themself.
    assert_eq!(data["users"]["totalCount"], 1);
    assert_eq!(data["users"]["nodes"][0]["email"], "a@test.example");
    // Changing a user one cannot see (the administrator) is refused, writes nothing, and
    // answers exactly as for a user that does not exist.
    let root = app
        .ok(&admin, "{ viewer { user { id } } }", json!({}))
        .await["viewer"]["user"]["id"]
        .clone();
    let update = "mutation($u: ID!) { updateUser(input: {id: $u, name: \"x\"}) { id } }";
    let (code, hidden) = unchanged(&app, EVERY_TABLE, || {
        app.err(Some(&a), update, json!({ "u": root }))
    })
    .await;
    assert!(code == "FORBIDDEN" || code == "NOT_FOUND", "{code}");
    let missing = app
        .refused(Some(&a), update, json!({ "u": "VXNlcjo5OTk5" }), &code)
        .await;
    assert_eq!(hidden["message"], missing["message"]);
}

/// The check every refusal relies on (`common::unchanged`) sees a new row and a changed
/// column, each in the one table it watches.
#[tokio::test]
async fn the_nothing_written_check_sees_inserts_and_updates() {
    use futures_util::FutureExt;
    let app = spawn().await;
    let admin = app.admin().await;
    let user = app.user(&admin, "u@test.example", "Full member").await;
    for (table, query, variables) in [
        (
            "customer",
            "mutation { createCustomer(input: {name: \"C\"}) { id } }",
            json!({}),
        ),
        (
            "app_user",
            "mutation($u: ID!) { updateUser(input: {id: $u, name: \"Renamed\"}) { id } }",
            json!({ "u": user }),
        ),
    ] {
        let caught = std::panic::AssertUnwindSafe(unchanged(&app, &[table], || {
            app.ok(&admin, query, variables)
        }))
        .catch_unwind()
        .await;
        assert!(caught.is_err(), "a write to {table} went unseen");
    }
}
