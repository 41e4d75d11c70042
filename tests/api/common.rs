//! Test harness: each test gets its own database (a temporary SQLite file, or a fresh
//! PostgreSQL database when PORTICO_TEST_DATABASE_URL names a server) and its own server on
//! a random port, and talks to it over HTTP.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use portico::db::{q, Backend, Db};
use portico::AppState;
use serde_json::{json, Value};

pub const ADMIN_EMAIL: &str = "root@test.example";
pub const PASSWORD: &str = "correct horse battery";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Held by the tests that must not run at the same time: the property test keeps both cores
/// busy, and the statement-count test needs its batches not to be starved.
pub static EXCLUSIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`EXCLUSIVE`] (a test that panicked while holding it leaves it usable).
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    EXCLUSIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Marks a test that does not apply to the backend under test; the caller returns right
/// after. Rust's test harness has no skip at run time, so the test still counts as passed:
/// the line `SKIPPED <test>: <why>` goes straight to the process's stderr, past the
/// harness's capture (which takes `print!`/`eprint!` only), so it shows in every run's
/// output whatever the test's outcome, and `.ci/run` counts these lines.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// Where the test databases live.
pub fn base_url() -> Option<String> {
    std::env::var("PORTICO_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty() && !u.starts_with("sqlite"))
}

/// Removes a test database when dropped.
pub enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub url: String,
    pub db_url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    /// The same database served with every field on its resolver (no synchronous pass):
    /// every query [`TestApp::post`] sends is answered by both, and the answers compared.
    pub resolver_url: String,
    resolver_server: tokio::task::JoinHandle<()>,
    _cleanup: Cleanup,
}

