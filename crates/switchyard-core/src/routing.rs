//! Routing decisions over an in-memory model of one workspace.
//!
//! [`Model`] holds what a decision needs: workers with their activity and channel load, queues with
//! their compiled `TargetWorkers` and current members, workflows, and the tasks still being routed.
//! Two questions drive routing, and both are answered here without IO:
//! - [`Model::workers_for_task`]: a task arrived (or came back): which workers to reserve?
//! - [`Model::task_for_worker`]: a worker became free: which waiting task should it get?
//!
//! The engine persists each reservation the answers call for, then tells the model with
//! [`Model::reserve`] and the other `on_*` updates, so the model always mirrors the store.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::expr::{probes, walk, Expr, Key, Lookup, Probe, Scoped};
use crate::model::QueueOrder;
use crate::rows::Rows;
use crate::sid::{ActivitySid, TaskChannelSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid};
use crate::workflow::{KnownWorker, OrderBy, Target, WorkflowConfig};
use crate::Timestamp;

/// Where a task is in its workflow: a filter (or the default filter) and a step of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepRef {
    /// Index into `filters`, or `None` for `default_filter`.
    pub filter: Option<usize>,
    /// Index into the filter's targets (always 0 for the default filter).
    pub step: usize,
}

/// A step of a workflow with the queue it routes to (inherited from earlier steps when absent).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// Where it is.
    pub at: StepRef,
    /// Its target definition.
    pub target: &'a Target,
    /// Its queue.
    pub queue: &'a TaskQueueSid,
}

/// TaskRouter's time-of-day variables (`taskrouter.currentTime` and friends) at `now`, in UTC.
pub fn taskrouter_vars(now: Timestamp) -> Value {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let secs = now.as_secs();
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (hour, minute) = (of_day / 3600, of_day % 3600 / 60);
    let mut vars = Map::new();
    vars.insert("currentTime".into(), Value::from(hour * 100 + minute));
    vars.insert("currentHour".into(), Value::from(format!("{hour:02}")));
    vars.insert("currentMin".into(), Value::from(format!("{minute:02}")));
    vars.insert(
        "dayOfWeek".into(),
        Value::from(DAYS[days.rem_euclid(7) as usize]),
    );
    Value::Object(vars)
}

impl WorkflowConfig {
    /// The step at `at`, if the configuration has it.
    pub fn step(&self, at: StepRef) -> Option<Step<'_>> {
        match at.filter {
            None => {
                let target = self.default_filter.as_ref().filter(|_| at.step == 0)?;
                Some(Step {
                    at,
                    target,
                    queue: target.queue.as_ref()?,
                })
            }
            Some(f) => {
                let targets = &self.filters.get(f)?.targets;
                let target = targets.get(at.step)?;
                let queue = targets[..=at.step]
                    .iter()
                    .rev()
                    .find_map(|t| t.queue.as_ref())?;
                Some(Step { at, target, queue })
            }
        }
    }

    /// The first filter at or after `from` whose expression holds for the task.
    fn matching_filter(&self, task: &impl Lookup, from: usize) -> Option<usize> {
        (from..self.filters.len()).find(|&i| self.filters[i].expression.eval(task))
    }

    /// Where a new (or re-evaluated) task enters: the first matching filter's first step, else the
    /// default filter, else nowhere.
    pub fn entry(&self, task: &impl Lookup) -> Option<StepRef> {
        match self.matching_filter(task, 0) {
            Some(f) => Some(StepRef {
                filter: Some(f),
                step: 0,
            }),
            None => self.default_filter.as_ref().map(|_| StepRef {
                filter: None,
                step: 0,
            }),
        }
    }

    /// Where a task goes when step `at` times out: the next step, else the next matching filter.
    /// `None` means the workflow is exhausted (the default filter is no fallback after a timeout).
    pub fn after_timeout(&self, task: &impl Lookup, at: StepRef) -> Option<StepRef> {
        let f = at.filter?;
        if at.step + 1 < self.filters.get(f)?.targets.len() {
            return Some(StepRef {
                filter: Some(f),
                step: at.step + 1,
            });
        }
        self.matching_filter(task, f + 1).map(|f| StepRef {
            filter: Some(f),
            step: 0,
        })
    }

    /// Where a task goes when step `at` is skipped (`skip_if`): the next step; after a filter's last
    /// step, the next matching filter or the default filter, as if the filter had not matched.
    pub fn after_skip(&self, task: &impl Lookup, at: StepRef) -> Option<StepRef> {
        let f = at.filter?;
        if at.step + 1 < self.filters.get(f)?.targets.len() {
            return Some(StepRef {
                filter: Some(f),
                step: at.step + 1,
            });
        }
        match self.matching_filter(task, f + 1) {
            Some(f) => Some(StepRef {
                filter: Some(f),
                step: 0,
            }),
            None => self.default_filter.as_ref().map(|_| StepRef {
                filter: None,
                step: 0,
            }),
        }
    }

    /// When step `at` times out for a task that entered it at `entered`: a task waits in each
    /// step for that step's own timeout, so step N of a filter times out at the sum of steps
    /// 1..N's timeouts. Without `entered` (a task stored before entry times were kept), the
    /// step is taken as entered when the earlier steps of its filter timed out one after the
    /// other from `created`.
    pub fn step_deadline(
        &self,
        at: StepRef,
        entered: Option<Timestamp>,
        created: Timestamp,
    ) -> Option<Timestamp> {
        let timeout = self.step(at)?.target.timeout?;
        let entered = entered.unwrap_or_else(|| {
            let earlier: i64 = at
                .filter
                .and_then(|f| self.filters.get(f))
                .map(|f| {
                    f.targets[..at.step.min(f.targets.len())]
                        .iter()
                        .filter_map(|t| t.timeout)
                        .sum()
                })
                .unwrap_or(0);
            created + crate::time::Duration::from_secs(earlier)
        });
        Some(entered + crate::time::Duration::from_secs(timeout))
    }
}

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
    fn load(&self) -> i64 {
        self.pending + self.assigned + self.wrapping
    }

    fn has_room(&self) -> bool {
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

    fn active(&self, include_wrapping: bool) -> i64 {
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
    /// task stored before this was recorded (see [`WorkflowConfig::step_deadline`]).
    pub step_entered: Option<Timestamp>,
    /// Seconds it may wait for assignment (`Timeout`).
    pub ttl_secs: i64,
    /// Reservations it has had (Twilio's assignment count).
    pub assignment_count: i64,
}

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

/// Reservation timeout when the task has no workflow (it was routed straight to a queue or worker).
pub const DEFAULT_RESERVATION_TIMEOUT_SECS: i64 = 120;

/// Counts `skip_if` sees: `workers.available`, `workers.unavailable`, `workers.<ActivitySid>`.
fn skip_doc<'a>(members: impl Iterator<Item = &'a WorkerState>) -> Value {
    let (mut available, mut unavailable) = (0i64, 0i64);
    let mut by_activity: HashMap<&str, i64> = HashMap::new();
    for w in members {
        if w.available {
            available += 1;
        } else {
            unavailable += 1;
        }
        *by_activity.entry(w.activity_sid.as_str()).or_default() += 1;
    }
    let mut doc = Map::new();
    doc.insert("available".into(), Value::from(available));
    doc.insert("unavailable".into(), Value::from(unavailable));
    for (a, n) in by_activity {
        doc.insert(a.to_owned(), Value::from(n));
    }
    Value::Object(doc)
}

