//! The organisation around projects: profiles, groups, customers, departments.
//! Everyone signed in may list them (they name no project data); only ADMIN changes them.

use chrono::Utc;

use super::{q, Db, Row, Tx};
use crate::authz::{Right, RightSet, Scope};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct ProfileRow {
    pub id: i64,
    pub name: String,
    pub rights: RightSet,
}

#[derive(Clone, Debug)]
pub struct NamedRow {
    pub id: i64,
    pub name: String,
    /// Departments only.
    pub parent_id: Option<i64>,
}

pub async fn list_profiles(db: &Db) -> Result<Vec<ProfileRow>> {
    let rights = crate::authz::load::profile_rights(db).await?;
    let rows = db
        .fetch_all(q(
            "SELECT profile_id, name FROM profile ORDER BY profile_id",
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let id = r.get("profile_id")?;
            Ok(ProfileRow {
                id,
                name: r.get("name")?,
                rights: rights.get(&id).copied().unwrap_or_default(),
            })
        })
        .collect()
}

pub async fn find_profile(db: &Db, id: i64) -> Result<Option<ProfileRow>> {
    Ok(list_profiles(db).await?.into_iter().find(|p| p.id == id))
}

pub async fn find_profile_id_by_name(db: &Db, name: &str) -> Result<Option<i64>> {
    let row = db
        .fetch_optional(q("SELECT profile_id FROM profile WHERE name = $1").bind(name))
        .await?;
    Ok(row.map(|r| r.get("profile_id")).transpose()?)
}

async fn set_rights(tx: &mut Tx, id: i64, rights: RightSet) -> Result<()> {
    tx.execute(q("DELETE FROM profile_right WHERE profile_id = $1").bind(id))
        .await?;
    for r in rights.iter() {
        tx.execute(
            q("INSERT INTO profile_right (profile_id, right_name) VALUES ($1, $2)")
                .bind(id)
                .bind(r.name()),
        )
        .await?;
    }
    Ok(())
}

pub async fn create_profile(tx: &mut Tx, name: &str, rights: RightSet) -> Result<ProfileRow> {
    let id: i64 = tx
        .fetch_one(
            q("INSERT INTO profile (name, created_at) VALUES ($1, $2) RETURNING profile_id")
                .bind(name)
                .bind(Utc::now()),
        )
        .await?
        .get("profile_id")?;
    set_rights(tx, id, rights).await?;
    Ok(ProfileRow {
        id,
        name: name.into(),
        rights,
    })
}

/// Renames a profile and/or replaces its rights; answers false when it does not exist.
pub async fn update_profile(
    tx: &mut Tx,
    id: i64,
    name: Option<&str>,
    rights: Option<RightSet>,
) -> Result<bool> {
    let n = tx
        .execute(
            q("UPDATE profile SET name = COALESCE($2, name) WHERE profile_id = $1")
                .bind(id)
                .bind(name),
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    if let Some(r) = rights {
        set_rights(tx, id, r).await?;
    }
    Ok(true)
}

fn named(r: &Row, key: &str, with_parent: bool) -> Result<NamedRow> {
    Ok(NamedRow {
        id: r.get(key)?,
        name: r.get("name")?,
        parent_id: if with_parent {
            r.get("parent_id")?
        } else {
            None
        },
    })
}

/// What the visibility of customers, departments and groups depends on besides the scope.
#[derive(Clone, Copy, Debug)]
pub struct Me {
    pub user_id: i64,
    pub customer_id: Option<i64>,
    pub department_id: Option<i64>,
}

/// Rows of one of the named tables: `user_group`, `customer`, `department`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Named {
    Group,
    Customer,
    Department,
}

