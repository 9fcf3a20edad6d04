//! Why a command was refused: nothing changed.

use crate::lifecycle::TransitionError;

/// Why the core refused a command. A refused command has changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Something the command names does not exist.
    #[error("{kind} {sid} was not found")]
    NotFound {
        /// Resource kind, e.g. `Task`.
        kind: &'static str,
        /// Its SID.
        sid: String,
    },
    /// A field of the command names something that does not fit.
    #[error("{field} {problem}")]
    Field {
        /// The field, by the engine's name for it (`worker_activity_sid`).
        field: &'static str,
        /// What is wrong, worded to follow the field's name.
        problem: String,
    },
    /// The command breaks a rule that no single field holds (a name already taken).
    #[error("{0}")]
    Rule(String),
    /// The state machine does not allow the move.
    #[error("{kind} {sid} {error}")]
    Transition {
        /// Resource kind: `Task` or `Reservation`.
        kind: &'static str,
        /// Its SID.
        sid: String,
        /// Which rule refused it.
        error: TransitionError,
    },
}

impl Refused {
    pub(crate) fn not_found(kind: &'static str, sid: impl std::fmt::Display) -> Refused {
        Refused::NotFound {
            kind,
            sid: sid.to_string(),
        }
    }

    pub(crate) fn field(field: &'static str, problem: impl Into<String>) -> Refused {
        Refused::Field {
            field,
            problem: problem.into(),
        }
    }

    pub(crate) fn transition(
        kind: &'static str,
        sid: impl std::fmt::Display,
        error: TransitionError,
    ) -> Refused {
        Refused::Transition {
            kind,
            sid: sid.to_string(),
            error,
        }
    }
}
