//! The edges of the authorization model ("Edges: writes, references, derived data,
//! credentials"): ids in mutation inputs are looked up through the caller's scope, no write
//! grants a right its caller lacks, derived data carries its sources' guards, references to
//! invisible objects are redacted, folder rules reach down the tree, narrowed credentials
//! stay narrow, and membership dates include both days.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::{redacted, spawn, TestApp, PASSWORD};

const ADD_MEMBER: &str =
    "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const CREATE_KEY: &str =
    "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id projects { id } } } }";
const MEMBERSHIPS: &str = "SELECT COUNT(*) AS n FROM membership";
const API_KEYS: &str = "SELECT COUNT(*) AS n FROM api_key";

/// The opaque global id of row `n` of `kind` (`base64url("Kind:n")`, see src/graphql/ids.rs).
fn gid(kind: &str, n: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{n}"))
}

/// A well-formed global id of the same type as `id`, naming a row that does not exist.
fn missing(id: &str) -> String {
    let raw = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .unwrap_or_else(|_| panic!("{id} is not base64url"));
    let text = String::from_utf8(raw).expect("utf-8 id");
    let (kind, _) = text.split_once(':').expect("Type:n id");
    gid(kind, 987_654_321)
}

fn day(offset: i64) -> String {
    (Utc::now().date_naive() + Duration::days(offset)).to_string()
}

