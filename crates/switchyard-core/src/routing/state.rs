//! What the model keeps of each worker, queue and routing task.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::expr::Expr;
use crate::model::QueueOrder;
use crate::sid::{ActivitySid, TaskChannelSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid};
use crate::Timestamp;

use super::StepRef;

/// A worker's load on one task channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelState {
    /// The channel's unique name.
    pub unique_name: String,
    /// Configured capacity.
    pub capacity: i64,
    /// Whether the channel takes new tasks.
    pub available: bool,
    /// Pending reservations on it.
    pub pending: i64,
    /// Accepted reservations on it.
    pub assigned: i64,
    /// Wrapping reservations on it.
    pub wrapping: i64,
}

impl ChannelState {
    pub(super) fn load(&self) -> i64 {
        self.pending + self.assigned + self.wrapping
    }

    pub(super) fn has_room(&self) -> bool {
        self.available && self.load() < self.capacity
    }

    fn free_percentage(&self) -> i64 {
        if self.capacity <= 0 {
            0
        } else {
            (self.capacity - self.load()).max(0) * 100 / self.capacity
        }
    }
}

/// What routing knows of a worker.
#[derive(Debug, Clone)]
pub struct WorkerState {
    /// Its SID.
    pub sid: WorkerSid,
    /// Display name.
    pub friendly_name: String,
    /// Attributes.
    pub attributes: Value,
    /// Current activity.
    pub activity_sid: ActivitySid,
    /// Current activity's name.
    pub activity_name: String,
    /// Whether the activity is available.
    pub available: bool,
    /// Load per task channel.
    pub channels: HashMap<TaskChannelSid, ChannelState>,
    /// Since when it has had nothing to do (for longest-idle choice).
    pub idle_since: Timestamp,
    /// Creation order: the last tie-break between equally idle workers.
    pub seq: i64,
    /// The document target expressions see as `worker.*`: attributes plus built-ins.
    doc: Value,
}

impl WorkerState {
    /// A worker, with its `worker.*` document built.
    pub fn new(
        sid: WorkerSid,
        friendly_name: String,
        attributes: Value,
        activity: (ActivitySid, String, bool),
        channels: HashMap<TaskChannelSid, ChannelState>,
        idle_since: Timestamp,
    ) -> Self {
        let mut w = WorkerState {
            sid,
            friendly_name,
            attributes,
            activity_sid: activity.0,
            activity_name: activity.1,
            available: activity.2,
            channels,
            idle_since,
            seq: 0,
            doc: Value::Null,
        };
        w.refresh();
        w
    }

    /// Rebuilds the `worker.*` document after a change.
    pub fn refresh(&mut self) {
        let mut doc = match &self.attributes {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        doc.insert("sid".into(), Value::from(self.sid.as_str()));
        doc.insert(
            "friendly_name".into(),
            Value::from(self.friendly_name.as_str()),
        );
        doc.insert(
            "activity_sid".into(),
            Value::from(self.activity_sid.as_str()),
        );
        doc.insert(
            "activity_name".into(),
            Value::from(self.activity_name.as_str()),
        );
        let mut channels = Map::new();
        for ch in self.channels.values() {
            let mut c = Map::new();
            c.insert("configured_capacity".into(), Value::from(ch.capacity));
            c.insert("assigned_tasks".into(), Value::from(ch.assigned));
            c.insert(
                "available_capacity_percentage".into(),
                Value::from(ch.free_percentage()),
            );
            c.insert("available".into(), Value::from(ch.available));
            channels.insert(ch.unique_name.clone(), Value::Object(c));
        }
        doc.insert("channel".into(), Value::Object(channels));
        self.doc = Value::Object(doc);
    }

    /// The `worker.*` document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    pub(super) fn active(&self, include_wrapping: bool) -> i64 {
        self.channels
            .values()
            .map(|c| c.pending + c.assigned + if include_wrapping { c.wrapping } else { 0 })
            .sum()
    }
}

