//! The demo world of `portico serve --demo` and the `create-admin` command.
//!
//! The demo is built on the scenarios of ../shared/reference/: a customer (Acme) with a
//! container project and two sub-projects, the customer a member of only one (]project-open[
//! extended company model); an external project leader with his own website project and
//! its sub-projects (ProjeQtOr); a "room with its own rights" that the leader is not
//! invited into (QM365); a closed project that only history-holders see; staff and a senior
//! manager who sees everything.

use std::fmt::Write;

use crate::authz::{Right, RightSet};
use crate::db::documents::{self, DocumentFields};
use crate::db::org::{self, Named};
use crate::db::projects::{self, NewMembership, NewProject, ProjectRow};
use crate::db::tasks::{self, TaskFields};
use crate::db::users::{self, NewUser, UserRow};
use crate::db::Tx;
use crate::db::{entries, invoices};
use crate::error::{Error, Result};
use crate::graphql::mutation::{name, MIN_PASSWORD};
use crate::AppState;

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "portico-demo";

/// Creates an administrator (the `create-admin` command).
pub async fn create_admin(
    state: &AppState,
    email: &str,
    user_name: &str,
    password: &str,
) -> Result<UserRow> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::bad_input(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    let n = name("name", user_name)?;
    let profile = org::find_profile_id_by_name(&state.db, "Administrator")
        .await?
        .ok_or_else(|| Error::conflict("the Administrator profile is missing"))?;
    let hash = state.hasher.hash(password.to_string()).await?;
    let mut tx = state.db.begin().await?;
    let user = users::create_user(
        &mut tx,
        NewUser {
            email: email.to_string(),
            name: n,
            kind: "INTERNAL".into(),
            customer_id: None,
            department_id: None,
            profile_id: profile,
            cost_rate: 0,
            billing_rate: 0,
            password_hash: hash,
        },
    )
    .await
    .map_err(|e| match e {
        Error::Database(ref d) if crate::db::is_unique_violation(d) => {
            Error::bad_input("email", "this email is already in use")
        }
        other => other,
    })?;
    tx.commit().await?;
    Ok(user)
}

struct Builder {
    tx: Tx,
    hash: String,
    /// Customer and department of the projects made next.
    customer: Option<i64>,
    department: Option<i64>,
}