fn instant(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339()
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

/// Runs `query` once naming an invisible object and once naming a missing one: both must
/// fail exactly alike (code, message, field), with a code that does not reveal existence.
async fn same_refusal(
    app: &TestApp,
    token: &str,
    query: &str,
    invisible: Value,
    absent: Value,
) -> (String, Value) {
    let (c1, e1) = app.err(Some(token), query, invisible).await;
    let (c2, e2) = app.err(Some(token), query, absent).await;
    assert_eq!(
        c1, c2,
        "an invisible id answers {e1}, a missing one {e2}: codes differ"
    );
    assert_eq!(
        e1["message"], e2["message"],
        "an invisible id answers {e1}, a missing one {e2}: messages differ"
    );
    assert_eq!(
        e1["extensions"]["field"], e2["extensions"]["field"],
        "an invisible id answers {e1}, a missing one {e2}: fields differ"
    );
    assert!(
        c1 == "NOT_FOUND" || c1 == "BAD_USER_INPUT",
        "a refusal of an invisible id must look like a missing one: {e1}"
    );
    (c1, e1)
}

/// Creates an EXTERNAL user with a default profile (by name), signed in: (id, token).
async fn external(
    app: &TestApp,
    admin: &str,
    email: &str,
    profile: &str,
    customer: Option<&str>,
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

async fn department(app: &TestApp, admin: &str, name: &str, parent: Option<&str>) -> String {
    let data = app
        .ok(
            admin,
            "mutation($n: String!, $p: ID) { createDepartment(input: {name: $n, parentId: $p}) { id } }",
            json!({ "n": name, "p": parent }),
        )
        .await;
    str_at(&data, &["createDepartment", "id"])
}

async fn group(app: &TestApp, admin: &str, name: &str, users: &[&str]) -> String {
    let data = app
        .ok(
            admin,
            "mutation($n: String!) { createGroup(input: {name: $n}) { id } }",
            json!({ "n": name }),
        )
        .await;
    let g = str_at(&data, &["createGroup", "id"]);
    for u in users {
        app.ok(
            admin,
            "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u}) { id } }",
            json!({ "g": g, "u": u }),
        )
        .await;
    }
    g
}

async fn update_user(app: &TestApp, admin: &str, input: Value) {
    app.ok(
        admin,
        "mutation($i: UpdateUserInput!) { updateUser(input: $i) { id } }",
        json!({ "i": input }),
    )
    .await;
}

/// Adds a member with a validity period, as an administrator; answers the membership id.
async fn member_between(
    app: &TestApp,
    admin: &str,
    project: &str,
    user: &str,
    profile: &str,
    from: Option<String>,
    until: Option<String>,
) -> String {
    let profile_id = app.profile_id(admin, profile).await;
    let data = app
        .ok(
            admin,
            ADD_MEMBER,
            json!({ "i": { "projectId": project, "userId": user, "profileId": profile_id,
                           "validFrom": from, "validUntil": until } }),
        )
        .await;
    str_at(&data, &["addProjectMember", "id"])
}

/// Whether `node(id:)` finds `id` for `token`.
async fn finds(app: &TestApp, token: &str, id: &str) -> bool {
    let data = app
        .ok(
            token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    !data["node"].is_null()
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

async fn create_key(app: &TestApp, token: &str, input: Value) -> (String, String) {
    let data = app.ok(token, CREATE_KEY, json!({ "i": input })).await;
    (
        str_at(&data, &["createApiKey", "secret"]),
        str_at(&data, &["createApiKey", "apiKey", "id"]),
    )
}

async fn document(app: &TestApp, token: &str, project: &str, folder: &str, title: &str) -> String {
    let data = app
        .ok(
            token,
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({ "i": { "projectId": project, "folder": folder, "title": title, "visibility": "SHARED" } }),
        )
        .await;
    str_at(&data, &["createDocument", "id"])
}

async fn folder_rule(app: &TestApp, token: &str, project: &str, folder: &str, user: &str) {
    app.ok(
        token,
        "mutation($p: ID!, $f: String!, $u: ID) { setFolderRule(input: {projectId: $p, folder: $f, userId: $u}) { id } }",
        json!({ "p": project, "f": folder, "u": user }),
    )
    .await;
}

/// The documents a token sees: (totalCount, sorted titles).
async fn document_titles(app: &TestApp, token: &str) -> (i64, Vec<String>) {
    let data = app
        .ok(
            token,
            "{ documents(first: 500) { totalCount nodes { title } } }",
            json!({}),
        )
        .await;
    let mut titles: Vec<String> = data["documents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    (data["documents"]["totalCount"].as_i64().unwrap(), titles)
}

// ---------------------------------------------------------------------------------------
// 1. Writes that name an object: invisible answers exactly as missing, and writes nothing.
// ---------------------------------------------------------------------------------------

/// A member manager of P, a user they see (co-member of Q2) and one they cannot see.
struct MemberWorld {
    p: String,
    manager: String,
    manager_id: String,
    visible_user: String,
    logger: String,
}

async fn member_world(app: &TestApp, admin: &str) -> MemberWorld {
    let (manager_id, manager) = app.person(admin, "mm@test.example", "Full member").await;
    app.new_profile(admin, "Member manager", &["MANAGE_MEMBERS", "LOG_TIME"])
        .await;
    let logger = app.new_profile(admin, "Logger", &["LOG_TIME"]).await;
    let p = app.project(admin, "P", None, json!({})).await;
    app.member(admin, &p, &manager_id, "Member manager").await;
    // A user the manager sees: a co-member of another project they both belong to.
    let visible_user = app.user(admin, "v@test.example", "Full member").await;
    let q2 = app.project(admin, "Shared", None, json!({})).await;
    app.member(admin, &q2, &manager_id, "Full member").await;
    app.member(admin, &q2, &visible_user, "Full member").await;
    MemberWorld {
        p,
        manager,
        manager_id,
        visible_user,
        logger,
    }
}

#[tokio::test]
async fn an_invisible_user_id_answers_as_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = member_world(&app, &admin).await;
    // An external user of another customer, on a project the manager does not see.
    let globex = customer(&app, &admin, "Globex").await;
    let (hidden, _) = external(&app, &admin, "h@globex.example", "Customer", Some(&globex)).await;
    let q = app.project(&admin, "Q", None, json!({})).await;
    app.member(&admin, &q, &hidden, "Customer").await;
    assert!(
        !finds(&app, &w.manager, &hidden).await,
        "precondition: the user is invisible"
    );

    let before = app.count(MEMBERSHIPS).await;
    let input = |u: &str| json!({ "i": { "projectId": w.p, "userId": u, "profileId": w.logger } });
    same_refusal(
        &app,
        &w.manager,
        ADD_MEMBER,
        input(&hidden),
        input(&missing(&hidden)),
    )
    .await;
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    // Control: the same input naming a user the manager sees works.
    app.ok(&w.manager, ADD_MEMBER, input(&w.visible_user)).await;
    assert_eq!(app.count(MEMBERSHIPS).await, before + 1);
}

#[tokio::test]
async fn an_invisible_group_id_answers_as_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = member_world(&app, &admin).await;
    let outsider = app.user(&admin, "o@test.example", "Full member").await;
    let board = group(&app, &admin, "Board", &[&outsider]).await;
    let mine = group(&app, &admin, "Mine", &[&w.manager_id]).await;
    assert!(
        !finds(&app, &w.manager, &board).await,
        "precondition: the group is invisible"
    );

    let before = app.count(MEMBERSHIPS).await;
    let input = |g: &str| json!({ "i": { "projectId": w.p, "groupId": g, "profileId": w.logger } });
    same_refusal(
        &app,
        &w.manager,
        ADD_MEMBER,
        input(&board),
        input(&missing(&board)),
    )
    .await;
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    // Control: the manager's own group, with rights the manager holds, may be added.
    app.ok(&w.manager, ADD_MEMBER, input(&mine)).await;
    assert_eq!(app.count(MEMBERSHIPS).await, before + 1);
}

#[tokio::test]
async fn an_invisible_assignee_answers_as_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    // The customer's own project leader manages the tasks of its project.
    let (lead_id, lead) = external(
        &app,
        &admin,
        "lead@acme.example",
        "External project leader",
        Some(&acme),
    )
    .await;
    let p = app
        .project(&admin, "Acme site", None, json!({ "customerId": acme }))
        .await;
    app.member(&admin, &p, &lead_id, "External project leader")
        .await;
    let colleague = app.user(&admin, "c@test.example", "Full member").await;
    app.member(&admin, &p, &colleague, "Full member").await;
    let hidden = app.user(&admin, "h@test.example", "Full member").await;
    let q = app.project(&admin, "Internal", None, json!({})).await;
    app.member(&admin, &q, &hidden, "Full member").await;
    assert!(!finds(&app, &lead, &hidden).await, "precondition");

    let tasks = "SELECT COUNT(*) AS n FROM task";
    let create = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }";
    let input = |u: &str| json!({ "i": { "projectId": p, "name": "T", "assigneeId": u } });
    same_refusal(
        &app,
        &lead,
        create,
        input(&hidden),
        input(&missing(&hidden)),
    )
    .await;
    assert_eq!(app.count(tasks).await, 0, "nothing written");
    app.ok(&lead, create, input(&colleague)).await;
    assert_eq!(app.count(tasks).await, 1);
}

#[tokio::test]
async fn an_invisible_user_in_a_folder_rule_answers_as_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (pm_id, pm) = app.person(&admin, "pm@test.example", "Full member").await;
    let p = app.project(&admin, "P", None, json!({})).await;
    app.member(&admin, &p, &pm_id, "Project manager").await;
    let colleague = app.user(&admin, "c@test.example", "Full member").await;
    app.member(&admin, &p, &colleague, "Full member").await;
    let globex = customer(&app, &admin, "Globex").await;
    let (hidden, _) = external(&app, &admin, "h@globex.example", "Customer", Some(&globex)).await;
    assert!(!finds(&app, &pm, &hidden).await, "precondition");

    let rules = "SELECT COUNT(*) AS n FROM folder_rule";
    let set = "mutation($i: SetFolderRuleInput!) { setFolderRule(input: $i) { id } }";
    let input = |u: &str| json!({ "i": { "projectId": p, "folder": "Legal", "userId": u } });
    same_refusal(&app, &pm, set, input(&hidden), input(&missing(&hidden))).await;
    assert_eq!(app.count(rules).await, 0, "nothing written");
    app.ok(&pm, set, input(&colleague)).await;
    assert_eq!(app.count(rules).await, 1);
}

