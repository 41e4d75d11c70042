//! The one error type of Portico and its mapping to `extensions.code`.
//!
//! Use [`Error::NotFound`] for anything the caller cannot see, whether it exists or not;
//! [`Error::Forbidden`] only for what the caller sees but may not do. Internal causes are
//! logged with an id and answered as `INTERNAL` with that id only.

use async_graphql::ErrorExtensions;

/// Everything that can go wrong in a request.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` type
/// into an error without extensions, and the `From` below must be the only way in, so
/// that `?` in a resolver always keeps the code.
#[derive(Debug)]
pub enum Error {
    Unauthenticated,
    Forbidden(String),
    NotFound,
    BadInput {
        field: String,
        message: String,
    },
    Conflict(String),
    RateLimited,
    /// More than the server answers at once (QUERY_TOO_COMPLEX).
    TooComplex(String),
    /// The database is down or saturated: retry shortly (SERVICE_UNAVAILABLE).
    Unavailable,
    Database(sqlx::Error),
    Other(anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The database cannot be reached or no connection came free in time: an outage,
            // not a bug (SERVICE_UNAVAILABLE, HTTP 503 with Retry-After).
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable
            }
            // A deadlock or a serialization failure: a clash with a concurrent change,
            // which the caller may retry.
            ref e
                if e.as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == "40001" || c == "40P01") =>
            {
                Error::Conflict("a concurrent change got in the way; retry".into())
            }
            e => Error::Database(e),
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Other(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }

    /// The message a client sees. Internal causes never reach it.
    pub fn public_message(&self) -> String {
        match self {
            Error::Unauthenticated => {
                "authentication required: send a valid session token or API key".into()
            }
            Error::Forbidden(m) | Error::Conflict(m) | Error::TooComplex(m) => m.clone(),
            Error::NotFound => "not found".into(),
            Error::BadInput { field, message } => format!("{field}: {message}"),
            Error::RateLimited => "too many requests, retry later".into(),
            Error::Unavailable => "the database is unavailable; retry in a few seconds".into(),
            Error::Database(_) | Error::Other(_) => "internal error".into(),
        }
    }

    /// What went wrong, internal causes included: for the operator (logs, the command
    /// line), never for a client.
    pub fn cause(&self) -> String {
        match self {
            Error::Database(e) => format!("database: {e}"),
            Error::Other(e) => format!("{e:#}"),
            other => other.public_message(),
        }
    }

    /// The `extensions.code` of api.md.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::NotFound => "NOT_FOUND",
            Error::BadInput { .. } => "BAD_USER_INPUT",
            Error::Conflict(_) => "CONFLICT",
            Error::RateLimited => "RATE_LIMITED",
            Error::TooComplex(_) => "QUERY_TOO_COMPLEX",
            Error::Unavailable => "SERVICE_UNAVAILABLE",
            Error::Database(_) | Error::Other(_) => "INTERNAL",
        }
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        let message = match self {
            Error::Database(cause) => internal(cause),
            Error::Other(cause) => internal(cause),
            other => other.public_message(),
        };
        async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", self.code());
            if let Error::BadInput { field, .. } = self {
                e.set("field", field.as_str());
            }
        })
    }
}

impl From<Error> for async_graphql::Error {
    fn from(e: Error) -> Self {
        e.extend()
    }
}

/// Logs an internal cause under a fresh id and answers the masked message naming that id.
pub fn internal(cause: &dyn std::fmt::Display) -> String {
    let id = crate::auth::token::short_id();
    tracing::error!(error = %cause, error_id = %id, "internal error");
    format!("internal error (id {id})")
}
