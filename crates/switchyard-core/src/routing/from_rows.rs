//! The model's state built from stored rows: what loading a workspace, and each change to a
//! worker, queue or task, puts into the model.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{ChannelState, QueueState, Route, TaskState, WorkerState};
use crate::expr::Expr;
use crate::model::{Task, TaskQueue, Worker};
use crate::sid::TaskChannelSid;

/// Compiles a stored expression; one that no longer parses matches nobody rather than failing.
fn compile(text: &str) -> Expr {
    Expr::parse(text)
        .unwrap_or_else(|_| Expr::parse("1 == 0").expect("a constant expression parses"))
}

/// A worker channel's state with nothing reserved on it yet.
pub fn channel_state(unique_name: String, capacity: i64, available: bool) -> ChannelState {
    ChannelState {
        unique_name,
        capacity,
        available,
        pending: 0,
        assigned: 0,
        wrapping: 0,
    }
}

/// A queue's state (its members are filled in as workers are put).
pub fn queue_state(q: &TaskQueue) -> QueueState {
    QueueState {
        sid: q.sid.clone(),
        friendly_name: q.friendly_name.clone(),
        target: compile(&q.target_workers),
        order: q.task_order,
        max_reserved: q.max_reserved_workers,
        reservation_activity: q.reservation_activity.as_ref().map(|(s, _)| s.clone()),
        assignment_activity: q.assignment_activity.as_ref().map(|(s, _)| s.clone()),
        members: HashSet::new(),
    }
}

/// A worker's state, with its channels.
pub fn worker_state(w: &Worker, channels: HashMap<TaskChannelSid, ChannelState>) -> WorkerState {
    let attrs = serde_json::from_str(&w.attributes).unwrap_or(Value::Null);
    WorkerState::new(
        w.sid.clone(),
        w.friendly_name.clone(),
        attrs,
        (w.activity_sid.clone(), w.activity_name.clone(), w.available),
        channels,
        w.idle_since,
    )
}

/// A task's routing state, with its creation number `seq` (its reservations, refusals and
/// callback failures are the caller's to fill in).
pub fn task_state(t: &Task, seq: i64) -> TaskState {
    let route = match (&t.routing_target, &t.workflow, t.step) {
        (Some(target), _, _) if target.starts_with("WK") => match target.parse() {
            Ok(worker) => Route::Worker {
                worker,
                ignore_capacity: t.ignore_capacity.unwrap_or(true),
            },
            Err(_) => Route::Unrouted,
        },
        (Some(target), _, _) if target.starts_with("WQ") => match target.parse() {
            Ok(q) => Route::Queue(q),
            Err(_) => Route::Unrouted,
        },
        (_, Some((workflow, _)), Some(step)) => Route::Workflow {
            workflow: workflow.clone(),
            step,
        },
        _ => Route::Unrouted,
    };
    TaskState {
        sid: t.sid.clone(),
        attributes: serde_json::from_str(&t.attributes).unwrap_or(Value::Null),
        priority: t.priority,
        channel: t.task_channel.0.clone(),
        route,
        queue: t.task_queue.as_ref().map(|(q, _)| q.clone()),
        virtual_start_time: t.virtual_start_time,
        seq,
        pending: HashSet::new(),
        reserved_at: HashMap::new(),
        refused_by: HashSet::new(),
        callback_failures: HashMap::new(),
        date_created: t.date_created,
        step_entered: t.step_entered,
        ttl_secs: t.timeout,
        assignment_count: t.assignment_count,
    }
}
