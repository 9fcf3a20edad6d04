//! The configuration resources of a workspace, as plain data.
//!
//! These are domain types, not wire types: the server maps them to Twilio's JSON. Derived fields that
//! a reader always wants next to the record (an activity's name beside its SID, a worker's
//! availability) are filled in by whoever loads the record, so callers never join by hand.

use std::fmt;
use std::str::FromStr;

use crate::routing::{ReservationStatus, StepRef, TaskStatus};
use crate::sid::{
    AccountSid, ActivitySid, ReservationSid, TaskChannelSid, TaskQueueSid, TaskSid,
    WorkerChannelSid, WorkerSid, WorkflowSid, WorkspaceSid,
};
use crate::Timestamp;

/// Longest `FriendlyName` Twilio accepts for workspaces, activities, workers and task channels.
pub const MAX_FRIENDLY_NAME_LEN: usize = 64;
/// Longest `Attributes` JSON document (characters, whitespace included) for workers and tasks.
pub const MAX_ATTRIBUTES_LEN: usize = 4096;
/// Largest per-channel capacity of a worker.
pub const MAX_CHANNEL_CAPACITY: i64 = 50;
/// Range of a queue's `MaxReservedWorkers`.
pub const MAX_RESERVED_WORKERS: std::ops::RangeInclusive<i64> = 1..=50;
/// Default and largest workflow `TaskReservationTimeout`, in seconds.
pub const DEFAULT_RESERVATION_TIMEOUT_SECS: i64 = 120;
/// Largest workflow `TaskReservationTimeout`, in seconds.
pub const MAX_RESERVATION_TIMEOUT_SECS: i64 = 86_400;
/// The TargetWorkers expression of a queue created without one: every worker.
pub const DEFAULT_TARGET_WORKERS: &str = "1==1";

/// FIFO or LIFO: a queue's task order, and a workspace's preference between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueOrder {
    /// Oldest (highest priority) task first.
    #[default]
    Fifo,
    /// Newest task first, ignoring priority.
    Lifo,
}

impl QueueOrder {
    /// The wire spelling (`FIFO`, `LIFO`).
    pub fn as_str(self) -> &'static str {
        match self {
            QueueOrder::Fifo => "FIFO",
            QueueOrder::Lifo => "LIFO",
        }
    }
}

impl fmt::Display for QueueOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueOrder {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "FIFO" => Ok(QueueOrder::Fifo),
            "LIFO" => Ok(QueueOrder::Lifo),
            _ => Err(()),
        }
    }
}

/// A workspace: the container of everything else.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    /// Its SID.
    pub sid: WorkspaceSid,
    /// The owning account.
    pub account_sid: AccountSid,
    /// Display name.
    pub friendly_name: String,
    /// Activity given to new workers.
    pub default_activity_sid: ActivitySid,
    /// Name of [`Self::default_activity_sid`].
    pub default_activity_name: String,
    /// Activity a worker moves to when a reservation times out.
    pub timeout_activity_sid: ActivitySid,
    /// Name of [`Self::timeout_activity_sid`].
    pub timeout_activity_name: String,
    /// Where events are POSTed, if anywhere.
    pub event_callback_url: Option<String>,
    /// Comma-separated event types to POST; all when `None`.
    pub events_filter: Option<String>,
    /// Multitasking (per-channel capacity) rather than legacy single-tasking.
    pub multi_task_enabled: bool,
    /// Which queues a worker in both kinds drains first.
    pub prioritize_queue_order: QueueOrder,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// An activity: a state a worker is in, available for work or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Its SID.
    pub sid: ActivitySid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// Display name, unique within the workspace.
    pub friendly_name: String,
    /// Whether workers in it can be reserved. Fixed at creation.
    pub available: bool,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// A task channel: a kind of work with its own per-worker capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskChannel {
    /// Its SID.
    pub sid: TaskChannelSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// Display name.
    pub friendly_name: String,
    /// Unique name (`voice`, `chat`, ...), usable in place of the SID.
    pub unique_name: String,
    /// Prefer the workers idle longest on this channel.
    pub channel_optimized_routing: bool,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// The task channels every new workspace starts with: (friendly name, unique name).
pub const DEFAULT_TASK_CHANNELS: [(&str, &str); 5] = [
    ("Default", "default"),
    ("Voice", "voice"),
    ("Chat", "chat"),
    ("SMS", "sms"),
    ("Video", "video"),
];