#[tokio::test]
async fn an_invisible_customer_or_department_answers_as_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.new_profile(&admin, "Creator", &["CREATE_PROJECTS"])
        .await;
    let (creator_id, creator) = app.person(&admin, "creator@test.example", "Creator").await;
    let own_dept = department(&app, &admin, "Sales", None).await;
    let hidden_dept = department(&app, &admin, "Secret lab", None).await;
    update_user(
        &app,
        &admin,
        json!({ "id": creator_id, "departmentId": own_dept }),
    )
    .await;
    let acme = customer(&app, &admin, "Acme").await;
    let globex = customer(&app, &admin, "Globex").await;
    // Acme is visible through a project the creator sees; Globex only has a hidden project.
    let seen = app
        .project(&admin, "Acme site", None, json!({ "customerId": acme }))
        .await;
    app.member(&admin, &seen, &creator_id, "Full member").await;
    app.project(&admin, "Globex site", None, json!({ "customerId": globex }))
        .await;
    app.project(
        &admin,
        "Lab work",
        None,
        json!({ "departmentId": hidden_dept }),
    )
    .await;
    assert!(!finds(&app, &creator, &globex).await, "precondition");
    assert!(!finds(&app, &creator, &hidden_dept).await, "precondition");

    let projects = "SELECT COUNT(*) AS n FROM project";
    let before = app.count(projects).await;
    let create = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }";
    let with = |k: &str, v: &str| {
        let mut i = json!({ "name": "New" });
        i[k] = json!(v);
        json!({ "i": i })
    };
    same_refusal(
        &app,
        &creator,
        create,
        with("customerId", &globex),
        with("customerId", &missing(&globex)),
    )
    .await;
    same_refusal(
        &app,
        &creator,
        create,
        with("departmentId", &hidden_dept),
        with("departmentId", &missing(&hidden_dept)),
    )
    .await;
    assert_eq!(app.count(projects).await, before, "nothing written");
    // Control: the visible customer and the creator's own department are accepted.
    app.ok(
        &creator,
        create,
        json!({ "i": { "name": "New", "customerId": acme, "departmentId": own_dept } }),
    )
    .await;
    assert_eq!(app.count(projects).await, before + 1);
}

#[tokio::test]
async fn an_invisible_project_in_a_new_key_answers_as_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let mine = app.project(&admin, "Mine", None, json!({})).await;
    app.member(&admin, &mine, &u_id, "Full member").await;
    let hidden = app.project(&admin, "Hidden", None, json!({})).await;

    let (code, e) = same_refusal(
        &app,
        &u,
        CREATE_KEY,
        json!({ "i": { "name": "k", "projectIds": [hidden] } }),
        json!({ "i": { "name": "k", "projectIds": [missing(&hidden)] } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), e["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("projectIds"))
    );
    assert_eq!(app.count(API_KEYS).await, 0, "nothing written");
    create_key(&app, &u, json!({ "name": "k", "projectIds": [mine] })).await;
    assert_eq!(app.count(API_KEYS).await, 1);
}

#[tokio::test]
async fn writes_on_an_invisible_project_answer_as_on_a_missing_one() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = member_world(&app, &admin).await;
    let hidden = app.project(&admin, "Hidden", None, json!({})).await;

    let update = "mutation($p: ID!) { updateProject(input: {id: $p, name: \"Renamed\"}) { id } }";
    let (code, _) = same_refusal(
        &app,
        &w.manager,
        update,
        json!({ "p": hidden }),
        json!({ "p": missing(&hidden) }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let before = app.count(MEMBERSHIPS).await;
    let input = |p: &str| json!({ "i": { "projectId": p, "userId": w.visible_user, "profileId": w.logger } });
    let (code, _) = same_refusal(
        &app,
        &w.manager,
        ADD_MEMBER,
        input(&hidden),
        input(&missing(&hidden)),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    let name = app
        .ok(
            &admin,
            "query($p: ID!) { project(id: $p) { name } }",
            json!({ "p": hidden }),
        )
        .await;
    assert_eq!(name["project"]["name"], "Hidden", "nothing written");
}

// ---------------------------------------------------------------------------------------
// 2. No escalation, by any path: FORBIDDEN, and nothing written.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn moving_a_project_cannot_hand_the_caller_rights_it_lacks_there() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (c_id, c) = app.person(&admin, "c@test.example", "Full member").await;
    app.new_profile(&admin, "Sub creator", &["CREATE_SUBPROJECTS", "SEE_COST"])
        .await;
    app.new_profile(&admin, "Sub creator without costs", &["CREATE_SUBPROJECTS"])
        .await;
    // Everything A's membership carries but SEE_COST.
    app.new_profile(
        &admin,
        "Editor",
        &["EDIT_PROJECT", "MANAGE_MEMBERS", "CREATE_SUBPROJECTS"],
    )
    .await;
    let a = app.project(&admin, "A", None, json!({})).await;
    let b = app
        .project(&admin, "B", None, json!({ "budget": "5000.00" }))
        .await;
    app.member(&admin, &a, &c_id, "Sub creator").await;
    app.member(&admin, &b, &c_id, "Editor").await;
    let budget = "query($p: ID!) { project(id: $p) { budget parent { name } } }";
    let seen = app.ok(&c, budget, json!({ "p": b })).await;
    assert!(seen["project"]["budget"].is_null(), "precondition");

    // Under A, B would inherit A's memberships: the caller would gain SEE_COST on B.
    let move_q =
        "mutation($p: ID!, $to: ID) { updateProject(input: {id: $p, parentId: $to}) { id } }";
    let (code, e) = app.err(Some(&c), move_q, json!({ "p": b, "to": a })).await;
    assert_eq!(code, "FORBIDDEN", "{e}");
    let now = app.ok(&admin, budget, json!({ "p": b })).await;
    assert!(now["project"]["parent"].is_null(), "B was moved: {now}");
    let (_, body) = app.post(Some(&c), budget, json!({ "p": b })).await;
    assert!(body["data"]["project"]["budget"].is_null(), "{body}");
    assert!(redacted(&body, "Project.budget").is_some(), "{body}");

    // Control: the same move, the same memberships but no SEE_COST on A, gains nothing.
    let (e_id, e) = app.person(&admin, "e@test.example", "Full member").await;
    let a2 = app.project(&admin, "A2", None, json!({})).await;
    let b2 = app.project(&admin, "B2", None, json!({})).await;
    app.member(&admin, &a2, &e_id, "Sub creator without costs")
        .await;
    app.member(&admin, &b2, &e_id, "Editor").await;
    app.ok(&e, move_q, json!({ "p": b2, "to": a2 })).await;
    let now = app.ok(&admin, budget, json!({ "p": b2 })).await;
    assert_eq!(now["project"]["parent"]["name"], "A2");

    // Control: a caller holding the same rights on B as on A may move it.
    let (d_id, d) = app.person(&admin, "d@test.example", "Full member").await;
    app.member(&admin, &a, &d_id, "Project manager").await;
    app.member(&admin, &b, &d_id, "Project manager").await;
    app.ok(&d, move_q, json!({ "p": b, "to": a })).await;
    let now = app.ok(&admin, budget, json!({ "p": b })).await;
    assert_eq!(now["project"]["parent"]["name"], "A");
}

#[tokio::test]
async fn switching_inheritance_on_cannot_hand_the_caller_rights_it_lacks() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (c_id, c) = app.person(&admin, "c@test.example", "Full member").await;
    app.new_profile(&admin, "Cost viewer", &["SEE_COST"]).await;
    app.new_profile(&admin, "Editor", &["EDIT_PROJECT", "MANAGE_MEMBERS"])
        .await;
    let a = app.project(&admin, "A", None, json!({})).await;
    let room = app
        .project(
            &admin,
            "Room",
            Some(&a),
            json!({ "inheritMembers": false, "budget": "700.00" }),
        )
        .await;
    app.member(&admin, &a, &c_id, "Cost viewer").await;
    app.member(&admin, &room, &c_id, "Editor").await;
    let read = "query($p: ID!) { project(id: $p) { budget inheritMembers } }";
    let seen = app.ok(&c, read, json!({ "p": room })).await;
    assert!(seen["project"]["budget"].is_null(), "precondition");

    let switch =
        "mutation($p: ID!) { updateProject(input: {id: $p, inheritMembers: true}) { id } }";
    let (code, e) = app.err(Some(&c), switch, json!({ "p": room })).await;
    assert_eq!(code, "FORBIDDEN", "{e}");
    let now = app.ok(&admin, read, json!({ "p": room })).await;
    assert_eq!(
        now["project"]["inheritMembers"], false,
        "still a room: {now}"
    );
    let seen = app.ok(&c, read, json!({ "p": room })).await;
    assert!(seen["project"]["budget"].is_null(), "{seen}");

    // Control: the same memberships, with rights on A that the caller holds on the room too.
    let (e_id, e) = app.person(&admin, "e@test.example", "Full member").await;
    app.new_profile(&admin, "Logger", &["LOG_TIME"]).await;
    app.new_profile(
        &admin,
        "Logging editor",
        &["EDIT_PROJECT", "MANAGE_MEMBERS", "LOG_TIME"],
    )
    .await;
    let a2 = app.project(&admin, "A2", None, json!({})).await;
    let room2 = app
        .project(
            &admin,
            "Room2",
            Some(&a2),
            json!({ "inheritMembers": false }),
        )
        .await;
    app.member(&admin, &a2, &e_id, "Logger").await;
    app.member(&admin, &room2, &e_id, "Logging editor").await;
    app.ok(&e, switch, json!({ "p": room2 })).await;
    let now = app.ok(&admin, read, json!({ "p": room2 })).await;
    assert_eq!(now["project"]["inheritMembers"], true);

    // Control: a caller holding every right of A on the room may switch it.
    let (d_id, d) = app.person(&admin, "d@test.example", "Full member").await;
    app.member(&admin, &a, &d_id, "Project manager").await;
    app.member(&admin, &room, &d_id, "Project manager").await;
    app.ok(&d, switch, json!({ "p": room })).await;
    let now = app.ok(&admin, read, json!({ "p": room })).await;
    assert_eq!(now["project"]["inheritMembers"], true);
}

#[tokio::test]
async fn a_member_cannot_outlast_its_own_valid_until() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (c_id, c) = app.person(&admin, "c@test.example", "Full member").await;
    let manager = app
        .new_profile(&admin, "Member manager", &["MANAGE_MEMBERS", "LOG_TIME"])
        .await;
    let logger = app.new_profile(&admin, "Logger", &["LOG_TIME"]).await;
    let p = app.project(&admin, "P", None, json!({})).await;
    member_between(
        &app,
        &admin,
        &p,
        &c_id,
        "Member manager",
        None,
        Some(day(20)),
    )
    .await;
    let before = app.count(MEMBERSHIPS).await;

    for (profile, until) in [
        (&manager, None),
        (&manager, Some(day(30))),
        (&logger, None),
        (&logger, Some(day(21))),
    ] {
        let (code, e) = app
            .err(
                Some(&c),
                ADD_MEMBER,
                json!({ "i": { "projectId": p, "userId": c_id, "profileId": profile, "validUntil": until } }),
            )
            .await;
        assert_eq!(code, "FORBIDDEN", "until {until:?}: {e}");
        assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    }
    // Ending on or before its own last day, with rights it holds, gains nothing.
    app.ok(
        &c,
        ADD_MEMBER,
        json!({ "i": { "projectId": p, "userId": c_id, "profileId": logger, "validUntil": day(20) } }),
    )
    .await;
    assert_eq!(app.count(MEMBERSHIPS).await, before + 1);
}

