//! Filtered, keyset-paginated lists: the filter (always including the caller's scope) goes
//! into SQL, so pages are full and counts count only visible rows.

use super::{id_in, q, Arg, Backend, Db, Query, Row};
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

/// `first` and `after`, already validated.
#[derive(Clone, Copy, Debug)]
pub struct PageArgs {
    pub first: i64,
    pub after: Option<i64>,
}

/// One page of rows plus what it takes to count all of them.
pub struct Page<T> {
    pub items: Vec<(i64, T)>,
    pub has_next: bool,
    pub count: Query,
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
    let select = filter.query(format!(
        "SELECT {key} AS page_key, {cols} FROM {from} WHERE {} ORDER BY {key} LIMIT {limit}",
        filter.sql()
    ));
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
