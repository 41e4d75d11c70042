//! Property test of writes: the server against a reference model of `design/authorization.md`
//! ("Edges: writes, references, derived data, credentials"), over random worlds and random
//! sequences of mutations by random actors.
//!
//! Each case writes a random world straight into the database (departments, profiles,
//! INTERNAL and EXTERNAL users, groups, a project forest with rooms, statuses, departments and
//! `externalRights`, time-bound memberships, API keys that are read-only, narrowed to
//! projects and/or expiring), then runs 12 to 20 mutations (`addProjectMember` of a user or a
//! group, `removeProjectMember`, `updateProject` of `parentId`, `inheritMembers`,
//! `departmentId` or `externalRights`, `setProjectStatus`, `createProject`, `createApiKey`,
//! `revokeApiKey`), each by a random actor: a user's session, an API key, or a "view as"
//! session. For each step the model predicts allowed, or refused with its code (and field);
//! the server is called and must agree. A refusal must write nothing (every table of
//! `common::EVERY_TABLE` compared with `common::snapshot`, but for the audit event of a
//! "view as" request, which the page asks for). A mutation naming an object the actor cannot
//! see is sent again naming a missing one, and both answers must be the same (code, message,
//! field). After every second allowed step (and the last), every user and every API key
//! still in use reads its visible projects with `viewerRights`, its `users` and its
//! `groups`, compared with the model; a refused step is proven to change nothing by the
//! snapshots.
//!
//! The model is written from the design page alone; it calls nothing in `portico::authz`.
//! The escalation rule is checked on every day from today on, for every user and every
//! project that existed before the step, against what the caller (its credential: an API
//! key holds nothing after it expires and nothing outside its projects) held there that day.
//! Where the page is silent the model takes the reading that keeps data hidden (see
//! [`World`]); [`READINGS`] lists the silent points on which the server reads otherwise, and
//! `AUTHZ_WRITES_READINGS=name,...` makes the model take the server's reading there (to look
//! past a known disagreement). Random steps reach some paths too rarely, so part of the steps
//! are searched for: the generator tries candidate steps against the model and keeps one the
//! model refuses as an escalation (or allows while granting something). The sequence of model
//! states does not depend on the server (a disagreement ends the case), so each case is
//! planned up front, and `writes_coverage_minimums_hold_for_many_seeds` checks the coverage
//! minimums over many seeds without a server.
//!
//! Each run draws a fresh seed, printed at the start and on failure; `AUTHZ_WRITES_SEED`
//! replays it, `AUTHZ_WRITES_CASES` sets the number of cases (sequences).
//! `AUTHZ_WRITES_IGNORE=cat1,cat2` looks past disagreements of those categories
//! (`<mutation>:<what>`, e.g. `createProject:read-projects`; a bare mutation name or a bare
//! `<what>` matches all of its categories): a disagreement on what was allowed or written
//! (`outcome`, `wrote`) ends its case, others (`code`, `probe`, `answer`, `read-*`) do not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use portico::db::{q, Db};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{json, Value};

use crate::common::{base_url, snapshot, spawn_empty, TestApp, EVERY_TABLE};

// ---------------------------------------------------------------------------------------
// Rights (the Right enum of schema.graphql) and the page's default ceiling.
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

/// "Ceiling for external users", default.
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

/// Seeing a project at all. The page's escalation rule speaks of rights; a project one could
/// not see before and sees after is counted as gained too (the page: where silent, keep data
/// hidden), so the caller must see it itself.
const VISIBLE: &str = "(visibility)";

/// Days from today on which rights are compared before and after a change: every validity
/// bound of the worlds and of the steps lies within it, so rights are constant after it.
const HORIZON: i64 = 12;

/// A set of rights (and [`VISIBLE`]), one bit each in the order of [`RIGHTS`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Rights(u32);

const fn bit(i: usize) -> u32 {
    1 << i
}

/// The bits of the rights the model's hot path tests ([`RIGHTS`]'s order).
const B_ADMIN: u32 = bit(0);
const B_VIEW_ALL: u32 = bit(1);
const B_EDIT_ALL: u32 = bit(2);
const B_VIEW_DEPT: u32 = bit(3);
const B_EDIT_DEPT: u32 = bit(4);
const B_HISTORY: u32 = bit(5);
/// The project rights: the bits after the eight global ones.
const B_PROJECT: u32 = (bit(23) - 1) & !(bit(8) - 1);
/// [`READ_RIGHTS`].
const B_READ: u32 = bit(13) | bit(15) | bit(16) | bit(17) | bit(18) | bit(19) | bit(21);
const B_VISIBLE: u32 = bit(23);

impl Rights {
    fn new() -> Self {
        Rights(0)
    }
    fn bit(r: &str) -> u32 {
        if r == VISIBLE {
            return B_VISIBLE;
        }
        let i = RIGHTS
            .iter()
            .position(|x| *x == r)
            .unwrap_or_else(|| panic!("no right {r}"));
        bit(i)
    }
    fn contains(&self, r: &str) -> bool {
        self.0 & Self::bit(r) != 0
    }
    fn insert(&mut self, r: &str) {
        self.0 |= Self::bit(r);
    }
    fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        RIGHTS
            .iter()
            .copied()
            .chain([VISIBLE])
            .enumerate()
            .filter(|(i, _)| self.0 & bit(*i) != 0)
            .map(|(_, r)| r)
    }
    fn len(&self) -> usize {
        self.0.count_ones() as usize
    }
    fn is_empty(&self) -> bool {
        self.0 == 0
    }
    fn and(self, o: Rights) -> Rights {
        Rights(self.0 & o.0)
    }
    fn minus(self, o: Rights) -> Rights {
        Rights(self.0 & !o.0)
    }
}

impl FromIterator<&'static str> for Rights {
    fn from_iter<I: IntoIterator<Item = &'static str>>(it: I) -> Self {
        let mut r = Rights::new();
        for x in it {
            r.insert(x);
        }
        r
    }
}

impl std::fmt::Debug for Rights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The readings of points where the page is silent that the model can take either way:
/// `AUTHZ_WRITES_READINGS=name,...` makes it take the server's instead of its own (to look
/// past a known disagreement and keep model and server in step).
const READINGS: &[(&str, &str)] = &[
    (
        "room-creator",
        "a sub-project created as a room (inheritMembers=false) makes its creator a member \
         with its default profile (own reading: only a top-level project does, as the \
         CREATE_PROJECTS row says)",
    ),
    (
        "group-any-validity",
        "a group is visible through any membership of it on a visible project, valid or not \
         (own reading: only one that counts today, as for users)",
    ),
];

fn server_reading(name: &str) -> bool {
    static CHOSEN: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| {
        // By default the model takes the server's reading of `room-creator`, decided for
        // the product: the page's "creator's automatic membership on a project it has just
        // created" covers a room's creator, who would otherwise lose what it just made.
        let chosen: BTreeSet<String> = std::env::var("AUTHZ_WRITES_READINGS")
            .unwrap_or_else(|_| "room-creator".to_string())
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for c in &chosen {
            assert!(
                READINGS.iter().any(|(n, _)| n == c),
                "AUTHZ_WRITES_READINGS: no reading {c}; known: {:?}",
                READINGS.iter().map(|(n, _)| *n).collect::<Vec<_>>()
            );
        }
        chosen
    });
    chosen.contains(name)
}

fn all_project_rights() -> Rights {
    project_rights().iter().copied().collect()
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
    external: bool,
    dept: Option<usize>,
    profile: usize,
}

#[derive(Clone, Debug)]
struct Project {
    parent: Option<usize>,
    inherit: bool,
    status: &'static str,
    dept: Option<usize>,
    /// `externalRights`: none for no narrowing.
    ext: Option<Rights>,
}

#[derive(Clone, Debug)]
struct Membership {
    principal: Principal,
    project: usize,
    profile: usize,
    /// Validity bounds in days from today (inclusive); none for open-ended.
    from: Option<i64>,
    until: Option<i64>,
    removed: bool,
}

impl Membership {
    fn valid_on(&self, day: i64) -> bool {
        !self.removed && self.from.is_none_or(|f| f <= day) && self.until.is_none_or(|u| u >= day)
    }
}

#[derive(Clone, Debug)]
struct Key {
    owner: usize,
    read_only: bool,
    /// Narrowed to these projects and their sub-projects.
    projects: Option<Vec<usize>>,
    /// Expires at noon (UTC) of this day from today.
    expires: Option<i64>,
    revoked: bool,
}

/// The model's world. Where the page is silent, the model takes the reading that keeps
/// data hidden:
/// - a group is visible to its members and to whoever sees a project on which one of its
///   memberships counts today (as users are: "co-members of a visible project"); a
///   department to whoever is in it or sees a project of it; a membership with its project;
/// - seeing a project one did not see counts as a gain for the escalation rule, which the
///   caller must then have (it must see the project itself);
/// - changing a project's department needs MANAGE_MEMBERS as well as EDIT_PROJECT (it
///   changes who has access, like inheritMembers);
/// - a key narrowed to projects carries no global right (no ADMIN, no CREATE_PROJECTS), and a
///   key made through it without `projectIds` is narrowed to the same projects; an ADMIN's
///   expiring key stays exempt from the escalation rule ("ADMIN aside");
/// - only a top-level project makes its creator a member (the CREATE_PROJECTS row);
/// - a parent or department that is missing or invisible may answer NOT_FOUND or
///   BAD_USER_INPUT on its field (the same for both, which the test checks); a move under
///   itself or a descendant BAD_USER_INPUT on `parentId` or FORBIDDEN; and when several checks
///   fail, any of their answers (none of them tells more than the others).
#[derive(Clone, Debug)]
struct World {
    /// Parent of each department (always an earlier one).
    departments: Vec<Option<usize>>,
    profiles: Vec<Rights>,
    users: Vec<User>,
    /// Members of each group.
    groups: Vec<BTreeSet<usize>>,
    projects: Vec<Project>,
    memberships: Vec<Membership>,
    keys: Vec<Key>,
    ceiling: Rights,
}

fn right_weight(r: &str) -> f64 {
    match r {
        "ADMIN" => 0.04,
        "VIEW_ALL_PROJECTS" => 0.1,
        "EDIT_ALL_PROJECTS" => 0.07,
        "VIEW_DEPARTMENT_PROJECTS" => 0.3,
        "EDIT_DEPARTMENT_PROJECTS" => 0.15,
        "VIEW_PROJECT_HISTORY" => 0.3,
        "CREATE_PROJECTS" => 0.35,
        "IMPERSONATE" => 0.2,
        "EDIT_PROJECT" | "MANAGE_MEMBERS" | "CREATE_SUBPROJECTS" => 0.5,
        _ => 0.4,
    }
}

fn rights_strategy() -> impl Strategy<Value = Rights> {
    let bits: Vec<_> = RIGHTS
        .iter()
        .map(|r| proptest::bool::weighted(right_weight(r)))
        .collect();
    bits.prop_map(|bits| {
        RIGHTS
            .iter()
            .zip(bits)
            .filter(|(_, b)| *b)
            .map(|(r, _)| *r)
            .collect()
    })
}

fn ceiling_subset_strategy() -> impl Strategy<Value = Rights> {
    proptest::collection::vec(proptest::bool::weighted(0.6), DEFAULT_CEILING.len()).prop_map(
        |bits| {
            DEFAULT_CEILING
                .iter()
                .zip(bits)
                .filter(|(_, b)| *b)
                .map(|(r, _)| *r)
                .collect()
        },
    )
}

/// Validity in days from today: none, valid now (often ending soon), expired, not yet valid.
fn validity_strategy() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    prop_oneof![
        4 => Just((None, None)),
        4 => (
            proptest::option::of(-3i64..=0),
            proptest::option::weighted(0.8, 0i64..=5)
        ),
        1 => (proptest::option::of(0i64..=3), -4i64..=-1)
            .prop_map(|(back, until)| (back.map(|b| until - b), Some(until))),
        1 => (1i64..=4, proptest::option::of(0i64..=3))
            .prop_map(|(from, span)| (Some(from), span.map(|s| from + s))),
    ]
}

fn status_strategy() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        4 => Just("OPEN"),
        1 => Just("ON_HOLD"),
        1 => Just("POTENTIAL"),
        1 => Just("CLOSED"),
    ]
}

/// Two fixed profiles (every project right; a project lead), then random ones.
fn fixed_profiles() -> Vec<Rights> {
    vec![
        all_project_rights(),
        [
            "EDIT_PROJECT",
            "MANAGE_MEMBERS",
            "CREATE_SUBPROJECTS",
            "MANAGE_TASKS",
            "SEE_WORK",
            "LOG_TIME",
            // A global right: as a default profile, it sees POTENTIAL and CLOSED projects.
            "VIEW_PROJECT_HISTORY",
        ]
        .into_iter()
        .collect(),
        // Every project right but the cost, internal documents and invoicing: what a
        // manager may grant an external user with the first profile (the ceiling cuts the
        // rest).
        project_rights()
            .iter()
            .copied()
            .filter(|r| {
                !matches!(
                    *r,
                    "SEE_COST" | "VIEW_INTERNAL_DOCUMENTS" | "MANAGE_INVOICES"
                )
            })
            .collect(),
        ["ADMIN"].into_iter().collect(),
        // A cost-centre head: sees its department's projects with their costs.
        [
            "VIEW_DEPARTMENT_PROJECTS",
            "SEE_COST",
            "SEE_WORK",
            "VIEW_INVOICES",
        ]
        .into_iter()
        .collect(),
    ]
}

/// The index of the fixed ADMIN profile.
const ADMIN_PROFILE: usize = 3;

fn world_strategy() -> impl Strategy<Value = World> {
    let departments = proptest::collection::vec(proptest::option::weighted(0.7, 0usize..8), 1..=3);
    let profiles = proptest::collection::vec(rights_strategy(), 2..=4);
    let users = proptest::collection::vec(
        (
            proptest::bool::weighted(0.3),
            proptest::option::weighted(0.7, 0usize..8),
            0usize..8,
            proptest::bool::weighted(0.05),
        ),
        3..=6,
    );
    let groups = proptest::collection::vec(proptest::collection::vec(0usize..8, 1..=3), 0..=2);
    let projects = proptest::collection::vec(
        (
            proptest::option::weighted(0.7, 0usize..64),
            proptest::bool::weighted(0.75),
            status_strategy(),
            proptest::option::weighted(0.5, 0usize..8),
            proptest::option::weighted(0.2, ceiling_subset_strategy()),
        ),
        3..=8,
    );
    let memberships = proptest::collection::vec(
        (
            proptest::bool::weighted(0.25),
            0usize..8,
            0usize..64,
            0usize..8,
            validity_strategy(),
        ),
        2..=12,
    );
    let keys = proptest::collection::vec(
        (
            0usize..8,
            proptest::bool::weighted(0.3),
            proptest::option::weighted(0.5, proptest::collection::vec(0usize..64, 1..=2)),
            proptest::option::weighted(0.5, 1i64..=5),
        ),
        0..=4,
    );
    (
        departments,
        profiles,
        users,
        groups,
        projects,
        memberships,
        keys,
    )
        .prop_map(
            |(departments, random_profiles, users, groups, projects, memberships, keys)| {
                let nd = departments.len();
                let pick_dept = |d: Option<usize>| if nd == 0 { None } else { d.map(|d| d % nd) };
                let departments: Vec<Option<usize>> = departments
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| if i == 0 { None } else { p.map(|p| p % i) })
                    .collect();
                let mut profiles = fixed_profiles();
                profiles.extend(random_profiles);
                let np = profiles.len();
                let users: Vec<User> = users
                    .into_iter()
                    .map(|(external, d, p, admin)| User {
                        external,
                        dept: pick_dept(d),
                        profile: if admin { ADMIN_PROFILE } else { p % np },
                    })
                    .collect();
                let nu = users.len();
                let groups: Vec<BTreeSet<usize>> = groups
                    .into_iter()
                    .map(|m| m.into_iter().map(|u| u % nu).collect())
                    .collect();
                let ng = groups.len();
                let projects: Vec<Project> = projects
                    .into_iter()
                    .enumerate()
                    .map(|(i, (parent, inherit, status, dept, ext))| Project {
                        parent: if i == 0 { None } else { parent.map(|p| p % i) },
                        inherit,
                        status,
                        dept: pick_dept(dept),
                        ext,
                    })
                    .collect();
                let npj = projects.len();
                let memberships = memberships
                    .into_iter()
                    .map(
                        |(is_group, who, project, profile, (from, until))| Membership {
                            principal: if is_group && ng > 0 {
                                Principal::Group(who % ng)
                            } else {
                                Principal::User(who % nu)
                            },
                            project: project % npj,
                            profile: profile % np,
                            from,
                            until,
                            removed: false,
                        },
                    )
                    .collect();
                let keys = keys
                    .into_iter()
                    .map(|(owner, read_only, projects, expires)| Key {
                        owner: owner % nu,
                        read_only,
                        projects: projects.map(|ps| {
                            let mut v: Vec<usize> = ps.into_iter().map(|p| p % npj).collect();
                            v.sort();
                            v.dedup();
                            v
                        }),
                        expires,
                        revoked: false,
                    })
                    .collect();
                let mut w = World {
                    departments,
                    profiles,
                    users,
                    groups,
                    projects,
                    memberships,
                    keys,
                    ceiling: DEFAULT_CEILING.iter().copied().collect(),
                };
                // Every world holds what the rarer paths need: an EXTERNAL user, a room
                // below another project, a project narrowing the ceiling, and a POTENTIAL
                // or CLOSED project.
                if !w.users.iter().any(|u| u.external) {
                    let last = w.users.len() - 1;
                    w.users[last].external = true;
                }
                if !w.projects.iter().any(|p| !p.inherit && p.parent.is_some()) {
                    if let Some(p) = (0..npj).rev().find(|&p| w.projects[p].parent.is_some()) {
                        w.projects[p].inherit = false;
                    }
                }
                if !w.projects.iter().any(|p| p.ext.is_some()) {
                    w.projects[npj / 2].ext = Some(
                        [
                            "EDIT_PROJECT",
                            "CREATE_SUBPROJECTS",
                            "LOG_TIME",
                            "SEE_WORK",
                            "VIEW_INVOICES",
                        ]
                        .into_iter()
                        .collect(),
                    );
                }
                if !w
                    .projects
                    .iter()
                    .any(|p| matches!(p.status, "POTENTIAL" | "CLOSED"))
                {
                    w.projects[npj - 1].status = "CLOSED";
                }
                w
            },
        )
}