#[tokio::test]
async fn a_member_cannot_grant_a_right_it_lacks() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = member_world(&app, &admin).await;
    let richer = app
        .new_profile(&admin, "Logger with costs", &["LOG_TIME", "SEE_COST"])
        .await;
    let before = app.count(MEMBERSHIPS).await;
    let (code, e) = app
        .err(
            Some(&w.manager),
            ADD_MEMBER,
            json!({ "i": { "projectId": w.p, "userId": w.visible_user, "profileId": richer } }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN", "{e}");
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    // Control: a profile within the caller's rights is accepted.
    app.ok(
        &w.manager,
        ADD_MEMBER,
        json!({ "i": { "projectId": w.p, "userId": w.visible_user, "profileId": w.logger } }),
    )
    .await;
    assert_eq!(app.count(MEMBERSHIPS).await, before + 1);
}

#[tokio::test]
async fn a_member_cannot_grant_a_right_it_lacks_through_a_group() {
    let app = spawn().await;
    let admin = app.admin().await;
    let w = member_world(&app, &admin).await;
    let richer = app
        .new_profile(&admin, "Logger with costs", &["LOG_TIME", "SEE_COST"])
        .await;
    // A group the manager sees: a member of another project the manager belongs to.
    let worker = app.user(&admin, "w@test.example", "Full member").await;
    let crew = group(&app, &admin, "Crew", &[&worker]).await;
    let other = app.project(&admin, "Other", None, json!({})).await;
    app.member(&admin, &other, &w.manager_id, "Full member")
        .await;
    let full = app.profile_id(&admin, "Full member").await;
    app.ok(
        &admin,
        ADD_MEMBER,
        json!({ "i": { "projectId": other, "groupId": crew, "profileId": full } }),
    )
    .await;
    assert!(finds(&app, &w.manager, &crew).await, "precondition");

    let before = app.count(MEMBERSHIPS).await;
    let (code, e) = app
        .err(
            Some(&w.manager),
            ADD_MEMBER,
            json!({ "i": { "projectId": w.p, "groupId": crew, "profileId": richer } }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN", "{e}");
    assert_eq!(app.count(MEMBERSHIPS).await, before, "nothing written");
    // Control: the same group with rights the manager holds.
    app.ok(
        &w.manager,
        ADD_MEMBER,
        json!({ "i": { "projectId": w.p, "groupId": crew, "profileId": w.logger } }),
    )
    .await;
    assert_eq!(app.count(MEMBERSHIPS).await, before + 1);
}

// ---------------------------------------------------------------------------------------
// 3. Derived data carries its sources' guards.
// ---------------------------------------------------------------------------------------

/// A member of P, a task on P assigned (by the admin) to an external user who is a member
/// of Q only, which the member does not see: (member token, task, assignee).
async fn hidden_assignee_world(app: &TestApp, admin: &str) -> (String, String, String) {
    let (c_id, c) = app.person(admin, "c@test.example", "Full member").await;
    let p = app.project(admin, "P", None, json!({})).await;
    app.member(admin, &p, &c_id, "Full member").await;
    let globex = customer(app, admin, "Globex").await;
    let (x, _) = external(
        app,
        admin,
        "x@globex.example",
        "External project leader",
        Some(&globex),
    )
    .await;
    let q = app.project(admin, "Q", None, json!({})).await;
    app.member(admin, &q, &x, "External project leader").await;
    let t = app
        .task(admin, &p, "Assigned away", json!({ "assigneeId": x }))
        .await;
    assert!(!finds(app, &c, &x).await, "precondition: X is invisible");
    (c, t, x)
}

#[tokio::test]
async fn filtering_tasks_by_an_invisible_assignee_matches_nothing() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (c, _, x) = hidden_assignee_world(&app, &admin).await;
    let q = "query($u: ID) { all: tasks { totalCount } by: tasks(filter: {assigneeId: $u}) { totalCount nodes { id } } }";
    let data = app.ok(&c, q, json!({ "u": x })).await;
    assert_eq!(data["all"]["totalCount"], 1, "the task itself is visible");
    assert_eq!(data["by"]["totalCount"], 0, "{data}");
    assert_eq!(data["by"]["nodes"], json!([]), "{data}");
    let data = app.ok(&admin, q, json!({ "u": x })).await;
    assert_eq!(data["by"]["totalCount"], 1, "control: ADMIN sees X");
}

#[tokio::test]
async fn an_invisible_assignee_is_null_and_reported() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (c, t, x) = hidden_assignee_world(&app, &admin).await;
    let q = "query($t: ID!) { task(id: $t) { name assignee { id name } } }";
    let (_, body) = app.post(Some(&c), q, json!({ "t": t })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["task"]["name"], "Assigned away");
    assert!(body["data"]["task"]["assignee"].is_null(), "{body}");
    let r = redacted(&body, "Task.assignee")
        .unwrap_or_else(|| panic!("Task.assignee not reported: {body}"));
    assert_eq!(r["reason"], "NOT_VISIBLE", "{r}");
    assert!(r["count"].as_i64().unwrap_or(0) >= 1, "{r}");
    let data = app.ok(&admin, q, json!({ "t": t })).await;
    assert_eq!(data["task"]["assignee"]["id"], json!(x), "control");
}

#[tokio::test]
async fn filtering_time_entries_by_an_invisible_user_matches_nothing() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (c_id, c) = app.person(&admin, "c@test.example", "Full member").await;
    let (x_id, x) = app.person(&admin, "x@test.example", "Full member").await;
    app.new_profile(&admin, "Timesheet viewer", &["LOG_TIME", "VIEW_TIMESHEETS"])
        .await;
    let p = app.project(&admin, "P", None, json!({})).await;
    app.member(&admin, &p, &c_id, "Timesheet viewer").await;
    let mx = app.member(&admin, &p, &x_id, "Full member").await;
    let t = app.task(&admin, &p, "T", json!({})).await;
    app.log(&x, &t, "2026-10-05", 2.0).await;
    // X leaves the project: X no longer shares a visible project with C.
    app.ok(
        &admin,
        "mutation($m: ID!) { removeProjectMember(id: $m) { id } }",
        json!({ "m": mx }),
    )
    .await;
    assert!(
        !finds(&app, &c, &x_id).await,
        "precondition: X is invisible"
    );
    let q = "query($u: ID) { timeEntries(filter: {userId: $u}) { totalCount nodes { id } } }";
    let data = app.ok(&c, q, json!({ "u": x_id })).await;
    assert_eq!(data["timeEntries"]["totalCount"], 0, "{data}");
    assert_eq!(data["timeEntries"]["nodes"], json!([]));
    let data = app.ok(&admin, q, json!({ "u": x_id })).await;
    assert_eq!(data["timeEntries"]["totalCount"], 1, "control");
}

