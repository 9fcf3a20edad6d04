//! The events each change records, built from the rows it writes. The caller supplies each
//! event's SID, so the same decision builds the same events.

use super::Event;
use crate::decide::Mint;
use crate::model::{
    Activity, Reservation, Task, TaskChannel, TaskQueue, Worker, WorkerChannel, Workflow, Workspace,
};
use crate::routing::StepRef;
use crate::sid::{EventSid, TaskQueueSid};
use crate::Timestamp;

/// A task event (`task.created`, `task.canceled`, ...).
pub fn task(sid: EventSid, ws: &Workspace, kind: &str, t: &Task, now: Timestamp) -> Event {
    let what = kind.strip_prefix("task.").unwrap_or(kind);
    let description = match &t.reason {
        Some(reason) if matches!(what, "canceled" | "completed") => {
            format!("Task {} {what}: {reason}", t.sid)
        }
        _ => format!("Task {} {what}", t.sid),
    };
    Event::new(sid, ws, kind, ("task", t.sid.as_str()), description, now).with_task(t, now)
}

/// A reservation event, with the task's fields and the worker's (all of them when `worker` is
/// known, else the SID and name the reservation carries).
pub fn reservation(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    r: &Reservation,
    t: &Task,
    worker: Option<&Worker>,
    now: Timestamp,
) -> Event {
    let what = kind.strip_prefix("reservation.").unwrap_or(kind);
    let description = format!(
        "Reservation {} {what} for Worker {} and Task {}",
        r.sid, r.worker_name, t.sid
    );
    let e = Event::new(
        sid,
        ws,
        kind,
        ("reservation", r.sid.as_str()),
        description,
        now,
    )
    .with_task(t, now)
    .with_reservation(r);
    match worker {
        Some(w) => e.with_worker(w),
        None => e
            .with("worker_sid", r.worker_sid.as_str())
            .with("worker_name", r.worker_name.clone()),
    }
}

/// The same reservation event for each of `rs`, all of one task.
pub fn reservations<'a>(
    mint: &mut impl Mint,
    ws: &Workspace,
    kind: &str,
    rs: impl IntoIterator<Item = &'a Reservation>,
    t: &Task,
    now: Timestamp,
) -> Vec<Event> {
    rs.into_iter()
        .map(|r| reservation(mint.sid(), ws, kind, r, t, None, now))
        .collect()
}

/// `worker.activity.update`: `after` is the worker in its new activity, `before` as it was.
pub fn worker_activity(
    sid: EventSid,
    ws: &Workspace,
    before: &Worker,
    after: &Worker,
    now: Timestamp,
) -> Event {
    let description = format!(
        "Worker {} updated to {} Activity",
        after.friendly_name, after.activity_name
    );
    Event::new(
        sid,
        ws,
        "worker.activity.update",
        ("worker", after.sid.as_str()),
        description,
        now,
    )
    .with_worker(after)
    .with_previous_activity(before, now)
}

/// A worker event other than an activity change (`worker.attributes.update`, ...).
pub fn worker(sid: EventSid, ws: &Workspace, kind: &str, w: &Worker, now: Timestamp) -> Event {
    let what = kind
        .strip_prefix("worker.")
        .unwrap_or(kind)
        .replace('.', " ");
    let description = format!("Worker {} {what}", w.friendly_name);
    Event::new(sid, ws, kind, ("worker", w.sid.as_str()), description, now).with_worker(w)
}

/// A queue event about a task (`task-queue.entered`, `task-queue.timeout`, `task-queue.moved`),
/// naming the queue the task is in (`entered`, `moved`) or left (`timeout`): `queue`.
pub fn queue(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    t: &Task,
    queue: &(TaskQueueSid, String),
    now: Timestamp,
) -> Event {
    let what = kind.strip_prefix("task-queue.").unwrap_or(kind);
    let description = format!("Task {} {what} TaskQueue {}", t.sid, queue.1);
    Event::new(
        sid,
        ws,
        kind,
        ("taskqueue", queue.0.as_str()),
        description,
        now,
    )
    .with_task(t, now)
    .with_queue(&queue.0, &queue.1)
}

