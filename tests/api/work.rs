//! The mutations of project work and their rules: rights, validation, state, audit, races.

use serde_json::{json, Value};

use crate::common::{spawn, TestApp};

/// A project with a manager and a member who logs time: (project, task, pm, member, member id).
async fn setup(app: &TestApp, admin: &str) -> (String, String, String, String, String) {
    let (pm_id, pm) = app.person(admin, "pm@test.example", "Full member").await;
    let (m_id, m) = app.person(admin, "m@test.example", "Full member").await;
    app.ok(admin, "mutation($u: ID!) { updateUser(input: {id: $u, costRate: \"40.00\", billingRate: \"100.00\"}) { id } }", json!({ "u": m_id }))
        .await;
    let p = app.project(admin, "Work", None, json!({})).await;
    app.member(admin, &p, &pm_id, "Project manager").await;
    app.member(admin, &p, &m_id, "Full member").await;
    let t = app.task(&pm, &p, "Build", json!({})).await;
    (p, t, pm, m, m_id)
}

async fn audit_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM audit_event").await
}

#[tokio::test]
async fn creating_projects_needs_the_right_place() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, plain) = app
        .person(&admin, "plain@test.example", "Full member")
        .await;
    app.refused(
        Some(&plain),
        "mutation { createProject(input: {name: \"Mine\"}) { id } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM project").await, 0);
    // CREATE_PROJECTS: the creator becomes a member with their default profile.
    let (creator_id, creator) = app
        .person(&admin, "lead@test.example", "External project leader")
        .await;
    let p = app
        .project(&creator, "Mine", None, json!({ "code": "M-1" }))
        .await;
    let members = app.ok(&admin, "query($p: ID!) { project(id: $p) { members { nodes { user { id } profile { name } } } } }", json!({ "p": p })).await;
    assert_eq!(
        members["project"]["members"]["nodes"][0]["user"]["id"],
        json!(creator_id)
    );
    assert_eq!(
        members["project"]["members"]["nodes"][0]["profile"]["name"],
        "External project leader"
    );
    // Duplicate code, empty name, negative budget: BAD_USER_INPUT naming the field.
    for (input, field) in [
        (json!({ "name": "Other", "code": "M-1" }), "code"),
        (json!({ "name": " " }), "name"),
        (json!({ "name": "B", "budget": "-1" }), "budget"),
    ] {
        let e = app
            .refused(
                Some(&admin),
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
                json!({ "i": input }),
                "BAD_USER_INPUT",
            )
            .await;
        assert_eq!(e["extensions"]["field"], field, "{e}");
    }
    // A budget needs SEE_COST: the leader's default profile has none.
    app.refused(
        Some(&creator),
        "mutation { createProject(input: {name: \"Priced\", budget: \"10\"}) { id } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn moving_a_project_checks_both_places_and_never_makes_a_cycle() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    let a = app.project(&admin, "A", None, json!({})).await;
    let b = app.project(&admin, "B", Some(&a), json!({})).await;
    let c = app.project(&admin, "C", Some(&b), json!({})).await;
    let other = app.project(&admin, "Other", None, json!({})).await;
    let move_q = "mutation($p: ID!, $to: ID) { updateProject(input: {id: $p, parentId: $to}) { parent { name } } }";
    for (p, to) in [(&a, &c), (&a, &a), (&b, &c)] {
        let e = app
            .refused(
                Some(&admin),
                move_q,
                json!({ "p": p, "to": to }),
                "BAD_USER_INPUT",
            )
            .await;
        assert_eq!(e["extensions"]["field"], "parentId");
    }
    app.member(&admin, &a, &pm_id, "Project manager").await;
    // The manager of A cannot move C under Other, which they cannot see.
    app.refused(
        Some(&pm),
        move_q,
        json!({ "p": c, "to": other }),
        "NOT_FOUND",
    )
    .await;
    // ...nor to the top level without CREATE_PROJECTS.
    app.refused(
        Some(&pm),
        move_q,
        json!({ "p": c, "to": null }),
        "FORBIDDEN",
    )
    .await;
    let moved = app.ok(&pm, move_q, json!({ "p": c, "to": a })).await;
    assert_eq!(moved["updateProject"]["parent"]["name"], "A");
}

