//! The engine's error: what went wrong, in words meant for the API's user.

use switchyard_store::StoreError;

/// Why an engine operation did not happen.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use switchyard_engine::{CreateTaskQueue, CreateWorkspace, Engine, EngineOptions, Error, SystemClock};
///
/// # let engine = Engine::open("sqlite::memory:", SystemClock, EngineOptions::default()).await?;
/// # let account = engine.ensure_account("AC00000000000000000000000000000000".parse()?).await?;
/// # let new_workspace = CreateWorkspace { friendly_name: "Errors".into(), ..Default::default() };
/// # let ws = engine.create_workspace(&account, new_workspace).await?.sid;
/// let queue = CreateTaskQueue {
///     friendly_name: "Broken".into(),
///     target_workers: Some("languages HAS".into()),
///     ..Default::default()
/// };
/// match engine.create_task_queue(&account, &ws, queue).await {
///     Err(Error::Invalid(message)) => assert!(message.starts_with("TargetWorkers")),
///     other => panic!("expected an invalid-parameter error, got {other:?}"),
/// }
/// # Ok(()) }
/// ```
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
