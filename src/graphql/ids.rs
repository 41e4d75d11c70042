//! Opaque Relay global ids (`base64url("Type:id")`) and page cursors.

use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{Error, Result};

/// The global id of a row of a type.
pub fn encode(type_name: &str, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// Splits a global id into its type and row id; `None` for anything malformed.
pub fn decode_any(id: &str) -> Option<(String, i64)> {
    let raw = URL_SAFE_NO_PAD.decode(id.as_bytes()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (t, n) = text.split_once(':')?;
    let n: i64 = n.parse().ok()?;
    (n > 0).then(|| (t.to_string(), n))
}

/// The row id if `id` is a global id of `type_name`.
pub fn decode(type_name: &str, id: &ID) -> Option<i64> {
    decode_any(id)
        .filter(|(t, _)| t == type_name)
        .map(|(_, n)| n)
}

/// The row id of an input field, or BAD_USER_INPUT naming that field.
pub fn id_input(type_name: &str, id: &ID, field: &str) -> Result<i64> {
    decode(type_name, id)
        .ok_or_else(|| Error::bad_input(field, format!("not a valid {type_name} id")))
}

/// An optional input id.
pub fn id_input_opt(type_name: &str, id: Option<&ID>, field: &str) -> Result<Option<i64>> {
    id.map(|i| id_input(type_name, i, field)).transpose()
}

pub fn cursor(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{key}"))
}

pub fn decode_cursor(cursor: &str) -> Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|t| t.strip_prefix("cursor:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Error::bad_input("after", "not a valid cursor"))
}