#[tokio::test]
async fn invoice_lines_from_a_room_the_reader_cannot_see_are_left_out_and_the_total_hidden() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    let p = app
        .project(&admin, "Portal", None, json!({ "customerId": acme }))
        .await;
    let room = app
        .project(
            &admin,
            "Back office",
            Some(&p),
            json!({ "inheritMembers": false }),
        )
        .await;
    // The customer's reader: an external user with VIEW_INVOICES on P, not in the room.
    let (reader_id, reader) =
        external(&app, &admin, "r@acme.example", "Customer", Some(&acme)).await;
    app.member(&admin, &p, &reader_id, "Customer").await;
    let (w_id, w) = app.person(&admin, "w@test.example", "Full member").await;
    update_user(&app, &admin, json!({ "id": w_id, "billingRate": "100.00" })).await;
    app.member(&admin, &p, &w_id, "Full member").await;
    app.member(&admin, &room, &w_id, "Full member").await;
    let visible_task = app.task(&admin, &p, "Portal design", json!({})).await;
    let room_task = app
        .task(&admin, &room, "Confidential audit", json!({}))
        .await;
    let e1 = app.log(&w, &visible_task, "2026-10-05", 2.0).await;
    let e2 = app.log(&w, &room_task, "2026-10-06", 3.0).await;
    app.ok(
        &admin,
        "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { id } }",
        json!({ "e": [e1, e2] }),
    )
    .await;
    let inv = app
        .ok(&admin, "mutation($p: ID!) { generateInvoice(input: {projectId: $p, from: \"2026-10-01\", to: \"2026-10-31\"}) { id total lines { description } } }", json!({ "p": p }))
        .await;
    assert_eq!(
        inv["generateInvoice"]["lines"].as_array().unwrap().len(),
        2,
        "precondition: both projects billed: {inv}"
    );
    assert!(!finds(&app, &reader, &room).await, "precondition");

    let q = "{ invoices { totalCount nodes { total lines { description hours amount } } } }";
    let (_, body) = app.post(Some(&reader), q, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["invoices"]["totalCount"], 1, "{body}");
    let seen = &body["data"]["invoices"]["nodes"][0];
    let lines = seen["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "only the visible project's line: {body}");
    for l in lines {
        let d = l["description"].as_str().unwrap();
        assert!(
            !d.contains("Confidential audit"),
            "a room's task leaked: {d}"
        );
    }
    assert!(lines[0]["description"]
        .as_str()
        .unwrap()
        .contains("Portal design"));
    assert!(
        seen["total"].is_null(),
        "the total sums a hidden line: {body}"
    );
    let r = redacted(&body, "Invoice.total")
        .unwrap_or_else(|| panic!("Invoice.total not reported: {body}"));
    assert_eq!(r["reason"], "NOT_VISIBLE", "{r}");

    // A reader who sees both projects sees every line and the total.
    let all = app.ok(&admin, q, json!({})).await;
    let seen = &all["invoices"]["nodes"][0];
    assert_eq!(seen["lines"].as_array().unwrap().len(), 2);
    assert_eq!(seen["total"], "500.00");
}

