//! The engine's metrics, recorded through the `metrics` facade: nothing is kept unless the
//! process installs a recorder (the server installs a Prometheus one), so an embedding service
//! pays only for what it asks for.
//!
//! Outcomes are counted from the events a change records, as the change commits: a counter never
//! counts what did not happen.

use switchyard_core::decide::Change;
use switchyard_core::routing::Timer;

/// The store's writer records how long each commit group took, how many writes it held, and
/// the writes that failed.
pub use switchyard_store::{COMMIT_GROUP_WRITES, COMMIT_SECONDS, WRITES_FAILED};

/// Tasks created, completed and canceled.
pub const TASKS_CREATED: &str = "switchyard_tasks_created_total";
/// See [`TASKS_CREATED`].
pub const TASKS_COMPLETED: &str = "switchyard_tasks_completed_total";
/// See [`TASKS_CREATED`].
pub const TASKS_CANCELED: &str = "switchyard_tasks_canceled_total";
/// Reservations by outcome (`created`, `accepted`, `rejected`, `timeout`, `canceled`,
/// `rescinded`, `wrapup`, `completed`): label `outcome`.
pub const RESERVATIONS: &str = "switchyard_reservations_total";
/// Timers fired, by kind (`reservation_timeout`, `task_ttl`, `step_timeout`,
/// `callback_retry`): label `timer`.
pub const TIMER_FIRINGS: &str = "switchyard_timer_firings_total";
/// Workspaces whose routing model is held in memory (a gauge, read when rendered).
pub const WORKSPACES_LOADED: &str = "switchyard_workspaces_loaded";
/// Loaded workspaces whose rebuild or writes are failing, retried with backoff (a gauge).
pub const WORKSPACES_FAILING: &str = "switchyard_workspaces_failing";

/// Gives every metric the engine and store record its `# HELP` line; call once, after the
/// recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(TASKS_CREATED, "Tasks created");
    describe_counter!(TASKS_COMPLETED, "Tasks completed");
    describe_counter!(TASKS_CANCELED, "Tasks canceled");
    describe_counter!(RESERVATIONS, "Reservations by outcome (created, accepted, rejected, timeout, canceled, rescinded, wrapup, completed)");
    describe_counter!(TIMER_FIRINGS, "Timers fired, by kind");
    describe_gauge!(
        WORKSPACES_LOADED,
        "Workspaces whose routing model is in memory"
    );
    describe_gauge!(
        WORKSPACES_FAILING,
        "Loaded workspaces whose rebuild or writes are failing"
    );
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "Time to commit one group of writes"
    );
    describe_histogram!(COMMIT_GROUP_WRITES, "Writes committed in one group");
    describe_counter!(
        WRITES_FAILED,
        "Writes that failed or were refused after one before them failed"
    );
}

/// What one committed event adds to a counter: the counter and its label, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    name: &'static str,
    outcome: Option<&'static str>,
}

/// The counts the events among `writes` add once they commit.
pub(crate) fn counts(writes: &[Change]) -> Vec<Count> {
    (writes.iter())
        .filter_map(|w| match w {
            Change::Event(e) => count(&e.event_type),
            _ => None,
        })
        .collect()
}

fn count(event_type: &str) -> Option<Count> {
    let only = |name| {
        Some(Count {
            name,
            outcome: None,
        })
    };
    match event_type {
        "task.created" => only(TASKS_CREATED),
        "task.completed" => only(TASKS_COMPLETED),
        "task.canceled" => only(TASKS_CANCELED),
        other => {
            let outcome = match other.strip_prefix("reservation.")? {
                "created" => "created",
                "accepted" => "accepted",
                "rejected" => "rejected",
                "timeout" => "timeout",
                "canceled" => "canceled",
                "rescinded" => "rescinded",
                "wrapup" => "wrapup",
                "completed" => "completed",
                _ => return None,
            };
            Some(Count {
                name: RESERVATIONS,
                outcome: Some(outcome),
            })
        }
    }
}

/// Adds `counts` (on commit).
pub(crate) fn record(counts: &[Count]) {
    for c in counts {
        match c.outcome {
            Some(outcome) => metrics::counter!(c.name, "outcome" => outcome).increment(1),
            None => metrics::counter!(c.name).increment(1),
        }
    }
}

impl crate::Engine {
    /// Sets the gauges that are read rather than counted ([`WORKSPACES_LOADED`],
    /// [`WORKSPACES_FAILING`]); call it before rendering the metrics.
    pub fn update_gauges(&self) {
        let loaded = (self.routing.models.lock())
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let failing = (self.routing.faulty).load(std::sync::atomic::Ordering::Relaxed);
        metrics::gauge!(WORKSPACES_LOADED).set(loaded as f64);
        metrics::gauge!(WORKSPACES_FAILING).set(failing as f64);
    }
}

/// Counts a timer's firing, and logs it.
pub(crate) fn timer_fired(ws: &switchyard_core::sid::WorkspaceSid, timer: &Timer) {
    let (kind, task, worker) = match timer {
        Timer::Reservation { task, worker } => ("reservation_timeout", task, Some(worker)),
        Timer::Ttl { task } => ("task_ttl", task, None),
        Timer::Step { task } => ("step_timeout", task, None),
        Timer::CallbackRetry { task, worker } => ("callback_retry", task, Some(worker)),
    };
    metrics::counter!(TIMER_FIRINGS, "timer" => kind).increment(1);
    tracing::info!(workspace = %ws, %task, worker = worker.map(|w| w.as_str()), timer = kind, "timer fired");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_from_the_events_a_change_records() {
        let counted = |kind| count(kind).map(|c| (c.name, c.outcome));
        assert_eq!(counted("task.created"), Some((TASKS_CREATED, None)));
        assert_eq!(counted("task.canceled"), Some((TASKS_CANCELED, None)));
        assert_eq!(
            counted("reservation.timeout"),
            Some((RESERVATIONS, Some("timeout")))
        );
        assert_eq!(counted("task-queue.moved"), None);
        assert_eq!(counted("reservation.unknown"), None);
    }
}
