//! Hidden data stays hidden on every path: ids, interfaces, counts, nested paths,
//! roll-ups, filters and error messages.

use serde_json::json;

use crate::common::{redacted, spawn};

#[tokio::test]
async fn hidden_items_look_missing_everywhere() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (user_id, user) = app.person(&admin, "u@test.example", "Full member").await;
    let mine = app.project(&admin, "Mine", None, json!({})).await;
    let hidden = app.project(&admin, "Hidden", None, json!({})).await;
    app.member(&admin, &mine, &user_id, "Full member").await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    app.member(&admin, &hidden, &pm_id, "Project manager").await;
    let task = app
        .task(
            &pm,
            &hidden,
            "Secret task",
            json!({ "plannedCost": "999.00" }),
        )
        .await;
    let entry = app.log(&pm, &task, "2026-11-02", 2.0).await;
    let doc = app
        .ok(&pm, "mutation($p: ID!) { createDocument(input: {projectId: $p, title: \"Secret\", visibility: SHARED}) { id } }", json!({ "p": hidden }))
        .await["createDocument"]["id"]
        .clone();
    app.ok(
        &pm,
        "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { id } }",
        json!({ "e": [entry] }),
    )
    .await;
    let inv = app
        .ok(&pm, "mutation($p: ID!) { generateInvoice(input: {projectId: $p, from: \"2026-11-01\", to: \"2026-11-30\"}) { id } }", json!({ "p": hidden }))
        .await["generateInvoice"]["id"]
        .clone();

    for id in [
        json!(hidden),
        json!(task),
        json!(entry),
        doc.clone(),
        inv.clone(),
    ] {
        let (_, body) = app
            .post(Some(&user), "query($id: ID!) { node(id: $id) { id ... on Task { plannedCost } ... on Project { budget } } }", json!({ "id": id }))
            .await;
        assert!(body["data"]["node"].is_null(), "{id} leaked: {body}");
        assert!(
            body.get("errors").is_none() && body.get("extensions").is_none(),
            "{body}"
        );
    }
    let data = app
        .ok(
            &user,
            "query($p: ID!, $t: ID!) { project(id: $p) { id } task(id: $t) { id } projects { totalCount } tasks { totalCount } timeEntries { totalCount } documents { totalCount } invoices { totalCount } }",
            json!({ "p": hidden, "t": task }),
        )
        .await;
    assert!(data["project"].is_null() && data["task"].is_null());
    for list in ["projects", "tasks", "timeEntries", "documents", "invoices"] {
        let expected = if list == "projects" { 1 } else { 0 };
        assert_eq!(data[list]["totalCount"], expected, "{list}");
    }
    // Filtering by a hidden project finds nothing rather than an error.
    let data = app
        .ok(&user, "query($p: ID) { timeEntries(filter: {projectId: $p}) { totalCount } tasks(filter: {projectId: $p}) { totalCount } }", json!({ "p": hidden }))
        .await;
    assert_eq!(data["timeEntries"]["totalCount"], 0);
    assert_eq!(data["tasks"]["totalCount"], 0);

    // A mutation on a hidden item answers exactly as on a missing one, and writes nothing.
    let missing_project = "UHJvamVjdDo5OTk5";
    let update = "mutation($p: ID!) { updateProject(input: {id: $p, name: \"x\"}) { id } }";
    let e1 = app
        .refused(Some(&user), update, json!({ "p": hidden }), "NOT_FOUND")
        .await;
    let e2 = app
        .refused(
            Some(&user),
            update,
            json!({ "p": missing_project }),
            "NOT_FOUND",
        )
        .await;
    assert_eq!(e1["message"], e2["message"]);
    app.refused(
        Some(&user),
        "mutation($t: ID!) { logTime(input: {taskId: $t, date: \"2026-11-03\", hours: 1}) { id } }",
        json!({ "t": task }),
        "NOT_FOUND",
    )
    .await;
    app.refused(
        Some(&user),
        "mutation($i: ID!) { issueInvoice(id: $i) { id } }",
        json!({ "i": inv }),
        "NOT_FOUND",
    )
    .await;
    app.refused(
        Some(&user),
        "mutation($d: ID!) { deleteDocument(id: $d) { id } }",
        json!({ "d": doc }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn guarded_fields_through_the_node_interface_are_null_and_reported() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (user_id, user) = app.person(&admin, "u@test.example", "Full member").await;
    let p = app
        .project(&admin, "P", None, json!({ "budget": "5000.00" }))
        .await;
    app.member(&admin, &p, &user_id, "Full member").await;
    let task = app
        .task(
            &admin,
            &p,
            "T",
            json!({ "plannedCost": "100.00", "plannedWork": 8.0 }),
        )
        .await;
    let (_, body) = app
        .post(Some(&user), "query($t: ID!, $p: ID!) { a: node(id: $t) { ... on Task { plannedCost plannedWork realCost } } b: node(id: $p) { ... on Project { budget plannedCost plannedWork } } }", json!({ "t": task, "p": p }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["a"]["plannedCost"].is_null() && body["data"]["a"]["realCost"].is_null());
    assert_eq!(body["data"]["a"]["plannedWork"].as_f64(), Some(8.0));
    assert!(body["data"]["b"]["budget"].is_null() && body["data"]["b"]["plannedCost"].is_null());
    assert_eq!(body["data"]["b"]["plannedWork"].as_f64(), Some(8.0));
    for f in [
        "Task.plannedCost",
        "Task.realCost",
        "Project.budget",
        "Project.plannedCost",
    ] {
        let r = redacted(&body, f).unwrap_or_else(|| panic!("{f} not reported: {body}"));
        assert_eq!(r["right"], "SEE_COST");
        assert_eq!(r["count"], 1);
    }
}

#[tokio::test]
async fn roll_ups_across_an_own_rights_room_stay_hidden() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    let parent = app.project(&admin, "Parent", None, json!({})).await;
    let child = app.project(&admin, "Child", Some(&parent), json!({})).await;
    let room = app
        .project(
            &admin,
            "Room",
            Some(&parent),
            json!({ "inheritMembers": false }),
        )
        .await;
    app.member(&admin, &parent, &pm_id, "Project manager").await;
    app.task(
        &admin,
        &parent,
        "A",
        json!({ "plannedCost": "10.00", "plannedWork": 1.0 }),
    )
    .await;
    app.task(
        &admin,
        &child,
        "B",
        json!({ "plannedCost": "20.00", "plannedWork": 2.0 }),
    )
    .await;
    app.task(
        &admin,
        &room,
        "C",
        json!({ "plannedCost": "40.00", "plannedWork": 4.0 }),
    )
    .await;
    let q = "query($p: ID!) { project(id: $p) { plannedCost plannedWork children { nodes { name plannedCost } } } }";
    // The manager holds SEE_COST on Parent and Child but nothing on Room: the parent's
    // roll-up would include the room's figures, so it is hidden.
    let (_, body) = app.post(Some(&pm), q, json!({ "p": parent })).await;
    assert!(body["data"]["project"]["plannedCost"].is_null(), "{body}");
    assert!(body["data"]["project"]["plannedWork"].is_null());
    assert_eq!(
        body["data"]["project"]["children"]["nodes"],
        json!([{ "name": "Child", "plannedCost": "20.00" }])
    );
    assert!(redacted(&body, "Project.plannedCost").is_some());
    // Admin sees the full roll-up; once the manager joins the room, so do they.
    let all = app.ok(&admin, q, json!({ "p": parent })).await;
    assert_eq!(all["project"]["plannedCost"], "70.00");
    app.member(&admin, &room, &pm_id, "Project manager").await;
    let now = app.ok(&pm, q, json!({ "p": parent })).await;
    assert_eq!(now["project"]["plannedCost"], "70.00");
    assert_eq!(now["project"]["plannedWork"].as_f64(), Some(7.0));
}

#[tokio::test]
async fn others_hours_and_private_user_fields_need_their_rights() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (a_id, a) = app.person(&admin, "a@test.example", "Full member").await;
    let (b_id, b) = app.person(&admin, "b@test.example", "Full member").await;
    app.ok(
        &admin,
        "mutation($u: ID!) { updateUser(input: {id: $u, costRate: \"80.00\"}) { id } }",
        json!({ "u": b_id }),
    )
    .await;
    let p = app.project(&admin, "P", None, json!({})).await;
    let t = app.task(&admin, &p, "T", json!({})).await;
    let timesheets = app
        .new_profile(&admin, "Timesheet viewer", &["LOG_TIME", "VIEW_TIMESHEETS"])
        .await;
    let _ = timesheets;
    app.member(&admin, &p, &a_id, "Timesheet viewer").await;
    app.member(&admin, &p, &b_id, "Full member").await;
    app.log(&a, &t, "2026-11-02", 1.0).await;
    app.log(&b, &t, "2026-11-02", 6.0).await;
    // a sees b's entry (VIEW_TIMESHEETS) but not its hours (no SEE_WORK) nor any cost.
    let (_, body) = app
        .post(
            Some(&a),
            "{ timeEntries { nodes { hours cost user { name email costRate } } } }",
            json!({}),
        )
        .await;
    let nodes = body["data"]["timeEntries"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    let own = nodes
        .iter()
        .find(|n| n["user"]["name"] == "a@test.example")
        .unwrap();
    let other = nodes
        .iter()
        .find(|n| n["user"]["name"] == "b@test.example")
        .unwrap();
    assert_eq!(own["hours"].as_f64(), Some(1.0));
    assert!(other["hours"].is_null() && other["cost"].is_null());
    assert!(other["user"]["email"].is_null() && other["user"]["costRate"].is_null());
    assert_eq!(
        redacted(&body, "TimeEntry.hours").unwrap()["right"],
        "SEE_WORK"
    );
    // b without VIEW_TIMESHEETS sees only their own entry.
    let data = app
        .ok(
            &b,
            "{ timeEntries { totalCount nodes { hours } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["timeEntries"]["totalCount"], 1);
    assert_eq!(data["timeEntries"]["nodes"][0]["hours"].as_f64(), Some(6.0));
    // SEE_COST on a project b belongs to shows b's rate.
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    app.member(&admin, &p, &pm_id, "Project manager").await;
    let data = app
        .ok(
            &pm,
            "query($u: ID!) { node(id: $u) { ... on User { costRate } } }",
            json!({ "u": b_id }),
        )
        .await;
    assert_eq!(data["node"]["costRate"], "80.00");
    let data = app
        .ok(&a, "{ timeEntries { nodes { cost } } }", json!({}))
        .await;
    assert!(data["timeEntries"]["nodes"][0]["cost"].is_null());
}

#[tokio::test]
async fn internal_documents_need_their_right_even_for_document_managers() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let p = app.project(&admin, "P", None, json!({})).await;
    app.new_profile(&admin, "Doc manager", &["MANAGE_DOCUMENTS"])
        .await;
    app.member(&admin, &p, &u_id, "Doc manager").await;
    for (title, vis) in [("Shared", "SHARED"), ("Internal", "INTERNAL")] {
        app.ok(
            &admin,
            "mutation($p: ID!, $t: String!, $v: DocumentVisibility) { createDocument(input: {projectId: $p, title: $t, visibility: $v}) { id } }",
            json!({ "p": p, "t": title, "v": vis }),
        )
        .await;
    }
    let data = app
        .ok(&u, "{ documents { nodes { title } } }", json!({}))
        .await;
    assert_eq!(data["documents"]["nodes"], json!([{ "title": "Shared" }]));
}

#[tokio::test]
async fn filters_by_hidden_items_find_nothing_and_hidden_parents_make_top_level() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let hidden = app.project(&admin, "Hidden parent", None, json!({})).await;
    let child = app
        .project(
            &admin,
            "Room",
            Some(&hidden),
            json!({ "inheritMembers": false }),
        )
        .await;
    app.member(&admin, &child, &u_id, "Full member").await;
    let data = app
        .ok(&u, "query($p: ID) { a: projects(filter: {parentId: $p}) { totalCount } b: projects(filter: {topLevelOnly: true}) { nodes { name parent { id } } } timeEntries(filter: {projectId: $p, includeSubProjects: true}) { totalCount } }", json!({ "p": hidden }))
        .await;
    assert_eq!(
        data["a"]["totalCount"], 0,
        "a hidden parent's children would prove it exists"
    );
    assert_eq!(
        data["b"]["nodes"],
        json!([{ "name": "Room", "parent": null }])
    );
    assert_eq!(data["timeEntries"]["totalCount"], 0);
    let (code, _) = app
        .err(
            Some(&u),
            "query($c: ID) { users(filter: {customerId: $c}) { totalCount } }",
            json!({ "c": "Q3VzdG9tZXI6MQ" }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test]
async fn users_are_only_named_when_visible_and_rules_only_to_their_managers() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    let stranger = app
        .user(&admin, "stranger@test.example", "Full member")
        .await;
    let p = app.project(&admin, "P", None, json!({})).await;
    app.member(&admin, &p, &pm_id, "Project manager").await;
    let e = app
        .refused(Some(&pm), "mutation($p: ID!, $u: ID) { createTask(input: {projectId: $p, name: \"T\", assigneeId: $u}) { id } }", json!({ "p": p, "u": stranger }), "BAD_USER_INPUT")
        .await;
    assert_eq!(e["extensions"]["field"], "assigneeId");
    app.refused(Some(&pm), "mutation($p: ID!, $u: ID) { setFolderRule(input: {projectId: $p, folder: \"X\", userId: $u}) { id } }", json!({ "p": p, "u": stranger }), "BAD_USER_INPUT")
        .await;
    let rule = app
        .ok(&pm, "mutation($p: ID!, $u: ID) { setFolderRule(input: {projectId: $p, folder: \"X\", userId: $u}) { id } }", json!({ "p": p, "u": pm_id }))
        .await["setFolderRule"]["id"]
        .clone();
    let (m_id, m) = app.person(&admin, "m@test.example", "Full member").await;
    app.member(&admin, &p, &m_id, "Full member").await;
    // Rules are shown to document managers only.
    app.refused(
        Some(&m),
        "mutation($r: ID!) { removeFolderRule(id: $r) { id } }",
        json!({ "r": rule }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn narrowed_keys_carry_no_global_powers_and_must_name_projects() {
    let app = spawn().await;
    let admin = app.admin().await;
    // Other projects around the key's one, so that the narrowing shows: a sub-project of
    // it (inside), a sibling and a sub-project of that (outside); a member on each side.
    let p = app.project(&admin, "P", None, json!({})).await;
    app.project(&admin, "P child", Some(&p), json!({})).await;
    let other = app.project(&admin, "Other", None, json!({})).await;
    app.project(&admin, "Other child", Some(&other), json!({}))
        .await;
    let inside = app.user(&admin, "inside@test.example", "Full member").await;
    let outside = app
        .user(&admin, "outside@test.example", "Full member")
        .await;
    app.member(&admin, &p, &inside, "Full member").await;
    app.member(&admin, &other, &outside, "Full member").await;
    let create = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }";
    let e = app
        .refused(
            Some(&admin),
            create,
            json!({ "i": { "name": "k", "projectIds": [] } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(e["extensions"]["field"], "projectIds");
    let key = app
        .ok(
            &admin,
            create,
            json!({ "i": { "name": "portal", "projectIds": [p] } }),
        )
        .await["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let seen_query = "{ projects { totalCount nodes { name } } users { totalCount nodes { name } } viewer { globalRights } }";
    let names = |v: &serde_json::Value, list: &str| -> Vec<String> {
        let mut n: Vec<String> = v[list]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    // The owner, without the key, sees everything...
    let all = app.ok(&admin, seen_query, json!({})).await;
    assert_eq!(all["projects"]["totalCount"], 4);
    assert_eq!(all["users"]["totalCount"], 3);
    // ...the key, its project and what is below it, with no global right: no ADMIN, so of
    // the users only the owner and the co-members of the projects it sees.
    let seen = app.ok(&key, seen_query, json!({})).await;
    assert_eq!(names(&seen, "projects"), ["P", "P child"], "{seen}");
    assert_eq!(seen["projects"]["totalCount"], 2);
    assert_eq!(seen["viewer"]["globalRights"], json!([]));
    assert_eq!(
        names(&seen, "users"),
        ["Root Admin", "inside@test.example"],
        "{seen}"
    );
    assert_eq!(seen["users"]["totalCount"], 2);
    let hidden = app
        .ok(
            &key,
            "query($p: ID!) { project(id: $p) { id } node(id: $p) { id } }",
            json!({ "p": other }),
        )
        .await;
    assert!(hidden["project"].is_null() && hidden["node"].is_null());
    let (code, _) = app
        .err(Some(&key), "{ auditEvents { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "FORBIDDEN");
    app.refused(
        Some(&key),
        "mutation { createCustomer(input: {name: \"x\"}) { id } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn memberships_and_folder_rules_are_nodes_for_those_who_may_see_them() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let (_, other) = app.person(&admin, "o@test.example", "Full member").await;
    let p = app.project(&admin, "P", None, json!({})).await;
    let m = app.member(&admin, &p, &u_id, "Full member").await;
    let rule = app
        .ok(&admin, "mutation($p: ID!, $u: ID) { setFolderRule(input: {projectId: $p, folder: \"X\", userId: $u}) { id } }", json!({ "p": p, "u": u_id }))
        .await["setFolderRule"]["id"]
        .clone();
    let q = "query($m: ID!, $r: ID!) { m: node(id: $m) { id } r: node(id: $r) { id } }";
    let seen = app.ok(&u, q, json!({ "m": m, "r": rule })).await;
    assert_eq!(seen["m"]["id"], json!(m));
    assert!(seen["r"].is_null(), "rules are for document managers");
    let seen = app.ok(&admin, q, json!({ "m": m, "r": rule })).await;
    assert_eq!(seen["r"]["id"], rule);
    let seen = app.ok(&other, q, json!({ "m": m, "r": rule })).await;
    assert!(seen["m"].is_null() && seen["r"].is_null());
}

#[tokio::test]
async fn customers_departments_and_groups_are_listed_only_where_they_touch_the_caller() {
    let app = spawn().await;
    let admin = app.admin().await;
    let mk = |q: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let v = app.ok(&admin, q, json!({})).await;
            v.as_object().unwrap().values().next().unwrap()["id"].clone()
        }
    };
    let acme = mk("mutation { createCustomer(input: {name: \"Acme\"}) { id } }").await;
    let globex = mk("mutation { createCustomer(input: {name: \"Globex\"}) { id } }").await;
    mk("mutation { createDepartment(input: {name: \"Secret lab\"}) { id } }").await;
    mk("mutation { createGroup(input: {name: \"Board\"}) { id } }").await;
    let (c_id, c) = app.person(&admin, "c@acme.example", "Customer").await;
    let p = app
        .project(&admin, "Acme site", None, json!({ "customerId": acme }))
        .await;
    app.project(&admin, "Globex site", None, json!({ "customerId": globex }))
        .await;
    app.member(&admin, &p, &c_id, "Customer").await;
    let seen = app
        .ok(
            &c,
            "{ customers { name } departments { name } groups { name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        seen["customers"],
        json!([{ "name": "Acme" }]),
        "another client's name leaked"
    );
    assert_eq!(seen["departments"], json!([]));
    assert_eq!(seen["groups"], json!([]));
    let n = app
        .ok(
            &c,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": globex }),
        )
        .await;
    assert!(n["node"].is_null());
    let all = app
        .ok(
            &admin,
            "{ customers { name } departments { name } groups { name } }",
            json!({}),
        )
        .await;
    assert_eq!(all["customers"].as_array().unwrap().len(), 2);
    assert_eq!(all["departments"].as_array().unwrap().len(), 1);
}
