//! The engine's error: what went wrong, in words meant for the API's user.
//!
//! Errors about one field of a request name it by the engine's own field name (`target_workers`,
//! as in [`crate::CreateTaskQueue`]); a front end shows it in its own vocabulary (the HTTP server
//! says `TargetWorkers`, Twilio's parameter name).

use switchyard_core::decide::Refused;
use switchyard_core::lifecycle::TransitionError;
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
///     Err(Error::InvalidField { field, problem }) => {
///         assert_eq!(field, "target_workers");
///         assert!(problem.starts_with("is not a valid expression"));
///     }
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
    /// A field of the request is malformed or breaks a rule.
    #[error("{field} {problem}")]
    InvalidField {
        /// The field, by its name in the engine's request structs (`virtual_start_time`).
        field: &'static str,
        /// What is wrong with it, worded to follow the field's name.
        problem: String,
    },
    /// A required field is missing or blank.
    #[error("{field} is required")]
    MissingField {
        /// The field, as in [`Error::InvalidField`].
        field: &'static str,
    },
    /// The request breaks a rule that no single field holds (a status move the state machine
    /// does not allow, a name already taken, a limit reached).
    #[error("{0}")]
    Invalid(String),
    /// The resource is gone for good (a rescinded reservation cannot be accepted).
    #[error("{0}")]
    Gone(String),
    /// The resource is not at the version the caller expected (HTTP: `If-Match`).
    #[error("{kind} {sid} is at version {current}, not {expected}")]
    VersionMismatch {
        /// Resource kind, e.g. `Task`.
        kind: &'static str,
        /// Its SID.
        sid: String,
        /// The version the caller expected.
        expected: i64,
        /// Its version.
        current: i64,
    },
    /// A change raced with another to the same resource and lost; retrying may succeed.
    #[error("{0}")]
    ConcurrentChange(String),
    /// Another node of the cluster decides for the workspace: ask it
    /// ([`crate::Engine::owner`]).
    #[error("node {node_id} decides for workspace {workspace}; send the request to {url}")]
    NotOwner {
        /// The workspace's SID.
        workspace: String,
        /// The node that decides for it.
        node_id: String,
        /// Where that node takes requests.
        url: String,
    },
    /// Not possible now, but soon (a workspace changing hands between nodes); retry.
    #[error("{0}")]
    Unavailable(String),
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

    pub(crate) fn field(field: &'static str, problem: impl Into<String>) -> Self {
        Error::InvalidField {
            field,
            problem: problem.into(),
        }
    }
}

impl From<Refused> for Error {
    fn from(r: Refused) -> Self {
        match r {
            Refused::NotFound { kind, sid } => Error::NotFound { kind, sid },
            Refused::Field { field, problem } => Error::InvalidField { field, problem },
            Refused::Rule(rule) => Error::Invalid(rule),
            // Twilio answers 410 Gone to accepting a rescinded reservation.
            Refused::Transition {
                error: TransitionError::Rescinded,
                ..
            } => Error::Gone(r.to_string()),
            Refused::Transition { .. } => Error::Invalid(r.to_string()),
        }
    }
}

/// Result alias for engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