#[tokio::test]
async fn memberships_count_only_within_their_validity() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let past = app.project(&admin, "Past", None, json!({})).await;
    let future = app.project(&admin, "Future", None, json!({})).await;
    let now = app.project(&admin, "Now", None, json!({})).await;
    let profile = app.profile_id(&admin, "Full member").await;
    let today = chrono::Utc::now().date_naive();
    let d = |days: i64| (today + chrono::Duration::days(days)).to_string();
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id validFrom validUntil } }";
    for (p, from, until) in [
        (&past, d(-30), d(-1)),
        (&future, d(1), d(30)),
        (&now, d(-1), d(1)),
    ] {
        app.ok(&admin, add, json!({ "i": { "projectId": p, "userId": u_id, "profileId": profile, "validFrom": from, "validUntil": until } }))
            .await;
    }
    assert_eq!(app.sees(&u).await, ["Now"]);
    let why = app
        .ok(
            &admin,
            "query($p: ID!, $u: ID) { explainAccess(projectId: $p, userId: $u) { reason } }",
            json!({ "p": past, "u": u_id }),
        )
        .await;
    assert_eq!(why["explainAccess"]["reason"], "MEMBERSHIP_NOT_VALID");
    let e = app
        .refused(Some(&admin), add, json!({ "i": { "projectId": now, "userId": u_id, "profileId": profile, "validFrom": d(5), "validUntil": d(1) } }), "BAD_USER_INPUT")
        .await;
    assert_eq!(e["extensions"]["field"], "validUntil");
    app.refused(
        Some(&admin),
        add,
        json!({ "i": { "projectId": now, "profileId": profile } }),
        "BAD_USER_INPUT",
    )
    .await;
}

#[tokio::test]
async fn members_cannot_grant_more_than_they_hold_and_removal_takes_effect_at_once() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (lead_id, lead) = app.person(&admin, "lead@test.example", "Full member").await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let p = app.project(&admin, "P", None, json!({})).await;
    app.new_profile(&admin, "Member manager", &["MANAGE_MEMBERS", "LOG_TIME"])
        .await;
    app.new_profile(&admin, "Logger0", &[]).await;
    app.member(&admin, &p, &lead_id, "Member manager").await;
    // A member manager names only users it can see: co-members of a project it sees.
    let shared = app.project(&admin, "Shared", None, json!({})).await;
    app.member(&admin, &shared, &lead_id, "Logger0").await;
    app.member(&admin, &shared, &u_id, "Logger0").await;
    let pm_profile = app.profile_id(&admin, "Project manager").await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.refused(
        Some(&lead),
        add,
        json!({ "i": { "projectId": p, "userId": u_id, "profileId": pm_profile } }),
        "FORBIDDEN",
    )
    .await;
    let small = app.new_profile(&admin, "Logger", &["LOG_TIME"]).await;
    let m = app
        .ok(
            &lead,
            add,
            json!({ "i": { "projectId": p, "userId": u_id, "profileId": small } }),
        )
        .await["addProjectMember"]["id"]
        .clone();
    assert_eq!(app.sees(&u).await, ["P", "Shared"]);
    app.ok(
        &lead,
        "mutation($m: ID!) { removeProjectMember(id: $m) { id } }",
        json!({ "m": m }),
    )
    .await;
    assert_eq!(app.sees(&u).await, ["Shared"]);
}

