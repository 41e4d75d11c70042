//! What a caller may see and do: the one policy of Portico (../shared/design/authorization.md).
//!
//! For each request the facts about the caller (their default profile, their memberships
//! direct and through groups, the project tree, the department tree and any narrowing by an
//! API key) are loaded once ([`load`]) and turned into a [`Scope`]: the visible projects and
//! the effective rights on each, inheritance already expanded. Storage puts the scope's id
//! lists into SQL `WHERE` clauses; field resolvers ask the scope for a right on a row's
//! project. Nothing else decides permissions.
//!
//! Inheritance, by example: Website (inheritMembers irrelevant, it is a root) has children
//! Design (inherits) and Shop (inheritMembers = false, a "room with its own rights"). A
//! membership on Website grants its profile's rights on Website and Design, but not on
//! Shop nor on anything below Shop that inherits from it; only memberships made on Shop or
//! below reach those.

pub mod grant;
pub mod load;
pub mod rights;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

pub use rights::{Right, RightSet};

/// Project status as far as the policy cares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ProjectFacts {
    pub parent_id: Option<i64>,
    pub inherit_members: bool,
    /// POTENTIAL or CLOSED: hidden without VIEW_PROJECT_HISTORY or VIEW_ALL_PROJECTS.
    pub historical: bool,
    pub department_id: Option<i64>,
    /// `externalRights`: narrows the ceiling for external users here and below; None for
    /// no narrowing.
    pub external_rights: Option<RightSet>,
}

/// One membership of the subject, direct (`group_id` None) or through a group.
#[derive(Clone, Debug)]
pub struct MembershipFacts {
    pub membership_id: i64,
    pub project_id: i64,
    pub group_id: Option<i64>,
    pub profile_id: i64,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

impl MembershipFacts {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= day) && self.valid_until.is_none_or(|u| day <= u)
    }
}

/// Everything the policy needs to know about one caller.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub user_id: i64,
    pub profile_id: i64,
    pub department_id: Option<i64>,
    /// Rights of every profile.
    pub profiles: Arc<HashMap<i64, RightSet>>,
    pub projects: Arc<HashMap<i64, ProjectFacts>>,
    /// Department id to its parent.
    pub departments: Arc<HashMap<i64, Option<i64>>>,
    /// The project tree, parent to children (derived from `projects`).
    pub children: Arc<HashMap<i64, Vec<i64>>>,
    /// The subject's memberships, valid or not (explanations need the invalid ones too).
    pub memberships: Vec<MembershipFacts>,
    /// An API key narrowed to these projects (and their sub-projects).
    pub key_projects: Option<Vec<i64>>,
    /// The day memberships are checked against.
    pub today: NaiveDate,
    /// An EXTERNAL user: every right is cut to the ceiling.
    pub external: bool,
    /// The global ceiling for external users.
    pub ceiling: RightSet,
}

/// How a right reached the subject.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GrantVia {
    /// The default profile has ADMIN.
    Admin,
    /// A global right of the default profile (view/edit all or department projects).
    GlobalRight,
    /// A membership of the user.
    Membership,
    /// A membership of one of the user's groups.
    GroupMembership,
}

/// One source of one right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub right: Right,
    pub via: GrantVia,
    /// Where the membership was made (a project or one of its ancestors).
    pub project_id: Option<i64>,
    pub group_id: Option<i64>,
    pub profile_id: i64,
}

/// Why a project is hidden.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum HiddenReason {
    /// No membership, group membership or global right reaches the project.
    NoAccess,
    /// A membership would grant access but is outside its validity period.
    MembershipNotValid,
    /// Memberships exist above the project, but a "room with its own rights" between them
    /// (inheritMembers = false) stops them.
    InheritanceStopped,
    /// The project is POTENTIAL or CLOSED and the caller lacks VIEW_PROJECT_HISTORY.
    StatusHidden,
    /// The API key in use is narrowed to other projects.
    OutsideApiKeyProjects,
}

/// The policy's answer for one project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub visible: bool,
    /// Effective project rights; empty when not visible.
    pub rights: RightSet,
    pub grants: Vec<Grant>,
    pub reason: Option<HiddenReason>,
    /// What the ceiling for external users took away (always empty for internal users).
    pub removed_by_ceiling: RightSet,
}

impl Facts {
    /// All rights of the default profile, global and project ones.
    fn default_profile(&self) -> RightSet {
        self.profiles
            .get(&self.profile_id)
            .copied()
            .unwrap_or_default()
    }