// ---------------------------------------------------------------------------------------
// The reference model, from authorization.md.
// ---------------------------------------------------------------------------------------

/// Whom a request acts as, for the policy: a user's session, or an API key of its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cred {
    Session(usize),
    Key(usize),
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

    /// `p`, then its ancestors, nearest first.
    fn up(&self, p: usize) -> Vec<usize> {
        let mut out = vec![p];
        let mut cur = self.projects[p].parent;
        while let Some(c) = cur {
            if out.contains(&c) {
                break;
            }
            out.push(c);
            cur = self.projects[c].parent;
        }
        out
    }

    /// `p` and all its descendants.
    fn subtree(&self, p: usize) -> Vec<usize> {
        (0..self.projects.len())
            .filter(|&q| self.up(q).contains(&p))
            .collect()
    }

    /// The projects whose memberships apply to `p`: `p`, then its ancestors as long as the
    /// project below inherits members.
    fn chain(&self, p: usize) -> Vec<usize> {
        let mut out = vec![p];
        let mut cur = p;
        while self.projects[cur].inherit {
            match self.projects[cur].parent {
                Some(parent) if !out.contains(&parent) => {
                    out.push(parent);
                    cur = parent;
                }
                _ => break,
            }
        }
        out
    }

    /// The rights of U's default profile as they apply: cut to the global ceiling for an
    /// EXTERNAL user.
    fn default_rights(&self, u: usize) -> Rights {
        let r = &self.profiles[self.users[u].profile];
        if self.users[u].external {
            r.and(self.ceiling)
        } else {
            *r
        }
    }

    /// The ceiling for external users on `p`: the global one intersected with every
    /// `externalRights` on `p` or above.
    fn ceiling_on(&self, p: usize) -> Rights {
        let mut c = self.ceiling;
        for a in self.up(p) {
            if let Some(ext) = self.projects[a].ext {
                c = c.and(ext);
            }
        }
        c
    }

    /// "Effective rights of user U on project P" on day `day` (from today), through the API
    /// key `key` if any: `None` when P is invisible, else U's project rights on P.
    fn effective(&self, u: usize, key: Option<usize>, p: usize, day: i64) -> Option<Rights> {
        self.pre().effective(u, key, p, day)
    }

    /// What [`Pre::effective`] needs, computed once.
    fn pre(&self) -> Pre<'_> {
        let n = self.projects.len();
        Pre {
            w: self,
            up: (0..n).map(|p| self.up(p)).collect(),
            chain: (0..n).map(|p| self.chain(p)).collect(),
            ceiling: (0..n).map(|p| self.ceiling_on(p)).collect(),
            defaults: (0..self.users.len())
                .map(|u| self.default_rights(u))
                .collect(),
            mine: (0..self.users.len())
                .map(|u| {
                    (0..self.memberships.len())
                        .filter(|&i| {
                            let m = &self.memberships[i];
                            !m.removed && self.is_principal(m.principal, u)
                        })
                        .collect()
                })
                .collect(),
        }
    }

    fn owner(&self, c: Cred) -> usize {
        match c {
            Cred::Session(u) => u,
            Cred::Key(k) => self.keys[k].owner,
        }
    }

    fn narrowed(&self, c: Cred) -> bool {
        matches!(c, Cred::Key(k) if self.keys[k].projects.is_some())
    }

    /// A request's rights on `p` on `day`.
    fn rights(&self, c: Cred, p: usize, day: i64) -> Option<Rights> {
        match c {
            Cred::Session(u) => self.effective(u, None, p, day),
            Cred::Key(k) => self.effective(self.keys[k].owner, Some(k), p, day),
        }
    }

    fn holds(&self, c: Cred, p: usize, right: &str) -> bool {
        self.rights(c, p, 0).is_some_and(|r| r.contains(right))
    }

    /// A request's global rights: its owner's (cut by the ceiling), none through a key
    /// narrowed to projects.
    fn global_of(&self, c: Cred) -> Rights {
        if self.narrowed(c) {
            Rights::new()
        } else {
            self.default_rights(self.owner(c))
        }
    }

    fn is_admin(&self, c: Cred) -> bool {
        self.global_of(c).contains("ADMIN")
    }

    fn visible_projects(&self, c: Cred) -> Vec<usize> {
        let pre = self.pre();
        (0..self.projects.len())
            .filter(|&p| pre.rights(c, p, 0).is_some())
            .collect()
    }

    /// The projects whose valid memberships make co-members: every visible project and the
    /// ancestors whose memberships reach it.
    fn member_sources(&self, c: Cred) -> BTreeSet<usize> {
        self.visible_projects(c)
            .into_iter()
            .flat_map(|p| self.chain(p))
            .collect()
    }

    /// User: self; co-members of a visible project; everyone for ADMIN.
    fn sees_user(&self, c: Cred, x: usize) -> bool {
        if self.is_admin(c) || x == self.owner(c) {
            return true;
        }
        let sources = self.member_sources(c);
        self.memberships.iter().any(|m| {
            sources.contains(&m.project) && m.valid_on(0) && self.is_principal(m.principal, x)
        })
    }

    /// Group: one's own, and those with a membership counting today on a visible project.
    fn sees_group(&self, c: Cred, g: usize) -> bool {
        if self.is_admin(c) || self.groups[g].contains(&self.owner(c)) {
            return true;
        }
        let sources = self.member_sources(c);
        let any_validity = server_reading("group-any-validity");
        self.memberships.iter().any(|m| {
            sources.contains(&m.project)
                && !m.removed
                && (any_validity || m.valid_on(0))
                && m.principal == Principal::Group(g)
        })
    }

    /// Department: one's own and those of visible projects.
    fn sees_dept(&self, c: Cred, d: usize) -> bool {
        self.is_admin(c)
            || self.users[self.owner(c)].dept == Some(d)
            || self
                .visible_projects(c)
                .into_iter()
                .any(|p| self.projects[p].dept == Some(d))
    }

    /// Everything gained by anyone on an existing project (those of `self`) on any day from
    /// today on, going from `self` to `after`, with what of it the caller `c` did not hold
    /// there on that day before.
    fn gains(&self, after: &World, c: Cred) -> Vec<Gain> {
        let mut out = Vec::new();
        // Rights change only on the days a membership starts, the day after one ends, and
        // the day after the caller's key expires.
        let mut days: BTreeSet<i64> = BTreeSet::from([0]);
        for m in self.memberships.iter().chain(&after.memberships) {
            days.extend(m.from);
            days.extend(m.until.map(|u| u + 1));
        }
        if let Cred::Key(k) = c {
            days.extend(self.keys[k].expires.map(|e| e + 1));
        }
        let (before, later) = (self.pre(), after.pre());
        let owner = self.owner(c);
        let key = match c {
            Cred::Key(k) => Some(k),
            Cred::Session(_) => None,
        };
        for day in days.into_iter().filter(|d| (0..=HORIZON).contains(d)) {
            for p in 0..self.projects.len() {
                let held: Rights = match before.effective(owner, key, p, day) {
                    Some(h) => Rights(h.0 | B_VISIBLE),
                    None => Rights::new(),
                };
                for u in 0..self.users.len() {
                    let Some(now) = later.effective(u, None, p, day) else {
                        continue;
                    };
                    let gained: Rights = match before.effective(u, None, p, day) {
                        None => Rights(now.0 | B_VISIBLE),
                        Some(was) => now.minus(was),
                    };
                    if gained.is_empty() {
                        continue;
                    }
                    let beyond: Rights = gained.minus(held);
                    out.push(Gain {
                        user: u,
                        project: p,
                        day,
                        gained,
                        beyond,
                    });
                }
            }
        }
        out
    }
}

/// A world with what "Effective rights" needs computed once: each project's ancestors,
/// the projects whose memberships reach it, its ceiling for external users, and each
/// user's default rights and memberships (direct or through a group).
struct Pre<'w> {
    w: &'w World,
    up: Vec<Vec<usize>>,
    chain: Vec<Vec<usize>>,
    ceiling: Vec<Rights>,
    defaults: Vec<Rights>,
    mine: Vec<Vec<usize>>,
}

impl Pre<'_> {
    fn rights(&self, c: Cred, p: usize, day: i64) -> Option<Rights> {
        match c {
            Cred::Session(u) => self.effective(u, None, p, day),
            Cred::Key(k) => self.effective(self.w.keys[k].owner, Some(k), p, day),
        }
    }

    /// "Effective rights of user U on project P" on day `day` (from today), through the API
    /// key `key` if any: `None` when P is invisible, else U's project rights on P.
    fn effective(&self, u: usize, key: Option<usize>, p: usize, day: i64) -> Option<Rights> {
        let w = self.w;
        if let Some(k) = key {
            let k = &w.keys[k];
            // A key holds nothing after it expires, and nothing outside its projects.
            if k.expires.is_some_and(|e| day > e) {
                return None;
            }
            if let Some(ps) = &k.projects {
                if !self.up[p].iter().any(|a| ps.contains(a)) {
                    return None;
                }
            }
        }
        let global = self.defaults[u].0;
        let has = |b: u32| global & b != 0;
        let project = &w.projects[p];
        // 1. ADMIN: every right, visible.
        if has(B_ADMIN) {
            return Some(Rights(B_PROJECT));
        }
        // 2. Valid memberships of U or U's groups on P, or on an ancestor reached through
        //    inheriting projects only.
        let mut rights = 0u32;
        let mut member = false;
        let chain = &self.chain[p];
        for &i in &self.mine[u] {
            let m = &w.memberships[i];
            if chain.contains(&m.project) && m.valid_on(day) {
                member = true;
                rights |= w.profiles[m.profile].0 & B_PROJECT;
            }
        }
        // 3. Read rights of the default profile; EDIT_* include VIEW_*.
        let dept_match = match (w.users[u].dept, project.dept) {
            (Some(ud), Some(pd)) => w.dept_within(pd, ud),
            _ => false,
        };
        let view_all = has(B_VIEW_ALL | B_EDIT_ALL);
        let view_dept = has(B_VIEW_DEPT | B_EDIT_DEPT) && dept_match;
        if view_all || view_dept {
            rights |= global & B_READ;
        }
        // 4. Project rights of the default profile through an EDIT_* right.
        let edit = has(B_EDIT_ALL) || (has(B_EDIT_DEPT) && dept_match);
        if edit {
            rights |= global & B_PROJECT;
        }
        // 5. POTENTIAL and CLOSED need VIEW_PROJECT_HISTORY or VIEW_ALL_PROJECTS.
        let reached = member || view_all || view_dept || edit;
        let history = has(B_HISTORY) || view_all;
        let status_ok = !matches!(project.status, "POTENTIAL" | "CLOSED") || history;
        if !(reached && status_ok) {
            return None;
        }
        // The ceiling for external users cuts the effective rights on P.
        if w.users[u].external {
            rights &= self.ceiling[p].0;
        }
        Some(Rights(rights))
    }
}

#[derive(Clone, Debug)]
struct Gain {
    user: usize,
    project: usize,
    day: i64,
    gained: Rights,
    beyond: Rights,
}

// ---------------------------------------------------------------------------------------
// Steps: actors, mutations, what the model expects.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Session(usize),
    Key(usize),
    /// A session of the first user, reading as the second (`X-Portico-View-As`).
    ViewAs(usize, usize),
}

/// An object a mutation names: an index into the world, or `None` for an id that exists
/// nowhere.
type Ref = Option<usize>;

#[derive(Clone, Debug)]
enum Who {
    User(Ref),
    Group(Ref),
}

#[derive(Clone, Debug)]
enum NewParent {
    Project(Ref),
    Top,
}

#[derive(Clone, Debug)]
enum Op {
    AddMember {
        project: Ref,
        who: Who,
        profile: usize,
        from: Option<i64>,
        until: Option<i64>,
    },
    RemoveMember {
        membership: Ref,
    },
    Move {
        project: Ref,
        parent: NewParent,
    },
    Inherit {
        project: Ref,
        value: bool,
    },
    Department {
        project: Ref,
        dept: Option<Ref>,
    },
    External {
        project: Ref,
        rights: Option<Rights>,
    },
    Status {
        project: Ref,
        status: &'static str,
    },
    CreateProject {
        name: String,
        parent: Option<Ref>,
        inherit: bool,
        status: &'static str,
        dept: Option<Ref>,
    },
    CreateKey {
        expires: Option<i64>,
        projects: Option<Vec<Ref>>,
        read_only: bool,
    },
    RevokeKey {
        key: Ref,
    },
}

impl Op {
    fn mutation(&self) -> &'static str {
        match self {
            Op::AddMember { .. } => "addProjectMember",
            Op::RemoveMember { .. } => "removeProjectMember",
            Op::Move { .. } | Op::Inherit { .. } | Op::Department { .. } | Op::External { .. } => {
                "updateProject"
            }
            Op::Status { .. } => "setProjectStatus",
            Op::CreateProject { .. } => "createProject",
            Op::CreateKey { .. } => "createApiKey",
            Op::RevokeKey { .. } => "revokeApiKey",
        }
    }
}

/// Where in a mutation an object is named (to replace an invisible one by a missing one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Project,
    User,
    Group,
    Parent,
    Dept,
    Membership,
    Key,
    KeyProject(usize),
}

