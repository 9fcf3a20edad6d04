//! The statuses of tasks and reservations.

/// A task's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Waiting for a worker.
    Pending,
    /// At least one reservation is pending.
    Reserved,
    /// A worker accepted it.
    Assigned,
    /// Post-work.
    Wrapping,
    /// Done.
    Completed,
    /// Abandoned before assignment.
    Canceled,
}

impl TaskStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Reserved => "reserved",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Wrapping => "wrapping",
            TaskStatus::Completed => "completed",
            TaskStatus::Canceled => "canceled",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "pending" => TaskStatus::Pending,
            "reserved" => TaskStatus::Reserved,
            "assigned" => TaskStatus::Assigned,
            "wrapping" => TaskStatus::Wrapping,
            "completed" => TaskStatus::Completed,
            "canceled" => TaskStatus::Canceled,
            _ => return None,
        })
    }

    /// Whether the task is still looking for a worker.
    pub fn is_routing(self) -> bool {
        matches!(self, TaskStatus::Pending | TaskStatus::Reserved)
    }

    /// Whether the task has reached the end of its life.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Canceled)
    }
}

/// A reservation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservationStatus {
    /// Waiting for the worker's answer.
    Pending,
    /// The worker took the task.
    Accepted,
    /// The worker refused.
    Rejected,
    /// No answer in time.
    Timeout,
    /// The task went away, or the assignment callback could not be delivered.
    Canceled,
    /// Another worker accepted the task first.
    Rescinded,
    /// Post-work.
    Wrapping,
    /// The task was completed.
    Completed,
}

impl ReservationStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Pending => "pending",
            ReservationStatus::Accepted => "accepted",
            ReservationStatus::Rejected => "rejected",
            ReservationStatus::Timeout => "timeout",
            ReservationStatus::Canceled => "canceled",
            ReservationStatus::Rescinded => "rescinded",
            ReservationStatus::Wrapping => "wrapping",
            ReservationStatus::Completed => "completed",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<ReservationStatus> {
        Some(match s {
            "pending" => ReservationStatus::Pending,
            "accepted" => ReservationStatus::Accepted,
            "rejected" => ReservationStatus::Rejected,
            "timeout" => ReservationStatus::Timeout,
            "canceled" => ReservationStatus::Canceled,
            "rescinded" => ReservationStatus::Rescinded,
            "wrapping" => ReservationStatus::Wrapping,
            "completed" => ReservationStatus::Completed,
            _ => return None,
        })
    }

    /// Whether the reservation holds capacity on the worker's channel.
    pub fn holds_capacity(self) -> bool {
        matches!(
            self,
            ReservationStatus::Pending | ReservationStatus::Accepted | ReservationStatus::Wrapping
        )
    }
}
