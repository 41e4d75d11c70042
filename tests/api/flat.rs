//! Lists whose selection asks only for plain fields are answered in one synchronous pass
//! (src/graphql/flat.rs); everything else goes through the resolvers. Both must give the
//! same answer, with the same redactions.

use serde_json::{json, Value};

use crate::common::{spawn, TestApp};

/// A project with tasks, time entries of two people, documents and an invoice; answers the
/// token of a member who sees work and timesheets but not cost (so figures are redacted).
async fn world(app: &TestApp) -> String {
    let admin = app.admin().await;
    let (pm_id, pm) = app
        .person(&admin, "pm@test.example", "Project manager")
        .await;
    app.new_profile(
        &admin,
        "Reviewer",
        &["LOG_TIME", "SEE_WORK", "VIEW_TIMESHEETS", "VIEW_INVOICES"],
    )
    .await;
    let (lead_id, lead) = app.person(&admin, "lead@test.example", "Reviewer").await;
    let p = app
        .project(&admin, "Portal", None, json!({ "budget": "1000" }))
        .await;
    app.member(&admin, &p, &pm_id, "Project manager").await;
    app.member(&admin, &p, &lead_id, "Reviewer").await;
    let mut entries = Vec::new();
    for (i, name) in ["Design", "Build", "Test"].iter().enumerate() {
        let t = app
            .task(
                &pm,
                &p,
                name,
                json!({ "plannedWork": 8.5, "plannedCost": "120.25", "validatedWork": 8 }),
            )
            .await;
        entries.push(app.log(&pm, &t, &format!("2026-10-0{}", i + 1), 1.25).await);
        entries.push(
            app.log(&lead, &t, &format!("2026-10-1{}", i + 1), 2.5)
                .await,
        );
    }
    app.ok(
        &pm,
        "mutation($e: [ID!]!) { approveTimeEntries(ids: $e) { id } }",
        json!({ "e": entries }),
    )
    .await;
    app.ok(
        &pm,
        "mutation($p: ID!) { generateInvoice(input: {projectId: $p, from: \"2026-10-01\", to: \"2026-10-31\"}) { id } }",
        json!({ "p": p }),
    )
    .await;
    // Two sub-projects, one with a task of its own, for the nested project pages.
    let api = app.project(&admin, "Portal API", Some(&p), json!({})).await;
    app.project(&admin, "Portal UI", Some(&p), json!({})).await;
    app.task(
        &pm,
        &api,
        "Endpoints",
        json!({ "plannedWork": 4, "plannedCost": "60" }),
    )
    .await;
    for (title, vis) in [("Offer", "SHARED"), ("Notes", "INTERNAL")] {
        app.ok(
            &pm,
            "mutation($p: ID!, $t: String!, $v: DocumentVisibility!) { createDocument(input: {projectId: $p, title: $t, visibility: $v, folder: \"a/b\"}) { id } }",
            json!({ "p": p, "t": title, "v": vis }),
        )
        .await;
    }
    lead
}

/// Plain fields of each list, written the ways clients write them: aliases, fragments on
/// the type and on `Node`, `__typename`, edges, page info, variables, nested connections
/// and roll-ups.
const PLAIN: &str = "
fragment T on Task { id status createdAt updatedAt }
fragment N on Node { id }
query($kids: Int = 1, $after: String) {
  projects(filter: {topLevelOnly: true}) { nodes { name ...N __typename code status inheritMembers
    viewerRights budget validatedWork plannedWork realWork validatedCost leftWork plannedCost
    realCost createdAt updatedAt
    tasks { __typename totalCount
            pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
            nodes { ...T ...N __typename name n2: name validatedWork plannedWork realWork
                    leftWork validatedCost plannedCost realCost }
            edges { __typename cursor node { name realCost } } }
    firstTask: tasks(first: 1, after: $after) { pageInfo { hasNextPage hasPreviousPage }
            nodes { name } }
    children(first: $kids) { totalCount pageInfo { hasNextPage endCursor }
            edges { cursor node { name plannedWork plannedCost
                    tasks { totalCount nodes { name plannedWork plannedCost } } } } }
    allChildren: children { nodes { name } }
    timeEntries { totalCount nodes { id date hours cost billable status note createdAt
                          user { id name kind email active createdAt }
                          task { name plannedCost ... on Task { status } } } }
    documents { totalCount nodes { id folder title visibility content createdAt updatedAt } }
    invoices { nodes { id number periodStart periodEnd status total createdAt issuedAt } }
} } }";

