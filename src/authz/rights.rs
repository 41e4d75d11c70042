//! Rights and sets of rights.

use async_graphql::Enum;

/// A right a profile can grant. The first eight are global (read from the user's default
/// profile only); the others hold on a project through a membership.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Right {
    /// Everything, including users, profiles, groups, departments, customers, audit log.
    Admin,
    /// See every project.
    ViewAllProjects,
    /// See and edit every project.
    EditAllProjects,
    /// See projects whose department is the user's department or below it.
    ViewDepartmentProjects,
    /// See and edit projects whose department is the user's department or below it.
    EditDepartmentProjects,
    /// See projects in status POTENTIAL or CLOSED that are otherwise visible.
    ViewProjectHistory,
    /// Create top-level projects (the creator becomes a member).
    CreateProjects,
    /// Read the API as another user (read-only, audited).
    Impersonate,
    /// Change the project's fields and status.
    EditProject,
    /// Add or remove members of the project and its inheriting sub-projects.
    ManageMembers,
    /// Create a sub-project under this project.
    CreateSubprojects,
    /// Create and edit tasks.
    ManageTasks,
    /// Log time on the project's tasks (own entries).
    LogTime,
    /// See everybody's time entries on the project.
    ViewTimesheets,
    /// Approve time entries.
    ApproveTimesheets,
    /// See validated (baseline) work only.
    SeeValidatedWork,
    /// See validated (baseline) cost only.
    SeeValidatedCost,
    /// See all work figures.
    SeeWork,
    /// See all cost figures, entry cost and users' rates.
    SeeCost,
    /// See documents marked INTERNAL.
    ViewInternalDocuments,
    /// Add, edit and remove documents, set folder rules.
    ManageDocuments,
    /// See the project's invoices.
    ViewInvoices,
    /// Generate and issue invoices.
    ManageInvoices,
}

impl Right {
    pub const ALL: [Right; 23] = [
        Right::Admin,
        Right::ViewAllProjects,
        Right::EditAllProjects,
        Right::ViewDepartmentProjects,
        Right::EditDepartmentProjects,
        Right::ViewProjectHistory,
        Right::CreateProjects,
        Right::Impersonate,
        Right::EditProject,
        Right::ManageMembers,
        Right::CreateSubprojects,
        Right::ManageTasks,
        Right::LogTime,
        Right::ViewTimesheets,
        Right::ApproveTimesheets,
        Right::SeeValidatedWork,
        Right::SeeValidatedCost,
        Right::SeeWork,
        Right::SeeCost,
        Right::ViewInternalDocuments,
        Right::ManageDocuments,
        Right::ViewInvoices,
        Right::ManageInvoices,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The name used in GraphQL and in the database.
    pub fn name(self) -> &'static str {
        match self {
            Right::Admin => "ADMIN",
            Right::ViewAllProjects => "VIEW_ALL_PROJECTS",
            Right::EditAllProjects => "EDIT_ALL_PROJECTS",
            Right::ViewDepartmentProjects => "VIEW_DEPARTMENT_PROJECTS",
            Right::EditDepartmentProjects => "EDIT_DEPARTMENT_PROJECTS",
            Right::ViewProjectHistory => "VIEW_PROJECT_HISTORY",
            Right::CreateProjects => "CREATE_PROJECTS",
            Right::Impersonate => "IMPERSONATE",
            Right::EditProject => "EDIT_PROJECT",
            Right::ManageMembers => "MANAGE_MEMBERS",
            Right::CreateSubprojects => "CREATE_SUBPROJECTS",
            Right::ManageTasks => "MANAGE_TASKS",
            Right::LogTime => "LOG_TIME",
            Right::ViewTimesheets => "VIEW_TIMESHEETS",
            Right::ApproveTimesheets => "APPROVE_TIMESHEETS",
            Right::SeeValidatedWork => "SEE_VALIDATED_WORK",
            Right::SeeValidatedCost => "SEE_VALIDATED_COST",
            Right::SeeWork => "SEE_WORK",
            Right::SeeCost => "SEE_COST",
            Right::ViewInternalDocuments => "VIEW_INTERNAL_DOCUMENTS",
            Right::ManageDocuments => "MANAGE_DOCUMENTS",
            Right::ViewInvoices => "VIEW_INVOICES",
            Right::ManageInvoices => "MANAGE_INVOICES",
        }
    }

    pub fn from_name(name: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Global rights come from the default profile only.
    pub fn is_global(self) -> bool {
        (self as u32) <= (Right::Impersonate as u32)
    }
}

/// A set of rights.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RightSet(u32);

impl RightSet {
    pub const EMPTY: RightSet = RightSet(0);

    pub fn all() -> RightSet {
        Right::ALL.into_iter().collect()
    }

    /// Every project right.
    pub fn all_project() -> RightSet {
        Right::ALL.into_iter().filter(|r| !r.is_global()).collect()
    }

    /// The read rights that VIEW_ALL_PROJECTS and VIEW_DEPARTMENT_PROJECTS carry over from
    /// the default profile (authorization.md, step 3).
    pub fn read_rights() -> RightSet {
        [
            Right::SeeValidatedWork,
            Right::SeeWork,
            Right::SeeValidatedCost,
            Right::SeeCost,
            Right::ViewTimesheets,
            Right::ViewInternalDocuments,
            Right::ViewInvoices,
        ]
        .into_iter()
        .collect()
    }

    pub fn contains(self, r: Right) -> bool {
        self.0 & r.bit() != 0
    }
    pub fn insert(&mut self, r: Right) {
        self.0 |= r.bit();
    }
    pub fn union(self, other: RightSet) -> RightSet {
        RightSet(self.0 | other.0)
    }
    pub fn intersect(self, other: RightSet) -> RightSet {
        RightSet(self.0 & other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Right> {
        Right::ALL.into_iter().filter(move |r| self.contains(*r))
    }
    /// Only the global rights of this set.
    pub fn global(self) -> RightSet {
        self.iter().filter(|r| r.is_global()).collect()
    }
    /// Only the project rights of this set.
    pub fn project(self) -> RightSet {
        self.iter().filter(|r| !r.is_global()).collect()
    }
}

impl FromIterator<Right> for RightSet {
    fn from_iter<I: IntoIterator<Item = Right>>(iter: I) -> Self {
        let mut s = RightSet::EMPTY;
        for r in iter {
            s.insert(r);
        }
        s
    }
}
