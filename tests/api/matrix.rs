//! The golden access matrix (issue 18), in the manner of omicron's `policy_test`: one fixed
//! world holding every kind of actor, every query and every mutation of the schema run by
//! each actor against objects of every kind (visible, invisible, missing), each outcome
//! written as one line of text. The text is compared with the committed
//! `tests/api/access_matrix.txt`, so any change of access shows up as a reviewable diff, and
//! the same file must come out of SQLite and PostgreSQL.
//!
//! `PORTICO_UPDATE_MATRIX=1 cargo test --test api matrix` rewrites the file; review its diff
//! against `../shared/design/authorization.md` before committing it.
//!
//! What a line holds: `actor | operation(object) | outcome`, where the outcome is `null`, an
//! error code (with `field=` for BAD_USER_INPUT), or `ok` followed by what access decides:
//! `total=` and `rows=[...]` (labels of the rows, in the server's order) for lists, the counts
//! of nested lists, the reference fields that came back null (`null=[...]`), and
//! `redacted=[Field:RIGHT]` / `[Field:NOT_VISIBLE]` from `extensions.redacted` (with the count
//! in parentheses when more than one). No ids, timestamps or secrets: every object is named
//! by its label in the world below.
//!
//! Queries do not change the world and run first (actors in parallel, in HTTP batches).
//! Mutations run after, each actor through every case in a fixed order; a mutation that
//! succeeds is undone before anything else runs (by the administrator, or by the owner of
//! what it consumed) so that each line meets the same world. What cannot be deleted through
//! the API is recreated alike and its label moved to the new row, or (a created project)
//! buried under a closed project of its own. To use both cores the world is built twice,
//! on two servers and databases: one answers the queries and then the mutations of the
//! last actors, the other the mutations of the first ones (see [`MUTATION_SPLIT`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::{spawn, TestApp, ADMIN_EMAIL, PASSWORD};

/// The row number of every `missing` id: well-formed, of the right type, naming nothing.
const MISSING_ROW: i64 = 987_654_321;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/access_matrix.txt");
const UPDATE_VAR: &str = "PORTICO_UPDATE_MATRIX";

/// The default ceiling for external users (authorization.md).
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

