//! `portico seed`: a deterministic synthetic world for benchmarks.
//!
//! The same `--scale` and `--seed` always give the same rows (ids included, on an empty
//! database). `medium`: 50 customers; 2,000 projects in three levels (200 roots, 600
//! children, 1,200 grandchildren); 200 users, 10% external customer users who are members
//! of all root projects of their customer with the Customer profile, the others internal
//! managers, members or contractors, each a direct member of 10 to 30 random projects;
//! 40,000 tasks spread log-normally over projects; 400,000 time entries over six months,
//! each by a user who can see the project, cost = hours x rate; 10,000 documents, 40%
//! INTERNAL; 2,000 invoices. `small` is a tenth of that, `large` five times.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{Duration, NaiveDate, Utc};

use crate::authz::{Right, RightSet};
use crate::db::org;
use crate::db::{q, Arg, Db, Tx};
use crate::error::{Error, Result};

/// A small deterministic generator (SplitMix64): the seed fixes the world.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi].
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as i64 - 1) as usize]
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    Small,
    Medium,
    Large,
}

impl Scale {
    fn factor(self) -> f64 {
        match self {
            Scale::Small => 0.1,
            Scale::Medium => 1.0,
            Scale::Large => 5.0,
        }
    }
}

fn n(base: usize, f: f64) -> usize {
    ((base as f64) * f).round().max(1.0) as usize
}

/// Inserts many rows with multi-row INSERTs.
async fn insert_rows(tx: &mut Tx, table: &str, cols: &[&str], rows: Vec<Vec<Arg>>) -> Result<()> {
    let per = (3000 / cols.len()).max(1);
    for chunk in rows.chunks(per) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut i = 0;
        for (r, row) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..row.len() {
                i += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "${i}");
            }
            sql.push(')');
        }
        let mut query = q(sql);
        for row in chunk {
            for a in row {
                query = query.bind(a.clone());
            }
        }
        tx.execute(query).await?;
    }
    Ok(())
}

/// What `seed` made, for the benchmark.
pub struct Seeded {
    pub summary: String,
    /// A manager with about 80 visible projects (Q1).
    pub manager_email: String,
    /// A manager, and the project and month with the most entries they see (Q2).
    pub q2_email: String,
    pub q2_project_id: i64,
    pub q2_month: NaiveDate,
    /// A customer user (Q3).
    pub customer_email: String,
}