impl Named {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Named::Group => ("user_group", "group_id"),
            Named::Customer => ("customer", "customer_id"),
            Named::Department => ("department", "department_id"),
        }
    }
    fn parent(self) -> bool {
        matches!(self, Named::Department)
    }
    fn cols(self) -> String {
        let (_, key) = self.table();
        if self.parent() {
            format!("{key}, name, parent_id")
        } else {
            format!("{key}, name")
        }
    }

    pub async fn list(self, db: &Db) -> Result<Vec<NamedRow>> {
        let (table, key) = self.table();
        let rows = db
            .fetch_all(q(format!(
                "SELECT {} FROM {table} ORDER BY {key}",
                self.cols()
            )))
            .await?;
        rows.iter().map(|r| named(r, key, self.parent())).collect()
    }

    /// Which rows a caller may see: everything for ADMIN; else the customers and
    /// departments of the projects they see and their own, and the groups they belong to
    /// or whose memberships count on a project they see (see `Scope::member_sources`). (An external user must not read the list
    /// of the company's clients.)
    fn visible(self, w: &mut super::list::Where, scope: &Scope, me: &Me) {
        if scope.is_admin() {
            return;
        }
        match self {
            Named::Customer => {
                let projects = w.ids_fragment("p.project_id", scope.visible_ids().to_vec());
                let mine = w.arg(me.customer_id);
                w.and(format!(
                    "(customer_id IN (SELECT p.customer_id FROM project p WHERE {projects}) OR customer_id = {mine})"
                ));
            }
            Named::Department => {
                let projects = w.ids_fragment("p.project_id", scope.visible_ids().to_vec());
                let mine = w.arg(me.department_id);
                w.and(format!(
                    "(department_id IN (SELECT p.department_id FROM project p WHERE {projects}) OR department_id = {mine})"
                ));
            }
            Named::Group => {
                let me_id = w.arg(me.user_id);
                let on_projects = w.ids_fragment("m.project_id", scope.member_sources().to_vec());
                let today = w.arg(Utc::now().date_naive());
                // As for users: only memberships that count today make a co-member group.
                w.and(format!(
                    "(group_id IN (SELECT gm.group_id FROM group_member gm WHERE gm.user_id = {me_id})
                      OR group_id IN (SELECT m.group_id FROM membership m WHERE m.group_id IS NOT NULL AND {on_projects}
                          AND (m.valid_from IS NULL OR m.valid_from <= {today})
                          AND (m.valid_until IS NULL OR m.valid_until >= {today})))"
                ));
            }
        }
    }

    /// The rows the caller may see, optionally only those among `ids`.
    pub async fn list_visible(
        self,
        db: &Db,
        scope: &Scope,
        me: &Me,
        ids: Option<Vec<i64>>,
    ) -> Result<Vec<NamedRow>> {
        let (table, key) = self.table();
        let mut w = super::list::Where::new(db.backend());
        if let Some(ids) = ids {
            w.ids(key, ids);
        }
        self.visible(&mut w, scope, me);
        let rows = db
            .fetch_all(w.query(format!(
                "SELECT {} FROM {table} WHERE {} ORDER BY {key}",
                self.cols(),
                w.sql()
            )))
            .await?;
        rows.iter().map(|r| named(r, key, self.parent())).collect()
    }

    pub async fn find(self, db: &Db, id: i64) -> Result<Option<NamedRow>> {
        let (table, key) = self.table();
        let row = db
            .fetch_optional(
                q(format!(
                    "SELECT {} FROM {table} WHERE {key} = $1",
                    self.cols()
                ))
                .bind(id),
            )
            .await?;
        row.map(|r| named(&r, key, self.parent())).transpose()
    }

    pub async fn create(self, tx: &mut Tx, name: &str, parent_id: Option<i64>) -> Result<NamedRow> {
        let (table, key) = self.table();
        let row = if self.parent() {
            tx.fetch_one(
                q(format!("INSERT INTO {table} (name, parent_id, created_at) VALUES ($1, $2, $3) RETURNING {}", self.cols()))
                    .bind(name)
                    .bind(parent_id)
                    .bind(Utc::now()),
            )
            .await?
        } else {
            tx.fetch_one(
                q(format!(
                    "INSERT INTO {table} (name, created_at) VALUES ($1, $2) RETURNING {}",
                    self.cols()
                ))
                .bind(name)
                .bind(Utc::now()),
            )
            .await?
        };
        named(&row, key, self.parent())
    }
}

