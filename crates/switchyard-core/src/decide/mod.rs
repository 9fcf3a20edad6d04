//! Deciding: a workspace's transitions as pure functions of its [`Model`], in the shape of a
//! sans-IO state machine. A [`Decider`] holds the model, the workspace, the time and a
//! [`Mint`] for fresh SIDs; each transition validates what it is asked before it changes
//! anything, then changes the model and records the rows to write as [`Unit`]s (each one
//! transaction, in order, with the reservation its commit announces). The shell (the engine)
//! submits the units, waits for their commit and tells whoever asked. Nothing here reads a
//! store, a clock or a random source: the same commands on the same model give the same units.
//!
//! - `command.rs`: the entry point, [`decide`]: a [`Command`] on a model gives a [`Decision`]
//!   (an [`Outcome`] and the units), or a [`Refused`] that changed nothing.
//! - `change.rs`: [`Change`], [`Unit`], [`ReservationCreated`].
//! - `configure.rs`: [`Configure`], the configuration changes the engine validates and writes
//!   (not decided here).
//! - `mint.rs`: [`Mint`] and a deterministic [`Counter`].
//! - `refused.rs`: [`Refused`], why a command changed nothing.
//! - `reservation.rs`: accept, reject, wrap and complete a reservation; its ends without
//!   acceptance (timeout, a failed assignment callback).
//! - `task.rs`: a task created, moved on request (cancel, wrap up, complete), deleted.
//! - `worker.rs`: a worker's name, attributes, activity and channels changed.
//! - `timer.rs`: timers firing (reservation timeouts, TTLs, step timeouts, callback backoffs).
//! - `route.rs`: routing after a change: offering tasks to workers (reservations), workflow
//!   steps, skipping, canceling what can no longer be routed.

mod change;
mod command;
mod configure;
mod mint;
mod refused;
mod reservation;
mod route;
mod task;
#[cfg(test)]
mod tests;
mod timer;
mod worker;

pub use change::{Change, ReservationCreated, Unit};
pub use command::{decide, Command, Decision, Outcome};
pub use configure::{Configure, NewWorkspace};
pub use mint::{Counter, Mint};
pub use refused::Refused;
pub use reservation::{ReservationAction, Unaccepted, CALLBACK_FAILED};
use route::{filter_name, place, step_events, workflow_entry};
pub use task::{check_virtual_start_time, Destination, NewTask, TaskChange};
pub use worker::{ChannelChange, WorkerChange};

use crate::model::{Worker, Workspace};
use crate::routing::Model;
use crate::sid::{ActivitySid, TaskSid, WorkerSid};
use crate::Timestamp;

/// Reason of a task canceled by its TTL, as Twilio words it.
pub const TTL_EXCEEDED: &str = "Task TTL Exceeded";
/// Reason of a task canceled after [`MAX_ASSIGNMENT_COUNT`](crate::model::MAX_ASSIGNMENT_COUNT)
/// reservations without acceptance, as Twilio has been seen to word it.
pub const MAX_ASSIGNMENTS_EXCEEDED: &str = "Task TTL Exceeded or Max assignment count exceeded";
/// Reason of a task canceled because the last step of its workflow timed out.
pub const WORKFLOW_TIMEOUT: &str = "Workflow Timeout";
/// Reason of a task canceled because every step of its workflow was skipped.
pub const WORKFLOW_SKIPPED: &str = "Workflow skipped: no step could take the task";

/// What routing should look at once a change is applied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Triggers {
    /// Tasks that may now be offered to someone.
    pub tasks: Vec<TaskSid>,
    /// Workers that may now take a task.
    pub workers: Vec<WorkerSid>,
    /// Every waiting task and every worker (after the model was loaded or reconfigured).
    pub sweep: bool,
}

/// One workspace's model being decided on at one instant (see the module documentation).
pub struct Decider<'a, M: Mint> {
    model: &'a mut Model,
    workspace: &'a Workspace,
    now: Timestamp,
    mint: &'a mut M,
    units: Vec<Unit>,
}

impl<'a, M: Mint> Decider<'a, M> {
    /// Decides on `model`, of `workspace`, at `now`.
    pub fn new(
        model: &'a mut Model,
        workspace: &'a Workspace,
        now: Timestamp,
        mint: &'a mut M,
    ) -> Self {
        Decider {
            model,
            workspace,
            now,
            mint,
            units: Vec::new(),
        }
    }

    /// Records `changes` as one unit; the model's rows follow them at once.
    fn emit(&mut self, changes: Vec<Change>) {
        self.emit_announcing(changes, None);
    }

    /// [`Decider::emit`], announcing `created` once the unit commits.
    fn emit_announcing(&mut self, changes: Vec<Change>, created: Option<Box<ReservationCreated>>) {
        for c in &changes {
            self.model.rows.apply(c);
        }
        self.units.push(Unit {
            changes,
            announce: created,
        });
    }

    /// The units decided, in the order they must commit.
    pub fn finish(self) -> Vec<Unit> {
        self.units
    }

    /// Moves `worker` to `activity` (name and availability from the model): a new version.
    fn move_to_activity(&self, worker: &mut Worker, activity: ActivitySid) {
        let (name, available) = (self.model.activities.get(&activity))
            .cloned()
            .unwrap_or_default();
        worker.activity_sid = activity;
        worker.activity_name = name;
        worker.available = available;
        worker.date_status_changed = self.now;
        worker.version += 1;
        worker.date_updated = self.now;
    }

    /// When `worker` became idle, if the model says so and its row does not yet: recorded for
    /// the longest-idle choice after a restart, in the unit of the decision that freed it.
    fn idle_since_changed(&self, worker: &WorkerSid) -> Option<Timestamp> {
        let idle_since = self.model.workers.get(worker)?.idle_since;
        let stored = self.model.rows.worker(worker)?.idle_since;
        (stored != idle_since).then_some(idle_since)
    }
}

/// Mirrors a worker's activity in the model.
fn set_activity(model: &mut Model, worker: &Worker) {
    if let Some(w) = model.workers.get_mut(&worker.sid) {
        w.activity_sid = worker.activity_sid.clone();
        w.activity_name = worker.activity_name.clone();
        w.available = worker.available;
        w.refresh();
    }
}