/// Whether `name` is a valid task channel unique name: letters, digits, `_` and `$`, not starting
/// with a digit.
pub fn is_valid_unique_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A worker: a person or program that takes tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// Its SID.
    pub sid: WorkerSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// Display name, unique within the workspace regardless of case.
    pub friendly_name: String,
    /// Current activity.
    pub activity_sid: ActivitySid,
    /// Name of the current activity.
    pub activity_name: String,
    /// Whether the current activity is available.
    pub available: bool,
    /// The attributes JSON object, as the client sent it.
    pub attributes: String,
    /// When the activity last changed.
    pub date_status_changed: Timestamp,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
    /// Incremented on every change; exposed as the ETag.
    pub version: i64,
    /// When it last ran out of work (activity change or last reservation ended).
    pub idle_since: Timestamp,
}

/// A worker's capacity on one task channel.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerChannel {
    /// Its SID.
    pub sid: WorkerChannelSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// The worker.
    pub worker_sid: WorkerSid,
    /// The task channel.
    pub task_channel_sid: TaskChannelSid,
    /// Unique name of the task channel.
    pub task_channel_unique_name: String,
    /// How many tasks of this channel the worker may hold at once.
    pub configured_capacity: i64,
    /// Whether the channel takes new tasks.
    pub available: bool,
    /// Accepted reservations on this channel.
    pub assigned_tasks: i64,
    /// Pending, accepted and wrapping reservations on this channel.
    pub active_reservations: i64,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

impl WorkerChannel {
    /// `floor((1 - reservations / capacity) * 100)`, Twilio's formula; 0 when the capacity is 0.
    pub fn available_capacity_percentage(&self) -> i64 {
        if self.configured_capacity <= 0 {
            return 0;
        }
        let free = (self.configured_capacity - self.active_reservations).max(0);
        free * 100 / self.configured_capacity
    }
}

/// A task queue: the set of workers its `TargetWorkers` expression selects.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskQueue {
    /// Its SID.
    pub sid: TaskQueueSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// Display name, unique within the workspace.
    pub friendly_name: String,
    /// Expression over worker attributes selecting the queue's workers.
    pub target_workers: String,
    /// How many workers one task may reserve at once.
    pub max_reserved_workers: i64,
    /// FIFO or LIFO.
    pub task_order: QueueOrder,
    /// Activity a single-tasking worker moves to when reserved, with its name.
    pub reservation_activity: Option<(ActivitySid, String)>,
    /// Activity a single-tasking worker moves to when it accepts, with its name.
    pub assignment_activity: Option<(ActivitySid, String)>,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// A workflow: the routing configuration and where assignment callbacks go.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Its SID.
    pub sid: WorkflowSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// Display name.
    pub friendly_name: String,
    /// The configuration JSON, as the client sent it.
    pub configuration: String,
    /// Where assignment callbacks go.
    pub assignment_callback_url: Option<String>,
    /// Where assignment callbacks go when the first URL fails.
    pub fallback_assignment_callback_url: Option<String>,
    /// Seconds a reservation may stay pending.
    pub task_reservation_timeout: i64,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// Default task TTL (`Timeout`), in seconds.
pub const DEFAULT_TASK_TIMEOUT_SECS: i64 = 86_400;
/// Largest task TTL, in seconds.
pub const MAX_TASK_TIMEOUT_SECS: i64 = 1_209_600;
/// Largest task priority.
pub const MAX_PRIORITY: i64 = 2_147_483_647;
/// Reservations a task may go through before it is canceled.
pub const MAX_ASSIGNMENT_COUNT: i64 = 1_000;

/// A task: a unit of work routed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Its SID.
    pub sid: TaskSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// The workflow routing it, with its name.
    pub workflow: Option<(WorkflowSid, String)>,
    /// The attributes JSON object, as the client sent it.
    pub attributes: String,
    /// Life-cycle state.
    pub assignment_status: TaskStatus,
    /// Current priority.
    pub priority: i64,
    /// Seconds it may wait for assignment.
    pub timeout: i64,
    /// Its channel, with the channel's unique name.
    pub task_channel: (TaskChannelSid, String),
    /// The queue it is in, with its name.
    pub task_queue: Option<(TaskQueueSid, String)>,
    /// When it entered that queue.
    pub task_queue_entered_date: Option<Timestamp>,
    /// Ordering time.
    pub virtual_start_time: Timestamp,
    /// Why it was canceled or completed.
    pub reason: Option<String>,
    /// `RoutingTarget` given at creation.
    pub routing_target: Option<String>,
    /// `IgnoreCapacity` given at creation.
    pub ignore_capacity: Option<bool>,
    /// Where it is in its workflow.
    pub step: Option<StepRef>,
    /// When it entered `step`: the step's timeout counts from here.
    pub step_entered: Option<Timestamp>,
    /// How many reservations it has gone through.
    pub assignment_count: i64,
    /// Add-ons data (always `{}` here).
    pub addons: String,
    /// Incremented on every change; exposed as the ETag.
    pub version: i64,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// A reservation: one task offered to one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    /// Its SID.
    pub sid: ReservationSid,
    /// The workspace it belongs to.
    pub workspace_sid: WorkspaceSid,
    /// The task.
    pub task_sid: TaskSid,
    /// The worker.
    pub worker_sid: WorkerSid,
    /// The worker's friendly name when reserved.
    pub worker_name: String,
    /// The queue the task was in.
    pub task_queue_sid: Option<TaskQueueSid>,
    /// The task's channel.
    pub task_channel_sid: TaskChannelSid,
    /// Life-cycle state.
    pub status: ReservationStatus,
    /// The worker's activity before the reservation moved it (single-tasking).
    pub previous_activity_sid: Option<ActivitySid>,
    /// The instruction that accepted it, if any (`dequeue`, `call`, ...).
    pub instruction: Option<String>,
    /// Incremented on every change; exposed as the ETag.
    pub version: i64,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
}

