//! Routing decisions over an in-memory model of one workspace.
//!
//! [`Model`] holds what a decision needs: workers with their activity and channel load, queues with
//! their compiled `TargetWorkers` and current members, workflows, and the tasks still being routed.
//! Two questions drive routing, and both are answered here without IO:
//! - [`Model::workers_for_task`]: a task arrived (or came back): which workers to reserve?
//! - [`Model::task_for_worker`]: a worker became free: which waiting task should it get?
//!
//! The core's [`decide`](crate::decide) module changes the model as it decides (with
//! [`Model::reserve`] and the other updates) and records the rows to write, so the model always
//! mirrors what the store will hold.
//!
//! The model's parts live beside it: `status` (task and reservation statuses), `state` (workers,
//! queues, tasks), `from_rows` (that state built from stored rows), `steps` (workflow steps), `index` (queue membership), `eligibility` (who may
//! take what), `explain` (why a task is or is not reserved, for people), `waiting` (tasks
//! waiting for workers, in offer order), `schedule` (timers).

mod eligibility;
mod explain;
mod from_rows;
mod index;
mod schedule;
mod state;
mod status;
mod steps;
mod waiting;

pub use explain::{Explanation, FilterCheck, Reason, StepView, WorkerCheck};
pub use from_rows::{channel_state, queue_state, task_state, worker_state};
pub use schedule::{Timer, DEFAULT_RESERVATION_TIMEOUT_SECS};
pub use state::{
    callback_backoff, CallbackFailures, ChannelState, QueueState, Route, TaskState, WorkerState,
    CALLBACK_BACKOFF_MAX_SECS,
};
pub use status::{ReservationStatus, TaskStatus};
pub use steps::{taskrouter_vars, Step, StepRef};

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::expr::{Key, Probe};
use crate::model::QueueOrder;
use crate::rows::Rows;
use crate::sid::{ActivitySid, TaskChannelSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid};
use crate::workflow::WorkflowConfig;
use crate::Timestamp;

use schedule::TimerKey;
use waiting::{WaitKey, WaitPlace};

/// The in-memory model of one workspace.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Multitasking (per-channel capacity) or single-tasking.
    pub multi_task: bool,
    /// Whether a worker's FIFO or LIFO queues are drained first.
    pub prioritize: QueueOrder,
    /// Activities and whether they are available.
    pub activities: HashMap<ActivitySid, (String, bool)>,
    /// Workers.
    pub workers: HashMap<WorkerSid, WorkerState>,
    /// Queues.
    pub queues: HashMap<TaskQueueSid, QueueState>,
    /// The stored rows decisions build on (workers, live reservations, workflows).
    pub rows: Rows,
    /// Workflow configurations.
    workflows: HashMap<WorkflowSid, WorkflowConfig>,
    /// Each workflow's `TaskReservationTimeout`, in seconds.
    reservation_timeouts: HashMap<WorkflowSid, i64>,
    /// Tasks being routed (pending or reserved).
    tasks: HashMap<TaskSid, TaskState>,
    /// Every timer of every task, in firing order: the next one is the first.
    schedule: BTreeSet<TimerKey>,
    /// Each task's entries in `schedule`, to take them out when the task changes.
    scheduled: HashMap<TaskSid, Vec<TimerKey>>,
    /// Tasks that want more workers, in offer order, by the queue and channel they wait on: a
    /// worker that becomes free looks only at the heads of its own queues' sets.
    waiting: HashMap<TaskQueueSid, HashMap<TaskChannelSid, BTreeSet<WaitKey>>>,
    /// Tasks routed straight to a worker that want it, in offer order.
    waiting_for: HashMap<WorkerSid, BTreeSet<WaitKey>>,
    /// Each waiting task's place and key in `waiting` or `waiting_for`.
    waits: HashMap<TaskSid, (WaitPlace, WaitKey)>,
    /// The queues each worker is a member of.
    member_of: HashMap<WorkerSid, HashSet<TaskQueueSid>>,
    /// Queues whose `TargetWorkers` requires one of some attribute values, by key and value: a
    /// worker is evaluated only against the queues its attributes could satisfy.
    queues_by_probe: HashMap<Key, HashMap<Probe, HashSet<TaskQueueSid>>>,
    /// Queues whose expression requires no such value: every worker is evaluated against them.
    unindexed_queues: HashSet<TaskQueueSid>,
    /// Where each queue is in `queues_by_probe`, to take it out when it changes.
    queue_probes: HashMap<TaskQueueSid, Vec<(Key, Probe)>>,
}

impl Model {
    /// An empty model of a workspace: multitasking or not, and which queue order goes first.
    pub fn new(multi_task: bool, prioritize: QueueOrder) -> Model {
        Model {
            multi_task,
            prioritize,
            ..Default::default()
        }
    }

