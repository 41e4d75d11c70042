//! Property test: the server against a plain, independent reference model of
//! `design/authorization.md`, over random worlds.
//!
//! Each world (departments, profiles, internal and EXTERNAL users, groups, a project forest
//! with per-project `externalRights`, the global ceiling for external users, memberships,
//! tasks with assignees, time entries, documents and folder rules, API keys, and "view as"
//! pairs) is written straight into the database, every user gets a session row, and every
//! request's view over HTTP is compared with the model: visible projects (list,
//! `project(id:)`, `node(id:)`), `viewerRights`, `explainAccess { rights removedByCeiling }`,
//! the guarded figures of projects and tasks, time entries with their `hours` and `cost`,
//! documents, the `users` list, the user references `Task.assignee` and `TimeEntry.user`,
//! `viewer { globalRights }`, `totalCount`s and `extensions.redacted`. The requests are every
//! user's session, every API key (narrowed to projects or not), and "view as" through a
//! session or a key (accepted, or refused with FORBIDDEN).
//!
//! Every request runs twice: once with plain selections, which the server's synchronous pass
//! answers, and once with each list's selection behind a fragment carrying
//! `@include(if: $v)`, which that pass refuses, so the resolvers answer; both are compared
//! with the model and with each other.
//!
//! The model below is written from the design page alone; it calls nothing in
//! `portico::authz`. When it and the server disagree, proptest shrinks the world and the
//! failure prints the smallest one found. Each run draws a fresh seed, printed at the start
//! and on failure; `AUTHZ_MODEL_SEED=<seed>` replays a run. `AUTHZ_MODEL_IGNORE=cat1,cat2`
//! skips categories of disagreement (to look past a known one): the bracketed names of the
//! failure message, such as `visible`, `viewerRights`, `project-figure`, `users`,
//! `reference`, `redacted`, `globalRights`, `explain`, `removedByCeiling`, `view-as`,
//! `paths`; `explain-view-as-key` is `explainAccess` under "view as" through a key,
//! `redacted-unselected` an `extensions.redacted` entry for a field the query did not
//! select, and `external-admin` every disagreement about a request carrying the rights of an
//! external user whose ceiling lets ADMIN through. `AUTHZ_MODEL_CASES` changes the number
//! of worlds. A run of the default number of worlds must meet every case of [`KINDS`] at
//! least its minimum number of times.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDate, Utc};
use portico::db::{q, Db};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{json, Value};

use crate::common::{base_url, spawn_empty, TestApp};

// ---------------------------------------------------------------------------------------
// Rights, as in the Right enum of schema.graphql.
// ---------------------------------------------------------------------------------------

const RIGHTS: [&str; 23] = [
    "ADMIN",
    "VIEW_ALL_PROJECTS",
    "EDIT_ALL_PROJECTS",
    "VIEW_DEPARTMENT_PROJECTS",
    "EDIT_DEPARTMENT_PROJECTS",
    "VIEW_PROJECT_HISTORY",
    "CREATE_PROJECTS",
    "IMPERSONATE",
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

/// The first eight rights are global, the others project rights.
fn project_rights() -> &'static [&'static str] {
    &RIGHTS[8..]
}

fn is_project_right(r: &str) -> bool {
    project_rights().contains(&r)
}

/// The read rights that step 3 adds from the default profile.
const READ_RIGHTS: [&str; 7] = [
    "SEE_VALIDATED_WORK",
    "SEE_WORK",
    "SEE_VALIDATED_COST",
    "SEE_COST",
    "VIEW_TIMESHEETS",
    "VIEW_INTERNAL_DOCUMENTS",
    "VIEW_INVOICES",
];

/// The global ceiling's default ("Ceiling for external users"), which the migration seeds.
const DEFAULT_CEILING: [&str; 13] = [
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

/// The seeded profiles the worlds use besides their own ("Profiles and rights"), found in
/// the database by name; their rights are the page's.
const SEEDED: [&str; 3] = ["Administrator", "Senior manager", "Project manager"];

fn seeded_rights(name: &str) -> BTreeSet<&'static str> {
    match name {
        "Administrator" => ["ADMIN"].into_iter().collect(),
        "Senior manager" => [
            "VIEW_ALL_PROJECTS",
            "VIEW_PROJECT_HISTORY",
            "SEE_WORK",
            "SEE_COST",
            "VIEW_TIMESHEETS",
            "VIEW_INTERNAL_DOCUMENTS",
            "VIEW_INVOICES",
        ]
        .into_iter()
        .collect(),
        // Project manager: all project rights.
        _ => project_rights().iter().copied().collect(),
    }
}

/// How often a random profile grants a right: ADMIN is rare, and MANAGE_DOCUMENTS (which
/// passes every folder rule) less common than the other project rights.
fn right_weight(r: &str) -> f64 {
    match r {
        "ADMIN" => 0.05,
        "VIEW_ALL_PROJECTS" | "EDIT_ALL_PROJECTS" | "EDIT_DEPARTMENT_PROJECTS" => 0.12,
        "VIEW_DEPARTMENT_PROJECTS" => 0.25,
        "VIEW_PROJECT_HISTORY" => 0.3,
        "CREATE_PROJECTS" | "IMPERSONATE" => 0.15,
        "MANAGE_DOCUMENTS" => 0.3,
        _ => 0.45,
    }
}

/// How often a random global ceiling holds a right: ADMIN rarely (so that an external user
/// given an ADMIN profile is usually no administrator), the other global rights about half
/// the time, project rights more often.
fn ceiling_weight(r: &str) -> f64 {
    match r {
        "ADMIN" => 0.2,
        _ if !is_project_right(r) => 0.45,
        _ => 0.65,
    }
}

/// Guarded figures of Project: field and the rights any of which shows it (on every
/// project summed, for the roll-ups). Task has the same minus `budget`.
const FIGURES: [(&str, &[&str]); 8] = [
    ("budget", &["SEE_COST"]),
    ("validatedWork", &["SEE_VALIDATED_WORK", "SEE_WORK"]),
    ("plannedWork", &["SEE_WORK"]),
    ("realWork", &["SEE_WORK"]),
    ("leftWork", &["SEE_WORK"]),
    ("validatedCost", &["SEE_VALIDATED_COST", "SEE_COST"]),
    ("plannedCost", &["SEE_COST"]),
    ("realCost", &["SEE_COST"]),
];

/// Reference fields that point to a user: null, with a NOT_VISIBLE entry in
/// `extensions.redacted`, when the caller's `users` list does not hold that user.
const USER_REFERENCES: [&str; 2] = ["Task.assignee", "TimeEntry.user"];

/// Document folders: the root, a tree three levels deep, and a folder whose name starts
/// like another's without being below it (a rule on `Legal` does not reach `Legalese`).
const FOLDERS: [&str; 5] = ["", "Legal", "Legal/2026", "Legal/2026/Q1", "Legalese"];

/// The folders that enclose `folder`, itself included, outermost first: `Legal/2026` is
/// in `Legal` and in `Legal/2026`; a document at the root is in none.
fn enclosing(folder: &str) -> Vec<&str> {
    if folder.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<&str> = folder
        .char_indices()
        .filter(|&(_, c)| c == '/')
        .map(|(i, _)| &folder[..i])
        .collect();
    out.push(folder);
    out
}

// ---------------------------------------------------------------------------------------
// Worlds.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Principal {
    User(usize),
    Group(usize),
}

#[derive(Clone, Debug)]
struct User {
    dept: Option<usize>,
    profile: usize,
    /// `kind` EXTERNAL: every right cut to the ceiling.
    external: bool,
}

#[derive(Clone, Debug)]
struct Project {
    parent: Option<usize>,
    inherit: bool,
    status: &'static str,
    dept: Option<usize>,
    budget: i64,
    /// `externalRights`: narrows the ceiling here and below; None for no narrowing.
    external_rights: Option<BTreeSet<&'static str>>,
}

#[derive(Clone, Debug)]
struct Membership {
    principal: Principal,
    project: usize,
    profile: usize,
    /// Validity bounds in days from today (inclusive); none for open-ended.
    from: Option<i64>,
    until: Option<i64>,
}

impl Membership {
    fn valid_today(&self) -> bool {
        self.from.is_none_or(|f| f <= 0) && self.until.is_none_or(|u| u >= 0)
    }
}

#[derive(Clone, Debug)]
struct Task {
    project: usize,
    /// validated work, planned work, left work (hundredths of hours), validated cost,
    /// planned cost (cents).
    figures: [i64; 5],
    assignee: Option<usize>,
}

#[derive(Clone, Debug)]
struct Entry {
    user: usize,
    task: usize,
    hours: i64,
    cost: i64,
}

#[derive(Clone, Debug)]
struct Document {
    project: usize,
    internal: bool,
    folder: &'static str,
}

#[derive(Clone, Debug)]
struct Rule {
    project: usize,
    folder: &'static str,
    principal: Principal,
}

/// An API key of `owner`, narrowed to `projects` and their sub-projects (none: not
/// narrowed).
#[derive(Clone, Debug)]
struct Key {
    owner: usize,
    projects: Vec<usize>,
    read_only: bool,
}

/// A request by `actor` (through its session, or its key `key`) with
/// `X-Portico-View-As: target`.
#[derive(Clone, Debug)]
struct ViewAs {
    actor: usize,
    key: Option<usize>,
    target: usize,
}

#[derive(Clone, Debug)]
struct World {
    /// Parent of each department (always an earlier one).
    departments: Vec<Option<usize>>,
    /// The world's own profiles, then (from index `seeded` on) the seeded profiles of
    /// [`SEEDED`].
    profiles: Vec<BTreeSet<&'static str>>,
    seeded: usize,
    users: Vec<User>,
    /// Members of each group.
    groups: Vec<BTreeSet<usize>>,
    projects: Vec<Project>,
    memberships: Vec<Membership>,
    tasks: Vec<Task>,
    entries: Vec<Entry>,
    documents: Vec<Document>,
    rules: Vec<Rule>,
    /// The global ceiling for external users.
    ceiling: BTreeSet<&'static str>,
    keys: Vec<Key>,
    view_as: Vec<ViewAs>,
}

/// A random subset of `names`, each drawn with its weight.
fn subset_strategy(
    names: &'static [&'static str],
    weight: fn(&str) -> f64,
) -> impl Strategy<Value = BTreeSet<&'static str>> {
    let bits: Vec<_> = names
        .iter()
        .map(|r| proptest::bool::weighted(weight(r)))
        .collect();
    bits.prop_map(move |bits| {
        names
            .iter()
            .zip(bits)
            .filter(|(_, b)| *b)
            .map(|(r, _)| *r)
            .collect()
    })
}

fn rights_strategy() -> impl Strategy<Value = BTreeSet<&'static str>> {
    subset_strategy(&RIGHTS, right_weight)
}

/// The global ceiling: the documented default, or a random set.
fn ceiling_strategy() -> impl Strategy<Value = BTreeSet<&'static str>> {
    prop_oneof![
        1 => Just(DEFAULT_CEILING.iter().copied().collect()),
        3 => subset_strategy(&RIGHTS, ceiling_weight),
    ]
}

/// A project's `externalRights`: mostly none, sometimes the empty set, else a random set.
fn narrowing_strategy() -> impl Strategy<Value = Option<BTreeSet<&'static str>>> {
    proptest::option::weighted(
        0.3,
        prop_oneof![
            1 => Just(BTreeSet::new()),
            5 => subset_strategy(&RIGHTS, |r| if is_project_right(r) { 0.6 } else { 0.3 }),
        ],
    )
}

/// Validity in days from today: none, valid now, expired, not yet valid.
fn validity_strategy() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    prop_oneof![
        3 => Just((None, None)),
        3 => (
            proptest::option::of(-3i64..=0),
            proptest::option::of(0i64..=3)
        ),
        1 => (proptest::option::of(0i64..=3), -4i64..=-1)
            .prop_map(|(back, until)| (back.map(|b| until - b), Some(until))),
        1 => (1i64..=4, proptest::option::of(0i64..=3))
            .prop_map(|(from, span)| (Some(from), span.map(|s| from + s))),
    ]
}

fn status_strategy() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        3 => Just("OPEN"),
        1 => Just("ON_HOLD"),
        1 => Just("POTENTIAL"),
        1 => Just("CLOSED"),
    ]
}

