//! Filtered, keyset-paginated lists: the filter (always including the caller's scope) goes
//! into SQL, so pages are full and counts count only visible rows.

use std::collections::HashMap;

use super::{id_in, q, Arg, Backend, Db, Query, Row};
use crate::authz::Scope;
use crate::error::Result;

/// A `WHERE` clause under construction; it numbers its own placeholders.
#[derive(Clone, Debug)]
pub struct Where {
    backend: Backend,
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    pub fn new(backend: Backend) -> Self {
        Where {
            backend,
            clauses: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Binds a value and answers its placeholder.
    pub fn arg(&mut self, a: impl Into<Arg>) -> String {
        self.args.push(a.into());
        format!("${}", self.args.len())
    }

    /// Adds a condition (joined with AND).
    pub fn and(&mut self, clause: impl Into<String>) -> &mut Self {
        self.clauses.push(clause.into());
        self
    }

    /// `col` is one of `ids`.
    pub fn ids(&mut self, col: &str, ids: Vec<i64>) -> &mut Self {
        self.args.push(Arg::Ids(ids));
        let clause = id_in(self.backend, col, self.args.len());
        self.clauses.push(clause);
        self
    }

    /// `col` is one of `ids`, checked on each row but never used to pick rows: for lookups by
    /// primary key, where SQLite would otherwise walk an index of `col` instead (it cannot
    /// tell which of two bound lists is the shorter).
    pub fn ids_checked(&mut self, col: &str, ids: Vec<i64>) -> &mut Self {
        self.ids(&format!("({col} + 0)"), ids)
    }

    /// `col IN (ids)` as a fragment, for use inside an OR.
    pub fn ids_fragment(&mut self, col: &str, ids: Vec<i64>) -> String {
        self.args.push(Arg::Ids(ids));
        id_in(self.backend, col, self.args.len())
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "TRUE".into()
        } else {
            self.clauses.join(" AND ")
        }
    }

    pub fn query(&self, sql: String) -> Query {
        let mut query = q(sql);
        for a in &self.args {
            query = query.bind(a.clone());
        }
        query
    }
}

/// A case-insensitive `LIKE ... ESCAPE '\'` pattern matching `text` anywhere, with the
/// pattern characters of `text` taken literally. (Lower-casing is ASCII on SQLite.)
pub fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `first` and `after`, already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub first: i64,
    pub after: Option<i64>,
}

/// One page of rows plus what it takes to count all of them (a nested page is counted
/// with its siblings' instead: [`fetch_child_counts`]).
#[derive(Clone)]
pub struct Page<T, C = Query> {
    pub items: Vec<(i64, T)>,
    pub has_next: bool,
    pub count: C,
}

/// Selects one page of `SELECT {cols} FROM {from} WHERE {filter}` ordered by `key`
/// (an integer id column), mapping each row with `map`.
pub async fn fetch_page<T>(
    db: &Db,
    cols: &str,
    from: &str,
    key: &str,
    mut filter: Where,
    page: PageArgs,
    map: impl Fn(&Row) -> Result<T>,
) -> Result<Page<T>> {
    let count = filter.query(format!(
        "SELECT COUNT(*) AS n FROM {from} WHERE {}",
        filter.sql()
    ));
    if let Some(after) = page.after {
        let p = filter.arg(after);
        filter.and(format!("{key} > {p}"));
    }
    let limit = filter.arg(page.first + 1);
    let select = filter.query(match db.backend() {
        // The page's keys first, then its rows: SQLite can often choose the keys from an
        // index alone, and then reads only the rows of the page (rather than every row that
        // matches, to be sorted by key).
        Backend::Sqlite => format!(
            "SELECT {key} AS page_key, {cols} FROM {from}
             WHERE {key} IN (SELECT {key} FROM {from} WHERE {} ORDER BY {key} LIMIT {limit})
             ORDER BY {key}",
            filter.sql()
        ),
        // PostgreSQL visits the matching rows in a bitmap heap scan either way; the extra
        // join only adds to it (Q2's page: 4.3 ms direct, 7.9 ms in two steps).
        Backend::Postgres => format!(
            "SELECT {key} AS page_key, {cols} FROM {from} WHERE {} ORDER BY {key} LIMIT {limit}",
            filter.sql()
        ),
    });
    let rows = db.fetch_all(select).await?;
    let has_next = rows.len() as i64 > page.first;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.iter().take(page.first as usize) {
        let k: i64 = row.get("page_key")?;
        items.push((k, map(row)?));
    }
    Ok(Page {
        items,
        has_next,
        count,
    })
}

/// Runs a count query built by [`fetch_page`].
pub async fn count(db: &Db, query: Query) -> Result<i64> {
    Ok(db.fetch_one(query).await?.get("n")?)
}

/// A list nested under a parent row (a project's tasks, a task's time entries...), loaded
/// for many parents in one statement.
pub trait Rel: Copy + Eq + std::hash::Hash + Send + Sync + 'static {
    type Row: Clone + Send + Sync + 'static;
    const COLS: &'static str;
    const FROM: &'static str;
    const KEY: &'static str;
    /// The table and its id column, unqualified (to fetch the rows of a page by id).
    const TABLE: &'static str;
    const ID: &'static str;
    /// The column naming the parent.
    const PARENT: &'static str;
    /// Which rows the caller may see (the same rule as the top-level list).
    fn filter(backend: Backend, scope: &Scope) -> Where;
    fn map(r: &Row) -> Result<Self::Row>;
    /// Like `map`, for a statement that read only some of the columns.
    fn map_some(r: &Row) -> Result<Self::Row> {
        Self::map(r)
    }
}

