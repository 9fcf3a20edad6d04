//! What a client may ask of a task or a reservation in each status: the rules of their state
//! machines, decided here once and checked before anything changes.
//!
//! Routing moves tasks and reservations by itself too (a reservation is created, times out, is
//! rescinded; a task is reserved, times out of its workflow); these are only the moves a request
//! asks for, through the REST API, an assignment callback's answer or an embedder.

use crate::routing::{ReservationStatus, TaskStatus};

/// A change asked of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservationRequest {
    /// The worker takes the task.
    Accept,
    /// The worker refuses it.
    Reject,
    /// The task goes to wrap-up.
    Wrap,
    /// The task is done.
    Complete,
}

impl ReservationRequest {
    /// Every request, for exhaustive tests.
    pub const ALL: [ReservationRequest; 4] = [
        ReservationRequest::Accept,
        ReservationRequest::Reject,
        ReservationRequest::Wrap,
        ReservationRequest::Complete,
    ];
}

/// Why a requested move is refused. The message reads after the resource's name and SID
/// ("Task WT… cannot move from pending to completed").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The task's status does not lead to the one asked for.
    #[error("cannot move from {} to {}", from.as_str(), to.as_str())]
    Task {
        /// The task's status.
        from: TaskStatus,
        /// The status asked for.
        to: TaskStatus,
    },
    /// Accepting a reservation that another worker's acceptance rescinded (Twilio: 410 Gone).
    #[error("was rescinded: another worker accepted the task")]
    Rescinded,
    /// Accepting or rejecting a reservation that is no longer pending.
    #[error("is not pending: it is {}", .0.as_str())]
    NotPending(ReservationStatus),
    /// Wrapping up or completing through a reservation that was not accepted.
    #[error(
        "is {}; only an accepted reservation can move to {}",
        status.as_str(),
        to.as_str()
    )]
    NotAccepted {
        /// The reservation's status.
        status: ReservationStatus,
        /// The task status asked for.
        to: TaskStatus,
    },
}

/// Checks that a request may move a task from `from` to `to`: a waiting task can be canceled, an
/// assigned one wrapped up or completed, a wrapping one completed.
pub fn task_request(from: TaskStatus, to: TaskStatus) -> Result<(), TransitionError> {
    use TaskStatus as S;
    let allowed = matches!(
        (from, to),
        (S::Pending | S::Reserved, S::Canceled)
            | (S::Assigned, S::Wrapping | S::Completed)
            | (S::Wrapping, S::Completed)
    );
    if allowed {
        Ok(())
    } else {
        Err(TransitionError::Task { from, to })
    }
}

/// Checks that `request` may act on a reservation in `status`: only a pending one can be
/// accepted or rejected, only an accepted one wrapped up, an accepted or wrapping one completed.
/// The task status it leads to is checked separately, by [`task_request`].
pub fn reservation_request(
    status: ReservationStatus,
    request: ReservationRequest,
) -> Result<(), TransitionError> {
    use ReservationRequest as R;
    use ReservationStatus as S;
    match request {
        R::Accept if status == S::Rescinded => Err(TransitionError::Rescinded),
        R::Accept | R::Reject if status != S::Pending => Err(TransitionError::NotPending(status)),
        R::Accept | R::Reject => Ok(()),
        R::Wrap if status == S::Accepted => Ok(()),
        R::Complete if matches!(status, S::Accepted | S::Wrapping) => Ok(()),
        R::Wrap => Err(TransitionError::NotAccepted {
            status,
            to: TaskStatus::Wrapping,
        }),
        R::Complete => Err(TransitionError::NotAccepted {
            status,
            to: TaskStatus::Completed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReservationRequest as R;
    use ReservationStatus as RS;
    use TaskStatus as TS;

    const TASK: [TaskStatus; 6] = [
        TS::Pending,
        TS::Reserved,
        TS::Assigned,
        TS::Wrapping,
        TS::Completed,
        TS::Canceled,
    ];
    const RESERVATION: [ReservationStatus; 8] = [
        RS::Pending,
        RS::Accepted,
        RS::Rejected,
        RS::Timeout,
        RS::Canceled,
        RS::Rescinded,
        RS::Wrapping,
        RS::Completed,
    ];

    #[test]
    fn tasks_move_only_along_twilios_lifecycle() {
        let allowed = [
            (TS::Pending, TS::Canceled),
            (TS::Reserved, TS::Canceled),
            (TS::Assigned, TS::Wrapping),
            (TS::Assigned, TS::Completed),
            (TS::Wrapping, TS::Completed),
        ];
        for from in TASK {
            for to in TASK {
                let got = task_request(from, to);
                if allowed.contains(&(from, to)) {
                    assert_eq!(got, Ok(()), "{from:?} -> {to:?}");
                } else {
                    assert_eq!(got, Err(TransitionError::Task { from, to }));
                }
            }
        }
        assert_eq!(
            task_request(TS::Completed, TS::Canceled)
                .unwrap_err()
                .to_string(),
            "cannot move from completed to canceled"
        );
    }

    #[test]
    fn reservations_answer_only_while_pending_and_finish_only_once_accepted() {
        for status in RESERVATION {
            for request in R::ALL {
                let got = reservation_request(status, request);
                let expected = match (request, status) {
                    (R::Accept | R::Reject, RS::Pending) => Ok(()),
                    (R::Accept, RS::Rescinded) => Err(TransitionError::Rescinded),
                    (R::Accept | R::Reject, s) => Err(TransitionError::NotPending(s)),
                    (R::Wrap, RS::Accepted) => Ok(()),
                    (R::Complete, RS::Accepted | RS::Wrapping) => Ok(()),
                    (R::Wrap, s) => Err(TransitionError::NotAccepted {
                        status: s,
                        to: TS::Wrapping,
                    }),
                    (R::Complete, s) => Err(TransitionError::NotAccepted {
                        status: s,
                        to: TS::Completed,
                    }),
                };
                assert_eq!(got, expected, "{request:?} on {status:?}");
            }
        }
        assert_eq!(
            reservation_request(RS::Timeout, R::Reject)
                .unwrap_err()
                .to_string(),
            "is not pending: it is timeout"
        );
    }
}
