//! Storage: one small layer over SQLite and PostgreSQL.
//!
//! Every query is one SQL text with `$N` placeholders that runs unchanged on both backends
//! (sqlx's SQLite driver reads `$N` as the N-th argument). Arguments are typed [`Arg`]s so
//! that PostgreSQL sees the parameter type it expects even for NULL. The few places where
//! the dialects differ (a bound list of ids) go through [`Db::id_in`].
//!
//! Not `sqlx::Any`: it lacks date types and decodes booleans badly on SQLite.
//!
//! Reads that decide what a caller sees take an [`crate::authz::Scope`]; functions that
//! deliberately bypass it say so with `_unscoped` in their name.

pub mod audit;
pub mod credentials;
pub mod documents;
pub mod entries;
pub mod invoices;
pub mod list;
pub mod migrate;
pub mod org;
pub mod projects;
pub mod sqlite_read;
pub mod tasks;
pub mod throttle;
pub mod users;

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Column as _, Postgres, Row as _, Sqlite};

/// Which database a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database: a pool, and a count of the statements run through it (for `/metrics` and
/// for the tests that prove a request's statement count does not grow with its rows).
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: Pool,
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// One bound value. Each variant keeps its type even when NULL, so PostgreSQL gets a
/// correctly typed parameter.
#[derive(Clone, Debug)]
pub enum Arg {
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Date(Option<NaiveDate>),
    Ts(Option<DateTime<Utc>>),
    /// A list of ids, used with [`Db::id_in`].
    Ids(Vec<i64>),
}

macro_rules! arg_from {
    ($t:ty, $variant:ident) => {
        impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                Arg::$variant(Some(v.into()))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Self {
                Arg::$variant(v.map(Into::into))
            }
        }
    };
}
arg_from!(i64, I64);
arg_from!(f64, F64);
arg_from!(bool, Bool);
arg_from!(String, Text);
arg_from!(&str, Text);
arg_from!(NaiveDate, Date);
arg_from!(DateTime<Utc>, Ts);

impl From<Vec<i64>> for Arg {
    fn from(v: Vec<i64>) -> Self {
        Arg::Ids(v)
    }
}

/// A query: SQL text plus its arguments, in placeholder order.
#[derive(Clone, Debug)]
pub struct Query {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
}

/// Starts a query.
pub fn q(sql: impl Into<Cow<'static, str>>) -> Query {
    Query {
        sql: sql.into(),
        args: Vec::new(),
    }
}

impl Query {
    /// The statement's plan (SQLite's `EXPLAIN QUERY PLAN`, whose rows carry `detail`).
    pub fn explain(&self) -> Query {
        Query {
            sql: format!("EXPLAIN QUERY PLAN {}", self.sql).into(),
            args: self.args.clone(),
        }
    }

    /// Binds the next `$N` argument.
    pub fn bind(mut self, arg: impl Into<Arg>) -> Self {
        self.args.push(arg.into());
        self
    }

    fn sqlite(&self) -> sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for arg in &self.args {
            query = match arg {
                Arg::I64(v) => query.bind(*v),
                Arg::F64(v) => query.bind(*v),
                Arg::Bool(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_deref()),
                Arg::Date(v) => query.bind(*v),
                Arg::Ts(v) => query.bind(*v),
                // SQLite has no arrays: the list travels as JSON and `json_each` unpacks it.
                Arg::Ids(ids) => query.bind(ids_json(ids)),
            };
        }
        query
    }

    fn postgres(&self) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
        let mut query = sqlx::query(&self.sql);
        for arg in &self.args {
            query = match arg {
                Arg::I64(v) => query.bind(*v),
                Arg::F64(v) => query.bind(*v),
                Arg::Bool(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_deref()),
                Arg::Date(v) => query.bind(*v),
                Arg::Ts(v) => query.bind(*v),
                Arg::Ids(ids) => query.bind(ids.as_slice()),
            };
        }
        query
    }
}

fn ids_json(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 6 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s.push(']');
    s
}

/// A result row from either backend (on SQLite, read by sqlx or by [`sqlite_read`]).
pub enum Row {
    Sqlite(SqliteRow),
    SqliteRead(sqlite_read::RawRow),
    Postgres(PgRow),
}

/// A Rust type that both backends can decode a column into.
pub trait Col:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + sqlite_read::FromValue
{
}
impl<T> Col for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + sqlite_read::FromValue
{
}