/// Random worlds: raw indices are reduced modulo the counts, so that every part shrinks
/// independently.
fn world_strategy() -> impl Strategy<Value = World> {
    let departments = proptest::collection::vec(proptest::option::weighted(0.7, 0usize..8), 0..=4);
    // The world's own profiles; often the first one names IMPERSONATE and is some user's
    // default profile, so that "view as" is tried by someone who may.
    let profiles = (
        proptest::collection::vec(rights_strategy(), 3..=6),
        proptest::option::weighted(0.65, 0usize..8),
    );
    // Department, profile, EXTERNAL, and sometimes a seeded (strong) profile instead.
    let users = proptest::collection::vec(
        (
            proptest::option::weighted(0.6, 0usize..8),
            0usize..8,
            proptest::bool::weighted(0.4),
            proptest::option::weighted(0.3, 0usize..SEEDED.len()),
        ),
        2..=6,
    );
    let groups = proptest::collection::vec(proptest::collection::vec(0usize..8, 0..=4), 0..=2);
    let projects = proptest::collection::vec(
        (
            proptest::option::weighted(0.75, 0usize..64),
            proptest::bool::weighted(0.75),
            status_strategy(),
            proptest::option::weighted(0.6, 0usize..8),
            0i64..1_000_000,
            narrowing_strategy(),
        ),
        3..=12,
    );
    let memberships = proptest::collection::vec(
        (
            proptest::bool::weighted(0.3),
            0usize..8,
            0usize..64,
            0usize..8,
            proptest::option::weighted(0.25, 0usize..SEEDED.len()),
            validity_strategy(),
        ),
        0..=10,
    );
    let tasks = proptest::collection::vec(
        (
            0usize..64,
            proptest::array::uniform5(0i64..5_000),
            proptest::option::weighted(0.8, 0usize..8),
        ),
        0..=5,
    );
    let entries =
        proptest::collection::vec((0usize..8, 0usize..8, 1i64..=800, 0i64..100_000), 0..=6);
    let documents = proptest::collection::vec(
        (
            0usize..64,
            any::<bool>(),
            0usize..64,
            proptest::bool::weighted(0.5),
        ),
        0..=8,
    );
    let rules = proptest::collection::vec(
        (
            0usize..8,
            0usize..64,
            proptest::bool::weighted(0.3),
            0usize..8,
        ),
        0..=6,
    );
    // Owner (preferably one who may "view as"), narrowed or not, projects, read-only.
    let keys = proptest::collection::vec(
        (
            proptest::bool::weighted(0.7),
            0usize..8,
            proptest::bool::weighted(0.5),
            proptest::collection::vec(0usize..64, 1..=2),
            any::<bool>(),
        ),
        0..=3,
    );
    // Actor (preferably one who may), through a key or not, target (sometimes preferably
    // one whose default profile names ADMIN).
    let view_as = proptest::collection::vec(
        (
            proptest::bool::weighted(0.75),
            0usize..8,
            proptest::bool::weighted(0.5),
            proptest::bool::weighted(0.25),
            0usize..8,
        ),
        0..=5,
    );
    (
        (departments, profiles, users, groups, projects, memberships),
        (
            tasks,
            entries,
            documents,
            rules,
            ceiling_strategy(),
            keys,
            view_as,
        ),
    )
        .prop_map(
            |(
                (departments, profiles, users, groups, projects, memberships),
                (tasks, entries, documents, rules, ceiling, keys, view_as),
            )| {
                let nd = departments.len();
                let pick_dept = |d: Option<usize>| if nd == 0 { None } else { d.map(|d| d % nd) };
                let departments: Vec<Option<usize>> = departments
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| if i == 0 { None } else { p.map(|p| p % i) })
                    .collect();
                let (mut profiles, impersonator) = profiles;
                if impersonator.is_some() {
                    profiles[0].insert("IMPERSONATE");
                }
                let np = profiles.len();
                let seeded = np;
                profiles.extend(SEEDED.iter().map(|name| seeded_rights(name)));
                let pick_profile = |raw: usize, strong: Option<usize>| match strong {
                    Some(s) => seeded + s,
                    None => raw % np,
                };
                let mut users: Vec<User> = users
                    .into_iter()
                    .map(|(d, p, external, strong)| User {
                        dept: pick_dept(d),
                        profile: pick_profile(p, strong),
                        external,
                    })
                    .collect();
                let nu = users.len();
                if let Some(raw) = impersonator {
                    users[raw % nu].profile = 0;
                }
                let groups: Vec<BTreeSet<usize>> = groups
                    .into_iter()
                    .map(|m| m.into_iter().map(|u| u % nu).collect())
                    .collect();
                let ng = groups.len();
                let principal = |is_group: bool, raw: usize| {
                    if is_group && ng > 0 {
                        Principal::Group(raw % ng)
                    } else {
                        Principal::User(raw % nu)
                    }
                };
                let projects: Vec<Project> = projects
                    .into_iter()
                    .enumerate()
                    .map(
                        |(i, (parent, inherit, status, dept, budget, external_rights))| Project {
                            parent: if i == 0 { None } else { parent.map(|p| p % i) },
                            inherit,
                            status,
                            dept: pick_dept(dept),
                            budget,
                            external_rights,
                        },
                    )
                    .collect();
                let npj = projects.len();
                let memberships = memberships
                    .into_iter()
                    .map(
                        |(is_group, who, project, profile, strong, (from, until))| Membership {
                            principal: principal(is_group, who),
                            project: project % npj,
                            profile: pick_profile(profile, strong),
                            from,
                            until,
                        },
                    )
                    .collect();
                let tasks: Vec<Task> = tasks
                    .into_iter()
                    .map(|(project, figures, assignee)| Task {
                        project: project % npj,
                        figures,
                        assignee: assignee.map(|a| a % nu),
                    })
                    .collect();
                let nt = tasks.len();
                let entries = if nt == 0 {
                    Vec::new()
                } else {
                    entries
                        .into_iter()
                        .map(|(user, task, hours, cost)| Entry {
                            user: user % nu,
                            task: task % nt,
                            hours,
                            cost,
                        })
                        .collect()
                };
                // Half the documents share the previous one's project, so that a project
                // often holds several folders (and rules) at once.
                let mut docs: Vec<Document> = Vec::new();
                for (project, internal, folder, with_previous) in documents {
                    let project = match docs.last() {
                        Some(prev) if with_previous => prev.project,
                        _ => project % npj,
                    };
                    docs.push(Document {
                        project,
                        internal,
                        // `Legalese` twice as often as the others: only there does a rule
                        // on a folder that merely starts like it (`Legal`) occur.
                        folder: FOLDERS[(folder % (FOLDERS.len() + 1)).min(FOLDERS.len() - 1)],
                    });
                }
                let documents = docs;
                // A rule sits in the project of a document, on a folder chosen from the
                // document's: its own (`Legal` for a document at the root), one above it,
                // one below it or beside it (`Legal` for `Legalese`), or any but the root;
                // so that documents in, under and next to ruled folders all occur.
                let rules = if documents.is_empty() {
                    Vec::new()
                } else {
                    rules
                        .into_iter()
                        .map(|(doc, which, is_group, who)| {
                            let d = &documents[doc % documents.len()];
                            let around = enclosing(d.folder);
                            let pick = |c: &[&'static str]| c[(which / 6) % c.len()];
                            let own = if d.folder.is_empty() {
                                FOLDERS[1]
                            } else {
                                d.folder
                            };
                            let above: Vec<&'static str> = around
                                .iter()
                                .filter(|f| **f != d.folder)
                                .map(|f| *FOLDERS.iter().find(|g| *g == f).unwrap())
                                .collect();
                            let near: Vec<&'static str> = FOLDERS[1..]
                                .iter()
                                .copied()
                                .filter(|f| {
                                    !around.contains(f)
                                        && (f.starts_with(d.folder) || d.folder.starts_with(f))
                                })
                                .collect();
                            let folder = match which % 6 {
                                0 | 1 => own,
                                2 | 3 if !above.is_empty() => pick(&above),
                                4 | 5 if !near.is_empty() => pick(&near),
                                5 => pick(&FOLDERS[1..]),
                                _ => own,
                            };
                            Rule {
                                project: d.project,
                                folder,
                                principal: principal(is_group, who),
                            }
                        })
                        .collect()
                };
                // Users whose default profile names IMPERSONATE or ADMIN: "view as" is
                // mostly tried by them, and their keys are the ones it goes through.
                let capable: Vec<usize> = (0..nu)
                    .filter(|&u| {
                        let p = &profiles[users[u].profile];
                        p.contains("IMPERSONATE") || p.contains("ADMIN")
                    })
                    .collect();
                let pick_user = |prefer: bool, raw: usize| {
                    if prefer && !capable.is_empty() {
                        capable[raw % capable.len()]
                    } else {
                        raw % nu
                    }
                };
                let keys: Vec<Key> = keys
                    .into_iter()
                    .map(|(prefer, owner, narrowed, projects, read_only)| {
                        let mut projects: Vec<usize> = if narrowed {
                            projects.into_iter().map(|p| p % npj).collect()
                        } else {
                            Vec::new()
                        };
                        projects.sort_unstable();
                        projects.dedup();
                        Key {
                            owner: pick_user(prefer, owner),
                            projects,
                            read_only,
                        }
                    })
                    .collect();
                let admins: Vec<usize> = (0..nu)
                    .filter(|&u| profiles[users[u].profile].contains("ADMIN"))
                    .collect();
                // Unnarrowed keys of users who may "view as".
                let key_owners: Vec<usize> = (0..keys.len())
                    .filter(|&k| keys[k].projects.is_empty() && capable.contains(&keys[k].owner))
                    .collect();
                let view_as = view_as
                    .into_iter()
                    .map(|(prefer, raw, via_key, admin_target, target)| {
                        let target = if admin_target && !admins.is_empty() {
                            admins[target % admins.len()]
                        } else {
                            target % nu
                        };
                        if via_key && !keys.is_empty() {
                            let k = if prefer && !key_owners.is_empty() {
                                key_owners[raw % key_owners.len()]
                            } else {
                                raw % keys.len()
                            };
                            return ViewAs {
                                actor: keys[k].owner,
                                key: Some(k),
                                target,
                            };
                        }
                        // Reading as an administrator is tried by those who may "view as" but
                        // are no administrators themselves.
                        let ordinary: Vec<usize> = capable
                            .iter()
                            .copied()
                            .filter(|&u| !profiles[users[u].profile].contains("ADMIN"))
                            .collect();
                        let actor = if admin_target && prefer && !ordinary.is_empty() {
                            ordinary[raw % ordinary.len()]
                        } else {
                            pick_user(prefer, raw)
                        };
                        ViewAs {
                            actor,
                            key: None,
                            target,
                        }
                    })
                    .collect();
                World {
                    departments,
                    profiles,
                    seeded,
                    users,
                    groups,
                    projects,
                    memberships,
                    tasks,
                    entries,
                    documents,
                    rules,
                    ceiling,
                    keys,
                    view_as,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------
// The reference model, from authorization.md.
// ---------------------------------------------------------------------------------------

/// A visible project's rights for one user: what remains, and what the ceiling for
/// external users took away.
#[derive(Clone, Debug, Default)]
struct Access {
    rights: BTreeSet<&'static str>,
    removed: BTreeSet<&'static str>,
}

impl World {
    fn is_principal(&self, p: Principal, u: usize) -> bool {
        match p {
            Principal::User(v) => v == u,
            Principal::Group(g) => self.groups[g].contains(&u),
        }
    }

    /// Is department `d` the department `top` or below it?
    fn dept_within(&self, d: usize, top: usize) -> bool {
        let mut cur = Some(d);
        while let Some(c) = cur {
            if c == top {
                return true;
            }
            cur = self.departments[c];
        }
        false
    }

    /// Is project `q` the project `p` or below it?
    fn within(&self, q: usize, p: usize) -> bool {
        let mut cur = Some(q);
        while let Some(c) = cur {
            if c == p {
                return true;
            }
            cur = self.projects[c].parent;
        }
        false
    }

    /// `p` and all its descendants.
    fn subtree(&self, p: usize) -> Vec<usize> {
        (0..self.projects.len())
            .filter(|&q| self.within(q, p))
            .collect()
    }

    /// The projects whose memberships apply to `p`: `p`, then its ancestors as long as
    /// the project below inherits members.
    fn chain(&self, p: usize) -> Vec<usize> {
        let mut out = vec![p];
        let mut cur = p;
        while self.projects[cur].inherit {
            match self.projects[cur].parent {
                Some(parent) => {
                    out.push(parent);
                    cur = parent;
                }
                None => break,
            }
        }
        out
    }

    /// U's global rights, from the default profile only: EDIT_ALL_PROJECTS includes
    /// VIEW_ALL_PROJECTS and EDIT_DEPARTMENT_PROJECTS includes VIEW_DEPARTMENT_PROJECTS;
    /// an external user's are cut to the global ceiling.
    fn global_rights(&self, u: usize) -> BTreeSet<&'static str> {
        let mut g = self.profile_global_rights(u);
        if self.users[u].external {
            g.retain(|r| self.ceiling.contains(r));
        }
        g
    }

    /// The global rights U's default profile gives, before any ceiling.
    fn profile_global_rights(&self, u: usize) -> BTreeSet<&'static str> {
        let user = &self.users[u];
        let mut g: BTreeSet<&'static str> = self.profiles[user.profile]
            .iter()
            .copied()
            .filter(|r| !is_project_right(r))
            .collect();
        if g.contains("EDIT_ALL_PROJECTS") {
            g.insert("VIEW_ALL_PROJECTS");
        }
        if g.contains("EDIT_DEPARTMENT_PROJECTS") {
            g.insert("VIEW_DEPARTMENT_PROJECTS");
        }
        g
    }

    /// The ceiling on P: the global one intersected with every `externalRights` set on P
    /// or above.
    fn ceiling_on(&self, p: usize) -> BTreeSet<&'static str> {
        let mut c = self.ceiling.clone();
        let mut cur = Some(p);
        while let Some(q) = cur {
            if let Some(n) = &self.projects[q].external_rights {
                c.retain(|r| n.contains(r));
            }
            cur = self.projects[q].parent;
        }
        c
    }

    /// "Effective rights of user U on project P", steps 1 to 6, then the ceiling for
    /// external users: `None` when P is invisible to U.
    fn access(&self, u: usize, p: usize) -> Option<Access> {
        let user = &self.users[u];
        let profile = &self.profiles[user.profile];
        let global = self.global_rights(u);
        let has = |r: &str| global.contains(r);
        let project = &self.projects[p];
        let mut rights: BTreeSet<&'static str> = BTreeSet::new();
        if has("ADMIN") {
            // 1. ADMIN: every right, visible.
            rights.extend(project_rights().iter().copied());
        } else {
            // 2. Valid memberships of U or U's groups on P, or on an ancestor reached
            //    through inheriting projects only.
            let mut member = false;
            let chain = self.chain(p);
            for m in &self.memberships {
                if chain.contains(&m.project)
                    && m.valid_today()
                    && self.is_principal(m.principal, u)
                {
                    member = true;
                    rights.extend(
                        self.profiles[m.profile]
                            .iter()
                            .copied()
                            .filter(|r| is_project_right(r)),
                    );
                }
            }
            // 3. View rights of the default profile (EDIT_* include VIEW_*, see
            //    `global_rights`).
            let dept_match = match (user.dept, project.dept) {
                (Some(ud), Some(pd)) => self.dept_within(pd, ud),
                _ => false,
            };
            let view_all = has("VIEW_ALL_PROJECTS");
            let view_dept = has("VIEW_DEPARTMENT_PROJECTS") && dept_match;
            if view_all || view_dept {
                rights.extend(READ_RIGHTS.iter().copied().filter(|r| profile.contains(r)));
            }
            // 4. Edit rights of the default profile.
            let edit = has("EDIT_ALL_PROJECTS") || (has("EDIT_DEPARTMENT_PROJECTS") && dept_match);
            if edit {
                rights.extend(
                    project_rights()
                        .iter()
                        .copied()
                        .filter(|r| profile.contains(r)),
                );
            }
            // 5. Visible through any of the above, except POTENTIAL and CLOSED projects,
            //    which need VIEW_PROJECT_HISTORY or VIEW_ALL_PROJECTS.
            let reached = member || view_all || view_dept || edit;
            let history = has("VIEW_PROJECT_HISTORY") || view_all;
            let status_ok = !matches!(project.status, "POTENTIAL" | "CLOSED") || history;
            // 6. No right on an invisible project.
            if !(reached && status_ok) {
                return None;
            }
        }
        // The ceiling: an external user's effective rights on P are cut to the ceiling on
        // P; explainAccess lists what it removed.
        // It removed the project rights outside the ceiling on P, and the global rights
        // outside the global ceiling.
        let mut removed = BTreeSet::new();
        if user.external {
            let ceiling = self.ceiling_on(p);
            removed = rights.difference(&ceiling).copied().collect();
            rights.retain(|r| ceiling.contains(r));
            removed.extend(
                self.profile_global_rights(u)
                    .into_iter()
                    .filter(|r| !self.ceiling.contains(r)),
            );
        }
        Some(Access { rights, removed })
    }

    /// U's effective project rights on P; `None` when P is invisible to U.
    fn effective(&self, u: usize, p: usize) -> Option<BTreeSet<&'static str>> {
        self.access(u, p).map(|a| a.rights)
    }

    /// Does key `k` reach project `p` (one of its projects or below)? An unnarrowed key
    /// reaches everything.
    fn key_reaches(&self, k: usize, p: usize) -> bool {
        let key = &self.keys[k];
        key.projects.is_empty() || key.projects.iter().any(|&kp| self.within(p, kp))
    }

    /// The users a request sees, given its own user `u`, its visible projects and its
    /// global rights: everyone for ADMIN; else U and the co-members of a visible project,
    /// that is the holders of a valid membership (direct or through a group) that counts on
    /// a visible project by step 2 (made on it, or on an ancestor reaching it through
    /// inheriting projects).
    fn visible_users(
        &self,
        u: usize,
        eff: &[Option<BTreeSet<&'static str>>],
        global: &BTreeSet<&'static str>,
    ) -> BTreeSet<usize> {
        if global.contains("ADMIN") {
            return (0..self.users.len()).collect();
        }
        let sources: BTreeSet<usize> = (0..self.projects.len())
            .filter(|&p| eff[p].is_some())
            .flat_map(|p| self.chain(p))
            .collect();
        let mut out: BTreeSet<usize> = (0..self.users.len())
            .filter(|&v| {
                self.memberships.iter().any(|m| {
                    m.valid_today()
                        && sources.contains(&m.project)
                        && self.is_principal(m.principal, v)
                })
            })
            .collect();
        out.insert(u);
        out
    }

    /// Does folder `folder` of project `p` admit U: it has no rule, or one of its rules names
    /// U or a group of U.
    fn folder_admits(&self, u: usize, p: usize, folder: &str) -> bool {
        let mut rules = self
            .rules
            .iter()
            .filter(|r| r.project == p && r.folder == folder)
            .peekable();
        rules.peek().is_none() || rules.any(|r| self.is_principal(r.principal, u))
    }

    /// Is any rule set on folder `folder` of project `p`?
    fn ruled(&self, p: usize, folder: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.project == p && r.folder == folder)
    }

    /// Is the document visible to U, given U's rights on every project? SHARED: with its
    /// project; INTERNAL: with VIEW_INTERNAL_DOCUMENTS as well; and, in a folder with rules,
    /// only to those its rules name, plus MANAGE_DOCUMENTS holders. A folder's rules apply
    /// to it and every folder below it: the rules of every enclosing folder must all admit.
    fn document_visible(&self, u: usize, d: &Document, eff: &[Option<BTreeSet<&str>>]) -> bool {
        let Some(rights) = &eff[d.project] else {
            return false;
        };
        if d.internal && !rights.contains("VIEW_INTERNAL_DOCUMENTS") {
            return false;
        }
        rights.contains("MANAGE_DOCUMENTS")
            || enclosing(d.folder)
                .iter()
                .all(|f| self.folder_admits(u, d.project, f))
    }

    fn profile_name(&self, i: usize) -> String {
        if i >= self.seeded {
            format!("PR{i} ({})", SEEDED[i - self.seeded])
        } else {
            format!("PR{i}")
        }
    }

    /// A readable account of the world, for failure messages.
    fn describe(&self) -> String {
        let mut s = String::new();
        let dept = |d: Option<usize>| d.map_or("-".to_string(), |d| format!("D{d}"));
        let who = |p: Principal| match p {
            Principal::User(u) => format!("U{u}"),
            Principal::Group(g) => format!("G{g}"),
        };
        let set = |r: &BTreeSet<&str>| {
            let v: Vec<&str> = r.iter().copied().collect();
            format!("{{{}}}", v.join(", "))
        };
        let days = |d: Option<i64>| d.map_or("-".to_string(), |d| format!("today{d:+}"));
        let _ = writeln!(s, "  global ceiling {}", set(&self.ceiling));
        for (i, parent) in self.departments.iter().enumerate() {
            let _ = writeln!(s, "  department D{i} parent={}", dept(*parent));
        }
        for (i, p) in self.profiles.iter().enumerate() {
            let _ = writeln!(s, "  profile {} {}", self.profile_name(i), set(p));
        }
        for (i, u) in self.users.iter().enumerate() {
            let _ = writeln!(
                s,
                "  user U{i} {} dept={} profile={}",
                if u.external { "EXTERNAL" } else { "INTERNAL" },
                dept(u.dept),
                self.profile_name(u.profile)
            );
        }
        for (i, g) in self.groups.iter().enumerate() {
            let _ = writeln!(s, "  group G{i} members={g:?}");
        }
        for (i, p) in self.projects.iter().enumerate() {
            let _ = writeln!(
                s,
                "  project P{i} parent={} inheritMembers={} status={} dept={} budget={} externalRights={}",
                p.parent.map_or("-".to_string(), |p| format!("P{p}")),
                p.inherit,
                p.status,
                dept(p.dept),
                p.budget,
                p.external_rights.as_ref().map_or("null".to_string(), set)
            );
        }
        for m in &self.memberships {
            let _ = writeln!(
                s,
                "  membership {} on P{} profile={} validFrom={} validUntil={} (valid now: {})",
                who(m.principal),
                m.project,
                self.profile_name(m.profile),
                days(m.from),
                days(m.until),
                m.valid_today()
            );
        }
        for (i, t) in self.tasks.iter().enumerate() {
            let _ = writeln!(
                s,
                "  task T{i} on P{} assignee={} figures={:?}",
                t.project,
                t.assignee.map_or("-".to_string(), |a| format!("U{a}")),
                t.figures
            );
        }
        for (i, e) in self.entries.iter().enumerate() {
            let _ = writeln!(
                s,
                "  time entry E{i} by U{} on T{} (P{}) hours={} cost={}",
                e.user, e.task, self.tasks[e.task].project, e.hours, e.cost
            );
        }
        for (i, d) in self.documents.iter().enumerate() {
            let _ = writeln!(
                s,
                "  document DOC{i} on P{} {} folder={:?}",
                d.project,
                if d.internal { "INTERNAL" } else { "SHARED" },
                d.folder
            );
        }
        for r in &self.rules {
            let _ = writeln!(
                s,
                "  folder rule P{} {:?} -> {}",
                r.project,
                r.folder,
                who(r.principal)
            );
        }
        for (i, k) in self.keys.iter().enumerate() {
            let projects: Vec<String> = k.projects.iter().map(|p| format!("P{p}")).collect();
            let _ = writeln!(
                s,
                "  API key K{i} of U{} projects=[{}] readOnly={}",
                k.owner,
                projects.join(", "),
                k.read_only
            );
        }
        for (i, v) in self.view_as.iter().enumerate() {
            let _ = writeln!(
                s,
                "  view-as V{i}: U{} through {} as U{}",
                v.actor,
                v.key
                    .map_or("its session".to_string(), |k| format!("key K{k}")),
                v.target
            );
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Writing a world into the database.
// ---------------------------------------------------------------------------------------

/// Row ids of a world: distinct per world, above the seeded profiles.
struct Ids {
    base: i64,
}

impl Ids {
    fn of(&self, i: usize) -> i64 {
        self.base + i as i64 + 1
    }
}

fn gid(kind: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// The secret of API key `k` of the world (its row stores the server's hash of it).
fn key_token(ids: &Ids, k: usize) -> String {
    format!(
        "{}authz_model_w{}_k{k}",
        portico::auth::token::API_KEY_PREFIX,
        ids.base
    )
}

/// Replaces whatever the previous world left with `w`; answers a session token per user.
async fn load_world(db: &Db, w: &World, ids: &Ids) -> Result<Vec<String>, sqlx::Error> {
    let now = Utc::now();
    let today = now.date_naive();
    let day = |d: i64| -> NaiveDate { today + Duration::days(d) };
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM time_entry",
        "DELETE FROM invoice_line",
        "DELETE FROM invoice",
        "DELETE FROM document",
        "DELETE FROM folder_rule",
        "DELETE FROM task",
        "DELETE FROM membership",
        "DELETE FROM session",
        "DELETE FROM api_key_project",
        "DELETE FROM api_key",
        "DELETE FROM group_member",
        "DELETE FROM user_group",
        "DELETE FROM audit_event",
        "DELETE FROM project",
        "DELETE FROM app_user",
        "DELETE FROM department",
        "DELETE FROM profile_right WHERE profile_id >= 100",
        "DELETE FROM profile WHERE profile_id >= 100",
        "DELETE FROM external_ceiling",
    ] {
        tx.execute(q(sql)).await?;
    }
    let tag = ids.base;
    for r in &w.ceiling {
        tx.execute(q("INSERT INTO external_ceiling (right_name) VALUES ($1)").bind(*r))
            .await?;
    }
    // The seeded profiles, by name.
    let mut seeded_ids = Vec::new();
    for name in SEEDED {
        let row = tx
            .fetch_one(q("SELECT profile_id FROM profile WHERE name = $1").bind(name))
            .await?;
        seeded_ids.push(row.get::<i64>("profile_id")?);
    }
    let profile_id = |i: usize| {
        if i >= w.seeded {
            seeded_ids[i - w.seeded]
        } else {
            ids.of(i)
        }
    };
    for (i, parent) in w.departments.iter().enumerate() {
        tx.execute(
            q("INSERT INTO department (department_id, name, parent_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(ids.of(i))
                .bind(format!("D{i}"))
                .bind(parent.map(|p| ids.of(p)))
                .bind(now),
        )
        .await?;
    }
    for (i, rights) in w.profiles.iter().enumerate().take(w.seeded) {
        tx.execute(
            q("INSERT INTO profile (profile_id, name, created_at) VALUES ($1, $2, $3)")
                .bind(ids.of(i))
                .bind(format!("w{tag} PR{i}"))
                .bind(now),
        )
        .await?;
        for r in rights {
            tx.execute(
                q("INSERT INTO profile_right (profile_id, right_name) VALUES ($1, $2)")
                    .bind(ids.of(i))
                    .bind(*r),
            )
            .await?;
        }
    }
    let mut tokens = Vec::new();
    for (i, u) in w.users.iter().enumerate() {
        tx.execute(
            q("INSERT INTO app_user (user_id, email, name, kind, department_id, profile_id, password_hash, active, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, 'x', TRUE, $7)")
                .bind(ids.of(i))
                .bind(format!("u{i}@w{tag}.test"))
                .bind(format!("U{i}"))
                .bind(if u.external { "EXTERNAL" } else { "INTERNAL" })
                .bind(u.dept.map(|d| ids.of(d)))
                .bind(profile_id(u.profile))
                .bind(now),
        )
        .await?;
        let token = format!(
            "{}authz_model_w{tag}_u{i}",
            portico::auth::token::SESSION_PREFIX
        );
        tx.execute(
            q("INSERT INTO session (session_id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(ids.of(i))
                .bind(ids.of(i))
                .bind(portico::auth::token::hash(&token))
                .bind(now)
                .bind(now + Duration::hours(2)),
        )
        .await?;
        tokens.push(token);
    }
    for (i, members) in w.groups.iter().enumerate() {
        tx.execute(
            q("INSERT INTO user_group (group_id, name, created_at) VALUES ($1, $2, $3)")
                .bind(ids.of(i))
                .bind(format!("w{tag} G{i}"))
                .bind(now),
        )
        .await?;
        for u in members {
            tx.execute(
                q("INSERT INTO group_member (group_id, user_id) VALUES ($1, $2)")
                    .bind(ids.of(i))
                    .bind(ids.of(*u)),
            )
            .await?;
        }
    }
    for (i, p) in w.projects.iter().enumerate() {
        let narrowing = p.external_rights.as_ref().map(|r| {
            let names: Vec<&str> = r.iter().copied().collect();
            names.join(",")
        });
        tx.execute(
            q("INSERT INTO project (project_id, name, status, department_id, parent_id, inherit_members, budget, external_rights, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)")
                .bind(ids.of(i))
                .bind(format!("P{i}"))
                .bind(p.status)
                .bind(p.dept.map(|d| ids.of(d)))
                .bind(p.parent.map(|d| ids.of(d)))
                .bind(p.inherit)
                .bind(p.budget)
                .bind(narrowing)
                .bind(now),
        )
        .await?;
    }
    let principal_cols = |p: Principal| match p {
        Principal::User(u) => (Some(ids.of(u)), None),
        Principal::Group(g) => (None, Some(ids.of(g))),
    };
    for (i, m) in w.memberships.iter().enumerate() {
        let (user, group) = principal_cols(m.principal);
        tx.execute(
            q("INSERT INTO membership (membership_id, project_id, user_id, group_id, profile_id, valid_from, valid_until, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(ids.of(i))
                .bind(ids.of(m.project))
                .bind(user)
                .bind(group)
                .bind(profile_id(m.profile))
                .bind(m.from.map(day))
                .bind(m.until.map(day))
                .bind(now),
        )
        .await?;
    }
    for (i, t) in w.tasks.iter().enumerate() {
        let [vw, pw, lw, vc, pc] = t.figures;
        tx.execute(
            q("INSERT INTO task (task_id, project_id, name, assignee_id, status, validated_work, planned_work, left_work, validated_cost, planned_cost, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, 'TODO', $5, $6, $7, $8, $9, $10, $10)")
                .bind(ids.of(i))
                .bind(ids.of(t.project))
                .bind(format!("T{i}"))
                .bind(t.assignee.map(|a| ids.of(a)))
                .bind(vw)
                .bind(pw)
                .bind(lw)
                .bind(vc)
                .bind(pc)
                .bind(now),
        )
        .await?;
    }
    for (i, e) in w.entries.iter().enumerate() {
        tx.execute(
            q("INSERT INTO time_entry (time_entry_id, user_id, task_id, project_id, entry_date, hours, cost, billable, status, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, 'SUBMITTED', $8, $8)")
                .bind(ids.of(i))
                .bind(ids.of(e.user))
                .bind(ids.of(e.task))
                .bind(ids.of(w.tasks[e.task].project))
                .bind(day(-(i as i64)))
                .bind(e.hours)
                .bind(e.cost)
                .bind(now),
        )
        .await?;
    }
    for (i, d) in w.documents.iter().enumerate() {
        tx.execute(
            q("INSERT INTO document (document_id, project_id, folder, title, visibility, content, created_by, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, '', NULL, $6, $6)")
                .bind(ids.of(i))
                .bind(ids.of(d.project))
                .bind(d.folder)
                .bind(format!("DOC{i}"))
                .bind(if d.internal { "INTERNAL" } else { "SHARED" })
                .bind(now),
        )
        .await?;
    }
    for (i, r) in w.rules.iter().enumerate() {
        let (user, group) = principal_cols(r.principal);
        tx.execute(
            q("INSERT INTO folder_rule (folder_rule_id, project_id, folder, user_id, group_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(ids.of(i))
                .bind(ids.of(r.project))
                .bind(r.folder)
                .bind(user)
                .bind(group)
                .bind(now),
        )
        .await?;
    }
    for (i, k) in w.keys.iter().enumerate() {
        tx.execute(
            q("INSERT INTO api_key (api_key_id, user_id, name, key_hash, prefix, read_only, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(ids.of(i))
                .bind(ids.of(k.owner))
                .bind(format!("K{i}"))
                .bind(portico::auth::token::hash(&key_token(ids, i)))
                .bind(format!("K{i}"))
                .bind(k.read_only)
                .bind(now),
        )
        .await?;
        for p in &k.projects {
            tx.execute(
                q("INSERT INTO api_key_project (api_key_id, project_id) VALUES ($1, $2)")
                    .bind(ids.of(i))
                    .bind(ids.of(*p)),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------
// What a request sees, by the model.
// ---------------------------------------------------------------------------------------

/// Why the model refuses a "view as" request (FORBIDDEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Through a key narrowed to projects, which carries none of its owner's global rights
    /// ("view as" through a key stays inside the key's limits).
    NarrowedKey,
    /// The actor's global rights (cut to the ceiling for an external actor) hold neither
    /// IMPERSONATE nor ADMIN.
    NoImpersonate,
    /// The target's default profile names ADMIN and the actor is no administrator. The page
    /// is silent on reading as an administrator; refusing keeps data hidden.
    AdminTarget,
}

/// The model's view of one request: its user (the target under "view as"), the effective
/// rights on every project, and what the page derives from them.
struct View<'w> {
    w: &'w World,
    u: usize,
    /// How failure messages name the request.
    who: String,
    eff: Vec<Option<BTreeSet<&'static str>>>,
    /// What the ceiling removed on each visible project, where the model says (not under
    /// "view as" through a key).
    removed: Vec<Option<BTreeSet<&'static str>>>,
    global: BTreeSet<&'static str>,
    /// The users the request sees (its `users` list; references to others are null).
    users: BTreeSet<usize>,
    read_only: bool,
    impersonator: Option<usize>,
    /// Whether the request asks `node(id:)` of every task, entry and document too (sessions
    /// only: every `project(id:)` and `node(id:)` costs the server a look-up, and the
    /// projects' are enough to show a key's or a "view as"'s narrowing there).
    items_by_id: bool,
}

impl<'w> View<'w> {
    /// U's own session.
    fn session(w: &'w World, u: usize) -> Self {
        let access: Vec<Option<Access>> = (0..w.projects.len()).map(|p| w.access(u, p)).collect();
        let eff: Vec<_> = access
            .iter()
            .map(|a| a.as_ref().map(|a| a.rights.clone()))
            .collect();
        let global = w.global_rights(u);
        View {
            w,
            u,
            who: format!("U{u} (session)"),
            removed: access.into_iter().map(|a| a.map(|a| a.removed)).collect(),
            users: w.visible_users(u, &eff, &global),
            eff,
            global,
            read_only: false,
            impersonator: None,
            items_by_id: true,
        }
    }

    /// A request through key `k`: at most the intersection of the owner's rights and the
    /// key's limits. Narrowed to projects, it sees those and their sub-projects with the
    /// owner's rights there, and none of the owner's global rights.
    fn key(w: &'w World, k: usize) -> Self {
        let key = &w.keys[k];
        let mut v = View::session(w, key.owner);
        v.read_only = key.read_only;
        v.items_by_id = false;
        if key.projects.is_empty() {
            v.who = format!("K{k} (U{}'s key, not narrowed)", key.owner);
            return v;
        }
        let projects: Vec<String> = key.projects.iter().map(|p| format!("P{p}")).collect();
        v.who = format!(
            "K{k} (U{}'s key narrowed to [{}])",
            key.owner,
            projects.join(", ")
        );
        for p in 0..w.projects.len() {
            if !w.key_reaches(k, p) {
                v.eff[p] = None;
                v.removed[p] = None;
            }
        }
        v.global = BTreeSet::new();
        v.users = w.visible_users(v.u, &v.eff, &v.global);
        v
    }

    /// "View as" pair `i`: refused, or the target's view (read-only); through an
    /// unnarrowed key, what both the target and the key owner may read.
    fn view_as(w: &'w World, i: usize) -> Result<Self, Refusal> {
        let pair = &w.view_as[i];
        if pair.key.is_some_and(|k| !w.keys[k].projects.is_empty()) {
            return Err(Refusal::NarrowedKey);
        }
        let mine = w.global_rights(pair.actor);
        if !(mine.contains("IMPERSONATE") || mine.contains("ADMIN")) {
            return Err(Refusal::NoImpersonate);
        }
        if w.profiles[w.users[pair.target].profile].contains("ADMIN") && !mine.contains("ADMIN") {
            return Err(Refusal::AdminTarget);
        }
        let mut v = View::session(w, pair.target);
        v.read_only = true;
        v.items_by_id = false;
        v.impersonator = Some(pair.actor);
        v.who = view_as_label(w, i);
        if pair.key.is_some() {
            let owner = View::session(w, pair.actor);
            for p in 0..w.projects.len() {
                v.eff[p] = match (&v.eff[p], &owner.eff[p]) {
                    (Some(a), Some(b)) => Some(a.intersection(b).copied().collect()),
                    _ => None,
                };
                v.removed[p] = None;
            }
            v.global = v.global.intersection(&owner.global).copied().collect();
            v.users = w.visible_users(v.u, &v.eff, &v.global);
        }
        Ok(v)
    }

    /// Does the request hold any of `any` on `p`?
    fn holds(&self, p: usize, any: &[&str]) -> bool {
        self.eff[p]
            .as_ref()
            .is_some_and(|r| any.iter().any(|a| r.contains(a)))
    }

    /// ...on `p` and every project below it (for sums over sub-projects)?
    fn holds_everywhere(&self, p: usize, any: &[&str]) -> bool {
        self.w.subtree(p).into_iter().all(|q| self.holds(q, any))
    }

    /// Is a guarded figure of project `p` shown? Its own budget needs the right on `p`;
    /// the roll-ups need it on every project summed.
    fn project_figure_shown(&self, p: usize, field: &str, any: &[&str]) -> bool {
        if field == "budget" {
            self.holds(p, any)
        } else {
            self.holds_everywhere(p, any)
        }
    }

    /// Own entries on visible projects; others' with VIEW_TIMESHEETS.
    fn entry_visible(&self, e: &Entry) -> bool {
        let p = self.w.tasks[e.task].project;
        self.eff[p].is_some() && (e.user == self.u || self.holds(p, &["VIEW_TIMESHEETS"]))
    }

    fn hours_shown(&self, e: &Entry) -> bool {
        e.user == self.u || self.holds(self.w.tasks[e.task].project, &["SEE_WORK"])
    }

    fn cost_shown(&self, e: &Entry) -> bool {
        self.holds(self.w.tasks[e.task].project, &["SEE_COST"])
    }

    /// The projects whose `explainAccess` the request asks (each costs the server a fresh
    /// load of the caller's facts): two visible ones, first those where the ceiling removed
    /// something.
    fn explained(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.visible().into_iter().collect();
        v.sort_by_key(|&p| self.removed[p].as_ref().is_none_or(|r| r.is_empty()));
        v.truncate(2);
        v
    }

    fn visible(&self) -> BTreeSet<usize> {
        (0..self.eff.len())
            .filter(|&p| self.eff[p].is_some())
            .collect()
    }
}

/// How failure messages name "view as" pair `i`.
fn view_as_label(w: &World, i: usize) -> String {
    let pair = &w.view_as[i];
    format!(
        "V{i} (U{} through {} as U{})",
        pair.actor,
        pair.key
            .map_or("its session".to_string(), |k| format!("key K{k}")),
        pair.target
    )
}

/// The requests of a world, with the credential each uses, its "view as" header, and the
/// model's expectation.
struct Request<'w> {
    token: String,
    view_as: Option<String>,
    who: String,
    expect: Result<View<'w>, Refusal>,
}

fn requests<'w>(w: &'w World, ids: &Ids, sessions: &[String]) -> Vec<Request<'w>> {
    let mut out = Vec::new();
    for (u, token) in sessions.iter().enumerate() {
        let view = View::session(w, u);
        out.push(Request {
            token: token.clone(),
            view_as: None,
            who: view.who.clone(),
            expect: Ok(view),
        });
    }
    for k in 0..w.keys.len() {
        let view = View::key(w, k);
        out.push(Request {
            token: key_token(ids, k),
            view_as: None,
            who: view.who.clone(),
            expect: Ok(view),
        });
    }
    for (i, pair) in w.view_as.iter().enumerate() {
        let token = match pair.key {
            Some(k) => key_token(ids, k),
            None => sessions[pair.actor].clone(),
        };
        let expect = View::view_as(w, i);
        out.push(Request {
            token,
            view_as: Some(gid("User", ids.of(pair.target))),
            who: view_as_label(w, i),
            expect,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// Coverage.
// ---------------------------------------------------------------------------------------

/// The kinds of case the worlds must exercise, each with the fewest times it must occur in
/// [`DEFAULT_CASES`] worlds (whatever the seed; `coverage_minimums_hold_for_many_seeds`
/// checks them over many seeds, without a server). Counted from the model alone.
macro_rules! kinds {
    ($($kind:ident: $name:literal >= $min:literal,)*) => {
        #[derive(Clone, Copy, Debug)]
        enum Kind {
            $($kind,)*
        }
        const KINDS: &[(&str, usize)] = &[$(($name, $min),)*];
    };
}

kinds! {
    // Grants.
    ProjectVisible: "grant: project visible" >= 244,
    DirectMembership: "grant: visible through a membership on the project itself" >= 67,
    InheritedMembership: "grant: visible through a membership inherited from an ancestor" >= 32,
    GroupMembership: "grant: visible through a group's membership" >= 19,
    FirstDay: "grant: membership counted on its first day (validFrom today)" >= 3,
    LastDay: "grant: membership counted on its last day (validUntil today)" >= 2,
    DepartmentRight: "grant: visible through a department right alone" >= 6,
    AllProjects: "grant: visible through an all-projects right alone" >= 87,
    EditRights: "grant: project rights added by an EDIT_* right of the default profile" >= 29,
    History: "grant: POTENTIAL or CLOSED project visible through history or all-projects" >= 43,
    Admin: "grant: ADMIN user views" >= 5,
    // Refusals.
    ProjectInvisible: "refusal: project invisible" >= 535,
    RoomStopped: "refusal: ancestor's membership stopped by a room (inheritMembers=false)" >= 19,
    NotYetValid: "refusal: membership not valid yet" >= 18,
    Expired: "refusal: membership expired" >= 18,
    OtherDepartment: "refusal: department right, invisible project of another department" >= 2,
    StatusHidden: "refusal: project reached but hidden by its status" >= 27,
    OthersEntryHidden: "refusal: another's time entry on a visible project (no VIEW_TIMESHEETS)" >= 17,
    InternalHidden: "refusal: INTERNAL document on a visible project (no VIEW_INTERNAL_DOCUMENTS)" >= 15,
    InternalDespiteManage: "refusal: INTERNAL document hidden from a MANAGE_DOCUMENTS holder" >= 1,
    OwnFolderRefuses: "refusal: document hidden by a rule on its own folder" >= 9,
    EnclosingFolderRefuses: "refusal: document hidden by an enclosing folder's rule alone" >= 1,
    // Documents shown despite rules, and entries shown.
    FolderRuleAdmits: "grant: document in a ruled folder shown through a rule naming the reader" >= 7,
    EnclosingRuleAdmits: "grant: document below a ruled folder shown through that folder's rule" >= 1,
    ManageDocuments: "grant: document in a ruled folder shown through MANAGE_DOCUMENTS alone" >= 1,
    BesideRuledFolder: "grant: document beside a folder that refuses the reader (same prefix) shown" >= 1,
    OwnEntry: "grant: own time entry visible" >= 13,
    OthersEntry: "grant: another's time entry visible (VIEW_TIMESHEETS)" >= 22,
    // Redactions.
    FigureShown: "redaction: guarded figure shown" >= 1184,
    FigureHidden: "redaction: guarded figure hidden" >= 1099,
    WorkHidden: "redaction: work figure hidden (SEE_WORK)" >= 522,
    CostHidden: "redaction: cost figure hidden (SEE_COST)" >= 539,
    BudgetHidden: "redaction: budget hidden" >= 102,
    ValidatedOnly: "redaction: validated figure shown through SEE_VALIDATED_* alone" >= 73,
    RollUpHidden: "redaction: roll-up hidden by a descendant alone" >= 54,
    HoursHidden: "redaction: another's hours hidden (no SEE_WORK)" >= 1,
    EntryCostHidden: "redaction: time entry cost hidden (no SEE_COST)" >= 13,
    // The ceiling for external users.
    ExternalView: "ceiling: external user views" >= 43,
    ExternalGlobalCut: "ceiling: external's right on a visible project cut by the global ceiling" >= 54,
    ExternalProjectCut: "ceiling: external's right cut by a project narrowing (inside the global ceiling)" >= 21,
    ExternalAncestorCut: "ceiling: external's right cut by an ancestor's narrowing alone" >= 9,
    ExternalStrongProfile: "ceiling: external's visible project through a seeded strong profile's membership" >= 7,
    ExternalGlobalDropped: "ceiling: global right of an external's default profile cut by the ceiling" >= 34,
    ExternalAdminProfile: "ceiling: external with an ADMIN default profile, no administrator" >= 1,
    // Counted, not asserted: a ceiling holding ADMIN is rare (about two in a run).
    ExternalAdministrator: "ceiling: external administrator (ADMIN in the ceiling) views" >= 0,
    ExternalGlobalKept: "ceiling: external's project visible through a global right the ceiling keeps" >= 4,
    InternalUnaffected: "ceiling: internal user's right outside the ceiling on the project kept" >= 212,
    // Users and references.
    UserVisible: "users: another user visible as a co-member" >= 76,
    UserHidden: "users: another user hidden" >= 232,
    CoMemberAncestor: "users: co-member through a membership on an invisible ancestor only" >= 4,
    CoMemberGroup: "users: co-member through a group's membership" >= 16,
    RefShown: "reference: another user's reference shown" >= 57,
    RefNotVisible: "reference: user reference null (NOT_VISIBLE)" >= 26,
    // API keys and "view as".
    KeyUnnarrowed: "key: request through an unnarrowed key" >= 17,
    KeyNarrowed: "key: request through a key narrowed to projects" >= 18,
    KeyNarrowedHides: "key: project the owner sees hidden by the key's narrowing" >= 19,
    KeyNarrowedBelow: "key: sub-project of a key's project visible through the key" >= 5,
    KeyNoGlobal: "key: narrowed key of an owner with global rights (none through the key)" >= 12,
    ViewAsSession: "view-as: through a session, accepted" >= 13,
    ViewAsKey: "view-as: through an unnarrowed key, accepted" >= 2,
    ViewAsKeyNarrower: "view-as: through a key, the target's view cut by the key owner's" >= 1,
    ViewAsExternal: "view-as: accepted, as an external user" >= 4,
    ViewAsNoRight: "view-as: refused, actor without IMPERSONATE" >= 21,
    ViewAsNarrowedKey: "view-as: refused, through a narrowed key" >= 4,
    ViewAsAdminTarget: "view-as: refused, target an administrator" >= 1,
}

/// How often each [`Kind`] occurred.
#[derive(Clone, Debug)]
struct Coverage(Vec<usize>);

impl Coverage {
    fn new() -> Self {
        Coverage(vec![0; KINDS.len()])
    }

    fn add(&mut self, k: Kind) {
        self.0[k as usize] += 1;
    }

    fn merge(&mut self, other: &Coverage) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    /// The kinds met fewer times than their minimum, as lines of text.
    fn short(&self) -> Vec<String> {
        KINDS
            .iter()
            .zip(&self.0)
            .filter(|((_, min), n)| *n < min)
            .map(|((name, min), n)| format!("{name}: {n} < {min}"))
            .collect()
    }

    fn report(&self) -> String {
        let mut s = String::new();
        for ((name, min), n) in KINDS.iter().zip(&self.0) {
            let _ = writeln!(s, "authz_model:   {n:>6} (min {min:>4})  {name}");
        }
        s
    }
}

/// The cases a world exercises: every user's session, every key, every "view as".
fn world_coverage(w: &World) -> Coverage {
    let mut c = Coverage::new();
    for u in 0..w.users.len() {
        let v = View::session(w, u);
        view_coverage(&v, &mut c);
        ceiling_coverage(&v, &mut c);
        users_coverage(&v, &mut c);
    }
    for k in 0..w.keys.len() {
        let key = &w.keys[k];
        let v = View::key(w, k);
        if key.projects.is_empty() {
            c.add(Kind::KeyUnnarrowed);
            continue;
        }
        c.add(Kind::KeyNarrowed);
        let owner = View::session(w, key.owner);
        for p in 0..w.projects.len() {
            if owner.eff[p].is_some() && v.eff[p].is_none() {
                c.add(Kind::KeyNarrowedHides);
            }
            if v.eff[p].is_some() && !key.projects.contains(&p) {
                c.add(Kind::KeyNarrowedBelow);
            }
        }
        if !owner.global.is_empty() {
            c.add(Kind::KeyNoGlobal);
        }
    }
    for (i, pair) in w.view_as.iter().enumerate() {
        match View::view_as(w, i) {
            Ok(v) => {
                if pair.key.is_some() {
                    c.add(Kind::ViewAsKey);
                    let target = View::session(w, pair.target);
                    if v.eff != target.eff || v.global != target.global {
                        c.add(Kind::ViewAsKeyNarrower);
                    }
                } else {
                    c.add(Kind::ViewAsSession);
                }
                if w.users[pair.target].external {
                    c.add(Kind::ViewAsExternal);
                }
            }
            Err(Refusal::NarrowedKey) => c.add(Kind::ViewAsNarrowedKey),
            Err(Refusal::NoImpersonate) => c.add(Kind::ViewAsNoRight),
            Err(Refusal::AdminTarget) => c.add(Kind::ViewAsAdminTarget),
        }
    }
    c
}

/// The valid memberships of U (directly or through a group) that count on P.
fn counted(w: &World, u: usize, p: usize) -> Vec<&Membership> {
    let chain = w.chain(p);
    w.memberships
        .iter()
        .filter(|m| m.valid_today() && chain.contains(&m.project) && w.is_principal(m.principal, u))
        .collect()
}

/// The ceiling's cases in one session's view.
fn ceiling_coverage(v: &View, c: &mut Coverage) {
    let (w, u) = (v.w, v.u);
    let user = &w.users[u];
    let profile = &w.profiles[user.profile];
    if !user.external {
        for p in v.visible() {
            let ceiling = w.ceiling_on(p);
            if v.eff[p]
                .as_ref()
                .is_some_and(|r| r.iter().any(|r| !ceiling.contains(r)))
            {
                c.add(Kind::InternalUnaffected);
            }
        }
        return;
    }
    c.add(Kind::ExternalView);
    if profile.contains("ADMIN") && !w.ceiling.contains("ADMIN") {
        c.add(Kind::ExternalAdminProfile);
    }
    if v.global.contains("ADMIN") {
        c.add(Kind::ExternalAdministrator);
    }
    for r in profile.iter().filter(|r| !is_project_right(r)) {
        if !w.ceiling.contains(r) {
            c.add(Kind::ExternalGlobalDropped);
        }
    }
    let global = &v.global;
    for p in v.visible() {
        let removed = v.removed[p].clone().unwrap_or_default();
        if removed
            .iter()
            .any(|r| is_project_right(r) && !w.ceiling.contains(r))
        {
            c.add(Kind::ExternalGlobalCut);
        }
        if removed.iter().any(|r| w.ceiling.contains(r)) {
            c.add(Kind::ExternalProjectCut);
        }
        let own = w.projects[p].external_rights.as_ref();
        if removed
            .iter()
            .any(|r| w.ceiling.contains(r) && own.is_none_or(|n| n.contains(r)))
        {
            c.add(Kind::ExternalAncestorCut);
        }
        let members = counted(w, u, p);
        if members.iter().any(|m| m.profile >= w.seeded) {
            c.add(Kind::ExternalStrongProfile);
        }
        if members.is_empty()
            && !global.contains("ADMIN")
            && (global.contains("VIEW_ALL_PROJECTS") || global.contains("VIEW_DEPARTMENT_PROJECTS"))
        {
            c.add(Kind::ExternalGlobalKept);
        }
    }
}

/// The users and references one session's view meets.
fn users_coverage(v: &View, c: &mut Coverage) {
    let (w, u) = (v.w, v.u);
    let visible = v.visible();
    if !v.global.contains("ADMIN") {
        for o in (0..w.users.len()).filter(|&o| o != u) {
            if !v.users.contains(&o) {
                c.add(Kind::UserHidden);
                continue;
            }
            c.add(Kind::UserVisible);
            let mine: Vec<&Membership> = w
                .memberships
                .iter()
                .filter(|m| m.valid_today() && w.is_principal(m.principal, o))
                .collect();
            if !mine.iter().any(|m| visible.contains(&m.project)) {
                c.add(Kind::CoMemberAncestor);
            }
            if mine.iter().any(|m| {
                matches!(m.principal, Principal::Group(_))
                    && visible.iter().any(|&p| w.chain(p).contains(&m.project))
            }) {
                c.add(Kind::CoMemberGroup);
            }
        }
    }
    let mut reference = |o: usize| {
        if o != u {
            c.add(if v.users.contains(&o) {
                Kind::RefShown
            } else {
                Kind::RefNotVisible
            });
        }
    };
    for t in &w.tasks {
        if let (true, Some(a)) = (visible.contains(&t.project), t.assignee) {
            reference(a);
        }
    }
    for e in w.entries.iter().filter(|e| v.entry_visible(e)) {
        reference(e.user);
    }
}

/// Counts the cases one user's view exercises, from the model alone.
fn view_coverage(v: &View, c: &mut Coverage) {
    let (w, u, eff) = (v.w, v.u, &v.eff);
    let global = &w.profiles[w.users[u].profile];
    let has = |r: &str| v.global.contains(r);
    if has("ADMIN") {
        c.add(Kind::Admin);
        return;
    }
    let mine: Vec<&Membership> = w
        .memberships
        .iter()
        .filter(|m| w.is_principal(m.principal, u))
        .collect();
    let view_all = has("VIEW_ALL_PROJECTS");
    let dept_right = has("VIEW_DEPARTMENT_PROJECTS");
    for (p, rights) in eff.iter().enumerate() {
        let project = &w.projects[p];
        let visible = rights.is_some();
        c.add(if visible {
            Kind::ProjectVisible
        } else {
            Kind::ProjectInvisible
        });
        let chain = w.chain(p);
        let mut ancestors = Vec::new();
        let mut cur = project.parent;
        while let Some(a) = cur {
            ancestors.push(a);
            cur = w.projects[a].parent;
        }
        let counted: Vec<&&Membership> = mine
            .iter()
            .filter(|m| m.valid_today() && chain.contains(&m.project))
            .collect();
        if visible {
            if counted.iter().any(|m| m.project == p) {
                c.add(Kind::DirectMembership);
            }
            if counted.iter().any(|m| m.project != p) {
                c.add(Kind::InheritedMembership);
            }
            if counted
                .iter()
                .any(|m| matches!(m.principal, Principal::Group(_)))
            {
                c.add(Kind::GroupMembership);
            }
            if counted.iter().any(|m| m.from == Some(0)) {
                c.add(Kind::FirstDay);
            }
            if counted.iter().any(|m| m.until == Some(0)) {
                c.add(Kind::LastDay);
            }
        }
        if mine.iter().any(|m| {
            m.valid_today() && ancestors.contains(&m.project) && !chain.contains(&m.project)
        }) {
            c.add(Kind::RoomStopped);
        }
        for m in mine.iter().filter(|m| chain.contains(&m.project)) {
            if m.from.is_some_and(|f| f > 0) {
                c.add(Kind::NotYetValid);
            }
            if m.until.is_some_and(|u| u < 0) {
                c.add(Kind::Expired);
            }
        }
        let dept_match = matches!((w.users[u].dept, project.dept), (Some(ud), Some(pd)) if w.dept_within(pd, ud));
        let dept_reach = dept_right && dept_match;
        if visible && dept_reach && counted.is_empty() && !view_all {
            c.add(Kind::DepartmentRight);
        }
        if !visible
            && dept_right
            && !dept_match
            && w.users[u].dept.is_some()
            && project.dept.is_some()
        {
            c.add(Kind::OtherDepartment);
        }
        if visible && view_all && counted.is_empty() {
            c.add(Kind::AllProjects);
        }
        let edit = has("EDIT_ALL_PROJECTS") || (has("EDIT_DEPARTMENT_PROJECTS") && dept_match);
        if visible && edit {
            let from_members: BTreeSet<&str> = counted
                .iter()
                .flat_map(|m| w.profiles[m.profile].iter().copied())
                .collect();
            if global.iter().any(|r| {
                is_project_right(r) && !READ_RIGHTS.contains(r) && !from_members.contains(r)
            }) {
                c.add(Kind::EditRights);
            }
        }
        if visible && matches!(project.status, "POTENTIAL" | "CLOSED") {
            c.add(Kind::History);
        }
        if !visible && (dept_reach || !counted.is_empty()) {
            c.add(Kind::StatusHidden);
        }
        // Figures of a visible project.
        if visible {
            for (field, any) in FIGURES {
                let shown = v.project_figure_shown(p, field, any);
                figure_coverage(c, field, shown, || v.holds_everywhere(p, &any[1..]));
                if !shown && field == "budget" {
                    c.add(Kind::BudgetHidden);
                }
                if !shown && field != "budget" && v.holds(p, any) {
                    c.add(Kind::RollUpHidden);
                }
            }
        }
    }
    for t in w.tasks.iter().filter(|t| eff[t.project].is_some()) {
        for (field, any) in &FIGURES[1..] {
            let shown = v.holds(t.project, any);
            figure_coverage(c, field, shown, || v.holds(t.project, &any[1..]));
        }
    }
    for e in &w.entries {
        let p = w.tasks[e.task].project;
        if eff[p].is_none() {
            continue;
        }
        match (e.user == u, v.entry_visible(e)) {
            (true, _) => c.add(Kind::OwnEntry),
            (false, true) => c.add(Kind::OthersEntry),
            (false, false) => c.add(Kind::OthersEntryHidden),
        }
        if v.entry_visible(e) {
            if !v.hours_shown(e) {
                c.add(Kind::HoursHidden);
            }
            if !v.cost_shown(e) {
                c.add(Kind::EntryCostHidden);
            }
        }
    }
    for d in &w.documents {
        let Some(rights) = &eff[d.project] else {
            continue;
        };
        let manager = rights.contains("MANAGE_DOCUMENTS");
        if d.internal && !rights.contains("VIEW_INTERNAL_DOCUMENTS") {
            c.add(Kind::InternalHidden);
            if manager {
                c.add(Kind::InternalDespiteManage);
            }
            continue;
        }
        let around = enclosing(d.folder);
        let admits = |f: &str| w.folder_admits(u, d.project, f);
        let ruled: Vec<&str> = around
            .iter()
            .copied()
            .filter(|f| w.ruled(d.project, f))
            .collect();
        let visible = w.document_visible(u, d, eff);
        if !visible {
            if ruled.contains(&d.folder) && !admits(d.folder) {
                c.add(Kind::OwnFolderRefuses);
            } else {
                c.add(Kind::EnclosingFolderRefuses);
            }
        } else if !ruled.is_empty() {
            if ruled.iter().all(|f| admits(f)) {
                if ruled.contains(&d.folder) {
                    c.add(Kind::FolderRuleAdmits);
                }
                if ruled.iter().any(|f| *f != d.folder) {
                    c.add(Kind::EnclosingRuleAdmits);
                }
            } else {
                c.add(Kind::ManageDocuments);
            }
        }
        // A folder whose name starts the document's without enclosing it, refusing the
        // reader: it must not hide the document.
        if visible
            && !manager
            && w.rules.iter().any(|r| {
                r.project == d.project
                    && d.folder.starts_with(r.folder)
                    && !around.contains(&r.folder)
                    && !admits(r.folder)
            })
        {
            c.add(Kind::BesideRuledFolder);
        }
    }
}

/// Counts one guarded figure: shown or hidden, by kind, and shown through the validated
/// right alone (`full` tells whether the full right, SEE_WORK or SEE_COST, holds too).
fn figure_coverage(c: &mut Coverage, field: &str, shown: bool, full: impl Fn() -> bool) {
    if shown {
        c.add(Kind::FigureShown);
        if field.starts_with("validated") && !full() {
            c.add(Kind::ValidatedOnly);
        }
        return;
    }
    c.add(Kind::FigureHidden);
    if field.ends_with("Cost") || field == "budget" {
        c.add(Kind::CostHidden);
    } else {
        c.add(Kind::WorkHidden);
    }
}

// ---------------------------------------------------------------------------------------
// Comparing the server with the model.
// ---------------------------------------------------------------------------------------

/// Disagreements found in one world, by category.
struct Findings {
    ignore: BTreeSet<String>,
    items: Vec<(&'static str, String)>,
}

impl Findings {
    fn push(&mut self, category: &'static str, detail: String) {
        self.items.push((category, detail));
    }

    /// Files the findings from index `from` on under `category` instead: every
    /// disagreement about a request of a kind the category names.
    fn retag(&mut self, from: usize, category: &'static str) {
        for item in &mut self.items[from..] {
            item.0 = category;
        }
    }

    /// The findings not in an ignored category.
    fn kept(&self) -> Vec<&(&'static str, String)> {
        self.items
            .iter()
            .filter(|(c, _)| !self.ignore.contains(*c))
            .collect()
    }
}

/// A figure as an integer number of hundredths (hours are floats, money decimal strings).
fn hundredths(v: &Value) -> Option<i64> {
    let x = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.parse::<f64>().ok()?,
        _ => return None,
    };
    Some((x * 100.0).round() as i64)
}

fn names(set: &BTreeSet<usize>, prefix: &str) -> String {
    let v: Vec<String> = set.iter().map(|i| format!("{prefix}{i}")).collect();
    format!("[{}]", v.join(", "))
}

/// The ids a list answered, as world indices (unknown ids are reported).
fn listed(
    data: &Value,
    list: &str,
    index: &HashMap<String, usize>,
    who: &str,
    found: &mut Findings,
    category: &'static str,
) -> BTreeMap<usize, Value> {
    let mut out = BTreeMap::new();
    for node in data[list]["nodes"].as_array().into_iter().flatten() {
        let id = node["id"].as_str().unwrap_or_default();
        match index.get(id) {
            Some(&i) => {
                out.insert(i, node.clone());
            }
            None => found.push(category, format!("{who}: {list} lists unknown id {id}")),
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn compare_set(
    found: &mut Findings,
    category: &'static str,
    who: &str,
    list: &str,
    prefix: &str,
    expected: &BTreeSet<usize>,
    actual: &BTreeMap<usize, Value>,
    total: &Value,
) {
    let actual_set: BTreeSet<usize> = actual.keys().copied().collect();
    if &actual_set != expected {
        let missing: BTreeSet<usize> = expected.difference(&actual_set).copied().collect();
        let extra: BTreeSet<usize> = actual_set.difference(expected).copied().collect();
        found.push(
            category,
            format!(
                "{who}: {list}: model expects {}, server answered {} (missing {}, extra {})",
                names(expected, prefix),
                names(&actual_set, prefix),
                names(&missing, prefix),
                names(&extra, prefix)
            ),
        );
    }
    if total.as_u64() != Some(expected.len() as u64) {
        found.push(
            "totalCount",
            format!(
                "{who}: {list}.totalCount is {total}, model expects {}",
                expected.len()
            ),
        );
    }
}

/// Checks one guarded field: null exactly when the model hides it, the right value when
/// shown. Answers whether it came back null.
#[allow(clippy::too_many_arguments)]
fn check_field(
    found: &mut Findings,
    who: &str,
    what: &str,
    field: &str,
    node: &Value,
    shown: bool,
    value: i64,
    why: &str,
) -> bool {
    let v = &node[field];
    let null = v.is_null();
    if null == shown {
        found.push(
            if what.starts_with('P') {
                "project-figure"
            } else if what.starts_with('T') {
                "task-figure"
            } else {
                "entry-field"
            },
            format!(
                "{who}: {what}.{field} is {v}, model expects it {} ({why})",
                if shown { "shown" } else { "hidden (null)" }
            ),
        );
    } else if shown && hundredths(v) != Some(value) {
        found.push(
            "figure-value",
            format!("{who}: {what}.{field} is {v}, model expects {value} hundredths"),
        );
    }
    null
}

/// Checks a reference to user `target`: the user when the request's `users` list holds
/// it, else null. Answers whether it came back null.
fn check_reference(
    found: &mut Findings,
    who: &str,
    what: &str,
    v: &Value,
    target: usize,
    view: &View,
    ids: &Ids,
) -> bool {
    let shown = view.users.contains(&target);
    let null = v.is_null();
    if null == shown {
        found.push(
            "reference",
            format!(
                "{who}: {what} is {v}, model expects {} (U{target} is {} the users the request sees, {})",
                if shown { format!("U{target}") } else { "null (NOT_VISIBLE)".to_string() },
                if shown { "among" } else { "not among" },
                names(&view.users, "U")
            ),
        );
    } else if shown && v["id"] != gid("User", ids.of(target)).as_str() {
        found.push(
            "reference",
            format!("{who}: {what} is {v}, model expects U{target}"),
        );
    }
    null
}

fn rights_text(r: Option<&BTreeSet<&str>>) -> String {
    match r {
        None => "invisible".to_string(),
        Some(r) => {
            let v: Vec<&str> = r.iter().copied().collect();
            format!("{{{}}}", v.join(", "))
        }
    }
}

/// A JSON list of right names as a set.
fn right_set(v: &Value) -> BTreeSet<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The GraphQL document a request runs. Plain: the lists with plain selections (which the
/// server's synchronous pass answers), `viewer`, `project(id:)` and `node(id:)` for every
/// item of the world, and `explainAccess` for each project the model says the request
/// sees. Forced: the lists and `viewer` only, each list's selection behind a fragment
/// spread or inline fragment carrying `@include(if: $v)`, which the synchronous pass
/// refuses, so that the resolvers answer.
fn world_query(w: &World, ids: &Ids, view: &View, forced: bool) -> String {
    let figures: Vec<&str> = FIGURES.iter().map(|(f, _)| *f).collect();
    let lists: [(&str, &str, Option<&str>, String); 6] = [
        (
            "projects(first: 500)",
            "Project",
            Some("ProjectFields"),
            format!("id viewerRights {}", figures.join(" ")),
        ),
        (
            "tasks(first: 500)",
            "Task",
            None,
            format!("id {}", figures[1..].join(" ")),
        ),
        (
            "ta: tasks(first: 500)",
            "Task",
            Some("TaskAssignee"),
            "id assignee { id }".to_string(),
        ),
        (
            "timeEntries(first: 500)",
            "TimeEntry",
            Some("EntryFields"),
            "id hours cost user { id }".to_string(),
        ),
        ("documents(first: 500)", "Document", None, "id".to_string()),
        ("users(first: 500)", "User", None, "id".to_string()),
    ];
    let mut s = String::from(if forced {
        "query($v: Boolean!) {\n"
    } else {
        "query {\n"
    });
    let mut fragments = String::new();
    for (head, ty, named, sel) in &lists {
        let nodes = match (forced, named) {
            (false, _) => sel.clone(),
            (true, Some(name)) => {
                let _ = writeln!(fragments, "fragment {name} on {ty} {{ {sel} }}");
                format!("...{name} @include(if: $v)")
            }
            (true, None) => format!("... on {ty} @include(if: $v) {{ {sel} }}"),
        };
        let _ = writeln!(s, "  {head} {{ totalCount nodes {{ {nodes} }} }}");
    }
    s.push_str("  viewer { globalRights readOnly user { id } impersonatedBy { id } }\n");
    if !forced {
        for i in 0..w.projects.len() {
            let id = gid("Project", ids.of(i));
            let _ = writeln!(s, "  p{i}: project(id: \"{id}\") {{ id }}");
            let _ = writeln!(s, "  np{i}: node(id: \"{id}\") {{ id }}");
        }
        for (kind, alias, n) in [
            ("Task", "nt", w.tasks.len()),
            ("TimeEntry", "ne", w.entries.len()),
            ("Document", "nd", w.documents.len()),
        ] {
            for i in (0..n).filter(|_| view.items_by_id) {
                let _ = writeln!(
                    s,
                    "  {alias}{i}: node(id: \"{}\") {{ id }}",
                    gid(kind, ids.of(i))
                );
            }
        }
        for p in view.explained() {
            let _ = writeln!(
                s,
                "  x{p}: explainAccess(projectId: \"{}\") {{ rights removedByCeiling }}",
                gid("Project", ids.of(p))
            );
        }
    }
    s.push_str("}\n");
    s.push_str(&fragments);
    s
}

/// The response keys both documents of [`world_query`] ask for.
const SHARED_KEYS: [&str; 7] = [
    "projects",
    "tasks",
    "ta",
    "timeEntries",
    "documents",
    "users",
    "viewer",
];

/// `extensions.redacted`, sorted, for comparing two answers.
fn redacted_sorted(body: &Value) -> Vec<String> {
    let mut v: Vec<String> = body["extensions"]["redacted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| selected(r["field"].as_str().unwrap_or_default()))
        .map(Value::to_string)
        .collect();
    v.sort();
    v
}

/// Is `field` (`Type.field`) one that the lists of [`world_query`] select and that may be
/// hidden: a guarded figure, a time entry's hours or cost, or a user reference?
fn selected(field: &str) -> bool {
    let Some((ty, name)) = field.split_once('.') else {
        return false;
    };
    match ty {
        "Project" => FIGURES.iter().any(|(f, _)| *f == name),
        "Task" => FIGURES[1..].iter().any(|(f, _)| *f == name) || name == "assignee",
        "TimeEntry" => matches!(name, "hours" | "cost" | "user"),
        _ => false,
    }
}

/// Both resolution paths answer the same data and the same `extensions.redacted` (for the
/// fields both select).
fn compare_paths(who: &str, plain: &Value, forced: &Value, found: &mut Findings) {
    for key in SHARED_KEYS {
        let (a, b) = (&plain["data"][key], &forced["data"][key]);
        if a != b {
            found.push(
                "paths",
                format!("{who}: {key} differs between the synchronous pass ({a}) and the resolvers ({b})"),
            );
        }
    }
    let (a, b) = (redacted_sorted(plain), redacted_sorted(forced));
    if a != b {
        found.push(
            "paths",
            format!("{who}: extensions.redacted differs between the synchronous pass ({a:?}) and the resolvers ({b:?})"),
        );
    }
}

/// A refused "view as": FORBIDDEN, no data.
fn check_refused(who: &str, why: Refusal, status: u16, body: &Value, found: &mut Findings) {
    let code = body["errors"][0]["extensions"]["code"].as_str();
    if status != 403 || code != Some("FORBIDDEN") || !body["data"].is_null() {
        found.push(
            "view-as",
            format!("{who}: model refuses ({why:?}) with FORBIDDEN, server answered status {status}: {body}"),
        );
    }
}

/// Compares one answer with the model's view.
fn check_view(
    w: &World,
    ids: &Ids,
    view: &View,
    plain: bool,
    status: u16,
    body: &Value,
    found: &mut Findings,
) {
    let who = format!(
        "{} [{}]",
        view.who,
        if plain { "plain" } else { "resolvers" }
    );
    let who = who.as_str();
    if status != 200 || body.get("errors").is_some() || !body["data"].is_object() {
        found.push("errors", format!("{who}: status {status}, answer {body}"));
        return;
    }
    let data = &body["data"];
    let u = view.u;
    let eff = &view.eff;
    let index = |kind: &str, n: usize| -> HashMap<String, usize> {
        (0..n).map(|i| (gid(kind, ids.of(i)), i)).collect()
    };
    let holds = |p: usize, any: &[&str]| view.holds(p, any);
    // Nulls per guarded field, and per reference field, for extensions.redacted.
    let mut nulls: BTreeMap<String, u64> = BTreeMap::new();
    let mut refs: BTreeMap<String, u64> = BTreeMap::new();

    // 1. Visible projects.
    let visible = view.visible();
    let projects = listed(
        data,
        "projects",
        &index("Project", w.projects.len()),
        who,
        found,
        "visible",
    );
    compare_set(
        found,
        "visible",
        who,
        "projects",
        "P",
        &visible,
        &projects,
        &data["projects"]["totalCount"],
    );
    if plain {
        for p in 0..w.projects.len() {
            let by_id = &data[format!("p{p}")];
            let by_node = &data[format!("np{p}")];
            let id = gid("Project", ids.of(p));
            for (category, what, v) in [
                ("project-by-id", "project", by_id),
                ("node-by-id", "node", by_node),
            ] {
                let ok = if visible.contains(&p) {
                    v["id"] == id.as_str()
                } else {
                    v.is_null()
                };
                if !ok {
                    found.push(
                        category,
                        format!(
                            "{who}: {what}(id: P{p}) answered {v}, model says P{p} is {}",
                            if visible.contains(&p) {
                                "visible"
                            } else {
                                "invisible"
                            }
                        ),
                    );
                }
            }
        }
    }
    // 2 and 3. viewerRights and project figures.
    for (&p, node) in &projects {
        let Some(rights) = &eff[p] else { continue };
        let actual = right_set(&node["viewerRights"]);
        if &actual != rights {
            let missing: Vec<&str> = rights.difference(&actual).copied().collect();
            let extra: Vec<&str> = actual.difference(rights).copied().collect();
            found.push(
                "viewerRights",
                format!(
                    "{who}: P{p}.viewerRights is {}, model expects {} (missing {missing:?}, extra {extra:?})",
                    rights_text(Some(&actual)),
                    rights_text(Some(rights))
                ),
            );
        }
        let sub = w.subtree(p);
        let tasks_in = |f: usize| -> i64 {
            w.tasks
                .iter()
                .filter(|t| sub.contains(&t.project))
                .map(|t| t.figures[f])
                .sum()
        };
        let entries_in = |cost: bool| -> i64 {
            w.entries
                .iter()
                .filter(|e| sub.contains(&w.tasks[e.task].project))
                .map(|e| if cost { e.cost } else { e.hours })
                .sum()
        };
        for (field, any) in FIGURES {
            let shown = view.project_figure_shown(p, field, any);
            let why = if field == "budget" {
                format!("{any:?} on P{p}")
            } else {
                format!(
                    "{any:?} on each of {:?}",
                    sub.iter().map(|q| format!("P{q}")).collect::<Vec<_>>()
                )
            };
            let value = match field {
                "budget" => w.projects[p].budget,
                "validatedWork" => tasks_in(0),
                "plannedWork" => tasks_in(1),
                "leftWork" => tasks_in(2),
                "validatedCost" => tasks_in(3),
                "plannedCost" => tasks_in(4),
                "realWork" => entries_in(false),
                _ => entries_in(true),
            };
            if check_field(
                found,
                who,
                &format!("P{p}"),
                field,
                node,
                shown,
                value,
                &why,
            ) {
                *nulls.entry(format!("Project.{field}")).or_default() += 1;
            }
        }
    }

    // Tasks: visible with their project; figures with the right on that project.
    let expected_tasks: BTreeSet<usize> = (0..w.tasks.len())
        .filter(|&t| visible.contains(&w.tasks[t].project))
        .collect();
    let tasks = listed(
        data,
        "tasks",
        &index("Task", w.tasks.len()),
        who,
        found,
        "task-visible",
    );
    compare_set(
        found,
        "task-visible",
        who,
        "tasks",
        "T",
        &expected_tasks,
        &tasks,
        &data["tasks"]["totalCount"],
    );
    for (&t, node) in &tasks {
        let task = &w.tasks[t];
        if !visible.contains(&task.project) {
            continue;
        }
        for (field, any) in &FIGURES[1..] {
            let entries_on = |cost: bool| -> i64 {
                w.entries
                    .iter()
                    .filter(|e| e.task == t)
                    .map(|e| if cost { e.cost } else { e.hours })
                    .sum()
            };
            let value = match *field {
                "validatedWork" => task.figures[0],
                "plannedWork" => task.figures[1],
                "leftWork" => task.figures[2],
                "validatedCost" => task.figures[3],
                "plannedCost" => task.figures[4],
                "realWork" => entries_on(false),
                _ => entries_on(true),
            };
            let why = format!("{any:?} on P{}", task.project);
            if check_field(
                found,
                who,
                &format!("T{t}"),
                field,
                node,
                holds(task.project, any),
                value,
                &why,
            ) {
                *nulls.entry(format!("Task.{field}")).or_default() += 1;
            }
        }
    }
    // Task.assignee: the user when the request sees them, else null.
    let assigned = listed(
        data,
        "ta",
        &index("Task", w.tasks.len()),
        who,
        found,
        "task-visible",
    );
    compare_set(
        found,
        "task-visible",
        who,
        "ta: tasks",
        "T",
        &expected_tasks,
        &assigned,
        &data["ta"]["totalCount"],
    );
    for (&t, node) in &assigned {
        if !expected_tasks.contains(&t) {
            continue;
        }
        let v = &node["assignee"];
        match w.tasks[t].assignee {
            None if !v.is_null() => found.push(
                "reference",
                format!("{who}: T{t}.assignee is {v}, the task has none"),
            ),
            None => {}
            Some(a) if check_reference(found, who, &format!("T{t}.assignee"), v, a, view, ids) => {
                *refs.entry("Task.assignee".into()).or_default() += 1;
            }
            Some(_) => {}
        }
    }

    // 4. Time entries: own on visible projects, others' with VIEW_TIMESHEETS.
    let expected_entries: BTreeSet<usize> = (0..w.entries.len())
        .filter(|&i| view.entry_visible(&w.entries[i]))
        .collect();
    let entries = listed(
        data,
        "timeEntries",
        &index("TimeEntry", w.entries.len()),
        who,
        found,
        "entry-visible",
    );
    compare_set(
        found,
        "entry-visible",
        who,
        "timeEntries",
        "E",
        &expected_entries,
        &entries,
        &data["timeEntries"]["totalCount"],
    );
    for (&i, node) in &entries {
        let e = &w.entries[i];
        if !view.entry_visible(e) {
            continue;
        }
        let p = w.tasks[e.task].project;
        let own = if e.user == u {
            "own entry"
        } else {
            "another's entry"
        };
        if check_field(
            found,
            who,
            &format!("E{i}"),
            "hours",
            node,
            view.hours_shown(e),
            e.hours,
            &format!("{own}, SEE_WORK on P{p}"),
        ) {
            *nulls.entry("TimeEntry.hours".into()).or_default() += 1;
        }
        if check_field(
            found,
            who,
            &format!("E{i}"),
            "cost",
            node,
            view.cost_shown(e),
            e.cost,
            &format!("{own}, SEE_COST on P{p}"),
        ) {
            *nulls.entry("TimeEntry.cost".into()).or_default() += 1;
        }
        if check_reference(
            found,
            who,
            &format!("E{i}.user"),
            &node["user"],
            e.user,
            view,
            ids,
        ) {
            *refs.entry("TimeEntry.user".into()).or_default() += 1;
        }
    }

    // 5. Documents.
    let expected_docs: BTreeSet<usize> = (0..w.documents.len())
        .filter(|&i| w.document_visible(u, &w.documents[i], eff))
        .collect();
    let docs = listed(
        data,
        "documents",
        &index("Document", w.documents.len()),
        who,
        found,
        "document-visible",
    );
    compare_set(
        found,
        "document-visible",
        who,
        "documents",
        "DOC",
        &expected_docs,
        &docs,
        &data["documents"]["totalCount"],
    );

    // node(id:) of tasks, entries and documents.
    if plain && view.items_by_id {
        for (kind, alias, prefix, expected) in [
            ("Task", "nt", "T", &expected_tasks),
            ("TimeEntry", "ne", "E", &expected_entries),
            ("Document", "nd", "DOC", &expected_docs),
        ] {
            let n = match kind {
                "Task" => w.tasks.len(),
                "TimeEntry" => w.entries.len(),
                _ => w.documents.len(),
            };
            for i in 0..n {
                let v = &data[format!("{alias}{i}")];
                let ok = if expected.contains(&i) {
                    v["id"] == gid(kind, ids.of(i)).as_str()
                } else {
                    v.is_null()
                };
                if !ok {
                    found.push(
                        "node-by-id",
                        format!(
                            "{who}: node(id: {prefix}{i}) answered {v}, model says {prefix}{i} is {}",
                            if expected.contains(&i) {
                                "visible"
                            } else {
                                "invisible"
                            }
                        ),
                    );
                }
            }
        }
    }

    // 6. Users: self, co-members of a visible project, everyone for ADMIN.
    let users = listed(
        data,
        "users",
        &index("User", w.users.len()),
        who,
        found,
        "users",
    );
    compare_set(
        found,
        "users",
        who,
        "users",
        "U",
        &view.users,
        &users,
        &data["users"]["totalCount"],
    );

    // 7. The viewer: global rights, who, by whom, read-only.
    let viewer = &data["viewer"];
    let global = right_set(&viewer["globalRights"]);
    if global != view.global {
        found.push(
            "globalRights",
            format!(
                "{who}: viewer.globalRights is {}, model expects {}",
                rights_text(Some(&global)),
                rights_text(Some(&view.global))
            ),
        );
    }
    let me = gid("User", ids.of(u));
    let by = view.impersonator.map(|a| gid("User", ids.of(a)));
    if viewer["user"]["id"].as_str() != Some(me.as_str())
        || viewer["impersonatedBy"]["id"].as_str() != by.as_deref()
        || viewer["readOnly"].as_bool() != Some(view.read_only)
    {
        found.push(
            "viewer",
            format!(
                "{who}: viewer is {viewer}, model expects user U{u}, impersonatedBy {}, readOnly {}",
                view.impersonator
                    .map_or("null".to_string(), |a| format!("U{a}")),
                view.read_only
            ),
        );
    }

    // 8. explainAccess of the caller's own visible projects.
    if plain {
        for p in &view.explained() {
            let x = &data[format!("x{p}")];
            let rights = right_set(&x["rights"]);
            if Some(&rights) != eff[*p].as_ref() {
                found.push(
                    if view.removed[*p].is_some() {
                        "explain"
                    } else {
                        "explain-view-as-key"
                    },
                    format!(
                        "{who}: explainAccess(P{p}).rights is {}, model expects {}",
                        rights_text(Some(&rights)),
                        rights_text(eff[*p].as_ref())
                    ),
                );
            }
            if let Some(removed) = &view.removed[*p] {
                let actual = right_set(&x["removedByCeiling"]);
                if &actual != removed {
                    found.push(
                        "removedByCeiling",
                        format!(
                            "{who}: explainAccess(P{p}).removedByCeiling is {}, model expects {}",
                            rights_text(Some(&actual)),
                            rights_text(Some(removed))
                        ),
                    );
                }
            }
        }
    }

    // 9. extensions.redacted: one entry per hidden field, counting its nulls; guarded
    //    fields name a right, references the reason NOT_VISIBLE.
    let mut redacted: BTreeMap<String, (u64, BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for r in body["extensions"]["redacted"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let field = r["field"].as_str().unwrap_or_default().to_string();
        let entry = redacted.entry(field).or_default();
        entry.0 += r["count"].as_u64().unwrap_or(0);
        if let Some(right) = r.get("right") {
            entry.1.insert(right.as_str().unwrap_or("?").to_string());
        }
        if let Some(reason) = r.get("reason") {
            entry.2.insert(reason.as_str().unwrap_or("?").to_string());
        }
    }
    let allowed = |field: &str| -> &'static [&'static str] {
        let name = field.rsplit('.').next().unwrap_or_default();
        match name {
            "hours" => &["SEE_WORK"],
            "cost" => &["SEE_COST"],
            _ => FIGURES
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, a)| *a)
                .unwrap_or(&[]),
        }
    };
    let not_visible: BTreeSet<String> = ["NOT_VISIBLE".to_string()].into();
    for (field, n) in nulls.iter().chain(&refs) {
        let reference = USER_REFERENCES.contains(&field.as_str());
        match redacted.get(field) {
            None => found.push(
                "redacted",
                format!(
                    "{who}: {n} null {field} but no extensions.redacted entry for it (got {})",
                    body["extensions"]
                ),
            ),
            Some((count, rights, reasons)) => {
                if count != n {
                    found.push(
                        "redacted",
                        format!("{who}: {n} null {field}, extensions.redacted counts {count}"),
                    );
                }
                if reference && (!rights.is_empty() || reasons != &not_visible) {
                    found.push(
                        "redacted",
                        format!("{who}: extensions.redacted gives {field} rights {rights:?} and reasons {reasons:?}, expected the reason NOT_VISIBLE alone"),
                    );
                }
                if !reference
                    && (!reasons.is_empty()
                        || rights.iter().any(|r| !allowed(field).contains(&r.as_str())))
                {
                    found.push(
                        "redacted",
                        format!("{who}: extensions.redacted gives {field} rights {rights:?} and reasons {reasons:?}, expected one of {:?}", allowed(field)),
                    );
                }
            }
        }
    }
    for field in redacted.keys() {
        if !nulls.contains_key(field) && !refs.contains_key(field) {
            found.push(
                if selected(field) {
                    "redacted"
                } else {
                    "redacted-unselected"
                },
                format!("{who}: extensions.redacted lists {field}, but no {field} came back null"),
            );
        }
    }
}

/// POSTs `body` (one GraphQL request or a batch) with `token`, and the "view as" header
/// when given; answers the status and the JSON answer.
async fn post(app: &TestApp, token: &str, view_as: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app
        .client
        .post(&app.url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .bearer_auth(token)
        .json(body);
    if let Some(target) = view_as {
        req = req.header("x-portico-view-as", target);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Loads a world, runs every request of it (each through both resolution paths), and
/// answers the disagreements as one message.
async fn check_world(
    app: &TestApp,
    w: &World,
    seq: u64,
    ignore: &BTreeSet<String>,
) -> Result<(), String> {
    let ids = Ids {
        base: (seq as i64) * 100,
    };
    let sessions = load_world(&app.state.db, w, &ids)
        .await
        .map_err(|e| format!("loading the world failed: {e}"))?;
    let mut found = Findings {
        ignore: ignore.clone(),
        items: Vec::new(),
    };
    for r in requests(w, &ids, &sessions) {
        match &r.expect {
            Err(why) => {
                let body = json!({ "query": "{ viewer { user { id } } }" });
                let (status, body) = post(app, &r.token, r.view_as.as_deref(), &body).await;
                check_refused(&r.who, *why, status, &body, &mut found);
            }
            Ok(view) => {
                let from = found.items.len();
                // Both paths in one batch: the same credential, two operations.
                let batch = json!([
                    { "query": world_query(w, &ids, view, false) },
                    { "query": world_query(w, &ids, view, true), "variables": { "v": true } },
                ]);
                let (status, body) = post(app, &r.token, r.view_as.as_deref(), &batch).await;
                let Some([plain, forced]) = body.as_array().map(Vec::as_slice) else {
                    found.push(
                        if r.view_as.is_some() {
                            "view-as"
                        } else {
                            "errors"
                        },
                        format!(
                            "{}: model expects an answer, server answered status {status}: {body}",
                            r.who
                        ),
                    );
                    continue;
                };
                check_view(w, &ids, view, true, status, plain, &mut found);
                check_view(w, &ids, view, false, status, forced, &mut found);
                compare_paths(&r.who, plain, forced, &mut found);
                let external_admin =
                    |u: usize| w.users[u].external && w.global_rights(u).contains("ADMIN");
                if external_admin(view.u) || view.impersonator.is_some_and(external_admin) {
                    // An external user whose ceiling lets ADMIN through: still under the
                    // ceiling on every project.
                    found.retag(from, "external-admin");
                }
            }
        }
    }
    let kept = found.kept();
    if kept.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("the server disagrees with the model:\n");
    for (category, detail) in kept {
        let _ = writeln!(msg, "  [{category}] {detail}");
    }
    msg.push_str("model's effective rights (what the ceiling removed), and users seen:\n");
    for u in 0..w.users.len() {
        let v = View::session(w, u);
        for p in 0..w.projects.len() {
            let _ = writeln!(
                msg,
                "  U{u} on P{p}: {}{}",
                rights_text(w.effective(u, p).as_ref()),
                match &v.removed[p] {
                    Some(r) if !r.is_empty() => format!(" (removed {})", rights_text(Some(r))),
                    _ => String::new(),
                }
            );
        }
        let _ = writeln!(
            msg,
            "  U{u} global rights {}, sees users {}",
            rights_text(Some(&v.global)),
            names(&v.users, "U")
        );
    }
    Err(msg)
}

/// Worlds per run unless `AUTHZ_MODEL_CASES` says otherwise; the coverage minimums of
/// [`KINDS`] hold for this many. Each world runs about eight requests (sessions, keys,
/// "view as"), each through both resolution paths, so that this many keep the run under a
/// minute on PostgreSQL.
const DEFAULT_CASES: u32 = 80;

/// The seed of this run: `AUTHZ_MODEL_SEED` (decimal, or hex with `0x`) to replay one, else
/// a fresh one.
fn seed() -> u64 {
    match std::env::var("AUTHZ_MODEL_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("AUTHZ_MODEL_SEED={s}: {e}"))
        }
        _ => {
            use std::hash::{BuildHasher, Hash, Hasher};
            // RandomState is keyed from the OS's randomness, per process.
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            std::time::SystemTime::now().hash(&mut h);
            std::process::id().hash(&mut h);
            h.finish()
        }
    }
}

/// The runner of a run with `seed`: the same seed draws the same worlds in the same order.
fn runner(seed: u64, cases: u32) -> TestRunner {
    // splitmix64 spreads the seed over ChaCha's 32 bytes.
    let mut x = seed;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        max_shrink_time: 120_000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Writes a line to the process's stderr, past the test harness's capture, so that it
/// shows even when the test passes, hangs or is killed.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[test]
fn server_agrees_with_the_reference_authorization_model() {
    let _alone = crate::common::exclusive();
    let started = std::time::Instant::now();
    let cases: u32 = std::env::var("AUTHZ_MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let seed = seed();
    let replay = format!("AUTHZ_MODEL_SEED={seed} AUTHZ_MODEL_CASES={cases}");
    say(&format!(
        "authz_model: seed {seed}, {cases} worlds (replay with {replay})"
    ));
    let ignore: BTreeSet<String> = std::env::var("AUTHZ_MODEL_IGNORE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = rt.block_on(spawn_empty());
    let seq = AtomicU64::new(0);
    let worlds = AtomicUsize::new(0);
    let requests = AtomicUsize::new(0);
    let coverage = std::sync::Mutex::new(Coverage::new());
    let mut runner = runner(seed, cases);
    let result = runner.run(&world_strategy(), |w| {
        let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
        rt.block_on(check_world(&app, &w, n, &ignore))
            .map_err(TestCaseError::fail)?;
        worlds.fetch_add(1, Ordering::Relaxed);
        requests.fetch_add(
            w.users.len() + w.keys.len() + w.view_as.len(),
            Ordering::Relaxed,
        );
        coverage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .merge(&world_coverage(&w));
        Ok(())
    });
    let backend = if base_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "authz_model: seed {seed}: {} worlds agreed ({} requests, each through both resolution paths) on {backend} in {:.1?}",
        worlds.load(Ordering::Relaxed),
        requests.load(Ordering::Relaxed),
        started.elapsed()
    );
    drop(app);
    let coverage = coverage.into_inner().unwrap_or_else(|p| p.into_inner());
    if result.is_err() {
        println!("authz_model: coverage of the worlds that agreed before the failure:");
    }
    println!("{}", coverage.report());
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, w)) => panic!(
            "seed {seed} (replay with {replay}): smallest disagreeing world:\n{}{reason}",
            w.describe()
        ),
        Err(e) => panic!("seed {seed} (replay with {replay}): {e}"),
    }
    if cases >= DEFAULT_CASES {
        let short = coverage.short();
        assert!(
            short.is_empty(),
            "seed {seed} (replay with {replay}): the worlds exercised some cases too rarely:\n  {}",
            short.join("\n  ")
        );
    } else {
        println!(
            "authz_model: coverage minimums are for {DEFAULT_CASES} worlds or more: not checked"
        );
    }
}

/// The coverage minimums of [`KINDS`] hold for many seeds, not only the ones CI happens to
/// draw. Runs the generator and the model alone (no server), over seeds 1 to
/// `AUTHZ_MODEL_COVERAGE_SEEDS` (default 20); prints the fewest times each case occurred,
/// which is what to read when choosing a minimum.
#[test]
fn coverage_minimums_hold_for_many_seeds() {
    let seeds: u64 = std::env::var("AUTHZ_MODEL_COVERAGE_SEEDS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let mut fewest = vec![usize::MAX; KINDS.len()];
    let mut total = vec![0; KINDS.len()];
    let mut failures = Vec::new();
    for seed in 1..=seeds {
        let coverage = std::sync::Mutex::new(Coverage::new());
        runner(seed, DEFAULT_CASES)
            .run(&world_strategy(), |w| {
                coverage.lock().unwrap().merge(&world_coverage(&w));
                Ok(())
            })
            .expect("the model alone cannot fail");
        let coverage = coverage.into_inner().unwrap();
        for ((f, t), n) in fewest.iter_mut().zip(&mut total).zip(&coverage.0) {
            *f = (*f).min(*n);
            *t += n;
        }
        let short = coverage.short();
        if !short.is_empty() {
            failures.push(format!("seed {seed}: {}", short.join("; ")));
        }
    }
    for (((name, min), n), t) in KINDS.iter().zip(&fewest).zip(&total) {
        let mean = *t as u64 / seeds.max(1);
        println!(
            "authz_model: fewest {n:>6}, mean {mean:>6} over {seeds} seeds (min {min:>4})  {name}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
