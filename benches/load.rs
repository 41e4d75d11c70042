//! The load benchmark of the performance issue: seeds the `medium` world, starts the real
//! server (a separate process, so its memory can be read), and runs Q1, Q2 and Q3 at
//! concurrency 1 and 32, each for a fixed time, on SQLite and on PostgreSQL; then Q3 again
//! while 50 logins arrive at once. Prints requests/s, p50 and p99 latency and the server's
//! peak resident memory.
//!
//! Run: `cargo bench --bench load`. Environment:
//! - PORTICO_BENCH_BACKENDS: `sqlite,postgres` (default both)
//! - PORTICO_BENCH_POSTGRES: server URL (default postgres://postgres@127.0.0.1:5432/test)
//! - PORTICO_BENCH_SCALE: small, medium (default) or large
//! - PORTICO_BENCH_SECONDS: length of each run (default 10)
//! - PORTICO_BENCH_QUERIES: `Q1,Q2,Q3` (default all; the login burst runs with Q3)
//! - PORTICO_BENCH_SERVER: the server binary to run (default this build's `portico`), to
//!   compare two builds on the same seeded worlds
//!
//! The seeded SQLite world is kept in target/bench-data and reused while the binary's
//! seed stays the same; PostgreSQL gets a fresh `portico_bench_<scale>` database once and
//! reuses it likewise.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PASSWORD: &str = "portico-seed";

struct Seeded {
    manager: String,
    q2_manager: String,
    q2_project: String,
    q2_month: String,
    customer: String,
}

fn bin() -> String {
    std::env::var("PORTICO_BENCH_SERVER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_portico").into())
}

fn run(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run portico");
    assert!(
        out.status.success(),
        "portico {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Seeds (or reuses) the world; answers the benchmark users from the seed report.
fn seed(url: &str, scale: &str, report_path: &std::path::Path) -> Seeded {
    let report = match std::fs::read_to_string(report_path) {
        Ok(r) => r,
        Err(_) => {
            eprintln!("seeding {scale} at {url} (once; later runs reuse it)...");
            let started = Instant::now();
            let r = run(&[
                "seed",
                "--scale",
                scale,
                "--database-url",
                url,
                "--password",
                PASSWORD,
            ]);
            eprintln!("seeded in {:.0} s", started.elapsed().as_secs_f64());
            std::fs::write(report_path, &r).expect("write seed report");
            r
        }
    };
    let field = |prefix: &str| -> String {
        report
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("seed report lacks {prefix}: {report}"))
            .trim()
            .to_string()
    };
    let q1 = field("Q1 manager: ");
    let q2 = field("Q2 manager: ");
    // "manager192@seed.example on project id 606 in month 2026-07-01 (1621 entries)"
    let words: Vec<&str> = q2.split_whitespace().collect();
    Seeded {
        manager: q1.split_whitespace().next().unwrap_or_default().to_string(),
        q2_manager: words[0].to_string(),
        q2_project: field("Q2 project global id: "),
        q2_month: words[7].to_string(),
        customer: field("Q3 customer: "),
    }
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(db: &str, port: u16) -> Server {
        let child = Command::new(bin())
            .args([
                "serve",
                "--database-url",
                db,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start server");
        Server {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
        }
    }

    /// CPU time the server process has used so far.
    fn cpu(&self) -> Duration {
        cpu_of(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Peak and current resident memory of the server process, in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmHWM:") / 1024.0, kib("VmRSS:") / 1024.0)
    }
}

/// User and system CPU time of a process, from its /proc stat file.
fn cpu_of(stat: &str) -> Duration {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15, in clock ticks of 1/100 s on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut req = client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    resp.json().await.expect("json")
}

async fn login(client: &reqwest::Client, url: &str, email: &str) -> String {
    let v = post(
        client,
        url,
        None,
        &json!({ "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }", "variables": { "e": email, "p": PASSWORD } }),
    )
    .await;
    v["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login {email}: {v}"))
        .to_string()
}

const Q1: &str = "{ projects(first: 100) { nodes { name
    tasks(first: 50) { nodes { name plannedWork realWork plannedCost } }
    children(first: 20) { nodes { name
        tasks(first: 50) { nodes { name plannedWork realWork plannedCost } }
        children(first: 20) { nodes { name
            tasks(first: 50) { nodes { name plannedWork realWork plannedCost } } } } } } } } }";

