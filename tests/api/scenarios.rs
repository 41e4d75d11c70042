//! One test per scenario of the four reference texts (../shared/reference/), each queried
//! the way a customer portal would.

use serde_json::json;

use crate::common::{redacted, spawn};

/// ProjeQtOr forum: a customer user as "external project leader" creates his own projects,
/// is automatically a member, sees only the projects he is affected to, creates
/// sub-projects only under those, and never sees cost.
#[tokio::test]
async fn projeqtor_external_project_leader() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, leader) = app
        .person(&admin, "leader@acme.example", "External project leader")
        .await;
    let (staff_id, staff) = app.person(&admin, "staff@us.example", "Full member").await;
    let other = app
        .project(&admin, "Other customer's project", None, json!({}))
        .await;

    // He creates "Website" and is automatically affected to it.
    let website = app.project(&leader, "Website", None, json!({})).await;
    assert_eq!(app.sees(&leader).await, ["Website"]);
    // ...and adds sub-projects under it, but only under projects he is affected to.
    app.project(&leader, "Design", Some(&website), json!({}))
        .await;
    app.project(&leader, "Newsletter", Some(&website), json!({}))
        .await;
    app.refused(
        Some(&leader),
        "mutation($p: ID) { createProject(input: {name: \"Shop\", parentId: $p}) { id } }",
        json!({ "p": other }),
        "NOT_FOUND",
    )
    .await;
    assert_eq!(app.sees(&leader).await, ["Design", "Newsletter", "Website"]);

    // The internal team is affected to the top project and so reaches the sub-projects.
    app.member(&admin, &website, &staff_id, "Full member").await;
    assert_eq!(app.sees(&staff).await, ["Design", "Newsletter", "Website"]);

    // Tasks and documents: the leader may add them ("Documents and Activities").
    let task = app
        .task(
            &leader,
            &website,
            "Homepage",
            json!({ "validatedWork": 40.0, "plannedWork": 50.0 }),
        )
        .await;
    app.ok(
        &leader,
        "mutation($p: ID!) { createDocument(input: {projectId: $p, title: \"Brief\", visibility: SHARED}) { id } }",
        json!({ "p": website }),
    )
    .await;
    // Internal-only information: an INTERNAL document he cannot see nor create.
    app.refused(Some(&leader), "mutation($p: ID!) { createDocument(input: {projectId: $p, title: \"Margins\", visibility: INTERNAL}) { id } }", json!({ "p": website }), "FORBIDDEN")
        .await;
    app.member(&admin, &website, &staff_id, "Project manager")
        .await;
    app.ok(
        &staff,
        "mutation($p: ID!) { createDocument(input: {projectId: $p, title: \"Margins\", visibility: INTERNAL}) { id } }",
        json!({ "p": website }),
    )
    .await;
    app.ok(
        &staff,
        "mutation($t: ID!) { updateTask(input: {id: $t, plannedCost: \"1200.00\"}) { id } }",
        json!({ "t": task }),
    )
    .await;
    let titles = app
        .ok(
            &leader,
            "query($p: ID!) { project(id: $p) { documents { nodes { title } } } }",
            json!({ "p": website }),
        )
        .await;
    assert_eq!(
        titles["project"]["documents"]["nodes"],
        json!([{ "title": "Brief" }])
    );

    // Work yes, cost no ("Specific access rights").
    let (_, body) = app
        .post(
            Some(&leader),
            "query($t: ID!) { task(id: $t) { name validatedWork plannedWork plannedCost validatedCost } }",
            json!({ "t": task }),
        )
        .await;
    let t = &body["data"]["task"];
    assert_eq!(
        (t["validatedWork"].as_f64(), t["plannedWork"].as_f64()),
        (Some(40.0), Some(50.0))
    );
    assert!(t["plannedCost"].is_null() && t["validatedCost"].is_null());
    assert_eq!(
        redacted(&body, "Task.plannedCost").unwrap()["right"],
        "SEE_COST"
    );
    assert!(body.get("errors").is_none());
}

