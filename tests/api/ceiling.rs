//! The ceiling for external users (authorization.md, "Ceiling for external users"): a global
//! set of rights kept by the server, narrowed per project and below by `externalRights`,
//! cuts every right an EXTERNAL user holds, global and per project, on every path (reads,
//! guarded fields, mutations, "view as" an external user, API keys of external users).
//! Internal users are never affected.

use serde_json::{json, Value};

use crate::common::{redacted, spawn, unchanged, TestApp, EVERY_TABLE, PASSWORD};

/// The global ceiling a new database starts with.
const DEFAULT_CEILING: &[&str] = &[
    "CREATE_PROJECTS",
    "VIEW_PROJECT_HISTORY",
    "EDIT_PROJECT",
    "CREATE_SUBPROJECTS",
    "MANAGE_TASKS",
    "LOG_TIME",
    "VIEW_TIMESHEETS",
    "APPROVE_TIMESHEETS",
    "SEE_VALIDATED_WORK",
    "SEE_WORK",
    "SEE_VALIDATED_COST",
    "MANAGE_DOCUMENTS",
    "VIEW_INVOICES",
];

/// Every project right: what the seeded "Project manager" profile holds.
const PROJECT_MANAGER: &[&str] = &[
    "EDIT_PROJECT",
    "MANAGE_MEMBERS",
    "CREATE_SUBPROJECTS",
    "MANAGE_TASKS",
    "LOG_TIME",
    "VIEW_TIMESHEETS",
    "APPROVE_TIMESHEETS",
    "SEE_VALIDATED_WORK",
    "SEE_VALIDATED_COST",
    "SEE_WORK",
    "SEE_COST",
    "VIEW_INTERNAL_DOCUMENTS",
    "MANAGE_DOCUMENTS",
    "VIEW_INVOICES",
    "MANAGE_INVOICES",
];

/// The project rights the default ceiling keeps away from every external user.
const CUT_BY_DEFAULT: &[&str] = &[
    "MANAGE_MEMBERS",
    "SEE_COST",
    "VIEW_INTERNAL_DOCUMENTS",
    "MANAGE_INVOICES",
];

const ADD_MEMBER: &str =
    "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const UPDATE_PROJECT: &str =
    "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { id externalRights } }";
const CREATE_PROJECT: &str =
    "mutation($i: CreateProjectInput!) { createProject(input: $i) { id externalRights } }";
const SET_CEILING: &str = "mutation($r: [Right!]!) { setExternalCeiling(input: {rights: $r}) }";
const CREATE_USER: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }";
const CEILING: &str = "{ externalCeiling }";
const EXPLAIN: &str = "query($p: ID!, $u: ID) { explainAccess(projectId: $p, userId: $u) { visible rights removedByCeiling } }";
const MEMBERSHIPS: &str = "SELECT COUNT(*) AS n FROM membership";
const PROJECTS: &str = "SELECT COUNT(*) AS n FROM project";
const USERS: &str = "SELECT COUNT(*) AS n FROM app_user";
const CEILING_ROWS: &str = "SELECT COUNT(*) AS n FROM external_ceiling";
const AUDIT_EVENTS: &str = "SELECT COUNT(*) AS n FROM audit_event";
const SESSIONS: &str = "SELECT COUNT(*) AS n FROM session";

/// Sorted, owned right names.
fn set(rights: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = rights.iter().map(|r| r.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// `a` without `b`, sorted.
fn minus(a: &[&str], b: &[&str]) -> Vec<String> {
    let kept: Vec<&str> = a.iter().copied().filter(|r| !b.contains(r)).collect();
    set(&kept)
}

/// `a` and `b`, sorted.
fn both(a: &[&str], b: &[&str]) -> Vec<String> {
    let kept: Vec<&str> = a.iter().copied().filter(|r| b.contains(r)).collect();
    set(&kept)
}

/// A JSON array of strings, sorted.
fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_string()
        })
        .collect();
    out.sort();
    out
}

fn str_at(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("no string at {path:?} in {v}"))
        .to_string()
}

/// Every table a refusal must leave alone: the common list and the ceiling's own table.
fn every_table() -> Vec<&'static str> {
    let mut t = EVERY_TABLE.to_vec();
    t.push("external_ceiling");
    t
}

/// Runs an operation that must be refused with `code` and write nothing (no row of any table
/// of [`every_table`] changes); answers the first error.
async fn refused(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
    code: &str,
) -> Value {
    let tables = every_table();
    let (got, e) = unchanged(app, &tables, || app.err(token, query, variables)).await;
    assert_eq!(got, code, "{query}: {e}");
    e
}

/// Creates an EXTERNAL user of `customer` with a default profile (by name), signed in:
/// (id, token).
async fn external(
    app: &TestApp,
    admin: &str,
    email: &str,
    profile: &str,
    customer: &str,
) -> (String, String) {
    let profile_id = app.profile_id(admin, profile).await;
    let data = app
        .ok(
            admin,
            "mutation($i: CreateUserInput!) { createUser(input: $i) { id kind } }",
            json!({ "i": { "email": email, "name": email, "password": PASSWORD, "kind": "EXTERNAL",
                           "profileId": profile_id, "customerId": customer } }),
        )
        .await;
    assert_eq!(data["createUser"]["kind"], "EXTERNAL");
    let id = str_at(&data, &["createUser", "id"]);
    let token = app.login(email, PASSWORD).await;
    (id, token)
}