#[tokio::test]
async fn tasks_figures_need_the_right_to_read_them_and_real_work_follows_time() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (p, t, pm, m, _) = setup(&app, &admin).await;
    let (lead_id, lead) = app
        .person(&admin, "lead@test.example", "External project leader")
        .await;
    app.member(&admin, &p, &lead_id, "External project leader")
        .await;
    app.refused(Some(&lead), "mutation($p: ID!) { createTask(input: {projectId: $p, name: \"x\", plannedCost: \"5.00\"}) { id } }", json!({ "p": p }), "FORBIDDEN")
        .await;
    app.task(&lead, &p, "Allowed", json!({ "plannedWork": 3.5 }))
        .await;
    app.refused(
        Some(&m),
        "mutation($t: ID!) { updateTask(input: {id: $t, name: \"x\"}) { id } }",
        json!({ "t": t }),
        "FORBIDDEN",
    )
    .await;
    let e = app
        .refused(
            Some(&pm),
            "mutation($t: ID!) { updateTask(input: {id: $t, plannedWork: 1.234}) { id } }",
            json!({ "t": t }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(e["extensions"]["field"], "plannedWork");
    app.log(&m, &t, "2026-11-02", 2.25).await;
    app.log(&m, &t, "2026-11-03", 1.5).await;
    let data = app
        .ok(
            &pm,
            "query($t: ID!) { task(id: $t) { realWork realCost project { realWork realCost } } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(data["task"]["realWork"].as_f64(), Some(3.75));
    assert_eq!(data["task"]["realCost"], "150.00", "3.75 h x 40.00");
    assert_eq!(data["task"]["project"]["realCost"], "150.00");
}

/// Values the schema's types refuse (coercion, before any resolver runs) name their input
/// field too, as api.md asks of every BAD_USER_INPUT, and write nothing.
#[tokio::test]
async fn type_errors_name_the_input_field() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, t, _, m, _) = setup(&app, &admin).await;
    let by_input = "mutation($i: LogTimeInput!) { logTime(input: $i) { id } }";
    for (query, variables, field) in [
        // In the document, and in variables, for built-in and custom scalars.
        (
            "mutation($t: ID!) { logTime(input: {taskId: $t, date: \"2026-11-02\", hours: \"x\"}) { id } }",
            json!({ "t": t }),
            "hours",
        ),
        (
            "mutation($t: ID!) { logTime(input: {taskId: $t, date: \"2026-02-30\", hours: 1}) { id } }",
            json!({ "t": t }),
            "date",
        ),
        (by_input, json!({ "i": { "taskId": t, "date": "2026-02-30", "hours": 1 } }), "date"),
        (by_input, json!({ "i": { "taskId": t, "date": "2026-11-02", "hours": "x" } }), "hours"),
        (by_input, json!({ "i": { "date": "2026-11-02", "hours": 1 } }), "taskId"),
        (
            "mutation($t: ID!) { updateTask(input: {id: $t, plannedCost: \"1.234\"}) { id } }",
            json!({ "t": t }),
            "plannedCost",
        ),
        ("{ projects(first: \"a\") { totalCount } }", json!({}), "first"),
    ] {
        let e = app
            .refused(Some(&m), query, variables, "BAD_USER_INPUT")
            .await;
        assert_eq!(e["extensions"]["field"], field, "{e}");
    }
}