/// ProjeQtOr forum: to let the leader look at all projects of a customer, affect him to
/// them with a profile that gives visibility and no update right.
#[tokio::test]
async fn projeqtor_view_only_affectation() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (leader_id, leader) = app
        .person(&admin, "leader@acme.example", "External project leader")
        .await;
    let p1 = app.project(&admin, "Acme 1", None, json!({})).await;
    let p2 = app.project(&admin, "Acme 2", None, json!({})).await;
    app.project(&admin, "Globex", None, json!({})).await;
    app.member(&admin, &p1, &leader_id, "Customer").await;
    app.member(&admin, &p2, &leader_id, "Customer").await;
    assert_eq!(app.sees(&leader).await, ["Acme 1", "Acme 2"]);
    let data = app
        .ok(
            &leader,
            "query($p: ID!) { project(id: $p) { viewerRights } }",
            json!({ "p": p1 }),
        )
        .await;
    assert_eq!(data["project"]["viewerRights"], json!(["VIEW_INVOICES"]));
    app.refused(
        Some(&leader),
        "mutation($p: ID!) { updateProject(input: {id: $p, name: \"Renamed\"}) { id } }",
        json!({ "p": p1 }),
        "FORBIDDEN",
    )
    .await;
}

/// ]project-open[ "Project Permissions": Project Manager reads and writes, Full Member reads
/// and logs hours; groups as members; view/edit all; department (cost center) subtrees;
/// closed and potential projects hidden without "view projects history".
#[tokio::test]
async fn project_open_roles_and_groups() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@us.example", "Full member").await;
    let (fm_id, fm) = app.person(&admin, "fm@us.example", "Full member").await;
    let (g1_id, g1) = app.person(&admin, "g1@us.example", "Full member").await;
    let p = app.project(&admin, "Rollout", None, json!({})).await;
    app.member(&admin, &p, &pm_id, "Project manager").await;
    app.member(&admin, &p, &fm_id, "Full member").await;
    let task = app.task(&pm, &p, "Install", json!({})).await;

    app.ok(
        &pm,
        "mutation($p: ID!) { updateProject(input: {id: $p, name: \"Rollout 2\"}) { id } }",
        json!({ "p": p }),
    )
    .await;
    app.refused(
        Some(&fm),
        "mutation($p: ID!) { updateProject(input: {id: $p, name: \"x\"}) { id } }",
        json!({ "p": p }),
        "FORBIDDEN",
    )
    .await;
    app.log(&fm, &task, "2026-11-02", 3.5).await;

    // A group as member: its users get the membership.
    let group = app
        .ok(
            &admin,
            "mutation { createGroup(input: {name: \"Ops\"}) { id } }",
            json!({}),
        )
        .await["createGroup"]["id"]
        .clone();
    app.ok(
        &admin,
        "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u}) { id } }",
        json!({ "g": group, "u": g1_id }),
    )
    .await;
    assert!(app.sees(&g1).await.is_empty());
    let profile = app.profile_id(&admin, "Full member").await;
    app.ok(
        &admin,
        "mutation($p: ID!, $g: ID!, $pr: ID!) { addProjectMember(input: {projectId: $p, groupId: $g, profileId: $pr}) { id } }",
        json!({ "p": p, "g": group, "pr": profile }),
    )
    .await;
    assert_eq!(app.sees(&g1).await, ["Rollout 2"]);
    let why = app
        .ok(&g1, "query($p: ID!) { explainAccess(projectId: $p) { visible grants { right via group { name } } } }", json!({ "p": p }))
        .await;
    assert!(why["explainAccess"]["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["via"] == "GROUP_MEMBERSHIP"
            && g["group"]["name"] == "Ops"
            && g["right"] == "LOG_TIME"));
}