async fn customer(app: &TestApp, admin: &str, name: &str) -> String {
    let data = app
        .ok(
            admin,
            "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }",
            json!({ "n": name }),
        )
        .await;
    str_at(&data, &["createCustomer", "id"])
}

async fn document(app: &TestApp, token: &str, project: &str, title: &str, visibility: &str) {
    app.ok(
        token,
        "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
        json!({ "i": { "projectId": project, "title": title, "visibility": visibility } }),
    )
    .await;
}

/// The global ceiling as `token` reads it, sorted.
async fn ceiling(app: &TestApp, token: &str) -> Vec<String> {
    sorted(&app.ok(token, CEILING, json!({})).await["externalCeiling"])
}

/// Replaces the global ceiling as `admin`; checks the answer.
async fn set_ceiling(app: &TestApp, admin: &str, rights: &[String]) {
    let data = app.ok(admin, SET_CEILING, json!({ "r": rights })).await;
    assert_eq!(sorted(&data["setExternalCeiling"]), set_of(rights));
}

fn set_of(rights: &[String]) -> Vec<String> {
    let r: Vec<&str> = rights.iter().map(String::as_str).collect();
    set(&r)
}

/// Sets (or with `None` clears) a project's `externalRights` as `token`; answers the field
/// as the mutation returns it.
async fn narrow(app: &TestApp, token: &str, project: &str, rights: Option<&[&str]>) -> Value {
    let data = app
        .ok(
            token,
            UPDATE_PROJECT,
            json!({ "i": { "id": project, "externalRights": rights } }),
        )
        .await;
    data["updateProject"]["externalRights"].clone()
}

/// `Project.viewerRights` for `token`, sorted.
async fn viewer_rights(app: &TestApp, token: &str, project: &str) -> Vec<String> {
    let data = app
        .ok(
            token,
            "query($p: ID!) { project(id: $p) { viewerRights } }",
            json!({ "p": project }),
        )
        .await;
    sorted(&data["project"]["viewerRights"])
}

/// `explainAccess` of `user` on `project` as `token`: (rights, removedByCeiling), sorted.
async fn explain(
    app: &TestApp,
    token: &str,
    project: &str,
    user: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let data = app
        .ok(token, EXPLAIN, json!({ "p": project, "u": user }))
        .await;
    let e = &data["explainAccess"];
    assert_eq!(e["visible"], true, "{data}");
    (sorted(&e["rights"]), sorted(&e["removedByCeiling"]))
}

/// POSTs a GraphQL request with an optional `X-Portico-View-As` header; answers the body.
async fn post_viewing_as(
    app: &TestApp,
    token: &str,
    view_as: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut req = app
        .client
        .post(&app.url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(target) = view_as {
        req = req.header("x-portico-view-as", target);
    }
    req.send().await.expect("send").json().await.expect("json")
}

/// An API key of the caller: its secret.
async fn api_key(app: &TestApp, token: &str, input: Value) -> String {
    let data = app
        .ok(
            token,
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }",
            json!({ "i": input }),
        )
        .await;
    str_at(&data, &["createApiKey", "secret"])
}

/// What a project manager's view of one project shows: the budget, the rights and the
/// documents.
const PM_VIEW: &str = "query($p: ID!) { project(id: $p) { budget viewerRights documents(first: 50) { totalCount nodes { title } } } }";

/// Checks a body answering [`PM_VIEW`] shows the ceiling-cut view of the world of
/// [`pm_world`]: no budget (redacted), the project manager's rights without those the
/// default ceiling removes, the shared document only.
fn assert_cut_view(body: &Value, what: &str) {
    assert!(body.get("errors").is_none(), "{what}: {body}");
    let p = &body["data"]["project"];
    assert!(p["budget"].is_null(), "{what}: the budget shows: {body}");
    let r = redacted(body, "Project.budget")
        .unwrap_or_else(|| panic!("{what}: the budget is not reported as redacted: {body}"));
    assert_eq!(r["right"], "SEE_COST", "{what}: {body}");
    assert_eq!(
        sorted(&p["viewerRights"]),
        minus(PROJECT_MANAGER, CUT_BY_DEFAULT),
        "{what}: {body}"
    );
    assert_eq!(p["documents"]["totalCount"], 1, "{what}: {body}");
    assert_eq!(
        p["documents"]["nodes"],
        json!([{ "title": "Plan" }]),
        "{what}: {body}"
    );
}

/// Checks a body answering [`PM_VIEW`] shows everything of the world of [`pm_world`].
fn assert_full_view(body: &Value, what: &str) {
    assert!(body.get("errors").is_none(), "{what}: {body}");
    let p = &body["data"]["project"];
    assert_eq!(p["budget"], "5000.00", "{what}: {body}");
    assert!(redacted(body, "Project.budget").is_none(), "{what}: {body}");
    assert_eq!(sorted(&p["viewerRights"]), set(PROJECT_MANAGER), "{what}");
    assert_eq!(p["documents"]["totalCount"], 2, "{what}: {body}");
}

/// A customer's project with a budget, a SHARED and an INTERNAL document, and two project
/// managers: one EXTERNAL (default profile "Customer"), one internal ("Full member").
struct PmWorld {
    acme: String,
    p: String,
    ext_id: String,
    ext: String,
    int_id: String,
    int: String,
}

