//! Documents and folder rules.
//!
//! A document is visible when its project is; an INTERNAL one needs VIEW_INTERNAL_DOCUMENTS
//! too (MANAGE_DOCUMENTS does not imply it); one in a folder that has rules needs, in
//! addition, a rule naming the caller or one of their groups, or MANAGE_DOCUMENTS. Rules
//! apply to the folder they name and every folder below it (`Legal` covers `Legal/2026`),
//! and the rules of every enclosing folder must all admit the reader.

use chrono::{DateTime, Utc};

use super::list::{fetch_page, Page, PageArgs, Rel, Where};
use super::Backend;
use super::{q, Db, Row, Tx};
use crate::authz::{Right, Scope};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct DocumentRow {
    pub id: i64,
    pub project_id: i64,
    pub folder: String,
    pub title: String,
    pub visibility: String,
    pub content: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str =
    "document_id, project_id, folder, title, visibility, content, created_by, created_at, updated_at";

fn from_row(r: &Row) -> Result<DocumentRow> {
    Ok(DocumentRow {
        id: r.get("document_id")?,
        project_id: r.get("project_id")?,
        folder: r.get("folder")?,
        title: r.get("title")?,
        visibility: r.get("visibility")?,
        content: r.get("content")?,
        created_by: r.get("created_by")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// The condition "the caller may see this document" over `document d`.
pub fn visible_documents(w: &mut Where, scope: &Scope) {
    w.ids("d.project_id", scope.visible_ids().to_vec());
    let internal = w.ids_fragment("d.project_id", scope.ids_with(Right::ViewInternalDocuments));
    w.and(format!("(d.visibility = 'SHARED' OR {internal})"));
    let manage = w.ids_fragment("d.project_id", scope.ids_with(Right::ManageDocuments));
    let me = w.arg(scope.user_id);
    // No folder enclosing the document's (itself, its parents, the root) has rules that
    // fail to name the caller or one of their groups. `substr` rather than LIKE, so that
    // `%` and `_` in folder names are plain characters.
    w.and(format!(
        "({manage}
          OR NOT EXISTS (
            SELECT 1 FROM folder_rule r
            WHERE r.project_id = d.project_id
              AND (r.folder = '' OR r.folder = d.folder
                   OR substr(d.folder, 1, length(r.folder) + 1) = r.folder || '/')
              AND NOT EXISTS (
                SELECT 1 FROM folder_rule r2
                WHERE r2.project_id = r.project_id AND r2.folder = r.folder
                  AND (r2.user_id = {me} OR r2.group_id IN (SELECT group_id FROM group_member WHERE user_id = {me})))))"
    ));
}

#[derive(Default, Clone, Debug)]
pub struct DocumentFilter {
    pub project_id: Option<i64>,
    pub folder: Option<String>,
    pub visibility: Option<String>,
}

pub async fn list_documents(
    db: &Db,
    scope: &Scope,
    f: &DocumentFilter,
    page: PageArgs,
) -> Result<Page<DocumentRow>> {
    let mut w = Where::new(db.backend());
    visible_documents(&mut w, scope);
    if let Some(p) = f.project_id {
        let a = w.arg(p);
        w.and(format!("d.project_id = {a}"));
    }
    if let Some(folder) = &f.folder {
        let a = w.arg(folder.clone());
        w.and(format!("d.folder = {a}"));
    }
    if let Some(v) = &f.visibility {
        let a = w.arg(v.clone());
        w.and(format!("d.visibility = {a}"));
    }
    fetch_page(db, COLS, "document d", "d.document_id", w, page, from_row).await
}

pub async fn find_document(db: &Db, scope: &Scope, id: i64) -> Result<Option<DocumentRow>> {
    let mut w = Where::new(db.backend());
    visible_documents(&mut w, scope);
    let a = w.arg(id);
    w.and(format!("d.document_id = {a}"));
    let row = db
        .fetch_optional(w.query(format!("SELECT {COLS} FROM document d WHERE {}", w.sql())))
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

#[derive(Default, Clone, Debug)]
pub struct DocumentFields {
    pub folder: Option<String>,
    pub title: Option<String>,
    pub visibility: Option<String>,
    pub content: Option<String>,
}

pub async fn create_document(
    tx: &mut Tx,
    project_id: i64,
    by: i64,
    f: DocumentFields,
) -> Result<DocumentRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO document (project_id, folder, title, visibility, content, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLS}"
            ))
            .bind(project_id)
            .bind(f.folder.unwrap_or_default())
            .bind(f.title.unwrap_or_default())
            .bind(f.visibility.unwrap_or_else(|| "INTERNAL".into()))
            .bind(f.content.unwrap_or_default())
            .bind(by)
            .bind(Utc::now()),
        )
        .await?;
    from_row(&row)
}

