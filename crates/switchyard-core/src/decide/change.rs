//! What a decision writes: owned rows, one atomic unit at a time, with what its commit
//! announces.

use super::Configure;
use crate::event::Event;
use crate::model::{Reservation, Task, Worker, WorkerChannel, Workflow, Workspace};
use crate::rows::Rows;
use crate::sid::{ReservationSid, TaskSid, WorkerSid, WorkspaceSid};
use crate::Timestamp;

/// One row change of a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Insert or replace a task.
    Task(Task),
    /// Insert or replace a reservation.
    Reservation(Reservation),
    /// Update a worker whose stored version is `expected_version`.
    Worker {
        /// The new state.
        worker: Worker,
        /// The version it replaces.
        expected_version: i64,
    },
    /// Update a worker channel's capacity and availability.
    WorkerChannel(WorkerChannel),
    /// Delete a task.
    DeleteTask(TaskSid),
    /// Record an event.
    Event(Event),
    /// Record when a worker became idle (not a change of the worker's resource: its version
    /// stays).
    WorkerIdle {
        /// The worker.
        worker: WorkerSid,
        /// When its last reservation ended, or it became available.
        idle_since: Timestamp,
    },
    /// Record that the reservation's assignment callback was answered.
    CallbackAnswered(ReservationSid),
    /// Record that the reservation's assignment callback failed, and why.
    CallbackFailed {
        /// The reservation.
        reservation: ReservationSid,
        /// What went wrong.
        error: String,
    },
    /// Record that event callbacks have handled the workspace's events up to number
    /// `through`.
    EventsDelivered {
        /// The workspace.
        workspace: WorkspaceSid,
        /// The number of the last event handled.
        through: i64,
    },
    /// A configuration change (the engine reloads the model, or changes it in place).
    Configure(Configure),
}

impl Rows {
    /// Keeps the rows as `change` leaves them.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Reservation(r) => self.put_reservation(r.clone()),
            Change::Worker { worker, .. } => self.put_worker(worker.clone()),
            Change::WorkerIdle { worker, idle_since } => self.set_idle_since(worker, *idle_since),
            Change::DeleteTask(sid) => self.remove_task(sid),
            Change::Task(t) => self.put_task(t.clone()),
            Change::WorkerChannel(_)
            | Change::Event(_)
            | Change::CallbackAnswered(_)
            | Change::CallbackFailed { .. }
            | Change::EventsDelivered { .. }
            | Change::Configure(_) => {}
        }
    }
}

/// A new reservation with everything an assignment callback carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ReservationCreated {
    /// The workspace (with its account).
    pub workspace: Workspace,
    /// The reservation.
    pub reservation: Reservation,
    /// The task, as reserved.
    pub task: Task,
    /// The worker, as reserved.
    pub worker: Worker,
    /// The workflow routing the task, if any.
    pub workflow: Option<Workflow>,
}

/// The changes that commit together (one transaction, all or nothing), and the reservation
/// that is announced once they have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unit {
    /// The row changes, in order.
    pub changes: Vec<Change>,
    /// The reservation this unit creates, told to subscribers after the commit.
    pub announce: Option<Box<ReservationCreated>>,
}
