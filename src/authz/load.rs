//! Loading the [`Facts`] of one caller, and caching the resulting [`Scope`].
//!
//! The facts shared by every caller (profiles, the project tree, departments) and each
//! caller's scope are cached per process, keyed by `access_version`: a counter that database
//! triggers bump in the same transaction as any change to memberships, profiles, groups,
//! projects' place, status or department, departments, or users' profile and department.
//! Every request reads the counter first (one indexed single-row read, in the same statement
//! as the caller's credentials), so a change is visible on the very next request, on every
//! server process sharing the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, Utc};

use super::{children_of, Facts, MembershipFacts, ProjectFacts, Right, RightSet, Scope};
use crate::db::{q, Db};
use crate::error::Result;

/// Rights of every profile.
pub async fn profile_rights(db: &Db) -> Result<HashMap<i64, RightSet>> {
    let rows = db
        .fetch_all(q(
            "SELECT p.profile_id, r.right_name FROM profile p LEFT JOIN profile_right r ON r.profile_id = p.profile_id",
        ))
        .await?;
    let mut out: HashMap<i64, RightSet> = HashMap::new();
    for row in rows {
        let entry = out.entry(row.get("profile_id")?).or_default();
        if let Some(right) = row
            .get::<Option<String>>("right_name")?
            .and_then(|n| Right::from_name(&n))
        {
            entry.insert(right);
        }
    }
    Ok(out)
}

/// The facts every caller shares.
#[derive(Clone)]
struct Shared {
    profiles: Arc<HashMap<i64, RightSet>>,
    projects: Arc<HashMap<i64, ProjectFacts>>,
    departments: Arc<HashMap<i64, Option<i64>>>,
    children: Arc<HashMap<i64, Vec<i64>>>,
    ceiling: RightSet,
}

/// Right names stored as text (`profile_right`, `external_ceiling`, `project.external_rights`).
pub fn parse_rights<'a>(names: impl IntoIterator<Item = &'a str>) -> RightSet {
    names
        .into_iter()
        .filter_map(|n| Right::from_name(n.trim()))
        .collect()
}

/// The global ceiling for external users.
pub async fn external_ceiling(db: &Db) -> Result<RightSet> {
    let rows = db
        .fetch_all(q("SELECT right_name FROM external_ceiling"))
        .await?;
    let mut names = Vec::with_capacity(rows.len());
    for r in rows {
        names.push(r.get::<String>("right_name")?);
    }
    Ok(parse_rights(names.iter().map(String::as_str)))
}

async fn load_shared(db: &Db) -> Result<Shared> {
    let profiles = profile_rights(db).await?;
    let mut projects = HashMap::new();
    for row in db
        .fetch_all(q(
            "SELECT project_id, parent_id, inherit_members, status, department_id, external_rights FROM project",
        ))
        .await?
    {
        let status: String = row.get("status")?;
        projects.insert(
            row.get("project_id")?,
            ProjectFacts {
                parent_id: row.get("parent_id")?,
                inherit_members: row.get("inherit_members")?,
                historical: status == "POTENTIAL" || status == "CLOSED",
                department_id: row.get("department_id")?,
                external_rights: row
                    .get::<Option<String>>("external_rights")?
                    .map(|t| parse_rights(t.split(',').filter(|n| !n.is_empty()))),
            },
        );
    }
    let mut departments = HashMap::new();
    for row in db
        .fetch_all(q("SELECT department_id, parent_id FROM department"))
        .await?
    {
        departments.insert(row.get("department_id")?, row.get("parent_id")?);
    }
    let children = children_of(&projects);
    Ok(Shared {
        profiles: Arc::new(profiles),
        projects: Arc::new(projects),
        departments: Arc::new(departments),
        children: Arc::new(children),
        ceiling: external_ceiling(db).await?,
    })
}

async fn memberships(db: &Db, user_id: i64) -> Result<Vec<MembershipFacts>> {
    let mut out = Vec::new();
    for row in db
        .fetch_all(
            q(
                "SELECT membership_id, project_id, group_id, profile_id, valid_from, valid_until
               FROM membership
               WHERE user_id = $1
                  OR group_id IN (SELECT group_id FROM group_member WHERE user_id = $1)",
            )
            .bind(user_id),
        )
        .await?
    {
        out.push(MembershipFacts {
            membership_id: row.get("membership_id")?,
            project_id: row.get("project_id")?,
            group_id: row.get("group_id")?,
            profile_id: row.get("profile_id")?,
            valid_from: row.get("valid_from")?,
            valid_until: row.get("valid_until")?,
        });
    }
    Ok(out)
}

/// Who the scope is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subject {
    pub user_id: i64,
    pub profile_id: i64,
    pub department_id: Option<i64>,
    /// An API key narrowed to these projects (and their sub-projects).
    pub key_projects: Option<Vec<i64>>,
    /// An EXTERNAL user, whose rights stay under the ceiling.
    pub external: bool,
}