const Q2: &str = "query($p: ID, $from: Date, $to: Date) { timeEntries(first: 500, filter: {projectId: $p, from: $from, to: $to}) {
    nodes { date hours cost user { name } task { name } } } }";

const Q3: &str = "{ projects(first: 100) { nodes { name
    invoices(first: 50) { nodes { number total status periodStart } }
    documents(first: 50) { nodes { title visibility folder } } } } }";

struct Stats {
    requests: usize,
    errors: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `body` from `concurrency` loops for `seconds`.
async fn load(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
    concurrency: usize,
    seconds: u64,
) -> Stats {
    let body = Arc::new(body);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token, body) = (
            client.clone(),
            url.to_string(),
            token.to_string(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            // The body is read whole but not parsed: parsing 180 KB answers would take the
            // CPU the server needs (the load generator shares the machine).
            let payload = serde_json::to_vec(&*body).expect("body");
            while Instant::now() < deadline {
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(payload.clone())
                    .send()
                    .await
                    .expect("request");
                let ok = resp.status().is_success();
                let text = resp.bytes().await.expect("body");
                lat.push(t.elapsed());
                if !ok || text.windows(9).any(|w| w == b"\"errors\":") {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("load task");
        all.extend(lat);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        requests: all.len(),
        errors,
        seconds,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

/// CPU time used by the server and by this load generator during a run.
struct Cpu {
    server: Duration,
    client: Duration,
}

fn print(backend: &str, name: &str, c: usize, s: &Stats, cpu: &Cpu) {
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / s.requests.max(1) as f64;
    println!(
        "{backend:<9} {name:<14} c={c:<3} {:>8.1} req/s   p50 {:>7.1} ms   p99 {:>7.1} ms   ({} requests, {} with errors; CPU per request: server {:.1} ms, load generator {:.1} ms)",
        s.requests as f64 / s.seconds,
        s.p50.as_secs_f64() * 1000.0,
        s.p99.as_secs_f64() * 1000.0,
        s.requests,
        s.errors,
        per(cpu.server),
        per(cpu.client),
    );
}

/// Runs `f`, measuring the CPU time the server and this process use meanwhile.
async fn measured<T>(server: &Server, f: impl std::future::Future<Output = T>) -> (T, Cpu) {
    let (s0, c0) = (server.cpu(), cpu_of("/proc/self/stat"));
    let out = f.await;
    let cpu = Cpu {
        server: server.cpu().saturating_sub(s0),
        client: cpu_of("/proc/self/stat").saturating_sub(c0),
    };
    (out, cpu)
}

async fn bench(backend: &str, db_url: &str, seeded: &Seeded, port: u16, seconds: u64) {
    let server = Server::start(db_url, port);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = server.url.clone();
    let t1 = login(&client, &url, &seeded.manager).await;
    let t2 = login(&client, &url, &seeded.q2_manager).await;
    let t3 = login(&client, &url, &seeded.customer).await;
    let month = chrono::NaiveDate::parse_from_str(&seeded.q2_month, "%Y-%m-%d").expect("month");
    let month_end = month + chrono::Months::new(1) - chrono::Days::new(1);
    let q1 = json!({ "query": Q1 });
    let q2 = json!({ "query": Q2, "variables": { "p": seeded.q2_project, "from": month.to_string(), "to": month_end.to_string() } });
    let q3 = json!({ "query": Q3 });
    // Sanity: the answers are what the benchmark claims to measure.
    let a1 = post(&client, &url, Some(&t1), &q1).await;
    let a2 = post(&client, &url, Some(&t2), &q2).await;
    let a3 = post(&client, &url, Some(&t3), &q3).await;
    println!(
        "{backend}: Q1 {} projects, Q2 {} entries, Q3 {} projects; response sizes {} / {} / {} bytes",
        a1["data"]["projects"]["nodes"].as_array().map_or(0, Vec::len),
        a2["data"]["timeEntries"]["nodes"].as_array().map_or(0, Vec::len),
        a3["data"]["projects"]["nodes"].as_array().map_or(0, Vec::len),
        a1.to_string().len(),
        a2.to_string().len(),
        a3.to_string().len()
    );
    // PORTICO_BENCH_QUERIES=Q1,Q3 runs only those (and the login burst only with Q3).
    let only = std::env::var("PORTICO_BENCH_QUERIES").unwrap_or_else(|_| "Q1,Q2,Q3".into());
    let wanted = |name: &str| only.split(',').any(|q| name.starts_with(q.trim()));
    for (name, token, body) in [
        ("Q1 manager", &t1, &q1),
        ("Q2 entries", &t2, &q2),
        ("Q3 customer", &t3, &q3),
    ] {
        if !wanted(name) {
            continue;
        }
        for c in [1, 32] {
            let (s, cpu) = measured(
                &server,
                load(&client, &url, token, body.clone(), c, seconds),
            )
            .await;
            print(backend, name, c, &s, &cpu);
        }
    }
    if wanted("Q3") {
        // Q3 while a burst of 50 logins arrives.
        let burst = {
            let (client, url, email) = (client.clone(), url.clone(), seeded.customer.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let started = Instant::now();
                let logins = (0..50).map(|_| {
                    let (client, url, email) = (client.clone(), url.clone(), email.clone());
                    async move { login(&client, &url, &email).await }
                });
                futures_util::future::join_all(logins).await;
                started.elapsed()
            })
        };
        let (s, cpu) = measured(&server, load(&client, &url, &t3, q3.clone(), 32, seconds)).await;
        let burst_time = burst.await.expect("burst");
        print(backend, "Q3 + 50 logins", 32, &s, &cpu);
        println!(
            "{backend}: the 50 logins took {:.2} s in all",
            burst_time.as_secs_f64()
        );
    }
    let (peak, now) = server.memory();
    println!("{backend}: server peak resident memory {peak:.1} MiB (now {now:.1} MiB)");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: run only when asked.
    let backends =
        std::env::var("PORTICO_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let scale = std::env::var("PORTICO_BENCH_SCALE").unwrap_or_else(|_| "medium".into());
    let seconds: u64 = std::env::var("PORTICO_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let pg = std::env::var("PORTICO_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data");
    std::fs::create_dir_all(&data).expect("bench data folder");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for backend in backends.split(',').map(str::trim) {
            match backend {
                "sqlite" => {
                    let file = data.join(format!("{scale}.db"));
                    let url = format!("sqlite://{}", file.display());
                    let report = data.join(format!("{scale}.sqlite.seed.txt"));
                    if !report.exists() {
                        for suffix in ["", "-wal", "-shm"] {
                            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                        }
                    }
                    let seeded = seed(&url, &scale, &report);
                    bench("sqlite", &url, &seeded, 18181, seconds).await;
                }
                "postgres" => {
                    let name = format!("portico_bench_{scale}");
                    let report = data.join(format!("{scale}.postgres.seed.txt"));
                    let admin = portico::db::Db::connect(&pg).await.expect("PostgreSQL");
                    let exists = admin
                        .fetch_optional(
                            portico::db::q("SELECT 1 AS one FROM pg_database WHERE datname = $1")
                                .bind(name.clone()),
                        )
                        .await
                        .expect("pg_database")
                        .is_some();
                    if !exists || !report.exists() {
                        let _ = std::fs::remove_file(&report);
                        admin
                            .execute(portico::db::q(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await
                            .expect("drop");
                        admin
                            .execute(portico::db::q(format!("CREATE DATABASE {name}")))
                            .await
                            .expect("create");
                    }
                    let base = pg
                        .rsplit_once('/')
                        .map(|(b, _)| b.to_string())
                        .unwrap_or(pg.clone());
                    let url = format!("{base}/{name}");
                    let seeded = seed(&url, &scale, &report);
                    bench("postgres", &url, &seeded, 18182, seconds).await;
                }
                other => eprintln!("unknown backend {other}"),
            }
        }
    });
}
