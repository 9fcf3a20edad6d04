//! Timers: every deadline of every routing task (reservation timeouts, callback retries,
//! workflow step timeouts, TTLs), kept in firing order.

use crate::sid::{TaskSid, WorkerSid};
use crate::Timestamp;

use super::{Model, Route, TaskState};

/// A timer of a task being routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// A pending reservation reached the workflow's `TaskReservationTimeout`.
    Reservation {
        /// The task.
        task: TaskSid,
        /// The reserved worker.
        worker: WorkerSid,
    },
    /// The backoff after a failed assignment callback ended: the worker may be offered the
    /// task again.
    CallbackRetry {
        /// The task.
        task: TaskSid,
        /// The worker whose callback failed.
        worker: WorkerSid,
    },
    /// The task's workflow step reached its `timeout` (counted from its entry into the step).
    Step {
        /// The task.
        task: TaskSid,
    },
    /// The task was not assigned within its `Timeout` (TTL).
    Ttl {
        /// The task.
        task: TaskSid,
    },
}

/// Reservation timeout when the task has no workflow (it was routed straight to a queue or worker).
pub const DEFAULT_RESERVATION_TIMEOUT_SECS: i64 = 120;

/// A timer's place in the schedule. The field order is the firing order: deadline, then task
/// creation, then a task's reservation before its step and its step before its TTL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct TimerKey {
    at: Timestamp,
    seq: i64,
    kind: TimerKind,
    worker: Option<WorkerSid>,
    task: TaskSid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Reservation,
    CallbackRetry,
    Step,
    Ttl,
}

impl TimerKey {
    fn timer(&self) -> Timer {
        let task = self.task.clone();
        match (self.kind, &self.worker) {
            (TimerKind::Reservation, Some(worker)) => Timer::Reservation {
                task,
                worker: worker.clone(),
            },
            (TimerKind::CallbackRetry, Some(worker)) => Timer::CallbackRetry {
                task,
                worker: worker.clone(),
            },
            (TimerKind::Step, _) => Timer::Step { task },
            _ => Timer::Ttl { task },
        }
    }
}

impl Model {
    fn reservation_timeout(&self, t: &TaskState) -> i64 {
        match &t.route {
            Route::Workflow { workflow, .. } => self
                .reservation_timeouts
                .get(workflow)
                .copied()
                .unwrap_or(DEFAULT_RESERVATION_TIMEOUT_SECS),
            _ => DEFAULT_RESERVATION_TIMEOUT_SECS,
        }
    }

    /// The timers of one task, with their deadlines.
    fn timers_of(&self, t: &TaskState) -> Vec<TimerKey> {
        use crate::time::Duration;
        let key = |at, kind, worker: Option<&WorkerSid>| TimerKey {
            at,
            seq: t.seq,
            kind,
            worker: worker.cloned(),
            task: t.sid.clone(),
        };
        let timeout = Duration::from_secs(self.reservation_timeout(t));
        let mut out: Vec<TimerKey> = t
            .reserved_at
            .iter()
            .map(|(worker, at)| key(*at + timeout, TimerKind::Reservation, Some(worker)))
            .collect();
        out.extend(t.callback_failures.iter().filter_map(|(worker, f)| {
            f.until
                .map(|at| key(at, TimerKind::CallbackRetry, Some(worker)))
        }));
        if let Route::Workflow { workflow, step } = &t.route {
            if let Some(deadline) = self
                .workflows
                .get(workflow)
                .and_then(|c| c.step_deadline(*step, t.step_entered, t.date_created))
            {
                out.push(key(deadline, TimerKind::Step, None));
            }
        }
        out.push(key(
            t.date_created + Duration::from_secs(t.ttl_secs),
            TimerKind::Ttl,
            None,
        ));
        out
    }

    /// Brings the schedule in line with task `sid` (or its absence).
    pub(super) fn reschedule(&mut self, sid: &TaskSid) {
        for key in self.scheduled.remove(sid).unwrap_or_default() {
            self.schedule.remove(&key);
        }
        let Some(t) = self.tasks.get(sid) else {
            return;
        };
        let keys = self.timers_of(t);
        self.schedule.extend(keys.iter().cloned());
        self.scheduled.insert(sid.clone(), keys);
    }

    /// When the next timer falls due, if any.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.schedule.first().map(|k| k.at)
    }

    /// The earliest timer due at `now`: deadlines first, ties in task creation order, a task's
    /// reservation before its step and its step before its TTL.
    pub fn next_due(&self, now: Timestamp) -> Option<(Timestamp, Timer)> {
        self.schedule
            .first()
            .filter(|k| k.at <= now)
            .map(|k| (k.at, k.timer()))
    }

    /// How many timers are scheduled.
    pub fn timer_count(&self) -> usize {
        self.schedule.len()
    }
}