    /// The ceiling for external users applied to `rights` on a project: what remains, and
    /// what the cut took (those project rights, and the global rights of the default
    /// profile that the global ceiling leaves out). Internal users keep everything.
    fn cut(&self, project_id: i64, rights: RightSet) -> (RightSet, RightSet) {
        if !self.external {
            return (rights, RightSet::EMPTY);
        }
        let ceiling = self.ceiling_on(project_id);
        let global_cut = normalize_global(self.default_profile())
            .iter()
            .filter(|r| !self.ceiling.contains(*r));
        let removed = rights
            .iter()
            .filter(|r| !ceiling.contains(*r))
            .chain(global_cut)
            .collect();
        (rights.intersect(ceiling), removed)
    }

    fn global(&self) -> RightSet {
        let g = normalize_global(self.default_profile());
        if self.external {
            g.intersect(self.ceiling)
        } else {
            g
        }
    }

    /// The ceiling for external users on a project: the global one narrowed by every
    /// `externalRights` on the project or above it.
    pub fn ceiling_on(&self, project_id: i64) -> RightSet {
        let mut c = self.ceiling;
        let mut cur = Some(project_id);
        for _ in 0..=self.projects.len() {
            let Some(id) = cur else { break };
            let Some(f) = self.projects.get(&id) else {
                break;
            };
            if let Some(r) = f.external_rights {
                c = c.intersect(r);
            }
            cur = f.parent_id;
        }
        c
    }

    fn in_department(&self, project_dept: Option<i64>) -> bool {
        let (Some(mine), Some(mut d)) = (self.department_id, project_dept) else {
            return false;
        };
        // Bounded walk: a corrupt cycle in the department tree cannot hang the request.
        for _ in 0..=self.departments.len() {
            if d == mine {
                return true;
            }
            match self.departments.get(&d).copied().flatten() {
                Some(p) => d = p,
                None => return false,
            }
        }
        false
    }

    fn in_key_projects(&self, project_id: i64) -> bool {
        let Some(keys) = &self.key_projects else {
            return true;
        };
        let mut p = Some(project_id);
        for _ in 0..=self.projects.len() {
            let Some(id) = p else { return false };
            if keys.contains(&id) {
                return true;
            }
            p = self.projects.get(&id).and_then(|f| f.parent_id);
        }
        false
    }

    /// The projects whose memberships reach `project_id`: itself, then its ancestors while
    /// each step down inherits members.
    fn reaching(&self, project_id: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut cur = project_id;
        for _ in 0..=self.projects.len() {
            out.push(cur);
            let Some(f) = self.projects.get(&cur) else {
                break;
            };
            match (f.inherit_members, f.parent_id) {
                (true, Some(parent)) => cur = parent,
                _ => break,
            }
        }
        out
    }

    fn ancestors_beyond_room(&self, from: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut cur = self.projects.get(&from).and_then(|f| f.parent_id);
        for _ in 0..=self.projects.len() {
            let Some(id) = cur else { break };
            out.push(id);
            cur = self.projects.get(&id).and_then(|f| f.parent_id);
        }
        out
    }