#[tokio::test]
async fn project_open_global_and_department_privileges() {
    let app = spawn().await;
    let admin = app.admin().await;
    let dept = |name: &str, parent: Option<serde_json::Value>| {
        let app = &app;
        let admin = admin.clone();
        let name = name.to_string();
        async move {
            app.ok(&admin, "mutation($n: String!, $p: ID) { createDepartment(input: {name: $n, parentId: $p}) { id } }", json!({ "n": name, "p": parent }))
                .await["createDepartment"]["id"]
                .clone()
        }
    };
    let ops = dept("Operations", None).await;
    let web = dept("Web", Some(ops.clone())).await;
    let sales = dept("Sales", None).await;
    app.project(&admin, "Ops project", None, json!({ "departmentId": ops }))
        .await;
    app.project(&admin, "Web project", None, json!({ "departmentId": web }))
        .await;
    app.project(
        &admin,
        "Sales project",
        None,
        json!({ "departmentId": sales }),
    )
    .await;
    app.project(&admin, "No department", None, json!({})).await;
    let closed = app
        .project(
            &admin,
            "Old web project",
            None,
            json!({ "departmentId": web, "status": "CLOSED" }),
        )
        .await;

    app.new_profile(
        &admin,
        "Dept viewer",
        &["VIEW_DEPARTMENT_PROJECTS", "SEE_WORK"],
    )
    .await;
    app.new_profile(&admin, "All viewer", &["VIEW_ALL_PROJECTS", "SEE_COST"])
        .await;
    app.new_profile(&admin, "All editor", &["EDIT_ALL_PROJECTS", "EDIT_PROJECT"])
        .await;
    let dv = app.user(&admin, "dv@us.example", "Dept viewer").await;
    app.ok(
        &admin,
        "mutation($u: ID!, $d: ID) { updateUser(input: {id: $u, departmentId: $d}) { id } }",
        json!({ "u": dv, "d": ops }),
    )
    .await;
    let dv = app.login("dv@us.example", crate::common::PASSWORD).await;
    // The Operations cost center and below, without the closed one (no history right).
    assert_eq!(app.sees(&dv).await, ["Ops project", "Web project"]);
    // A user without a department never matches a department right.
    let (_, nodept) = app.person(&admin, "nd@us.example", "Dept viewer").await;
    assert!(app.sees(&nodept).await.is_empty());

    let (_, all) = app.person(&admin, "all@us.example", "All viewer").await;
    assert_eq!(app.sees(&all).await.len(), 5, "view all includes history");
    // View all is read-only.
    app.refused(
        Some(&all),
        "mutation($p: ID!) { updateProject(input: {id: $p, name: \"x\"}) { id } }",
        json!({ "p": closed }),
        "FORBIDDEN",
    )
    .await;
    let (_, editor) = app.person(&admin, "ed@us.example", "All editor").await;
    app.ok(
        &editor,
        "mutation($p: ID!) { updateProject(input: {id: $p, name: \"Renamed\"}) { name } }",
        json!({ "p": closed }),
    )
    .await;
}

#[tokio::test]
async fn project_open_history_hides_closed_and_potential_projects() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (client_id, client) = app.person(&admin, "client@acme.example", "Customer").await;
    let open = app.project(&admin, "Current", None, json!({})).await;
    let closed = app
        .project(&admin, "Finished", None, json!({ "status": "CLOSED" }))
        .await;
    let potential = app
        .project(&admin, "Maybe", None, json!({ "status": "POTENTIAL" }))
        .await;
    for p in [&open, &closed, &potential] {
        app.member(&admin, p, &client_id, "Customer").await;
    }
    assert_eq!(app.sees(&client).await, ["Current"]);
    let n = app
        .ok(
            &client,
            "query($p: ID!) { project(id: $p) { id } }",
            json!({ "p": closed }),
        )
        .await;
    assert!(n["project"].is_null());
    // The admin can explain why.
    let why = app
        .ok(&admin, "query($p: ID!, $u: ID) { explainAccess(projectId: $p, userId: $u) { visible reason message } }", json!({ "p": closed, "u": client_id }))
        .await;
    assert_eq!(why["explainAccess"]["visible"], false);
    assert_eq!(why["explainAccess"]["reason"], "STATUS_HIDDEN");
    // With the history right the same memberships show all three.
    let history = app
        .new_profile(&admin, "Customer with history", &["VIEW_PROJECT_HISTORY"])
        .await;
    app.ok(
        &admin,
        "mutation($u: ID!, $p: ID) { updateUser(input: {id: $u, profileId: $p}) { id } }",
        json!({ "u": client_id, "p": history }),
    )
    .await;
    assert_eq!(app.sees(&client).await, ["Current", "Finished", "Maybe"]);
    // Reopening a project shows it again to the plain customer profile.
    let customer = app.profile_id(&admin, "Customer").await;
    app.ok(
        &admin,
        "mutation($u: ID!, $p: ID) { updateUser(input: {id: $u, profileId: $p}) { id } }",
        json!({ "u": client_id, "p": customer }),
    )
    .await;
    app.ok(
        &admin,
        "mutation($p: ID!) { setProjectStatus(input: {projectId: $p, status: OPEN}) { status } }",
        json!({ "p": closed }),
    )
    .await;
    assert_eq!(app.sees(&client).await, ["Current", "Finished"]);
}

