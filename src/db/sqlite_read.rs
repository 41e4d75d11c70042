//! Reads on SQLite without sqlx's per-row path.
//!
//! sqlx runs each SQLite statement on the connection's own thread, copies every column of
//! every row (`sqlite3_value_dup`), sends the rows one by one through a channel, and the
//! caller decodes them by name and frees the copies. For the pages of a deep query (a
//! thousand rows of sixteen columns) that was 40% of the server's CPU. Here a read-only
//! statement runs on the connection sqlx lends ([`sqlx::sqlite::LockedSqliteHandle`]), and
//! each row is read straight into owned values.
//!
//! Only statements SQLite reports read-only take this path (a write could wait for the
//! database lock, and writes keep sqlx's handling); the caller runs the others through sqlx.
//! Reads in WAL mode do not wait for writers, so running them on the caller's thread does not
//! block it for longer than the statement's own work.
//!
//! Values are bound and decoded as sqlx does on SQLite, so both paths read and write the same
//! representations: dates as `YYYY-MM-DD`, timestamps as RFC 3339, booleans as 0/1, id lists
//! as JSON.

use std::ffi::{c_char, c_int, CStr};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use libsqlite3_sys as ffi;
use sqlx::sqlite::SqlitePool;

use super::{ids_json, Arg, Query};

/// One column's value, owned.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(Box<str>),
    Blob(Box<[u8]>),
}

/// A row read by this path: its statement's column names (shared) and its values.
pub struct RawRow {
    names: Arc<[Box<str>]>,
    values: Vec<Value>,
}

impl RawRow {
    pub fn value(&self, col: &str) -> Option<&Value> {
        let i = self.names.iter().position(|n| &**n == col)?;
        self.values.get(i)
    }
}

/// A Rust type a SQLite value decodes into, as sqlx decodes it.
pub trait FromValue: Sized {
    /// None when the value has another type (or is NULL where none is allowed).
    fn from_value(v: &Value) -> Option<Self>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for i32 {
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.to_string()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.to_vec()),
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

impl FromValue for NaiveDate {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => NaiveDate::parse_from_str(s, "%F").ok(),
            _ => None,
        }
    }
}

impl FromValue for DateTime<Utc> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            // What sqlx writes (RFC 3339), then SQLite's own `CURRENT_TIMESTAMP` forms.
            Value::Text(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    ["%F %T%.f", "%FT%T%.f"].iter().find_map(|f| {
                        NaiveDateTime::parse_from_str(s, f)
                            .ok()
                            .map(|t| Utc.from_utc_datetime(&t))
                    })
                }),
            Value::Int(secs) => DateTime::from_timestamp(*secs, 0),
            _ => None,
        }
    }
}

/// Runs `query` if SQLite reports it read-only, answering its rows (at most `limit`); None
/// when the statement writes (the caller then runs it through sqlx).
pub async fn fetch(
    pool: &SqlitePool,
    query: &Query,
    limit: Option<usize>,
) -> Result<Option<Vec<RawRow>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let started = Instant::now();
    // SAFETY: `db` is the open connection sqlx lent us: the lock keeps its worker thread off
    // it until `handle` drops, after this call (which neither stores `db` nor yields).
    let rows = unsafe { run(db, query, limit) }?;
    if let Some(rows) = &rows {
        tracing::debug!(
            target: "portico::sql",
            sql = %query.sql.trim(),
            rows = rows.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "read"
        );
    }
    Ok(rows)
}

/// A prepared statement, finalized when dropped.
struct Stmt(*mut ffi::sqlite3_stmt);

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on a connection that outlives this value, and
        // is finalized exactly once, here.
        unsafe {
            ffi::sqlite3_finalize(self.0);
        }
    }
}

/// SQLite's message for the connection's last error.
///
/// # Safety
/// `db` must be an open connection used by this thread only.
unsafe fn error(db: *mut ffi::sqlite3, rc: c_int, what: &str) -> sqlx::Error {
    // SAFETY: per the function's contract; SQLite's message is a NUL-terminated string valid
    // until the next call on `db`, copied at once.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }.to_string_lossy();
    sqlx::Error::Protocol(format!("SQLite {what} failed ({rc}): {msg}"))
}

/// # Safety
/// `db` must be an open connection that no other thread uses during the call.
unsafe fn run(
    db: *mut ffi::sqlite3,
    query: &Query,
    limit: Option<usize>,
) -> Result<Option<Vec<RawRow>>, sqlx::Error> {
    let sql = query.sql.as_bytes();
    let len =
        c_int::try_from(sql.len()).map_err(|_| sqlx::Error::Protocol("SQL too long".into()))?;
    let mut raw: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    let mut tail: *const c_char = std::ptr::null();
    // SAFETY: `sql` is valid for `len` bytes (SQLite does not need a terminating NUL when
    // given the length); `raw` receives the statement or stays null, `tail` the end of the
    // first statement within `sql`.
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast::<c_char>(), len, &mut raw, &mut tail)
    };
    if rc != ffi::SQLITE_OK {
        // SAFETY: `db` per the contract.
        return Err(unsafe { error(db, rc, "prepare") });
    }
    if raw.is_null() {
        // Only whitespace or a comment: nothing to run.
        return Ok(Some(Vec::new()));
    }
    let stmt = Stmt(raw);
    // More than one statement: sqlx runs them all.
    let used = tail.addr().saturating_sub(sql.as_ptr().addr());
    if sql
        .get(used..)
        .is_some_and(|rest| !rest.trim_ascii().is_empty())
    {
        return Ok(None);
    }
    // SAFETY: `stmt.0` is a live statement of `db` (so for every call below).
    if unsafe { ffi::sqlite3_stmt_readonly(stmt.0) } == 0 {
        return Ok(None);
    }
    // SAFETY: as above.
    unsafe { bind(db, &stmt, &query.args) }?;
    // SAFETY: as above.
    let columns = unsafe { ffi::sqlite3_column_count(stmt.0) };
    let names: Arc<[Box<str>]> = (0..columns)
        .map(|i| {
            // SAFETY: `i` is a column of the statement; the name is copied at once.
            let name = unsafe { ffi::sqlite3_column_name(stmt.0, i) };
            if name.is_null() {
                Box::from("")
            } else {
                // SAFETY: a non-null column name is a NUL-terminated string.
                Box::from(unsafe { CStr::from_ptr(name) }.to_string_lossy().as_ref())
            }
        })
        .collect();
    let mut rows = Vec::new();
    while limit.is_none_or(|l| rows.len() < l) {
        // SAFETY: as above.
        match unsafe { ffi::sqlite3_step(stmt.0) } {
            ffi::SQLITE_ROW => {
                let values = (0..columns)
                    // SAFETY: the statement is on a row and `i` is one of its columns.
                    .map(|i| unsafe { column(&stmt, i) })
                    .collect();
                rows.push(RawRow {
                    names: names.clone(),
                    values,
                });
            }
            ffi::SQLITE_DONE => break,
            // SAFETY: `db` per the contract.
            rc => return Err(unsafe { error(db, rc, "step") }),
        }
    }
    Ok(Some(rows))
}