    /// A task being routed.
    pub fn task(&self, sid: &TaskSid) -> Option<&TaskState> {
        self.tasks.get(sid)
    }

    /// Every task being routed, in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskState> + '_ {
        self.tasks.values()
    }

    /// Adds or replaces a task being routed, scheduling its timers.
    pub fn put_task(&mut self, t: TaskState) {
        let sid = t.sid.clone();
        self.tasks.insert(sid.clone(), t);
        self.refresh(&sid);
    }

    /// Forgets a task (it was assigned, canceled or deleted) and its timers.
    pub fn remove_task(&mut self, sid: &TaskSid) -> Option<TaskState> {
        let t = self.tasks.remove(sid);
        self.refresh(sid);
        t
    }

    /// Changes a task being routed, rescheduling its timers after.
    pub fn update_task<R>(
        &mut self,
        sid: &TaskSid,
        change: impl FnOnce(&mut TaskState) -> R,
    ) -> Option<R> {
        let out = change(self.tasks.get_mut(sid)?);
        self.refresh(sid);
        Some(out)
    }

    /// A workflow's configuration.
    pub fn workflow(&self, sid: &WorkflowSid) -> Option<&WorkflowConfig> {
        self.workflows.get(sid)
    }

    /// Whether the workspace has the workflow (whether or not its configuration parses).
    pub fn has_workflow(&self, sid: &WorkflowSid) -> bool {
        self.reservation_timeouts.contains_key(sid)
    }

    /// Adds or replaces a workflow: its configuration (`None` when the stored one does not
    /// parse, which routes nothing) and its `TaskReservationTimeout` in seconds.
    pub fn put_workflow(
        &mut self,
        sid: WorkflowSid,
        config: Option<WorkflowConfig>,
        reservation_timeout: i64,
    ) {
        match config {
            Some(c) => self.workflows.insert(sid.clone(), c),
            None => self.workflows.remove(&sid),
        };
        self.reservation_timeouts
            .insert(sid.clone(), reservation_timeout);
        let affected: Vec<TaskSid> = self
            .tasks
            .values()
            .filter(|t| matches!(&t.route, Route::Workflow { workflow, .. } if *workflow == sid))
            .map(|t| t.sid.clone())
            .collect();
        for t in affected {
            self.refresh(&t);
        }
    }

    /// The step a workflow-routed task is in, with its queue.
    pub fn step_of<'a>(&'a self, task: &TaskState) -> Option<Step<'a>> {
        match &task.route {
            Route::Workflow { workflow, step } => self.workflows.get(workflow)?.step(*step),
            _ => None,
        }
    }

    /// Records a new pending reservation of `worker` for `task`.
    pub fn reserve(&mut self, task: &TaskSid, worker: &WorkerSid, now: Timestamp) {
        let Some(channel) = self.update_task(task, |t| {
            t.pending.insert(worker.clone());
            t.reserved_at.insert(worker.clone(), now);
            t.assignment_count += 1;
            t.channel.clone()
        }) else {
            return;
        };
        if let Some(w) = self.workers.get_mut(worker) {
            if let Some(c) = w.channels.get_mut(&channel) {
                c.pending += 1;
            }
            w.refresh();
        }
    }

    /// Moves one reservation's hold on a worker's channel from `from` to `to` (either may be a
    /// status that holds nothing), marking the worker idle when it ends up holding nothing.
    pub fn move_load(
        &mut self,
        worker: &WorkerSid,
        channel: &TaskChannelSid,
        from: ReservationStatus,
        to: ReservationStatus,
        now: Timestamp,
    ) {
        let Some(w) = self.workers.get_mut(worker) else {
            return;
        };
        if let Some(c) = w.channels.get_mut(channel) {
            adjust(c, from, -1);
            adjust(c, to, 1);
        }
        if w.active(true) == 0 {
            w.idle_since = now;
        }
        w.refresh();
    }

    /// Forgets a pending reservation of `worker` for `task` (it ended, whatever way).
    pub fn end_pending(&mut self, task: &TaskSid, worker: &WorkerSid) {
        self.update_task(task, |t| {
            t.pending.remove(worker);
            t.reserved_at.remove(worker);
        });
    }

    /// Brings the schedule and the waiting sets in line with task `sid` (or its absence).
    fn refresh(&mut self, sid: &TaskSid) {
        self.reschedule(sid);
        self.rewait(sid);
    }
}

/// Counts one reservation in `s` more (`by` 1) or fewer (-1) on a channel's load.
fn adjust(c: &mut ChannelState, s: ReservationStatus, by: i64) {
    let slot = match s {
        ReservationStatus::Pending => &mut c.pending,
        ReservationStatus::Accepted => &mut c.assigned,
        ReservationStatus::Wrapping => &mut c.wrapping,
        _ => return,
    };
    *slot = (*slot + by).max(0);
}

#[cfg(test)]
mod explain_tests;
#[cfg(test)]
mod tests;