fn facts_from(
    shared: Shared,
    subject: &Subject,
    memberships: Vec<MembershipFacts>,
    today: NaiveDate,
) -> Facts {
    Facts {
        user_id: subject.user_id,
        profile_id: subject.profile_id,
        department_id: subject.department_id,
        profiles: shared.profiles,
        projects: shared.projects,
        departments: shared.departments,
        children: shared.children,
        memberships,
        key_projects: subject.key_projects.clone(),
        today,
        external: subject.external,
        ceiling: shared.ceiling,
    }
}

/// The facts about a subject, uncached (for explanations).
pub async fn facts(db: &Db, subject: &Subject) -> Result<Facts> {
    let shared = load_shared(db).await?;
    let m = memberships(db, subject.user_id).await?;
    Ok(facts_from(shared, subject, m, Utc::now().date_naive()))
}

/// The facts, as they are now, of the users a change could give rights: those named, those
/// holding a membership (directly or through a group) on one of `projects`, and those whose
/// default profile sees projects by a global or department right. Judged today.
pub async fn subjects(db: &Db, users: &[i64], projects: &[i64]) -> Result<Vec<Facts>> {
    let shared = load_shared(db).await?;
    let wide: Vec<i64> = shared
        .profiles
        .iter()
        .filter(|(_, r)| {
            [
                Right::ViewAllProjects,
                Right::EditAllProjects,
                Right::ViewDepartmentProjects,
                Right::EditDepartmentProjects,
            ]
            .iter()
            .any(|w| r.contains(*w))
        })
        .map(|(id, _)| *id)
        .collect();
    let mut w = crate::db::list::Where::new(db.backend());
    let named = w.ids_fragment("u.user_id", users.to_vec());
    let direct = w.ids_fragment("m.project_id", projects.to_vec());
    let grouped = w.ids_fragment("m2.project_id", projects.to_vec());
    let by_profile = w.ids_fragment("u.profile_id", wide);
    w.and(format!(
        "({named}
          OR u.user_id IN (SELECT m.user_id FROM membership m WHERE {direct})
          OR u.user_id IN (SELECT gm.user_id FROM group_member gm JOIN membership m2 ON m2.group_id = gm.group_id WHERE {grouped})
          OR {by_profile})"
    ));
    let rows = db
        .fetch_all(w.query(format!(
            "SELECT u.user_id, u.profile_id, u.department_id, u.kind FROM app_user u WHERE {}",
            w.sql()
        )))
        .await?;
    let today = Utc::now().date_naive();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let subject = Subject {
            user_id: row.get("user_id")?,
            profile_id: row.get("profile_id")?,
            department_id: row.get("department_id")?,
            key_projects: None,
            external: row.get::<String>("kind")? == "EXTERNAL",
        };
        let m = memberships(db, subject.user_id).await?;
        out.push(facts_from(shared.clone(), &subject, m, today));
    }
    Ok(out)
}

/// How many scopes a process keeps before starting over.
const MAX_CACHED_SCOPES: usize = 10_000;

#[derive(Default)]
struct CacheInner {
    version: i64,
    shared: Option<Shared>,
    scopes: HashMap<(Subject, NaiveDate), Arc<Scope>>,
}

/// Scopes of recent callers, valid while `access_version` stays the same.
#[derive(Default)]
pub struct AccessCache {
    inner: Mutex<CacheInner>,
}

impl AccessCache {
    /// The subject's scope: from the cache when nothing has changed, else computed.
    /// `known_version` is the access version when the caller has just read it (with the
    /// credentials); otherwise it is read here.
    pub async fn scope(
        &self,
        db: &Db,
        subject: Subject,
        known_version: Option<i64>,
    ) -> Result<Arc<Scope>> {
        let version = match known_version {
            Some(v) => v,
            None => db
                .fetch_one(q("SELECT version FROM access_version WHERE id = 1"))
                .await?
                .get("version")?,
        };
        let today = Utc::now().date_naive();
        let key = (subject, today);
        let shared = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if version > inner.version {
                *inner = CacheInner {
                    version,
                    ..Default::default()
                };
            }
            if version == inner.version {
                if let Some(s) = inner.scopes.get(&key) {
                    return Ok(s.clone());
                }
                inner.shared.clone()
            } else {
                None
            }
        };
        let shared = match shared {
            Some(s) => s,
            None => load_shared(db).await?,
        };
        let m = memberships(db, key.0.user_id).await?;
        let scope = Arc::new(facts_from(shared.clone(), &key.0, m, today).scope());
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if version == inner.version {
            inner.shared = Some(shared);
            if inner.scopes.len() >= MAX_CACHED_SCOPES {
                inner.scopes.clear();
            }
            inner.scopes.insert(key, scope.clone());
        }
        Ok(scope)
    }
}