/// Compares two workers by `order_by` clauses: integer attributes only; a worker missing one sorts
/// after those that have it, whatever the direction.
fn compare_order_by(order_by: &[OrderBy], a: &WorkerState, b: &WorkerState) -> Ordering {
    for clause in order_by {
        let get = |w: &WorkerState| {
            let mut v = &w.attributes;
            for part in clause.attribute.split('.') {
                v = v.get(part)?;
            }
            v.as_i64()
        };
        let ord = match (get(a), get(b)) {
            (Some(x), Some(y)) if clause.descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

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

/// Where a task waits for a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
enum WaitPlace {
    Queue(TaskQueueSid, TaskChannelSid),
    Worker(WorkerSid),
}

/// A waiting task's place in its set: ascending key order is the order [`Model::prefer`] gives
/// tasks of the same queue order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum WaitKey {
    /// Highest priority, then oldest, then first created.
    Fifo(Reverse<i64>, Timestamp, i64, TaskSid),
    /// Newest, then last created, priority ignored.
    Lifo(Reverse<Timestamp>, Reverse<i64>, TaskSid),
}

impl WaitKey {
    fn of(t: &TaskState, order: QueueOrder) -> WaitKey {
        match order {
            QueueOrder::Fifo => WaitKey::Fifo(
                Reverse(t.priority),
                t.virtual_start_time,
                t.seq,
                t.sid.clone(),
            ),
            QueueOrder::Lifo => {
                WaitKey::Lifo(Reverse(t.virtual_start_time), Reverse(t.seq), t.sid.clone())
            }
        }
    }

    fn task(&self) -> &TaskSid {
        match self {
            WaitKey::Fifo(.., t) | WaitKey::Lifo(.., t) => t,
        }
    }
}

/// A timer's place in the schedule. The field order is the firing order: deadline, then task
/// creation, then a task's reservation before its step and its step before its TTL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TimerKey {
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

    /// Adds or replaces a worker, recomputing its queue memberships.
    pub fn put_worker(&mut self, w: WorkerState) {
        let mut candidates: Vec<&TaskQueueSid> = self.unindexed_queues.iter().collect();
        for (key, by_probe) in &self.queues_by_probe {
            for probe in walk(&w.attributes, &key.path)
                .map(probes)
                .unwrap_or_default()
            {
                candidates.extend(by_probe.get(&probe).into_iter().flatten());
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let member_of: HashSet<TaskQueueSid> = candidates
            .into_iter()
            .filter(|q| {
                self.queues
                    .get(*q)
                    .is_some_and(|q| q.target.eval(&w.attributes))
            })
            .cloned()
            .collect();
        let was_in = self.member_of.remove(&w.sid).unwrap_or_default();
        for q in was_in.difference(&member_of) {
            if let Some(q) = self.queues.get_mut(q) {
                q.members.remove(&w.sid);
            }
        }
        for q in &member_of {
            if let Some(q) = self.queues.get_mut(q) {
                q.members.insert(w.sid.clone());
            }
        }
        self.member_of.insert(w.sid.clone(), member_of);
        self.workers.insert(w.sid.clone(), w);
    }

    /// Removes a worker.
    pub fn remove_worker(&mut self, sid: &WorkerSid) {
        self.workers.remove(sid);
        for q in self.member_of.remove(sid).unwrap_or_default() {
            if let Some(q) = self.queues.get_mut(&q) {
                q.members.remove(sid);
            }
        }
    }

    /// Adds or replaces a queue, recomputing its members.
    pub fn put_queue(&mut self, mut q: QueueState) {
        if let Some(old) = self.queues.get(&q.sid) {
            for w in &old.members {
                if let Some(m) = self.member_of.get_mut(w) {
                    m.remove(&q.sid);
                }
            }
        }
        self.unindex_queue(&q.sid);
        match q.target.required_values() {
            Some(required) => {
                for (key, probe) in &required {
                    self.queues_by_probe
                        .entry(key.clone())
                        .or_default()
                        .entry(probe.clone())
                        .or_default()
                        .insert(q.sid.clone());
                }
                self.queue_probes.insert(q.sid.clone(), required);
            }
            None => {
                self.unindexed_queues.insert(q.sid.clone());
            }
        }
        q.members = self
            .workers
            .values()
            .filter(|w| q.target.eval(&w.attributes))
            .map(|w| w.sid.clone())
            .collect();
        for w in &q.members {
            self.member_of
                .entry(w.clone())
                .or_default()
                .insert(q.sid.clone());
        }
        let sid = q.sid.clone();
        self.queues.insert(sid.clone(), q);
        // Its order and reservation limit decide where and whether its tasks wait.
        let affected: Vec<TaskSid> = self
            .tasks
            .values()
            .filter(|t| {
                t.queue.as_ref() == Some(&sid) || matches!(&t.route, Route::Queue(q) if *q == sid)
            })
            .map(|t| t.sid.clone())
            .collect();
        for t in affected {
            self.rewait(&t);
        }
    }

    fn unindex_queue(&mut self, sid: &TaskQueueSid) {
        self.unindexed_queues.remove(sid);
        for (key, probe) in self.queue_probes.remove(sid).unwrap_or_default() {
            if let Some(by_probe) = self.queues_by_probe.get_mut(&key) {
                if let Some(queues) = by_probe.get_mut(&probe) {
                    queues.remove(sid);
                    if queues.is_empty() {
                        by_probe.remove(&probe);
                    }
                }
                if by_probe.is_empty() {
                    self.queues_by_probe.remove(&key);
                }
            }
        }
    }

    /// The step a workflow-routed task is in, with its queue.
    pub fn step_of<'a>(&'a self, task: &TaskState) -> Option<Step<'a>> {
        match &task.route {
            Route::Workflow { workflow, step } => self.workflows.get(workflow)?.step(*step),
            _ => None,
        }
    }

    /// Whether `w` may be reserved for `t` right now.
    pub fn eligible(&self, t: &TaskState, w: &WorkerState, now: Timestamp) -> bool {
        if t.pending.contains(&w.sid) || t.refused_by.contains(&w.sid) {
            return false;
        }
        if let Some(until) = t.callback_failures.get(&w.sid).and_then(|f| f.until) {
            if now < until {
                return false;
            }
        }
        match &t.route {
            Route::Worker {
                worker,
                ignore_capacity,
            } => {
                return *worker == w.sid
                    && (*ignore_capacity || (w.available && self.has_room(t, w)));
            }
            Route::Unrouted => return false,
            Route::Queue(q) => {
                if !self
                    .queues
                    .get(q)
                    .is_some_and(|q| q.members.contains(&w.sid))
                {
                    return false;
                }
            }
            Route::Workflow { .. } => {
                let Some(step) = self.step_of(t) else {
                    return false;
                };
                if !self
                    .queues
                    .get(step.queue)
                    .is_some_and(|q| q.members.contains(&w.sid))
                {
                    return false;
                }
                if let Some(known) = &step.target.known_worker {
                    let (attr, mine) = match known {
                        KnownWorker::Sid(a) => (a, w.sid.as_str()),
                        KnownWorker::FriendlyName(a) => (a, w.friendly_name.as_str()),
                    };
                    if t.attributes.get(attr).and_then(Value::as_str) != Some(mine) {
                        return false;
                    }
                }
                if let Some(expr) = &step.target.expression {
                    let vars = taskrouter_vars(now);
                    let scopes = [
                        ("task", &t.attributes),
                        ("worker", w.doc()),
                        ("taskrouter", &vars),
                    ];
                    if !expr.eval(&Scoped::new(&scopes)) {
                        return false;
                    }
                }
            }
        }
        w.available && self.has_room(t, w)
    }

    fn has_room(&self, t: &TaskState, w: &WorkerState) -> bool {
        if self.multi_task {
            w.channels
                .get(&t.channel)
                .is_some_and(ChannelState::has_room)
        } else {
            w.active(false) == 0
        }
    }

    /// How many more workers `t` may reserve now.
    fn wanted(&self, t: &TaskState) -> usize {
        let max = match &t.route {
            Route::Worker { .. } => 1,
            _ => t
                .queue
                .as_ref()
                .and_then(|q| self.queues.get(q))
                .map_or(1, |q| q.max_reserved.max(1)),
        };
        (max as usize).saturating_sub(t.pending.len())
    }

    /// The workers to reserve for task `sid`, best first, as many as its queue allows.
    pub fn workers_for_task(&self, sid: &TaskSid, now: Timestamp) -> Vec<WorkerSid> {
        let Some(t) = self.tasks.get(sid) else {
            return Vec::new();
        };
        let wanted = self.wanted(t);
        if wanted == 0 {
            return Vec::new();
        }
        let candidates: Box<dyn Iterator<Item = &WorkerState>> = match &t.route {
            Route::Worker { worker, .. } => Box::new(self.workers.get(worker).into_iter()),
            _ => match t.queue.as_ref().and_then(|q| self.queues.get(q)) {
                Some(q) => Box::new(q.members.iter().filter_map(|w| self.workers.get(w))),
                None => Box::new(std::iter::empty()),
            },
        };
        let mut eligible: Vec<&WorkerState> =
            candidates.filter(|w| self.eligible(t, w, now)).collect();
        let order_by: &[OrderBy] = self.step_of(t).map_or(&[], |s| &s.target.order_by);
        eligible.sort_by(|a, b| {
            compare_order_by(order_by, a, b)
                .then(a.idle_since.cmp(&b.idle_since))
                .then(a.seq.cmp(&b.seq))
                .then(a.sid.cmp(&b.sid))
        });
        eligible
            .into_iter()
            .take(wanted)
            .map(|w| w.sid.clone())
            .collect()
    }

    /// The waiting task worker `sid` should get next, if any.
    ///
    /// Only the first eligible task of each set the worker could draw from is a candidate: the
    /// tasks routed to it, and, when it is available, each of its queues' tasks on a channel it
    /// has room on. The cost grows with the worker's queues, not with the backlog.
    pub fn task_for_worker(&self, sid: &WorkerSid, now: Timestamp) -> Option<TaskSid> {
        let w = self.workers.get(sid)?;
        let first_eligible = |set: &BTreeSet<WaitKey>| {
            set.iter()
                .filter_map(|k| self.tasks.get(k.task()))
                .find(|t| self.eligible(t, w, now))
        };
        let mut heads: Vec<&TaskState> = Vec::new();
        if let Some(set) = self.waiting_for.get(sid) {
            heads.extend(first_eligible(set));
        }
        // Single-tasking: room on every channel or on none.
        let idle = !self.multi_task && w.active(false) == 0;
        let has_room = |channel: &TaskChannelSid| {
            idle || (self.multi_task && w.channels.get(channel).is_some_and(ChannelState::has_room))
        };
        if w.available {
            let queues = self.member_of.get(sid).into_iter().flatten();
            for by_channel in queues.filter_map(|q| self.waiting.get(q)) {
                for (_, set) in by_channel.iter().filter(|(c, _)| has_room(c)) {
                    heads.extend(first_eligible(set));
                }
            }
        }
        heads
            .into_iter()
            .map(|t| (t, self.order_of(t)))
            .reduce(|best, t| {
                if self.prefer(t.0, t.1, best.0, best.1) {
                    t
                } else {
                    best
                }
            })
            .map(|(t, _)| t.sid.clone())
    }

    /// The order of the queue a task is in (FIFO when it is in none).
    fn order_of(&self, t: &TaskState) -> QueueOrder {
        t.queue
            .as_ref()
            .and_then(|q| self.queues.get(q))
            .map_or(QueueOrder::Fifo, |q| q.order)
    }

    /// Whether task `a` (in a queue of order `ao`) goes before `b` (in one of order `bo`).
    fn prefer(&self, a: &TaskState, ao: QueueOrder, b: &TaskState, bo: QueueOrder) -> bool {
        if ao != bo {
            return ao == self.prioritize;
        }
        let ord = match ao {
            // LIFO: newest first, priority ignored.
            QueueOrder::Lifo => b
                .virtual_start_time
                .cmp(&a.virtual_start_time)
                .then(b.seq.cmp(&a.seq)),
            QueueOrder::Fifo => b
                .priority
                .cmp(&a.priority)
                .then(a.virtual_start_time.cmp(&b.virtual_start_time))
                .then(a.seq.cmp(&b.seq)),
        };
        ord == Ordering::Less
    }

    /// Waiting tasks in the order a sweep should offer them workers: priority, then age.
    pub fn tasks_by_priority(&self) -> Vec<TaskSid> {
        let mut tasks: Vec<&TaskState> =
            self.tasks.values().filter(|t| self.wanted(t) > 0).collect();
        tasks.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.virtual_start_time.cmp(&b.virtual_start_time))
                .then(a.seq.cmp(&b.seq))
        });
        tasks.into_iter().map(|t| t.sid.clone()).collect()
    }

    /// Whether `skip_if` of the task's current step says to skip it now.
    pub fn should_skip(&self, t: &TaskState) -> bool {
        let Some(step) = self.step_of(t) else {
            return false;
        };
        let Some(skip) = &step.target.skip_if else {
            return false;
        };
        let members = self
            .queues
            .get(step.queue)
            .into_iter()
            .flat_map(|q| q.members.iter().filter_map(|w| self.workers.get(w)));
        let workers = skip_doc(members);
        skip.eval(&Scoped::new(&[("workers", &workers)]))
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
}