/// A fresh, migrated, empty database URL.
pub async fn fresh_database() -> (String, Cleanup) {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tag = format!(
        "{}_{}_{}",
        std::process::id(),
        n,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    match base_url() {
        Some(admin_url) => {
            let name = format!("portico_t_{tag}");
            let admin = Db::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute(q(format!("CREATE DATABASE {name}")))
                .await
                .expect("create test database");
            if let portico::db::Pool::Postgres(p) = admin.pool {
                p.close().await;
            }
            let url = with_database(&admin_url, &name);
            (url, Cleanup::Postgres { admin_url, name })
        }
        None => {
            let path = std::env::temp_dir().join(format!("portico-test-{tag}.db"));
            (format!("sqlite://{}", path.display()), Cleanup::File(path))
        }
    }
}

/// The same server URL naming another database.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        self.resolver_server.abort();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop cannot await: a short-lived runtime on its own thread drops the database.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            if let Ok(admin) = Db::connect(&admin_url).await {
                                let _ = admin
                                    .execute(q(format!(
                                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                    )))
                                    .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// Starts a server on a fresh database with one administrator.
pub async fn spawn() -> TestApp {
    let app = spawn_empty().await;
    portico::demo::create_admin(&app.state, ADMIN_EMAIL, "Root Admin", PASSWORD)
        .await
        .expect("create admin");
    app
}

/// Logs go to the test output when RUST_LOG asks for them (e.g. sqlx::query=debug).
fn init_tracing() {
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Starts a server on a fresh, migrated database with no users.
pub async fn spawn_empty() -> TestApp {
    init_tracing();
    let (db_url, cleanup) = fresh_database().await;
    let db = portico::open(&db_url).await.expect("open database");
    let state = AppState::new(db, 2, 12);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = portico::app(state.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    // Its statements are counted apart, so that tests counting the first server's stay
    // exact.
    let mut slow = state.clone();
    slow.fast_pass = false;
    slow.db = state.db.counted_apart();
    slow.metrics = Default::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let resolver_url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    let resolver_server = tokio::spawn(async move {
        let _ = axum::serve(listener, portico::app(slow)).await;
    });
    TestApp {
        addr,
        url: format!("http://{addr}/graphql"),
        db_url,
        state,
        client: reqwest::Client::new(),
        server,
        resolver_url,
        resolver_server,
        _cleanup: cleanup,
    }
}

/// The parts of an answer both resolution paths must agree on: the status, the data, each
/// error's code, path and field, and `extensions.redacted`.
fn comparable(answer: &(u16, Value)) -> Value {
    let (status, body) = answer;
    let errors: Vec<Value> = body["errors"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| {
                    json!({
                        "code": e["extensions"]["code"],
                        "field": e["extensions"]["field"],
                        "path": e["path"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "status": status,
        "data": body["data"],
        "errors": errors,
        "redacted": body["extensions"]["redacted"],
    })
}

fn assert_same_answer(query: &str, fast: &(u16, Value), slow: &(u16, Value)) {
    let (a, b) = (comparable(fast), comparable(slow));
    assert!(
        a == b,
        "the synchronous pass and the resolvers answer differently for {query}\nfast: {a}\nresolvers: {b}"
    );
}

/// POSTs a JSON body (a GraphQL request or a batch) to `url`; answers the status and the
/// JSON answer.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let body = resp.json().await.expect("json body");
    (status, body)
}

impl TestApp {
    /// POSTs a GraphQL request and answers the JSON body (any status). A query is also
    /// answered by the resolvers alone ([`TestApp::resolver_url`]), which must give the same
    /// status, data, error codes and `extensions.redacted` as the synchronous pass.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let body = json!({ "query": query, "variables": variables });
        let answer = send(&self.client, &self.url, token, &body).await;
        if !query.trim_start().starts_with("mutation") {
            let slow = send(&self.client, &self.resolver_url, token, &body).await;
            assert_same_answer(query, &answer, &slow);
        }
        answer
    }

    /// Runs a GraphQL operation that must succeed without errors; answers `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(Some(token), query, variables).await;
        assert_eq!(status, 200, "status for {query}: {body}");
        assert!(body.get("errors").is_none(), "errors for {query}: {body}");
        body["data"].clone()
    }

    /// Runs an operation that must fail; answers the first error's code.
    pub async fn err(&self, token: Option<&str>, query: &str, variables: Value) -> (String, Value) {
        let (_, body) = self.post(token, query, variables).await;
        let e = body["errors"][0].clone();
        assert!(!e.is_null(), "expected an error for {query}: {body}");
        (
            e["extensions"]["code"].as_str().unwrap_or("").to_string(),
            e,
        )
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (_, body) = self
            .post(
                None,
                "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        body["data"]["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login of {email} failed: {body}"))
            .to_string()
    }

    pub async fn admin(&self) -> String {
        self.login(ADMIN_EMAIL, PASSWORD).await
    }

    /// Id of a seeded profile by name.
    pub async fn profile_id(&self, token: &str, name: &str) -> String {
        let data = self.ok(token, "{ profiles { id name } }", json!({})).await;
        data["profiles"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .map(|p| p["id"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no profile {name}"))
    }

    /// Creates a user with a profile (by name) through the API; answers its id.
    pub async fn user(&self, admin: &str, email: &str, profile: &str) -> String {
        let profile_id = self.profile_id(admin, profile).await;
        let data = self
            .ok(
                admin,
                "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                json!({ "i": { "email": email, "name": email, "password": PASSWORD, "profileId": profile_id } }),
            )
            .await;
        data["createUser"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A number from one SQL count, to check what was (not) written.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.state
            .db
            .fetch_one(q(sql))
            .await
            .expect("count")
            .get::<i64>("n")
            .expect("n")
    }
}

/// Every table a request may write, for [`unchanged`]: all of the data model, the access
/// version the triggers bump on any change of access, and the audit log. (Not `session`:
/// no refusal is a login.)
pub const EVERY_TABLE: &[&str] = &[
    "profile",
    "profile_right",
    "department",
    "customer",
    "app_user",
    "user_group",
    "group_member",
    "project",
    "membership",
    "task",
    "time_entry",
    "document",
    "folder_rule",
    "invoice",
    "invoice_line",
    "api_key",
    "api_key_project",
    "audit_event",
    "access_version",
    "external_ceiling",
];

/// Columns that a read request may change (an API key's last use), left out of snapshots.
const BOOKKEEPING_COLUMNS: &[&str] = &["last_used_at"];

/// Every row of `table`, each column as text (`NULL` for null), sorted: what a refusal must
/// leave as it was.
pub async fn snapshot(db: &Db, table: &str) -> Vec<Vec<String>> {
    let columns_sql = match db.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid".to_string(),
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
                .to_string()
        }
    };
    let columns: Vec<String> = db
        .fetch_all(q(columns_sql).bind(table.to_string()))
        .await
        .unwrap_or_else(|e| panic!("columns of {table}: {e}"))
        .iter()
        .map(|r| r.get::<String>("name").expect("column name"))
        .filter(|c| !BOOKKEEPING_COLUMNS.contains(&c.as_str()))
        .collect();
    assert!(!columns.is_empty(), "no table {table}");
    let select: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("COALESCE(CAST({c} AS TEXT), 'NULL') AS c{i}"))
        .collect();
    let rows = db
        .fetch_all(q(format!("SELECT {} FROM {table}", select.join(", "))))
        .await
        .unwrap_or_else(|e| panic!("rows of {table}: {e}"));
    let mut out: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| {
                    let v = r.get::<String>(&format!("c{i}")).expect("text column");
                    format!("{}={v}", columns[i])
                })
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// Runs `f` (a request that must be refused) and checks that it wrote nothing: every row of
/// every table of `tables` reads the same before and after. Answers what `f` answered.
pub async fn unchanged<T, Fut>(app: &TestApp, tables: &[&str], f: impl FnOnce() -> Fut) -> T
where
    Fut: std::future::Future<Output = T>,
{
    let mut before = Vec::new();
    for t in tables {
        before.push(snapshot(&app.state.db, t).await);
    }
    let out = f().await;
    for (t, was) in tables.iter().zip(before) {
        let now = snapshot(&app.state.db, t).await;
        if now != was {
            let gone: Vec<&Vec<String>> = was.iter().filter(|r| !now.contains(r)).collect();
            let new: Vec<&Vec<String>> = now.iter().filter(|r| !was.contains(r)).collect();
            panic!("a refused request wrote to {t}:\n  rows gone or changed: {gone:?}\n  rows new or changed: {new:?}");
        }
    }
    out
}

impl TestApp {
    /// Runs an operation that must be refused with `code` and write nothing (no table of
    /// [`EVERY_TABLE`] changes); answers the first error.
    pub async fn refused(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        code: &str,
    ) -> Value {
        let (got, e) = unchanged(self, EVERY_TABLE, || self.err(token, query, variables)).await;
        assert_eq!(got, code, "{query}: {e}");
        e
    }
}

/// Builds worlds through the API as the administrator, the way an operator would.
impl TestApp {
    pub async fn project(
        &self,
        admin: &str,
        name: &str,
        parent: Option<&str>,
        extra: Value,
    ) -> String {
        let mut input = json!({ "name": name, "parentId": parent });
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                i.insert(k.clone(), v.clone());
            }
        }
        let data = self
            .ok(
                admin,
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        data["createProject"]["id"].as_str().unwrap().to_string()
    }

    /// Makes `user` a member of `project` with the profile named `profile`.
    pub async fn member(&self, admin: &str, project: &str, user: &str, profile: &str) -> String {
        let profile_id = self.profile_id(admin, profile).await;
        let data = self
            .ok(
                admin,
                "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }",
                json!({ "i": { "projectId": project, "userId": user, "profileId": profile_id } }),
            )
            .await;
        data["addProjectMember"]["id"].as_str().unwrap().to_string()
    }

    pub async fn new_profile(&self, admin: &str, name: &str, rights: &[&str]) -> String {
        let data = self
            .ok(
                admin,
                "mutation($n: String!, $r: [Right!]!) { createProfile(input: {name: $n, rights: $r}) { id } }",
                json!({ "n": name, "r": rights }),
            )
            .await;
        data["createProfile"]["id"].as_str().unwrap().to_string()
    }

    pub async fn task(&self, token: &str, project: &str, name: &str, extra: Value) -> String {
        let mut input = json!({ "projectId": project, "name": name });
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                i.insert(k.clone(), v.clone());
            }
        }
        let data = self
            .ok(
                token,
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        data["createTask"]["id"].as_str().unwrap().to_string()
    }

    pub async fn log(&self, token: &str, task: &str, date: &str, hours: f64) -> String {
        let data = self
            .ok(
                token,
                "mutation($i: LogTimeInput!) { logTime(input: $i) { id } }",
                json!({ "i": { "taskId": task, "date": date, "hours": hours } }),
            )
            .await;
        data["logTime"]["id"].as_str().unwrap().to_string()
    }

    /// A user with a default profile, signed in: (id, token).
    pub async fn person(&self, admin: &str, email: &str, profile: &str) -> (String, String) {
        let id = self.user(admin, email, profile).await;
        let token = self.login(email, PASSWORD).await;
        (id, token)
    }

    /// Names of the projects a token sees, sorted.
    pub async fn sees(&self, token: &str) -> Vec<String> {
        let data = self
            .ok(
                token,
                "{ projects(first: 500) { nodes { name } } }",
                json!({}),
            )
            .await;
        let mut names: Vec<String> = data["projects"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

/// The `extensions.redacted` entry for a field, if any.
pub fn redacted(body: &Value, field: &str) -> Option<Value> {
    body["extensions"]["redacted"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["field"] == field).cloned())
}