// ---------------------------------------------------------------------------------------
// 4. References to objects the caller cannot see.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_department_parent_the_caller_cannot_see_is_null_and_reported() {
    let app = spawn().await;
    let admin = app.admin().await;
    let company = department(&app, &admin, "Company", None).await;
    let engineering = department(&app, &admin, "Engineering", Some(&company)).await;
    let platform = department(&app, &admin, "Platform", Some(&engineering)).await;
    let lab = department(&app, &admin, "Lab", Some(&company)).await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    update_user(
        &app,
        &admin,
        json!({ "id": u_id, "departmentId": engineering }),
    )
    .await;
    for (name, dept) in [("Platform work", &platform), ("Lab work", &lab)] {
        let p = app
            .project(&admin, name, None, json!({ "departmentId": dept }))
            .await;
        app.member(&admin, &p, &u_id, "Full member").await;
    }
    let q = "{ departments { id name parent { id name } } }";
    let (_, body) = app.post(Some(&u), q, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let list = body["data"]["departments"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let mut names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Engineering", "Lab", "Platform"], "{body}");
    assert!(!ids.contains(&company.as_str()));
    let by_name = |n: &str| list.iter().find(|d| d["name"] == n).unwrap().clone();
    assert!(
        by_name("Engineering")["parent"].is_null(),
        "the parent is not in the caller's departments: {body}"
    );
    assert!(by_name("Lab")["parent"].is_null(), "{body}");
    assert_eq!(by_name("Platform")["parent"]["name"], "Engineering");
    // The list and the references agree.
    for d in list {
        if let Some(parent) = d["parent"]["id"].as_str() {
            assert!(ids.contains(&parent), "{d} names a parent not listed");
        }
    }
    let r = redacted(&body, "Department.parent")
        .unwrap_or_else(|| panic!("Department.parent not reported: {body}"));
    assert_eq!(r["reason"], "NOT_VISIBLE", "{r}");
    assert!(
        !finds(&app, &u, &company).await,
        "node agrees with the list"
    );
    // Control: ADMIN sees the whole tree.
    let all = app.ok(&admin, q, json!({})).await;
    let eng = all["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Engineering")
        .unwrap()
        .clone();
    assert_eq!(eng["parent"]["name"], "Company");
}

#[tokio::test]
async fn a_visible_projects_customer_and_department_are_visible() {
    let app = spawn().await;
    let admin = app.admin().await;
    let acme = customer(&app, &admin, "Acme").await;
    let globex = customer(&app, &admin, "Globex").await;
    let company = department(&app, &admin, "Company", None).await;
    let lab = department(&app, &admin, "Lab", Some(&company)).await;
    // An external user of Globex working on an Acme project of the Lab department.
    let (x_id, x) = external(&app, &admin, "x@globex.example", "Customer", Some(&globex)).await;
    let p = app
        .project(
            &admin,
            "Acme lab",
            None,
            json!({ "customerId": acme, "departmentId": lab }),
        )
        .await;
    app.member(&admin, &p, &x_id, "Customer").await;
    let (_, body) = app
        .post(
            Some(&x),
            "query($p: ID!) { project(id: $p) { customer { id name } department { id name } } customers { id } departments { id } }",
            json!({ "p": p }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let project = &body["data"]["project"];
    assert_eq!(project["customer"]["name"], "Acme", "{body}");
    assert_eq!(project["department"]["name"], "Lab", "{body}");
    assert!(
        redacted(&body, "Project.customer").is_none()
            && redacted(&body, "Project.department").is_none(),
        "{body}"
    );
    // The same rule decides the lists.
    let listed = |k: &str| -> Vec<String> {
        body["data"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(listed("customers").contains(&acme), "{body}");
    assert!(listed("departments").contains(&lab), "{body}");
    assert!(finds(&app, &x, &acme).await && finds(&app, &x, &lab).await);
}

// ---------------------------------------------------------------------------------------
// 5. Folder rules reach every folder below, and every enclosing rule must admit.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_folder_rule_restricts_every_folder_below_it() {
    let app = spawn().await;
    let admin = app.admin().await;
    let p = app.project(&admin, "P", None, json!({})).await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    let (o_id, o) = app.person(&admin, "o@test.example", "Full member").await;
    app.member(&admin, &p, &u_id, "Full member").await;
    app.member(&admin, &p, &o_id, "Full member").await;
    let mut legal = Vec::new();
    for (folder, title) in [
        ("Legal", "Charter"),
        ("Legal/2026", "Contract 2026"),
        ("Legal/2026/Q1", "Amendment Q1"),
    ] {
        legal.push(document(&app, &admin, &p, folder, title).await);
    }
    document(&app, &admin, &p, "", "Readme").await;
    document(&app, &admin, &p, "Legalese", "Glossary").await;
    folder_rule(&app, &admin, &p, "Legal", &u_id).await;

    let (n, titles) = document_titles(&app, &o).await;
    assert_eq!(titles, ["Glossary", "Readme"], "a ruled subfolder leaked");
    assert_eq!(n, 2, "totalCount counts ruled documents");
    for d in &legal {
        assert!(!finds(&app, &o, d).await, "{d} found by node");
    }
    let data = app
        .ok(
            &o,
            "query($p: ID) { documents(filter: {projectId: $p, folder: \"Legal/2026\"}) { totalCount } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(data["documents"]["totalCount"], 0);
    let (n, _) = document_titles(&app, &u).await;
    assert_eq!(n, 5, "the named user sees every folder below the rule");
    for d in &legal {
        assert!(finds(&app, &u, d).await);
    }
}

#[tokio::test]
async fn nested_folder_rules_must_all_admit_the_reader() {
    let app = spawn().await;
    let admin = app.admin().await;
    let p = app.project(&admin, "P", None, json!({})).await;
    app.new_profile(&admin, "Doc manager", &["MANAGE_DOCUMENTS"])
        .await;
    let mut people = Vec::new();
    for (email, profile) in [
        ("u@test.example", "Full member"),
        ("v@test.example", "Full member"),
        ("both@test.example", "Full member"),
        ("dm@test.example", "Doc manager"),
    ] {
        let (id, token) = app.person(&admin, email, "Full member").await;
        app.member(&admin, &p, &id, profile).await;
        people.push((id, token));
    }
    let [(u_id, u), (v_id, v), (both_id, both), (_, dm)] =
        <[(String, String); 4]>::try_from(people).unwrap();
    let top = document(&app, &admin, &p, "Legal", "Charter").await;
    let inner = document(&app, &admin, &p, "Legal/2026", "Contract 2026").await;
    folder_rule(&app, &admin, &p, "Legal", &u_id).await;
    folder_rule(&app, &admin, &p, "Legal", &both_id).await;
    folder_rule(&app, &admin, &p, "Legal/2026", &v_id).await;
    folder_rule(&app, &admin, &p, "Legal/2026", &both_id).await;

    for (who, token, sees_top, sees_inner) in [
        ("u (named on Legal only)", &u, true, false),
        ("v (named on Legal/2026 only)", &v, false, false),
        ("both (named on both)", &both, true, true),
        ("document manager", &dm, true, true),
    ] {
        let (n, _) = document_titles(&app, token).await;
        let expected = i64::from(sees_top) + i64::from(sees_inner);
        assert_eq!(n, expected, "{who}: documents totalCount");
        assert_eq!(finds(&app, token, &top).await, sees_top, "{who}: Legal");
        assert_eq!(
            finds(&app, token, &inner).await,
            sees_inner,
            "{who}: Legal/2026"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 6. Narrowed credentials.
// ---------------------------------------------------------------------------------------

/// A user who sees projects A and B, with a key narrowed to A expiring in two days:
/// (session, key secret, key id, A, B).
async fn narrowed_key_world(
    app: &TestApp,
    admin: &str,
) -> (String, String, String, String, String) {
    let (o_id, o) = app.person(admin, "o@test.example", "Full member").await;
    let a = app.project(admin, "A", None, json!({})).await;
    let b = app.project(admin, "B", None, json!({})).await;
    app.member(admin, &a, &o_id, "Full member").await;
    app.member(admin, &b, &o_id, "Full member").await;
    let (secret, id) = create_key(
        app,
        &o,
        json!({ "name": "portal", "projectIds": [a], "expiresAt": instant(Duration::days(2)) }),
    )
    .await;
    (o, secret, id, a, b)
}

#[tokio::test]
async fn a_narrowed_key_cannot_create_a_broader_or_longer_lived_key() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, key, _, a, b) = narrowed_key_world(&app, &admin).await;
    let before = app.count(API_KEYS).await;
    for (what, input) in [
        ("no expiry", json!({ "name": "k", "projectIds": [a] })),
        (
            "a later expiry",
            json!({ "name": "k", "projectIds": [a], "expiresAt": instant(Duration::days(3)) }),
        ),
    ] {
        let (code, e) = app.err(Some(&key), CREATE_KEY, json!({ "i": input })).await;
        assert_eq!(code, "FORBIDDEN", "{what}: {e}");
        assert_eq!(app.count(API_KEYS).await, before, "{what}: nothing written");
    }
    // B is visible to the owner but outside the key: it answers as a missing project.
    let soon = instant(Duration::days(1));
    let (code, e) = same_refusal(
        &app,
        &key,
        CREATE_KEY,
        json!({ "i": { "name": "k", "projectIds": [b], "expiresAt": soon } }),
        json!({ "i": { "name": "k", "projectIds": [missing(&b)], "expiresAt": soon } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), e["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("projectIds"))
    );
    assert_eq!(app.count(API_KEYS).await, before, "nothing written");
    // Narrower and shorter-lived: allowed.
    let data = app
        .ok(
            &key,
            CREATE_KEY,
            json!({ "i": { "name": "k", "projectIds": [a], "expiresAt": soon } }),
        )
        .await;
    assert_eq!(
        data["createApiKey"]["apiKey"]["projects"],
        json!([{ "id": a }])
    );
    assert_eq!(app.count(API_KEYS).await, before + 1);
    // A key without projects through a narrowed key would be broader: refused, or at most
    // narrowed to the key's own projects.
    let (_, body) = app
        .post(
            Some(&key),
            CREATE_KEY,
            json!({ "i": { "name": "wide", "expiresAt": soon } }),
        )
        .await;
    if body.get("errors").is_some() {
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );
        assert_eq!(app.count(API_KEYS).await, before + 1);
    } else {
        assert_eq!(
            body["data"]["createApiKey"]["apiKey"]["projects"],
            json!([{ "id": a }]),
            "an unnarrowed key made through a narrowed one: {body}"
        );
    }
}

#[tokio::test]
async fn a_narrowed_key_sees_and_revokes_only_itself() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (o, key, key_id, _, _) = narrowed_key_world(&app, &admin).await;
    let (other, other_id) = create_key(&app, &o, json!({ "name": "laptop" })).await;
    let listed = app.ok(&key, "{ apiKeys { id } }", json!({})).await;
    assert_eq!(
        listed["apiKeys"],
        json!([{ "id": key_id }]),
        "only the key in use"
    );
    let owner_sees = app.ok(&o, "{ apiKeys { id } }", json!({})).await;
    assert_eq!(
        owner_sees["apiKeys"].as_array().unwrap().len(),
        2,
        "control"
    );

    let revoke = "mutation($k: ID!) { revokeApiKey(id: $k) { id revokedAt } }";
    let (code, _) = same_refusal(
        &app,
        &key,
        revoke,
        json!({ "k": other_id }),
        json!({ "k": missing(&other_id) }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM api_key WHERE revoked_at IS NOT NULL")
            .await,
        0,
        "nothing written"
    );
    app.ok(&other, "{ viewer { user { id } } }", json!({}))
        .await;
    // The key may revoke itself.
    let done = app.ok(&key, revoke, json!({ "k": key_id })).await;
    assert!(done["revokeApiKey"]["revokedAt"].is_string());
    let (code, _) = app
        .err(Some(&key), "{ viewer { user { id } } }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    app.ok(&other, "{ viewer { user { id } } }", json!({}))
        .await;
}

#[tokio::test]
async fn view_as_through_a_narrowed_key_is_refused() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.new_profile(&admin, "Impersonator", &["IMPERSONATE"])
        .await;
    let (o_id, o) = app.person(&admin, "o@test.example", "Impersonator").await;
    let (t_id, _) = app.person(&admin, "t@test.example", "Full member").await;
    let a = app.project(&admin, "A", None, json!({})).await;
    app.member(&admin, &a, &o_id, "Full member").await;
    app.member(&admin, &a, &t_id, "Full member").await;
    let (key, _) = create_key(&app, &o, json!({ "name": "portal", "projectIds": [a] })).await;
    let who = "{ viewer { user { id } } }";
    let body = post_viewing_as(&app, &key, Some(&t_id), who, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "a narrowed key carries no global right: {body}"
    );
    assert!(body["data"]["viewer"].is_null(), "{body}");
    // Control: the owner's session may view as the target.
    let body = post_viewing_as(&app, &o, Some(&t_id), who, json!({})).await;
    assert_eq!(body["data"]["viewer"]["user"]["id"], json!(t_id), "{body}");
}

#[tokio::test]
async fn view_as_through_a_key_stays_within_the_keys_owner_rights() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.new_profile(&admin, "Impersonator", &["IMPERSONATE"])
        .await;
    let (o_id, o) = app.person(&admin, "o@test.example", "Impersonator").await;
    let (t_id, t) = app.person(&admin, "t@test.example", "Full member").await;
    let a = app
        .project(&admin, "A", None, json!({ "budget": "5000.00" }))
        .await;
    app.member(&admin, &a, &o_id, "Full member").await;
    app.member(&admin, &a, &t_id, "Project manager").await;
    let (key, _) = create_key(&app, &o, json!({ "name": "unnarrowed" })).await;
    let q = "query($p: ID!) { project(id: $p) { budget } }";
    let own = app.ok(&t, q, json!({ "p": a })).await;
    assert_eq!(own["project"]["budget"], "5000.00", "precondition");
    let through_key = post_viewing_as(&app, &key, Some(&t_id), q, json!({ "p": a })).await;
    assert!(through_key.get("errors").is_none(), "{through_key}");
    assert!(
        through_key["data"]["project"]["budget"].is_null(),
        "view-as through a key holds at most the key's rights: {through_key}"
    );
    assert!(
        redacted(&through_key, "Project.budget").is_some(),
        "{through_key}"
    );
    // Control: "view as" with the owner's session reads the target's view.
    let session = post_viewing_as(&app, &o, Some(&t_id), q, json!({ "p": a })).await;
    assert_eq!(session["data"]["project"]["budget"], "5000.00", "{session}");
}

// ---------------------------------------------------------------------------------------
// 7. Membership dates include both days.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn membership_dates_are_inclusive() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (u_id, u) = app.person(&admin, "u@test.example", "Full member").await;
    for (name, from, until) in [
        ("Ends today", None, Some(day(0))),
        ("Starts today", Some(day(0)), None),
        ("Today only", Some(day(0)), Some(day(0))),
        ("Starts tomorrow", Some(day(1)), None),
        ("Ended yesterday", None, Some(day(-1))),
    ] {
        let p = app.project(&admin, name, None, json!({})).await;
        member_between(&app, &admin, &p, &u_id, "Full member", from, until).await;
    }
    assert_eq!(
        app.sees(&u).await,
        ["Ends today", "Starts today", "Today only"]
    );
}

/// "A uniqueness clash with an invisible object must not say 'already in use'": a project
/// code is unique among the projects the caller can see, so a hidden project's code tells
/// nothing, while a visible one's is refused as taken (and nothing is written).
#[tokio::test]
async fn a_code_clash_with_an_invisible_project_says_nothing() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.project(&admin, "Hidden", None, json!({ "code": "SECRET-1" }))
        .await;
    app.new_profile(&admin, "Creator", &["CREATE_PROJECTS", "EDIT_PROJECT"])
        .await;
    let (_, lead) = app.person(&admin, "lead@test.example", "Creator").await;
    let create = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id code } }";
    // The hidden project's code is free for this caller.
    let mine = app
        .ok(
            &lead,
            create,
            json!({ "i": { "name": "Mine", "code": "SECRET-1" } }),
        )
        .await;
    assert_eq!(mine["createProject"]["code"], "SECRET-1");
    // Its own project's code is not: the clash is visible to it.
    let body = app
        .refused(
            Some(&lead),
            create,
            json!({ "i": { "name": "Again", "code": "SECRET-1" } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(body["extensions"]["field"], "code", "{body}");
    // Renaming a code onto a visible one is refused the same way; onto a hidden one, not.
    let other = app
        .ok(
            &lead,
            create,
            json!({ "i": { "name": "Other", "code": "OTHER-1" } }),
        )
        .await["createProject"]["id"]
        .clone();
    let update = "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { code } }";
    app.refused(
        Some(&lead),
        update,
        json!({ "i": { "id": other, "code": "SECRET-1" } }),
        "BAD_USER_INPUT",
    )
    .await;
    app.project(&admin, "Hidden two", None, json!({ "code": "SECRET-2" }))
        .await;
    let moved = app
        .ok(
            &lead,
            update,
            json!({ "i": { "id": other, "code": "SECRET-2" } }),
        )
        .await;
    assert_eq!(moved["updateProject"]["code"], "SECRET-2");
    // The administrator sees both projects named SECRET-1, and a third is refused.
    app.refused(
        Some(&admin),
        create,
        json!({ "i": { "name": "Third", "code": "SECRET-1" } }),
        "BAD_USER_INPUT",
    )
    .await;
}