/// A workflow event about a task (`workflow.entered`, `workflow.target-matched`,
/// `workflow.timeout`, `workflow.skipped`); `step` names the filter and target it concerns.
pub fn workflow(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    t: &Task,
    step: Option<(StepRef, Option<&str>)>,
    now: Timestamp,
) -> Event {
    let Some((workflow, name)) = &t.workflow else {
        return task(sid, ws, kind, t, now);
    };
    let what = kind.strip_prefix("workflow.").unwrap_or(kind);
    let description = format!("Task {} {what} in Workflow {name}", t.sid);
    let mut e = Event::new(
        sid,
        ws,
        kind,
        ("workflow", workflow.as_str()),
        description,
        now,
    )
    .with_task(t, now)
    .with_workflow(workflow, name);
    if let Some((at, filter_name)) = step {
        e = e.with("workflow_target_index", at.step.to_string());
        e = match (at.filter, filter_name) {
            (Some(_), Some(label)) => e.with("workflow_filter_name", label),
            (None, _) => e.with("workflow_filter_name", "Default Filter"),
            (Some(i), None) => e.with("workflow_filter_name", format!("filter {i}")),
        };
    }
    e
}

/// A configuration event: `kind` happened to the resource `(type, sid)`, which people know as
/// `"{label} {name}"` (`TaskQueue Support`).
fn configuration(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    resource: (&str, &str),
    label: &str,
    name: &str,
    now: Timestamp,
) -> Event {
    // `task-queue.expression.updated` reads "expression updated".
    let what = kind
        .split_once('.')
        .map_or(kind, |(_, w)| w)
        .replace('.', " ");
    Event::new(
        sid,
        ws,
        kind,
        resource,
        format!("{label} {name} {what}"),
        now,
    )
}

/// `workspace.created`, `workspace.updated`: the workspace group is every event's.
pub fn workspace(sid: EventSid, ws: &Workspace, kind: &str, now: Timestamp) -> Event {
    let name = ws.friendly_name.as_str();
    configuration(
        sid,
        ws,
        kind,
        ("workspace", ws.sid.as_str()),
        "Workspace",
        name,
        now,
    )
}

/// `activity.created|updated|deleted`, with the activity group.
pub fn activity(sid: EventSid, ws: &Workspace, kind: &str, a: &Activity, now: Timestamp) -> Event {
    let resource = ("activity", a.sid.as_str());
    configuration(sid, ws, kind, resource, "Activity", &a.friendly_name, now)
        .with("activity_sid", a.sid.as_str())
        .with("activity_name", a.friendly_name.clone())
        .with("activity_available", a.available.to_string())
}

/// `task-channel.created|updated|deleted`, with the task channel group.
pub fn task_channel(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    c: &TaskChannel,
    now: Timestamp,
) -> Event {
    let resource = ("taskchannel", c.sid.as_str());
    configuration(sid, ws, kind, resource, "TaskChannel", &c.unique_name, now)
        .with("task_channel_sid", c.sid.as_str())
        .with("task_channel_name", c.friendly_name.clone())
        .with("task_channel_unique_name", c.unique_name.clone())
        .with(
            "task_channel_optimized_routing",
            c.channel_optimized_routing.to_string(),
        )
}

/// `task-queue.created|deleted|expression.updated`, with the queue group.
pub fn task_queue(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    q: &TaskQueue,
    now: Timestamp,
) -> Event {
    let resource = ("taskqueue", q.sid.as_str());
    configuration(sid, ws, kind, resource, "TaskQueue", &q.friendly_name, now)
        .with_queue(&q.sid, &q.friendly_name)
        .with("task_queue_target_expression", q.target_workers.clone())
}

/// `workflow.created|updated|deleted`, with the workflow group.
pub fn workflow_configuration(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    f: &Workflow,
    now: Timestamp,
) -> Event {
    let resource = ("workflow", f.sid.as_str());
    configuration(sid, ws, kind, resource, "Workflow", &f.friendly_name, now)
        .with_workflow(&f.sid, &f.friendly_name)
}

/// `worker.capacity.update` or `worker.channel.availability.update`: the worker group and the
/// channel's, `after` the change and with the capacity it had `before`.
pub fn worker_channel(
    sid: EventSid,
    ws: &Workspace,
    kind: &str,
    w: &Worker,
    before: &WorkerChannel,
    after: &WorkerChannel,
    now: Timestamp,
) -> Event {
    worker(sid, ws, kind, w, now)
        .with("task_channel_sid", after.task_channel_sid.as_str())
        .with(
            "task_channel_unique_name",
            after.task_channel_unique_name.clone(),
        )
        .with("worker_channel_available", after.available.to_string())
        .with(
            "worker_channel_available_capacity",
            after.configured_capacity.to_string(),
        )
        .with(
            "worker_channel_previous_capacity",
            before.configured_capacity.to_string(),
        )
        .with(
            "worker_channel_task_count",
            after.assigned_tasks.to_string(),
        )
}