    /// Effective access of the subject to one project (authorization.md, steps 1 to 6).
    pub fn access(&self, project_id: i64, with_grants: bool) -> Access {
        let hidden = |reason| Access {
            visible: false,
            rights: RightSet::EMPTY,
            grants: Vec::new(),
            reason: Some(reason),
            removed_by_ceiling: RightSet::EMPTY,
        };
        let Some(project) = self.projects.get(&project_id) else {
            return hidden(HiddenReason::NoAccess);
        };
        if !self.in_key_projects(project_id) {
            return hidden(HiddenReason::OutsideApiKeyProjects);
        }
        let global = self.global();
        let mut grants = Vec::new();
        let mut grant = |rights: RightSet, via, project_id, group_id, profile_id| {
            if with_grants {
                for right in rights.iter() {
                    grants.push(Grant {
                        right,
                        via,
                        project_id,
                        group_id,
                        profile_id,
                    });
                }
            }
        };

        // Step 1 (for an external user whose ceiling holds ADMIN, cut like any other).
        if global.contains(Right::Admin) {
            grant(
                RightSet::all_project(),
                GrantVia::Admin,
                None,
                None,
                self.profile_id,
            );
            let (rights, removed_by_ceiling) = self.cut(project_id, RightSet::all_project());
            grants.retain(|g| rights.contains(g.right));
            return Access {
                visible: true,
                rights,
                grants,
                reason: None,
                removed_by_ceiling,
            };
        }

        // Step 2.
        let reaching = self.reaching(project_id);
        let mut rights = RightSet::EMPTY;
        let mut member = false;
        let mut invalid_member = false;
        for m in &self.memberships {
            if !reaching.contains(&m.project_id) {
                continue;
            }
            if !m.valid_on(self.today) {
                invalid_member = true;
                continue;
            }
            member = true;
            let profile_rights = self
                .profiles
                .get(&m.profile_id)
                .copied()
                .unwrap_or_default()
                .project();
            rights = rights.union(profile_rights);
            let via = if m.group_id.is_some() {
                GrantVia::GroupMembership
            } else {
                GrantVia::Membership
            };
            grant(
                profile_rights,
                via,
                Some(m.project_id),
                m.group_id,
                m.profile_id,
            );
        }

        // Steps 3 and 4.
        let in_dept = self.in_department(project.department_id);
        let views = global.contains(Right::ViewAllProjects)
            || (global.contains(Right::ViewDepartmentProjects) && in_dept);
        let edits = global.contains(Right::EditAllProjects)
            || (global.contains(Right::EditDepartmentProjects) && in_dept);
        if views {
            let read = self.default_profile().intersect(RightSet::read_rights());
            rights = rights.union(read);
            grant(read, GrantVia::GlobalRight, None, None, self.profile_id);
        }
        if edits {
            let all = self.default_profile().project();
            rights = rights.union(all);
            grant(all, GrantVia::GlobalRight, None, None, self.profile_id);
        }

        // Step 5.
        if !(member || views || edits) {
            let stopped = !invalid_member
                && self.memberships.iter().any(|m| {
                    m.valid_on(self.today)
                        && self
                            .ancestors_beyond_room(*reaching.last().unwrap_or(&project_id))
                            .contains(&m.project_id)
                });
            return hidden(if invalid_member {
                HiddenReason::MembershipNotValid
            } else if stopped {
                HiddenReason::InheritanceStopped
            } else {
                HiddenReason::NoAccess
            });
        }
        if project.historical
            && !(global.contains(Right::ViewProjectHistory)
                || global.contains(Right::ViewAllProjects))
        {
            return hidden(HiddenReason::StatusHidden);
        }
        // The ceiling for external users, after every step.
        let (rights, removed_by_ceiling) = self.cut(project_id, rights);
        grants.retain(|g| rights.contains(g.right));
        Access {
            visible: true,
            rights,
            grants,
            reason: None,
            removed_by_ceiling,
        }
    }

    /// The whole scope of the subject.
    pub fn scope(&self) -> Scope {
        let global = self.global();
        let mut rights = HashMap::new();
        for &id in self.projects.keys() {
            let a = self.access(id, false);
            if a.visible {
                rights.insert(id, a.rights);
            }
        }
        let mut visible_ids: Vec<i64> = rights.keys().copied().collect();
        visible_ids.sort_unstable();
        let member_sources = member_sources(&visible_ids, &self.projects);
        Scope {
            user_id: self.user_id,
            global,
            rights,
            visible_ids,
            member_sources,
            children: self.children.clone(),
            tree: self.projects.clone(),
        }
    }
}

/// EDIT_ALL_PROJECTS includes VIEW_ALL_PROJECTS; EDIT_DEPARTMENT_PROJECTS includes
/// VIEW_DEPARTMENT_PROJECTS.
pub fn normalize_global(mut r: RightSet) -> RightSet {
    if r.contains(Right::EditAllProjects) {
        r.insert(Right::ViewAllProjects);
    }
    if r.contains(Right::EditDepartmentProjects) {
        r.insert(Right::ViewDepartmentProjects);
    }
    r.global()
}

/// What one caller may see: the visible projects with the effective rights on each.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub user_id: i64,
    /// Global rights of the default profile (EDIT_* implying VIEW_*).
    pub global: RightSet,
    rights: HashMap<i64, RightSet>,
    visible_ids: Vec<i64>,
    /// The projects whose memberships count on a visible project (each visible project and
    /// its ancestors up to the nearest room): their members are the caller's co-members.
    member_sources: Vec<i64>,
    /// The whole project tree (visible or not), parent to children: roll-ups sum over all
    /// descendants and must know whether each is visible.
    children: Arc<HashMap<i64, Vec<i64>>>,
    /// The whole tree's facts (inheritance flags).
    tree: Arc<HashMap<i64, ProjectFacts>>,
}

