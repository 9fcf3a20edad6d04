//! The engine's error: what went wrong, in words meant for the API's user.

use switchyard_store::StoreError;

/// Why an engine operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource does not exist (or belongs to another account).
    #[error("{kind} {sid} was not found")]
    NotFound {
        /// Resource kind, e.g. `Worker`.
        kind: &'static str,
        /// The SID or name that was looked up.
        sid: String,
    },
    /// A parameter is missing, malformed, or breaks a rule; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// The resource is gone for good (a rescinded reservation cannot be accepted).
    #[error("{0}")]
    Gone(String),
    /// An `If-Match` precondition does not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub(crate) fn not_found(kind: &'static str, sid: impl std::fmt::Display) -> Self {
        Error::NotFound {
            kind,
            sid: sid.to_string(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

/// Result alias for engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