impl Op {
    /// The same mutation naming a missing object at `slot`.
    fn with_missing(&self, slot: Slot) -> Op {
        let mut op = self.clone();
        match (&mut op, slot) {
            (Op::AddMember { project, .. }, Slot::Project)
            | (Op::Move { project, .. }, Slot::Project)
            | (Op::Inherit { project, .. }, Slot::Project)
            | (Op::Department { project, .. }, Slot::Project)
            | (Op::External { project, .. }, Slot::Project)
            | (Op::Status { project, .. }, Slot::Project) => *project = None,
            (Op::AddMember { who, .. }, Slot::User) => *who = Who::User(None),
            (Op::AddMember { who, .. }, Slot::Group) => *who = Who::Group(None),
            (Op::Move { parent, .. }, Slot::Parent) => *parent = NewParent::Project(None),
            (Op::CreateProject { parent, .. }, Slot::Parent) => *parent = Some(None),
            (Op::Department { dept, .. }, Slot::Dept)
            | (Op::CreateProject { dept, .. }, Slot::Dept) => *dept = Some(None),
            (Op::RemoveMember { membership }, Slot::Membership) => *membership = None,
            (Op::RevokeKey { key }, Slot::Key) => *key = None,
            (
                Op::CreateKey {
                    projects: Some(ps), ..
                },
                Slot::KeyProject(i),
            ) => ps[i] = None,
            (op, slot) => unreachable!("no {slot:?} in {op:?}"),
        }
        op
    }
}

/// One acceptable refusal: its code, the input field it must name if any, and why (for the
/// coverage report).
#[derive(Clone, Debug)]
struct Refusal {
    code: &'static str,
    field: Option<&'static str>,
    reason: Kind,
}

#[derive(Clone, Debug)]
enum Expect {
    /// Allowed: the world after it, and what it creates.
    Allowed(Box<World>, Created),
    /// Refused with any of these (several when more than one check fails and the page does
    /// not order them; none of the orders reveals anything).
    Refused(Vec<Refusal>),
}

#[derive(Clone, Copy, Debug)]
enum Created {
    Nothing,
    Project,
    /// The new project's creator membership, too.
    ProjectAndMembership,
    Membership,
    Key(usize),
}

/// One planned step: who does what, what the model expects, and an invisible object it
/// names (to be compared with a missing one).
#[derive(Clone, Debug)]
struct Planned {
    actor: Actor,
    op: Op,
    expect: Expect,
    probe: Option<Slot>,
    tags: Vec<Kind>,
    /// The model's reason for an escalation refusal, for messages.
    why: String,
}

/// The step generator's random numbers (from the step's seed, so that steps shrink alone).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        if v.is_empty() {
            None
        } else {
            Some(v[self.below(v.len())])
        }
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

/// A step as drawn: which mutation (0..100) and a seed for everything else.
type RawStep = (u8, u64);

fn steps_strategy() -> impl Strategy<Value = Vec<RawStep>> {
    proptest::collection::vec((0u8..100, any::<u64>()), 12..=20)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    AddMember,
    RemoveMember,
    Move,
    Inherit,
    Department,
    External,
    Status,
    CreateProject,
    CreateKey,
    RevokeKey,
}

fn op_kind(raw: u8) -> OpKind {
    match raw {
        0..=23 => OpKind::AddMember,
        24..=30 => OpKind::RemoveMember,
        31..=40 => OpKind::Move,
        41..=48 => OpKind::Inherit,
        49..=56 => OpKind::Department,
        57..=63 => OpKind::External,
        64..=72 => OpKind::Status,
        73..=82 => OpKind::CreateProject,
        83..=91 => OpKind::CreateKey,
        _ => OpKind::RevokeKey,
    }
}

/// Draws the actor: mostly one able to do `kind` somewhere (so that allowed steps and
/// escalation checks are common), else anyone, sometimes "view as".
fn draw_actor(w: &World, kind: OpKind, rng: &mut Rng) -> Actor {
    if rng.chance(8) {
        let impersonators: Vec<usize> = (0..w.users.len())
            .filter(|&u| {
                let g = w.default_rights(u);
                g.contains("IMPERSONATE") || g.contains("ADMIN")
            })
            .collect();
        let u = rng
            .pick(&impersonators)
            .unwrap_or_else(|| rng.below(w.users.len()));
        let targets: Vec<usize> = (0..w.users.len())
            .filter(|&t| {
                t != u && (!w.default_rights(t).contains("ADMIN") || w.is_admin(Cred::Session(u)))
            })
            .collect();
        if let Some(t) = rng.pick(&targets) {
            return Actor::ViewAs(u, t);
        }
    }
    let mut creds: Vec<Cred> = (0..w.users.len()).map(Cred::Session).collect();
    let keys: Vec<Cred> = (0..w.keys.len()).map(Cred::Key).collect();
    // Keys that expire, making keys: half the time (a new key must not outlive them).
    if kind == OpKind::CreateKey && rng.chance(50) {
        let expiring: Vec<usize> = (0..w.keys.len())
            .filter(|&k| w.keys[k].expires.is_some() && !w.keys[k].read_only && !w.keys[k].revoked)
            .collect();
        if let Some(k) = rng.pick(&expiring) {
            return Actor::Key(k);
        }
    }
    let key_share = match kind {
        OpKind::CreateKey | OpKind::RevokeKey => 60,
        _ => 30,
    };
    if !keys.is_empty() && rng.chance(key_share) {
        creds = keys;
    }
    let able = |c: Cred| -> bool {
        if let Cred::Key(k) = c {
            if w.keys[k].revoked || w.keys[k].read_only {
                return false;
            }
        }
        let any = |right: &str| (0..w.projects.len()).any(|p| w.holds(c, p, right));
        match kind {
            OpKind::AddMember | OpKind::RemoveMember => any("MANAGE_MEMBERS"),
            OpKind::Move | OpKind::Inherit | OpKind::Department => (0..w.projects.len())
                .any(|p| w.holds(c, p, "EDIT_PROJECT") && w.holds(c, p, "MANAGE_MEMBERS")),
            OpKind::External | OpKind::Status => any("EDIT_PROJECT"),
            OpKind::CreateProject => {
                w.global_of(c).contains("CREATE_PROJECTS") || any("CREATE_SUBPROJECTS")
            }
            OpKind::CreateKey | OpKind::RevokeKey => true,
        }
    };
    let capable: Vec<Cred> = creds.iter().copied().filter(|c| able(*c)).collect();
    // Preferably one that does not hold every right where it acts: what it grants can then
    // go beyond its own rights.
    let partial: Vec<Cred> = capable
        .iter()
        .copied()
        .filter(|c| {
            (0..w.projects.len()).any(|p| {
                w.rights(*c, p, 0)
                    .is_some_and(|r| r.len() < project_rights().len() && !r.is_empty())
            })
        })
        .collect();
    let c = if rng.chance(50) && !partial.is_empty() {
        rng.pick(&partial).unwrap()
    } else if rng.chance(70) && !capable.is_empty() {
        rng.pick(&capable).unwrap()
    } else {
        rng.pick(&creds).unwrap()
    };
    match c {
        Cred::Session(u) => Actor::Session(u),
        Cred::Key(k) => Actor::Key(k),
    }
}

/// With `percent` chance, a project where the actor holds all of `rights` and `also` holds
/// (`None`: not drawn, or no such project).
fn steer(
    w: &World,
    c: Option<Cred>,
    rights: &[&str],
    percent: u64,
    rng: &mut Rng,
    also: impl Fn(usize) -> bool,
) -> Option<Ref> {
    let c = c?;
    if !rng.chance(percent) {
        return None;
    }
    let able: Vec<usize> = (0..w.projects.len())
        .filter(|&p| also(p) && rights.iter().all(|r| w.holds(c, p, r)))
        .collect();
    rng.pick(&able).map(Some)
}

/// A project: mostly one where the actor holds all of `rights`, else any, sometimes missing.
fn draw_project(w: &World, c: Option<Cred>, rights: &[&str], rng: &mut Rng) -> Ref {
    let n = w.projects.len();
    if let Some(c) = c {
        let able: Vec<usize> = (0..n)
            .filter(|&p| rights.iter().all(|r| w.holds(c, p, r)))
            .collect();
        let partial: Vec<usize> = able
            .iter()
            .copied()
            .filter(|&p| {
                w.rights(c, p, 0)
                    .is_some_and(|r| r.len() < project_rights().len())
            })
            .collect();
        if rng.chance(40) && !partial.is_empty() {
            return rng.pick(&partial);
        }
        if rng.chance(70) && !able.is_empty() {
            return rng.pick(&able);
        }
    }
    if rng.chance(12) {
        None
    } else {
        Some(rng.below(n))
    }
}

fn draw_op(w: &World, kind: OpKind, actor: Actor, step: usize, rng: &mut Rng) -> Op {
    let cred = match actor {
        Actor::Session(u) => Some(Cred::Session(u)),
        Actor::Key(k) => Some(Cred::Key(k)),
        Actor::ViewAs(..) => None,
    };
    let me = match actor {
        Actor::Session(u) | Actor::ViewAs(u, _) => u,
        Actor::Key(k) => w.keys[k].owner,
    };
    let n = w.projects.len();
    match kind {
        OpKind::AddMember => {
            // Sometimes: extend one's own time-bound membership (re-add oneself open-ended
            // or later on the same project or one it reaches).
            let own_bounded: Vec<usize> = (0..w.memberships.len())
                .filter(|&i| {
                    let m = &w.memberships[i];
                    m.principal == Principal::User(me) && m.until.is_some() && m.valid_on(0)
                })
                .collect();
            if rng.chance(35) {
                if let Some(i) = rng.pick(&own_bounded) {
                    let m = &w.memberships[i];
                    let reach: Vec<usize> = (0..n)
                        .filter(|&p| w.chain(p).contains(&m.project))
                        .collect();
                    let until = m.until.unwrap();
                    return Op::AddMember {
                        project: rng.pick(&reach),
                        who: Who::User(Some(me)),
                        profile: if rng.chance(70) {
                            m.profile
                        } else {
                            rng.below(w.profiles.len())
                        },
                        from: None,
                        until: if rng.chance(50) {
                            None
                        } else {
                            Some(rng.range(until + 1, until + 4))
                        },
                    };
                }
            }
            let project = draw_project(w, cred, &["MANAGE_MEMBERS"], rng);
            let who = if rng.chance(25) {
                Who::Group(if w.groups.is_empty() || rng.chance(35) {
                    None
                } else {
                    Some(rng.below(w.groups.len()))
                })
            } else if rng.chance(25) {
                Who::User(Some(me))
            } else if rng.chance(20) {
                Who::User(None)
            } else {
                Who::User(Some(rng.below(w.users.len())))
            };
            // A profile within the caller's rights there, half the time.
            let held = match (cred, project) {
                (Some(c), Some(p)) => w.rights(c, p, 0).unwrap_or_default(),
                _ => Rights::new(),
            };
            let within: Vec<usize> = (0..w.profiles.len())
                .filter(|&i| w.profiles[i].and(Rights(B_PROJECT)).minus(held).is_empty())
                .collect();
            let external = matches!(who, Who::User(Some(x)) if w.users[x].external);
            let profile = match rng.pick(&within) {
                // An EXTERNAL user given every project right: the ceiling cuts some.
                _ if external && rng.chance(50) => 0,
                Some(i) if rng.chance(45) => i,
                _ => rng.below(w.profiles.len()),
            };
            let (from, until) = match rng.below(10) {
                0..=5 => (None, None),
                6..=8 => {
                    let from = if rng.chance(50) {
                        Some(rng.range(-2, 3))
                    } else {
                        None
                    };
                    let until = if rng.chance(75) {
                        Some(rng.range(from.unwrap_or(0).max(0), 7))
                    } else {
                        None
                    };
                    (from, until)
                }
                _ => {
                    let until = rng.range(-3, -1);
                    (Some(until - 1), Some(until))
                }
            };
            Op::AddMember {
                project,
                who,
                profile,
                from,
                until,
            }
        }
        OpKind::RemoveMember => {
            let live: Vec<usize> = (0..w.memberships.len())
                .filter(|&i| !w.memberships[i].removed)
                .collect();
            let managed: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&i| {
                    cred.is_some_and(|c| w.holds(c, w.memberships[i].project, "MANAGE_MEMBERS"))
                })
                .collect();
            let membership = if rng.chance(25) {
                None
            } else if rng.chance(70) && !managed.is_empty() {
                rng.pick(&managed)
            } else {
                rng.pick(&live)
            };
            Op::RemoveMember { membership }
        }
        OpKind::Move => {
            let project = draw_project(w, cred, &["EDIT_PROJECT", "MANAGE_MEMBERS"], rng);
            let below: Vec<usize> = project.map(|p| w.subtree(p)).unwrap_or_default();
            let hosts: Vec<usize> = (0..n)
                .filter(|&q| {
                    !below.contains(&q) && cred.is_some_and(|c| w.holds(c, q, "CREATE_SUBPROJECTS"))
                })
                .collect();
            let parent = match rng.below(100) {
                0..=47 if !hosts.is_empty() => NewParent::Project(rng.pick(&hosts)),
                0..=62 => NewParent::Project(Some(rng.below(n))),
                63..=71 => NewParent::Top,
                72..=85 => NewParent::Project(None),
                _ => NewParent::Project(rng.pick(&below).or(Some(rng.below(n)))),
            };
            Op::Move { project, parent }
        }
        OpKind::Inherit => {
            // Mostly switching a room's inheritance on.
            let project = steer(w, cred, &["EDIT_PROJECT", "MANAGE_MEMBERS"], 60, rng, |p| {
                !w.projects[p].inherit && w.projects[p].parent.is_some()
            })
            .unwrap_or_else(|| draw_project(w, cred, &["EDIT_PROJECT", "MANAGE_MEMBERS"], rng));
            let value = match project {
                Some(p) => !w.projects[p].inherit,
                None => rng.chance(50),
            };
            Op::Inherit { project, value }
        }
        OpKind::Department => {
            let project = draw_project(w, cred, &["EDIT_PROJECT", "MANAGE_MEMBERS"], rng);
            // Half the time a department that some user's department right reaches.
            let reached: Vec<usize> = (0..w.departments.len())
                .filter(|&d| {
                    (0..w.users.len()).any(|u| {
                        let g = w.default_rights(u);
                        (g.contains("VIEW_DEPARTMENT_PROJECTS")
                            || g.contains("EDIT_DEPARTMENT_PROJECTS"))
                            && w.users[u].dept.is_some_and(|ud| w.dept_within(d, ud))
                    })
                })
                .collect();
            let dept = if w.departments.is_empty() || rng.chance(15) {
                if rng.chance(50) {
                    None
                } else {
                    Some(None)
                }
            } else if rng.chance(25) {
                Some(None)
            } else if rng.chance(50) && !reached.is_empty() {
                Some(rng.pick(&reached))
            } else {
                Some(Some(rng.below(w.departments.len())))
            };
            Op::Department { project, dept }
        }
        OpKind::External => {
            // Half the time widening a narrowed project.
            let project = steer(w, cred, &["EDIT_PROJECT"], 50, rng, |p| {
                w.projects[p].ext.is_some()
            })
            .unwrap_or_else(|| draw_project(w, cred, &["EDIT_PROJECT"], rng));
            let rights = if rng.chance(35) {
                None
            } else {
                Some(
                    DEFAULT_CEILING
                        .iter()
                        .copied()
                        .filter(|_| rng.chance(60))
                        .collect(),
                )
            };
            Op::External { project, rights }
        }
        OpKind::Status => {
            // Often reopening a POTENTIAL or CLOSED project.
            let hidden = |p: usize| matches!(w.projects[p].status, "POTENTIAL" | "CLOSED");
            let (project, status) = match steer(w, cred, &["EDIT_PROJECT"], 45, rng, hidden) {
                Some(p) => (p, if rng.chance(70) { "OPEN" } else { "ON_HOLD" }),
                None => (
                    draw_project(w, cred, &["EDIT_PROJECT"], rng),
                    ["OPEN", "ON_HOLD", "POTENTIAL", "CLOSED", "OPEN"][rng.below(5)],
                ),
            };
            Op::Status { project, status }
        }
        OpKind::CreateProject => {
            let top = rng.chance(40);
            let parent = if top {
                None
            } else {
                Some(if rng.chance(8) {
                    None
                } else {
                    draw_project(w, cred, &["CREATE_SUBPROJECTS"], rng)
                })
            };
            let dept = if w.departments.is_empty() || rng.chance(65) {
                None
            } else if rng.chance(30) {
                Some(None)
            } else {
                Some(Some(rng.below(w.departments.len())))
            };
            Op::CreateProject {
                name: format!("N{step}"),
                parent,
                inherit: rng.chance(75),
                status: ["OPEN", "OPEN", "OPEN", "ON_HOLD", "POTENTIAL", "CLOSED"][rng.below(6)],
                dept,
            }
        }
        OpKind::CreateKey => {
            let limit = match actor {
                Actor::Key(k) => w.keys[k].expires,
                _ => None,
            };
            let expires = match limit {
                Some(e) => match rng.below(100) {
                    0..=29 => Some(e),
                    30..=54 if e > 1 => Some(rng.range(1, e - 1)),
                    30..=79 => Some(rng.range(e + 1, e + 3)),
                    _ => None,
                },
                None => {
                    if rng.chance(50) {
                        None
                    } else {
                        Some(rng.range(1, 5))
                    }
                }
            };
            let projects = if rng.chance(40) {
                None
            } else {
                let visible = cred.map(|c| w.visible_projects(c)).unwrap_or_default();
                let count = 1 + rng.below(2);
                Some(
                    (0..count)
                        .map(|_| {
                            if rng.chance(25) {
                                None
                            } else if rng.chance(65) && !visible.is_empty() {
                                rng.pick(&visible)
                            } else {
                                Some(rng.below(n))
                            }
                        })
                        .collect(),
                )
            };
            Op::CreateKey {
                expires,
                projects,
                read_only: rng.chance(30),
            }
        }
        OpKind::RevokeKey => {
            let live: Vec<usize> = (0..w.keys.len()).filter(|&k| !w.keys[k].revoked).collect();
            let own: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&k| w.keys[k].owner == me)
                .collect();
            let key = if rng.chance(15) {
                None
            } else {
                match actor {
                    Actor::Key(k) if rng.chance(50) => Some(k),
                    _ if rng.chance(60) && !own.is_empty() => rng.pick(&own),
                    _ => rng.pick(&live),
                }
            };
            Op::RevokeKey { key }
        }
    }
}

