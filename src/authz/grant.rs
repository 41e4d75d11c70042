//! The one grant check: no right is gained by any path (authorization.md, "No escalation,
//! by any path").
//!
//! A change to who holds what (a membership added, a project moved, its inheritance switched
//! on, its department or status changed) is described as a [`Change`] to the facts. For
//! every principal the change could reach, on every existing project it could reach, and on
//! every day from today on where a membership starts or ends, the rights after the change
//! are compared with the rights before. Whatever is gained must be a right the caller held
//! on that project on that day, before the change. Checking every such day, not only today,
//! is what stops a member whose membership ends on the 31st from re-adding itself with no
//! end date: on the 1st it would hold rights that nobody granting them held.
//!
//! ADMIN is exempt (the caller of the check skips it), as is the creator's automatic
//! membership on a project it has just made (not an existing project).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{Days, NaiveDate};

use super::{children_of, Facts, MembershipFacts, ProjectFacts, RightSet};

/// A change to the facts that may give someone rights.
#[derive(Clone, Debug)]
pub enum Change {
    /// A membership added for these users (one user, or every user of a group).
    Membership {
        membership: MembershipFacts,
        users: Vec<i64>,
    },
    /// A project's place, inheritance, department or status, as they will be.
    Project {
        project_id: i64,
        after: ProjectFacts,
    },
}

/// A right someone would gain that the caller does not hold there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    pub user_id: i64,
    pub project_id: i64,
    pub day: NaiveDate,
    /// Rights gained beyond the caller's; empty when the gain is the project's visibility.
    pub rights: RightSet,
}

impl Facts {
    /// The same facts, judged on another day.
    fn on(&self, day: NaiveDate) -> Facts {
        Facts {
            today: day,
            ..self.clone()
        }
    }
}

/// Days from `today` on where some membership's validity starts or ends: rights only change
/// on those days.
fn critical_days<'a>(
    today: NaiveDate,
    memberships: impl Iterator<Item = &'a MembershipFacts>,
    caller_until: Option<NaiveDate>,
) -> Vec<NaiveDate> {
    let mut days = BTreeSet::from([today]);
    let mut add = |d: NaiveDate| {
        if d > today {
            days.insert(d);
        }
    };
    for m in memberships {
        if let Some(f) = m.valid_from {
            add(f);
        }
        if let Some(u) = m.valid_until.and_then(|u| u.checked_add_days(Days::new(1))) {
            add(u);
        }
    }
    if let Some(u) = caller_until.and_then(|u| u.checked_add_days(Days::new(1))) {
        add(u);
    }
    days.into_iter().collect()
}

/// The projects whose access `change` can alter: the project and everything below it.
fn reach(children: &HashMap<i64, Vec<i64>>, root: i64) -> Vec<i64> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        for kid in children.get(&out[i]).into_iter().flatten() {
            if !out.contains(kid) {
                out.push(*kid);
            }
        }
        i += 1;
    }
    out
}

/// The first right that `change` would give one of `subjects` beyond what `caller` held.
///
/// `subjects` are the facts, before the change, of every user the change can reach;
/// `caller_until` is the last day the caller's credential works (an expiring API key), after
/// which it holds nothing. Projects the change creates are not checked: only existing ones.
pub fn escalation(
    caller: &Facts,
    caller_until: Option<NaiveDate>,
    subjects: &[Facts],
    change: &Change,
) -> Option<Escalation> {
    let today = caller.today;
    // The tree after a project change, and its parent-to-children map, built once for
    // every subject.
    let (root, projects_after) = match change {
        Change::Membership { membership, .. } => (membership.project_id, None),
        Change::Project { project_id, after } => {
            let mut p = (*caller.projects).clone();
            p.insert(*project_id, *after);
            let children = Arc::new(children_of(&p));
            (*project_id, Some((Arc::new(p), children)))
        }
    };
    if !caller.projects.contains_key(&root) {
        return None;
    }
    let mut affected = reach(&caller.children, root);
    if let Some((_, children_after)) = &projects_after {
        for p in reach(children_after, root) {
            if !affected.contains(&p) {
                affected.push(p);
            }
        }
    }
    let after_of = |s: &Facts| -> Facts {
        let mut a = s.clone();
        match change {
            Change::Membership { membership, users } => {
                if users.contains(&s.user_id) {
                    a.memberships.push(membership.clone());
                }
            }
            Change::Project { .. } => {
                if let Some((p, children)) = &projects_after {
                    a.children = children.clone();
                    a.projects = p.clone();
                }
            }
        }
        a
    };
    let added = match change {
        Change::Membership { membership, .. } => Some(membership),
        Change::Project { .. } => None,
    };
    let days = critical_days(
        today,
        subjects
            .iter()
            .flat_map(|s| s.memberships.iter())
            .chain(caller.memberships.iter())
            .chain(added),
        caller_until,
    );
    for subject in subjects {
        let after = after_of(subject);
        for &day in &days {
            let (b, a) = (subject.on(day), after.on(day));
            let c = caller.on(day);
            let caller_expired = caller_until.is_some_and(|u| day > u);
            for &p in &affected {
                let now = a.access(p, false);
                if !now.visible {
                    continue;
                }
                let was = b.access(p, false);
                let gained =
                    RightSet::from_iter(now.rights.iter().filter(|r| !was.rights.contains(*r)));
                if gained.is_empty() && was.visible {
                    continue;
                }
                let held = if caller_expired {
                    None
                } else {
                    Some(c.access(p, false)).filter(|x| x.visible)
                };
                let beyond = match held {
                    None => Some(gained),
                    Some(h) => {
                        let extra: RightSet =
                            gained.iter().filter(|r| !h.rights.contains(*r)).collect();
                        (!extra.is_empty()).then_some(extra)
                    }
                };
                if let Some(rights) = beyond {
                    return Some(Escalation {
                        user_id: subject.user_id,
                        project_id: p,
                        day,
                        rights,
                    });
                }
            }
        }
    }
    None
}
