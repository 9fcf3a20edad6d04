//! The one entry point: a [`Command`] decided on a model, as a [`Decision`].

use super::{ChannelChange, Decider, Mint, NewTask, Refused, ReservationAction, TaskChange};
use super::{Triggers, Unaccepted, Unit, WorkerChange};
use crate::model::{Reservation, Task, Worker, WorkerChannel, Workspace};
use crate::routing::{Model, Timer};
use crate::sid::{WorkerSid, WorkflowSid};
use crate::Timestamp;

/// A change asked of a workspace: by a client (REST, the Worker SDK, an embedder), an
/// assignment callback's answer, or time.
#[derive(Debug, Clone)]
pub enum Command {
    /// Create a task.
    CreateTask(NewTask),
    /// Update a task (its row as the model holds it).
    UpdateTask {
        /// The task.
        task: Task,
        /// What changes.
        change: TaskChange,
    },
    /// Delete a task.
    DeleteTask(Task),
    /// Accept, reject, wrap or complete a reservation.
    Reservation {
        /// The reservation.
        reservation: Reservation,
        /// What to do.
        action: ReservationAction,
    },
    /// A pending reservation's assignment callback failed with `error`.
    CallbackFailed {
        /// The reservation.
        reservation: Reservation,
        /// What went wrong.
        error: String,
    },
    /// Update a worker (its row).
    UpdateWorker {
        /// The worker.
        worker: Worker,
        /// What changes.
        change: WorkerChange,
    },
    /// Change one of a worker's channels (its row as stored).
    UpdateWorkerChannel {
        /// The worker.
        worker: Worker,
        /// The channel.
        channel: WorkerChannel,
        /// What changes.
        change: ChannelChange,
    },
    /// End a worker's pending reservations (canceled) before it is deleted.
    ReleaseWorker(WorkerSid),
    /// A timer the model says is due.
    Fire(Timer),
    /// A workflow's configuration changed: its waiting tasks go through it again (all, or
    /// those whose step is gone).
    ReenterWorkflow {
        /// The workflow.
        workflow: WorkflowSid,
        /// All its tasks, not only those whose step is gone.
        all: bool,
    },
    /// Route what the triggers name (after the model was loaded or reconfigured).
    Route(Triggers),
}

/// What a command returns to whoever asked, besides its units.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to show (a deletion, a timer, routing).
    Done,
    /// The task as created or changed.
    Task(Task),
    /// The reservation as changed.
    Reservation(Reservation),
    /// The worker as changed.
    Worker(Worker),
    /// The worker channel as changed.
    WorkerChannel(WorkerChannel),
}

/// A decided command: its outcome and the units to commit, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What the asker is told once the units have committed.
    pub outcome: Outcome,
    /// The rows to write and what to announce, one transaction each.
    pub units: Vec<Unit>,
}

/// Decides `command` on the `model` of `workspace` at `now`, then routes what it made
/// possible. On `Err` the model is exactly as it was and `mint` was not used; on `Ok` the model
/// is as if the decision's units had committed.
pub fn decide<M: Mint>(
    model: &mut Model,
    workspace: &Workspace,
    command: Command,
    now: Timestamp,
    mint: &mut M,
) -> Result<Decision, Refused> {
    let mut d = Decider::new(model, workspace, now, mint);
    let outcome = d.command(command).inspect_err(|_| {
        debug_assert!(d.units.is_empty(), "a refused command decided units");
    })?;
    Ok(Decision {
        outcome,
        units: d.finish(),
    })
}

impl<M: Mint> Decider<'_, M> {
    /// Decides `command`, then routes what it made possible (see [`decide`]).
    pub fn command(&mut self, command: Command) -> Result<Outcome, Refused> {
        let mut triggers = Triggers::default();
        let t = &mut triggers;
        let outcome = match command {
            Command::CreateTask(new) => Outcome::Task(self.create_task(new, t)?),
            Command::UpdateTask { task, change } => {
                Outcome::Task(self.update_task(task, change, t)?)
            }
            Command::DeleteTask(task) => {
                self.delete_task(&task, t);
                Outcome::Done
            }
            Command::Reservation {
                reservation,
                action,
            } => Outcome::Reservation(self.act(reservation, action, t)?),
            Command::CallbackFailed { reservation, error } => {
                let how = Unaccepted::CallbackFailed(&error);
                Outcome::Reservation(self.end_unaccepted(reservation, how, None, t)?)
            }
            Command::UpdateWorker { worker, change } => {
                Outcome::Worker(self.update_worker(worker, change, t)?)
            }
            Command::UpdateWorkerChannel {
                worker,
                channel,
                change,
            } => Outcome::WorkerChannel(self.update_worker_channel(worker, channel, change, t)),
            Command::ReleaseWorker(worker) => {
                self.release_worker(&worker, t);
                Outcome::Done
            }
            Command::Fire(timer) => {
                self.fire(&timer, t)?;
                Outcome::Done
            }
            Command::ReenterWorkflow { workflow, all } => {
                self.reenter_workflow(&workflow, all);
                *t = Triggers {
                    sweep: true,
                    ..Triggers::default()
                };
                Outcome::Done
            }
            Command::Route(given) => {
                *t = given;
                Outcome::Done
            }
        };
        self.route(triggers);
        Ok(outcome)
    }
}