impl Model {
    /// Whether the task's current step still admits `w` (queue membership, known worker and
    /// step expression), leaving out capacity and availability: after a step change, a
    /// reservation the worker already holds stays only if this holds.
    pub fn allows(&self, t: &TaskState, w: &WorkerState, now: Timestamp) -> bool {
        let mut probe = t.clone();
        probe.pending.remove(&w.sid);
        probe.refused_by.remove(&w.sid);
        probe.callback_failures.remove(&w.sid);
        let mut free = w.clone();
        free.available = true;
        for c in free.channels.values_mut() {
            (c.pending, c.assigned, c.wrapping) = (0, 0, 0);
            c.available = true;
            c.capacity = c.capacity.max(1);
        }
        self.eligible(&probe, &free, now)
    }

    /// Forgets a pending reservation of `worker` for `task` (it ended, whatever way).
    pub fn end_pending(&mut self, task: &TaskSid, worker: &WorkerSid) {
        self.update_task(task, |t| {
            t.pending.remove(worker);
            t.reserved_at.remove(worker);
        });
    }

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

    /// Brings the schedule and the waiting sets in line with task `sid` (or its absence).
    fn refresh(&mut self, sid: &TaskSid) {
        self.reschedule(sid);
        self.rewait(sid);
    }

    /// Puts task `sid` in the waiting set it belongs to now, or in none when it wants no more
    /// workers or is gone.
    fn rewait(&mut self, sid: &TaskSid) {
        if let Some((place, key)) = self.waits.remove(sid) {
            match place {
                WaitPlace::Queue(q, c) => {
                    if let Some(by_channel) = self.waiting.get_mut(&q) {
                        if let Some(set) = by_channel.get_mut(&c) {
                            set.remove(&key);
                            if set.is_empty() {
                                by_channel.remove(&c);
                            }
                        }
                        if by_channel.is_empty() {
                            self.waiting.remove(&q);
                        }
                    }
                }
                WaitPlace::Worker(w) => {
                    if let Some(set) = self.waiting_for.get_mut(&w) {
                        set.remove(&key);
                        if set.is_empty() {
                            self.waiting_for.remove(&w);
                        }
                    }
                }
            }
        }
        let Some(t) = self.tasks.get(sid) else {
            return;
        };
        if self.wanted(t) == 0 {
            return;
        }
        // The queue `eligible` checks membership of.
        let place = match &t.route {
            Route::Worker { worker, .. } => WaitPlace::Worker(worker.clone()),
            Route::Queue(q) => WaitPlace::Queue(q.clone(), t.channel.clone()),
            Route::Workflow { .. } => match self.step_of(t) {
                Some(step) => WaitPlace::Queue(step.queue.clone(), t.channel.clone()),
                None => return,
            },
            Route::Unrouted => return,
        };
        let key = WaitKey::of(t, self.order_of(t));
        match &place {
            WaitPlace::Queue(q, c) => self
                .waiting
                .entry(q.clone())
                .or_default()
                .entry(c.clone())
                .or_default()
                .insert(key.clone()),
            WaitPlace::Worker(w) => self
                .waiting_for
                .entry(w.clone())
                .or_default()
                .insert(key.clone()),
        };
        self.waits.insert(sid.clone(), (place, key));
    }