/// Binds `args` to the statement's `$N` parameters (each by its number, as sqlx does: SQLite
/// numbers named parameters in order of first appearance).
///
/// # Safety
/// `stmt` must be a live statement of `db`, used by this thread only.
unsafe fn bind(db: *mut ffi::sqlite3, stmt: &Stmt, args: &[Arg]) -> Result<(), sqlx::Error> {
    // SAFETY: per the contract.
    let count = unsafe { ffi::sqlite3_bind_parameter_count(stmt.0) };
    for index in 1..=count {
        // SAFETY: per the contract; `index` is a parameter of the statement.
        let name = unsafe { ffi::sqlite3_bind_parameter_name(stmt.0, index) };
        let n: Option<usize> = (!name.is_null())
            // SAFETY: a non-null parameter name is a NUL-terminated string.
            .then(|| unsafe { CStr::from_ptr(name) }.to_str().ok())
            .flatten()
            .and_then(|n| n.strip_prefix('$'))
            .and_then(|n| n.parse().ok());
        let arg = n.and_then(|n| n.checked_sub(1)).and_then(|i| args.get(i));
        let Some(arg) = arg else {
            return Err(sqlx::Error::Protocol(format!(
                "SQL parameter {index} has no argument"
            )));
        };
        let text = |s: &str| -> c_int {
            let Ok(len) = c_int::try_from(s.len()) else {
                return ffi::SQLITE_TOOBIG;
            };
            // SAFETY: per the contract; SQLITE_TRANSIENT makes SQLite copy the text now.
            unsafe {
                ffi::sqlite3_bind_text(
                    stmt.0,
                    index,
                    s.as_ptr().cast::<c_char>(),
                    len,
                    ffi::SQLITE_TRANSIENT(),
                )
            }
        };
        // SAFETY (every bind call): per the contract.
        let rc = match arg {
            Arg::I64(Some(v)) => unsafe { ffi::sqlite3_bind_int64(stmt.0, index, *v) },
            Arg::F64(Some(v)) => unsafe { ffi::sqlite3_bind_double(stmt.0, index, *v) },
            Arg::Bool(Some(v)) => unsafe { ffi::sqlite3_bind_int64(stmt.0, index, i64::from(*v)) },
            Arg::Text(Some(v)) => text(v),
            Arg::Date(Some(v)) => text(&v.format("%F").to_string()),
            Arg::Ts(Some(v)) => text(&v.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
            Arg::Ids(ids) => text(&ids_json(ids)),
            Arg::I64(None)
            | Arg::F64(None)
            | Arg::Bool(None)
            | Arg::Text(None)
            | Arg::Date(None)
            | Arg::Ts(None) => unsafe { ffi::sqlite3_bind_null(stmt.0, index) },
        };
        if rc != ffi::SQLITE_OK {
            // SAFETY: per the contract.
            return Err(unsafe { error(db, rc, "bind") });
        }
    }
    Ok(())
}

/// The value of column `i` of the current row.
///
/// # Safety
/// `stmt` must be a live statement on a row, `i` one of its columns.
unsafe fn column(stmt: &Stmt, i: c_int) -> Value {
    // SAFETY (all calls): per the contract. Text and blob pointers stay valid until the next
    // step and are copied at once; their length is read after the pointer, as SQLite asks.
    unsafe {
        match ffi::sqlite3_column_type(stmt.0, i) {
            ffi::SQLITE_INTEGER => Value::Int(ffi::sqlite3_column_int64(stmt.0, i)),
            ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(stmt.0, i)),
            ffi::SQLITE_TEXT => {
                let p = ffi::sqlite3_column_text(stmt.0, i);
                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt.0, i)).unwrap_or(0);
                if p.is_null() {
                    Value::Text(Box::from(""))
                } else {
                    let bytes = std::slice::from_raw_parts(p, n);
                    Value::Text(String::from_utf8_lossy(bytes).into())
                }
            }
            ffi::SQLITE_BLOB => {
                let p = ffi::sqlite3_column_blob(stmt.0, i).cast::<u8>();
                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt.0, i)).unwrap_or(0);
                if p.is_null() {
                    Value::Blob(Box::from([]))
                } else {
                    Value::Blob(std::slice::from_raw_parts(p, n).into())
                }
            }
            _ => Value::Null,
        }
    }
}
