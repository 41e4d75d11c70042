//! Who is calling: passwords, session tokens, API keys and the resulting [`Viewer`].

pub mod password;
pub mod token;

use chrono::Utc;

use crate::db::credentials::{self, CredentialKind};
use crate::db::users::UserRow;
use crate::db::Db;
use crate::error::{Error, Result};

/// How the caller proved who they are.
#[derive(Clone, Debug)]
pub enum Via {
    Session { session_id: i64 },
    ApiKey { api_key_id: i64 },
}

/// The authenticated caller of one request.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// Whose view the request gets (the impersonated user under "view as").
    pub user: UserRow,
    pub via: Via,
    /// The user who sent an impersonated request.
    pub impersonator: Option<UserRow>,
    /// Read-only API key, or impersonation: every mutation is refused.
    pub read_only: bool,
    /// An API key narrowed to these projects and their sub-projects.
    pub key_projects: Option<Vec<i64>>,
    /// The access version read with the credentials, at the start of the request.
    pub access_version: i64,
}

/// Resolves a bearer token. Unknown, expired and revoked tokens, and tokens of deactivated
/// users, all answer the same `UNAUTHENTICATED`.
pub async fn authenticate(db: &Db, bearer: &str) -> Result<Viewer> {
    let hash = token::hash(bearer);
    let credential = if bearer.starts_with(token::SESSION_PREFIX) {
        credentials::find_session(db, &hash).await?
    } else if bearer.starts_with(token::API_KEY_PREFIX) {
        credentials::find_api_key(db, &hash).await?
    } else {
        None
    };
    let Some(c) = credential else {
        return Err(Error::Unauthenticated);
    };
    if c.revoked || c.expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(Error::Unauthenticated);
    }
    if !c.user.active {
        return Err(Error::Unauthenticated);
    }
    let (user, access_version) = (c.user, c.access_version);
    Ok(match c.kind {
        CredentialKind::Session { session_id } => Viewer {
            user,
            via: Via::Session { session_id },
            impersonator: None,
            read_only: false,
            key_projects: None,
            access_version,
        },
        CredentialKind::ApiKey {
            api_key_id,
            read_only,
            project_ids,
        } => {
            credentials::touch_api_key(db, api_key_id).await?;
            Viewer {
                user,
                via: Via::ApiKey { api_key_id },
                impersonator: None,
                read_only,
                key_projects: project_ids,
                access_version,
            }
        }
    })
}