/// QM365 project rooms: a room inherits rights or sets its own; external users see only
/// the rooms they are invited into; folder-level rights in the document archive.
#[tokio::test]
async fn qm365_rooms_with_own_rights_and_folder_rules() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (staff_id, staff) = app.person(&admin, "staff@us.example", "Full member").await;
    let (ext_id, ext) = app.person(&admin, "ext@partner.example", "Customer").await;
    let (_, outsider) = app.person(&admin, "out@partner.example", "Customer").await;
    let manage = app.project(&admin, "Manage", None, json!({})).await;
    let inheriting = app
        .project(&admin, "Inheriting room", Some(&manage), json!({}))
        .await;
    let own = app
        .project(
            &admin,
            "Own-rights room",
            Some(&manage),
            json!({ "inheritMembers": false }),
        )
        .await;
    let below = app
        .project(&admin, "Below own room", Some(&own), json!({}))
        .await;
    app.member(&admin, &manage, &staff_id, "Full member").await;
    app.member(&admin, &own, &ext_id, "Full member").await;

    assert_eq!(app.sees(&staff).await, ["Inheriting room", "Manage"]);
    assert_eq!(app.sees(&ext).await, ["Below own room", "Own-rights room"]);
    // A project the caller cannot see answers as missing, even to explainAccess.
    let (code, _) = app
        .err(
            Some(&staff),
            "query($p: ID!) { explainAccess(projectId: $p) { visible reason } }",
            json!({ "p": own }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let why = app
        .ok(&admin, "query($p: ID!, $u: ID) { explainAccess(projectId: $p, userId: $u) { visible reason } }", json!({ "p": below, "u": staff_id }))
        .await;
    assert_eq!(why["explainAccess"]["reason"], "INHERITANCE_STOPPED");
    let why = app
        .ok(&ext, "query($p: ID!) { explainAccess(projectId: $p) { visible grants { via project { name } } } }", json!({ "p": below }))
        .await;
    assert_eq!(
        why["explainAccess"]["grants"][0]["project"]["name"],
        "Own-rights room"
    );

    // Folder rules: the external user sees only the folders opened to them.
    let mk = |folder: &str, title: &str| {
        let (app, admin, own) = (&app, admin.clone(), own.clone());
        let (folder, title) = (folder.to_string(), title.to_string());
        async move {
            app.ok(
                &admin,
                "mutation($p: ID!, $f: String, $t: String!) { createDocument(input: {projectId: $p, folder: $f, title: $t, visibility: SHARED}) { id } }",
                json!({ "p": own, "f": folder, "t": title }),
            )
            .await;
        }
    };
    mk("", "Room charter").await;
    mk("Deliveries", "Delivery plan").await;
    mk("Contracts", "Contract").await;
    app.ok(
        &admin,
        "mutation($p: ID!, $u: ID) { setFolderRule(input: {projectId: $p, folder: \"Contracts\", userId: $u}) { id } }",
        json!({ "p": own, "u": staff_id }),
    )
    .await;
    let docs = app
        .ok(
            &ext,
            "{ documents { totalCount nodes { title folder } } }",
            json!({}),
        )
        .await;
    assert_eq!(docs["documents"]["totalCount"], 2);
    app.ok(
        &admin,
        "mutation($p: ID!, $u: ID) { setFolderRule(input: {projectId: $p, folder: \"Contracts\", userId: $u}) { id } }",
        json!({ "p": own, "u": ext_id }),
    )
    .await;
    let docs = app
        .ok(&ext, "{ documents { totalCount } }", json!({}))
        .await;
    assert_eq!(docs["documents"]["totalCount"], 3);
    // An outsider sees none of it.
    let docs = app
        .ok(
            &outsider,
            "{ documents { totalCount } projects { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            docs["documents"]["totalCount"].as_i64(),
            docs["projects"]["totalCount"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let _ = inheriting;
}

/// ]project-open[ extended company model: a customer sees the tasks and hours of the one
/// sub-project they are a member of, not the other; an admin can "become this user"; an
/// invoice is generated from the tracked hours.
#[tokio::test]
async fn project_open_extended_company_model() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = app
        .ok(
            &admin,
            "mutation { createCustomer(input: {name: \"Acme\"}) { id } }",
            json!({}),
        )
        .await["createCustomer"]["id"]
        .clone();
    let (client_id, client) = app.person(&admin, "client@acme.example", "Customer").await;
    let (dev_id, dev) = app.person(&admin, "dev@us.example", "Full member").await;
    app.ok(&admin, "mutation($u: ID!) { updateUser(input: {id: $u, costRate: \"50.00\", billingRate: \"90.00\"}) { id } }", json!({ "u": dev_id }))
        .await;
    // Grant the Customer profile "view timesheet tasks" (and the hours on them).
    let customer = app.profile_id(&admin, "Customer").await;
    app.ok(
        &admin,
        "mutation($p: ID!) { updateProfile(input: {id: $p, rights: [VIEW_INVOICES, VIEW_TIMESHEETS, SEE_WORK]}) { id } }",
        json!({ "p": customer }),
    )
    .await;
    let container = app
        .project(
            &admin,
            "Acme container",
            None,
            json!({ "customerId": acme }),
        )
        .await;
    let support = app
        .project(
            &admin,
            "Support contract",
            Some(&container),
            json!({ "customerId": acme }),
        )
        .await;
    let other = app
        .project(
            &admin,
            "Other work",
            Some(&container),
            json!({ "customerId": acme }),
        )
        .await;
    app.member(&admin, &support, &client_id, "Customer").await;
    app.member(&admin, &container, &dev_id, "Full member").await;
    let pm = app.user(&admin, "pm@us.example", "Full member").await;
    app.member(&admin, &container, &pm, "Project manager").await;
    let pm = app.login("pm@us.example", crate::common::PASSWORD).await;

    let t1 = app.task(&pm, &support, "Support tickets", json!({})).await;
    let t2 = app
        .task(&pm, &other, "Internal refactoring", json!({}))
        .await;
    let e1 = app.log(&dev, &t1, "2026-10-05", 2.5).await;
    let e2 = app.log(&dev, &t1, "2026-10-06", 1.25).await;
    let e3 = app.log(&dev, &t2, "2026-10-06", 4.0).await;

    // The customer's portal: their projects, tasks and the hours on them.
    let portal = "{ projects { nodes { name tasks { nodes { name realWork timeEntries { nodes { date hours cost user { name email } } } } } } } }";
    let (_, body) = app.post(Some(&client), portal, json!({})).await;
    let projects = body["data"]["projects"]["nodes"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "{body}");
    assert_eq!(projects[0]["name"], "Support contract");
    let task = &projects[0]["tasks"]["nodes"][0];
    assert_eq!(task["name"], "Support tickets");
    assert_eq!(task["realWork"].as_f64(), Some(3.75));
    let entries = task["timeEntries"]["nodes"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert!(e["hours"].is_number());
        assert!(e["cost"].is_null(), "cost stays hidden");
        assert_eq!(e["user"]["name"], "dev@us.example");
        assert!(e["user"]["email"].is_null());
    }
    assert_eq!(redacted(&body, "TimeEntry.cost").unwrap()["count"], 2);
    // The other sub-project, its task and entries look missing.
    for (id, what) in [(&other, "project"), (&t2, "task"), (&e3, "entry")] {
        let n = app
            .ok(
                &client,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(n["node"].is_null(), "{what} leaked");
    }
    let all = app
        .ok(
            &client,
            "{ timeEntries { totalCount } tasks { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            all["timeEntries"]["totalCount"].as_i64(),
            all["tasks"]["totalCount"].as_i64()
        ),
        (Some(2), Some(1))
    );

    // "Become this user": the admin reads exactly the customer's view, read-only, audited.
    let as_client = |q: &'static str| {
        let (app, admin, client_id) = (&app, admin.clone(), client_id.clone());
        async move {
            let resp = app
                .client
                .post(&app.url)
                .bearer_auth(&admin)
                .header("x-portico-view-as", client_id.as_str())
                .json(&json!({ "query": q }))
                .send()
                .await
                .unwrap();
            resp.json::<serde_json::Value>().await.unwrap()
        }
    };
    let seen = as_client(portal).await;
    assert_eq!(seen["data"], body["data"]);
    let who = as_client("{ viewer { user { email } impersonatedBy { name } readOnly } }").await;
    assert_eq!(
        who["data"]["viewer"]["user"]["email"],
        "client@acme.example"
    );
    assert_eq!(
        who["data"]["viewer"]["impersonatedBy"]["name"],
        "Root Admin"
    );
    assert_eq!(who["data"]["viewer"]["readOnly"], true);
    // Refused, and nothing written but the audit of the impersonated request.
    let data_tables: Vec<&str> = crate::common::EVERY_TABLE
        .iter()
        .copied()
        .filter(|t| *t != "audit_event")
        .collect();
    let refused = crate::common::unchanged(&app, &data_tables, || {
        as_client("mutation { createCustomer(input: {name: \"x\"}) { id } }")
    })
    .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let events = app
        .ok(&admin, "{ auditEvents(filter: {action: \"IMPERSONATED_REQUEST\"}) { totalCount nodes { actor { email } impersonator { email } } } }", json!({}))
        .await;
    assert_eq!(events["auditEvents"]["totalCount"], 3);
    assert_eq!(
        events["auditEvents"]["nodes"][0]["actor"]["email"],
        "client@acme.example"
    );
    assert_eq!(
        events["auditEvents"]["nodes"][0]["impersonator"]["email"],
        crate::common::ADMIN_EMAIL
    );
    // Without IMPERSONATE the header is refused.
    let resp = app
        .client
        .post(&app.url)
        .bearer_auth(&dev)
        .header("x-portico-view-as", client_id.as_str())
        .json(&json!({ "query": "{ viewer { user { email } } }" }))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // The invoice wizard at the end of the month.
    app.ok(
        &pm,
        "mutation($ids: [ID!]!) { approveTimeEntries(ids: $ids) { status } }",
        json!({ "ids": [e1, e2, e3] }),
    )
    .await;
    let inv = app
        .ok(&pm, "mutation($p: ID!) { generateInvoice(input: {projectId: $p, from: \"2026-10-01\", to: \"2026-10-31\"}) { id number total lines { description hours rate amount } } }", json!({ "p": support }))
        .await;
    let inv = &inv["generateInvoice"];
    assert_eq!(inv["total"], "337.50", "3.75 h x 90.00");
    assert_eq!(inv["lines"].as_array().unwrap().len(), 1);
    let seen = app
        .ok(
            &client,
            "{ invoices { nodes { number total lines { hours amount } project { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["invoices"]["nodes"][0]["number"], inv["number"]);
    assert_eq!(
        seen["invoices"]["nodes"][0]["lines"][0]["hours"].as_f64(),
        Some(3.75)
    );
}