impl Row {
    /// Reads a column by name.
    pub fn get<T: Col>(&self, col: &str) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(col),
            Row::SqliteRead(r) => {
                let v = r
                    .value(col)
                    .ok_or_else(|| sqlx::Error::ColumnNotFound(col.into()))?;
                T::from_value(v).ok_or_else(|| sqlx::Error::ColumnDecode {
                    index: col.into(),
                    source: format!("cannot decode {v:?} as {}", std::any::type_name::<T>()).into(),
                })
            }
            Row::Postgres(r) => r.try_get(col),
        }
    }

    /// Reads a column by name, or None when the statement did not select it.
    pub fn get_if_selected<T: Col>(&self, col: &str) -> Result<Option<T>, sqlx::Error> {
        let selected = match self {
            Row::Sqlite(r) => r.columns().iter().any(|c| c.name() == col),
            Row::SqliteRead(r) => r.value(col).is_some(),
            Row::Postgres(r) => r.columns().iter().any(|c| c.name() == col),
        };
        if selected {
            self.get(col).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// An executor of either backend: a pool or one connection (inside a transaction).
pub enum Ex<'a> {
    SqlitePool(&'a SqlitePool),
    SqliteConn(&'a mut sqlx::SqliteConnection),
    PgPool(&'a PgPool),
    PgConn(&'a mut sqlx::PgConnection),
}

/// Runs `$sqlite` or `$pg` with `$q` bound to the query and `$e` to the executor.
macro_rules! on_each {
    ($ex:expr, $query:expr, |$q:ident, $e:ident| $sqlite:expr, $pg:expr) => {
        match $ex {
            Ex::SqlitePool($e) => {
                let $q = $query.sqlite();
                $sqlite
            }
            Ex::SqliteConn($e) => {
                let $q = $query.sqlite();
                $sqlite
            }
            Ex::PgPool($e) => {
                let $q = $query.postgres();
                $pg
            }
            Ex::PgConn($e) => {
                let $q = $query.postgres();
                $pg
            }
        }
    };
}

impl Ex<'_> {
    /// All rows.
    pub async fn fetch_all(self, query: Query) -> Result<Vec<Row>, sqlx::Error> {
        if let Ex::SqlitePool(p) = self {
            if let Some(rows) = sqlite_read::fetch(p, &query, None).await? {
                return Ok(rows.into_iter().map(Row::SqliteRead).collect());
            }
        }
        on_each!(
            self,
            query,
            |q, e| Ok(q.fetch_all(e).await?.into_iter().map(Row::Sqlite).collect()),
            Ok(q.fetch_all(e)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect())
        )
    }

    /// At most one row.
    pub async fn fetch_optional(self, query: Query) -> Result<Option<Row>, sqlx::Error> {
        if let Ex::SqlitePool(p) = self {
            if let Some(rows) = sqlite_read::fetch(p, &query, Some(1)).await? {
                return Ok(rows.into_iter().next().map(Row::SqliteRead));
            }
        }
        on_each!(
            self,
            query,
            |q, e| Ok(q.fetch_optional(e).await?.map(Row::Sqlite)),
            Ok(q.fetch_optional(e).await?.map(Row::Postgres))
        )
    }

    /// Runs a statement; answers the number of rows it touched.
    pub async fn execute(self, query: Query) -> Result<u64, sqlx::Error> {
        on_each!(
            self,
            query,
            |q, e| Ok(q.execute(e).await?.rows_affected()),
            Ok(q.execute(e).await?.rows_affected())
        )
    }
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
///
/// It holds its connection itself (BEGIN and COMMIT are its own statements) so that a
/// connection whose transaction ended in an unknown state never goes back to the pool: a
/// COMMIT or ROLLBACK that fails (a full disk, a broken socket) closes the connection.
/// sqlx's own transaction returned such a connection still inside its transaction, and on
/// SQLite every later write on it failed until the server restarted.
pub struct Tx {
    pub inner: Option<TxInner>,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

pub enum TxInner {
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
    Postgres(sqlx::pool::PoolConnection<Postgres>),
}

impl TxInner {
    /// One statement of transaction control.
    async fn run(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        let ex = match self {
            TxInner::Sqlite(c) => Ex::SqliteConn(c),
            TxInner::Postgres(c) => Ex::PgConn(c),
        };
        ex.execute(q(sql)).await.map(|_| ())
    }

    /// A script of several statements (migrations).
    async fn script(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            TxInner::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ()),
            TxInner::Postgres(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ()),
        }
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK): the connection goes back to
    /// the pool when that worked, and is closed when it did not.
    async fn end(mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self.run(sql).await {
            Ok(()) => Ok(()),
            Err(e) => {
                match self {
                    TxInner::Sqlite(c) => {
                        let _ = c.close().await;
                    }
                    TxInner::Postgres(c) => {
                        let _ = c.close().await;
                    }
                }
                Err(e)
            }
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        // Not committed: roll back off the request's path, then give the connection back
        // (or close it, when even that fails). Without a runtime, the connection is
        // dropped, which closes it.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = inner.end("ROLLBACK").await;
            });
        }
    }
}

impl Tx {
    fn ex(&mut self) -> Ex<'_> {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // `inner` is only taken by `commit` (which consumes the Tx) and by `drop`.
        match self.inner.as_mut().expect("an open transaction") {
            TxInner::Sqlite(c) => Ex::SqliteConn(c),
            TxInner::Postgres(c) => Ex::PgConn(c),
        }
    }

    /// Runs a script of several statements (migrations).
    pub async fn raw(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        self.inner
            .as_mut()
            .expect("an open transaction")
            .script(sql)
            .await
    }
    /// Serialises this transaction with every other one taking the same `key`, across
    /// server processes, until it ends (PostgreSQL's transaction-level advisory lock;
    /// SQLite's write transactions are serial already).
    pub async fn lock(&mut self, key: i64) -> Result<(), sqlx::Error> {
        if self.backend() == Backend::Postgres {
            self.execute(q("SELECT pg_advisory_xact_lock($1)").bind(key))
                .await?;
        }
        Ok(())
    }

    pub async fn fetch_all(&mut self, query: Query) -> Result<Vec<Row>, sqlx::Error> {
        self.ex().fetch_all(query).await
    }
    pub async fn fetch_optional(&mut self, query: Query) -> Result<Option<Row>, sqlx::Error> {
        self.ex().fetch_optional(query).await
    }
    pub async fn fetch_one(&mut self, query: Query) -> Result<Row, sqlx::Error> {
        self.ex()
            .fetch_optional(query)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
    pub async fn execute(&mut self, query: Query) -> Result<u64, sqlx::Error> {
        self.ex().execute(query).await
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match self.inner.take() {
            Some(inner) => inner.end("COMMIT").await,
            None => Ok(()),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Some(TxInner::Sqlite(_)) | None => Backend::Sqlite,
            Some(TxInner::Postgres(_)) => Backend::Postgres,
        }
    }
}

/// The advisory lock key of invoice generation.
pub const INVOICE_LOCK: i64 = 0x0000_696e_766f_6963;

/// How long a request waits for a free connection before it is answered
/// SERVICE_UNAVAILABLE (an outage, or a pool saturated past what waiting can fix).
pub const POOL_WAIT: Duration = Duration::from_secs(2);

/// The advisory lock key of what servers do at start (seeded profiles, the demo world).
pub const START_LOCK: i64 = 0x0000_7073_7461_7274;

/// PostgreSQL's `statement_timeout` for every connection (above the default request
/// timeout of 30 s, so a request's own deadline speaks first).
const STATEMENT_TIMEOUT: &str = "60s";

impl Db {
    /// Opens a pool for a `sqlite:` or `postgres:` URL. A SQLite file is created when
    /// missing and runs in WAL mode with foreign keys enforced.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No statement runs longer than a request may: one a cancelled request left
            // behind stops on its own instead of holding its connection and locks.
            let options = sqlx::postgres::PgConnectOptions::from_str(url)?
                .options([("statement_timeout", STATEMENT_TIMEOUT)]);
            // One direct connection first: its error names the cause (refused, unknown
            // host, authentication), where the pool's would only say it timed out.
            {
                use sqlx::Connection as _;
                sqlx::PgConnection::connect_with(&options)
                    .await?
                    .close()
                    .await?;
            }
            let pool = PgPoolOptions::new()
                .max_connections(pg_connections())
                .acquire_timeout(POOL_WAIT)
                .connect_with(options)
                .await?;
            Ok(Db::new(Pool::Postgres(pool)))
        } else if url.starts_with("sqlite:") {
            sqlite_without_memory_statistics();
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // 16 MiB of page cache per connection (SQLite's default is 2 MiB): hot
                // pages stay in memory instead of costing a read() system call each. (A
                // memory map would be faster still, but every connection would count the
                // mapped file again in the process's resident memory.)
                .pragma("cache_size", "-16384")
                // A statement's rows cross from the connection's thread to the caller through
                // a channel; with room for a whole page (sqlx's default is 50 rows) the
                // thread hands them over in one go instead of waking the caller and waiting
                // on every 50th row, which cost thousands of context switches per second.
                .row_buffer_size(1024);
            // Few connections: SQLite runs each statement on its connection's own thread, and
            // on a small machine more threads only add context switches.
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(POOL_WAIT)
                .connect_with(options)
                .await?;
            Ok(Db::new(Pool::Sqlite(pool)))
        } else {
            anyhow::bail!("unsupported database URL: expected sqlite:// or postgres://")
        }
    }

    fn new(pool: Pool) -> Db {
        Db {
            pool,
            statements: Default::default(),
        }
    }

    /// Writes a consistent copy of a SQLite database, live writers and all, to a new file
    /// (`VACUUM INTO` reads one snapshot, write-ahead log included). PostgreSQL has its
    /// own tool for this, pg_dump.
    pub async fn backup_to(&self, to: &std::path::Path) -> anyhow::Result<()> {
        if self.backend() != Backend::Sqlite {
            anyhow::bail!(
                "portico backup copies SQLite databases; for PostgreSQL use pg_dump (see the README)"
            );
        }
        if to.exists() {
            anyhow::bail!("{} exists already; name a new file", to.display());
        }
        let path = to
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
        self.execute(q("VACUUM INTO $1").bind(path.to_string()))
            .await?;
        Ok(())
    }

    /// A handle on the same pool that counts its statements apart (the tests' second
    /// server, which must not disturb the first one's counts).
    pub fn counted_apart(&self) -> Db {
        Db::new(self.pool.clone())
    }

    /// Statements run so far through this pool (transactions included).
    pub fn statements(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn counted(&self) {
        self.statements
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    fn ex(&self) -> Ex<'_> {
        self.counted();
        match &self.pool {
            Pool::Sqlite(p) => Ex::SqlitePool(p),
            Pool::Postgres(p) => Ex::PgPool(p),
        }
    }
    pub async fn fetch_all(&self, query: Query) -> Result<Vec<Row>, sqlx::Error> {
        self.ex().fetch_all(query).await
    }
    pub async fn fetch_optional(&self, query: Query) -> Result<Option<Row>, sqlx::Error> {
        self.ex().fetch_optional(query).await
    }
    pub async fn fetch_one(&self, query: Query) -> Result<Row, sqlx::Error> {
        self.ex()
            .fetch_optional(query)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
    pub async fn execute(&self, query: Query) -> Result<u64, sqlx::Error> {
        self.ex().execute(query).await
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so that two writers
    /// queue on the database lock instead of failing when a read turns into a write.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let counter = self.statements.clone();
        let (mut inner, begin) = match &self.pool {
            // IMMEDIATE: take the write lock now, so the transaction never fails later on
            // upgrading a read lock.
            Pool::Sqlite(p) => (TxInner::Sqlite(p.acquire().await?), "BEGIN IMMEDIATE"),
            Pool::Postgres(p) => (TxInner::Postgres(p.acquire().await?), "BEGIN"),
        };
        if let Err(e) = inner.run(begin).await {
            // A connection that cannot begin may be in any state: it does not go back.
            match inner {
                TxInner::Sqlite(c) => drop(c.detach()),
                TxInner::Postgres(c) => drop(c.detach()),
            }
            return Err(e);
        }
        Ok(Tx {
            inner: Some(inner),
            counter,
        })
    }

    /// `col IN (the ids bound at $n)`, in the dialect of this backend.
    pub fn id_in(&self, col: &str, n: usize) -> String {
        id_in(self.backend(), col, n)
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> bool {
        self.fetch_one(q("SELECT 1 AS one")).await.is_ok()
    }
}

/// `col IN (the ids bound at $n)` for a backend.
pub fn id_in(backend: Backend, col: &str, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("{col} IN (SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("{col} = ANY(${n})"),
    }
}

/// Is this a violation of a UNIQUE constraint?
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Is this a violation of a foreign key?
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_foreign_key_violation())
}

/// Turns off SQLite's memory statistics, once per process and before SQLite starts. With
/// them on, every allocation SQLite makes (one per column of every row sqlx reads) takes a
/// process-wide mutex to count it; nothing here reads the statistics.
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config may only run before SQLite initialises, while no other
        // thread uses SQLite. Every use of SQLite here starts with a connection made in
        // `Db::connect`, which waits for this call first; if SQLite had been initialised
        // anyway, the call changes nothing and answers SQLITE_MISUSE.
        let rc =
            unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0) };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(rc, "SQLite memory statistics stay on");
        }
    });
}

/// How many PostgreSQL connections a server process keeps: `PORTICO_PG_CONNECTIONS`, else
/// twice the cores. Each connection is a PostgreSQL process; more of them than the cores
/// can keep busy only take turns on them: with 16 on this 2-core machine, Q1 served 213
/// requests a second at a p99 of 244 ms, with 4, 259 at 170 ms.
fn pg_connections() -> u32 {
    std::env::var("PORTICO_PG_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            u32::try_from(cores * 2).unwrap_or(u32::MAX)
        })
}
