//! The payloads the Worker SDK builds its objects from: not the public REST shapes. Dates are
//! Unix seconds (`last_reserved_time` milliseconds), attributes and add-ons JSON strings, and
//! every field the SDK's descriptors require is present (its `*Properties` lists: a missing one
//! makes it throw).

use serde_json::{json, Value};
use switchyard_core::model::{
    Activity, QueueOrder, Reservation, Task, TaskQueue, Worker, WorkerChannel,
};
use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;

fn secs(t: Timestamp) -> i64 {
    t.as_secs()
}

/// A worker.
pub(crate) fn worker(account: &AccountSid, w: &Worker) -> Value {
    json!({
        "account_sid": account.to_string(),
        "workspace_sid": w.workspace_sid.to_string(),
        "sid": w.sid.to_string(),
        "friendly_name": w.friendly_name,
        "activity_sid": w.activity_sid.to_string(),
        "activity_name": w.activity_name,
        "available": w.available,
        "attributes": w.attributes,
        "date_created": secs(w.date_created),
        "date_updated": secs(w.date_updated),
        "date_status_changed": secs(w.date_status_changed),
        "version": w.version.to_string(),
    })
}

/// An activity.
pub(crate) fn activity(account: &AccountSid, a: &Activity) -> Value {
    json!({
        "account_sid": account.to_string(),
        "workspace_sid": a.workspace_sid.to_string(),
        "sid": a.sid.to_string(),
        "friendly_name": a.friendly_name,
        "available": a.available,
        "date_created": secs(a.date_created),
        "date_updated": secs(a.date_updated),
    })
}

/// A task queue.
pub(crate) fn task_queue(account: &AccountSid, q: &TaskQueue) -> Value {
    let (reservation_sid, reservation_name) = q.reservation_activity.clone().unzip();
    let (assignment_sid, assignment_name) = q.assignment_activity.clone().unzip();
    json!({
        "account_sid": account.to_string(),
        "workspace_sid": q.workspace_sid.to_string(),
        "sid": q.sid.to_string(),
        "friendly_name": q.friendly_name,
        "target_workers": q.target_workers,
        "max_reserved_workers": q.max_reserved_workers,
        "task_order": q.task_order.as_str(),
        "lifo_queue": q.task_order == QueueOrder::Lifo,
        "reservation_activity_sid": reservation_sid.map(|s| s.to_string()),
        "reservation_activity_name": reservation_name,
        "assignment_activity_sid": assignment_sid.map(|s| s.to_string()),
        "assignment_activity_name": assignment_name,
        "date_created": secs(q.date_created),
        "date_updated": secs(q.date_updated),
    })
}

/// A worker's channel.
pub(crate) fn channel(account: &AccountSid, c: &WorkerChannel) -> Value {
    let free = if c.configured_capacity > 0 {
        ((c.configured_capacity - c.active_reservations).max(0) * 100) / c.configured_capacity
    } else {
        0
    };
    json!({
        "account_sid": account.to_string(),
        "workspace_sid": c.workspace_sid.to_string(),
        "sid": c.sid.to_string(),
        "worker_sid": c.worker_sid.to_string(),
        "task_channel_sid": c.task_channel_sid.to_string(),
        "task_channel_unique_name": c.task_channel_unique_name,
        "configured_capacity": c.configured_capacity,
        "available": c.available,
        "assigned_tasks": c.assigned_tasks,
        "available_capacity_percentage": free,
        "last_reserved_time": Value::Null,
        "date_created": secs(c.date_created),
        "date_updated": secs(c.date_updated),
    })
}

/// A task, its age counted to `now`.
pub(crate) fn task(account: &AccountSid, t: &Task, now: Timestamp) -> Value {
    json!({
        "account_sid": account.to_string(),
        "workspace_sid": t.workspace_sid.to_string(),
        "sid": t.sid.to_string(),
        "attributes": t.attributes,
        "addons": t.addons,
        "age": (now.as_secs() - t.date_created.as_secs()).max(0),
        "assignment_status": t.assignment_status.as_str(),
        "priority": t.priority,
        "timeout": t.timeout,
        "reason": t.reason,
        "routing_target": t.routing_target,
        "task_channel_sid": t.task_channel.0.to_string(),
        "task_channel_unique_name": t.task_channel.1,
        "queue_sid": t.task_queue.as_ref().map(|q| q.0.to_string()),
        "queue_name": t.task_queue.as_ref().map(|q| q.1.clone()),
        "workflow_sid": t.workflow.as_ref().map(|w| w.0.to_string()),
        "workflow_name": t.workflow.as_ref().map(|w| w.1.clone()),
        "virtual_start_time": secs(t.virtual_start_time),
        "date_created": secs(t.date_created),
        "date_updated": secs(t.date_updated),
        "version": t.version.to_string(),
    })
}

/// A reservation, with its task when known (replies to updates may leave it out).
pub(crate) fn reservation(
    account: &AccountSid,
    r: &Reservation,
    task: Option<&Task>,
    timeout_secs: i64,
    now: Timestamp,
) -> Value {
    json!({
        "account_sid": account.to_string(),
        "workspace_sid": r.workspace_sid.to_string(),
        "sid": r.sid.to_string(),
        "worker_sid": r.worker_sid.to_string(),
        "task_sid": r.task_sid.to_string(),
        "reservation_status": r.status.as_str(),
        "reservation_timeout": timeout_secs,
        "date_created": secs(r.date_created),
        "date_updated": secs(r.date_updated),
        "version": r.version.to_string(),
        "task": task.map_or(Value::Null, |t| self::task(account, t, now)),
    })
}