/// Fills an empty database. Refuses a database that already has projects.
pub async fn seed(
    db: &Db,
    hasher: &crate::auth::password::Hasher,
    scale: Scale,
    seed: u64,
    password: &str,
) -> Result<Seeded> {
    let any: i64 = db
        .fetch_one(q("SELECT COUNT(*) AS n FROM project"))
        .await?
        .get("n")?;
    if any > 0 {
        return Err(Error::conflict(
            "the database already has projects: seed an empty database",
        ));
    }
    let f = scale.factor();
    let mut rng = Rng::new(seed);
    let now = Utc::now();
    let hash = hasher.hash(password.to_string()).await?;
    let mut tx = db.begin().await?;

    // Profiles: the seeded ones, plus a contractor who logs time and sees nothing else.
    let contractor_rights: RightSet = [Right::LogTime].into_iter().collect();
    org::create_profile(&mut tx, "Contractor", contractor_rights).await?;
    let mut profiles = HashMap::new();
    for row in tx
        .fetch_all(q("SELECT profile_id, name FROM profile"))
        .await?
    {
        profiles.insert(row.get::<String>("name")?, row.get::<i64>("profile_id")?);
    }
    let pid = |name: &str| {
        profiles
            .get(name)
            .copied()
            .ok_or_else(|| Error::conflict(format!("profile {name} missing")))
    };
    let (manager_p, member_p, contractor_p, customer_p) = (
        pid("Project manager")?,
        pid("Full member")?,
        pid("Contractor")?,
        pid("Customer")?,
    );

    // Customers.
    let customers = n(50, f);
    insert_rows(
        &mut tx,
        "customer",
        &["customer_id", "name", "created_at"],
        (1..=customers as i64)
            .map(|i| vec![i.into(), format!("Customer {i:03}").into(), now.into()])
            .collect(),
    )
    .await?;

    // Projects: roots, then three children each, then two grandchildren each.
    let (roots, children, grand) = (n(200, f), n(600, f), n(1200, f));
    let mut project_rows = Vec::new();
    let mut parent_of: Vec<Option<i64>> = vec![None];
    let mut customer_of: Vec<i64> = vec![0];
    let mut id = 0i64;
    for level in 0..3 {
        let count = [roots, children, grand][level];
        for k in 0..count {
            id += 1;
            let (parent, customer) = match level {
                0 => (None, rng.range(1, customers as i64)),
                1 => {
                    let p = (k % roots) as i64 + 1;
                    (Some(p), customer_of[p as usize])
                }
                _ => {
                    let p = (roots + k % children) as i64 + 1;
                    (Some(p), customer_of[p as usize])
                }
            };
            parent_of.push(parent);
            customer_of.push(customer);
            // All open: every member can then see (and log on) the projects below them.
            let status = "OPEN";
            project_rows.push(vec![
                id.into(),
                format!("Project {id:05}").into(),
                format!("P-{id:05}").into(),
                status.into(),
                customer.into(),
                parent.into(),
                true.into(),
                (rng.range(10, 500) * 100_000).into(),
                now.into(),
                now.into(),
            ]);
        }
    }
    let projects = id;
    insert_rows(
        &mut tx,
        "project",
        &[
            "project_id",
            "name",
            "code",
            "status",
            "customer_id",
            "parent_id",
            "inherit_members",
            "budget",
            "created_at",
            "updated_at",
        ],
        project_rows,
    )
    .await?;

    // Users: 10% external customer users, the rest managers, members and contractors.
    let users = n(200, f);
    let externals = (users / 10).max(1);
    let mut user_rows = Vec::new();
    let mut kinds = Vec::new(); // (user id, profile used in memberships, cost rate)
    for u in 1..=users as i64 {
        let external = u as usize <= externals;
        let (email, default_profile, member_profile) = if external {
            (
                format!("customer{u:03}@seed.example"),
                customer_p,
                customer_p,
            )
        } else {
            let roll = u % 10;
            let p = if roll < 3 {
                manager_p
            } else if roll < 8 {
                member_p
            } else {
                contractor_p
            };
            let label = if p == manager_p {
                "manager"
            } else if p == member_p {
                "member"
            } else {
                "contractor"
            };
            (format!("{label}{u:03}@seed.example"), member_p, p)
        };
        let rate = if external {
            0
        } else {
            rng.range(40, 120) * 100
        };
        kinds.push((u, member_profile, rate, external, email.clone()));
        user_rows.push(vec![
            u.into(),
            email.into(),
            format!("Seed user {u:03}").into(),
            (if external { "EXTERNAL" } else { "INTERNAL" }).into(),
            (if external {
                Some(rng.range(1, customers as i64))
            } else {
                None
            })
            .into(),
            default_profile.into(),
            rate.into(),
            (rate * 2).into(),
            hash.clone().into(),
            true.into(),
            now.into(),
        ]);
    }
    insert_rows(
        &mut tx,
        "app_user",
        &[
            "user_id",
            "email",
            "name",
            "kind",
            "customer_id",
            "profile_id",
            "cost_rate",
            "billing_rate",
            "password_hash",
            "active",
            "created_at",
        ],
        user_rows,
    )
    .await?;
    let external_customer: HashMap<i64, i64> = tx
        .fetch_all(q(
            "SELECT user_id, customer_id FROM app_user WHERE customer_id IS NOT NULL",
        ))
        .await?
        .iter()
        .map(|r| Ok((r.get("user_id")?, r.get("customer_id")?)))
        .collect::<Result<_>>()?;

    // Memberships.
    let mut member_rows = Vec::new();
    let mut direct: Vec<(i64, i64, i64)> = Vec::new(); // (user, project, profile)
    for (u, profile, _, external, _) in &kinds {
        if *external {
            let c = external_customer.get(u).copied().unwrap_or(0);
            for p in 1..=roots as i64 {
                if customer_of[p as usize] == c {
                    direct.push((*u, p, *profile));
                }
            }
        } else {
            let count = rng.range(10, 30);
            let mut chosen = std::collections::BTreeSet::new();
            while (chosen.len() as i64) < count {
                chosen.insert(rng.range(1, projects));
            }
            for p in chosen {
                direct.push((*u, p, *profile));
            }
        }
    }
    for (i, (u, p, profile)) in direct.iter().enumerate() {
        member_rows.push(vec![
            (i as i64 + 1).into(),
            (*p).into(),
            Some(*u).into(),
            (*profile).into(),
            now.into(),
        ]);
    }
    insert_rows(
        &mut tx,
        "membership",
        &[
            "membership_id",
            "project_id",
            "user_id",
            "profile_id",
            "created_at",
        ],
        member_rows,
    )
    .await?;

    // Who can see (and log on) each project: members of it or of an ancestor.
    let mut children_of: Vec<Vec<i64>> = vec![Vec::new(); projects as usize + 1];
    for (child, parent) in parent_of.iter().enumerate() {
        if let Some(p) = parent {
            children_of[*p as usize].push(child as i64);
        }
    }
    let mut loggers: Vec<Vec<i64>> = vec![Vec::new(); projects as usize + 1];
    for (u, p, profile) in &direct {
        if *profile == customer_p {
            continue;
        }
        let mut stack = vec![*p];
        while let Some(x) = stack.pop() {
            loggers[x as usize].push(*u);
            stack.extend(children_of[x as usize].iter().copied());
        }
    }
    for l in &mut loggers {
        l.sort_unstable();
        l.dedup();
    }

    // Tasks, spread log-normally.
    let tasks = n(40_000, f);
    let weights: Vec<f64> = (0..=projects)
        .map(|i| {
            if i == 0 {
                0.0
            } else {
                (1.5 * rng.normal()).exp()
            }
        })
        .collect();
    let total_w: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total_w;
        cumulative.push(acc);
    }
    let mut task_project = vec![0i64];
    let mut task_rows = Vec::new();
    for t in 1..=tasks as i64 {
        let x = rng.unit();
        let p = cumulative
            .partition_point(|c| *c < x)
            .clamp(1, projects as usize) as i64;
        task_project.push(p);
        let planned = rng.range(4, 200) * 100;
        task_rows.push(vec![
            t.into(),
            p.into(),
            format!("Task {t:06}").into(),
            "IN_PROGRESS".into(),
            planned.into(),
            planned.into(),
            (planned / 2).into(),
            (planned * 60).into(),
            (planned * 65).into(),
            now.into(),
            now.into(),
        ]);
    }
    insert_rows(
        &mut tx,
        "task",
        &[
            "task_id",
            "project_id",
            "name",
            "status",
            "validated_work",
            "planned_work",
            "left_work",
            "validated_cost",
            "planned_cost",
            "created_at",
            "updated_at",
        ],
        task_rows,
    )
    .await?;

    // Time entries over the last six months.
    let entries = n(400_000, f);
    let start = now.date_naive() - Duration::days(182);
    let rates: HashMap<i64, i64> = kinds.iter().map(|(u, _, r, _, _)| (*u, *r)).collect();
    let mut day_hours: HashMap<(i64, NaiveDate), i64> = HashMap::new();
    let mut entry_rows = Vec::with_capacity(entries);
    let mut made = 0i64;
    let mut month_count: HashMap<(i64, NaiveDate), i64> = HashMap::new();
    let mut attempts = 0usize;
    while (made as usize) < entries && attempts < entries * 4 {
        attempts += 1;
        let t = rng.range(1, tasks as i64);
        let p = task_project[t as usize];
        if loggers[p as usize].is_empty() {
            continue;
        }
        let u = *rng.pick(&loggers[p as usize]);
        let date = start + Duration::days(rng.range(0, 181));
        let hours = rng.range(1, 8) * 25;
        let day = day_hours.entry((u, date)).or_insert(0);
        if *day + hours > 2400 {
            continue;
        }
        *day += hours;
        made += 1;
        let month = NaiveDate::from_ymd_opt(
            chrono::Datelike::year(&date),
            chrono::Datelike::month(&date),
            1,
        )
        .unwrap_or(date);
        *month_count.entry((p, month)).or_insert(0) += 1;
        let status = if rng.unit() < 0.6 {
            "APPROVED"
        } else {
            "SUBMITTED"
        };
        entry_rows.push(vec![
            made.into(),
            u.into(),
            t.into(),
            p.into(),
            date.into(),
            hours.into(),
            crate::db::invoices::amount(hours, rates[&u]).into(),
            (rng.unit() < 0.8).into(),
            status.into(),
            now.into(),
            now.into(),
        ]);
    }
    insert_rows(
        &mut tx,
        "time_entry",
        &[
            "time_entry_id",
            "user_id",
            "task_id",
            "project_id",
            "entry_date",
            "hours",
            "cost",
            "billable",
            "status",
            "created_at",
            "updated_at",
        ],
        entry_rows,
    )
    .await?;

    // Documents, 40% internal.
    let documents = n(10_000, f);
    let doc_rows = (1..=documents as i64)
        .map(|d| {
            let p = rng.range(1, projects);
            let internal = rng.unit() < 0.4;
            vec![
                d.into(),
                p.into(),
                (if rng.unit() < 0.3 { "Contracts" } else { "" }).into(),
                format!("Document {d:05}").into(),
                (if internal { "INTERNAL" } else { "SHARED" }).into(),
                format!("Content of document {d}").into(),
                now.into(),
                now.into(),
            ]
        })
        .collect();
    insert_rows(
        &mut tx,
        "document",
        &[
            "document_id",
            "project_id",
            "folder",
            "title",
            "visibility",
            "content",
            "created_at",
            "updated_at",
        ],
        doc_rows,
    )
    .await?;

    // Invoices on root projects, with one line each.
    let invoices = n(2_000, f);
    let mut inv_rows = Vec::new();
    let mut line_rows = Vec::new();
    for i in 1..=invoices as i64 {
        let p = rng.range(1, roots as i64);
        let month = start + Duration::days(30 * rng.range(0, 5));
        let hours = rng.range(10, 200) * 100;
        let rate = rng.range(80, 200) * 100;
        let amount = crate::db::invoices::amount(hours, rate);
        inv_rows.push(vec![
            i.into(),
            format!("INV-S-{i:05}").into(),
            customer_of[p as usize].into(),
            p.into(),
            month.into(),
            (month + Duration::days(29)).into(),
            (if rng.unit() < 0.7 { "ISSUED" } else { "DRAFT" }).into(),
            amount.into(),
            now.into(),
        ]);
        line_rows.push(vec![
            i.into(),
            format!("Services, invoice {i}").into(),
            hours.into(),
            rate.into(),
            amount.into(),
        ]);
    }
    insert_rows(
        &mut tx,
        "invoice",
        &[
            "invoice_id",
            "number",
            "customer_id",
            "project_id",
            "period_start",
            "period_end",
            "status",
            "total",
            "created_at",
        ],
        inv_rows,
    )
    .await?;
    insert_rows(
        &mut tx,
        "invoice_line",
        &["invoice_id", "description", "hours", "rate", "amount"],
        line_rows,
    )
    .await?;

    if tx.backend() == crate::db::Backend::Postgres {
        // Explicit ids were inserted: move the identity sequences past them.
        for (table, key) in [
            ("customer", "customer_id"),
            ("project", "project_id"),
            ("app_user", "user_id"),
            ("membership", "membership_id"),
            ("task", "task_id"),
            ("time_entry", "time_entry_id"),
            ("document", "document_id"),
            ("invoice", "invoice_id"),
        ] {
            tx.execute(q(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{key}'), (SELECT MAX({key}) FROM {table}))"
            )))
            .await?;
        }
    }
    tx.commit().await?;
    if let crate::db::Pool::Postgres(p) = &db.pool {
        // Every entry inserted updated its task's totals: compact the task table, then
        // refresh the planner's statistics everywhere.
        sqlx::query("VACUUM FULL task").execute(p).await?;
        sqlx::query("VACUUM ANALYZE").execute(p).await?;
    } else {
        db.execute(q("ANALYZE")).await?;
        // Move the seeded pages from the write-ahead log into the database file, so the
        // file is whole on its own (`medium` left an 87 MB log beside it).
        db.fetch_all(q("PRAGMA wal_checkpoint(TRUNCATE)")).await?;
    }

    // Benchmark users: the manager whose visible projects are closest to 80.
    let mut visible: HashMap<i64, usize> = HashMap::new();
    let mut best_q2: Option<(i64, i64, NaiveDate, i64)> = None;
    for (u, profile, _, external, _) in &kinds {
        if *external || *profile != manager_p {
            continue;
        }
        let count = loggers
            .iter()
            .filter(|l| l.binary_search(u).is_ok())
            .count();
        visible.insert(*u, count);
    }
    let manager = visible
        .iter()
        .min_by_key(|(u, c)| ((**c as i64 - 80).abs(), **u))
        .map(|(u, _)| *u)
        .ok_or_else(|| Error::conflict("no manager was seeded"))?;
    for ((p, month), count) in &month_count {
        for u in loggers[*p as usize]
            .iter()
            .filter(|u| visible.contains_key(u))
        {
            if best_q2.is_none_or(|(_, _, _, c)| {
                *count > c || (*count == c && *p < best_q2.map(|b| b.1).unwrap_or(0))
            }) {
                best_q2 = Some((*u, *p, *month, *count));
            }
        }
    }
    let (q2_user, q2_project, q2_month, q2_count) =
        best_q2.ok_or_else(|| Error::conflict("no entries were seeded"))?;
    let customer = kinds.iter().find(|k| k.3).map(|k| k.0).unwrap_or(1);
    let email = |u: i64| {
        kinds
            .iter()
            .find(|k| k.0 == u)
            .map(|k| k.4.clone())
            .unwrap_or_default()
    };
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "seeded {:?} (seed {seed}): {customers} customers, {projects} projects, {users} users, {tasks} tasks, {made} time entries, {documents} documents, {invoices} invoices",
        scale
    );
    let _ = writeln!(summary, "every seeded user's password: {password}");
    let _ = writeln!(
        summary,
        "Q1 manager: {} ({} visible projects)",
        email(manager),
        visible[&manager]
    );
    let _ = writeln!(
        summary,
        "Q2 manager: {} on project id {q2_project} in month {q2_month} ({q2_count} entries)",
        email(q2_user)
    );
    let _ = writeln!(summary, "Q3 customer: {}", email(customer));
    Ok(Seeded {
        summary,
        manager_email: email(manager),
        q2_email: email(q2_user),
        q2_project_id: q2_project,
        q2_month,
        customer_email: email(customer),
    })
}