impl Builder {
    async fn profile(&mut self, name: &str) -> Result<i64> {
        let id = self
            .tx
            .fetch_optional(
                crate::db::q("SELECT profile_id FROM profile WHERE name = $1").bind(name),
            )
            .await?
            .ok_or_else(|| Error::conflict(format!("profile {name} is missing")))?
            .get("profile_id")?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn user(
        &mut self,
        email: &str,
        name: &str,
        external: bool,
        customer: Option<i64>,
        department: Option<i64>,
        profile: &str,
        cost: i64,
        billing: i64,
    ) -> Result<UserRow> {
        let profile_id = self.profile(profile).await?;
        users::create_user(
            &mut self.tx,
            NewUser {
                email: email.into(),
                name: name.into(),
                kind: if external { "EXTERNAL" } else { "INTERNAL" }.into(),
                customer_id: customer,
                department_id: department,
                profile_id,
                cost_rate: cost,
                billing_rate: billing,
                password_hash: self.hash.clone(),
            },
        )
        .await
    }

    async fn project(
        &mut self,
        name: &str,
        code: &str,
        parent: Option<&ProjectRow>,
        status: &str,
        inherit: bool,
        budget: Option<i64>,
    ) -> Result<ProjectRow> {
        projects::create_project(
            &mut self.tx,
            NewProject {
                name: name.into(),
                code: Some(code.into()),
                status: status.into(),
                customer_id: self.customer,
                department_id: self.department,
                parent_id: parent.map(|p| p.id),
                inherit_members: inherit,
                budget,
            },
        )
        .await
    }

    async fn member(&mut self, project: &ProjectRow, user: &UserRow, profile: &str) -> Result<()> {
        let profile_id = self.profile(profile).await?;
        projects::create_membership(
            &mut self.tx,
            NewMembership {
                project_id: project.id,
                user_id: Some(user.id),
                group_id: None,
                profile_id,
                valid_from: None,
                valid_until: None,
            },
        )
        .await?;
        Ok(())
    }
}

/// Loads the demo world into a database without users; answers the text to print, or
/// `None` when the database already has users.
pub async fn load_if_empty(state: &AppState) -> Result<Option<String>> {
    if users::count_users_unscoped(&state.db).await? > 0 {
        return Ok(None);
    }
    let hash = state.hasher.hash(DEMO_PASSWORD.into()).await?;
    let mut tx = state.db.begin().await?;
    // Servers starting together with --demo: one loads it, the others find users and stop.
    tx.lock(crate::db::START_LOCK).await?;
    if tx
        .fetch_optional(crate::db::q("SELECT user_id FROM app_user LIMIT 1"))
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let mut b = Builder {
        tx,
        hash,
        customer: None,
        department: None,
    };

    // A customer profile that may follow the hours tracked for it (]po[ "View timesheet tasks").
    let support_rights: RightSet = [Right::ViewInvoices, Right::ViewTimesheets, Right::SeeWork]
        .into_iter()
        .collect();
    org::create_profile(&mut b.tx, "Customer with timesheets", support_rights).await?;

    let acme = Named::Customer
        .create(&mut b.tx, "Acme Corp", None)
        .await?
        .id;
    let delivery = Named::Department
        .create(&mut b.tx, "Delivery", None)
        .await?
        .id;
    let web = Named::Department
        .create(&mut b.tx, "Web team", Some(delivery))
        .await?
        .id;

    let admin = b
        .user(
            "admin@portico.example",
            "Ada Admin",
            false,
            None,
            None,
            "Administrator",
            0,
            0,
        )
        .await?;
    let senior = b
        .user(
            "senior@portico.example",
            "Sam Senior",
            false,
            None,
            Some(delivery),
            "Senior manager",
            9000,
            15000,
        )
        .await?;
    let pm = b
        .user(
            "pm@portico.example",
            "Paula Manager",
            false,
            None,
            Some(web),
            "Full member",
            7000,
            12000,
        )
        .await?;
    let dev = b
        .user(
            "dev@portico.example",
            "Dan Developer",
            false,
            None,
            Some(web),
            "Full member",
            5000,
            9000,
        )
        .await?;
    let leader = b
        .user(
            "leader@acme.example",
            "Lee Leader (Acme)",
            true,
            Some(acme),
            None,
            "External project leader",
            0,
            0,
        )
        .await?;
    let client = b
        .user(
            "client@acme.example",
            "Cleo Client (Acme)",
            true,
            Some(acme),
            None,
            "Customer",
            0,
            0,
        )
        .await?;
    // The ceiling for external users: given the strongest project profile, still no cost
    // figures, no internal documents and no member management.
    let partner = b
        .user(
            "partner@acme.example",
            "Pat Partner (Acme)",
            true,
            Some(acme),
            None,
            "Full member",
            0,
            0,
        )
        .await?;

    b.customer = Some(acme);
    b.department = Some(web);

    // ]project-open[ extended company model.
    let program = b
        .project(
            "Acme Support Program",
            "ACME-SUP",
            None,
            "OPEN",
            true,
            Some(5_000_000),
        )
        .await?;
    let contract = b
        .project(
            "Support contract",
            "ACME-SUP-1",
            Some(&program),
            "OPEN",
            true,
            Some(2_000_000),
        )
        .await?;
    let internal = b
        .project(
            "Other support work",
            "ACME-SUP-2",
            Some(&program),
            "OPEN",
            true,
            Some(1_000_000),
        )
        .await?;
    b.member(&program, &pm, "Project manager").await?;
    b.member(&program, &dev, "Full member").await?;
    b.member(&contract, &client, "Customer with timesheets")
        .await?;

    // ProjeQtOr external project leader, and a QM365 room with its own rights.
    let website = b
        .project(
            "Acme Website",
            "ACME-WEB",
            None,
            "OPEN",
            true,
            Some(8_000_000),
        )
        .await?;
    let design = b
        .project("Design", "ACME-WEB-DES", Some(&website), "OPEN", true, None)
        .await?;
    let newsletter = b
        .project(
            "Newsletter",
            "ACME-WEB-NEWS",
            Some(&website),
            "OPEN",
            true,
            None,
        )
        .await?;
    let audit_room = b
        .project(
            "Security audit",
            "ACME-WEB-SEC",
            Some(&website),
            "OPEN",
            false,
            Some(1_500_000),
        )
        .await?;
    b.member(&website, &leader, "External project leader")
        .await?;
    b.member(&website, &pm, "Project manager").await?;
    b.member(&website, &partner, "Project manager").await?;
    b.member(&audit_room, &pm, "Project manager").await?;

    // ]project-open[ history rule: a closed project the client was a member of.
    let legacy = b
        .project(
            "Legacy migration",
            "ACME-OLD",
            None,
            "CLOSED",
            true,
            Some(900_000),
        )
        .await?;
    b.member(&legacy, &client, "Customer").await?;

    // Work on it: tasks, hours, documents and an invoice.
    let day = |back: i64| chrono::Utc::now().date_naive() - chrono::Duration::days(back);
    let tickets = tasks::create_task(
        &mut b.tx,
        contract.id,
        TaskFields {
            name: Some("Support tickets".into()),
            assignee_id: Some(Some(dev.id)),
            validated_work: Some(4000),
            planned_work: Some(4000),
            left_work: Some(3000),
            validated_cost: Some(200_000),
            planned_cost: Some(200_000),
            ..Default::default()
        },
    )
    .await?;
    let refactoring = tasks::create_task(
        &mut b.tx,
        internal.id,
        TaskFields {
            name: Some("Internal refactoring".into()),
            planned_work: Some(1600),
            planned_cost: Some(80_000),
            ..Default::default()
        },
    )
    .await?;
    tasks::create_task(
        &mut b.tx,
        website.id,
        TaskFields {
            name: Some("Homepage".into()),
            validated_work: Some(5000),
            planned_work: Some(6000),
            planned_cost: Some(420_000),
            ..Default::default()
        },
    )
    .await?;
    tasks::create_task(
        &mut b.tx,
        audit_room.id,
        TaskFields {
            name: Some("Penetration test".into()),
            planned_work: Some(2400),
            planned_cost: Some(216_000),
            ..Default::default()
        },
    )
    .await?;
    for (task, project, back, centi) in [
        (&tickets, &contract, 12, 250),
        (&tickets, &contract, 11, 125),
        (&refactoring, &internal, 11, 400),
    ] {
        let e = entries::create_entry(
            &mut b.tx,
            entries::NewEntry {
                user_id: dev.id,
                task_id: task.id,
                project_id: project.id,
                date: day(back),
                hours: centi,
                cost: invoices::amount(centi, dev.cost_rate),
                billable: true,
                note: None,
            },
        )
        .await?;
        entries::approve_entry(&mut b.tx, e.id, pm.id).await?;
    }
    entries::create_entry(
        &mut b.tx,
        entries::NewEntry {
            user_id: dev.id,
            task_id: tickets.id,
            project_id: contract.id,
            date: day(1),
            hours: 150,
            cost: invoices::amount(150, dev.cost_rate),
            billable: true,
            note: Some("Printer queue stuck".into()),
        },
    )
    .await?;
    invoices::generate(
        &mut b.tx,
        contract.id,
        Some(acme),
        vec![contract.id],
        day(30),
        day(2),
        pm.id,
    )
    .await?;
    for (project, folder, title, visibility) in [
        (&contract, "", "Support handbook", "SHARED"),
        (&contract, "", "Support margin calculation", "INTERNAL"),
        (&contract, "Escalations", "Escalation contacts", "SHARED"),
        (&website, "", "Creative brief", "SHARED"),
    ] {
        documents::create_document(
            &mut b.tx,
            project.id,
            pm.id,
            DocumentFields {
                folder: Some(folder.into()),
                title: Some(title.into()),
                visibility: Some(visibility.into()),
                content: Some(format!("{title} (demo content)")),
            },
        )
        .await?;
    }
    documents::create_folder_rule(&mut b.tx, contract.id, "Escalations", Some(dev.id), None)
        .await?;

    b.tx.commit().await?;

    let names = |ps: &[&ProjectRow]| {
        ps.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Demo world loaded. Every demo user's password is: {DEMO_PASSWORD}"
    );
    let _ = writeln!(out, "Sign in with: mutation {{ login(input: {{email: \"EMAIL\", password: \"{DEMO_PASSWORD}\"}}) {{ token }} }}");
    let _ = writeln!(
        out,
        "then send the token as 'Authorization: Bearer TOKEN'.\n"
    );
    let all = [
        &program,
        &contract,
        &internal,
        &website,
        &design,
        &newsletter,
        &audit_room,
        &legacy,
    ];
    let rows: Vec<(&UserRow, String)> = vec![
        (&admin, format!("everything, every project ({}), users, profiles and the audit log", all.len())),
        (&senior, format!("every project including the closed one ({}), with work and cost figures; cannot edit", names(&all))),
        (&pm, format!("{} as project manager, with work and cost", names(&[&program, &contract, &internal, &website, &design, &newsletter, &audit_room]))),
        (&dev, format!("{} as full member: work figures, internal documents, logs own time; no cost", names(&[&program, &contract, &internal]))),
        (&leader, format!("{}; not Security audit (a room with its own rights) and no cost figures", names(&[&website, &design, &newsletter]))),
        (&partner, format!("{} with the Project manager profile, cut by the ceiling for external users: edits, tasks, timesheets and documents, but no budget or cost, no internal documents, no member management", names(&[&website, &design, &newsletter]))),
        (&client, format!("only {}: its task, the hours on it, the invoice and the shared handbook; not the internal document, not the Escalations folder, not its sibling nor the closed Legacy migration, no cost", names(&[&contract]))),
    ];
    for (u, sees) in rows {
        let _ = writeln!(out, "  {:<26} {}", u.email, sees);
    }
    Ok(Some(out))
}