/// Every event type TaskRouter documents, for validating a workspace's `EventsFilter`.
pub const EVENT_TYPES: &[&str] = &[
    "activity.created",
    "activity.updated",
    "activity.deleted",
    "reservation.created",
    "reservation.accepted",
    "reservation.rejected",
    "reservation.timeout",
    "reservation.canceled",
    "reservation.rescinded",
    "reservation.completed",
    "reservation.failed",
    "reservation.wrapup",
    "task.created",
    "task.updated",
    "task.canceled",
    "task.wrapup",
    "task.completed",
    "task.deleted",
    "task.system-deleted",
    "task.transfer-initiated",
    "task.transfer-attempt-failed",
    "task.transfer-failed",
    "task.transfer-canceled",
    "task.transfer-completed",
    "task-channel.created",
    "task-channel.updated",
    "task-channel.deleted",
    "task-queue.created",
    "task-queue.deleted",
    "task-queue.entered",
    "task-queue.timeout",
    "task-queue.moved",
    "task-queue.expression.updated",
    "worker.created",
    "worker.activity.update",
    "worker.attributes.update",
    "worker.capacity.update",
    "worker.channel.availability.update",
    "worker.deleted",
    "workflow.created",
    "workflow.updated",
    "workflow.deleted",
    "workflow.target-matched",
    "workflow.entered",
    "workflow.timeout",
    "workflow.skipped",
    "workspace.created",
    "workspace.updated",
    "workspace.deleted",
];

/// Whether `url` is an absolute `http` or `https` URL with a host.
pub fn is_http_url(text: &str) -> bool {
    // The URL parser forgives what a callback URL should not hold (spaces are escaped).
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    url::Url::parse(text).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Parses a worker's or task's attributes: they must be a JSON object of at most
/// [`MAX_ATTRIBUTES_LEN`] characters. The error says what is wrong with them, worded to follow
/// the field's name ("must be a JSON object").
pub fn parse_attributes(text: &str) -> Result<serde_json::Value, String> {
    if text.chars().count() > MAX_ATTRIBUTES_LEN {
        return Err(format!("must be at most {MAX_ATTRIBUTES_LEN} characters"));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err("must be a JSON object".to_owned()),
        Err(e) => Err(format!("is not valid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names() {
        for ok in ["voice", "_x", "$a1", "Chat_2"] {
            assert!(is_valid_unique_name(ok), "{ok}");
        }
        for bad in ["", "1voice", "vo-ice", "vo ice", "vóice"] {
            assert!(!is_valid_unique_name(bad), "{bad}");
        }
    }

    #[test]
    fn attributes_must_be_an_object_within_the_limit() {
        assert!(parse_attributes(r#"{"a":1}"#).is_ok());
        assert_eq!(
            parse_attributes("[1]").unwrap_err(),
            "must be a JSON object"
        );
        assert!(parse_attributes("{")
            .unwrap_err()
            .starts_with("is not valid JSON"));
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_ATTRIBUTES_LEN));
        assert!(parse_attributes(&big).unwrap_err().contains("at most 4096"));
    }

    #[test]
    fn http_urls() {
        for ok in [
            "http://localhost:3000/cb",
            "https://example.com",
            "http://127.0.0.1/a?b=c",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in ["", "ftp://x", "http://", "localhost:3000", "http://a b"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn capacity_percentage() {
        let mut ch = WorkerChannel {
            sid: WorkerChannelSid::from_bytes([0; 16]),
            workspace_sid: WorkspaceSid::from_bytes([0; 16]),
            worker_sid: WorkerSid::from_bytes([0; 16]),
            task_channel_sid: TaskChannelSid::from_bytes([0; 16]),
            task_channel_unique_name: "chat".into(),
            configured_capacity: 3,
            available: true,
            assigned_tasks: 0,
            active_reservations: 1,
            date_created: Timestamp::default(),
            date_updated: Timestamp::default(),
        };
        assert_eq!(ch.available_capacity_percentage(), 66);
        ch.configured_capacity = 0;
        assert_eq!(ch.available_capacity_percentage(), 0);
    }
}