async fn pm_world(app: &TestApp, admin: &str) -> PmWorld {
    let acme = customer(app, admin, "Acme").await;
    let p = app
        .project(
            admin,
            "Acme site",
            None,
            json!({ "customerId": acme, "budget": "5000.00" }),
        )
        .await;
    document(app, admin, &p, "Plan", "SHARED").await;
    document(app, admin, &p, "Margin notes", "INTERNAL").await;
    let (ext_id, ext) = external(app, admin, "pm@acme.example", "Customer", &acme).await;
    let (int_id, int) = app.person(admin, "pm@test.example", "Full member").await;
    app.member(admin, &p, &ext_id, "Project manager").await;
    app.member(admin, &p, &int_id, "Project manager").await;
    PmWorld {
        acme,
        p,
        ext_id,
        ext,
        int_id,
        int,
    }
}

// ---------------------------------------------------------------------------------------
// 1. The default ceiling.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_default_ceiling_holds_the_documented_rights_and_anyone_signed_in_reads_it() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    let (_, ext) = external(&app, &admin, "c@acme.example", "Customer", &acme).await;
    let (_, int) = app.person(&admin, "u@test.example", "Full member").await;
    for (who, token) in [("admin", &admin), ("internal", &int), ("external", &ext)] {
        assert_eq!(ceiling(&app, token).await, set(DEFAULT_CEILING), "as {who}");
    }
    // So none of the global powers, nor the four sensitive project rights.
    let got = ceiling(&app, &admin).await;
    for r in [
        "ADMIN",
        "IMPERSONATE",
        "VIEW_ALL_PROJECTS",
        "EDIT_ALL_PROJECTS",
        "VIEW_DEPARTMENT_PROJECTS",
        "EDIT_DEPARTMENT_PROJECTS",
    ]
    .iter()
    .chain(CUT_BY_DEFAULT)
    {
        assert!(!got.contains(&r.to_string()), "{r} in the default ceiling");
    }
    // Signed in only.
    let (code, e) = app.err(None, CEILING, json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED", "{e}");
}

// ---------------------------------------------------------------------------------------
// 2. An external project manager.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_external_project_manager_gets_no_member_management_cost_internal_documents_or_invoicing(
) {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = pm_world(&app, &admin).await;

    // Rights, the guarded budget and the internal document, in one read.
    let (_, body) = app.post(Some(&w.ext), PM_VIEW, json!({ "p": w.p })).await;
    assert_cut_view(&body, "the external project manager");
    let rights = viewer_rights(&app, &w.ext, &w.p).await;
    for r in CUT_BY_DEFAULT {
        assert!(!rights.contains(&r.to_string()), "{r} held: {rights:?}");
    }
    // The list of all documents leaves the internal one out too, count included.
    let all = app
        .ok(
            &w.ext,
            "{ documents(first: 50) { totalCount nodes { title } } }",
            json!({}),
        )
        .await;
    assert_eq!(all["documents"]["totalCount"], 1, "{all}");
    assert_eq!(all["documents"]["nodes"], json!([{ "title": "Plan" }]));
    let internal_only = app
        .ok(
            &w.ext,
            "{ documents(first: 50, filter: {visibility: INTERNAL}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        internal_only["documents"]["totalCount"], 0,
        "{internal_only}"
    );

    // Member management is refused and writes nothing.
    let customer_profile = app.profile_id(&admin, "Customer").await;
    let add = |user: &str| json!({ "i": { "projectId": w.p, "userId": user, "profileId": customer_profile } });
    let before = app.count(MEMBERSHIPS).await;
    refused(&app, Some(&w.ext), ADD_MEMBER, add(&w.int_id), "FORBIDDEN").await;
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");

    // The internal user with the same profile on the same project sees and does all of it.
    let (_, body) = app.post(Some(&w.int), PM_VIEW, json!({ "p": w.p })).await;
    assert_full_view(&body, "the internal project manager");
    app.ok(&w.int, ADD_MEMBER, add(&w.ext_id)).await;
    assert_eq!(app.count(MEMBERSHIPS).await, before + 1);
    // The added membership gives the external user nothing past the ceiling.
    let (_, body) = app.post(Some(&w.ext), PM_VIEW, json!({ "p": w.p })).await;
    assert_cut_view(
        &body,
        "the external project manager, with a second membership",
    );
}