#[tokio::test]
async fn log_time_validates_hours_days_and_dates() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, t, pm, m, _) = setup(&app, &admin).await;
    let log = "mutation($t: ID!, $d: Date!, $h: Float!) { logTime(input: {taskId: $t, date: $d, hours: $h}) { id hours cost status } }";
    let before = app.count("SELECT COUNT(*) AS n FROM time_entry").await;
    let audits = audit_count(&app).await;
    for (d, h) in [
        ("2026-11-02", 0.0),
        ("2026-11-02", -1.0),
        ("2026-11-02", 24.5),
        ("2026-11-02", 1.005),
    ] {
        let e = app
            .refused(
                Some(&m),
                log,
                json!({ "t": t, "d": d, "h": h }),
                "BAD_USER_INPUT",
            )
            .await;
        assert_eq!(e["extensions"]["field"], "hours", "{h}");
    }
    app.refused(
        Some(&m),
        log,
        json!({ "t": t, "d": "2026-02-30", "h": 1.0 }),
        "BAD_USER_INPUT",
    )
    .await;
    app.ok(&m, log, json!({ "t": t, "d": "2026-11-02", "h": 20.0 }))
        .await;
    let e = app
        .refused(
            Some(&m),
            log,
            json!({ "t": t, "d": "2026-11-02", "h": 4.5 }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(e["extensions"]["field"], "hours");
    let ok = app
        .ok(&m, log, json!({ "t": t, "d": "2026-11-02", "h": 4.0 }))
        .await;
    assert_eq!(ok["logTime"]["status"], "SUBMITTED");
    let cost = app
        .ok(
            &pm,
            "query($e: ID!) { node(id: $e) { ... on TimeEntry { cost } } }",
            json!({ "e": ok["logTime"]["id"] }),
        )
        .await;
    assert_eq!(cost["node"]["cost"], "160.00", "4 h x 40.00");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM time_entry").await,
        before + 2
    );
    assert_eq!(audit_count(&app).await, audits + 2);
    // Without LOG_TIME: FORBIDDEN (the project manager profile has it; a customer does not).
    let (c_id, c) = app.person(&admin, "c@test.example", "Customer").await;
    let p = app
        .ok(
            &pm,
            "query($t: ID!) { task(id: $t) { project { id } } }",
            json!({ "t": t }),
        )
        .await["task"]["project"]["id"]
        .clone();
    app.member(&admin, p.as_str().unwrap(), &c_id, "Customer")
        .await;
    app.refused(
        Some(&c),
        log,
        json!({ "t": t, "d": "2026-11-04", "h": 1.0 }),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn entries_change_only_while_open_and_only_by_their_author() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, t, pm, m, _) = setup(&app, &admin).await;
    let e = app.log(&m, &t, "2026-11-02", 2.0).await;
    let upd = "mutation($e: ID!, $h: Float) { updateTimeEntry(input: {id: $e, hours: $h}) { hours cost } }";
    let data = app.ok(&m, upd, json!({ "e": e, "h": 3.0 })).await;
    assert_eq!(data["updateTimeEntry"]["hours"].as_f64(), Some(3.0));
    // Cost needs SEE_COST even on one's own entry; the manager has it.
    assert!(data["updateTimeEntry"]["cost"].is_null());
    let cost = app
        .ok(
            &pm,
            "query($e: ID!) { node(id: $e) { ... on TimeEntry { cost } } }",
            json!({ "e": e }),
        )
        .await;
    assert_eq!(cost["node"]["cost"], "120.00", "3 h x 40.00, recomputed");
    // The manager sees the entry but it is not theirs.
    app.refused(Some(&pm), upd, json!({ "e": e, "h": 1.0 }), "FORBIDDEN")
        .await;
    // A Full member cannot approve.
    app.refused(
        Some(&m),
        "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { id } }",
        json!({ "e": [e] }),
        "FORBIDDEN",
    )
    .await;
    let approved = app
        .ok(
            &pm,
            "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { status } }",
            json!({ "e": [e] }),
        )
        .await;
    assert_eq!(approved["approveTimeEntries"][0]["status"], "APPROVED");
    app.refused(Some(&m), upd, json!({ "e": e, "h": 1.0 }), "CONFLICT")
        .await;
    app.refused(
        Some(&m),
        "mutation($e: ID!) { deleteTimeEntry(id: $e) { id } }",
        json!({ "e": e }),
        "CONFLICT",
    )
    .await;
    let e2 = app.log(&m, &t, "2026-11-03", 1.0).await;
    let real = "query($t: ID!) { task(id: $t) { realWork realCost } }";
    let r = app.ok(&pm, real, json!({ "t": t })).await;
    assert_eq!(
        (
            r["task"]["realWork"].as_f64(),
            r["task"]["realCost"].as_str()
        ),
        (Some(4.0), Some("160.00"))
    );
    app.ok(
        &m,
        "mutation($e: ID!) { deleteTimeEntry(id: $e) { id } }",
        json!({ "e": e2 }),
    )
    .await;
    let r = app.ok(&pm, real, json!({ "t": t })).await;
    assert_eq!(
        (
            r["task"]["realWork"].as_f64(),
            r["task"]["realCost"].as_str()
        ),
        (Some(3.0), Some("120.00"))
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM time_entry").await, 1);
}

#[tokio::test]
async fn documents_and_folder_rules() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (p, _, pm, m, m_id) = setup(&app, &admin).await;
    let create = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id folder visibility createdBy { name } } }";
    let d = app
        .ok(&pm, create, json!({ "i": { "projectId": p, "title": "Plan", "folder": "/Plans/", "visibility": "SHARED" } }))
        .await;
    assert_eq!(d["createDocument"]["folder"], "Plans");
    let id = d["createDocument"]["id"].clone();
    app.refused(
        Some(&m),
        "mutation($d: ID!) { deleteDocument(id: $d) { id } }",
        json!({ "d": id }),
        "FORBIDDEN",
    )
    .await;
    let rule = app
        .ok(&pm, "mutation($p: ID!, $u: ID) { setFolderRule(input: {projectId: $p, folder: \"Plans\", userId: $u}) { id } }", json!({ "p": p, "u": m_id }))
        .await["setFolderRule"]["id"]
        .clone();
    let (other_id, other) = app.person(&admin, "o@test.example", "Full member").await;
    app.member(&admin, &p, &other_id, "Full member").await;
    let n = |t: String| {
        let app = &app;
        async move {
            app.ok(&t, "{ documents { totalCount } }", json!({})).await["documents"]["totalCount"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(n(m.clone()).await, 1);
    assert_eq!(n(other.clone()).await, 0);
    assert_eq!(
        n(pm.clone()).await,
        1,
        "MANAGE_DOCUMENTS holders see ruled folders"
    );
    app.ok(
        &pm,
        "mutation($r: ID!) { removeFolderRule(id: $r) { id } }",
        json!({ "r": rule }),
    )
    .await;
    assert_eq!(n(other.clone()).await, 1);
    app.ok(&pm, "mutation($d: ID!) { updateDocument(input: {id: $d, title: \"Plan v2\", visibility: INTERNAL}) { title } }", json!({ "d": id }))
        .await;
    app.ok(
        &pm,
        "mutation($d: ID!) { deleteDocument(id: $d) { title } }",
        json!({ "d": id }),
    )
    .await;
    assert_eq!(n(pm).await, 0);
}

const GENERATE: &str = "mutation($p: ID!) { generateInvoice(input: {projectId: $p, from: \"2026-10-01\", to: \"2026-10-31\"}) { id number total status lines { hours rate amount } } }";

#[tokio::test]
async fn invoices_bill_each_entry_once_and_freeze_when_issued() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (p, t, pm, m, _) = setup(&app, &admin).await;
    let sub = app.project(&admin, "Sub", Some(&p), json!({})).await;
    let t2 = app.task(&pm, &sub, "Sub task", json!({})).await;
    let e1 = app.log(&m, &t, "2026-10-01", 2.0).await;
    let e2 = app.log(&m, &t2, "2026-10-31", 1.5).await;
    let e3 = app.log(&m, &t, "2026-11-01", 1.0).await;
    let unbillable = app
        .ok(&m, "mutation($t: ID!) { logTime(input: {taskId: $t, date: \"2026-10-10\", hours: 3, billable: false}) { id } }", json!({ "t": t }))
        .await["logTime"]["id"]
        .clone();
    // Nothing approved yet.
    app.refused(Some(&pm), GENERATE, json!({ "p": p }), "BAD_USER_INPUT")
        .await;
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM invoice").await, 0);
    app.ok(
        &pm,
        "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { id } }",
        json!({ "e": [e1, e2, e3, unbillable] }),
    )
    .await;
    app.refused(Some(&m), GENERATE, json!({ "p": p }), "FORBIDDEN")
        .await;
    let inv = app.ok(&pm, GENERATE, json!({ "p": p })).await["generateInvoice"].clone();
    assert_eq!(
        inv["total"], "350.00",
        "3.5 h at 100.00, the sub-project included"
    );
    assert_eq!(inv["lines"].as_array().unwrap().len(), 2);
    assert_eq!(inv["status"], "DRAFT");
    // Billed once.
    app.refused(Some(&pm), GENERATE, json!({ "p": p }), "BAD_USER_INPUT")
        .await;
    let statuses = app
        .ok(
            &pm,
            "{ timeEntries { nodes { date status invoice { number } } } }",
            json!({}),
        )
        .await;
    let billed = statuses["timeEntries"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["status"] == "BILLED")
        .count();
    assert_eq!(billed, 2);
    let id = inv["id"].clone();
    let issued = app
        .ok(
            &pm,
            "mutation($i: ID!) { issueInvoice(id: $i) { status issuedAt } }",
            json!({ "i": id }),
        )
        .await;
    assert_eq!(issued["issueInvoice"]["status"], "ISSUED");
    app.refused(
        Some(&pm),
        "mutation($i: ID!) { issueInvoice(id: $i) { status } }",
        json!({ "i": id }),
        "CONFLICT",
    )
    .await;
    let events: Value = app
        .ok(
            &admin,
            "{ auditEvents(first: 500) { nodes { action } } }",
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
        "CREATE_PROJECT",
        "ADD_PROJECT_MEMBER",
        "CREATE_TASK",
        "LOG_TIME",
        "APPROVE_TIME_ENTRIES",
        "GENERATE_INVOICE",
        "ISSUE_INVOICE",
        "LOGIN",
    ] {
        assert!(actions.contains(&a), "{a} not audited");
    }
}

#[tokio::test]
async fn concurrent_invoice_generation_bills_each_entry_once() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (p, t, pm, m, _) = setup(&app, &admin).await;
    let mut ids = Vec::new();
    for day in 1..=20 {
        ids.push(app.log(&m, &t, &format!("2026-10-{day:02}"), 1.0).await);
    }
    app.ok(
        &pm,
        "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { id } }",
        json!({ "e": ids }),
    )
    .await;
    let calls = (0..8).map(|_| {
        let (app, pm, p) = (&app, pm.clone(), p.clone());
        async move { app.post(Some(&pm), GENERATE, json!({ "p": p })).await.1 }
    });
    let results = futures_util::future::join_all(calls).await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("errors").is_none())
        .collect();
    let refused = results
        .iter()
        .filter(|r| r["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT")
        .count();
    let billed_total: i64 = ok
        .iter()
        .map(|r| {
            r["data"]["generateInvoice"]["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["hours"].as_f64().unwrap() as i64)
                .sum::<i64>()
        })
        .sum();
    assert_eq!(ok.len() + refused, 8, "{results:?}");
    assert!(!ok.is_empty());
    assert_eq!(billed_total, 20, "every hour billed exactly once");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM time_entry WHERE invoice_id IS NOT NULL")
            .await,
        20
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invoice_line").await,
        ok.len() as i64
    );
}