/// One page per parent, in one statement: for each parent, its first `first + 1` visible
/// rows after the cursor, found on the (parent, key) index.
///
/// SQLite has no LATERAL join, but runs a correlated `IN (... LIMIT n)` subquery once per
/// parent; PostgreSQL cannot turn that into a join and takes `CROSS JOIN LATERAL` instead.
/// (Numbering every row of every parent with ROW_NUMBER and keeping the first n, as this
/// did before, read all rows of the parents with hundreds of tasks: 2.5x slower.)
pub async fn fetch_children<R: Rel>(
    db: &Db,
    scope: &Scope,
    parents: &[i64],
    page: PageArgs,
) -> Result<HashMap<i64, Page<R::Row, ()>>> {
    fetch_children_with::<R>(db, scope, parents, page, None).await
}

/// [`fetch_children`], reading only the columns `cols` when given (the rows then hold
/// empty values for the others: see [`Rel::map_some`]).
pub async fn fetch_children_with<R: Rel>(
    db: &Db,
    scope: &Scope,
    parents: &[i64],
    page: PageArgs,
    cols: Option<&str>,
) -> Result<HashMap<i64, Page<R::Row, ()>>> {
    let mut out: HashMap<i64, Page<R::Row, ()>> = parents
        .iter()
        .map(|p| {
            let empty = Page {
                items: Vec::new(),
                has_next: false,
                count: (),
            };
            (*p, empty)
        })
        .collect();
    let select = children_query::<R>(db.backend(), scope, parents, page, cols);
    let map = if cols.is_some() { R::map_some } else { R::map };
    for row in db.fetch_all(select).await? {
        let parent_id: i64 = row.get("page_parent")?;
        if let Some(page_of) = out.get_mut(&parent_id) {
            page_of.items.push((row.get("page_key")?, map(&row)?));
        }
    }
    for page_of in out.values_mut() {
        page_of.items.sort_unstable_by_key(|(k, _)| *k);
        if page_of.items.len() as i64 > page.first {
            page_of.has_next = true;
            page_of.items.truncate(page.first as usize);
        }
    }
    Ok(out)
}

/// The statement of [`fetch_children`]: each parent's first `first + 1` visible rows.
pub fn children_query<R: Rel>(
    backend: Backend,
    scope: &Scope,
    parents: &[i64],
    page: PageArgs,
    cols: Option<&str>,
) -> Query {
    let (cols, from, key, parent) = (cols.unwrap_or(R::COLS), R::FROM, R::KEY, R::PARENT);
    let (table, id) = (R::TABLE, R::ID);
    let mut w = R::filter(backend, scope);
    w.and(format!("{parent} = page_parents.value"));
    if let Some(after) = page.after {
        let a = w.arg(after);
        w.and(format!("{key} > {a}"));
    }
    let limit = w.arg(page.first + 1);
    let list = w.arg(Arg::Ids(parents.to_vec()));
    let first_rows = format!(
        "SELECT {key} AS page_key FROM {from} WHERE {} ORDER BY {key} LIMIT {limit}",
        w.sql()
    );
    // The row columns are unqualified: none of the tables has a column named like one of
    // json_each's (key, value, type, atom, id, parent, fullkey, path). On SQLite, CROSS JOIN
    // keeps the parents as the outer loop: left to itself, the planner may scan the whole
    // table and run the subquery for every row.
    w.query(match backend {
        Backend::Sqlite => format!(
            "SELECT page_parents.value AS page_parent, {table}.{id} AS page_key, {cols}
             FROM json_each({list}) AS page_parents
             CROSS JOIN {table} ON {table}.{id} IN ({first_rows})"
        ),
        // PostgreSQL reads the rows in the lateral subquery itself: joining the table again
        // by id, as SQLite needs, cost a second index lookup per row (Q1's task page took
        // 9-14 ms instead of 5-6).
        Backend::Postgres => format!(
            "SELECT page_parents.value AS page_parent, page_rows.*
             FROM unnest({list}::BIGINT[]) AS page_parents(value)
             CROSS JOIN LATERAL (SELECT {key} AS page_key, {cols} FROM {from} WHERE {}
                                 ORDER BY {key} LIMIT {limit}) AS page_rows",
            w.sql()
        ),
    })
}

/// How many visible rows each parent's nested list holds, in one statement.
pub async fn fetch_child_counts<R: Rel>(
    db: &Db,
    scope: &Scope,
    parents: &[i64],
) -> Result<HashMap<i64, i64>> {
    let (from, parent) = (R::FROM, R::PARENT);
    let mut w = R::filter(db.backend(), scope);
    w.ids(parent, parents.to_vec());
    let mut out: HashMap<i64, i64> = parents.iter().map(|p| (*p, 0)).collect();
    for row in db
        .fetch_all(w.query(format!(
            "SELECT {parent} AS page_parent, COUNT(*) AS n FROM {from} WHERE {} GROUP BY {parent}",
            w.sql()
        )))
        .await?
    {
        out.insert(row.get("page_parent")?, row.get("n")?);
    }
    Ok(out)
}