// ---------------------------------------------------------------------------------------
// 3. An external user with the Administrator profile.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_external_user_with_the_administrator_profile_is_no_administrator() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    let (xa_id, xa) = external(&app, &admin, "boss@acme.example", "Administrator", &acme).await;
    let (co_id, _) = app.person(&admin, "co@test.example", "Full member").await;
    let (far_id, _) = app.person(&admin, "far@test.example", "Full member").await;
    let p = app
        .project(&admin, "Acme site", None, json!({ "customerId": acme }))
        .await;
    let q = app.project(&admin, "Internal", None, json!({})).await;
    app.member(&admin, &p, &xa_id, "Customer").await;
    app.member(&admin, &p, &co_id, "Full member").await;
    app.member(&admin, &q, &far_id, "Full member").await;

    // No global right: the Administrator profile holds ADMIN only, outside the ceiling.
    let data = app.ok(&xa, "{ viewer { globalRights } }", json!({})).await;
    let global = sorted(&data["viewer"]["globalRights"]);
    assert!(!global.contains(&"ADMIN".to_string()), "{data}");
    assert!(global.is_empty(), "{data}");

    // No administration.
    let full_member = app.profile_id(&admin, "Full member").await;
    let before = app.count(USERS).await;
    refused(
        &app,
        Some(&xa),
        CREATE_USER,
        json!({ "i": { "email": "new@test.example", "name": "New", "password": PASSWORD,
                       "profileId": full_member } }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.count(USERS).await, before, "nothing written");
    refused(
        &app,
        Some(&xa),
        "{ auditEvents(first: 10) { totalCount } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
    let ceiling_rows = app.count(CEILING_ROWS).await;
    let everything: Vec<String> = set(PROJECT_MANAGER)
        .into_iter()
        .chain(["ADMIN".to_string()])
        .collect();
    refused(
        &app,
        Some(&xa),
        SET_CEILING,
        json!({ "r": everything }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(
        app.count(CEILING_ROWS).await,
        ceiling_rows,
        "nothing written"
    );
    assert_eq!(ceiling(&app, &admin).await, set(DEFAULT_CEILING));

    // Only self and co-members among the users, only its own project among the projects.
    let users = app
        .ok(
            &xa,
            "{ users(first: 500) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    let mut ids: Vec<String> = users["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| str_at(n, &["id"]))
        .collect();
    ids.sort();
    // The administrator who created the project became its member: a co-member too.
    let root_id = str_at(
        &app.ok(&admin, "{ viewer { user { id } } }", json!({}))
            .await,
        &["viewer", "user", "id"],
    );
    let mut expected = vec![xa_id.clone(), co_id.clone(), root_id];
    expected.sort();
    assert_eq!(ids, expected, "{users}");
    assert_eq!(users["users"]["totalCount"], 3, "{users}");
    assert!(!ids.contains(&far_id), "a user of another project: {users}");
    assert_eq!(app.sees(&xa).await, ["Acme site"]);
    assert_eq!(
        viewer_rights(&app, &xa, &p).await,
        set(&["VIEW_INVOICES"]),
        "the membership's rights only"
    );

    // Nor may it read the API as someone else.
    let body = post_viewing_as(
        &app,
        &xa,
        Some(&co_id),
        "{ viewer { user { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "view-as by an external 'administrator': {body}"
    );

    // Control: an internal user with the same profile is an administrator.
    let (_, root2) = app
        .person(&admin, "root2@test.example", "Administrator")
        .await;
    let data = app
        .ok(&root2, "{ viewer { globalRights } }", json!({}))
        .await;
    assert!(sorted(&data["viewer"]["globalRights"]).contains(&"ADMIN".to_string()));
    app.ok(
        &root2,
        "{ auditEvents(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    let all = app
        .ok(&root2, "{ users(first: 500) { totalCount } }", json!({}))
        .await;
    assert_eq!(all["users"]["totalCount"], 5, "{all}");
}

#[tokio::test]
async fn an_external_user_with_an_all_projects_profile_sees_only_its_own_projects() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    let (sm_id, sm) = external(&app, &admin, "sm@acme.example", "Senior manager", &acme).await;
    let (_, int) = app
        .person(&admin, "sm@test.example", "Senior manager")
        .await;
    let p = app
        .project(&admin, "Acme site", None, json!({ "budget": "100.00" }))
        .await;
    let old = app
        .project(&admin, "Acme old", None, json!({ "status": "CLOSED" }))
        .await;
    app.project(&admin, "Internal", None, json!({})).await;
    app.member(&admin, &p, &sm_id, "Customer").await;
    app.member(&admin, &old, &sm_id, "Customer").await;

    // VIEW_ALL_PROJECTS is outside the ceiling, VIEW_PROJECT_HISTORY inside.
    let data = app.ok(&sm, "{ viewer { globalRights } }", json!({})).await;
    assert_eq!(
        sorted(&data["viewer"]["globalRights"]),
        set(&["VIEW_PROJECT_HISTORY"]),
        "{data}"
    );
    assert_eq!(app.sees(&sm).await, ["Acme old", "Acme site"]);
    // Its profile's read rights do not come along with a global right it does not hold.
    assert_eq!(viewer_rights(&app, &sm, &p).await, set(&["VIEW_INVOICES"]));
    assert_eq!(
        app.sees(&int).await,
        ["Acme old", "Acme site", "Internal"],
        "control: the internal senior manager sees every project"
    );

    // Without VIEW_PROJECT_HISTORY in the ceiling, the closed project goes too.
    set_ceiling(
        &app,
        &admin,
        &minus(DEFAULT_CEILING, &["VIEW_PROJECT_HISTORY"]),
    )
    .await;
    assert_eq!(app.sees(&sm).await, ["Acme site"]);
    let (code, e) = app
        .err(Some(&sm), EXPLAIN, json!({ "p": old, "u": null }))
        .await;
    assert_eq!(code, "NOT_FOUND", "{e}");
    assert_eq!(app.sees(&int).await, ["Acme old", "Acme site", "Internal"]);
}

// ---------------------------------------------------------------------------------------
// 4. Narrowing down the tree, not to siblings.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_project_narrowing_reaches_its_descendants_and_rooms_but_not_its_siblings() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    let (ext_id, ext) = external(&app, &admin, "pm@acme.example", "Customer", &acme).await;
    let (int_id, int) = app.person(&admin, "pm@test.example", "Full member").await;
    // R ── P ── C ── G
    //   │    └─ Room (own rights)
    //   └─ S
    let r = app.project(&admin, "R", None, json!({})).await;
    let p = app.project(&admin, "P", Some(&r), json!({})).await;
    let c = app.project(&admin, "C", Some(&p), json!({})).await;
    let g = app.project(&admin, "G", Some(&c), json!({})).await;
    let room = app
        .project(&admin, "Room", Some(&p), json!({ "inheritMembers": false }))
        .await;
    let s = app.project(&admin, "S", Some(&r), json!({})).await;
    for who in [&ext_id, &int_id] {
        app.member(&admin, &r, who, "Project manager").await;
        app.member(&admin, &room, who, "Project manager").await;
    }
    let cut = minus(PROJECT_MANAGER, CUT_BY_DEFAULT);
    for x in [&r, &p, &c, &g, &room, &s] {
        assert_eq!(viewer_rights(&app, &ext, x).await, cut, "precondition");
    }

    let narrowing = ["LOG_TIME", "SEE_WORK", "VIEW_INVOICES"];
    let back = narrow(&app, &admin, &p, Some(&narrowing)).await;
    assert_eq!(sorted(&back), set(&narrowing));
    // The field reads back on P only; its descendants carry no narrowing of their own.
    let read = "query($p: ID!) { project(id: $p) { externalRights } }";
    let on_p = app.ok(&admin, read, json!({ "p": p })).await;
    assert_eq!(sorted(&on_p["project"]["externalRights"]), set(&narrowing));
    let on_c = app.ok(&admin, read, json!({ "p": c })).await;
    assert!(on_c["project"]["externalRights"].is_null(), "{on_c}");

    // P, its inheriting descendants and the room below it are narrowed.
    for (name, x) in [("P", &p), ("C", &c), ("G", &g), ("Room", &room)] {
        assert_eq!(
            viewer_rights(&app, &ext, x).await,
            set(&narrowing),
            "on {name}"
        );
    }
    // P's parent and sibling are not.
    for (name, x) in [("R", &r), ("S", &s)] {
        assert_eq!(viewer_rights(&app, &ext, x).await, cut, "on {name}");
    }
    // The internal user is not affected anywhere.
    for x in [&r, &p, &c, &g, &room, &s] {
        assert_eq!(viewer_rights(&app, &int, x).await, set(PROJECT_MANAGER));
    }

    // explainAccess lists what the ceiling removed, asked by ADMIN or by the user itself.
    let removed_on_p = minus(PROJECT_MANAGER, &narrowing);
    for (name, x) in [("C", &c), ("Room", &room)] {
        assert_eq!(
            explain(&app, &admin, x, Some(&ext_id)).await,
            (set(&narrowing), removed_on_p.clone()),
            "admin asks on {name}"
        );
        assert_eq!(
            explain(&app, &ext, x, None).await,
            (set(&narrowing), removed_on_p.clone()),
            "the user asks on {name}"
        );
    }
    assert_eq!(
        explain(&app, &admin, &s, Some(&ext_id)).await,
        (cut.clone(), set(CUT_BY_DEFAULT)),
        "on the sibling, the global ceiling alone"
    );
    assert_eq!(
        explain(&app, &admin, &c, Some(&int_id)).await,
        (set(PROJECT_MANAGER), Vec::new()),
        "nothing removed from an internal user"
    );

    // A second narrowing below intersects with the first.
    narrow(&app, &admin, &c, Some(&["LOG_TIME", "SEE_VALIDATED_WORK"])).await;
    assert_eq!(viewer_rights(&app, &ext, &c).await, set(&["LOG_TIME"]));
    assert_eq!(viewer_rights(&app, &ext, &g).await, set(&["LOG_TIME"]));
    assert_eq!(viewer_rights(&app, &ext, &p).await, set(&narrowing));
    assert_eq!(viewer_rights(&app, &ext, &room).await, set(&narrowing));
    assert_eq!(
        explain(&app, &admin, &g, Some(&ext_id)).await,
        (set(&["LOG_TIME"]), minus(PROJECT_MANAGER, &["LOG_TIME"]))
    );

    // Clearing P's narrowing gives back the global ceiling on P and the room.
    let cleared = narrow(&app, &admin, &p, None).await;
    assert!(cleared.is_null(), "{cleared}");
    assert_eq!(viewer_rights(&app, &ext, &p).await, cut);
    assert_eq!(viewer_rights(&app, &ext, &room).await, cut);
    assert_eq!(
        viewer_rights(&app, &ext, &c).await,
        set(&["LOG_TIME", "SEE_VALIDATED_WORK"]),
        "C's own narrowing remains"
    );
}

// ---------------------------------------------------------------------------------------
// 5. No widening past the global ceiling.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_project_narrowing_never_widens_past_the_global_ceiling() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = pm_world(&app, &admin).await;

    // A right outside the global ceiling is refused, even to ADMIN, and writes nothing.
    let e = refused(
        &app,
        Some(&admin),
        UPDATE_PROJECT,
        json!({ "i": { "id": w.p, "externalRights": ["LOG_TIME", "SEE_COST"] } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(e["extensions"]["field"], "externalRights", "{e}");
    let read = "query($p: ID!) { project(id: $p) { externalRights } }";
    let now = app.ok(&admin, read, json!({ "p": w.p })).await;
    assert!(now["project"]["externalRights"].is_null(), "{now}");
    let (_, body) = app.post(Some(&w.ext), PM_VIEW, json!({ "p": w.p })).await;
    assert_cut_view(&body, "after the refused widening");

    let projects = app.count(PROJECTS).await;
    let e = refused(
        &app,
        Some(&admin),
        CREATE_PROJECT,
        json!({ "i": { "name": "Wide", "externalRights": ["SEE_COST"] } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(e["extensions"]["field"], "externalRights", "{e}");
    assert_eq!(app.count(PROJECTS).await, projects, "nothing written");
    // Control: a narrowing inside the ceiling is accepted at creation.
    let created = app
        .ok(
            &admin,
            CREATE_PROJECT,
            json!({ "i": { "name": "Narrow", "externalRights": ["LOG_TIME"] } }),
        )
        .await;
    assert_eq!(
        sorted(&created["createProject"]["externalRights"]),
        set(&["LOG_TIME"])
    );

    // A narrowing that lists a right later removed from the global ceiling does not bring
    // it back.
    narrow(&app, &admin, &w.p, Some(&["LOG_TIME", "SEE_WORK"])).await;
    assert_eq!(
        viewer_rights(&app, &w.ext, &w.p).await,
        set(&["LOG_TIME", "SEE_WORK"])
    );
    let without_see_work = minus(DEFAULT_CEILING, &["SEE_WORK"]);
    set_ceiling(&app, &admin, &without_see_work).await;
    assert_eq!(
        viewer_rights(&app, &w.ext, &w.p).await,
        set(&["LOG_TIME"]),
        "the project's narrowing cannot add back what the global ceiling removed"
    );
    let (rights, removed) = explain(&app, &admin, &w.p, Some(&w.ext_id)).await;
    assert_eq!(rights, set(&["LOG_TIME"]));
    assert!(removed.contains(&"SEE_WORK".to_string()), "{removed:?}");
    // Nor can the narrowing be set again with it.
    let e = refused(
        &app,
        Some(&admin),
        UPDATE_PROJECT,
        json!({ "i": { "id": w.p, "externalRights": ["LOG_TIME", "SEE_WORK"] } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(e["extensions"]["field"], "externalRights", "{e}");
    // The internal project manager keeps everything.
    assert_eq!(
        viewer_rights(&app, &w.int, &w.p).await,
        set(PROJECT_MANAGER)
    );
}

// ---------------------------------------------------------------------------------------
// 6. The next request, no new login.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_ceiling_change_applies_on_the_next_request_without_a_new_login() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = pm_world(&app, &admin).await;
    let t = app
        .task(&admin, &w.p, "Build", json!({ "plannedWork": 40.0 }))
        .await;
    app.log(&w.ext, &t, "2025-01-06", 3.0).await;
    let figures =
        "query($p: ID!) { project(id: $p) { budget plannedWork realWork validatedWork } }";
    let sessions = app.count(SESSIONS).await;

    let (_, before) = app.post(Some(&w.ext), figures, json!({ "p": w.p })).await;
    assert!(before.get("errors").is_none(), "{before}");
    assert_eq!(before["data"]["project"]["plannedWork"], 40.0, "{before}");
    assert_eq!(before["data"]["project"]["realWork"], 3.0, "{before}");
    assert!(before["data"]["project"]["budget"].is_null(), "{before}");

    // SEE_WORK leaves the ceiling: the same token loses the work figures.
    let without_see_work = minus(DEFAULT_CEILING, &["SEE_WORK"]);
    set_ceiling(&app, &admin, &without_see_work).await;
    let (_, after) = app.post(Some(&w.ext), figures, json!({ "p": w.p })).await;
    assert!(after.get("errors").is_none(), "{after}");
    let p = &after["data"]["project"];
    assert!(p["plannedWork"].is_null(), "{after}");
    assert!(p["realWork"].is_null(), "{after}");
    for field in ["Project.plannedWork", "Project.realWork"] {
        let r = redacted(&after, field).unwrap_or_else(|| panic!("{field} not redacted: {after}"));
        assert_eq!(r["right"], "SEE_WORK", "{after}");
    }
    assert!(!viewer_rights(&app, &w.ext, &w.p)
        .await
        .contains(&"SEE_WORK".to_string()));
    // The internal project manager is not affected.
    let (_, internal) = app.post(Some(&w.int), figures, json!({ "p": w.p })).await;
    assert_eq!(internal["data"]["project"]["realWork"], 3.0, "{internal}");
    assert_eq!(
        internal["data"]["project"]["budget"], "5000.00",
        "{internal}"
    );

    // SEE_COST enters the ceiling: the same token now reads the budget.
    let mut with_cost = without_see_work.clone();
    with_cost.push("SEE_COST".to_string());
    set_ceiling(&app, &admin, &with_cost).await;
    let (_, later) = app.post(Some(&w.ext), figures, json!({ "p": w.p })).await;
    assert!(later.get("errors").is_none(), "{later}");
    assert_eq!(later["data"]["project"]["budget"], "5000.00", "{later}");
    assert!(redacted(&later, "Project.budget").is_none(), "{later}");
    assert!(later["data"]["project"]["realWork"].is_null(), "{later}");

    // And back to the default: the work figures return, the budget goes.
    let default: Vec<String> = set(DEFAULT_CEILING);
    set_ceiling(&app, &admin, &default).await;
    let (_, again) = app.post(Some(&w.ext), figures, json!({ "p": w.p })).await;
    assert_eq!(again["data"]["project"]["realWork"], 3.0, "{again}");
    assert!(again["data"]["project"]["budget"].is_null(), "{again}");

    assert_eq!(app.count(SESSIONS).await, sessions, "no new login");
}

// ---------------------------------------------------------------------------------------
// 7. The audit event; ADMIN only.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn setting_the_ceiling_is_audited_and_needs_admin() {
    let app = spawn().await;
    let admin = app.admin().await;
    let admin_id = str_at(
        &app.ok(&admin, "{ viewer { user { id } } }", json!({}))
            .await,
        &["viewer", "user", "id"],
    );
    let events = "{ auditEvents(first: 50, filter: {action: \"SET_EXTERNAL_CEILING\"}) { totalCount nodes { action actor { id } impersonator { id } details } } }";
    let none = app.ok(&admin, events, json!({})).await;
    assert_eq!(none["auditEvents"]["totalCount"], 0, "{none}");

    let mut new_ceiling = minus(DEFAULT_CEILING, &["APPROVE_TIMESHEETS"]);
    new_ceiling.push("SEE_COST".to_string());
    set_ceiling(&app, &admin, &new_ceiling).await;
    assert_eq!(ceiling(&app, &admin).await, set_of(&new_ceiling));

    let logged = app.ok(&admin, events, json!({})).await;
    assert_eq!(logged["auditEvents"]["totalCount"], 1, "{logged}");
    let ev = &logged["auditEvents"]["nodes"][0];
    assert_eq!(ev["action"], "SET_EXTERNAL_CEILING", "{logged}");
    assert_eq!(ev["actor"]["id"], json!(admin_id), "{logged}");
    assert!(ev["impersonator"].is_null(), "{logged}");
    // The event says what changed: the right added and the right removed are named.
    let details = ev["details"].to_string();
    for r in ["SEE_COST", "APPROVE_TIMESHEETS"] {
        assert!(
            details.contains(r),
            "{r} not in the event's details: {logged}"
        );
    }

    // Nobody else may set it, however strong their profile: refused, nothing written, the
    // ceiling unchanged, no event.
    app.new_profile(&admin, "Impersonator", &["IMPERSONATE"])
        .await;
    app.new_profile(
        &admin,
        "Everything but admin",
        &[
            "EDIT_ALL_PROJECTS",
            "VIEW_PROJECT_HISTORY",
            "CREATE_PROJECTS",
            "IMPERSONATE",
        ],
    )
    .await;
    let acme = customer(&app, &admin, "Acme").await;
    let (_, senior) = app
        .person(&admin, "senior@test.example", "Senior manager")
        .await;
    let (_, imp) = app.person(&admin, "imp@test.example", "Impersonator").await;
    let (_, strong) = app
        .person(&admin, "strong@test.example", "Everything but admin")
        .await;
    let (_, ext) = external(&app, &admin, "x@acme.example", "Administrator", &acme).await;
    let widest: Vec<String> = set(PROJECT_MANAGER)
        .into_iter()
        .chain(["ADMIN".to_string(), "IMPERSONATE".to_string()])
        .collect();
    let audit = app.count(AUDIT_EVENTS).await;
    let rows = app.count(CEILING_ROWS).await;
    for (who, token) in [
        ("a senior manager", &senior),
        ("an impersonator", &imp),
        ("an all-projects editor", &strong),
        ("an external 'administrator'", &ext),
    ] {
        for rights in [&widest, &Vec::new()] {
            let e = refused(
                &app,
                Some(token),
                SET_CEILING,
                json!({ "r": rights }),
                "FORBIDDEN",
            )
            .await;
            assert!(
                !e["message"].as_str().unwrap_or("").is_empty(),
                "{who}: {e}"
            );
        }
        assert_eq!(
            ceiling(&app, token).await,
            set_of(&new_ceiling),
            "{who}: the ceiling changed"
        );
    }
    assert_eq!(app.count(CEILING_ROWS).await, rows, "nothing written");
    assert_eq!(app.count(AUDIT_EVENTS).await, audit, "no event");
    let still = app.ok(&admin, events, json!({})).await;
    assert_eq!(still["auditEvents"]["totalCount"], 1, "{still}");

    // "View as" is read-only, even an administrator's.
    let (u_id, _) = app.person(&admin, "u@test.example", "Full member").await;
    let body = post_viewing_as(
        &app,
        &admin,
        Some(&u_id),
        SET_CEILING,
        json!({ "r": DEFAULT_CEILING }),
    )
    .await;
    assert!(body.get("errors").is_some(), "{body}");
    assert_eq!(ceiling(&app, &admin).await, set_of(&new_ceiling));
    assert_eq!(app.count(CEILING_ROWS).await, rows, "nothing written");
}

// ---------------------------------------------------------------------------------------
// 8. "View as" an external user; API keys of external users.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn view_as_an_external_user_and_an_external_users_api_key_are_cut_by_the_ceiling() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = pm_world(&app, &admin).await;
    app.new_profile(&admin, "Impersonator", &["IMPERSONATE"])
        .await;
    let (_, imp) = app.person(&admin, "imp@test.example", "Impersonator").await;

    // "View as" the external project manager, by ADMIN and by an IMPERSONATE holder.
    for (who, token) in [("ADMIN", &admin), ("IMPERSONATE", &imp)] {
        let body =
            post_viewing_as(&app, token, Some(&w.ext_id), PM_VIEW, json!({ "p": w.p })).await;
        assert_cut_view(&body, &format!("view as the external user, by {who}"));
        // Control: viewing as the internal project manager shows everything.
        let body =
            post_viewing_as(&app, token, Some(&w.int_id), PM_VIEW, json!({ "p": w.p })).await;
        assert_full_view(&body, &format!("view as the internal user, by {who}"));
    }

    // API keys of the external user: unnarrowed, narrowed to the project, read-only.
    let keys = [
        api_key(&app, &w.ext, json!({ "name": "all" })).await,
        api_key(
            &app,
            &w.ext,
            json!({ "name": "portal", "projectIds": [w.p] }),
        )
        .await,
        api_key(&app, &w.ext, json!({ "name": "ro", "readOnly": true })).await,
    ];
    for (i, key) in keys.iter().enumerate() {
        let (_, body) = app.post(Some(key), PM_VIEW, json!({ "p": w.p })).await;
        assert_cut_view(&body, &format!("the external user's key #{i}"));
    }
    let customer_profile = app.profile_id(&admin, "Customer").await;
    let before = app.count(MEMBERSHIPS).await;
    refused(
        &app,
        Some(&keys[0]),
        ADD_MEMBER,
        json!({ "i": { "projectId": w.p, "userId": w.int_id, "profileId": customer_profile } }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    // Control: the internal project manager's key shows everything.
    let int_key = api_key(&app, &w.int, json!({ "name": "all" })).await;
    let (_, body) = app.post(Some(&int_key), PM_VIEW, json!({ "p": w.p })).await;
    assert_full_view(&body, "the internal user's key");

    // An external user with the Administrator profile: its key carries no ADMIN either.
    let (_, xa) = external(&app, &admin, "boss@acme.example", "Administrator", &w.acme).await;
    let xa_key = api_key(&app, &xa, json!({ "name": "all" })).await;
    let data = app
        .ok(&xa_key, "{ viewer { globalRights } }", json!({}))
        .await;
    assert!(sorted(&data["viewer"]["globalRights"]).is_empty(), "{data}");
    refused(
        &app,
        Some(&xa_key),
        "{ auditEvents(first: 1) { totalCount } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
    let full_member = app.profile_id(&admin, "Full member").await;
    let users = app.count(USERS).await;
    refused(
        &app,
        Some(&xa_key),
        CREATE_USER,
        json!({ "i": { "email": "new@test.example", "name": "New", "password": PASSWORD,
                       "profileId": full_member } }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.count(USERS).await, users, "nothing written");
    assert_eq!(app.sees(&xa_key).await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// Widening a narrowing goes through the grant check.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn widening_a_narrowing_needs_the_rights_it_would_give_external_members() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = pm_world(&app, &admin).await;
    app.new_profile(&admin, "Editor", &["EDIT_PROJECT", "LOG_TIME", "SEE_WORK"])
        .await;
    let (ed_id, ed) = app.person(&admin, "ed@test.example", "Full member").await;
    app.member(&admin, &w.p, &ed_id, "Editor").await;
    let c = app.project(&admin, "Child", Some(&w.p), json!({})).await;
    narrow(&app, &admin, &w.p, Some(&["LOG_TIME"])).await;
    assert_eq!(viewer_rights(&app, &w.ext, &w.p).await, set(&["LOG_TIME"]));
    let read = "query($p: ID!) { project(id: $p) { externalRights } }";
    let narrowing_of = |v: &Value| sorted(&v["project"]["externalRights"]);

    // The editor holds LOG_TIME and SEE_WORK only: widening to anything beyond, or clearing
    // the narrowing, would give the external member rights the editor lacks.
    for (what, rights) in [
        (
            "a right the editor lacks",
            json!(["LOG_TIME", "SEE_WORK", "APPROVE_TIMESHEETS"]),
        ),
        ("clearing", Value::Null),
    ] {
        let e = refused(
            &app,
            Some(&ed),
            UPDATE_PROJECT,
            json!({ "i": { "id": w.p, "externalRights": rights } }),
            "FORBIDDEN",
        )
        .await;
        let now = app.ok(&admin, read, json!({ "p": w.p })).await;
        assert_eq!(narrowing_of(&now), set(&["LOG_TIME"]), "{what}: {e}");
        assert_eq!(viewer_rights(&app, &w.ext, &w.p).await, set(&["LOG_TIME"]));
        assert_eq!(viewer_rights(&app, &w.ext, &c).await, set(&["LOG_TIME"]));
    }
    // Widening to rights the editor holds is allowed.
    narrow(&app, &ed, &w.p, Some(&["LOG_TIME", "SEE_WORK"])).await;
    assert_eq!(
        viewer_rights(&app, &w.ext, &c).await,
        set(&["LOG_TIME", "SEE_WORK"])
    );
    // So is narrowing further: nobody gains anything.
    narrow(&app, &ed, &w.p, Some(&[])).await;
    assert_eq!(
        viewer_rights(&app, &w.ext, &w.p).await,
        Vec::<String>::new()
    );

    // The external member, who holds EDIT_PROJECT there, cannot lift its own narrowing.
    narrow(&app, &admin, &w.p, Some(&["EDIT_PROJECT", "LOG_TIME"])).await;
    for rights in [json!(["EDIT_PROJECT", "LOG_TIME", "SEE_WORK"]), Value::Null] {
        refused(
            &app,
            Some(&w.ext),
            UPDATE_PROJECT,
            json!({ "i": { "id": w.p, "externalRights": rights } }),
            "FORBIDDEN",
        )
        .await;
    }
    assert_eq!(
        viewer_rights(&app, &w.ext, &w.p).await,
        set(&["EDIT_PROJECT", "LOG_TIME"])
    );

    // The internal project manager holds every right the external member would gain.
    let cleared = narrow(&app, &w.int, &w.p, None).await;
    assert!(cleared.is_null(), "{cleared}");
    assert_eq!(
        viewer_rights(&app, &w.ext, &w.p).await,
        both(PROJECT_MANAGER, DEFAULT_CEILING)
    );
    assert_eq!(
        viewer_rights(&app, &w.ext, &c).await,
        both(PROJECT_MANAGER, DEFAULT_CEILING)
    );
}