/// What the model expects of `op` by `actor` on world `w`.
fn expect(w: &World, actor: Actor, op: &Op) -> Planned {
    let mut tags = Vec::new();
    let refused = |code: &'static str, field: Option<&'static str>, reason: Kind| Refusal {
        code,
        field,
        reason,
    };
    let done = |expect: Expect, tags: Vec<Kind>| Planned {
        actor,
        op: op.clone(),
        expect,
        probe: None,
        tags,
        why: String::new(),
    };
    // Who acts, and whether it may write at all.
    let cred = match actor {
        Actor::ViewAs(..) => {
            return done(
                Expect::Refused(vec![refused("FORBIDDEN", None, Kind::RefusedViewAs)]),
                tags,
            )
        }
        Actor::Key(k) if w.keys[k].revoked => {
            return done(
                Expect::Refused(vec![refused(
                    "UNAUTHENTICATED",
                    None,
                    Kind::RefusedRevokedKey,
                )]),
                tags,
            )
        }
        Actor::Key(k) if w.keys[k].read_only => {
            return done(
                Expect::Refused(vec![refused("FORBIDDEN", None, Kind::RefusedReadOnlyKey)]),
                tags,
            )
        }
        Actor::Key(k) => Cred::Key(k),
        Actor::Session(u) => Cred::Session(u),
    };
    let mut out: Vec<Refusal> = Vec::new();
    let mut probe: Option<Slot> = None;
    let invisible = |slot: Slot, probe: &mut Option<Slot>, tags: &mut Vec<Kind>, kind: Kind| {
        if probe.is_none() {
            *probe = Some(slot);
        }
        tags.push(kind);
    };
    // The project a mutation acts on: NOT_FOUND when missing or invisible.
    let main_project = |r: Ref,
                        out: &mut Vec<Refusal>,
                        probe: &mut Option<Slot>,
                        tags: &mut Vec<Kind>|
     -> Option<(usize, Rights)> {
        match r {
            None => {
                out.push(refused("NOT_FOUND", None, Kind::RefusedProjectMissing));
                None
            }
            Some(p) => match w.rights(cred, p, 0) {
                None => {
                    out.push(refused("NOT_FOUND", None, Kind::RefusedProjectInvisible));
                    invisible(Slot::Project, probe, tags, Kind::LookupInvisibleProject);
                    None
                }
                Some(r) => Some((p, r)),
            },
        }
    };
    let lacks = |rights: &Rights, right: &str, out: &mut Vec<Refusal>| {
        if !rights.contains(right) {
            out.push(Refusal {
                code: "FORBIDDEN",
                field: None,
                reason: Kind::RefusedLacksRight,
            });
        }
    };
    // A referenced project (a parent): invisible answers as missing, NOT_FOUND or
    // BAD_USER_INPUT on `parentId`.
    let parent_ref = |r: Ref, out: &mut Vec<Refusal>| -> Option<(usize, Rights)> {
        let reason = match r {
            None => Kind::RefusedParentMissing,
            Some(q) => match w.rights(cred, q, 0) {
                Some(rights) => return Some((q, rights)),
                None => Kind::RefusedParentInvisible,
            },
        };
        out.push(refused("NOT_FOUND", None, reason));
        out.push(refused("BAD_USER_INPUT", Some("parentId"), reason));
        None
    };
    // A department (none: not given, or cleared).
    let dept_ref = |d: Option<Ref>, out: &mut Vec<Refusal>| -> bool {
        let reason = match d {
            None => return false,
            Some(Some(d)) if w.sees_dept(cred, d) => return false,
            Some(None) => Kind::RefusedDeptMissing,
            Some(Some(_)) => Kind::RefusedDeptInvisible,
        };
        out.push(refused("BAD_USER_INPUT", Some("departmentId"), reason));
        out.push(refused("NOT_FOUND", None, reason));
        reason == Kind::RefusedDeptInvisible
    };
    let mut after = w.clone();
    let mut created = Created::Nothing;
    match op {
        Op::AddMember {
            project,
            who,
            profile,
            from,
            until,
        } => {
            let target = main_project(*project, &mut out, &mut probe, &mut tags);
            if let Some((_, rights)) = &target {
                lacks(rights, "MANAGE_MEMBERS", &mut out);
            }
            let principal = match who {
                Who::User(None) => {
                    out.push(refused(
                        "BAD_USER_INPUT",
                        Some("userId"),
                        Kind::RefusedUserMissing,
                    ));
                    None
                }
                Who::User(Some(x)) if !w.sees_user(cred, *x) => {
                    out.push(refused(
                        "BAD_USER_INPUT",
                        Some("userId"),
                        Kind::RefusedUserInvisible,
                    ));
                    invisible(Slot::User, &mut probe, &mut tags, Kind::LookupInvisibleUser);
                    None
                }
                Who::User(Some(x)) => Some(Principal::User(*x)),
                Who::Group(None) => {
                    out.push(refused(
                        "BAD_USER_INPUT",
                        Some("groupId"),
                        Kind::RefusedGroupMissing,
                    ));
                    None
                }
                Who::Group(Some(g)) if !w.sees_group(cred, *g) => {
                    out.push(refused(
                        "BAD_USER_INPUT",
                        Some("groupId"),
                        Kind::RefusedGroupInvisible,
                    ));
                    invisible(
                        Slot::Group,
                        &mut probe,
                        &mut tags,
                        Kind::LookupInvisibleGroup,
                    );
                    None
                }
                Who::Group(Some(g)) => Some(Principal::Group(*g)),
            };
            if let (Some((p, _)), Some(principal)) = (target, principal) {
                after.memberships.push(Membership {
                    principal,
                    project: p,
                    profile: *profile,
                    from: *from,
                    until: *until,
                    removed: false,
                });
                created = Created::Membership;
            }
        }
        Op::RemoveMember { membership } => match membership {
            Some(m) if !w.memberships[*m].removed => {
                let p = w.memberships[*m].project;
                match w.rights(cred, p, 0) {
                    None => {
                        out.push(refused("NOT_FOUND", None, Kind::RefusedMembershipInvisible));
                        invisible(
                            Slot::Membership,
                            &mut probe,
                            &mut tags,
                            Kind::LookupInvisibleMembership,
                        );
                    }
                    Some(rights) => {
                        lacks(&rights, "MANAGE_MEMBERS", &mut out);
                        after.memberships[*m].removed = true;
                    }
                }
            }
            _ => out.push(refused("NOT_FOUND", None, Kind::RefusedMembershipMissing)),
        },
        Op::Move { project, parent } => {
            let target = main_project(*project, &mut out, &mut probe, &mut tags);
            if let Some((_, rights)) = &target {
                lacks(rights, "EDIT_PROJECT", &mut out);
                lacks(rights, "MANAGE_MEMBERS", &mut out);
            }
            let new_parent = match parent {
                NewParent::Top => {
                    if !w.is_admin(cred) && !w.global_of(cred).contains("CREATE_PROJECTS") {
                        out.push(refused("FORBIDDEN", None, Kind::RefusedTopLevel));
                    }
                    Some(None)
                }
                NewParent::Project(r) => {
                    let q = parent_ref(*r, &mut out);
                    if q.is_none() && r.is_some() {
                        invisible(
                            Slot::Parent,
                            &mut probe,
                            &mut tags,
                            Kind::LookupInvisibleParent,
                        );
                    }
                    if let Some((q, rights)) = &q {
                        lacks(rights, "CREATE_SUBPROJECTS", &mut out);
                        if let Some((p, _)) = &target {
                            if w.subtree(*p).contains(q) {
                                out.push(refused(
                                    "BAD_USER_INPUT",
                                    Some("parentId"),
                                    Kind::RefusedCycle,
                                ));
                                out.push(refused("FORBIDDEN", None, Kind::RefusedCycle));
                            }
                        }
                    }
                    q.map(|(q, _)| Some(q))
                }
            };
            if let (Some((p, _)), Some(parent)) = (target, new_parent) {
                after.projects[p].parent = parent;
            }
        }
        Op::Inherit { project, value } => {
            if let Some((p, rights)) = main_project(*project, &mut out, &mut probe, &mut tags) {
                lacks(&rights, "EDIT_PROJECT", &mut out);
                if w.projects[p].inherit != *value {
                    lacks(&rights, "MANAGE_MEMBERS", &mut out);
                }
                after.projects[p].inherit = *value;
            }
        }
        Op::Department { project, dept } => {
            let target = main_project(*project, &mut out, &mut probe, &mut tags);
            if let Some((_, rights)) = &target {
                lacks(rights, "EDIT_PROJECT", &mut out);
                lacks(rights, "MANAGE_MEMBERS", &mut out);
            }
            if dept_ref(*dept, &mut out) {
                invisible(
                    Slot::Dept,
                    &mut probe,
                    &mut tags,
                    Kind::LookupInvisibleDepartment,
                );
            }
            if let Some((p, _)) = target {
                after.projects[p].dept = dept.flatten();
            }
        }
        Op::External {
            project,
            rights: ext,
        } => {
            if let Some((p, rights)) = main_project(*project, &mut out, &mut probe, &mut tags) {
                lacks(&rights, "EDIT_PROJECT", &mut out);
                after.projects[p].ext = *ext;
            }
        }
        Op::Status { project, status } => {
            if let Some((p, rights)) = main_project(*project, &mut out, &mut probe, &mut tags) {
                lacks(&rights, "EDIT_PROJECT", &mut out);
                after.projects[p].status = *status;
            }
        }
        Op::CreateProject {
            parent,
            inherit,
            status,
            dept,
            ..
        } => {
            let host = match parent {
                None => {
                    if !w.is_admin(cred) && !w.global_of(cred).contains("CREATE_PROJECTS") {
                        out.push(refused("FORBIDDEN", None, Kind::RefusedTopLevel));
                    }
                    None
                }
                Some(r) => {
                    let q = parent_ref(*r, &mut out);
                    if q.is_none() && r.is_some() {
                        invisible(
                            Slot::Parent,
                            &mut probe,
                            &mut tags,
                            Kind::LookupInvisibleParent,
                        );
                    }
                    if let Some((_, rights)) = &q {
                        lacks(rights, "CREATE_SUBPROJECTS", &mut out);
                    }
                    q.map(|(q, _)| q)
                }
            };
            if dept_ref(*dept, &mut out) {
                invisible(
                    Slot::Dept,
                    &mut probe,
                    &mut tags,
                    Kind::LookupInvisibleDepartment,
                );
            }
            after.projects.push(Project {
                parent: host,
                inherit: *inherit,
                status,
                dept: dept.flatten(),
                ext: None,
            });
            let p = after.projects.len() - 1;
            created = Created::Project;
            if parent.is_none() || (!*inherit && server_reading("room-creator")) {
                // The creator becomes a member with its default profile.
                after.memberships.push(Membership {
                    principal: Principal::User(w.owner(cred)),
                    project: p,
                    profile: w.users[w.owner(cred)].profile,
                    from: None,
                    until: None,
                    removed: false,
                });
                created = Created::ProjectAndMembership;
            }
        }
        Op::CreateKey {
            expires,
            projects,
            read_only,
        } => {
            // A key made through an expiring key cannot outlive it.
            if let Cred::Key(k) = cred {
                if let Some(e) = w.keys[k].expires {
                    if expires.is_none_or(|x| x > e) {
                        out.push(refused("FORBIDDEN", None, Kind::RefusedOutlive));
                    }
                }
            }
            let mut named = Vec::new();
            for (i, r) in projects.iter().flatten().enumerate() {
                match r {
                    Some(p) if w.rights(cred, *p, 0).is_some() => {
                        if !named.contains(p) {
                            named.push(*p);
                        }
                    }
                    _ => {
                        let reason = if r.is_some() {
                            invisible(
                                Slot::KeyProject(i),
                                &mut probe,
                                &mut tags,
                                Kind::LookupInvisibleKeyProject,
                            );
                            Kind::RefusedKeyProjectInvisible
                        } else {
                            Kind::RefusedKeyProjectMissing
                        };
                        out.push(refused("BAD_USER_INPUT", Some("projectIds"), reason));
                        out.push(refused("NOT_FOUND", None, reason));
                    }
                }
            }
            let narrowed_to = if projects.is_some() {
                Some(named)
            } else {
                match cred {
                    Cred::Key(k) => w.keys[k].projects.clone(),
                    Cred::Session(_) => None,
                }
            };
            after.keys.push(Key {
                owner: w.owner(cred),
                read_only: *read_only,
                projects: narrowed_to,
                expires: *expires,
                revoked: false,
            });
            created = Created::Key(after.keys.len() - 1);
        }
        Op::RevokeKey { key } => match key {
            None => out.push(refused("NOT_FOUND", None, Kind::RefusedKeyMissing)),
            Some(k) => {
                let may = match cred {
                    Cred::Key(own) => own == *k,
                    Cred::Session(u) => w.keys[*k].owner == u || w.is_admin(cred),
                };
                if may {
                    after.keys[*k].revoked = true;
                } else {
                    out.push(refused("NOT_FOUND", None, Kind::RefusedKeyNotOwn));
                    invisible(Slot::Key, &mut probe, &mut tags, Kind::LookupInvisibleKey);
                }
            }
        },
    }
    let mut why = String::new();
    if out.is_empty() {
        // No escalation, by any path (ADMIN aside; a new project is no existing project).
        let gains = w.gains(&after, cred);
        let admin = w.is_admin(cred);
        let beyond: Vec<&Gain> = gains.iter().filter(|g| !g.beyond.is_empty()).collect();
        if !gains.is_empty() {
            tags.push(Kind::GainAttempted);
        }
        // ADMIN aside (an ADMIN holds every right, but an ADMIN's expiring key holds nothing
        // after it expires: still exempt).
        if admin && !beyond.is_empty() {
            tags.push(Kind::EscalationAdminExempt);
        } else if let Some(first) = beyond.first() {
            out.push(refused("FORBIDDEN", None, Kind::RefusedEscalation));
            let _ = write!(
                why,
                "U{} would gain {:?} on P{} on day today{:+} beyond the caller's rights there ({:?})",
                first.user,
                first.beyond,
                first.project,
                first.day,
                w.rights(cred, first.project, first.day)
            );
            tags.push(match op {
                Op::AddMember {
                    who: Who::Group(_), ..
                } => Kind::EscalationViaGroup,
                Op::AddMember { .. } => Kind::EscalationViaMember,
                Op::Move { .. } => Kind::EscalationViaMove,
                Op::Inherit { .. } => Kind::EscalationViaInherit,
                Op::Department { .. } => Kind::EscalationViaDepartment,
                Op::External { .. } => Kind::EscalationViaExternalRights,
                Op::Status { .. } => Kind::EscalationViaStatus,
                _ => Kind::EscalationOther,
            });
            if beyond.iter().all(|g| g.day > 0) {
                tags.push(Kind::EscalationFutureDayOnly);
                let me = w.owner(cred);
                if matches!(op, Op::AddMember { who: Who::User(Some(x)), .. } if *x == me)
                    && beyond.iter().all(|g| g.user == me)
                {
                    tags.push(Kind::EscalationSelfExtend);
                }
                if let Cred::Key(k) = cred {
                    if w.keys[k]
                        .expires
                        .is_some_and(|e| beyond.iter().all(|g| g.day > e))
                    {
                        tags.push(Kind::EscalationKeyExpiry);
                    }
                }
            }
            if beyond
                .iter()
                .all(|g| g.beyond.len() == 1 && g.beyond.contains(VISIBLE))
            {
                tags.push(Kind::EscalationVisibilityOnly);
            }
            if beyond.iter().any(|g| w.users[g.user].external) {
                tags.push(Kind::EscalationToExternal);
            }
        } else if !gains.is_empty() {
            tags.push(Kind::GrantWithinCallerRights);
            if gains.iter().any(|g| g.day > 0 && g.gained.len() > 1) {
                tags.push(Kind::GrantTimeBound);
            }
        }
        // An external user given a profile with rights the caller lacks, allowed because
        // the ceiling cuts them.
        if out.is_empty() {
            if let Op::AddMember {
                project: Some(p),
                who: Who::User(Some(x)),
                profile,
                ..
            } = op
            {
                let held = w.rights(cred, *p, 0).unwrap_or_default();
                if !admin
                    && w.users[*x].external
                    && !w.profiles[*profile]
                        .and(Rights(B_PROJECT))
                        .minus(held)
                        .is_empty()
                {
                    tags.push(Kind::GrantCutByCeiling);
                }
            }
        }
    }
    let expect = if out.is_empty() {
        Expect::Allowed(Box::new(after), created)
    } else {
        Expect::Refused(out)
    };
    Planned {
        actor,
        op: op.clone(),
        expect,
        probe,
        tags,
        why,
    }
}

