//! Loading the [`Facts`] of one caller: a handful of indexed queries, whatever the number of
//! projects the caller can see.

use std::collections::HashMap;

use chrono::Utc;

use super::{Facts, MembershipFacts, ProjectFacts, Right, RightSet};
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

/// The facts about `user_id`, narrowed to `key_projects` when an API key says so.
pub async fn facts(
    db: &Db,
    user_id: i64,
    profile_id: i64,
    department_id: Option<i64>,
    key_projects: Option<Vec<i64>>,
) -> Result<Facts> {
    let profiles = profile_rights(db).await?;

    let mut projects = HashMap::new();
    for row in db
        .fetch_all(q(
            "SELECT project_id, parent_id, inherit_members, status, department_id FROM project",
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
            },
        );
    }

    let mut departments = HashMap::new();
    if department_id.is_some() {
        for row in db
            .fetch_all(q("SELECT department_id, parent_id FROM department"))
            .await?
        {
            departments.insert(row.get("department_id")?, row.get("parent_id")?);
        }
    }

    let mut memberships = Vec::new();
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
        memberships.push(MembershipFacts {
            membership_id: row.get("membership_id")?,
            project_id: row.get("project_id")?,
            group_id: row.get("group_id")?,
            profile_id: row.get("profile_id")?,
            valid_from: row.get("valid_from")?,
            valid_until: row.get("valid_until")?,
        });
    }

    Ok(Facts {
        user_id,
        profile_id,
        department_id,
        profiles,
        projects,
        departments,
        memberships,
        key_projects,
        today: Utc::now().date_naive(),
    })
}
