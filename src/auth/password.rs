//! Password hashing with Argon2id, off the async runtime and on a bounded number of threads,
//! so that a burst of logins cannot starve the queries.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Runs Argon2id with at most `permits` hashes at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

/// A hash of a password nobody has, verified when the email is unknown so that an unknown
/// email and a wrong password take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("portico-dummy-password").unwrap_or_default())
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Other(anyhow::anyhow!("argon2: {e}")))
}

fn verify_now(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Hasher {
    pub fn new(permits: usize) -> Self {
        Hasher {
            permits: Arc::new(Semaphore::new(permits.max(1))),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Other(e.into()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::Other(e.into()))
    }

    /// The PHC string of a new Argon2id hash.
    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || hash_now(&password)).await?
    }

    /// Checks a password against a stored hash; with no stored hash it still spends the
    /// time of a verification and answers false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        self.run(move || match stored {
            Some(h) => verify_now(&password, &h),
            None => {
                verify_now(&password, dummy_hash());
                false
            }
        })
        .await
    }
}