/// The same, plus in every list a field only the resolvers answer. Each replacement must
/// change the text (a replacement that matched nothing would leave that list on the fast
/// path, and the test would compare the fast path with itself).
fn resolved(plain: &str) -> String {
    let mut text = plain.to_string();
    for (from, to) in [
        (
            "{ nodes { name ...N",
            "{ nodes { name ...N project: parent { id }",
        ),
        (
            "node { name plannedWork",
            "node { name project: parent { id } plannedWork",
        ),
        (
            "allChildren: children { nodes { name",
            "allChildren: children { nodes { name project: parent { id }",
        ),
        (
            "leftWork validatedCost",
            "leftWork project { id } validatedCost",
        ),
        (
            "node { name realCost }",
            "node { name realCost project { id } }",
        ),
        ("nodes { name } }", "nodes { name project { id } } }"),
        (
            "nodes { name plannedWork plannedCost }",
            "nodes { name plannedWork plannedCost project { id } }",
        ),
        ("note createdAt", "note project { id } createdAt"),
        ("content createdAt", "content project { id } createdAt"),
        ("issuedAt }", "issuedAt project { id } }"),
    ] {
        let next = text.replace(from, to);
        assert_ne!(next, text, "the replacement of {from:?} matched nothing");
        text = next;
    }
    // One slow field per list of PLAIN: projects, tasks (nodes, edges, first page),
    // children (edges, all), the children's tasks, time entries, documents, invoices.
    assert_eq!(
        text.matches("project").count() - plain.matches("project").count(),
        10,
        "{text}"
    );
    text
}

/// Drops the `project` fields the slower variant added.
fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("project");
            m.values_mut().for_each(strip);
        }
        Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