/// What routing knows of a queue.
#[derive(Debug, Clone)]
pub struct QueueState {
    /// Its SID.
    pub sid: TaskQueueSid,
    /// Its name, which tasks in it carry.
    pub friendly_name: String,
    /// Compiled `TargetWorkers`.
    pub target: Expr,
    /// FIFO or LIFO.
    pub order: QueueOrder,
    /// Workers one task may reserve at once.
    pub max_reserved: i64,
    /// Single-tasking: activity while reserved.
    pub reservation_activity: Option<ActivitySid>,
    /// Single-tasking: activity once accepted.
    pub assignment_activity: Option<ActivitySid>,
    /// Workers whose attributes satisfy `target`.
    pub members: HashSet<WorkerSid>,
}

/// How a task is routed.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Through a workflow step.
    Workflow {
        /// The workflow.
        workflow: WorkflowSid,
        /// The step it is in.
        step: StepRef,
    },
    /// Straight to a queue (`RoutingTarget=WQ…`).
    Queue(TaskQueueSid),
    /// Straight to a worker (`RoutingTarget=WK…`).
    Worker {
        /// The worker.
        worker: WorkerSid,
        /// Reserve even without capacity or availability.
        ignore_capacity: bool,
    },
    /// Nowhere: waits until its attributes or the workflow change.
    Unrouted,
}

/// What routing knows of a task that is still being routed.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// Its SID.
    pub sid: TaskSid,
    /// Attributes.
    pub attributes: Value,
    /// Current priority.
    pub priority: i64,
    /// Its channel.
    pub channel: TaskChannelSid,
    /// How it is routed.
    pub route: Route,
    /// The queue it waits in, if any.
    pub queue: Option<TaskQueueSid>,
    /// Ordering time.
    pub virtual_start_time: Timestamp,
    /// Creation order, the last tie-break.
    pub seq: i64,
    /// Workers holding a pending reservation for it.
    pub pending: HashSet<WorkerSid>,
    /// When each pending reservation was created (its timeout counts from there).
    pub reserved_at: HashMap<WorkerSid, Timestamp>,
    /// Workers who rejected it or let a reservation time out: not offered it again.
    pub refused_by: HashSet<WorkerSid>,
    /// Workers whose assignment callback for it failed: offered it again only after a backoff.
    pub callback_failures: HashMap<WorkerSid, CallbackFailures>,
    /// Creation time: the TTL counts from here.
    pub date_created: Timestamp,
    /// When it entered its workflow step: the step's timeout counts from here. `None` for a
    /// task stored before this was recorded (see [`crate::workflow::WorkflowConfig::step_deadline`]).
    pub step_entered: Option<Timestamp>,
    /// Seconds it may wait for assignment (`Timeout`).
    pub ttl_secs: i64,
    /// Reservations it has had (Twilio's assignment count).
    pub assignment_count: i64,
}

/// The failed assignment callbacks of one task for one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackFailures {
    /// How many there were.
    pub count: u32,
    /// Until when the worker is not offered the task again; `None` once that has passed.
    pub until: Option<Timestamp>,
}

impl CallbackFailures {
    /// The first failure's backoff; each further failure doubles it, up to
    /// [`CALLBACK_BACKOFF_MAX_SECS`].
    pub const BASE_SECS: i64 = 5;

    /// Records one more failure at `now`.
    pub fn after(previous: Option<CallbackFailures>, now: Timestamp) -> CallbackFailures {
        let count = previous.map_or(0, |p| p.count).saturating_add(1);
        CallbackFailures {
            count,
            until: Some(now + callback_backoff(count)),
        }
    }
}

/// The longest a worker waits to be offered a task again after failed assignment callbacks.
pub const CALLBACK_BACKOFF_MAX_SECS: i64 = 60;

/// How long a worker is not offered a task after its `failures`-th failed assignment callback
/// for it: 5 s, doubling, at most a minute. Bounded so that a receiver brought back up gets its
/// tasks within a minute; other workers are offered the task meanwhile.
pub fn callback_backoff(failures: u32) -> crate::time::Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let secs = (CallbackFailures::BASE_SECS << doublings).min(CALLBACK_BACKOFF_MAX_SECS);
    crate::time::Duration::from_secs(secs)
}