impl Scope {
    /// The projects a membership made on `project_id` reaches: it and its descendants down
    /// to (not into) the rooms with their own rights.
    pub fn membership_reach(&self, project_id: i64) -> Vec<i64> {
        let mut out = vec![project_id];
        let mut i = 0;
        while i < out.len() {
            for kid in self.children.get(&out[i]).into_iter().flatten() {
                let inherits = self.tree.get(kid).is_some_and(|f| f.inherit_members);
                if inherits && !out.contains(kid) {
                    out.push(*kid);
                }
            }
            i += 1;
        }
        out
    }

    pub fn is_admin(&self) -> bool {
        self.global.contains(Right::Admin)
    }

    /// Effective rights on a project; `None` when the project is not visible.
    pub fn rights(&self, project_id: i64) -> Option<RightSet> {
        self.rights.get(&project_id).copied()
    }

    pub fn sees(&self, project_id: i64) -> bool {
        self.rights.contains_key(&project_id)
    }

    pub fn can(&self, project_id: i64, right: Right) -> bool {
        self.rights(project_id).is_some_and(|r| r.contains(right))
    }

    /// The projects whose valid memberships make a user the caller's co-member: a
    /// membership on one of them counts on a project the caller sees (authorization.md,
    /// step 2). The `users` list and every user reference follow it.
    pub fn member_sources(&self) -> &[i64] {
        &self.member_sources
    }

    /// Visible project ids, ascending.
    pub fn visible_ids(&self) -> &[i64] {
        &self.visible_ids
    }

    /// What both scopes allow: "view as" through an API key reads as the target, within
    /// what the key alone may read.
    pub fn intersect(&self, limit: &Scope) -> Scope {
        let rights: HashMap<i64, RightSet> = self
            .rights
            .iter()
            .filter_map(|(id, r)| limit.rights(*id).map(|l| (*id, r.intersect(l))))
            .collect();
        let mut visible_ids: Vec<i64> = rights.keys().copied().collect();
        visible_ids.sort_unstable();
        let member_sources = member_sources(&visible_ids, &self.tree);
        Scope {
            user_id: self.user_id,
            global: self.global.intersect(limit.global),
            rights,
            visible_ids,
            member_sources,
            children: self.children.clone(),
            tree: self.tree.clone(),
        }
    }

    /// The policy's facts about a project, visible or not (for the grant check).
    pub fn project_facts(&self, project_id: i64) -> Option<ProjectFacts> {
        self.tree.get(&project_id).copied()
    }

    /// A project's ancestors, nearest first, visible or not.
    pub fn ancestors(&self, project_id: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut cur = self.tree.get(&project_id).and_then(|f| f.parent_id);
        while let Some(id) = cur {
            if out.contains(&id) || id == project_id {
                break;
            }
            out.push(id);
            cur = self.tree.get(&id).and_then(|f| f.parent_id);
        }
        out
    }

    /// A project and all its descendants, visible or not.
    pub fn subtree(&self, project_id: i64) -> Vec<i64> {
        let mut out = vec![project_id];
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = self.children.get(&out[i]) {
                for k in kids {
                    if !out.contains(k) {
                        out.push(*k);
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// Does one of `any` hold on every project of `ids`? (A roll-up is shown only then.)
    pub fn holds_on_all(&self, ids: &[i64], any: &[Right]) -> bool {
        ids.iter().all(|id| {
            self.rights(*id)
                .is_some_and(|r| any.iter().any(|right| r.contains(*right)))
        })
    }

    /// Visible projects on which `right` holds, ascending.
    pub fn ids_with(&self, right: Right) -> Vec<i64> {
        self.visible_ids
            .iter()
            .copied()
            .filter(|id| self.can(*id, right))
            .collect()
    }
}

/// Each of `visible` and its ancestors while each step down inherits members.
fn member_sources(visible: &[i64], tree: &HashMap<i64, ProjectFacts>) -> Vec<i64> {
    let mut out: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
    for &v in visible {
        let mut cur = v;
        for _ in 0..=tree.len() {
            if !out.insert(cur) {
                break;
            }
            match tree.get(&cur) {
                Some(f) if f.inherit_members => match f.parent_id {
                    Some(p) => cur = p,
                    None => break,
                },
                _ => break,
            }
        }
    }
    out.into_iter().collect()
}

/// Parent to children, for a set of projects.
pub fn children_of(projects: &HashMap<i64, ProjectFacts>) -> HashMap<i64, Vec<i64>> {
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for (&id, f) in projects {
        if let Some(parent) = f.parent_id {
            children.entry(parent).or_default().push(id);
        }
    }
    children
}