/// Every project right, in the schema's order: printed as `ALL`.
const ALL_PROJECT_RIGHTS: &[&str] = &[
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

// ---------------------------------------------------------------------------------------
// Selections: every field an outcome depends on, guarded figures and references included.
// ---------------------------------------------------------------------------------------

const PROJECT_FIGURES: &str =
    "budget validatedWork plannedWork realWork leftWork validatedCost plannedCost realCost";
const TASK_FIGURES: &str =
    "validatedWork plannedWork realWork leftWork validatedCost plannedCost realCost";

/// The kinds of object, in the order of the file.
const KINDS: &[&str] = &[
    "Project",
    "Task",
    "TimeEntry",
    "Document",
    "Invoice",
    "Membership",
    "FolderRule",
    "User",
    "Group",
    "Department",
    "Customer",
    "Profile",
    "ApiKey",
    "AuditEvent",
];

/// Everything of one object: scalars, guarded figures, references (`{ id }`) and the
/// counts of its nested lists.
fn full_selection(kind: &str) -> String {
    match kind {
        "Project" => format!(
            "id name code status inheritMembers externalRights viewerRights customer {{ id }} \
             department {{ id }} parent {{ id }} ancestors {{ id }} children {{ totalCount }} \
             members {{ totalCount }} tasks {{ totalCount }} timeEntries {{ totalCount }} \
             documents {{ totalCount }} invoices {{ totalCount }} folderRules {{ id }} \
             {PROJECT_FIGURES}"
        ),
        "Task" => format!(
            "id name status project {{ id }} assignee {{ id }} timeEntries {{ totalCount }} \
             {TASK_FIGURES}"
        ),
        "TimeEntry" => "id user { id } task { id } project { id } date hours cost billable \
                        status invoice { id } note"
            .to_string(),
        "Document" => {
            "id project { id } folder title visibility content createdBy { id }".to_string()
        }
        "Invoice" => "id number customer { id } project { id } periodStart periodEnd status \
                      lines { description hours rate amount user { id } } total"
            .to_string(),
        "Membership" => {
            "id project { id } user { id } group { id } profile { id } validFrom validUntil"
                .to_string()
        }
        "FolderRule" => "id folder project { id } user { id } group { id }".to_string(),
        "User" => "id name email kind customer { id } department { id } profile { id } \
                   costRate billingRate active"
            .to_string(),
        "Group" => "id name members { id }".to_string(),
        "Department" => "id name parent { id }".to_string(),
        "Customer" => "id name".to_string(),
        "Profile" => "id name rights".to_string(),
        "ApiKey" => "id name prefix readOnly projects { id } user { id }".to_string(),
        "AuditEvent" => "id action actor { id } impersonator { id } target".to_string(),
        other => panic!("no selection for {other}"),
    }
}

/// A mutation's answer: the guarded fields and references, without the nested lists of
/// a project or a task (their outcome is told by the queries).
fn answer_selection(kind: &str) -> String {
    match kind {
        "Project" | "Task" => row_selection(kind),
        _ => full_selection(kind),
    }
}

/// One row of a list: the guarded fields and references, no nested lists.
fn row_selection(kind: &str) -> String {
    match kind {
        "Project" => format!(
            "id name customer {{ id }} department {{ id }} parent {{ id }} {PROJECT_FIGURES}"
        ),
        "Task" => format!("id name project {{ id }} assignee {{ id }} {TASK_FIGURES}"),
        "TimeEntry" => "id note user { id } task { id } hours cost invoice { id }".to_string(),
        "Document" => "id title project { id } createdBy { id }".to_string(),
        "Invoice" => {
            "id number customer { id } project { id } lines { user { id } } total".to_string()
        }
        "User" => "id name email customer { id } department { id } profile { id } costRate \
                   billingRate active"
            .to_string(),
        "Group" => "id name members { id }".to_string(),
        "Department" => "id name parent { id }".to_string(),
        "Customer" => "id name".to_string(),
        "Profile" => "id name".to_string(),
        "ApiKey" => "id name projects { id } user { id }".to_string(),
        "AuditEvent" => "id action actor { id } impersonator { id }".to_string(),
        other => panic!("no row selection for {other}"),
    }
}

/// The reference fields of a kind: printed under `null=[...]` when they come back null.
fn references(kind: &str) -> &'static [&'static str] {
    match kind {
        "Project" => &["customer", "department", "parent"],
        "Task" => &["project", "assignee"],
        "TimeEntry" => &["user", "task", "project", "invoice"],
        "Document" => &["project", "createdBy"],
        "Invoice" => &["customer", "project"],
        "Membership" => &["project", "user", "group", "profile"],
        "FolderRule" => &["project", "user", "group"],
        "User" => &["customer", "department", "profile"],
        "Department" => &["parent"],
        "ApiKey" => &["user"],
        "AuditEvent" => &["actor", "impersonator"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------------------

fn gid(kind: &str, n: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{n}"))
}

fn day(offset: i64) -> String {
    (Utc::now().date_naive() + Duration::days(offset)).to_string()
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

/// How an actor authenticates.
#[derive(Clone)]
enum Cred {
    Anonymous,
    /// A session of the user of this label.
    Session(&'static str),
    /// The API key of this label.
    Key(&'static str),
    /// A session of `by`, reading as `target` (`X-Portico-View-As`).
    ViewAs {
        by: &'static str,
        target: &'static str,
    },
}

#[derive(Clone)]
struct Actor {
    name: &'static str,
    cred: Cred,
    /// The user it acts as (`@self` in inputs).
    user: Option<&'static str>,
}

/// What a membership was, to add it again after a test removed it.
#[derive(Clone)]
struct MemberSpec {
    project: &'static str,
    user: Option<&'static str>,
    group: Option<&'static str>,
    profile: &'static str,
    from: Option<i64>,
    until: Option<i64>,
}

#[derive(Clone)]
struct DocSpec {
    project: &'static str,
    folder: &'static str,
    title: &'static str,
    visibility: &'static str,
}

#[derive(Clone)]
struct RuleSpec {
    project: &'static str,
    folder: &'static str,
    user: Option<&'static str>,
    group: Option<&'static str>,
}

#[derive(Clone)]
struct EntrySpec {
    owner: &'static str,
    task: &'static str,
    day: i64,
    hours: f64,
}

#[derive(Clone)]
struct KeySpec {
    owner: &'static str,
    name: &'static str,
    read_only: bool,
    projects: Option<Vec<&'static str>>,
}

/// The world: labels of every object, the credentials of every actor, and what is needed
/// to put back what a mutation consumed.
struct World {
    app: TestApp,
    /// `Kind:label` to global id.
    ids: HashMap<String, String>,
    /// Global id to label.
    labels: HashMap<String, String>,
    /// Session token of each user label that signs in.
    sessions: HashMap<&'static str, String>,
    /// Secret of each API key label.
    secrets: HashMap<&'static str, String>,
    actors: Vec<Actor>,
    memberships: HashMap<&'static str, MemberSpec>,
    documents: HashMap<&'static str, DocSpec>,
    rules: HashMap<&'static str, RuleSpec>,
    entries: HashMap<&'static str, EntrySpec>,
    keys: HashMap<&'static str, KeySpec>,
    /// Days back of the next draft invoice made to replace an issued one.
    next_draft_day: i64,
}

const ADD_MEMBER: &str =
    "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const REMOVE_MEMBER: &str = "mutation($id: ID!) { removeProjectMember(id: $id) { id } }";
const CREATE_DOCUMENT: &str =
    "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
const DELETE_DOCUMENT: &str = "mutation($id: ID!) { deleteDocument(id: $id) { id } }";
const SET_RULE: &str = "mutation($i: SetFolderRuleInput!) { setFolderRule(input: $i) { id } }";
const REMOVE_RULE: &str = "mutation($id: ID!) { removeFolderRule(id: $id) { id } }";
const LOG_TIME: &str = "mutation($i: LogTimeInput!) { logTime(input: $i) { id } }";
const DELETE_ENTRY: &str = "mutation($id: ID!) { deleteTimeEntry(id: $id) { id } }";
const APPROVE: &str = "mutation($ids: [ID!]!) { approveTimeEntries(ids: $ids) { id } }";
const GENERATE: &str = "mutation($i: GenerateInvoiceInput!) { generateInvoice(input: $i) { id } }";
const CREATE_KEY: &str =
    "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id } } }";
const UPDATE_PROJECT_BACK: &str =
    "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { id } }";
const SET_STATUS_BACK: &str =
    "mutation($i: SetProjectStatusInput!) { setProjectStatus(input: $i) { id } }";
const GROUP_ADD: &str = "mutation($i: GroupMemberInput!) { addGroupMember(input: $i) { id } }";
const GROUP_REMOVE: &str =
    "mutation($i: GroupMemberInput!) { removeGroupMember(input: $i) { id } }";

impl World {
    fn admin(&self) -> &str {
        &self.sessions["admin"]
    }

    /// The global id of `Kind:label` (`Kind:missing` names no row).
    fn id(&self, key: &str) -> String {
        if let Some(kind) = key.strip_suffix(":missing") {
            return gid(kind, MISSING_ROW);
        }
        self.ids
            .get(key)
            .unwrap_or_else(|| panic!("no object {key} in the world"))
            .clone()
    }

    fn bind(&mut self, kind: &str, label: &str, id: String) {
        self.labels.insert(id.clone(), label.to_string());
        self.ids.insert(format!("{kind}:{label}"), id);
    }

    async fn as_admin(&self, query: &str, vars: Value) -> Value {
        self.must(self.admin(), query, vars).await
    }

    /// Runs `query` as `token`, which must succeed; answers `data`. (Straight to the server:
    /// the world is no place to compare its two resolution paths.)
    async fn must(&self, token: &str, query: &str, vars: Value) -> Value {
        let creds = (Some(token.to_string()), None);
        let body = send(&self.app.client, &self.app.url, &creds, query, &vars).await;
        assert!(body.get("errors").is_none(), "errors for {query}: {body}");
        body["data"].clone()
    }

    /// Runs `query` as `token`, which must succeed; answers the id at `path`.
    async fn create(&self, token: &str, query: &str, vars: Value, path: &[&str]) -> String {
        let data = self.must(token, query, vars).await;
        str_at(&data, path)
    }

    async fn add_member(&mut self, label: &'static str, spec: MemberSpec) {
        let profile = self.id(&format!("Profile:{}", spec.profile));
        let input = json!({
            "projectId": self.id(&format!("Project:{}", spec.project)),
            "userId": spec.user.map(|u| self.id(&format!("User:{u}"))),
            "groupId": spec.group.map(|g| self.id(&format!("Group:{g}"))),
            "profileId": profile,
            "validFrom": spec.from.map(day),
            "validUntil": spec.until.map(day),
        });
        let id = self
            .create(
                self.admin(),
                ADD_MEMBER,
                json!({ "i": input }),
                &["addProjectMember", "id"],
            )
            .await;
        self.bind("Membership", label, id);
        self.memberships.insert(label, spec);
    }

    async fn add_document(&mut self, label: &'static str, spec: DocSpec) {
        let input = json!({
            "projectId": self.id(&format!("Project:{}", spec.project)),
            "folder": spec.folder,
            "title": spec.title,
            "visibility": spec.visibility,
            "content": format!("{} text", spec.title),
        });
        let id = self
            .create(
                self.admin(),
                CREATE_DOCUMENT,
                json!({ "i": input }),
                &["createDocument", "id"],
            )
            .await;
        self.bind("Document", label, id);
        self.documents.insert(label, spec);
    }

    async fn add_rule(&mut self, label: &'static str, spec: RuleSpec) {
        let input = json!({
            "projectId": self.id(&format!("Project:{}", spec.project)),
            "folder": spec.folder,
            "userId": spec.user.map(|u| self.id(&format!("User:{u}"))),
            "groupId": spec.group.map(|g| self.id(&format!("Group:{g}"))),
        });
        let id = self
            .create(
                self.admin(),
                SET_RULE,
                json!({ "i": input }),
                &["setFolderRule", "id"],
            )
            .await;
        self.bind("FolderRule", label, id);
        self.rules.insert(label, spec);
    }

    /// The owner logs the entry (note = its label).
    async fn log_entry(&mut self, label: &'static str, spec: EntrySpec) {
        let input = json!({
            "taskId": self.id(&format!("Task:{}", spec.task)),
            "date": day(spec.day),
            "hours": spec.hours,
            "note": label,
        });
        let token = self.sessions[spec.owner].clone();
        let id = self
            .create(&token, LOG_TIME, json!({ "i": input }), &["logTime", "id"])
            .await;
        self.bind("TimeEntry", label, id);
        self.entries.insert(label, spec);
    }

    /// The owner creates the key.
    async fn add_key(&mut self, label: &'static str, spec: KeySpec) {
        let projects = spec.projects.as_ref().map(|ps| {
            ps.iter()
                .map(|p| self.id(&format!("Project:{p}")))
                .collect::<Vec<_>>()
        });
        let input =
            json!({ "name": spec.name, "readOnly": spec.read_only, "projectIds": projects });
        let token = self.sessions[spec.owner].clone();
        let data = self.app.ok(&token, CREATE_KEY, json!({ "i": input })).await;
        let id = str_at(&data, &["createApiKey", "apiKey", "id"]);
        self.secrets
            .insert(label, str_at(&data, &["createApiKey", "secret"]));
        self.bind("ApiKey", label, id);
        self.keys.insert(label, spec);
    }

    /// A draft invoice on `open`: the administrator logs an hour on a day of its own,
    /// approves it and bills that day.
    async fn new_draft(&mut self, label: &'static str) {
        let d = day(-40 - self.next_draft_day);
        self.next_draft_day += 1;
        let entry = self
            .create(
                self.admin(),
                LOG_TIME,
                json!({ "i": { "taskId": self.id("Task:t_open"), "date": d, "hours": 1.0, "note": "draft" } }),
                &["logTime", "id"],
            )
            .await;
        self.as_admin(APPROVE, json!({ "ids": [entry] })).await;
        let id = self
            .create(
                self.admin(),
                GENERATE,
                json!({ "i": { "projectId": self.id("Project:open"), "from": d, "to": d } }),
                &["generateInvoice", "id"],
            )
            .await;
        self.bind("Invoice", label, id);
    }

    async fn login(&mut self, user: &'static str) {
        let token = self.app.login(&email(user), PASSWORD).await;
        self.sessions.insert(user, token);
    }

    /// The bearer token and view-as header of an actor.
    fn credentials(&self, actor: &Actor) -> (Option<String>, Option<String>) {
        match &actor.cred {
            Cred::Anonymous => (None, None),
            Cred::Session(u) => (Some(self.sessions[u].clone()), None),
            Cred::Key(k) => (Some(self.secrets[k].clone()), None),
            Cred::ViewAs { by, target } => (
                Some(self.sessions[by].clone()),
                Some(self.id(&format!("User:{target}"))),
            ),
        }
    }

    /// Replaces `@...` strings of a template: `@Kind:label` by the object's id, `@self` by
    /// the actor's user, `@day:N` by a date, `@new` by a name of the actor's own, `@email`
    /// by an address of the actor's own.
    fn resolve(&self, template: &Value, actor: &Actor) -> Value {
        match template {
            Value::String(s) if s.starts_with('@') => {
                let s = &s[1..];
                if s == "self" {
                    return Value::String(match actor.user {
                        Some(u) => self.id(&format!("User:{u}")),
                        None => gid("User", MISSING_ROW),
                    });
                }
                if let Some(n) = s.strip_prefix("day:") {
                    return Value::String(day(n.parse().expect("day offset")));
                }
                if let Some(what) = s.strip_prefix("new:") {
                    return Value::String(format!("{what} by {}", actor.name));
                }
                if let Some(tag) = s.strip_prefix("email:") {
                    return Value::String(format!("{tag}-{}@matrix.test", actor.name));
                }
                Value::String(self.id(s))
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v, actor)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v, actor)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The label of an object's id, else what the row calls itself.
    fn label_of(&self, row: &Value) -> String {
        if let Some(l) = row["id"].as_str().and_then(|id| self.labels.get(id)) {
            return l.clone();
        }
        for key in ["name", "title", "number", "note", "action"] {
            if let Some(s) = row[key].as_str() {
                return s.to_string();
            }
        }
        "?".to_string()
    }
}

fn email(user: &str) -> String {
    if user == "admin" {
        ADMIN_EMAIL.to_string()
    } else {
        format!("{user}@matrix.test")
    }
}

/// POSTs one GraphQL request as an actor; answers the JSON body whatever the status.
async fn send(
    client: &reqwest::Client,
    url: &str,
    (token, view_as): &(Option<String>, Option<String>),
    query: &str,
    vars: &Value,
) -> Value {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(target) = view_as {
        req = req.header("x-portico-view-as", target);
    }
    let resp = req.send().await.expect("send");
    resp.json().await.expect("json body")
}

// ---------------------------------------------------------------------------------------
// The world.
// ---------------------------------------------------------------------------------------

/// A user created by the administrator.
struct NewUser {
    label: &'static str,
    profile: &'static str,
    external: bool,
    customer: Option<&'static str>,
    department: Option<&'static str>,
}

const fn internal(label: &'static str, profile: &'static str) -> NewUser {
    NewUser {
        label,
        profile,
        external: false,
        customer: None,
        department: None,
    }
}

async fn build_world(app: TestApp) -> World {
    let admin = app.admin().await;
    let mut w = World {
        app,
        ids: HashMap::new(),
        labels: HashMap::new(),
        sessions: HashMap::from([("admin", admin.clone())]),
        secrets: HashMap::new(),
        actors: Vec::new(),
        memberships: HashMap::new(),
        documents: HashMap::new(),
        rules: HashMap::new(),
        entries: HashMap::new(),
        keys: HashMap::new(),
        next_draft_day: 0,
    };

    // Profiles: the seeded ones by name, and four of the world's own.
    let profiles = w.as_admin("{ profiles { id name } }", json!({})).await;
    for (name, label) in [
        ("Administrator", "administrator"),
        ("Senior manager", "senior_manager"),
        ("Project manager", "project_manager"),
        ("Full member", "full_member"),
        ("Customer", "customer"),
        ("External project leader", "external_project_leader"),
    ] {
        let p = profiles["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no seeded profile {name}"));
        w.bind("Profile", label, str_at(p, &["id"]));
    }
    for (label, name, rights) in [
        ("empty", "Empty", vec![]),
        (
            "department_viewer",
            "Department viewer",
            vec![
                "VIEW_DEPARTMENT_PROJECTS",
                "SEE_WORK",
                "VIEW_TIMESHEETS",
                "VIEW_INTERNAL_DOCUMENTS",
            ],
        ),
        (
            "all_viewer",
            "All viewer",
            vec![
                "VIEW_ALL_PROJECTS",
                "SEE_VALIDATED_WORK",
                "SEE_VALIDATED_COST",
            ],
        ),
        ("impersonator", "Impersonator", vec!["IMPERSONATE"]),
    ] {
        let id = w.app.new_profile(&admin, name, &rights).await;
        w.bind("Profile", label, id);
    }

    // Departments (a tree) and customers.
    for (label, name, parent) in [
        ("company", "Company", None),
        ("engineering", "Engineering", Some("company")),
        ("web", "Web", Some("engineering")),
        ("sales", "Sales", Some("company")),
    ] {
        let parent = parent.map(|p| w.id(&format!("Department:{p}")));
        let id = w
            .create(
                &admin,
                "mutation($n: String!, $p: ID) { createDepartment(input: {name: $n, parentId: $p}) { id } }",
                json!({ "n": name, "p": parent }),
                &["createDepartment", "id"],
            )
            .await;
        w.bind("Department", label, id);
    }
    for (label, name) in [("acme", "Acme"), ("globex", "Globex")] {
        let id = w
            .create(
                &admin,
                "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }",
                json!({ "n": name }),
                &["createCustomer", "id"],
            )
            .await;
        w.bind("Customer", label, id);
    }

    // Users. The administrator exists already.
    let me = w.as_admin("{ viewer { user { id } } }", json!({})).await;
    w.bind("User", "admin", str_at(&me, &["viewer", "user", "id"]));
    let users = [
        NewUser {
            department: Some("sales"),
            ..internal("senior", "senior_manager")
        },
        NewUser {
            department: Some("web"),
            ..internal("pm", "project_manager")
        },
        NewUser {
            department: Some("web"),
            ..internal("member", "full_member")
        },
        NewUser {
            external: true,
            customer: Some("acme"),
            ..internal("customer", "customer")
        },
        NewUser {
            external: true,
            customer: Some("acme"),
            ..internal("ext_leader", "external_project_leader")
        },
        NewUser {
            external: true,
            customer: Some("acme"),
            ..internal("ext_pm", "full_member")
        },
        NewUser {
            external: true,
            customer: Some("globex"),
            ..internal("ext_admin", "administrator")
        },
        NewUser {
            department: Some("engineering"),
            ..internal("dept_viewer", "department_viewer")
        },
        internal("all_viewer", "all_viewer"),
        internal("expired", "full_member"),
        internal("future", "full_member"),
        internal("until_today", "full_member"),
        internal("group_member", "full_member"),
        internal("impersonator", "impersonator"),
        internal("bystander", "full_member"),
    ];
    for u in &users {
        let input = json!({
            "email": email(u.label),
            "name": u.label,
            "password": PASSWORD,
            "kind": if u.external { "EXTERNAL" } else { "INTERNAL" },
            "customerId": u.customer.map(|c| w.id(&format!("Customer:{c}"))),
            "departmentId": u.department.map(|d| w.id(&format!("Department:{d}"))),
            "profileId": w.id(&format!("Profile:{}", u.profile)),
            "costRate": "40.00",
            "billingRate": "100.00",
        });
        let id = w
            .create(
                &admin,
                "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                json!({ "i": input }),
                &["createUser", "id"],
            )
            .await;
        w.bind("User", u.label, id);
    }
    for u in &users {
        if u.label != "bystander" {
            w.login(u.label).await;
        }
    }

    // Groups.
    for (label, name, members) in [
        ("team", "Team", vec!["group_member"]),
        ("acme_people", "Acme people", vec!["customer", "ext_pm"]),
    ] {
        let g = w
            .create(
                &admin,
                "mutation($n: String!) { createGroup(input: {name: $n}) { id } }",
                json!({ "n": name }),
                &["createGroup", "id"],
            )
            .await;
        w.bind("Group", label, g.clone());
        for m in members {
            w.as_admin(
                GROUP_ADD,
                json!({ "i": { "groupId": g, "userId": w.id(&format!("User:{m}")) } }),
            )
            .await;
        }
    }

    // Projects: an open one with a sub-project and a room, a closed one, a partner project
    // whose externalRights narrow the ceiling, and one nobody but the viewers of everything
    // sees.
    let acme = w.id("Customer:acme");
    let globex = w.id("Customer:globex");
    let web = w.id("Department:web");
    let eng = w.id("Department:engineering");
    let sales = w.id("Department:sales");
    let projects: Vec<(&str, Option<&str>, Value)> = vec![
        (
            "open",
            None,
            json!({ "name": "Apollo", "code": "APO", "customerId": acme, "departmentId": web, "budget": "10000.00" }),
        ),
        (
            "sub",
            Some("open"),
            json!({ "name": "Apollo design", "departmentId": web, "budget": "2000.00" }),
        ),
        (
            "room",
            Some("open"),
            json!({ "name": "Apollo room", "departmentId": web, "inheritMembers": false, "budget": "3000.00" }),
        ),
        (
            "closed",
            None,
            json!({ "name": "Hermes", "code": "HER", "status": "CLOSED", "customerId": acme, "departmentId": eng }),
        ),
        (
            "partner",
            None,
            json!({ "name": "Partner portal", "code": "PRT", "customerId": acme, "departmentId": eng,
                    "budget": "800.00",
                    "externalRights": ["EDIT_PROJECT", "MANAGE_TASKS", "LOG_TIME", "VIEW_TIMESHEETS", "SEE_WORK", "VIEW_INVOICES"] }),
        ),
        (
            "other",
            None,
            json!({ "name": "Zeus", "code": "ZEU", "customerId": globex, "departmentId": sales, "budget": "500.00" }),
        ),
    ];
    for (label, parent, extra) in projects {
        let parent = parent.map(|p| w.id(&format!("Project:{p}")));
        let name = str_at(&extra, &["name"]);
        let id = w.app.project(&admin, &name, parent.as_deref(), extra).await;
        w.bind("Project", label, id);
    }

    // Memberships: each seeded profile as a member's, time-bound ones, a group's.
    let m = |project, user: Option<&'static str>, group, profile, from, until| MemberSpec {
        project,
        user,
        group,
        profile,
        from,
        until,
    };
    for (label, spec) in [
        (
            "m_pm_open",
            m("open", Some("pm"), None, "project_manager", None, None),
        ),
        (
            "m_pm_closed",
            m("closed", Some("pm"), None, "project_manager", None, None),
        ),
        (
            "m_member_open",
            m("open", Some("member"), None, "full_member", None, None),
        ),
        (
            "m_member_room",
            m("room", Some("member"), None, "project_manager", None, None),
        ),
        (
            "m_customer_open",
            m("open", Some("customer"), None, "customer", None, None),
        ),
        (
            "m_ext_leader_partner",
            m(
                "partner",
                Some("ext_leader"),
                None,
                "external_project_leader",
                None,
                None,
            ),
        ),
        (
            "m_ext_pm_open",
            m("open", Some("ext_pm"), None, "project_manager", None, None),
        ),
        (
            "m_ext_pm_partner",
            m(
                "partner",
                Some("ext_pm"),
                None,
                "project_manager",
                None,
                None,
            ),
        ),
        (
            "m_ext_admin_other",
            m("other", Some("ext_admin"), None, "full_member", None, None),
        ),
        (
            "m_senior_room",
            m("room", Some("senior"), None, "administrator", None, None),
        ),
        (
            "m_expired",
            m(
                "open",
                Some("expired"),
                None,
                "project_manager",
                None,
                Some(-1),
            ),
        ),
        (
            "m_future",
            m(
                "open",
                Some("future"),
                None,
                "project_manager",
                Some(1),
                None,
            ),
        ),
        (
            "m_until_today",
            m(
                "open",
                Some("until_today"),
                None,
                "senior_manager",
                None,
                Some(0),
            ),
        ),
        (
            "m_team_other",
            m("other", None, Some("team"), "full_member", None, None),
        ),
        (
            "m_bystander_open",
            m("open", Some("bystander"), None, "full_member", None, None),
        ),
    ] {
        w.add_member(label, spec).await;
    }

    // Tasks.
    for (label, project, name, assignee, figures) in [
        (
            "t_open",
            "open",
            "Apollo build",
            "member",
            json!({ "validatedWork": 10.0, "plannedWork": 12.0, "leftWork": 4.0, "validatedCost": "1000.00", "plannedCost": "1200.00" }),
        ),
        (
            "t_room",
            "room",
            "Room task",
            "member",
            json!({ "plannedWork": 6.0, "plannedCost": "600.00" }),
        ),
        (
            "t_partner",
            "partner",
            "Partner task",
            "ext_pm",
            json!({ "plannedWork": 3.0, "validatedCost": "300.00" }),
        ),
        (
            "t_other",
            "other",
            "Zeus task",
            "ext_admin",
            json!({ "plannedWork": 2.0 }),
        ),
    ] {
        let mut input = figures;
        input["assigneeId"] = json!(w.id(&format!("User:{assignee}")));
        let id = w
            .app
            .task(&admin, &w.id(&format!("Project:{project}")), name, input)
            .await;
        w.bind("Task", label, id);
    }

    // Time entries, by their owners; some approved and billed.
    let e = |owner, task, hours| EntrySpec {
        owner,
        task,
        day: -3,
        hours,
    };
    for (label, spec) in [
        ("te_member", e("member", "t_open", 4.0)),
        ("te_pm", e("pm", "t_open", 2.0)),
        ("te_room", e("member", "t_room", 3.0)),
        ("te_ext", e("ext_pm", "t_partner", 1.5)),
        ("te_other", e("ext_admin", "t_other", 1.0)),
    ] {
        w.log_entry(label, spec).await;
    }
    let approve: Vec<String> = ["te_member", "te_room", "te_ext"]
        .iter()
        .map(|l| w.id(&format!("TimeEntry:{l}")))
        .collect();
    w.as_admin(APPROVE, json!({ "ids": approve })).await;
    // The invoice of `open` bills a line of the room too.
    for (label, project) in [("inv_open", "open"), ("inv_partner", "partner")] {
        let id = w
            .create(
                &admin,
                GENERATE,
                json!({ "i": { "projectId": w.id(&format!("Project:{project}")), "from": day(-3), "to": day(-3) } }),
                &["generateInvoice", "id"],
            )
            .await;
        w.bind("Invoice", label, id);
    }
    w.as_admin(
        "mutation($id: ID!) { issueInvoice(id: $id) { id } }",
        json!({ "id": w.id("Invoice:inv_partner") }),
    )
    .await;
    w.new_draft("inv_draft").await;
    let drafts = w
        .as_admin(
            "{ timeEntries(first: 100, filter: {}) { nodes { id note } } }",
            json!({}),
        )
        .await;
    for n in drafts["timeEntries"]["nodes"].as_array().unwrap() {
        if n["note"] == "draft" {
            w.bind("TimeEntry", "te_admin", str_at(n, &["id"]));
        }
    }

    // Documents and folder rules.
    let d = |project, folder, title, visibility| DocSpec {
        project,
        folder,
        title,
        visibility,
    };
    for (label, spec) in [
        ("doc_shared", d("open", "", "Apollo brief", "SHARED")),
        ("doc_internal", d("open", "", "Apollo costing", "INTERNAL")),
        (
            "doc_ruled",
            d("open", "Legal/2026", "Apollo contract", "SHARED"),
        ),
        ("doc_room", d("room", "", "Room notes", "SHARED")),
        (
            "doc_partner",
            d("partner", "Contracts", "Partner contract", "SHARED"),
        ),
        ("doc_other", d("other", "", "Zeus brief", "SHARED")),
    ] {
        w.add_document(label, spec).await;
    }
    for (label, spec) in [
        (
            "fr_legal",
            RuleSpec {
                project: "open",
                folder: "Legal",
                user: Some("member"),
                group: None,
            },
        ),
        (
            "fr_partner",
            RuleSpec {
                project: "partner",
                folder: "Contracts",
                user: None,
                group: Some("acme_people"),
            },
        ),
    ] {
        w.add_rule(label, spec).await;
    }

    // API keys: pm's read-only key, pm's key narrowed to the sub-project, a spare one, and
    // the administrator's.
    for (label, spec) in [
        (
            "ro",
            KeySpec {
                owner: "pm",
                name: "ro",
                read_only: true,
                projects: None,
            },
        ),
        (
            "narrow",
            KeySpec {
                owner: "pm",
                name: "narrow",
                read_only: false,
                projects: Some(vec!["sub"]),
            },
        ),
        (
            "spare",
            KeySpec {
                owner: "pm",
                name: "spare",
                read_only: false,
                projects: None,
            },
        ),
        (
            "admin_key",
            KeySpec {
                owner: "admin",
                name: "admin_key",
                read_only: false,
                projects: None,
            },
        ),
    ] {
        w.add_key(label, spec).await;
    }

    // Audit events: the administrator's first sign-in and the first key made.
    for (label, action) in [("ev_login", "LOGIN"), ("ev_key", "CREATE_API_KEY")] {
        let data = w
            .as_admin(
                "query($a: String) { auditEvents(first: 1, filter: {action: $a}) { nodes { id } } }",
                json!({ "a": action }),
            )
            .await;
        w.bind(
            "AuditEvent",
            label,
            str_at(&data["auditEvents"]["nodes"][0], &["id"]),
        );
    }

    let session = |name: &'static str| Actor {
        name,
        cred: Cred::Session(name),
        user: Some(name),
    };
    w.actors = vec![
        session("admin"),
        session("senior"),
        session("pm"),
        session("member"),
        session("customer"),
        session("ext_leader"),
        session("ext_pm"),
        session("ext_admin"),
        session("dept_viewer"),
        session("all_viewer"),
        session("expired"),
        session("future"),
        session("until_today"),
        session("group_member"),
        Actor {
            name: "ro_key",
            cred: Cred::Key("ro"),
            user: Some("pm"),
        },
        Actor {
            name: "narrow_key",
            cred: Cred::Key("narrow"),
            user: Some("pm"),
        },
        Actor {
            name: "view_as_customer",
            cred: Cred::ViewAs {
                by: "impersonator",
                target: "customer",
            },
            user: Some("customer"),
        },
        Actor {
            name: "anonymous",
            cred: Cred::Anonymous,
            user: None,
        },
    ];
    w
}

/// What the world is, as the first lines of the file.
const WORLD: &str = "\
# The world (tests/api/matrix.rs builds it through the API, as the administrator):
#   departments company > engineering > web, company > sales; customers acme, globex;
#   groups team (group_member), acme_people (customer, ext_pm).
#   projects: open (Apollo, acme, web) > sub (inherits), room (inheritMembers false);
#     closed (CLOSED, acme, engineering); partner (acme, engineering, externalRights
#     EDIT_PROJECT MANAGE_TASKS LOG_TIME VIEW_TIMESHEETS SEE_WORK VIEW_INVOICES);
#     other (Zeus, globex, sales).
#   users, default profile [kind] and memberships:
#     admin         Administrator; as their creator, a member of open, room, closed, partner, other
#     senior        Senior manager, department sales; Administrator (no project right) on room
#     pm            Project manager; Project manager on open and on closed
#     member        Full member; Full member on open, Project manager on room
#     customer      Customer [EXTERNAL, acme]; Customer on open
#     ext_leader    External project leader [EXTERNAL, acme]; the same on partner
#     ext_pm        Full member [EXTERNAL, acme]; Project manager on open and on partner
#     ext_admin     Administrator [EXTERNAL, globex]; Full member on other
#     dept_viewer   VIEW_DEPARTMENT_PROJECTS SEE_WORK VIEW_TIMESHEETS VIEW_INTERNAL_DOCUMENTS, department engineering
#     all_viewer    VIEW_ALL_PROJECTS SEE_VALIDATED_WORK SEE_VALIDATED_COST
#     expired       Full member; Project manager on open until yesterday
#     future        Full member; Project manager on open from tomorrow
#     until_today   Full member; Senior manager on open until today (inclusive)
#     group_member  Full member; in team, which is Full member on other
#     bystander     Full member; Full member on open (not an actor: a target)
#   ro_key: pm's read-only API key; narrow_key: pm's key narrowed to sub;
#   view_as_customer: impersonator (IMPERSONATE only) reading as customer; anonymous: no token.
#   tasks t_open (assignee member), t_room (member), t_partner (ext_pm), t_other (ext_admin);
#   entries te_member 4h (t_open, billed in inv_open), te_pm 2h (t_open, submitted),
#     te_room 3h (t_room, billed in inv_open), te_ext 1.5h (t_partner, billed in inv_partner),
#     te_other 1h (t_other, by ext_admin, submitted), te_admin 1h (t_open, billed in inv_draft);
#   invoices inv_open (DRAFT, lines of open and room), inv_partner (ISSUED), inv_draft (DRAFT);
#   documents doc_shared, doc_internal (INTERNAL), doc_ruled (Legal/2026) on open,
#     doc_room, doc_partner (Contracts), doc_other; rules fr_legal (open, Legal: member),
#     fr_partner (partner, Contracts: acme_people);
#   keys ro, narrow, spare (pm's), admin_key; audit events ev_login, ev_key.
# Every `missing` object is a well-formed id of its type naming no row.
";

// ---------------------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------------------

/// How an outcome is told.
#[derive(Clone)]
enum Shape {
    /// One object of a kind: counts of nested lists, null references, redactions.
    Object(&'static str),
    /// One project: its viewer rights and redactions.
    Rights,
    /// A list (a connection when `total`): total, row labels, redactions.
    List {
        total: bool,
    },
    Explain,
    Viewer,
    /// A list of rights.
    RightList,
    /// A mutation's answer: `ok` and redactions.
    Done,
}

struct Case {
    /// The operation and its object, as printed.
    op: String,
    /// The root field of the operation (the matrix's operations).
    field: &'static str,
    query: String,
    vars: Value,
    shape: Shape,
    undo: Undo,
}

/// What puts the world back after a mutation succeeded.
#[derive(Clone)]
enum Undo {
    Keep,
    /// The administrator removes the membership the mutation answered.
    RemoveNewMembership,
    /// The administrator adds the membership again.
    AddMembership(&'static str),
    /// The administrator runs this mutation (a template) back.
    Admin(&'static str, Value),
    DeleteNewDocument,
    AddDocument(&'static str),
    RemoveNewRule,
    AddRule(&'static str),
    /// The administrator buries the project the mutation created: moved under the
    /// graveyard (a CLOSED project of its own), closed, its memberships removed, so that
    /// only the viewers of every project still see it.
    BuryNewProject,
    /// The actor deletes the entry it logged.
    DeleteNewEntry,
    /// The owners log these entries again.
    LogEntries(Vec<&'static str>),
    NewDraft(&'static str),
    AddKey(&'static str),
    Login,
}

fn q_case(op: String, field: &'static str, query: String, vars: Value, shape: Shape) -> Case {
    Case {
        op,
        field,
        query,
        vars,
        shape,
        undo: Undo::Keep,
    }
}

/// Every object of each kind, as `Kind:label`, `missing` last.
fn objects(kind: &str) -> Vec<String> {
    let labels: &[&str] = match kind {
        "Project" => &["open", "sub", "room", "closed", "partner", "other"],
        "Task" => &["t_open", "t_room", "t_partner", "t_other"],
        "TimeEntry" => &["te_member", "te_pm", "te_room", "te_ext", "te_other"],
        "Document" => &[
            "doc_shared",
            "doc_internal",
            "doc_ruled",
            "doc_room",
            "doc_partner",
        ],
        "Invoice" => &["inv_open", "inv_partner", "inv_draft"],
        "Membership" => &[
            "m_pm_open",
            "m_member_room",
            "m_ext_pm_partner",
            "m_expired",
            "m_team_other",
        ],
        "FolderRule" => &["fr_legal", "fr_partner"],
        "User" => &["admin", "pm", "member", "customer", "ext_admin"],
        "Group" => &["team", "acme_people"],
        "Department" => &["company", "engineering", "web", "sales"],
        "Customer" => &["acme", "globex"],
        "Profile" => &["project_manager", "empty"],
        "ApiKey" => &["ro", "narrow", "admin_key"],
        "AuditEvent" => &["ev_login", "ev_key"],
        other => panic!("no objects of {other}"),
    };
    labels
        .iter()
        .map(|l| format!("{kind}:{l}"))
        .chain(std::iter::once(format!("{kind}:missing")))
        .collect()
}

fn queries() -> Vec<Case> {
    let mut out = Vec::new();
    out.push(q_case(
        "viewer".into(),
        "viewer",
        "{ viewer { user { id } globalRights impersonatedBy { id } readOnly } }".into(),
        json!({}),
        Shape::Viewer,
    ));
    out.push(q_case(
        "externalCeiling".into(),
        "externalCeiling",
        "{ externalCeiling }".into(),
        json!({}),
        Shape::RightList,
    ));
    for kind in KINDS {
        let query = format!(
            "query($id: ID!) {{ node(id: $id) {{ __typename ... on {kind} {{ {} }} }} }}",
            full_selection(kind)
        );
        for o in objects(kind) {
            out.push(q_case(
                format!("node({o})"),
                "node",
                query.clone(),
                json!({ "id": format!("@{o}") }),
                Shape::Object(kind),
            ));
        }
    }
    let project = format!(
        "query($id: ID!) {{ project(id: $id) {{ id viewerRights {PROJECT_FIGURES} customer {{ id }} department {{ id }} parent {{ id }} }} }}"
    );
    for o in objects("Project") {
        out.push(q_case(
            format!("project({o})"),
            "project",
            project.clone(),
            json!({ "id": format!("@{o}") }),
            Shape::Rights,
        ));
    }
    let task = format!(
        "query($id: ID!) {{ task(id: $id) {{ {} }} }}",
        full_selection("Task")
    );
    for o in ["Task:t_open", "Task:t_room", "Task:missing"] {
        out.push(q_case(
            format!("task({o})"),
            "task",
            task.clone(),
            json!({ "id": format!("@{o}") }),
            Shape::Object("Task"),
        ));
    }
    // Lists, whole and filtered.
    let connection = |field: &'static str, kind: &str, filter: &str, vars: Value, label: &str| {
        let (decl, arg) = if filter.is_empty() {
            (String::new(), String::new())
        } else {
            (format!("({filter})"), ", filter: $f".to_string())
        };
        q_case(
            label.to_string(),
            field,
            format!(
                "query{decl} {{ {field}(first: 100{arg}) {{ totalCount nodes {{ {} }} }} }}",
                row_selection(kind)
            ),
            vars,
            Shape::List { total: true },
        )
    };
    let plain = |field: &'static str, kind: &str| {
        q_case(
            field.to_string(),
            field,
            format!("{{ {field} {{ {} }} }}", row_selection(kind)),
            json!({}),
            Shape::List { total: false },
        )
    };
    out.push(connection("projects", "Project", "", json!({}), "projects"));
    out.push(connection("tasks", "Task", "", json!({}), "tasks"));
    out.push(connection(
        "timeEntries",
        "TimeEntry",
        "",
        json!({}),
        "timeEntries",
    ));
    out.push(connection(
        "documents",
        "Document",
        "",
        json!({}),
        "documents",
    ));
    out.push(connection("invoices", "Invoice", "", json!({}), "invoices"));
    out.push(connection("users", "User", "", json!({}), "users"));
    out.push(plain("groups", "Group"));
    out.push(plain("departments", "Department"));
    out.push(plain("customers", "Customer"));
    out.push(plain("profiles", "Profile"));
    out.push(plain("apiKeys", "ApiKey"));
    out.push(connection(
        "auditEvents",
        "AuditEvent",
        "$f: AuditEventFilter",
        json!({ "f": { "action": "CREATE_API_KEY" } }),
        "auditEvents(action=CREATE_API_KEY)",
    ));
    for (label, field, kind, ty, filter) in [
        (
            "projects(customerId=Customer:globex)",
            "projects",
            "Project",
            "ProjectFilter",
            json!({ "customerId": "@Customer:globex" }),
        ),
        (
            "projects(parentId=Project:open)",
            "projects",
            "Project",
            "ProjectFilter",
            json!({ "parentId": "@Project:open" }),
        ),
        (
            "projects(status=CLOSED)",
            "projects",
            "Project",
            "ProjectFilter",
            json!({ "status": ["CLOSED"] }),
        ),
        (
            "tasks(assigneeId=User:ext_admin)",
            "tasks",
            "Task",
            "TaskFilter",
            json!({ "assigneeId": "@User:ext_admin" }),
        ),
        (
            "tasks(projectId=Project:room)",
            "tasks",
            "Task",
            "TaskFilter",
            json!({ "projectId": "@Project:room" }),
        ),
        (
            "timeEntries(userId=User:member)",
            "timeEntries",
            "TimeEntry",
            "TimeEntryFilter",
            json!({ "userId": "@User:member" }),
        ),
        (
            "timeEntries(projectId=Project:open includeSubProjects)",
            "timeEntries",
            "TimeEntry",
            "TimeEntryFilter",
            json!({ "projectId": "@Project:open", "includeSubProjects": true }),
        ),
        (
            "documents(projectId=Project:open)",
            "documents",
            "Document",
            "DocumentFilter",
            json!({ "projectId": "@Project:open" }),
        ),
        (
            "invoices(customerId=Customer:acme)",
            "invoices",
            "Invoice",
            "InvoiceFilter",
            json!({ "customerId": "@Customer:acme" }),
        ),
        (
            "users(kind=EXTERNAL)",
            "users",
            "User",
            "UserFilter",
            json!({ "kind": "EXTERNAL" }),
        ),
        (
            "users(customerId=Customer:acme)",
            "users",
            "User",
            "UserFilter",
            json!({ "customerId": "@Customer:acme" }),
        ),
    ] {
        out.push(connection(
            field,
            kind,
            &format!("$f: {ty}"),
            json!({ "f": filter }),
            label,
        ));
    }
    let explain = "query($p: ID!, $u: ID) { explainAccess(projectId: $p, userId: $u) { visible rights removedByCeiling reason grants { via project { id } group { id } } } }";
    for o in objects("Project") {
        out.push(q_case(
            format!("explainAccess({o})"),
            "explainAccess",
            explain.into(),
            json!({ "p": format!("@{o}") }),
            Shape::Explain,
        ));
    }
    for (p, u) in [
        ("Project:open", "User:member"),
        ("Project:room", "User:ext_pm"),
        ("Project:open", "User:missing"),
    ] {
        out.push(q_case(
            format!("explainAccess({p} userId={u})"),
            "explainAccess",
            explain.into(),
            json!({ "p": format!("@{p}"), "u": format!("@{u}") }),
            Shape::Explain,
        ));
    }
    out
}

/// A mutation taking `input` of `ty`, answering `kind`'s full selection.
fn input_mutation(field: &str, ty: &str, kind: &str) -> String {
    format!(
        "mutation($i: {ty}!) {{ {field}(input: $i) {{ {} }} }}",
        answer_selection(kind)
    )
}

fn id_mutation(field: &str, kind: &str) -> String {
    format!(
        "mutation($id: ID!) {{ {field}(id: $id) {{ {} }} }}",
        answer_selection(kind)
    )
}

fn m_case(op: &str, field: &'static str, query: &str, vars: Value, undo: Undo) -> Case {
    Case {
        op: op.to_string(),
        field,
        query: query.to_string(),
        vars,
        shape: Shape::Done,
        undo,
    }
}

/// Every mutation of the schema against the objects it names, in the order they run.
fn mutations() -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |op: &str, field: &'static str, query: &str, vars: Value, undo: Undo| {
        out.push(m_case(op, field, query, vars, undo));
    };
    use Undo::Keep;

    let login = "mutation($i: LoginInput!) { login(input: $i) { user { id } } }";
    add(
        "login(User:bystander)",
        "login",
        login,
        json!({ "i": { "email": email("bystander"), "password": PASSWORD } }),
        Keep,
    );
    add(
        "login(unknown email)",
        "login",
        login,
        json!({ "i": { "email": "@email:unknown", "password": PASSWORD } }),
        Keep,
    );

    let key = format!(
        "mutation($i: CreateApiKeyInput!) {{ createApiKey(input: $i) {{ apiKey {{ {} }} }} }}",
        answer_selection("ApiKey")
    );
    add(
        "createApiKey(all projects)",
        "createApiKey",
        &key,
        json!({ "i": { "name": "@new:key" } }),
        Keep,
    );
    for p in ["open", "other", "missing"] {
        add(
            &format!("createApiKey(projectIds=Project:{p})"),
            "createApiKey",
            &key,
            json!({ "i": { "name": "@new:key", "projectIds": [format!("@Project:{p}")] } }),
            Keep,
        );
    }

    let create_user = input_mutation("createUser", "CreateUserInput", "User");
    add(
        "createUser(profileId=Profile:empty)",
        "createUser",
        &create_user,
        json!({ "i": { "email": "@email:new", "name": "@new:user", "password": PASSWORD, "profileId": "@Profile:empty" } }),
        Keep,
    );
    add(
        "createUser(Customer:globex Department:sales)",
        "createUser",
        &create_user,
        json!({ "i": { "email": "@email:external", "name": "@new:external user", "password": PASSWORD, "profileId": "@Profile:empty",
                       "kind": "EXTERNAL", "customerId": "@Customer:globex", "departmentId": "@Department:sales" } }),
        Keep,
    );
    let update_user = input_mutation("updateUser", "UpdateUserInput", "User");
    for u in ["pm", "ext_admin"] {
        let name = u;
        add(
            &format!("updateUser(User:{u} name=same)"),
            "updateUser",
            &update_user,
            json!({ "i": { "id": format!("@User:{u}"), "name": name } }),
            Keep,
        );
    }
    add(
        "updateUser(User:missing name)",
        "updateUser",
        &update_user,
        json!({ "i": { "id": "@User:missing", "name": "x" } }),
        Keep,
    );

    add(
        "createProfile",
        "createProfile",
        &input_mutation("createProfile", "CreateProfileInput", "Profile"),
        json!({ "i": { "name": "@new:profile", "rights": [] } }),
        Keep,
    );
    let update_profile = input_mutation("updateProfile", "UpdateProfileInput", "Profile");
    for (p, name) in [("empty", "Empty"), ("missing", "x")] {
        add(
            &format!("updateProfile(Profile:{p} name=same)"),
            "updateProfile",
            &update_profile,
            json!({ "i": { "id": format!("@Profile:{p}"), "name": name } }),
            Keep,
        );
    }

    add(
        "createGroup",
        "createGroup",
        &input_mutation("createGroup", "CreateGroupInput", "Group"),
        json!({ "i": { "name": "@new:group" } }),
        Keep,
    );
    let group_add = input_mutation("addGroupMember", "GroupMemberInput", "Group");
    let group_remove = input_mutation("removeGroupMember", "GroupMemberInput", "Group");
    for (g, u) in [
        ("team", "bystander"),
        ("missing", "bystander"),
        ("team", "missing"),
    ] {
        let i = json!({ "groupId": format!("@Group:{g}"), "userId": format!("@User:{u}") });
        add(
            &format!("addGroupMember(Group:{g} User:{u})"),
            "addGroupMember",
            &group_add,
            json!({ "i": i }),
            Undo::Admin(GROUP_REMOVE, json!({ "i": i })),
        );
    }
    for (g, u) in [
        ("team", "group_member"),
        ("acme_people", "customer"),
        ("team", "missing"),
    ] {
        let i = json!({ "groupId": format!("@Group:{g}"), "userId": format!("@User:{u}") });
        add(
            &format!("removeGroupMember(Group:{g} User:{u})"),
            "removeGroupMember",
            &group_remove,
            json!({ "i": i }),
            Undo::Admin(GROUP_ADD, json!({ "i": i })),
        );
    }

    add(
        "createCustomer",
        "createCustomer",
        &input_mutation("createCustomer", "CreateCustomerInput", "Customer"),
        json!({ "i": { "name": "@new:customer" } }),
        Keep,
    );
    let create_department =
        input_mutation("createDepartment", "CreateDepartmentInput", "Department");
    add(
        "createDepartment(top level)",
        "createDepartment",
        &create_department,
        json!({ "i": { "name": "@new:top department" } }),
        Keep,
    );
    for d in ["engineering", "missing"] {
        add(
            &format!("createDepartment(parentId=Department:{d})"),
            "createDepartment",
            &create_department,
            json!({ "i": { "name": format!("@new:department under {d}"), "parentId": format!("@Department:{d}") } }),
            Keep,
        );
    }

    let create_project = input_mutation("createProject", "CreateProjectInput", "Project");
    add(
        "createProject(top level)",
        "createProject",
        &create_project,
        json!({ "i": { "name": "@new:project" } }),
        Undo::BuryNewProject,
    );
    for p in [
        "open", "sub", "room", "closed", "partner", "other", "missing",
    ] {
        add(
            &format!("createProject(parentId=Project:{p})"),
            "createProject",
            &create_project,
            json!({ "i": { "name": "@new:project", "parentId": format!("@Project:{p}") } }),
            Undo::BuryNewProject,
        );
    }
    for (what, extra) in [
        (
            "customerId=Customer:globex",
            json!({ "customerId": "@Customer:globex" }),
        ),
        (
            "departmentId=Department:sales",
            json!({ "departmentId": "@Department:sales" }),
        ),
        ("budget", json!({ "budget": "1.00" })),
        (
            "externalRights=[LOG_TIME]",
            json!({ "externalRights": ["LOG_TIME"] }),
        ),
    ] {
        let mut i = json!({ "name": "@new:project", "parentId": "@Project:open" });
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        add(
            &format!("createProject(parentId=Project:open {what})"),
            "createProject",
            &create_project,
            json!({ "i": i }),
            Undo::BuryNewProject,
        );
    }

    let update_project = input_mutation("updateProject", "UpdateProjectInput", "Project");
    for (p, name) in [
        ("open", "Apollo"),
        ("sub", "Apollo design"),
        ("room", "Apollo room"),
        ("closed", "Hermes"),
        ("partner", "Partner portal"),
        ("other", "Zeus"),
        ("missing", "x"),
    ] {
        add(
            &format!("updateProject(Project:{p} name=same)"),
            "updateProject",
            &update_project,
            json!({ "i": { "id": format!("@Project:{p}"), "name": name } }),
            Keep,
        );
    }
    let back = |fields: Value| {
        let mut i = fields;
        i["id"] = json!("@Project:open");
        Undo::Admin(UPDATE_PROJECT_BACK, json!({ "i": i }))
    };
    for (what, fields, undo) in [
        ("budget=same", json!({ "budget": "10000.00" }), Keep),
        (
            "code=ZEU (other's)",
            json!({ "code": "ZEU" }),
            back(json!({ "code": "APO" })),
        ),
        (
            "customerId=Customer:globex",
            json!({ "customerId": "@Customer:globex" }),
            back(json!({ "customerId": "@Customer:acme" })),
        ),
        (
            "customerId=Customer:missing",
            json!({ "customerId": "@Customer:missing" }),
            back(json!({ "customerId": "@Customer:acme" })),
        ),
        (
            "departmentId=Department:sales",
            json!({ "departmentId": "@Department:sales" }),
            back(json!({ "departmentId": "@Department:web" })),
        ),
        (
            "departmentId=Department:missing",
            json!({ "departmentId": "@Department:missing" }),
            back(json!({ "departmentId": "@Department:web" })),
        ),
    ] {
        let mut i = fields;
        i["id"] = json!("@Project:open");
        add(
            &format!("updateProject(Project:open {what})"),
            "updateProject",
            &update_project,
            json!({ "i": i }),
            undo,
        );
    }
    let sub_back = Undo::Admin(
        UPDATE_PROJECT_BACK,
        json!({ "i": { "id": "@Project:sub", "parentId": "@Project:open" } }),
    );
    for (what, parent) in [
        ("Project:open (same)", json!("@Project:open")),
        ("Project:partner", json!("@Project:partner")),
        ("Project:other", json!("@Project:other")),
        ("Project:missing", json!("@Project:missing")),
        ("null (top level)", Value::Null),
    ] {
        add(
            &format!("updateProject(Project:sub parentId={what})"),
            "updateProject",
            &update_project,
            json!({ "i": { "id": "@Project:sub", "parentId": parent } }),
            sub_back.clone(),
        );
    }
    add(
        "updateProject(Project:room inheritMembers=true)",
        "updateProject",
        &update_project,
        json!({ "i": { "id": "@Project:room", "inheritMembers": true } }),
        Undo::Admin(
            UPDATE_PROJECT_BACK,
            json!({ "i": { "id": "@Project:room", "inheritMembers": false } }),
        ),
    );
    let partner_rights = json!([
        "EDIT_PROJECT",
        "MANAGE_TASKS",
        "LOG_TIME",
        "VIEW_TIMESHEETS",
        "SEE_WORK",
        "VIEW_INVOICES"
    ]);
    let partner_back = Undo::Admin(
        UPDATE_PROJECT_BACK,
        json!({ "i": { "id": "@Project:partner", "externalRights": partner_rights.clone() } }),
    );
    for (what, rights) in [
        ("same", partner_rights.clone()),
        ("[LOG_TIME]", json!(["LOG_TIME"])),
        ("null (no narrowing)", Value::Null),
    ] {
        add(
            &format!("updateProject(Project:partner externalRights={what})"),
            "updateProject",
            &update_project,
            json!({ "i": { "id": "@Project:partner", "externalRights": rights } }),
            partner_back.clone(),
        );
    }

    let set_status = format!(
        "mutation($i: SetProjectStatusInput!) {{ setProjectStatus(input: $i) {{ {} }} }}",
        answer_selection("Project")
    );
    for (p, status) in [
        ("open", "OPEN"),
        ("room", "OPEN"),
        ("closed", "CLOSED"),
        ("partner", "OPEN"),
        ("missing", "OPEN"),
    ] {
        add(
            &format!("setProjectStatus(Project:{p} {status} (same))"),
            "setProjectStatus",
            &set_status,
            json!({ "i": { "projectId": format!("@Project:{p}"), "status": status } }),
            Keep,
        );
    }
    add(
        "setProjectStatus(Project:closed OPEN)",
        "setProjectStatus",
        &set_status,
        json!({ "i": { "projectId": "@Project:closed", "status": "OPEN" } }),
        Undo::Admin(
            SET_STATUS_BACK,
            json!({ "i": { "projectId": "@Project:closed", "status": "CLOSED" } }),
        ),
    );
    add(
        "setProjectStatus(Project:open CLOSED)",
        "setProjectStatus",
        &set_status,
        json!({ "i": { "projectId": "@Project:open", "status": "CLOSED" } }),
        Undo::Admin(
            SET_STATUS_BACK,
            json!({ "i": { "projectId": "@Project:open", "status": "OPEN" } }),
        ),
    );

    let add_member = input_mutation("addProjectMember", "AddProjectMemberInput", "Membership");
    for (what, i) in [
        (
            "Project:open User:bystander Profile:empty",
            json!({ "projectId": "@Project:open", "userId": "@User:bystander", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:open User:bystander Profile:project_manager",
            json!({ "projectId": "@Project:open", "userId": "@User:bystander", "profileId": "@Profile:project_manager" }),
        ),
        (
            "Project:room User:bystander Profile:empty",
            json!({ "projectId": "@Project:room", "userId": "@User:bystander", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:partner User:bystander Profile:empty",
            json!({ "projectId": "@Project:partner", "userId": "@User:bystander", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:other User:bystander Profile:empty",
            json!({ "projectId": "@Project:other", "userId": "@User:bystander", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:missing User:bystander Profile:empty",
            json!({ "projectId": "@Project:missing", "userId": "@User:bystander", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:open User:ext_admin Profile:empty",
            json!({ "projectId": "@Project:open", "userId": "@User:ext_admin", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:open User:missing Profile:empty",
            json!({ "projectId": "@Project:open", "userId": "@User:missing", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:open User:bystander Profile:missing",
            json!({ "projectId": "@Project:open", "userId": "@User:bystander", "profileId": "@Profile:missing" }),
        ),
        (
            "Project:open Group:team Profile:empty",
            json!({ "projectId": "@Project:open", "groupId": "@Group:team", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:open Group:missing Profile:empty",
            json!({ "projectId": "@Project:open", "groupId": "@Group:missing", "profileId": "@Profile:empty" }),
        ),
        (
            "Project:open self Profile:project_manager",
            json!({ "projectId": "@Project:open", "userId": "@self", "profileId": "@Profile:project_manager" }),
        ),
        (
            "Project:open User:bystander Profile:empty validUntil=yesterday",
            json!({ "projectId": "@Project:open", "userId": "@User:bystander", "profileId": "@Profile:empty", "validUntil": "@day:-1" }),
        ),
    ] {
        add(
            &format!("addProjectMember({what})"),
            "addProjectMember",
            &add_member,
            json!({ "i": i }),
            Undo::RemoveNewMembership,
        );
    }
    let remove_member = id_mutation("removeProjectMember", "Membership");
    for m in [
        "m_bystander_open",
        "m_pm_open",
        "m_member_room",
        "m_ext_pm_partner",
        "m_expired",
        "m_team_other",
    ] {
        add(
            &format!("removeProjectMember(Membership:{m})"),
            "removeProjectMember",
            &remove_member,
            json!({ "id": format!("@Membership:{m}") }),
            Undo::AddMembership(m),
        );
    }
    add(
        "removeProjectMember(Membership:missing)",
        "removeProjectMember",
        &remove_member,
        json!({ "id": "@Membership:missing" }),
        Keep,
    );

    let create_task = input_mutation("createTask", "CreateTaskInput", "Task");
    for p in [
        "open", "sub", "room", "closed", "partner", "other", "missing",
    ] {
        add(
            &format!("createTask(Project:{p})"),
            "createTask",
            &create_task,
            json!({ "i": { "projectId": format!("@Project:{p}"), "name": "@new:task" } }),
            Keep,
        );
    }
    for (what, extra) in [
        ("plannedCost", json!({ "plannedCost": "1.00" })),
        ("validatedWork", json!({ "validatedWork": 1.0 })),
        (
            "assigneeId=User:bystander",
            json!({ "assigneeId": "@User:bystander" }),
        ),
        (
            "assigneeId=User:ext_admin",
            json!({ "assigneeId": "@User:ext_admin" }),
        ),
        (
            "assigneeId=User:missing",
            json!({ "assigneeId": "@User:missing" }),
        ),
    ] {
        let mut i = json!({ "projectId": "@Project:open", "name": "@new:task" });
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        add(
            &format!("createTask(Project:open {what})"),
            "createTask",
            &create_task,
            json!({ "i": i }),
            Keep,
        );
    }
    let update_task = input_mutation("updateTask", "UpdateTaskInput", "Task");
    for (t, name) in [
        ("t_open", "Apollo build"),
        ("t_room", "Room task"),
        ("t_partner", "Partner task"),
        ("t_other", "Zeus task"),
        ("missing", "x"),
    ] {
        add(
            &format!("updateTask(Task:{t} name=same)"),
            "updateTask",
            &update_task,
            json!({ "i": { "id": format!("@Task:{t}"), "name": name } }),
            Keep,
        );
    }
    const UPDATE_TASK_BACK: &str =
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { id } }";
    let task_back = Undo::Admin(
        UPDATE_TASK_BACK,
        json!({ "i": { "id": "@Task:t_open", "assigneeId": "@User:member" } }),
    );
    for (what, extra, undo) in [
        (
            "plannedCost=same",
            json!({ "plannedCost": "1200.00" }),
            Keep,
        ),
        ("plannedWork=same", json!({ "plannedWork": 12.0 }), Keep),
        (
            "assigneeId=User:bystander",
            json!({ "assigneeId": "@User:bystander" }),
            task_back.clone(),
        ),
        (
            "assigneeId=User:ext_admin",
            json!({ "assigneeId": "@User:ext_admin" }),
            task_back.clone(),
        ),
    ] {
        let mut i = json!({ "id": "@Task:t_open" });
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        add(
            &format!("updateTask(Task:t_open {what})"),
            "updateTask",
            &update_task,
            json!({ "i": i }),
            undo,
        );
    }

    let log_time = input_mutation("logTime", "LogTimeInput", "TimeEntry");
    for t in ["t_open", "t_room", "t_partner", "t_other", "missing"] {
        add(
            &format!("logTime(Task:{t})"),
            "logTime",
            &log_time,
            json!({ "i": { "taskId": format!("@Task:{t}"), "date": "@day:-2", "hours": 0.5, "note": "new" } }),
            Undo::DeleteNewEntry,
        );
    }
    let update_entry = input_mutation("updateTimeEntry", "UpdateTimeEntryInput", "TimeEntry");
    for e in ["te_member", "te_pm", "te_room", "te_ext", "te_other"] {
        add(
            &format!("updateTimeEntry(TimeEntry:{e} note=same)"),
            "updateTimeEntry",
            &update_entry,
            json!({ "i": { "id": format!("@TimeEntry:{e}"), "note": e } }),
            Keep,
        );
    }
    add(
        "updateTimeEntry(TimeEntry:missing note)",
        "updateTimeEntry",
        &update_entry,
        json!({ "i": { "id": "@TimeEntry:missing", "note": "x" } }),
        Keep,
    );
    let delete_entry = id_mutation("deleteTimeEntry", "TimeEntry");
    for (e, undo) in [
        ("te_member", Undo::LogEntries(vec!["te_member"])),
        ("te_pm", Undo::LogEntries(vec!["te_pm"])),
        ("te_other", Undo::LogEntries(vec!["te_other"])),
        ("missing", Keep),
    ] {
        add(
            &format!("deleteTimeEntry(TimeEntry:{e})"),
            "deleteTimeEntry",
            &delete_entry,
            json!({ "id": format!("@TimeEntry:{e}") }),
            undo,
        );
    }
    let approve = format!(
        "mutation($ids: [ID!]!) {{ approveTimeEntries(ids: $ids) {{ {} }} }}",
        answer_selection("TimeEntry")
    );
    for (what, ids, undo) in [
        (
            "TimeEntry:te_pm",
            vec!["te_pm"],
            Undo::LogEntries(vec!["te_pm"]),
        ),
        ("TimeEntry:te_member", vec!["te_member"], Keep),
        (
            "TimeEntry:te_other",
            vec!["te_other"],
            Undo::LogEntries(vec!["te_other"]),
        ),
        (
            "TimeEntry:te_pm TimeEntry:te_other",
            vec!["te_pm", "te_other"],
            Undo::LogEntries(vec!["te_pm", "te_other"]),
        ),
        ("TimeEntry:missing", vec!["missing"], Keep),
    ] {
        let ids: Vec<String> = ids.iter().map(|e| format!("@TimeEntry:{e}")).collect();
        add(
            &format!("approveTimeEntries({what})"),
            "approveTimeEntries",
            &approve,
            json!({ "ids": ids }),
            undo,
        );
    }

    let create_document = input_mutation("createDocument", "CreateDocumentInput", "Document");
    for (what, p, folder, visibility) in [
        ("Project:open SHARED", "open", "", "SHARED"),
        ("Project:open INTERNAL", "open", "", "INTERNAL"),
        (
            "Project:open Legal/2026 SHARED",
            "open",
            "Legal/2026",
            "SHARED",
        ),
        ("Project:room SHARED", "room", "", "SHARED"),
        ("Project:partner SHARED", "partner", "", "SHARED"),
        ("Project:missing SHARED", "missing", "", "SHARED"),
    ] {
        add(
            &format!("createDocument({what})"),
            "createDocument",
            &create_document,
            json!({ "i": { "projectId": format!("@Project:{p}"), "folder": folder, "title": "@new:document", "visibility": visibility } }),
            Undo::DeleteNewDocument,
        );
    }
    let update_document = input_mutation("updateDocument", "UpdateDocumentInput", "Document");
    const UPDATE_DOCUMENT_BACK: &str =
        "mutation($i: UpdateDocumentInput!) { updateDocument(input: $i) { id } }";
    for (d, title) in [
        ("doc_shared", "Apollo brief"),
        ("doc_internal", "Apollo costing"),
        ("doc_ruled", "Apollo contract"),
        ("doc_room", "Room notes"),
        ("doc_partner", "Partner contract"),
        ("missing", "x"),
    ] {
        add(
            &format!("updateDocument(Document:{d} title=same)"),
            "updateDocument",
            &update_document,
            json!({ "i": { "id": format!("@Document:{d}"), "title": title } }),
            Keep,
        );
    }
    add(
        "updateDocument(Document:doc_shared visibility=INTERNAL)",
        "updateDocument",
        &update_document,
        json!({ "i": { "id": "@Document:doc_shared", "visibility": "INTERNAL" } }),
        Undo::Admin(
            UPDATE_DOCUMENT_BACK,
            json!({ "i": { "id": "@Document:doc_shared", "visibility": "SHARED" } }),
        ),
    );
    add(
        "updateDocument(Document:doc_internal visibility=SHARED)",
        "updateDocument",
        &update_document,
        json!({ "i": { "id": "@Document:doc_internal", "visibility": "SHARED" } }),
        Undo::Admin(
            UPDATE_DOCUMENT_BACK,
            json!({ "i": { "id": "@Document:doc_internal", "visibility": "INTERNAL" } }),
        ),
    );
    add(
        "updateDocument(Document:doc_ruled folder=Public)",
        "updateDocument",
        &update_document,
        json!({ "i": { "id": "@Document:doc_ruled", "folder": "Public" } }),
        Undo::Admin(
            UPDATE_DOCUMENT_BACK,
            json!({ "i": { "id": "@Document:doc_ruled", "folder": "Legal/2026" } }),
        ),
    );
    let delete_document = id_mutation("deleteDocument", "Document");
    for d in [
        "doc_shared",
        "doc_internal",
        "doc_ruled",
        "doc_room",
        "doc_partner",
    ] {
        add(
            &format!("deleteDocument(Document:{d})"),
            "deleteDocument",
            &delete_document,
            json!({ "id": format!("@Document:{d}") }),
            Undo::AddDocument(d),
        );
    }
    add(
        "deleteDocument(Document:missing)",
        "deleteDocument",
        &delete_document,
        json!({ "id": "@Document:missing" }),
        Keep,
    );

    let set_rule = input_mutation("setFolderRule", "SetFolderRuleInput", "FolderRule");
    for (what, i) in [
        (
            "Project:open Legal User:bystander",
            json!({ "projectId": "@Project:open", "folder": "Legal", "userId": "@User:bystander" }),
        ),
        (
            "Project:open Drafts Group:team",
            json!({ "projectId": "@Project:open", "folder": "Drafts", "groupId": "@Group:team" }),
        ),
        (
            "Project:open Legal User:ext_admin",
            json!({ "projectId": "@Project:open", "folder": "Legal", "userId": "@User:ext_admin" }),
        ),
        (
            "Project:open Legal User:missing",
            json!({ "projectId": "@Project:open", "folder": "Legal", "userId": "@User:missing" }),
        ),
        (
            "Project:room Notes User:member",
            json!({ "projectId": "@Project:room", "folder": "Notes", "userId": "@User:member" }),
        ),
        (
            "Project:partner Contracts User:ext_pm",
            json!({ "projectId": "@Project:partner", "folder": "Contracts", "userId": "@User:ext_pm" }),
        ),
        (
            "Project:missing Notes User:bystander",
            json!({ "projectId": "@Project:missing", "folder": "Notes", "userId": "@User:bystander" }),
        ),
    ] {
        add(
            &format!("setFolderRule({what})"),
            "setFolderRule",
            &set_rule,
            json!({ "i": i }),
            Undo::RemoveNewRule,
        );
    }
    let remove_rule = id_mutation("removeFolderRule", "FolderRule");
    for r in ["fr_legal", "fr_partner"] {
        add(
            &format!("removeFolderRule(FolderRule:{r})"),
            "removeFolderRule",
            &remove_rule,
            json!({ "id": format!("@FolderRule:{r}") }),
            Undo::AddRule(r),
        );
    }
    add(
        "removeFolderRule(FolderRule:missing)",
        "removeFolderRule",
        &remove_rule,
        json!({ "id": "@FolderRule:missing" }),
        Keep,
    );

    // Nothing is approved and unbilled in 2000: a caller allowed to bill is told so
    // (BAD_USER_INPUT), and nothing is written.
    let generate = input_mutation("generateInvoice", "GenerateInvoiceInput", "Invoice");
    for p in ["open", "room", "partner", "other", "missing"] {
        add(
            &format!("generateInvoice(Project:{p} nothing to bill)"),
            "generateInvoice",
            &generate,
            json!({ "i": { "projectId": format!("@Project:{p}"), "from": "2000-01-01", "to": "2000-01-31" } }),
            Keep,
        );
    }
    let issue = id_mutation("issueInvoice", "Invoice");
    for (i, undo) in [
        ("inv_draft", Undo::NewDraft("inv_draft")),
        ("inv_partner", Keep),
        ("missing", Keep),
    ] {
        add(
            &format!("issueInvoice(Invoice:{i})"),
            "issueInvoice",
            &issue,
            json!({ "id": format!("@Invoice:{i}") }),
            undo,
        );
    }

    add(
        "setExternalCeiling(same)",
        "setExternalCeiling",
        "mutation($i: SetExternalCeilingInput!) { setExternalCeiling(input: $i) }",
        json!({ "i": { "rights": DEFAULT_CEILING } }),
        Keep,
    );

    let revoke = id_mutation("revokeApiKey", "ApiKey");
    for k in ["spare", "ro", "narrow", "admin_key"] {
        add(
            &format!("revokeApiKey(ApiKey:{k})"),
            "revokeApiKey",
            &revoke,
            json!({ "id": format!("@ApiKey:{k}") }),
            Undo::AddKey(k),
        );
    }
    add(
        "revokeApiKey(ApiKey:missing)",
        "revokeApiKey",
        &revoke,
        json!({ "id": "@ApiKey:missing" }),
        Keep,
    );
    add(
        "logout",
        "logout",
        "mutation { logout }",
        json!({}),
        Undo::Login,
    );
    out
}

// ---------------------------------------------------------------------------------------
// Outcomes.
// ---------------------------------------------------------------------------------------

/// The root field of a query or mutation document.
fn root_value<'a>(body: &'a Value, field: &str) -> &'a Value {
    &body["data"][field]
}

fn rights_text(v: &Value) -> String {
    let names: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut all = ALL_PROJECT_RIGHTS.to_vec();
    all.sort_unstable();
    if sorted == all {
        "ALL".to_string()
    } else {
        format!("[{}]", names.join(","))
    }
}

/// `extensions.redacted`, as `Field:RIGHT` or `Field:NOT_VISIBLE`, with counts above one.
fn redacted_text(body: &Value) -> Option<String> {
    let entries = body["extensions"]["redacted"].as_array()?;
    if entries.is_empty() {
        return None;
    }
    let parts: Vec<String> = entries
        .iter()
        .map(|e| {
            let why = e["right"]
                .as_str()
                .or_else(|| e["reason"].as_str())
                .unwrap_or("?");
            let n = e["count"].as_u64().unwrap_or(1);
            if n > 1 {
                format!("{}:{why}({n})", e["field"].as_str().unwrap_or("?"))
            } else {
                format!("{}:{why}", e["field"].as_str().unwrap_or("?"))
            }
        })
        .collect();
    Some(format!("redacted=[{}]", parts.join(",")))
}

/// Error codes, with the input field of BAD_USER_INPUT, and the path when `with_path`.
fn errors_text(body: &Value, with_path: bool) -> Option<String> {
    let errors = body["errors"].as_array()?;
    let mut parts: Vec<String> = Vec::new();
    for e in errors {
        let mut t = e["extensions"]["code"]
            .as_str()
            .unwrap_or("NO_CODE")
            .to_string();
        if let Some(f) = e["extensions"]["field"].as_str() {
            let _ = write!(t, " field={f}");
        }
        if with_path {
            if let Some(p) = e["path"].as_array() {
                let path: Vec<String> = p
                    .iter()
                    .map(|s| match s {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                let _ = write!(t, "@{}", path.join("."));
            }
        }
        if !parts.contains(&t) {
            parts.push(t);
        }
    }
    Some(parts.join(" "))
}

/// Counts of the nested lists of an object and its null references.
fn object_facts(kind: &str, v: &Value, out: &mut Vec<String>) {
    let Some(obj) = v.as_object() else { return };
    for (k, val) in obj {
        if let Some(n) = val.get("totalCount").and_then(Value::as_i64) {
            out.push(format!("{k}={n}"));
        } else if let Some(a) = val.as_array() {
            if ["ancestors", "folderRules", "lines", "members", "projects"].contains(&k.as_str()) {
                out.push(format!("{k}={}", a.len()));
            }
        }
    }
    let nulls: Vec<&str> = references(kind)
        .iter()
        .copied()
        .filter(|r| v[*r].is_null())
        .collect();
    if !nulls.is_empty() {
        out.push(format!("null=[{}]", nulls.join(",")));
    }
}

fn outcome(w: &World, case: &Case, body: &Value) -> String {
    let v = root_value(body, case.field);
    if v.is_null() {
        return errors_text(body, false).unwrap_or_else(|| "null".to_string());
    }
    let mut parts = vec!["ok".to_string()];
    match &case.shape {
        Shape::Object(kind) => object_facts(kind, v, &mut parts),
        Shape::Rights => parts.push(format!("rights={}", rights_text(&v["viewerRights"]))),
        Shape::List { total } => {
            let rows = if *total { &v["nodes"] } else { v };
            if *total {
                parts.push(format!("total={}", v["totalCount"]));
            }
            let labels: Vec<String> = rows
                .as_array()
                .map(|a| a.iter().map(|r| w.label_of(r)).collect())
                .unwrap_or_default();
            parts.push(format!("rows=[{}]", labels.join(",")));
        }
        Shape::Explain => {
            if v["visible"] == true {
                parts.push("visible".into());
                parts.push(format!("rights={}", rights_text(&v["rights"])));
                let mut via: Vec<String> = Vec::new();
                for g in v["grants"].as_array().into_iter().flatten() {
                    let mut t = g["via"].as_str().unwrap_or("?").to_string();
                    if !g["project"].is_null() {
                        let _ = write!(t, "@{}", w.label_of(&g["project"]));
                    }
                    if !g["group"].is_null() {
                        let _ = write!(t, "/{}", w.label_of(&g["group"]));
                    }
                    if !via.contains(&t) {
                        via.push(t);
                    }
                }
                parts.push(format!("via=[{}]", via.join(",")));
            } else {
                parts.push("hidden".into());
                parts.push(format!("reason={}", v["reason"].as_str().unwrap_or("none")));
            }
            let removed = &v["removedByCeiling"];
            if removed.as_array().is_some_and(|a| !a.is_empty()) {
                parts.push(format!("removedByCeiling={}", rights_text(removed)));
            }
        }
        Shape::Viewer => {
            parts.push(format!("user={}", w.label_of(&v["user"])));
            parts.push(format!("global={}", rights_text(&v["globalRights"])));
            if !v["impersonatedBy"].is_null() {
                parts.push(format!(
                    "impersonatedBy={}",
                    w.label_of(&v["impersonatedBy"])
                ));
            }
            if v["readOnly"] == true {
                parts.push("readOnly".into());
            }
        }
        Shape::RightList => parts.push(rights_text(v)),
        Shape::Done => {}
    }
    if let Some(r) = redacted_text(body) {
        parts.push(r);
    }
    if let Some(e) = errors_text(body, true) {
        parts.push(format!("errors=[{e}]"));
    }
    parts.join(" ")
}

// ---------------------------------------------------------------------------------------
// Running.
// ---------------------------------------------------------------------------------------

/// The mutations of the actors before this one run on the second copy of the world.
const MUTATION_SPLIT: usize = 6;

/// Where the projects that mutations create are buried: made after the queries, so that
/// they do not show it.
async fn dig_graveyard(w: &mut World) {
    let admin = w.admin().to_string();
    let grave = w
        .app
        .project(&admin, "Graveyard", None, json!({ "status": "CLOSED" }))
        .await;
    w.bind("Project", "graveyard", grave);
}

/// Most operations in one HTTP batch (the server's limit).
const BATCH: usize = 20;

/// POSTs a batch of GraphQL requests as an actor; answers one body per request (a request
/// refused as a whole, such as an anonymous one, answers the same body for each).
async fn send_batch(
    client: &reqwest::Client,
    url: &str,
    (token, view_as): &(Option<String>, Option<String>),
    ops: &[(String, Value)],
) -> Vec<Value> {
    let body: Vec<Value> = ops
        .iter()
        .map(|(q, v)| json!({ "query": q, "variables": v }))
        .collect();
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(target) = view_as {
        req = req.header("x-portico-view-as", target);
    }
    let resp: Value = req
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json body");
    match resp {
        Value::Array(bodies) => {
            assert_eq!(bodies.len(), ops.len(), "one answer per operation");
            bodies
        }
        whole => vec![whole; ops.len()],
    }
}

/// Runs every query case as every actor, in batches (actors in parallel: queries change
/// nothing an outcome shows); answers the bodies, `[case][actor]`.
async fn run_queries(w: &World, cases: &[Case]) -> Vec<Vec<Value>> {
    let mut set = tokio::task::JoinSet::new();
    for (a, actor) in w.actors.iter().enumerate() {
        let creds = w.credentials(actor);
        let client = w.app.client.clone();
        let url = w.app.url.clone();
        let work: Vec<(String, Value)> = cases
            .iter()
            .map(|c| (c.query.clone(), w.resolve(&c.vars, actor)))
            .collect();
        set.spawn(async move {
            let mut bodies = Vec::with_capacity(work.len());
            for chunk in work.chunks(BATCH) {
                bodies.extend(send_batch(&client, &url, &creds, chunk).await);
            }
            (a, bodies)
        });
    }
    let mut by_actor: Vec<Vec<Value>> = vec![Vec::new(); w.actors.len()];
    while let Some(done) = set.join_next().await {
        let (a, bodies) = done.expect("query task");
        by_actor[a] = bodies;
    }
    (0..cases.len())
        .map(|c| by_actor.iter().map(|b| b[c].clone()).collect())
        .collect()
}

/// Puts the world back after `case` succeeded for `actor` with answer `body`.
async fn undo(w: &mut World, case: &Case, actor: &Actor, body: &Value) {
    let answered = |path: &[&str]| {
        let mut cur = &body["data"][case.field];
        for p in path {
            cur = &cur[*p];
        }
        cur.as_str()
            .unwrap_or_else(|| panic!("{}: no id in {body}", case.op))
            .to_string()
    };
    match &case.undo {
        Undo::Keep => {}
        Undo::RemoveNewMembership => {
            w.as_admin(REMOVE_MEMBER, json!({ "id": answered(&["id"]) }))
                .await;
        }
        Undo::AddMembership(label) => {
            let spec = w.memberships[label].clone();
            w.add_member(label, spec).await;
        }
        Undo::Admin(query, template) => {
            let vars = w.resolve(template, actor);
            w.as_admin(query, vars).await;
        }
        Undo::BuryNewProject => {
            let id = answered(&["id"]);
            let grave = w.id("Project:graveyard");
            let admin = (Some(w.admin().to_string()), None);
            let ops = [
                (
                    UPDATE_PROJECT_BACK.to_string(),
                    json!({ "i": { "id": id, "parentId": grave, "inheritMembers": true } }),
                ),
                (
                    SET_STATUS_BACK.to_string(),
                    json!({ "i": { "projectId": id, "status": "CLOSED" } }),
                ),
                (
                    "query($id: ID!) { project(id: $id) { members(first: 100) { nodes { id } } } }"
                        .to_string(),
                    json!({ "id": id }),
                ),
            ];
            let done = send_batch(&w.app.client, &w.app.url, &admin, &ops).await;
            assert!(
                done.iter().all(|b| b.get("errors").is_none()),
                "{}: burying: {done:?}",
                case.op
            );
            let removes: Vec<(String, Value)> = done[2]["data"]["project"]["members"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (REMOVE_MEMBER.to_string(), json!({ "id": m["id"] })))
                .collect();
            if !removes.is_empty() {
                let done = send_batch(&w.app.client, &w.app.url, &admin, &removes).await;
                assert!(
                    done.iter().all(|b| b.get("errors").is_none()),
                    "{}: burying: {done:?}",
                    case.op
                );
            }
        }
        Undo::DeleteNewDocument => {
            w.as_admin(DELETE_DOCUMENT, json!({ "id": answered(&["id"]) }))
                .await;
        }
        Undo::AddDocument(label) => {
            let spec = w.documents[label].clone();
            w.add_document(label, spec).await;
        }
        Undo::RemoveNewRule => {
            w.as_admin(REMOVE_RULE, json!({ "id": answered(&["id"]) }))
                .await;
        }
        Undo::AddRule(label) => {
            let spec = w.rules[label].clone();
            w.add_rule(label, spec).await;
        }
        Undo::DeleteNewEntry => {
            let creds = w.credentials(actor);
            let b = send(
                &w.app.client,
                &w.app.url,
                &creds,
                DELETE_ENTRY,
                &json!({ "id": answered(&["id"]) }),
            )
            .await;
            assert!(b.get("errors").is_none(), "{}: undo: {b}", case.op);
        }
        Undo::LogEntries(labels) => {
            for label in labels {
                let spec = w.entries[label].clone();
                w.log_entry(label, spec).await;
            }
        }
        Undo::NewDraft(label) => w.new_draft(label).await,
        Undo::AddKey(label) => {
            let spec = w.keys[label].clone();
            w.add_key(label, spec).await;
        }
        Undo::Login => {
            if let Cred::Session(u) = actor.cred {
                w.login(u).await;
            }
        }
    }
}

/// Runs every mutation case as each actor of `which` and answers the outcomes,
/// `[case][actor]` (empty for the other actors).
///
/// Each outcome must meet the world as built, so every success is undone before anything
/// else runs. Actors take their turn one after the other, each through every case in
/// order (a change of access makes the server compute anew the scope of whoever asks next:
/// one actor at a time keeps that to one scope per change). To keep the run short, an actor
/// sends up to [`BATCH`] consecutive cases in one HTTP batch, ending each batch at a case
/// where `expected` (the golden file) says it succeeds. Refusals write nothing, and the
/// outcomes up to the first success stand; when the expectation was wrong, the operations
/// after that success met a changed world: their successes are undone (latest first), then
/// the first one, and the rest is sent again. The expectation only shapes the batches,
/// never an outcome.
async fn run_mutations(
    w: &mut World,
    cases: &[Case],
    expected: &HashSet<(String, String)>,
    which: std::ops::Range<usize>,
) -> Vec<Vec<String>> {
    let actors = w.actors.clone();
    let mut out: Vec<Vec<String>> = vec![vec![String::new(); actors.len()]; cases.len()];
    // One login per HTTP request: a login case goes alone.
    let alone = |c: &Case| c.field == "login";
    for (a, actor) in actors.iter().enumerate() {
        if !which.contains(&a) {
            continue;
        }
        let mut i = 0;
        while i < cases.len() {
            let mut stop = i + 1;
            while stop < cases.len()
                && stop - i < BATCH
                && !alone(&cases[stop - 1])
                && !alone(&cases[stop])
                && !expected.contains(&(cases[stop - 1].op.clone(), actor.name.to_string()))
            {
                stop += 1;
            }
            let creds = w.credentials(actor);
            let ops: Vec<(String, Value)> = cases[i..stop]
                .iter()
                .map(|c| (c.query.clone(), w.resolve(&c.vars, actor)))
                .collect();
            let bodies = send_batch(&w.app.client, &w.app.url, &creds, &ops).await;
            let succeeded: Vec<usize> = (i..stop)
                .filter(|&c| !root_value(&bodies[c - i], cases[c].field).is_null())
                .collect();
            let last = succeeded.first().copied().unwrap_or(stop - 1);
            for c in i..=last {
                out[c][a] = outcome(w, &cases[c], &bodies[c - i]);
            }
            for &c in succeeded.iter().rev() {
                undo(w, &cases[c], actor, &bodies[c - i]).await;
            }
            i = last + 1;
        }
    }
    out
}

/// The objects (`Kind:label`) the operations of the matrix name.
fn objects_named(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(op) = line.split(" | ").nth(1) else {
            continue;
        };
        for kind in KINDS {
            let mut rest = op;
            while let Some(at) = rest.find(&format!("{kind}:")) {
                let start = at + kind.len() + 1;
                let label: String = rest[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // A kind's name inside another word (none today) is no object.
                let starts_word = at == 0
                    || !rest[..at]
                        .chars()
                        .last()
                        .is_some_and(|c| c.is_ascii_alphanumeric());
                if starts_word && !label.is_empty() {
                    out.insert(format!("{kind}:{label}"));
                }
                rest = &rest[start..];
            }
        }
    }
    out
}

/// The (operation, actor) pairs that succeed in `golden`.
fn expected_successes(golden: &str) -> HashSet<(String, String)> {
    golden
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, " | ");
            let actor = parts.next()?.trim();
            let op = parts.next()?;
            let result = parts.next()?;
            (result == "ok" || result.starts_with("ok "))
                .then(|| (op.to_string(), actor.to_string()))
        })
        .collect()
}

/// The whole matrix as text; answers (text, cases, outcome lines).
async fn matrix(golden: &str) -> (String, usize, usize, BTreeMap<&'static str, usize>) {
    let started = Instant::now();
    let queries = queries();
    let mutations = mutations();
    let expected = expected_successes(golden);
    // Two copies of the world on two servers and databases, to use both cores: one answers
    // the queries, then the mutations of the last actors; the other the mutations of the
    // first actors (those that succeed most, so the slowest).
    let (mut w, mut other) = tokio::join!(async { build_world(spawn().await).await }, async {
        build_world(spawn().await).await
    });
    let built = started.elapsed();
    let split = MUTATION_SPLIT.min(w.actors.len());
    let all = w.actors.len();
    let ((query_lines, late, queried, late_done), (early, early_done)) = tokio::join!(
        async {
            let bodies = run_queries(&w, &queries).await;
            let lines: Vec<Vec<String>> = queries
                .iter()
                .zip(&bodies)
                .map(|(c, bodies)| bodies.iter().map(|b| outcome(&w, c, b)).collect())
                .collect();
            let queried = started.elapsed();
            dig_graveyard(&mut w).await;
            let late = run_mutations(&mut w, &mutations, &expected, split..all).await;
            (lines, late, queried, started.elapsed())
        },
        async {
            dig_graveyard(&mut other).await;
            let early = run_mutations(&mut other, &mutations, &expected, 0..split).await;
            (early, started.elapsed())
        }
    );
    let mutation_lines: Vec<Vec<String>> = early
        .into_iter()
        .zip(late)
        .map(|(e, l)| e[..split].iter().chain(&l[split..]).cloned().collect())
        .collect();
    eprintln!(
        "access matrix: worlds built in {:.1}s; queries done at {:.1}s, mutations at {:.1}s and {:.1}s",
        built.as_secs_f64(),
        queried.as_secs_f64(),
        late_done.as_secs_f64(),
        early_done.as_secs_f64(),
    );

    let width = w.actors.iter().map(|a| a.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    text.push_str(
        "# Golden access matrix: `actor | operation(object) | outcome`, one line each.\n\
         # Regenerate with `PORTICO_UPDATE_MATRIX=1 cargo test --test api matrix` (tests/api/matrix.rs)\n\
         # and review the diff against ../shared/design/authorization.md before committing it.\n\
         # Outcomes: `null`; an error code (`field=` names the input of BAD_USER_INPUT); or `ok`\n\
         # with list totals and row labels, nested list counts, null references, viewer rights\n\
         # (`ALL` = every project right) and `redacted=[Field:RIGHT|NOT_VISIBLE(count)]`.\n\
         # Mutations run after the queries, each actor through every case in this order; each success is undone.\n",
    );
    text.push_str(WORLD);
    let mut fields: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut lines = 0;
    for (title, cases, outcomes) in [
        ("queries", &queries, &query_lines),
        ("mutations", &mutations, &mutation_lines),
    ] {
        let _ = write!(text, "\n## {title}\n");
        for (case, results) in cases.iter().zip(outcomes) {
            *fields.entry(case.field).or_default() += 1;
            text.push('\n');
            for (actor, result) in w.actors.iter().zip(results) {
                let _ = writeln!(text, "{:width$} | {} | {}", actor.name, case.op, result);
                lines += 1;
            }
        }
    }
    (text, queries.len() + mutations.len(), lines, fields)
}

// ---------------------------------------------------------------------------------------
// Comparing with the golden file.
// ---------------------------------------------------------------------------------------

enum Edit {
    Same(usize),
    Gone(usize),
    New(usize),
}

/// A line diff of `old` and `new` (longest common subsequence after the common prefix and
/// suffix), as hunks with two lines of context.
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf]
    {
        suf += 1;
    }
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut edits: Vec<Edit> = (0..pre).map(Edit::Same).collect();
    if am.len().saturating_mul(bm.len()) <= 16_000_000 {
        // lcs[i][j]: the longest common subsequence of am[i..] and bm[j..].
        let cols = bm.len() + 1;
        let mut lcs = vec![0u32; (am.len() + 1) * cols];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                lcs[i * cols + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * cols + j + 1] + 1
                } else {
                    lcs[(i + 1) * cols + j].max(lcs[i * cols + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                edits.push(Edit::Same(pre + i));
                i += 1;
                j += 1;
            } else if i < am.len()
                && (j == bm.len() || lcs[(i + 1) * cols + j] >= lcs[i * cols + j + 1])
            {
                edits.push(Edit::Gone(pre + i));
                i += 1;
            } else {
                edits.push(Edit::New(pre + j));
                j += 1;
            }
        }
    } else {
        edits.extend((0..am.len()).map(|i| Edit::Gone(pre + i)));
        edits.extend((0..bm.len()).map(|j| Edit::New(pre + j)));
    }
    edits.extend((0..suf).map(|k| Edit::Same(a.len() - suf + k)));

    // Hunks: each change with two lines of context either side.
    let changed: Vec<bool> = edits.iter().map(|e| !matches!(e, Edit::Same(_))).collect();
    let near = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 3).min(changed.len());
        changed[lo..hi].iter().any(|c| *c)
    };
    let mut out = String::new();
    let mut shown = 0;
    let mut in_hunk = false;
    let (mut old_no, mut new_no) = (0usize, 0usize);
    for (k, e) in edits.iter().enumerate() {
        if near(k) {
            if !in_hunk {
                let _ = writeln!(out, "@@ -{} +{} @@", old_no + 1, new_no + 1);
                in_hunk = true;
            }
            if shown < 600 {
                match e {
                    Edit::Same(i) => {
                        let _ = writeln!(out, "  {}", a[*i]);
                    }
                    Edit::Gone(i) => {
                        let _ = writeln!(out, "- {}", a[*i]);
                    }
                    Edit::New(j) => {
                        let _ = writeln!(out, "+ {}", b[*j]);
                    }
                }
            }
            shown += 1;
        } else {
            in_hunk = false;
        }
        match e {
            Edit::Same(_) => {
                old_no += 1;
                new_no += 1;
            }
            Edit::Gone(_) => old_no += 1,
            Edit::New(_) => new_no += 1,
        }
    }
    if shown > 600 {
        let _ = writeln!(out, "... and {} more diff lines", shown - 600);
    }
    out
}

/// The matrix holds both cores for half a minute: it runs apart from the other heavy tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::await_holding_lock,
    reason = "the guard only keeps heavy tests apart"
)]
async fn access_matrix_matches_the_golden_file() {
    let _alone = crate::common::exclusive();
    let started = Instant::now();
    let golden = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    let (text, cases, lines, fields) = matrix(&golden).await;
    let actors = lines / cases.max(1);
    let update = std::env::var(UPDATE_VAR).is_ok_and(|v| !v.is_empty() && v != "0");
    let per_field: Vec<String> = fields.iter().map(|(f, n)| format!("{f} {n}")).collect();
    let named = objects_named(&text);
    let missing = named.iter().filter(|o| o.ends_with(":missing")).count();
    eprintln!(
        "access matrix: {actors} actors x {cases} cases = {lines} outcome lines; the cases are \
         {} operations ({}) over {} objects of {} kinds ({missing} of them missing ids); in {:.1}s",
        fields.len(),
        per_field.join(", "),
        named.len(),
        KINDS.len(),
        started.elapsed().as_secs_f64()
    );
    if update {
        std::fs::write(GOLDEN, &text).expect("write the golden access matrix");
        eprintln!("access matrix: wrote {GOLDEN}");
        return;
    }
    if golden != text {
        panic!(
            "the access matrix differs from {GOLDEN} (- golden, + now):\n{}\n\
             If every change is intended (check each against ../shared/design/authorization.md), \
             update the file with\n    {UPDATE_VAR}=1 cargo test --test api matrix\nand commit its diff.",
            diff(&golden, &text)
        );
    }
}