#[tokio::test]
async fn concurrent_logging_never_exceeds_24_hours_a_day() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, t, _, m, _) = setup(&app, &admin).await;
    let calls = (0..6).map(|_| {
        let (app, m, t) = (&app, m.clone(), t.clone());
        async move {
            app.post(Some(&m), "mutation($t: ID!) { logTime(input: {taskId: $t, date: \"2026-11-05\", hours: 5}) { id } }", json!({ "t": t }))
                .await
                .1
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.get("errors").is_none()).count();
    assert_eq!(ok, 4, "{results:?}");
    assert_eq!(
        app.count("SELECT CAST(SUM(hours) AS BIGINT) AS n FROM time_entry")
            .await,
        2000
    );
}

#[tokio::test]
async fn moving_or_regrouping_a_project_needs_manage_members_and_grants_stay_within_reach() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    app.new_profile(&admin, "Editor", &["EDIT_PROJECT", "CREATE_SUBPROJECTS"])
        .await;
    let x = app.project(&admin, "X", None, json!({})).await;
    let y = app.project(&admin, "Y", None, json!({})).await;
    app.member(&admin, &x, &u_id, "Editor").await;
    app.member(&admin, &y, &u_id, "Project manager").await;
    // Moving X under Y would hand Y's memberships (the caller's own included) to X.
    app.refused(
        Some(&u),
        "mutation($x: ID!, $y: ID) { updateProject(input: {id: $x, parentId: $y}) { id } }",
        json!({ "x": x, "y": y }),
        "FORBIDDEN",
    )
    .await;
    let d = app
        .ok(
            &admin,
            "mutation { createDepartment(input: {name: \"D\"}) { id } }",
            json!({}),
        )
        .await["createDepartment"]["id"]
        .clone();
    // D is the caller's own department, so it may name it.
    app.ok(
        &admin,
        "mutation($u: ID!, $d: ID) { updateUser(input: {id: $u, departmentId: $d}) { id } }",
        json!({ "u": u_id, "d": d }),
    )
    .await;
    app.refused(
        Some(&u),
        "mutation($x: ID!, $d: ID) { updateProject(input: {id: $x, departmentId: $d}) { id } }",
        json!({ "x": x, "d": d }),
        "FORBIDDEN",
    )
    .await;
    // A department editor may not grant, on a project of their department, rights that
    // the membership would carry into an inheriting sub-project of another department.
    app.new_profile(
        &admin,
        "Dept editor",
        &["EDIT_DEPARTMENT_PROJECTS", "MANAGE_MEMBERS", "SEE_COST"],
    )
    .await;
    let other = app
        .ok(
            &admin,
            "mutation { createDepartment(input: {name: \"Other\"}) { id } }",
            json!({}),
        )
        .await["createDepartment"]["id"]
        .clone();
    let de = app.user(&admin, "de@test.example", "Dept editor").await;
    app.ok(
        &admin,
        "mutation($u: ID!, $d: ID) { updateUser(input: {id: $u, departmentId: $d}) { id } }",
        json!({ "u": de, "d": d }),
    )
    .await;
    let de = app.login("de@test.example", crate::common::PASSWORD).await;
    let mine = app
        .project(&admin, "Dept project", None, json!({ "departmentId": d }))
        .await;
    let add = "mutation($p: ID!, $u: ID, $pr: ID!) { addProjectMember(input: {projectId: $p, userId: $u, profileId: $pr}) { id } }";
    let granted = app.new_profile(&admin, "Cost viewer", &["SEE_COST"]).await;
    let (o_id, _) = app.person(&admin, "o@test.example", "Full member").await;
    // o is a member already, so the department editor sees them and may name them.
    app.member(&admin, &mine, &o_id, "Full member").await;
    app.ok(&de, add, json!({ "p": mine, "u": o_id, "pr": granted }))
        .await;
    app.project(
        &admin,
        "Foreign child",
        Some(&mine),
        json!({ "departmentId": other }),
    )
    .await;
    // o2 holds no SEE_COST in the foreign child yet: granting it there is an escalation.
    let (o2_id, _) = app.person(&admin, "o2@test.example", "Full member").await;
    app.member(&admin, &mine, &o2_id, "Full member").await;
    app.refused(
        Some(&de),
        add,
        json!({ "p": mine, "u": o2_id, "pr": granted }),
        "FORBIDDEN",
    )
    .await;
    // Re-adding o, who already holds SEE_COST there by inheritance, gains nothing: allowed.
    app.ok(&de, add, json!({ "p": mine, "u": o_id, "pr": granted }))
        .await;
}

#[tokio::test]
async fn a_mutations_answer_shows_the_rights_it_just_granted() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, lead) = app
        .person(&admin, "lead@test.example", "External project leader")
        .await;
    let data = app
        .ok(
            &lead,
            "mutation { createProject(input: {name: \"Mine\"}) { viewerRights } }",
            json!({}),
        )
        .await;
    assert!(data["createProject"]["viewerRights"]
        .as_array()
        .unwrap()
        .contains(&json!("MANAGE_TASKS")));
    let (status, body) = app
        .post(
            None,
            "mutation { login(input: {email: \"lead@test.example\", password: \"correct horse battery\"}) { user { email profile { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["login"]["user"]["profile"]["name"],
        "External project leader"
    );
}
