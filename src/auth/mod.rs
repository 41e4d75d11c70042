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
    Session {
        session_id: i64,
    },
    ApiKey {
        api_key_id: i64,
        /// When the key stops working; what is done through it cannot outlast that.
        expires_at: Option<chrono::DateTime<Utc>>,
    },
}

impl Via {
    /// The key in use, when the request came through an API key.
    pub fn api_key_id(&self) -> Option<i64> {
        match self {
            Via::ApiKey { api_key_id, .. } => Some(*api_key_id),
            Via::Session { .. } => None,
        }
    }

    /// The last day the credential works, for an expiring API key.
    pub fn last_day(&self) -> Option<chrono::NaiveDate> {
        match self {
            Via::ApiKey {
                expires_at: Some(e),
                ..
            } => Some(e.date_naive()),
            _ => None,
        }
    }
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
    let (user, access_version, expires_at) = (c.user, c.access_version, c.expires_at);
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
                via: Via::ApiKey {
                    api_key_id,
                    expires_at,
                },
                impersonator: None,
                read_only,
                key_projects: project_ids,
                access_version,
            }
        }
    })
}