#[tokio::test]
async fn plain_lists_answer_as_the_resolvers_do() {
    let app = spawn().await;
    let lead = world(&app).await;
    let (status, fast) = app.post(Some(&lead), PLAIN, json!({})).await;
    assert_eq!(status, 200, "{fast}");
    assert!(fast.get("errors").is_none(), "{fast}");
    let (_, mut slow) = app.post(Some(&lead), &resolved(PLAIN), json!({})).await;
    assert!(slow.get("errors").is_none(), "{slow}");
    strip(&mut slow["data"]);
    assert_eq!(fast["data"], slow["data"]);
    // The redactions differ only by the `project` fields (never redacted).
    assert_eq!(fast["extensions"], slow["extensions"]);

    // The answer holds what the world put there, hidden where it must be.
    let p = &fast["data"]["projects"]["nodes"][0];
    let task = &p["tasks"]["nodes"][0];
    assert_eq!(task["__typename"], "Task");
    assert_eq!(task["name"], "Design");
    assert_eq!(task["n2"], "Design");
    assert_eq!(task["plannedWork"], 8.5);
    assert_eq!(task["realWork"], 3.75);
    assert_eq!(task["status"], "TODO");
    assert!(task["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(task["plannedCost"].is_null() && task["realCost"].is_null());
    let entries = p["timeEntries"]["nodes"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    assert!(entries
        .iter()
        .all(|e| e["cost"].is_null() && e["hours"].is_number()));
    assert!(entries
        .iter()
        .any(|e| e["user"]["name"] == "pm@test.example"));
    assert!(entries
        .iter()
        .all(|e| e["task"]["status"] == "TODO" && e["task"]["plannedCost"].is_null()));
    // Another user's email is private; the lead's own is shown.
    assert!(entries
        .iter()
        .all(|e| (e["user"]["email"] == "lead@test.example")
            == (e["user"]["name"] == "lead@test.example")));
    let docs = p["documents"]["nodes"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "no VIEW_INTERNAL_DOCUMENTS: {docs:?}");
    assert_eq!(docs[0]["visibility"], "SHARED");
    assert_eq!(docs[0]["folder"], "a/b");
    let invoice = &p["invoices"]["nodes"][0];
    assert_eq!(invoice["status"], "DRAFT");
    assert!(invoice["issuedAt"].is_null());
    assert_eq!(p["tasks"]["edges"][0]["node"]["name"], "Design");
    assert!(p["tasks"]["edges"][0]["node"]["realCost"].is_null());
    // Nested lists are counted in batches, by the same visibility rules.
    assert_eq!(p["tasks"]["totalCount"], 3);
    assert_eq!(p["timeEntries"]["totalCount"], 6);
    assert_eq!(p["documents"]["totalCount"], 1);
    let hidden = |field: &str| crate::common::redacted(&fast, field).map(|e| e["count"].clone());
    assert_eq!(hidden("Task.plannedCost"), Some(json!(3 + 6 + 1)));
    assert_eq!(hidden("Project.plannedCost"), Some(json!(1 + 1)));
    assert_eq!(hidden("Project.budget"), Some(json!(1)));

    // Projects, their nested pages and roll-ups.
    assert_eq!(p["__typename"], "Project");
    assert_eq!(p["status"], "OPEN");
    assert!(p["viewerRights"]
        .as_array()
        .unwrap()
        .contains(&json!("SEE_WORK")));
    assert_eq!(p["plannedWork"], 3.0 * 8.5 + 4.0);
    assert!(p["budget"].is_null() && p["plannedCost"].is_null());
    assert_eq!(p["tasks"]["__typename"], "TaskConnection");
    assert_eq!(p["tasks"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(p["tasks"]["pageInfo"]["__typename"], "PageInfo");
    assert_eq!(
        p["tasks"]["pageInfo"]["endCursor"],
        p["tasks"]["edges"][2]["cursor"]
    );
    assert_eq!(p["firstTask"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(p["firstTask"]["nodes"].as_array().unwrap().len(), 1);
    let kids = &p["children"];
    assert_eq!(kids["totalCount"], 2);
    assert_eq!(kids["pageInfo"]["hasNextPage"], true);
    assert_eq!(kids["edges"][0]["node"]["name"], "Portal API");
    assert_eq!(kids["edges"][0]["node"]["plannedWork"], 4.0);
    assert_eq!(kids["edges"][0]["node"]["tasks"]["totalCount"], 1);
    assert_eq!(
        kids["edges"][0]["node"]["tasks"]["nodes"][0]["name"],
        "Endpoints"
    );
    assert_eq!(p["allChildren"]["nodes"].as_array().unwrap().len(), 2);

    // Variables page the nested lists in both paths alike.
    let after = p["tasks"]["edges"][0]["cursor"].clone();
    let vars = json!({ "kids": 2, "after": after });
    let (_, fast) = app.post(Some(&lead), PLAIN, vars.clone()).await;
    let (_, mut slow) = app.post(Some(&lead), &resolved(PLAIN), vars).await;
    assert!(fast.get("errors").is_none(), "{fast}");
    strip(&mut slow["data"]);
    assert_eq!(fast["data"], slow["data"]);
    let p = &fast["data"]["projects"]["nodes"][0];
    assert_eq!(p["firstTask"]["nodes"][0]["name"], "Build");
    assert_eq!(p["firstTask"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(p["children"]["edges"].as_array().unwrap().len(), 2);

    // A bad page size is reported as the resolvers report it.
    let (_, bad) = app
        .post(Some(&lead), PLAIN, json!({ "kids": 100000 }))
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
    assert_eq!(hidden("Task.realCost"), Some(json!(3 + 3)));
    assert_eq!(hidden("TimeEntry.cost"), Some(json!(6)));
    assert_eq!(hidden("User.email"), Some(json!(3)));
}
