//! Counters of failed sign-ins (`login_throttle`), shared by every server process.
//!
//! An attempt is claimed before the password is checked, in one statement that both checks
//! the limit and counts the attempt, so concurrent attempts cannot pass the limit together.

use chrono::{DateTime, Utc};

use super::{q, Db};
use crate::error::Result;

/// Claims one attempt under `key`: the count within the window after this one, or `None`
/// when `max` attempts were already counted in the window. A window older than `cutoff`
/// starts over.
pub async fn claim(
    db: &Db,
    key: &str,
    max: i64,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Result<Option<i64>> {
    let row = db
        .fetch_optional(
            q("INSERT INTO login_throttle (throttle_key, failures, window_start) VALUES ($1, 1, $2)
               ON CONFLICT (throttle_key) DO UPDATE SET
                   failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END,
                   window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END
               WHERE login_throttle.window_start < $3 OR login_throttle.failures < $4
               RETURNING failures")
            .bind(key)
            .bind(now)
            .bind(cutoff)
            .bind(max),
        )
        .await?;
    Ok(match row {
        Some(r) => Some(r.get("failures")?),
        None => None,
    })
}

/// Gives one claimed attempt back (it was not a failure).
pub async fn give_back(db: &Db, key: &str) -> Result<()> {
    db.execute(
        q("UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0")
            .bind(key),
    )
    .await?;
    Ok(())
}

/// Forgets the failures under `key` (a correct password ends them).
pub async fn clear(db: &Db, key: &str) -> Result<()> {
    db.execute(q("DELETE FROM login_throttle WHERE throttle_key = $1").bind(key))
        .await?;
    Ok(())
}