/// A step of `kind` that the model refuses as an escalation, found among a sample of
/// candidates (steps by an actor holding what the mutation needs); none when the sample
/// holds none. (Random steps reach some escalation paths too rarely: a department change,
/// a reopening, a widening of `externalRights` only escalate in particular worlds.)
fn directed(w: &World, kind: OpKind, rng: &mut Rng) -> Option<(Actor, Op)> {
    let pre = w.pre();
    let n = w.projects.len();
    let mut creds: Vec<Cred> = (0..w.users.len()).map(Cred::Session).collect();
    creds.extend(
        (0..w.keys.len())
            .filter(|&k| !w.keys[k].revoked && !w.keys[k].read_only)
            .map(Cred::Key),
    );
    let mut candidates: Vec<(Actor, Op)> = Vec::new();
    // Adding a member: a third of the time, groups only (users are many more).
    let groups_only = kind == OpKind::AddMember && rng.chance(35);
    for c in creds {
        let actor = match c {
            Cred::Session(u) => Actor::Session(u),
            Cred::Key(k) => Actor::Key(k),
        };
        let rights: Vec<Option<Rights>> = (0..n).map(|p| pre.rights(c, p, 0)).collect();
        let has = |p: usize, r: &str| rights[p].as_ref().is_some_and(|x| x.contains(r));
        for p in 0..n {
            let project = &w.projects[p];
            let mut push = |op: Op| candidates.push((actor, op));
            match kind {
                OpKind::Department if has(p, "EDIT_PROJECT") && has(p, "MANAGE_MEMBERS") => {
                    for d in 0..w.departments.len() {
                        push(Op::Department {
                            project: Some(p),
                            dept: Some(Some(d)),
                        });
                    }
                }
                OpKind::Status
                    if has(p, "EDIT_PROJECT")
                        && matches!(project.status, "POTENTIAL" | "CLOSED") =>
                {
                    push(Op::Status {
                        project: Some(p),
                        status: "OPEN",
                    })
                }
                OpKind::External if has(p, "EDIT_PROJECT") && project.ext.is_some() => {
                    push(Op::External {
                        project: Some(p),
                        rights: None,
                    })
                }
                OpKind::Inherit
                    if has(p, "EDIT_PROJECT")
                        && has(p, "MANAGE_MEMBERS")
                        && !project.inherit
                        && project.parent.is_some() =>
                {
                    push(Op::Inherit {
                        project: Some(p),
                        value: true,
                    })
                }
                OpKind::Move if has(p, "EDIT_PROJECT") && has(p, "MANAGE_MEMBERS") => {
                    let below = w.subtree(p);
                    for q in (0..n).filter(|q| !below.contains(q) && has(*q, "CREATE_SUBPROJECTS"))
                    {
                        push(Op::Move {
                            project: Some(p),
                            parent: NewParent::Project(Some(q)),
                        });
                    }
                }
                OpKind::AddMember if has(p, "MANAGE_MEMBERS") => {
                    let expiring = matches!(c, Cred::Key(k) if w.keys[k].expires.is_some());
                    for g in 0..w.groups.len() {
                        push(Op::AddMember {
                            project: Some(p),
                            who: Who::Group(Some(g)),
                            profile: 0,
                            from: None,
                            until: None,
                        });
                    }
                    // EXTERNAL users (their extra rights cut by the ceiling), anyone
                    // through an expiring key (granting past its expiry), and anyone with
                    // any profile (grants within the caller's rights).
                    for x in (0..w.users.len()).filter(|_| !groups_only) {
                        for profile in 0..w.profiles.len() {
                            if profile == 0 || !(w.users[x].external || expiring) {
                                push(Op::AddMember {
                                    project: Some(p),
                                    who: Who::User(Some(x)),
                                    profile,
                                    from: None,
                                    until: None,
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // What to look for: mostly an escalation refused, else a grant allowed (someone gains,
    // within the caller's rights, or cut to them by the ceiling, or by an ADMIN).
    let allowed = rng.chance(40);
    let wanted = |p: &Planned| -> bool {
        match &p.expect {
            Expect::Refused(r) => !allowed && matches!(r[0].reason, Kind::RefusedEscalation),
            Expect::Allowed(..) => {
                allowed
                    && p.tags.iter().any(|t| {
                        matches!(
                            t,
                            Kind::GrantWithinCallerRights
                                | Kind::GrantCutByCeiling
                                | Kind::EscalationAdminExempt
                        )
                    })
            }
        }
    };
    for _ in 0..30 {
        if candidates.is_empty() {
            break;
        }
        let (actor, op) = candidates.swap_remove(rng.below(candidates.len()));
        if wanted(&expect(w, actor, &op)) {
            return Some((actor, op));
        }
    }
    None
}

/// The model's plan of one case: each step as drawn, with what the model expects. (The
/// world after each step follows from the expectation: the sequence does not depend on the
/// server, since any disagreement ends the case.)
fn plan_case(w0: &World, steps: &[RawStep]) -> Vec<(World, Planned)> {
    let mut w = w0.clone();
    let mut out = Vec::new();
    for (i, (kind, seed)) in steps.iter().enumerate() {
        let mut rng = Rng(*seed);
        let kind = op_kind(*kind);
        const RARE: [OpKind; 5] = [
            OpKind::Department,
            OpKind::Inherit,
            OpKind::External,
            OpKind::Status,
            OpKind::Move,
        ];
        let share = match kind {
            OpKind::Department | OpKind::Inherit | OpKind::External | OpKind::Status => 70,
            OpKind::Move => 45,
            OpKind::AddMember => 20,
            _ => 0,
        };
        let found = if rng.chance(share) {
            // The other rarer paths in turn when this one finds nothing.
            let mut found = directed(&w, kind, &mut rng);
            if RARE.contains(&kind) {
                let start = rng.below(RARE.len());
                for j in 0..RARE.len() {
                    let other = RARE[(start + j) % RARE.len()];
                    if found.is_some() {
                        break;
                    }
                    if other != kind {
                        found = directed(&w, other, &mut rng);
                    }
                }
            }
            found
        } else {
            None
        };
        let (actor, op) = match found {
            Some(found) => found,
            None => {
                let actor = draw_actor(&w, kind, &mut rng);
                (actor, draw_op(&w, kind, actor, i, &mut rng))
            }
        };
        let mut planned = expect(&w, actor, &op);
        tag_step(&w, &mut planned);
        let next = match &planned.expect {
            Expect::Allowed(after, _) => Some((**after).clone()),
            Expect::Refused(_) => None,
        };
        out.push((w.clone(), planned));
        if let Some(next) = next {
            w = next;
        }
    }
    out
}

/// The coverage tags of a step's kind, actor and outcome.
fn tag_step(w: &World, p: &mut Planned) {
    p.tags.push(match &p.op {
        Op::AddMember {
            who: Who::User(_), ..
        } => Kind::StepAddUser,
        Op::AddMember {
            who: Who::Group(_), ..
        } => Kind::StepAddGroup,
        Op::RemoveMember { .. } => Kind::StepRemoveMember,
        Op::Move { .. } => Kind::StepMove,
        Op::Inherit { .. } => Kind::StepInherit,
        Op::Department { .. } => Kind::StepDepartment,
        Op::External { .. } => Kind::StepExternalRights,
        Op::Status { .. } => Kind::StepStatus,
        Op::CreateProject { parent: None, .. } => Kind::StepCreateTop,
        Op::CreateProject { .. } => Kind::StepCreateSub,
        Op::CreateKey { .. } => Kind::StepCreateKey,
        Op::RevokeKey { .. } => Kind::StepRevokeKey,
    });
    match p.actor {
        Actor::Session(u) => {
            if w.default_rights(u).contains("ADMIN") {
                p.tags.push(Kind::ActorAdmin);
            } else if w.users[u].external {
                p.tags.push(Kind::ActorExternal);
            } else {
                p.tags.push(Kind::ActorInternal);
            }
        }
        Actor::Key(k) => {
            let key = &w.keys[k];
            p.tags.push(if key.read_only {
                Kind::ActorReadOnlyKey
            } else if key.projects.is_some() {
                Kind::ActorNarrowedKey
            } else {
                Kind::ActorKey
            });
            if key.expires.is_some() && !key.read_only {
                p.tags.push(Kind::ActorExpiringKey);
            }
        }
        Actor::ViewAs(u, _) => p.tags.push(
            if w.default_rights(u).contains("IMPERSONATE") || w.default_rights(u).contains("ADMIN")
            {
                Kind::ActorViewAs
            } else {
                Kind::ActorViewAsWithoutImpersonate
            },
        ),
    }
    match &p.expect {
        Expect::Allowed(..) => p.tags.push(Kind::Allowed),
        Expect::Refused(r) => p.tags.push(r[0].reason),
    }
}

// ---------------------------------------------------------------------------------------
// Coverage.
// ---------------------------------------------------------------------------------------

macro_rules! kinds {
    ($($kind:ident: $name:literal >= $min:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Kind {
            $($kind,)*
        }
        const KINDS: &[(&str, usize)] = &[$(($name, $min),)*];
    };
}

kinds! {
    // Steps per mutation.
    StepAddUser: "step: addProjectMember (user)" >= 51,
    StepAddGroup: "step: addProjectMember (group)" >= 9,
    StepRemoveMember: "step: removeProjectMember" >= 13,
    StepMove: "step: updateProject parentId (move)" >= 26,
    StepInherit: "step: updateProject inheritMembers" >= 12,
    StepDepartment: "step: updateProject departmentId" >= 13,
    StepExternalRights: "step: updateProject externalRights" >= 16,
    StepStatus: "step: setProjectStatus" >= 18,
    StepCreateTop: "step: createProject (top level)" >= 8,
    StepCreateSub: "step: createProject (sub-project)" >= 10,
    StepCreateKey: "step: createApiKey" >= 19,
    StepRevokeKey: "step: revokeApiKey" >= 18,
    // Actors.
    ActorInternal: "actor: INTERNAL user's session" >= 101,
    ActorExternal: "actor: EXTERNAL user's session" >= 26,
    ActorAdmin: "actor: ADMIN's session" >= 18,
    ActorKey: "actor: API key (not narrowed)" >= 23,
    ActorNarrowedKey: "actor: API key narrowed to projects" >= 18,
    ActorExpiringKey: "actor: expiring API key (writable)" >= 21,
    ActorReadOnlyKey: "actor: read-only API key" >= 7,
    ActorViewAs: "actor: view-as session (IMPERSONATE)" >= 3,
    ActorViewAsWithoutImpersonate: "actor: view-as without IMPERSONATE" >= 5,
    // Outcomes and refusals (the model's first reason).
    Allowed: "outcome: allowed" >= 83,
    RefusedViewAs: "refusal: view-as is read-only (FORBIDDEN)" >= 13,
    RefusedReadOnlyKey: "refusal: read-only API key (FORBIDDEN)" >= 7,
    RefusedRevokedKey: "refusal: revoked API key (UNAUTHENTICATED)" >= 1,
    RefusedProjectMissing: "refusal: project missing (NOT_FOUND)" >= 3,
    RefusedProjectInvisible: "refusal: project invisible (NOT_FOUND)" >= 25,
    RefusedLacksRight: "refusal: lacks the project right (FORBIDDEN)" >= 4,
    RefusedTopLevel: "refusal: top level without CREATE_PROJECTS (FORBIDDEN)" >= 5,
    RefusedUserMissing: "refusal: user missing (BAD_USER_INPUT userId)" >= 0,
    RefusedUserInvisible: "refusal: user invisible (BAD_USER_INPUT userId)" >= 1,
    RefusedGroupMissing: "refusal: group missing (BAD_USER_INPUT groupId)" >= 1,
    RefusedGroupInvisible: "refusal: group invisible (BAD_USER_INPUT groupId)" >= 0,
    RefusedParentMissing: "refusal: parent missing" >= 0,
    RefusedParentInvisible: "refusal: parent invisible" >= 3,
    RefusedCycle: "refusal: move under itself or a descendant" >= 0,
    RefusedDeptMissing: "refusal: department missing" >= 0,
    RefusedDeptInvisible: "refusal: department invisible" >= 0,
    RefusedMembershipMissing: "refusal: membership missing or removed (NOT_FOUND)" >= 2,
    RefusedMembershipInvisible: "refusal: membership on an invisible project (NOT_FOUND)" >= 1,
    RefusedKeyMissing: "refusal: API key missing (NOT_FOUND)" >= 1,
    RefusedKeyNotOwn: "refusal: another key (another's, or not the key in use) (NOT_FOUND)" >= 1,
    RefusedKeyProjectMissing: "refusal: createApiKey naming a missing project" >= 0,
    RefusedKeyProjectInvisible: "refusal: createApiKey naming a project out of reach" >= 1,
    RefusedOutlive: "refusal: a key outliving the key that makes it (FORBIDDEN)" >= 1,
    RefusedEscalation: "refusal: escalation (FORBIDDEN)" >= 29,
    // Escalation.
    GainAttempted: "escalation: a step would give someone a right or a project" >= 54,
    GrantWithinCallerRights: "escalation: allowed, every gain held by the caller" >= 16,
    GrantTimeBound: "escalation: allowed gain on a future day" >= 13,
    GrantCutByCeiling: "escalation: allowed, an EXTERNAL member's extra rights cut by the ceiling" >= 0,
    EscalationAdminExempt: "escalation: allowed, ADMIN exempt (an ADMIN's expiring key)" >= 0,
    EscalationViaMember: "escalation refused: adding a user" >= 3,
    EscalationViaGroup: "escalation refused: adding a group" >= 0,
    EscalationViaMove: "escalation refused: moving a project" >= 0,
    EscalationViaInherit: "escalation refused: switching inheritMembers on" >= 0,
    EscalationViaDepartment: "escalation refused: changing the department" >= 0,
    EscalationViaExternalRights: "escalation refused: widening externalRights" >= 2,
    EscalationViaStatus: "escalation refused: reopening a POTENTIAL/CLOSED project" >= 0,
    EscalationOther: "escalation refused: other" >= 0,
    EscalationFutureDayOnly: "escalation refused: gain only on a future day" >= 5,
    EscalationSelfExtend: "escalation refused: re-adding oneself past one's own validUntil" >= 1,
    EscalationKeyExpiry: "escalation refused: gain after the caller's key expires" >= 0,
    EscalationVisibilityOnly: "escalation refused: only a project's visibility gained" >= 0,
    EscalationToExternal: "escalation refused: an EXTERNAL user would gain" >= 6,
    // Invisible ids answered as missing ones (each compared with a missing id).
    LookupInvisibleProject: "look-up: invisible project" >= 25,
    LookupInvisibleUser: "look-up: invisible user" >= 4,
    LookupInvisibleGroup: "look-up: invisible group" >= 0,
    LookupInvisibleParent: "look-up: invisible parent" >= 5,
    LookupInvisibleDepartment: "look-up: invisible department" >= 2,
    LookupInvisibleMembership: "look-up: invisible membership" >= 1,
    LookupInvisibleKey: "look-up: another's API key" >= 1,
    LookupInvisibleKeyProject: "look-up: invisible project in createApiKey" >= 2,
}

/// Sums of kinds with a minimum together (some alone are too rare, whatever the seed, to
/// assert one).
const GROUPS: &[(&str, &[Kind], usize)] = &[
    (
        "missing ids of every kind (refusals)",
        &[
            Kind::RefusedProjectMissing,
            Kind::RefusedUserMissing,
            Kind::RefusedGroupMissing,
            Kind::RefusedParentMissing,
            Kind::RefusedDeptMissing,
            Kind::RefusedMembershipMissing,
            Kind::RefusedKeyMissing,
            Kind::RefusedKeyProjectMissing,
        ],
        25,
    ),
    (
        "invisible ids of every kind, each compared with a missing one",
        &[
            Kind::LookupInvisibleProject,
            Kind::LookupInvisibleUser,
            Kind::LookupInvisibleGroup,
            Kind::LookupInvisibleParent,
            Kind::LookupInvisibleDepartment,
            Kind::LookupInvisibleMembership,
            Kind::LookupInvisibleKey,
            Kind::LookupInvisibleKeyProject,
        ],
        58,
    ),
    (
        "escalations refused through a membership (a user or a group)",
        &[Kind::EscalationViaMember, Kind::EscalationViaGroup],
        5,
    ),
    (
        "escalations refused through a project change (move, inheritMembers, department, externalRights, status)",
        &[
            Kind::EscalationViaMove,
            Kind::EscalationViaInherit,
            Kind::EscalationViaDepartment,
            Kind::EscalationViaExternalRights,
            Kind::EscalationViaStatus,
        ],
        16,
    ),
    (
        "escalations refused for a later day only (a validUntil, a key's expiry)",
        &[Kind::EscalationFutureDayOnly],
        5,
    ),
    (
        "grants allowed (within the caller's rights, cut by the ceiling, or by an ADMIN)",
        &[
            Kind::GrantWithinCallerRights,
            Kind::GrantCutByCeiling,
            Kind::EscalationAdminExempt,
        ],
        17,
    ),
];

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
    fn group(&self, kinds: &[Kind]) -> usize {
        kinds.iter().map(|k| self.0[*k as usize]).sum()
    }
    fn short(&self) -> Vec<String> {
        let mut out: Vec<String> = KINDS
            .iter()
            .zip(&self.0)
            .filter(|((_, min), n)| *n < min)
            .map(|((name, min), n)| format!("{name}: {n} < {min}"))
            .collect();
        for (name, kinds, min) in GROUPS {
            let n = self.group(kinds);
            if n < *min {
                out.push(format!("all {name}: {n} < {min}"));
            }
        }
        out
    }
    fn report(&self) -> String {
        let mut s = String::new();
        for ((name, min), n) in KINDS.iter().zip(&self.0) {
            let _ = writeln!(s, "authz_writes:   {n:>5} (min {min:>3})  {name}");
        }
        for (name, kinds, min) in GROUPS {
            let n = self.group(kinds);
            let _ = writeln!(s, "authz_writes:   {n:>5} (min {min:>3})  all {name}");
        }
        s
    }
}

fn case_coverage(plan: &[(World, Planned)]) -> Coverage {
    let mut c = Coverage::new();
    for (_, p) in plan {
        for t in &p.tags {
            c.add(*t);
        }
    }
    c
}

// ---------------------------------------------------------------------------------------
// Descriptions, for failure messages.
// ---------------------------------------------------------------------------------------

fn ref_text(prefix: &str, r: Ref) -> String {
    r.map_or(format!("{prefix}<missing>"), |i| format!("{prefix}{i}"))
}

fn days_text(d: Option<i64>) -> String {
    d.map_or("-".to_string(), |d| format!("today{d:+}"))
}

fn actor_text(a: Actor) -> String {
    match a {
        Actor::Session(u) => format!("U{u} (session)"),
        Actor::Key(k) => format!("K{k} (API key)"),
        Actor::ViewAs(u, t) => format!("U{u} viewing as U{t}"),
    }
}

fn op_text(op: &Op) -> String {
    match op {
        Op::AddMember {
            project,
            who,
            profile,
            from,
            until,
        } => format!(
            "addProjectMember({} {} PR{profile} validFrom={} validUntil={})",
            ref_text("P", *project),
            match who {
                Who::User(u) => ref_text("U", *u),
                Who::Group(g) => ref_text("G", *g),
            },
            days_text(*from),
            days_text(*until)
        ),
        Op::RemoveMember { membership } => {
            format!("removeProjectMember({})", ref_text("M", *membership))
        }
        Op::Move { project, parent } => format!(
            "updateProject({} parentId={})",
            ref_text("P", *project),
            match parent {
                NewParent::Top => "null".to_string(),
                NewParent::Project(q) => ref_text("P", *q),
            }
        ),
        Op::Inherit { project, value } => {
            format!("updateProject({} inheritMembers={value})", ref_text("P", *project))
        }
        Op::Department { project, dept } => format!(
            "updateProject({} departmentId={})",
            ref_text("P", *project),
            dept.map_or("null".to_string(), |d| ref_text("D", d))
        ),
        Op::External { project, rights } => format!(
            "updateProject({} externalRights={:?})",
            ref_text("P", *project),
            rights
        ),
        Op::Status { project, status } => {
            format!("setProjectStatus({} {status})", ref_text("P", *project))
        }
        Op::CreateProject {
            name,
            parent,
            inherit,
            status,
            dept,
        } => format!(
            "createProject({name} parentId={} inheritMembers={inherit} status={status} departmentId={})",
            parent.map_or("-".to_string(), |p| ref_text("P", p)),
            dept.map_or("-".to_string(), |d| ref_text("D", d))
        ),
        Op::CreateKey {
            expires,
            projects,
            read_only,
        } => format!(
            "createApiKey(expiresAt={} readOnly={read_only} projectIds={})",
            expires.map_or("-".to_string(), |e| format!("today{e:+} 12:00Z")),
            projects.as_ref().map_or("-".to_string(), |ps| format!(
                "[{}]",
                ps.iter().map(|p| ref_text("P", *p)).collect::<Vec<_>>().join(", ")
            ))
        ),
        Op::RevokeKey { key } => format!("revokeApiKey({})", ref_text("K", *key)),
    }
}

fn expect_text(e: &Expect) -> String {
    match e {
        Expect::Allowed(..) => "allowed".to_string(),
        Expect::Refused(r) => {
            let alts: Vec<String> = r
                .iter()
                .map(|r| match r.field {
                    Some(f) => format!("{} on {f} ({:?})", r.code, r.reason),
                    None => format!("{} ({:?})", r.code, r.reason),
                })
                .collect();
            format!("refused: {}", alts.join(" or "))
        }
    }
}

impl World {
    fn describe(&self) -> String {
        let mut s = String::new();
        let dept = |d: Option<usize>| d.map_or("-".to_string(), |d| format!("D{d}"));
        let who = |p: Principal| match p {
            Principal::User(u) => format!("U{u}"),
            Principal::Group(g) => format!("G{g}"),
        };
        for (i, parent) in self.departments.iter().enumerate() {
            let _ = writeln!(s, "  department D{i} parent={}", dept(*parent));
        }
        for (i, p) in self.profiles.iter().enumerate() {
            let rights: Vec<&str> = p.iter().collect();
            let _ = writeln!(s, "  profile PR{i} {{{}}}", rights.join(", "));
        }
        for (i, u) in self.users.iter().enumerate() {
            let _ = writeln!(
                s,
                "  user U{i} {} dept={} profile=PR{}",
                if u.external { "EXTERNAL" } else { "INTERNAL" },
                dept(u.dept),
                u.profile
            );
        }
        for (i, g) in self.groups.iter().enumerate() {
            let _ = writeln!(s, "  group G{i} members={g:?}");
        }
        for (i, p) in self.projects.iter().enumerate() {
            let _ = writeln!(
                s,
                "  project P{i} parent={} inheritMembers={} status={} dept={} externalRights={:?}",
                p.parent.map_or("-".to_string(), |p| format!("P{p}")),
                p.inherit,
                p.status,
                dept(p.dept),
                p.ext
            );
        }
        for (i, m) in self.memberships.iter().enumerate() {
            let _ = writeln!(
                s,
                "  membership M{i} {} on P{} profile=PR{} validFrom={} validUntil={}{}",
                who(m.principal),
                m.project,
                m.profile,
                days_text(m.from),
                days_text(m.until),
                if m.removed { " (removed)" } else { "" }
            );
        }
        for (i, k) in self.keys.iter().enumerate() {
            let _ = writeln!(
                s,
                "  API key K{i} of U{} readOnly={} projects={} expires={}{}",
                k.owner,
                k.read_only,
                k.projects.as_ref().map_or("all".to_string(), |ps| format!(
                    "{:?}",
                    ps.iter().map(|p| format!("P{p}")).collect::<Vec<_>>()
                )),
                k.expires
                    .map_or("never".to_string(), |e| format!("today{e:+} 12:00Z")),
                if k.revoked { " (revoked)" } else { "" }
            );
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// The server side: writing a world, running steps, reading views.
// ---------------------------------------------------------------------------------------

fn gid(kind: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// The row id in a global id (0 when it is none).
fn row_id(gid: &str) -> i64 {
    URL_SAFE_NO_PAD
        .decode(gid)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.rsplit(':').next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Global ids of the world's objects (the loaded ones from their row ids, the created ones
/// from the server's answers), and the secrets of the credentials.
struct Live {
    base: i64,
    today: NaiveDate,
    projects: Vec<String>,
    users: Vec<String>,
    groups: Vec<String>,
    departments: Vec<String>,
    profiles: Vec<String>,
    memberships: Vec<String>,
    keys: Vec<String>,
    sessions: Vec<String>,
    secrets: Vec<String>,
    /// Every table as the last refused step left it (still so, as nothing was allowed
    /// since), so that consecutive refusals need one snapshot each.
    last_snapshot: Option<Vec<Vec<Vec<String>>>>,
}

impl Live {
    /// An id of `kind` that names nothing.
    fn missing(&self, kind: &str) -> String {
        gid(kind, self.base + 900_000)
    }
    /// A loaded user's row id, as text.
    fn user_id(&self, u: usize) -> String {
        (self.base + u as i64 + 1).to_string()
    }
    fn day(&self, d: i64) -> NaiveDate {
        self.today + Duration::days(d)
    }
    fn noon(&self, d: i64) -> DateTime<Utc> {
        self.day(d).and_hms_opt(12, 0, 0).unwrap().and_utc()
    }
}

/// Replaces whatever the previous case left with `w`; answers its ids and credentials.
async fn load_world(db: &Db, w: &World, base: i64) -> Result<Live, sqlx::Error> {
    let now = Utc::now();
    let today = now.date_naive();
    let mut live = Live {
        base,
        today,
        projects: Vec::new(),
        users: Vec::new(),
        groups: Vec::new(),
        departments: Vec::new(),
        profiles: Vec::new(),
        memberships: Vec::new(),
        keys: Vec::new(),
        sessions: Vec::new(),
        secrets: Vec::new(),
        last_snapshot: None,
    };
    let id = |i: usize| base + i as i64 + 1;
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
    ] {
        tx.execute(q(sql)).await?;
    }
    for (i, parent) in w.departments.iter().enumerate() {
        tx.execute(
            q("INSERT INTO department (department_id, name, parent_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id(i))
                .bind(format!("D{i}"))
                .bind(parent.map(id))
                .bind(now),
        )
        .await?;
        live.departments.push(gid("Department", id(i)));
    }
    for (i, rights) in w.profiles.iter().enumerate() {
        tx.execute(
            q("INSERT INTO profile (profile_id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id(i))
                .bind(format!("w{base} PR{i}"))
                .bind(now),
        )
        .await?;
        for r in rights.iter() {
            tx.execute(
                q("INSERT INTO profile_right (profile_id, right_name) VALUES ($1, $2)")
                    .bind(id(i))
                    .bind(r),
            )
            .await?;
        }
        live.profiles.push(gid("Profile", id(i)));
    }
    for (i, u) in w.users.iter().enumerate() {
        tx.execute(
            q("INSERT INTO app_user (user_id, email, name, kind, department_id, profile_id, password_hash, active, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, 'x', TRUE, $7)")
                .bind(id(i))
                .bind(format!("u{i}@w{base}.test"))
                .bind(format!("U{i}"))
                .bind(if u.external { "EXTERNAL" } else { "INTERNAL" })
                .bind(u.dept.map(id))
                .bind(id(u.profile))
                .bind(now),
        )
        .await?;
        let token = format!("pts_authz_writes_w{base}_u{i}");
        tx.execute(
            q("INSERT INTO session (session_id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id(i))
                .bind(id(i))
                .bind(portico::auth::token::hash(&token))
                .bind(now)
                .bind(now + Duration::hours(2)),
        )
        .await?;
        live.users.push(gid("User", id(i)));
        live.sessions.push(token);
    }
    for (i, members) in w.groups.iter().enumerate() {
        tx.execute(
            q("INSERT INTO user_group (group_id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id(i))
                .bind(format!("w{base} G{i}"))
                .bind(now),
        )
        .await?;
        for u in members {
            tx.execute(
                q("INSERT INTO group_member (group_id, user_id) VALUES ($1, $2)")
                    .bind(id(i))
                    .bind(id(*u)),
            )
            .await?;
        }
        live.groups.push(gid("Group", id(i)));
    }
    for (i, p) in w.projects.iter().enumerate() {
        let ext = p.ext.as_ref().map(|r| {
            RIGHTS
                .iter()
                .filter(|x| r.contains(x))
                .copied()
                .collect::<Vec<_>>()
                .join(",")
        });
        tx.execute(
            q("INSERT INTO project (project_id, name, status, department_id, parent_id, inherit_members, external_rights, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)")
                .bind(id(i))
                .bind(format!("P{i}"))
                .bind(p.status)
                .bind(p.dept.map(id))
                .bind(p.parent.map(id))
                .bind(p.inherit)
                .bind(ext)
                .bind(now),
        )
        .await?;
        live.projects.push(gid("Project", id(i)));
    }
    for (i, m) in w.memberships.iter().enumerate() {
        let (user, group) = match m.principal {
            Principal::User(u) => (Some(id(u)), None),
            Principal::Group(g) => (None, Some(id(g))),
        };
        tx.execute(
            q("INSERT INTO membership (membership_id, project_id, user_id, group_id, profile_id, valid_from, valid_until, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(id(i))
                .bind(id(m.project))
                .bind(user)
                .bind(group)
                .bind(id(m.profile))
                .bind(m.from.map(|d| live.day(d)))
                .bind(m.until.map(|d| live.day(d)))
                .bind(now),
        )
        .await?;
        live.memberships.push(gid("Membership", id(i)));
    }
    for (i, k) in w.keys.iter().enumerate() {
        let secret = format!("pak_authz_writes_w{base}_k{i}");
        tx.execute(
            q("INSERT INTO api_key (api_key_id, user_id, name, key_hash, prefix, read_only, expires_at, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(id(i))
                .bind(id(k.owner))
                .bind(format!("K{i}"))
                .bind(portico::auth::token::hash(&secret))
                .bind(secret.chars().take(10).collect::<String>())
                .bind(k.read_only)
                .bind(k.expires.map(|e| live.noon(e)))
                .bind(now),
        )
        .await?;
        for p in k.projects.iter().flatten() {
            tx.execute(
                q("INSERT INTO api_key_project (api_key_id, project_id) VALUES ($1, $2)")
                    .bind(id(i))
                    .bind(id(*p)),
            )
            .await?;
        }
        live.keys.push(gid("ApiKey", id(i)));
        live.secrets.push(secret);
    }
    tx.commit().await?;
    Ok(live)
}

/// The GraphQL request of a step: document, variables, and the field it answers in.
fn render(op: &Op, live: &Live) -> (String, Value, &'static str) {
    let project = |r: &Ref| match r {
        Some(p) => json!(live.projects[*p]),
        None => json!(live.missing("Project")),
    };
    let field = op.mutation();
    let (doc, vars) = match op {
        Op::AddMember {
            project: p,
            who,
            profile,
            from,
            until,
        } => {
            let mut i = json!({
                "projectId": project(p),
                "profileId": live.profiles[*profile],
                "validFrom": from.map(|d| live.day(d).to_string()),
                "validUntil": until.map(|d| live.day(d).to_string()),
            });
            match who {
                Who::User(u) => {
                    i["userId"] = json!(u.map_or(live.missing("User"), |u| live.users[u].clone()))
                }
                Who::Group(g) => {
                    i["groupId"] =
                        json!(g.map_or(live.missing("Group"), |g| live.groups[g].clone()))
                }
            }
            (
                "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }",
                json!({ "i": i }),
            )
        }
        Op::RemoveMember { membership } => (
            "mutation($id: ID!) { removeProjectMember(id: $id) { id } }",
            json!({ "id": membership.map_or(live.missing("Membership"), |m| live.memberships[m].clone()) }),
        ),
        Op::Move { project: p, parent } => (
            "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { id } }",
            json!({ "i": { "id": project(p), "parentId": match parent {
                NewParent::Top => Value::Null,
                NewParent::Project(q) => project(q),
            } } }),
        ),
        Op::Inherit { project: p, value } => (
            "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { id } }",
            json!({ "i": { "id": project(p), "inheritMembers": value } }),
        ),
        Op::Department { project: p, dept } => (
            "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { id } }",
            json!({ "i": { "id": project(p), "departmentId": match dept {
                None => Value::Null,
                Some(None) => json!(live.missing("Department")),
                Some(Some(d)) => json!(live.departments[*d]),
            } } }),
        ),
        Op::External { project: p, rights } => (
            "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { id } }",
            json!({ "i": { "id": project(p), "externalRights": rights.as_ref().map(|r| r.iter().collect::<Vec<_>>()) } }),
        ),
        Op::Status { project: p, status } => (
            "mutation($i: SetProjectStatusInput!) { setProjectStatus(input: $i) { id } }",
            json!({ "i": { "projectId": project(p), "status": status } }),
        ),
        Op::CreateProject {
            name,
            parent,
            inherit,
            status,
            dept,
        } => {
            let mut i = json!({ "name": name, "inheritMembers": inherit, "status": status });
            if let Some(p) = parent {
                i["parentId"] = project(p);
            }
            if let Some(d) = dept {
                i["departmentId"] =
                    json!(d.map_or(live.missing("Department"), |d| live.departments[d].clone()));
            }
            (
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
                json!({ "i": i }),
            )
        }
        Op::CreateKey {
            expires,
            projects,
            read_only,
        } => {
            let mut i = json!({ "name": "made by a step", "readOnly": read_only });
            if let Some(e) = expires {
                i["expiresAt"] = json!(live.noon(*e).to_rfc3339());
            }
            if let Some(ps) = projects {
                i["projectIds"] = Value::Array(ps.iter().map(project).collect());
            }
            (
                "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id readOnly expiresAt projects { id } } } }",
                json!({ "i": i }),
            )
        }
        Op::RevokeKey { key } => (
            "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }",
            json!({ "id": key.map_or(live.missing("ApiKey"), |k| live.keys[k].clone()) }),
        ),
    };
    (doc.to_string(), vars, field)
}

/// POSTs a request as `actor`; answers the status and the body.
async fn send_as(
    app: &TestApp,
    live: &Live,
    actor: Actor,
    doc: &str,
    vars: &Value,
) -> (u16, Value) {
    let (token, view_as) = match actor {
        Actor::Session(u) => (&live.sessions[u], None),
        Actor::Key(k) => (&live.secrets[k], None),
        Actor::ViewAs(u, t) => (&live.sessions[u], Some(&live.users[t])),
    };
    let mut req = app
        .client
        .post(&app.url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .bearer_auth(token)
        .json(&json!({ "query": doc, "variables": vars }));
    if let Some(t) = view_as {
        req = req.header("X-Portico-View-As", t.as_str());
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Where a run's time goes, in microseconds: world loading, snapshots, mutations (and
/// probes), reads.
static TIME: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

async fn timed<T>(slot: usize, f: impl std::future::Future<Output = T>) -> T {
    let start = std::time::Instant::now();
    let out = f.await;
    TIME[slot].fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
    out
}

async fn snapshot_all(db: &Db) -> Vec<Vec<Vec<String>>> {
    timed(
        1,
        futures_util::future::join_all(EVERY_TABLE.iter().map(|t| snapshot(db, t))),
    )
    .await
}

/// What changed between two snapshots, as text (empty when nothing did). A "view as"
/// request may add its audit event ("Impersonated requests are ... written to the audit log
/// with both users"), naming the user read as and the impersonator.
fn diff(
    before: &[Vec<Vec<String>>],
    after: &[Vec<Vec<String>>],
    view_as: Option<(&str, &str)>,
) -> String {
    let mut s = String::new();
    let audited = |t: &str, r: &Vec<String>| -> bool {
        let Some((actor, impersonator)) = view_as else {
            return false;
        };
        t == "audit_event"
            && r.iter().any(|c| c == "action=IMPERSONATED_REQUEST")
            && r.iter().any(|c| *c == format!("actor_id={actor}"))
            && r.iter()
                .any(|c| *c == format!("impersonator_id={impersonator}"))
    };
    for ((t, was), now) in EVERY_TABLE.iter().zip(before).zip(after) {
        if was != now {
            let gone: Vec<&Vec<String>> = was.iter().filter(|r| !now.contains(r)).collect();
            let new: Vec<&Vec<String>> = now
                .iter()
                .filter(|r| !was.contains(r) && !audited(t, r))
                .collect();
            if gone.is_empty() && new.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                "{t}: rows gone or changed {gone:?}, rows new or changed {new:?}; "
            );
        }
    }
    s
}

fn error_parts(body: &Value) -> (String, String, String) {
    let e = &body["errors"][0];
    (
        e["extensions"]["code"].as_str().unwrap_or("").to_string(),
        e["message"].as_str().unwrap_or("").to_string(),
        e["extensions"]["field"].as_str().unwrap_or("").to_string(),
    )
}

/// The read every credential makes after a change.
const READ: &str = "{ projects(first: 500) { totalCount nodes { id viewerRights } } \
                    users(first: 500) { totalCount nodes { id } } groups { id } }";

/// The same with the credential's `apiKeys` (not asked of a "view as" session).
const READ_KEYS: &str = "{ projects(first: 500) { totalCount nodes { id viewerRights } } \
                    users(first: 500) { totalCount nodes { id } } groups { id } apiKeys { id } }";

/// Compares what `actor` reads with the model; answers the disagreements. A "view as"
/// session reads exactly as its target.
fn check_read(
    w: &World,
    live: &Live,
    actor: Actor,
    status: u16,
    body: &Value,
) -> Vec<(&'static str, String)> {
    let (cred, who) = match actor {
        Actor::Session(u) => (Cred::Session(u), format!("U{u}")),
        Actor::Key(k) => (Cred::Key(k), format!("K{k} (key of U{})", w.keys[k].owner)),
        Actor::ViewAs(u, t) => (Cred::Session(t), format!("U{u} viewing as U{t}")),
    };
    let mut out = Vec::new();
    if status != 200 || body.get("errors").is_some() {
        out.push((
            "read-error",
            format!("{who}: read answered {status}: {body}"),
        ));
        return out;
    }
    let data = &body["data"];
    let index = |list: &[String]| -> BTreeMap<String, usize> {
        list.iter()
            .enumerate()
            .map(|(i, g)| (g.clone(), i))
            .collect()
    };
    // Projects and viewerRights.
    let projects = index(&live.projects);
    let mut seen: BTreeMap<usize, Rights> = BTreeMap::new();
    for n in data["projects"]["nodes"].as_array().into_iter().flatten() {
        let id = n["id"].as_str().unwrap_or_default();
        match projects.get(id) {
            Some(&p) => {
                let rights: Rights = n["viewerRights"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter_map(|r| RIGHTS.iter().find(|x| **x == r).copied())
                    .collect();
                seen.insert(p, rights);
            }
            None => out.push((
                "read-projects",
                format!("{who}: projects lists an unknown id {id}"),
            )),
        }
    }
    let expected: BTreeMap<usize, Rights> = (0..w.projects.len())
        .filter_map(|p| w.rights(cred, p, 0).map(|r| (p, r)))
        .collect();
    let exp_set: BTreeSet<usize> = expected.keys().copied().collect();
    let got_set: BTreeSet<usize> = seen.keys().copied().collect();
    if exp_set != got_set {
        out.push((
            "read-projects",
            format!(
                "{who}: visible projects are {:?}, the model expects {:?}",
                got_set.iter().map(|p| format!("P{p}")).collect::<Vec<_>>(),
                exp_set.iter().map(|p| format!("P{p}")).collect::<Vec<_>>()
            ),
        ));
    }
    if data["projects"]["totalCount"].as_u64() != Some(exp_set.len() as u64) {
        out.push((
            "read-projects",
            format!(
                "{who}: projects.totalCount is {}, the model expects {}",
                data["projects"]["totalCount"],
                exp_set.len()
            ),
        ));
    }
    for (p, rights) in &expected {
        if let Some(got) = seen.get(p) {
            if got != rights {
                out.push(("read-rights", format!(
                    "{who}: P{p}.viewerRights is {:?}, the model expects {:?} (missing {:?}, extra {:?})",
                    got,
                    rights,
                    rights.minus(*got),
                    got.minus(*rights)
                )));
            }
        }
    }
    // Users and groups.
    let users = index(&live.users);
    let got_users: BTreeSet<usize> = data["users"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| users.get(n["id"].as_str().unwrap_or_default()).copied())
        .collect();
    let exp_users: BTreeSet<usize> = (0..w.users.len())
        .filter(|&x| w.sees_user(cred, x))
        .collect();
    if got_users != exp_users {
        out.push((
            "read-users",
            format!(
                "{who}: users are {:?}, the model expects {:?}",
                got_users
                    .iter()
                    .map(|p| format!("U{p}"))
                    .collect::<Vec<_>>(),
                exp_users
                    .iter()
                    .map(|p| format!("U{p}"))
                    .collect::<Vec<_>>()
            ),
        ));
    }
    let groups = index(&live.groups);
    let got_groups: BTreeSet<usize> = data["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| groups.get(n["id"].as_str().unwrap_or_default()).copied())
        .collect();
    let exp_groups: BTreeSet<usize> = (0..w.groups.len())
        .filter(|&g| w.sees_group(cred, g))
        .collect();
    if got_groups != exp_groups {
        out.push((
            "read-groups",
            format!(
                "{who}: groups are {:?}, the model expects {:?}",
                got_groups
                    .iter()
                    .map(|p| format!("G{p}"))
                    .collect::<Vec<_>>(),
                exp_groups
                    .iter()
                    .map(|p| format!("G{p}"))
                    .collect::<Vec<_>>()
            ),
        ));
    }
    // API keys: through a key only that key; through a session the owner's (an ADMIN's:
    // everyone's). A revoked key may be listed or not.
    if !matches!(actor, Actor::ViewAs(..)) {
        let keys = index(&live.keys);
        let mut got = BTreeSet::new();
        for n in data["apiKeys"].as_array().into_iter().flatten() {
            let id = n["id"].as_str().unwrap_or_default();
            match keys.get(id) {
                Some(&k) => {
                    got.insert(k);
                }
                None => out.push((
                    "read-keys",
                    format!("{who}: apiKeys lists an unknown id {id}"),
                )),
            }
        }
        let scope: BTreeSet<usize> = match cred {
            Cred::Key(k) => BTreeSet::from([k]),
            Cred::Session(u) => (0..w.keys.len())
                .filter(|&k| w.is_admin(cred) || w.keys[k].owner == u)
                .collect(),
        };
        let must: BTreeSet<usize> = scope
            .iter()
            .copied()
            .filter(|&k| !w.keys[k].revoked)
            .collect();
        if !must.is_subset(&got) || !got.is_subset(&scope) {
            out.push((
                "read-keys",
                format!(
                    "{who}: apiKeys are {:?}, the model expects {:?} (and may list the revoked of {:?})",
                    got.iter().map(|k| format!("K{k}")).collect::<Vec<_>>(),
                    must.iter().map(|k| format!("K{k}")).collect::<Vec<_>>(),
                    scope.iter().map(|k| format!("K{k}")).collect::<Vec<_>>()
                ),
            ));
        }
    }
    out
}

/// Every user's and every usable key's reads against the model.
async fn check_reads(app: &TestApp, w: &World, live: &Live) -> Vec<(&'static str, String)> {
    let mut actors: Vec<Actor> = (0..w.users.len()).map(Actor::Session).collect();
    actors.extend(
        (0..w.keys.len())
            .filter(|&k| !w.keys[k].revoked)
            .map(Actor::Key),
    );
    // One "view as" session: the first user who may, reading as the next one it may.
    let n = w.users.len();
    let may = |u: usize| {
        let g = w.default_rights(u);
        g.contains("IMPERSONATE") || g.contains("ADMIN")
    };
    if let Some(u) = (0..n).find(|&u| may(u)) {
        let admin = w.default_rights(u).contains("ADMIN");
        if let Some(t) = (1..n)
            .map(|i| (u + i) % n)
            // (The server refuses to view as a user whose profile has ADMIN, even an
            // EXTERNAL one the ceiling keeps from being an administrator: stricter than the
            // page, and hiding more, so not compared here.)
            .find(|&t| admin || !w.profiles[w.users[t].profile].contains("ADMIN"))
        {
            actors.push(Actor::ViewAs(u, t));
        }
    }
    let vars = json!({});
    let answers = timed(
        3,
        futures_util::future::join_all(actors.iter().map(|a| {
            let query = match a {
                Actor::ViewAs(..) => READ,
                _ => READ_KEYS,
            };
            send_as(app, live, *a, query, &vars)
        })),
    )
    .await;
    let mut out = Vec::new();
    for (a, (status, body)) in actors.into_iter().zip(answers) {
        out.extend(check_read(w, live, a, status, &body));
    }
    out
}

/// A disagreement, by category.
struct Finding {
    category: String,
    detail: String,
}

fn ignored(ignore: &BTreeSet<String>, category: &str) -> bool {
    let (mutation, what) = category.split_once(':').unwrap_or((category, ""));
    ignore.contains(category) || ignore.contains(mutation) || ignore.contains(what)
}

/// Runs one step against the server and compares; answers the disagreements (empty when the
/// server agrees), and for an allowed step records the ids it created.
async fn run_step(
    app: &TestApp,
    live: &mut Live,
    p: &Planned,
    read_now: bool,
    reads: &mut usize,
) -> Vec<Finding> {
    let mutation = p.op.mutation();
    let mut found = Vec::new();
    let mut push = |what: &str, detail: String| {
        found.push(Finding {
            category: format!("{mutation}:{what}"),
            detail,
        })
    };
    let (doc, vars, field) = render(&p.op, live);
    let db = &app.state.db;
    match &p.expect {
        Expect::Refused(alts) => {
            let was = match live.last_snapshot.take() {
                Some(was) => was,
                None => snapshot_all(db).await,
            };
            let (status, body) = timed(2, send_as(app, live, p.actor, &doc, &vars)).await;
            let (code, message, efield) = error_parts(&body);
            let matched = alts
                .iter()
                .any(|a| a.code == code && a.field.is_none_or(|f| f == efield));
            if body["errors"][0].is_null() {
                push(
                    "outcome",
                    format!("the server allowed it (status {status}, answer {body})"),
                );
            } else if !matched {
                push("code", format!("the server answered {code} (field {efield:?}, message {message:?}, status {status})"));
            }
            if !body["data"].is_null() && !body["data"][field].is_null() {
                push(
                    "answer",
                    format!("a refusal answered data {}", body["data"]),
                );
            }
            // The same request naming a missing object instead of the invisible one must
            // get the very same answer.
            if let Some(slot) = p.probe {
                let missing = p.op.with_missing(slot);
                let (mdoc, mvars, _) = render(&missing, live);
                let (mstatus, mbody) = timed(2, send_as(app, live, p.actor, &mdoc, &mvars)).await;
                let theirs = error_parts(&mbody);
                if theirs != (code.clone(), message.clone(), efield.clone()) || mstatus != status {
                    push(
                        "probe",
                        format!(
                            "an invisible {slot:?} answered {status} {:?}, a missing one {mstatus} {:?} ({})",
                            (code, message, efield),
                            theirs,
                            op_text(&missing)
                        ),
                    );
                }
            }
            // Neither wrote anything (but a view-as request's audit event).
            let ids = match p.actor {
                Actor::ViewAs(u, t) => Some((live.user_id(t), live.user_id(u))),
                _ => None,
            };
            let view_as = ids.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            let now = snapshot_all(db).await;
            let changed = diff(&was, &now, view_as);
            if !changed.is_empty() {
                push(
                    "wrote",
                    format!(
                        "the refused request{} wrote: {changed}",
                        if p.probe.is_some() {
                            " (or the same naming a missing id)"
                        } else {
                            ""
                        }
                    ),
                );
            } else {
                live.last_snapshot = Some(now);
            }
        }
        Expect::Allowed(after, created) => {
            live.last_snapshot = None;
            let (status, body) = timed(2, send_as(app, live, p.actor, &doc, &vars)).await;
            if status != 200 || body.get("errors").is_some() || body["data"][field].is_null() {
                let (code, message, efield) = error_parts(&body);
                push(
                    "outcome",
                    format!("the server refused it: {code} (field {efield:?}, message {message:?}, status {status})"),
                );
                return found;
            }
            let answer = &body["data"][field];
            let new_id = answer["id"].as_str().unwrap_or_default().to_string();
            match *created {
                Created::Nothing => {}
                Created::Project => live.projects.push(new_id),
                Created::ProjectAndMembership => {
                    let project_id = row_id(&new_id);
                    live.projects.push(new_id);
                    // The creator's membership: found by reading the database (by the new
                    // project and its creator: SQLite reuses a deleted row's id).
                    let creator = match p.actor {
                        Actor::Key(k) => after.keys[k].owner,
                        Actor::Session(u) | Actor::ViewAs(u, _) => u,
                    };
                    let rows = db
                        .fetch_all(
                            q("SELECT membership_id FROM membership WHERE project_id = $1 AND user_id = $2")
                                .bind(project_id)
                                .bind(live.base + creator as i64 + 1),
                        )
                        .await
                        .expect("memberships");
                    match rows.first() {
                        Some(r) => live.memberships.push(gid(
                            "Membership",
                            r.get::<i64>("membership_id").expect("id"),
                        )),
                        None => {
                            push(
                                "answer",
                                "the creator of the new project is no member of it".to_string(),
                            );
                            live.memberships.push(live.missing("Membership"));
                        }
                    }
                }
                Created::Membership => live.memberships.push(new_id),
                Created::Key(k) => {
                    let key = &answer["apiKey"];
                    live.keys
                        .push(key["id"].as_str().unwrap_or_default().to_string());
                    live.secrets
                        .push(answer["secret"].as_str().unwrap_or_default().to_string());
                    let model = &after.keys[k];
                    if key["readOnly"].as_bool() != Some(model.read_only) {
                        push(
                            "answer",
                            format!(
                                "the new key's readOnly is {}, the model's {}",
                                key["readOnly"], model.read_only
                            ),
                        );
                    }
                    let expires = key["expiresAt"]
                        .as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .map(|d| d.with_timezone(&Utc));
                    if expires != model.expires.map(|e| live.noon(e)) {
                        push(
                            "answer",
                            format!(
                                "the new key expires {}, the model says {:?}",
                                key["expiresAt"], model.expires
                            ),
                        );
                    }
                    let projects: BTreeSet<String> = key["projects"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p["id"].as_str().map(str::to_string))
                        .collect();
                    // Those the caller may read (a mutation returns nothing it could not
                    // read by query); the reads through the new key check the rest.
                    let caller = match p.actor {
                        Actor::Key(k) => Cred::Key(k),
                        Actor::Session(u) | Actor::ViewAs(u, _) => Cred::Session(u),
                    };
                    let expected: BTreeSet<String> = model
                        .projects
                        .iter()
                        .flatten()
                        .filter(|q| after.rights(caller, **q, 0).is_some())
                        .map(|q| live.projects[*q].clone())
                        .collect();
                    if projects != expected {
                        push("answer", format!("the new key is narrowed to {projects:?}, the model expects {expected:?}"));
                    }
                }
            }
            if read_now {
                *reads += 1;
                for (what, d) in check_reads(app, after, live).await {
                    push(what, d);
                }
            }
        }
    }
    found
}

/// Loads a world, runs its planned steps, and answers the first step's disagreements as one
/// message. `Ok(n)` is the number of steps run (fewer when an ignored disagreement ended
/// the case).
async fn run_case(
    app: &TestApp,
    w0: &World,
    plan: &[(World, Planned)],
    seq: u64,
    ignore: &BTreeSet<String>,
    reads: &mut usize,
    ignored_found: &mut Vec<String>,
) -> Result<usize, String> {
    // The model counts days from the day the world is loaded, the server from the day of
    // each request: a case does not start in the last minute before midnight (UTC).
    let now = Utc::now();
    let midnight = (now.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    if midnight - now < Duration::seconds(60) {
        tokio::time::sleep(
            (midnight - now + Duration::seconds(1))
                .to_std()
                .unwrap_or_default(),
        )
        .await;
    }
    let base = seq as i64 * 1_000_000;
    let mut live = timed(0, load_world(&app.state.db, w0, base))
        .await
        .map_err(|e| format!("loading the world failed: {e}"))?;
    let initial: Vec<Finding> = check_reads(app, w0, &live)
        .await
        .into_iter()
        .map(|(what, detail)| Finding {
            category: format!("initial:{what}"),
            detail,
        })
        .collect();
    let mut trace = String::new();
    // The step after which every read was last compared (-1: the world as loaded).
    let mut read_after: i64 = -1;
    for (i, p) in std::iter::once(None)
        .chain(plan.iter().map(Some))
        .enumerate()
        .map(|(i, s)| (i as i64 - 1, s))
    {
        let found = match p {
            None => initial
                .iter()
                .map(|f| Finding {
                    category: f.category.clone(),
                    detail: f.detail.clone(),
                })
                .collect(),
            Some((_, p)) => {
                let _ = writeln!(
                    trace,
                    "  step {i}: {} {} -> model: {}",
                    actor_text(p.actor),
                    op_text(&p.op),
                    expect_text(&p.expect)
                );
                // Reads after every second allowed step and after the last one.
                let allowed = |p: &Planned| matches!(p.expect, Expect::Allowed(..));
                let nth = plan[..=i as usize]
                    .iter()
                    .filter(|(_, p)| allowed(p))
                    .count();
                let last = plan[i as usize + 1..].iter().all(|(_, p)| !allowed(p));
                let read_now = allowed(p) && (nth % 2 == 0 || last);
                let found = run_step(app, &mut live, p, read_now, reads).await;
                if found.iter().any(|f| f.category.contains(":read-")) {
                    let _ = writeln!(
                        trace,
                        "  (reads were compared before this step after step {read_after})"
                    );
                }
                if read_now {
                    read_after = i;
                }
                found
            }
        };
        if found.is_empty() {
            continue;
        }
        let fatal = found.iter().any(|f| !ignored(ignore, &f.category));
        if !fatal {
            for f in &found {
                ignored_found.push(format!("[{}] step {i}: {}", f.category, f.detail));
            }
            // A disagreement on what was allowed or written leaves the model and the
            // server apart: the case ends there. Others (codes, look-ups, reads) do not.
            if found
                .iter()
                .any(|f| f.category.ends_with(":outcome") || f.category.ends_with(":wrote"))
            {
                return Ok((i + 1) as usize);
            }
            continue;
        }
        let mut msg = String::new();
        if let Some((world, _)) = p {
            let _ = writeln!(msg, "world before step {i}:\n{}", world.describe());
            let _ = writeln!(msg, "steps:\n{trace}");
        }
        if let Some((_, p)) = p {
            if !p.why.is_empty() {
                let _ = writeln!(msg, "model's escalation: {}", p.why);
            }
        }
        let _ = writeln!(
            msg,
            "the server disagrees with the model at step {i} (-1: the world as loaded):"
        );
        for f in found {
            let _ = writeln!(msg, "  [{}] {}", f.category, f.detail);
        }
        return Err(msg);
    }
    Ok(plan.len())
}

// ---------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------

/// Cases (sequences) per run unless `AUTHZ_WRITES_CASES` says otherwise; the coverage
/// minimums of [`KINDS`] hold for this many.
const DEFAULT_CASES: u32 = 40;

fn seed() -> u64 {
    match std::env::var("AUTHZ_WRITES_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("AUTHZ_WRITES_SEED={s}: {e}"))
        }
        _ => {
            use std::hash::{BuildHasher, Hash, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            std::time::SystemTime::now().hash(&mut h);
            std::process::id().hash(&mut h);
            h.finish()
        }
    }
}

fn runner(seed: u64, cases: u32) -> TestRunner {
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
        max_shrink_iters: 150,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn cases() -> u32 {
    std::env::var("AUTHZ_WRITES_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[test]
fn server_agrees_with_the_reference_model_of_writes() {
    let _alone = crate::common::exclusive();
    let started = std::time::Instant::now();
    let cases = cases();
    let seed = seed();
    let replay = format!("AUTHZ_WRITES_SEED={seed} AUTHZ_WRITES_CASES={cases}");
    let readings: Vec<&str> = READINGS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| server_reading(n))
        .collect();
    let replay = if readings.is_empty() {
        replay
    } else {
        format!("{replay} AUTHZ_WRITES_READINGS={}", readings.join(","))
    };
    say(&format!(
        "authz_writes: seed {seed}, {cases} sequences (replay with {replay})"
    ));
    for (name, what) in READINGS.iter().filter(|(n, _)| server_reading(n)) {
        say(&format!(
            "authz_writes: taking the server's reading {name}: {what}"
        ));
    }
    let ignore: BTreeSet<String> = std::env::var("AUTHZ_WRITES_IGNORE")
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
    let state = std::sync::Mutex::new((
        Coverage::new(),
        0usize,
        0usize,
        0usize,
        Vec::<String>::new(),
    ));
    let mut runner = runner(seed, cases);
    let result = runner.run(&(world_strategy(), steps_strategy()), |(w, steps)| {
        let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
        let plan = plan_case(&w, &steps);
        let mut reads = 0;
        let mut ignored_found = Vec::new();
        let ran = rt
            .block_on(run_case(
                &app,
                &w,
                &plan,
                n,
                &ignore,
                &mut reads,
                &mut ignored_found,
            ))
            .map_err(TestCaseError::fail)?;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.0.merge(&case_coverage(&plan[..ran]));
        s.1 += 1;
        s.2 += ran;
        s.3 += reads;
        s.4.extend(ignored_found);
        Ok(())
    });
    let backend = if base_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let (coverage, sequences, steps, reads, ignored_found) =
        state.into_inner().unwrap_or_else(|p| p.into_inner());
    println!(
        "authz_writes: seed {seed}: {sequences} sequences, {steps} steps agreed ({reads} read comparisons after allowed steps) on {backend} in {:.1?}",
        started.elapsed()
    );
    drop(app);
    let ms = |i: usize| TIME[i].load(Ordering::Relaxed) / 1000;
    println!(
        "authz_writes: time in loading worlds {} ms, snapshots {} ms, mutations {} ms, reads {} ms",
        ms(0),
        ms(1),
        ms(2),
        ms(3)
    );
    if !ignored_found.is_empty() {
        println!(
            "authz_writes: {} cases ended at an ignored disagreement (AUTHZ_WRITES_IGNORE):",
            ignored_found.len()
        );
        for f in ignored_found.iter().take(20) {
            println!("authz_writes:   {f}");
        }
    }
    if result.is_err() {
        println!("authz_writes: coverage of the sequences that agreed before the failure:");
    }
    println!("{}", coverage.report());
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (w, _))) => panic!(
            "seed {seed} (replay with {replay}): smallest disagreeing case, world:\n{}{reason}",
            w.describe()
        ),
        Err(e) => panic!("seed {seed} (replay with {replay}): {e}"),
    }
    if cases >= DEFAULT_CASES && ignored_found.is_empty() {
        let short = coverage.short();
        assert!(
            short.is_empty(),
            "seed {seed} (replay with {replay}): the sequences exercised some cases too rarely:\n  {}",
            short.join("\n  ")
        );
    } else {
        println!("authz_writes: coverage minimums are for {DEFAULT_CASES} sequences or more without ignored disagreements: not checked");
    }
}

/// The coverage minimums of [`KINDS`] hold for many seeds, from the model alone (no server):
/// seeds 1 to `AUTHZ_WRITES_COVERAGE_SEEDS` (default 20); prints the fewest and the mean.
#[test]
fn writes_coverage_minimums_hold_for_many_seeds() {
    let seeds: u64 = std::env::var("AUTHZ_WRITES_COVERAGE_SEEDS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let mut fewest = vec![usize::MAX; KINDS.len()];
    let mut fewest_groups = vec![usize::MAX; GROUPS.len()];
    let mut total = vec![0; KINDS.len()];
    let mut failures = Vec::new();
    for seed in 1..=seeds {
        let coverage = std::sync::Mutex::new(Coverage::new());
        runner(seed, DEFAULT_CASES)
            .run(&(world_strategy(), steps_strategy()), |(w, steps)| {
                let plan = plan_case(&w, &steps);
                coverage.lock().unwrap().merge(&case_coverage(&plan));
                Ok(())
            })
            .expect("the model alone cannot fail");
        let coverage = coverage.into_inner().unwrap();
        for ((f, t), n) in fewest.iter_mut().zip(&mut total).zip(&coverage.0) {
            *f = (*f).min(*n);
            *t += n;
        }
        for (f, (_, kinds, _)) in fewest_groups.iter_mut().zip(GROUPS) {
            *f = (*f).min(coverage.group(kinds));
        }
        let short = coverage.short();
        if !short.is_empty() {
            failures.push(format!("seed {seed}: {}", short.join("; ")));
        }
    }
    for (((name, min), n), t) in KINDS.iter().zip(&fewest).zip(&total) {
        let mean = *t as u64 / seeds.max(1);
        println!(
            "authz_writes: fewest {n:>5}, mean {mean:>5} over {seeds} seeds (min {min:>3})  {name}"
        );
    }
    for ((name, _, min), n) in GROUPS.iter().zip(&fewest_groups) {
        println!("authz_writes: fewest {n:>5} over {seeds} seeds (min {min:>3})  all {name}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The model's bit masks name the rights the page names.
#[test]
fn writes_model_rights_bits_match_their_names() {
    let of = |names: &[&'static str]| names.iter().copied().collect::<Rights>().0;
    assert_eq!(B_READ, of(&READ_RIGHTS));
    assert_eq!(B_PROJECT, of(project_rights()));
    for (b, name) in [
        (B_ADMIN, "ADMIN"),
        (B_VIEW_ALL, "VIEW_ALL_PROJECTS"),
        (B_EDIT_ALL, "EDIT_ALL_PROJECTS"),
        (B_VIEW_DEPT, "VIEW_DEPARTMENT_PROJECTS"),
        (B_EDIT_DEPT, "EDIT_DEPARTMENT_PROJECTS"),
        (B_HISTORY, "VIEW_PROJECT_HISTORY"),
    ] {
        assert_eq!(b, of(&[name]), "{name}");
    }
}