    /// Brings the schedule in line with task `sid` (or its absence).
    fn reschedule(&mut self, sid: &TaskSid) {
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
mod tests {
    use super::*;
    use serde_json::json;

    fn sid<T: crate::sid::Sid>(n: u8) -> T {
        T::from_bytes([n; 16])
    }

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    const Q1: &str = "WQ01010101010101010101010101010101";
    const Q2: &str = "WQ02020202020202020202020202020202";

    fn config(text: &str) -> WorkflowConfig {
        WorkflowConfig::parse(&text.replace("Q1", Q1).replace("Q2", Q2)).unwrap()
    }

    #[test]
    fn steps_inherit_queues_and_filters_match_top_down() {
        let c = config(
            r#"{"task_routing":{"filters":[
                {"expression":"type == 'sales'","targets":[{"queue":"Q1","timeout":60},{"priority":5,"timeout":120}]},
                {"expression":"type == 'sales' OR vip == true","targets":[{"queue":"Q2"}]}],
              "default_filter":{"queue":"Q2"}}}"#,
        );
        let sales = json!({"type": "sales"});
        let at = c.entry(&sales).unwrap();
        assert_eq!(
            at,
            StepRef {
                filter: Some(0),
                step: 0
            }
        );
        let step1 = c.after_timeout(&sales, at).unwrap();
        assert_eq!(
            step1,
            StepRef {
                filter: Some(0),
                step: 1
            }
        );
        assert_eq!(c.step(step1).unwrap().queue.as_str(), Q1, "queue inherited");
        assert_eq!(c.step(step1).unwrap().target.priority, Some(5));
        // After the last step of filter 0 times out, the next matching filter takes over...
        assert_eq!(
            c.after_timeout(&sales, step1),
            Some(StepRef {
                filter: Some(1),
                step: 0
            })
        );
        // ...but the default filter is no fallback after a timeout.
        assert_eq!(
            c.after_timeout(
                &sales,
                StepRef {
                    filter: Some(1),
                    step: 0
                }
            ),
            None
        );
        // A skipped last step behaves as no match: the default filter is reachable.
        assert_eq!(
            c.after_skip(
                &sales,
                StepRef {
                    filter: Some(1),
                    step: 0
                }
            ),
            Some(StepRef {
                filter: None,
                step: 0
            })
        );
        assert_eq!(
            c.entry(&json!({"type": "support"})),
            Some(StepRef {
                filter: None,
                step: 0
            })
        );
        assert_eq!(
            c.step(StepRef {
                filter: None,
                step: 0
            })
            .unwrap()
            .queue
            .as_str(),
            Q2
        );
        // A task waits in each step for that step's own timeout: from its entry into the step,
        // or, with no entry recorded, as if step 0 (60 s) had timed out first.
        assert_eq!(
            c.step_deadline(step1, Some(ts(1070)), ts(1000)),
            Some(ts(1190))
        );
        assert_eq!(c.step_deadline(step1, None, ts(1000)), Some(ts(1180)));
        assert_eq!(c.step_deadline(at, None, ts(1000)), Some(ts(1060)));
        assert_eq!(
            c.step_deadline(
                StepRef {
                    filter: Some(1),
                    step: 0
                },
                None,
                ts(1000)
            ),
            None
        );
    }

    #[test]
    fn no_default_filter_means_no_entry() {
        let c = config(
            r#"{"task_routing":{"filters":[{"expression":"a == 1","targets":[{"queue":"Q1"}]}]}}"#,
        );
        assert_eq!(c.entry(&json!({"a": 2})), None);
    }

    #[test]
    fn time_of_day_variables() {
        // 2014-05-14T10:50:02Z was a Wednesday.
        let vars = taskrouter_vars(Timestamp::from_millis(1_400_064_602_000));
        assert_eq!(
            vars,
            json!({"currentTime": 1050, "currentHour": "10", "currentMin": "50", "dayOfWeek": "Wed"})
        );
        let filter =
            Expr::parse("taskrouter.currentTime > 0800 AND taskrouter.dayOfWeek IN ['Mon','Wed']")
                .unwrap();
        let task = json!({});
        assert!(filter.eval(&Scoped::new(&[("taskrouter", &vars)]).with_fallback(&task)));
    }

    fn channel(capacity: i64) -> HashMap<TaskChannelSid, ChannelState> {
        HashMap::from([(
            sid(1),
            ChannelState {
                unique_name: "default".into(),
                capacity,
                available: true,
                pending: 0,
                assigned: 0,
                wrapping: 0,
            },
        )])
    }

    fn worker(n: u8, attrs: Value, available: bool, idle_since: i64) -> WorkerState {
        WorkerState::new(
            sid(n),
            format!("w{n}"),
            attrs,
            (
                sid(if available { 1 } else { 2 }),
                if available { "Available" } else { "Offline" }.into(),
                available,
            ),
            channel(1),
            ts(idle_since),
        )
    }

    fn model(workflow: &str) -> Model {
        let mut m = Model::new(true, QueueOrder::Fifo);
        for (q, target, order) in [
            (Q1, "1==1", QueueOrder::Fifo),
            (Q2, "skills HAS 'es'", QueueOrder::Lifo),
        ] {
            m.put_queue(QueueState {
                sid: q.parse().unwrap(),
                friendly_name: q.into(),
                target: Expr::parse(target).unwrap(),
                order,
                max_reserved: 1,
                reservation_activity: None,
                assignment_activity: None,
                members: HashSet::new(),
            });
        }
        m.put_workflow(
            sid(9),
            Some(config(workflow)),
            DEFAULT_RESERVATION_TIMEOUT_SECS,
        );
        m
    }

    fn task(m: &mut Model, n: u8, attrs: Value, priority: i64, start: i64) -> TaskSid {
        let workflow: WorkflowSid = sid(9);
        let config = m.workflow(&workflow).unwrap();
        let step = config.entry(&attrs).unwrap();
        let queue = config.step(step).unwrap().queue.clone();
        let t = TaskState {
            sid: sid(n),
            attributes: attrs,
            priority,
            channel: sid(1),
            route: Route::Workflow { workflow, step },
            queue: Some(queue),
            virtual_start_time: ts(start),
            seq: n as i64,
            pending: HashSet::new(),
            refused_by: HashSet::new(),
            callback_failures: HashMap::new(),
            reserved_at: HashMap::new(),
            date_created: ts(start),
            step_entered: Some(ts(start)),
            ttl_secs: 86_400,
            assignment_count: 0,
        };
        m.put_task(t);
        sid(n)
    }

    const SIMPLE: &str = r#"{"task_routing":{"filters":[{"expression":"lang == 'es'","targets":[{"queue":"Q2"}]}],"default_filter":{"queue":"Q1"}}}"#;

    #[test]
    fn longest_idle_available_member_with_room_wins() {
        let mut m = model(SIMPLE);
        m.put_worker(worker(1, json!({"skills": ["es"]}), true, 50));
        m.put_worker(worker(2, json!({"skills": ["es"]}), true, 10));
        m.put_worker(worker(3, json!({"skills": ["es"]}), false, 0));
        m.put_worker(worker(4, json!({"skills": ["en"]}), true, 0));
        let t = task(&mut m, 1, json!({"lang": "es"}), 0, 100);
        assert_eq!(m.workers_for_task(&t, ts(200)), vec![sid::<WorkerSid>(2)]);
        // Once w2 holds it, w2 has no room and the task wants no more workers.
        m.reserve(&t, &sid(2), ts(0));
        assert!(m.workers_for_task(&t, ts(200)).is_empty());
        let t2 = task(&mut m, 2, json!({"lang": "es"}), 0, 100);
        assert_eq!(m.workers_for_task(&t2, ts(200)), vec![sid::<WorkerSid>(1)]);
        // A refusal keeps the worker away from that task.
        m.update_task(&t2, |t| t.refused_by.insert(sid(1)));
        assert!(m.workers_for_task(&t2, ts(200)).is_empty());
    }

    #[test]
    fn a_failed_callback_holds_the_worker_off_the_task_for_a_bounded_backoff() {
        let secs = |n| callback_backoff(n).as_millis() / 1000;
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 1000].map(secs),
            [5, 10, 20, 40, 60, 60, 60]
        );
        let mut m = model(SIMPLE);
        m.put_worker(worker(1, json!({"skills": ["es"]}), true, 10));
        m.put_worker(worker(2, json!({"skills": ["es"]}), true, 50));
        let t = task(&mut m, 1, json!({"lang": "es"}), 0, 100);
        assert_eq!(m.workers_for_task(&t, ts(200)), vec![sid::<WorkerSid>(1)]);
        m.update_task(&t, |t| {
            let f = CallbackFailures::after(None, ts(200));
            t.callback_failures.insert(sid(1), f)
        });
        assert_eq!(
            m.workers_for_task(&t, ts(204)),
            vec![sid::<WorkerSid>(2)],
            "another worker meanwhile"
        );
        assert_eq!(
            m.next_due(ts(205)),
            Some((
                ts(205),
                Timer::CallbackRetry {
                    task: t.clone(),
                    worker: sid(1)
                }
            ))
        );
        assert_eq!(m.workers_for_task(&t, ts(205)), vec![sid::<WorkerSid>(1)]);
        m.update_task(&t, |t| {
            let f = t.callback_failures.get_mut(&sid(1)).unwrap();
            f.until = None;
        });
        assert_ne!(
            m.next_due(ts(205)).map(|(_, timer)| timer),
            Some(Timer::CallbackRetry {
                task: t.clone(),
                worker: sid(1)
            }),
            "a retry fires once"
        );
    }

    #[test]
    fn capacity_and_channel_availability() {
        let mut m = model(SIMPLE);
        let mut w = worker(1, json!({}), true, 0);
        w.channels.get_mut(&sid(1)).unwrap().capacity = 2;
        m.put_worker(w);
        let a = task(&mut m, 1, json!({}), 0, 1);
        let b = task(&mut m, 2, json!({}), 0, 2);
        let c = task(&mut m, 3, json!({}), 0, 3);
        m.reserve(&a, &sid(1), ts(0));
        assert_eq!(m.workers_for_task(&b, ts(10)), vec![sid::<WorkerSid>(1)]);
        m.reserve(&b, &sid(1), ts(0));
        assert!(
            m.workers_for_task(&c, ts(10)).is_empty(),
            "capacity 2 reached"
        );
        m.move_load(
            &sid(1),
            &sid(1),
            ReservationStatus::Pending,
            ReservationStatus::Completed,
            ts(11),
        );
        assert_eq!(m.workers_for_task(&c, ts(10)), vec![sid::<WorkerSid>(1)]);
        m.workers
            .get_mut(&sid(1))
            .unwrap()
            .channels
            .get_mut(&sid(1))
            .unwrap()
            .available = false;
        assert!(
            m.workers_for_task(&c, ts(10)).is_empty(),
            "channel unavailable"
        );
    }

    #[test]
    fn single_tasking_ignores_channel_capacity() {
        let mut m = model(SIMPLE);
        m.multi_task = false;
        let mut w = worker(1, json!({}), true, 0);
        w.channels.get_mut(&sid(1)).unwrap().capacity = 5;
        m.put_worker(w);
        let a = task(&mut m, 1, json!({}), 0, 1);
        let b = task(&mut m, 2, json!({}), 0, 2);
        m.reserve(&a, &sid(1), ts(0));
        assert!(m.workers_for_task(&b, ts(10)).is_empty());
    }

    #[test]
    fn target_expressions_known_workers_and_order_by() {
        let wf = r#"{"task_routing":{"filters":[
            {"expression":"kind == 'expr'","targets":[{"queue":"Q1","expression":"task.lang IN worker.langs AND worker.channel.default.assigned_tasks == 0"}]},
            {"expression":"kind == 'known'","targets":[{"queue":"Q1","known_worker_friendly_name":"task.agent"}]},
            {"expression":"kind == 'order'","targets":[{"queue":"Q1","order_by":"worker.level DESC"}]}]}}"#;
        let mut m = model(wf);
        m.put_worker(worker(1, json!({"langs": ["en"], "level": 1}), true, 0));
        m.put_worker(worker(2, json!({"langs": ["fr"], "level": 7}), true, 5));
        m.put_worker(worker(3, json!({"langs": ["fr"]}), true, 1));
        let t = task(&mut m, 1, json!({"kind": "expr", "lang": "fr"}), 0, 1);
        assert_eq!(
            m.workers_for_task(&t, ts(10)),
            vec![sid::<WorkerSid>(3)],
            "w3 idles longer than w2"
        );
        let t = task(&mut m, 2, json!({"kind": "known", "agent": "w2"}), 0, 1);
        assert_eq!(m.workers_for_task(&t, ts(10)), vec![sid::<WorkerSid>(2)]);
        let t = task(&mut m, 3, json!({"kind": "order"}), 0, 1);
        // Highest level first; w3 lacks the attribute and sorts last.
        m.queues
            .get_mut(&Q1.parse::<TaskQueueSid>().unwrap())
            .unwrap()
            .max_reserved = 3;
        assert_eq!(
            m.workers_for_task(&t, ts(10)),
            vec![sid::<WorkerSid>(2), sid(1), sid(3)]
        );
    }

    #[test]
    fn a_free_worker_gets_the_best_waiting_task() {
        let mut m = model(SIMPLE);
        m.put_worker(worker(1, json!({"skills": ["es"]}), true, 0));
        let old_low = task(&mut m, 1, json!({}), 1, 10);
        let new_high = task(&mut m, 2, json!({}), 5, 20);
        let _older_high = task(&mut m, 3, json!({}), 5, 30);
        assert_eq!(m.task_for_worker(&sid(1), ts(40)), Some(new_high.clone()));
        m.remove_task(&new_high);
        assert_eq!(m.task_for_worker(&sid(1), ts(40)), Some(sid(3)));
        m.remove_task(&sid(3));
        assert_eq!(m.task_for_worker(&sid(1), ts(40)), Some(old_low));
        // LIFO queue (Q2): newest first regardless of priority; FIFO queues win by default.
        let lifo_old = task(&mut m, 4, json!({"lang": "es"}), 9, 50);
        let lifo_new = task(&mut m, 5, json!({"lang": "es"}), 0, 60);
        assert_eq!(
            m.task_for_worker(&sid(1), ts(70)),
            Some(sid(1)),
            "FIFO first"
        );
        m.prioritize = QueueOrder::Lifo;
        assert_eq!(m.task_for_worker(&sid(1), ts(70)), Some(lifo_new));
        m.remove_task(&sid(5));
        assert_eq!(m.task_for_worker(&sid(1), ts(70)), Some(lifo_old));
    }

    #[test]
    fn multi_reservation_reserves_several_workers() {
        let mut m = model(SIMPLE);
        m.queues
            .get_mut(&Q1.parse::<TaskQueueSid>().unwrap())
            .unwrap()
            .max_reserved = 2;
        for n in 1..=3 {
            m.put_worker(worker(n, json!({}), true, n as i64));
        }
        let t = task(&mut m, 1, json!({}), 0, 0);
        assert_eq!(
            m.workers_for_task(&t, ts(10)),
            vec![sid::<WorkerSid>(1), sid(2)]
        );
        m.reserve(&t, &sid(1), ts(0));
        assert_eq!(m.workers_for_task(&t, ts(10)), vec![sid::<WorkerSid>(2)]);
    }

    #[test]
    fn skip_if_counts_the_step_queue_workers() {
        let wf = r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q2","skip_if":"workers.available == 0"},{"queue":"Q1"}]}]}}"#;
        let mut m = model(wf);
        m.put_worker(worker(1, json!({"skills": ["es"]}), false, 0));
        let t = task(&mut m, 1, json!({}), 0, 0);
        assert!(m.should_skip(m.task(&t).unwrap()));
        m.put_worker(worker(2, json!({"skills": ["es"]}), true, 0));
        assert!(!m.should_skip(m.task(&t).unwrap()));
    }

    #[test]
    fn queue_membership_follows_attributes() {
        let mut m = model(SIMPLE);
        m.put_worker(worker(1, json!({"skills": ["en"]}), true, 0));
        let q2: TaskQueueSid = Q2.parse().unwrap();
        assert!(!m.queues[&q2].members.contains(&sid(1)));
        m.put_worker(worker(1, json!({"skills": ["es"]}), true, 0));
        assert!(m.queues[&q2].members.contains(&sid(1)));
        m.remove_worker(&sid(1));
        assert!(m.queues[&q2].members.is_empty());
    }

    #[test]
    fn direct_worker_routing_can_ignore_capacity() {
        let mut m = model(SIMPLE);
        m.put_worker(worker(1, json!({}), false, 0));
        let t = task(&mut m, 1, json!({}), 0, 0);
        m.update_task(&t, |t| {
            t.route = Route::Worker {
                worker: sid(1),
                ignore_capacity: true,
            }
        });
        assert_eq!(m.workers_for_task(&t, ts(1)), vec![sid::<WorkerSid>(1)]);
        m.update_task(&t, |t| {
            t.route = Route::Worker {
                worker: sid(1),
                ignore_capacity: false,
            }
        });
        assert!(m.workers_for_task(&t, ts(1)).is_empty());
    }

    #[test]
    fn timers_fall_due_by_deadline_then_creation_order() {
        let wf = r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q1","timeout":300},{"priority":5}]}]}}"#;
        let mut m = model(wf);
        m.put_worker(worker(1, json!({}), true, 0));
        let t = task(&mut m, 1, json!({}), 0, 0);
        m.update_task(&t, |t| t.ttl_secs = 1000);
        // Created at 0: the step ends at 300 (task age), the TTL at 1000.
        assert_eq!(m.next_deadline(), Some(ts(300)));
        assert_eq!(m.next_due(ts(299)), None);
        assert_eq!(
            m.next_due(ts(300)),
            Some((ts(300), Timer::Step { task: t.clone() }))
        );
        // A reservation made at 250 times out at 370, after the step.
        m.reserve(&t, &sid(1), ts(250));
        assert_eq!(
            m.next_due(ts(400)),
            Some((ts(300), Timer::Step { task: t.clone() }))
        );
        m.update_task(&t, |t| {
            t.route = Route::Workflow {
                workflow: sid(9),
                step: StepRef {
                    filter: Some(0),
                    step: 1,
                },
            }
        });
        assert_eq!(
            m.next_due(ts(400)),
            Some((
                ts(370),
                Timer::Reservation {
                    task: t.clone(),
                    worker: sid(1)
                }
            ))
        );
        m.end_pending(&t, &sid(1));
        // The last step has no timeout: only the TTL is left.
        assert_eq!(m.next_deadline(), Some(ts(1000)));
        assert_eq!(
            m.next_due(ts(1000)),
            Some((ts(1000), Timer::Ttl { task: t.clone() }))
        );
        // Ties: the older task first.
        let u = task(&mut m, 2, json!({}), 0, 0);
        m.update_task(&u, |t| t.ttl_secs = 1000);
        m.update_task(&u, |t| {
            t.route = Route::Workflow {
                workflow: sid(9),
                step: StepRef {
                    filter: Some(0),
                    step: 1,
                },
            }
        });
        assert_eq!(
            m.next_due(ts(1000)),
            Some((ts(1000), Timer::Ttl { task: t.clone() }))
        );
        // A task that leaves routing takes its timers with it.
        m.remove_task(&t);
        assert_eq!(
            m.next_due(ts(1000)),
            Some((ts(1000), Timer::Ttl { task: u.clone() }))
        );
        assert_eq!(m.timer_count(), 1);
        m.remove_task(&u);
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn direct_routes_use_the_default_reservation_timeout() {
        let mut m = model(SIMPLE);
        m.put_worker(worker(1, json!({}), false, 0));
        let t = task(&mut m, 1, json!({}), 0, 0);
        m.update_task(&t, |t| {
            t.route = Route::Worker {
                worker: sid(1),
                ignore_capacity: true,
            }
        });
        m.reserve(&t, &sid(1), ts(10));
        assert_eq!(m.next_deadline(), Some(ts(130)));
    }

    /// What `task_for_worker` answered before the waiting sets: every task, scanned.
    fn task_for_worker_by_scan(m: &Model, sid: &WorkerSid, now: Timestamp) -> Option<TaskSid> {
        let w = m.workers.get(sid)?;
        let mut best: Option<(&TaskState, QueueOrder)> = None;
        for t in m.tasks.values() {
            if m.wanted(t) == 0 || !m.eligible(t, w, now) {
                continue;
            }
            let order = m.order_of(t);
            best = match best {
                Some((b, bo)) if !m.prefer(t, order, b, bo) => Some((b, bo)),
                _ => Some((t, order)),
            };
        }
        best.map(|(t, _)| t.sid.clone())
    }

    /// (available, speaks es, capacity on channels 1 and 2, channel 2 available, idle since)
    type WorkerSpec = (bool, bool, i64, i64, bool, i64);
    /// (route kind, speaks es, priority, start, channel, reserved by, refused by)
    type TaskSpec = (u8, bool, i64, i64, u8, Option<u8>, Option<u8>);

    proptest::proptest! {
        #[test]
        fn waiting_sets_pick_what_a_full_scan_picks(
            multi_task: bool,
            lifo_first: bool,
            max_reserved in 1i64..=2,
            reorder: bool,
            workers in proptest::collection::vec(
                (proptest::bool::ANY, proptest::bool::ANY, 0i64..=2, 0i64..=2, proptest::bool::ANY, 0i64..3),
                4,
            ),
            tasks in proptest::collection::vec(
                (0u8..4, proptest::bool::ANY, 0i64..3, 0i64..4, 1u8..=2,
                 proptest::option::of(1u8..=4), proptest::option::of(1u8..=4)),
                0..14,
            ),
            removed in proptest::collection::vec(1u8..=14, 0..3),
        ) {
            let workers: Vec<WorkerSpec> = workers;
            let tasks: Vec<TaskSpec> = tasks;
            let mut m = model(SIMPLE);
            m.multi_task = multi_task;
            m.prioritize = if lifo_first { QueueOrder::Lifo } else { QueueOrder::Fifo };
            for (i, (available, es, cap1, cap2, ch2, idle)) in workers.iter().enumerate() {
                let skills = if *es { json!({"skills": ["es"]}) } else { json!({}) };
                let mut w = worker(i as u8 + 1, skills, *available, *idle);
                w.channels.get_mut(&sid(1)).unwrap().capacity = *cap1;
                let mut second = w.channels[&sid(1)].clone();
                second.unique_name = "chat".into();
                (second.capacity, second.available) = (*cap2, *ch2);
                w.channels.insert(sid(2), second);
                m.put_worker(w);
            }
            for (i, (kind, es, priority, start, channel, reserved, refused)) in
                tasks.iter().enumerate()
            {
                let lang = if *es { "es" } else { "en" };
                let t = task(&mut m, i as u8 + 1, json!({ "lang": lang }), *priority, *start);
                m.update_task(&t, |t| {
                    t.channel = sid(*channel);
                    match kind {
                        1 => t.route = Route::Queue(t.queue.clone().unwrap()),
                        2 => {
                            t.route = Route::Worker { worker: sid(refused.unwrap_or(1)), ignore_capacity: *es };
                            t.queue = None;
                        }
                        3 => t.route = Route::Unrouted,
                        _ => {}
                    }
                    if let Some(r) = refused {
                        t.refused_by.insert(sid(*r));
                    }
                });
                if let Some(r) = reserved {
                    m.reserve(&t, &sid(*r), ts(0));
                }
            }
            // A queue change re-sorts and re-limits its waiting tasks.
            let mut q1 = m.queues[&Q1.parse::<TaskQueueSid>().unwrap()].clone();
            q1.max_reserved = max_reserved;
            if reorder {
                q1.order = QueueOrder::Lifo;
            }
            m.put_queue(q1);
            for n in removed {
                m.remove_task(&sid(n));
            }
            for n in 1..=4u8 {
                let w: WorkerSid = sid(n);
                proptest::prop_assert_eq!(
                    m.task_for_worker(&w, ts(10)),
                    task_for_worker_by_scan(&m, &w, ts(10)),
                    "worker {}", n
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn queue_members_are_the_workers_their_expression_selects(
            steps in proptest::collection::vec((proptest::bool::ANY, 0usize..6, 0usize..7), 1..30),
        ) {
            const TARGETS: [&str; 6] = [
                "skills HAS 'es'",
                "team == 3",
                "team IN [1, '2'] AND level > 1",
                "level > 2",
                "team == '3' OR skills HAS 'en'",
                "1 == 1",
            ];
            let attrs = [
                json!({}),
                json!({"skills": ["es", "en"], "team": 3}),
                json!({"skills": ["en"], "team": "3", "level": 3}),
                json!({"team": 1, "level": 2}),
                json!({"team": "2", "level": 1}),
                json!({"team": 3.0}),
                json!({"skills": "es", "team": [3]}),
            ];
            let mut m = Model::new(true, QueueOrder::Fifo);
            // Each step puts queue `i` with target `j`, or worker `i` with attributes `j`.
            for (is_queue, i, j) in steps {
                if is_queue {
                    m.put_queue(QueueState {
                        sid: sid(i as u8 + 1),
                        friendly_name: format!("q{i}"),
                        target: Expr::parse(TARGETS[j % TARGETS.len()]).unwrap(),
                        order: QueueOrder::Fifo,
                        max_reserved: 1,
                        reservation_activity: None,
                        assignment_activity: None,
                        members: HashSet::new(),
                    });
                } else {
                    m.put_worker(worker(i as u8 + 1, attrs[j].clone(), true, 0));
                }
            }
            for q in m.queues.values() {
                let expected: HashSet<WorkerSid> = m
                    .workers
                    .values()
                    .filter(|w| q.target.eval(&w.attributes))
                    .map(|w| w.sid.clone())
                    .collect();
                proptest::prop_assert_eq!(&q.members, &expected, "{}", q.target);
                for w in &expected {
                    proptest::prop_assert!(m.member_of[w].contains(&q.sid));
                }
            }
            for (w, queues) in &m.member_of {
                for q in queues {
                    proptest::prop_assert!(m.queues[q].members.contains(w));
                }
            }
        }
    }
}