/// Adds a user to a group; answers false when they were already in it.
pub async fn add_group_member(tx: &mut Tx, group_id: i64, user_id: i64) -> Result<bool> {
    let exists = tx
        .fetch_optional(
            q("SELECT 1 AS one FROM group_member WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id),
        )
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    tx.execute(
        q("INSERT INTO group_member (group_id, user_id) VALUES ($1, $2)")
            .bind(group_id)
            .bind(user_id),
    )
    .await?;
    Ok(true)
}

pub async fn remove_group_member(tx: &mut Tx, group_id: i64, user_id: i64) -> Result<bool> {
    Ok(tx
        .execute(
            q("DELETE FROM group_member WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id),
        )
        .await?
        > 0)
}

/// Member ids of a group.
pub async fn group_member_ids(db: &Db, group_id: i64) -> Result<Vec<i64>> {
    let rows = db
        .fetch_all(
            q("SELECT user_id FROM group_member WHERE group_id = $1 ORDER BY user_id")
                .bind(group_id),
        )
        .await?;
    rows.iter().map(|r| Ok(r.get("user_id")?)).collect()
}

/// Would making `parent` the parent of department `id` create a cycle?
pub async fn department_would_cycle(db: &Db, id: i64, parent: i64) -> Result<bool> {
    let mut cur = Some(parent);
    let all = Named::Department.list(db).await?;
    for _ in 0..=all.len() {
        match cur {
            None => return Ok(false),
            Some(c) if c == id => return Ok(true),
            Some(c) => cur = all.iter().find(|d| d.id == c).and_then(|d| d.parent_id),
        }
    }
    Ok(true)
}

/// The rights named in a profile, for display.
/// Replaces the global ceiling for external users.
pub async fn set_external_ceiling(tx: &mut Tx, rights: RightSet) -> Result<()> {
    tx.execute(q("DELETE FROM external_ceiling")).await?;
    for r in rights.iter() {
        tx.execute(q("INSERT INTO external_ceiling (right_name) VALUES ($1)").bind(r.name()))
            .await?;
    }
    Ok(())
}

pub fn rights_list(r: RightSet) -> Vec<Right> {
    r.iter().collect()
}

/// The profiles authorization.md seeds; admins may change them afterwards.
pub fn seeded_profiles() -> Vec<(&'static str, RightSet)> {
    use Right::*;
    vec![
        ("Administrator", [Admin].into_iter().collect()),
        (
            "Senior manager",
            [
                ViewAllProjects,
                ViewProjectHistory,
                SeeWork,
                SeeCost,
                ViewTimesheets,
                ViewInternalDocuments,
                ViewInvoices,
            ]
            .into_iter()
            .collect(),
        ),
        ("Project manager", RightSet::all_project()),
        (
            "Full member",
            [LogTime, SeeWork, ViewInternalDocuments]
                .into_iter()
                .collect(),
        ),
        ("Customer", [ViewInvoices].into_iter().collect()),
        (
            "External project leader",
            [
                CreateProjects,
                CreateSubprojects,
                ManageTasks,
                ViewTimesheets,
                SeeWork,
                ManageDocuments,
                ViewInvoices,
            ]
            .into_iter()
            .collect(),
        ),
    ]
}

/// Creates the seeded profiles in a database that has none.
pub async fn ensure_seeded_profiles(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    // Servers starting together on an empty database: one seeds, the others then see it.
    tx.lock(super::START_LOCK).await?;
    let any = tx
        .fetch_optional(q("SELECT profile_id FROM profile LIMIT 1"))
        .await?
        .is_some();
    if !any {
        for (name, rights) in seeded_profiles() {
            create_profile(&mut tx, name, rights).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
