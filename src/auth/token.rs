//! Opaque secrets (session tokens, API keys) and their stored hashes.
//!
//! A secret is 32 random bytes, base64url, behind a prefix that says what it is. Only its
//! BLAKE2b-256 hash is stored: the secret has full entropy, so a fast hash is enough and a
//! lookup by hash stays an index probe.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "pts_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "pak_";

/// A fresh secret with the given prefix.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret: hex BLAKE2b-256.
pub fn hash(secret: &str) -> String {
    let digest = Blake2b::<U32>::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A short random id, for correlating a masked error with the log.
pub fn short_id() -> String {
    let mut bytes = [0u8; 6];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