pub async fn update_document(tx: &mut Tx, id: i64, f: DocumentFields) -> Result<DocumentRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "UPDATE document SET folder = COALESCE($2, folder), title = COALESCE($3, title), visibility = COALESCE($4, visibility),
                    content = COALESCE($5, content), updated_at = $6
                 WHERE document_id = $1 RETURNING {COLS}"
            ))
            .bind(id)
            .bind(f.folder)
            .bind(f.title)
            .bind(f.visibility)
            .bind(f.content)
            .bind(Utc::now()),
        )
        .await?;
    from_row(&row)
}

pub async fn delete_document(tx: &mut Tx, id: i64) -> Result<()> {
    tx.execute(q("DELETE FROM document WHERE document_id = $1").bind(id))
        .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct FolderRuleRow {
    pub id: i64,
    pub project_id: i64,
    pub folder: String,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
}

const RULE_COLS: &str = "folder_rule_id, project_id, folder, user_id, group_id";

fn rule_from_row(r: &Row) -> Result<FolderRuleRow> {
    Ok(FolderRuleRow {
        id: r.get("folder_rule_id")?,
        project_id: r.get("project_id")?,
        folder: r.get("folder")?,
        user_id: r.get("user_id")?,
        group_id: r.get("group_id")?,
    })
}

pub async fn create_folder_rule(
    tx: &mut Tx,
    project_id: i64,
    folder: &str,
    user_id: Option<i64>,
    group_id: Option<i64>,
) -> Result<FolderRuleRow> {
    let row = tx
        .fetch_one(
            q(format!(
                "INSERT INTO folder_rule (project_id, folder, user_id, group_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {RULE_COLS}"
            ))
            .bind(project_id)
            .bind(folder)
            .bind(user_id)
            .bind(group_id)
            .bind(Utc::now()),
        )
        .await?;
    rule_from_row(&row)
}

pub async fn delete_folder_rule(tx: &mut Tx, id: i64) -> Result<()> {
    tx.execute(q("DELETE FROM folder_rule WHERE folder_rule_id = $1").bind(id))
        .await?;
    Ok(())
}

/// The rules of a project's folders (shown to MANAGE_DOCUMENTS holders).
pub async fn list_folder_rules(db: &Db, project_id: i64) -> Result<Vec<FolderRuleRow>> {
    let rows = db
        .fetch_all(
            q(format!(
                "SELECT {RULE_COLS} FROM folder_rule WHERE project_id = $1 ORDER BY folder_rule_id"
            ))
            .bind(project_id),
        )
        .await?;
    rows.iter().map(rule_from_row).collect()
}

/// A project's documents.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DocumentsOfProject;

impl Rel for DocumentsOfProject {
    type Row = DocumentRow;
    const COLS: &'static str = COLS;
    const FROM: &'static str = "document d";
    const KEY: &'static str = "d.document_id";
    const TABLE: &'static str = "document";
    const ID: &'static str = "document_id";
    const PARENT: &'static str = "d.project_id";
    fn filter(backend: Backend, scope: &Scope) -> Where {
        let mut w = Where::new(backend);
        visible_documents(&mut w, scope);
        w
    }
    fn map(r: &Row) -> Result<DocumentRow> {
        from_row(r)
    }
}

/// A folder rule, for MANAGE_DOCUMENTS holders of its project only.
pub async fn find_folder_rule(db: &Db, scope: &Scope, id: i64) -> Result<Option<FolderRuleRow>> {
    let mut w = Where::new(db.backend());
    w.ids("project_id", scope.ids_with(Right::ManageDocuments));
    let a = w.arg(id);
    w.and(format!("folder_rule_id = {a}"));
    let row = db
        .fetch_optional(w.query(format!(
            "SELECT {RULE_COLS} FROM folder_rule WHERE {}",
            w.sql()
        )))
        .await?;
    row.map(|r| rule_from_row(&r)).transpose()
}
