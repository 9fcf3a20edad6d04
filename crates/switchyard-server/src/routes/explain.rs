//! `GET /_switchyard/Workspaces/{ws}/Tasks/{sid}/Explain`: why a task is or is not reserved, in
//! JSON for people and tools: a one-line summary, the workflow filters as they evaluate now, the
//! step the task is on, and every worker with each reason it may not take the task.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Map, Value};
use switchyard_core::expr::Unmet;
use switchyard_core::routing::{Explanation, Reason, Route, TaskStatus, WorkerCheck};
use switchyard_engine::{PastReservation, TaskExplanation};

use super::{ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::resource::date;
use crate::{AppState, Caller};

pub(crate) async fn explain(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, task)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let task = path_sid(&c.path, &task)?;
    let e = (st.engine)
        .explain_task(&c.account, &ws, &task)
        .await
        .at(&c.path)?;
    Ok(ok(render(&e)))
}

fn render(e: &TaskExplanation) -> Value {
    let t = &e.task;
    json!({
        "task_sid": t.sid.to_string(),
        "workspace_sid": t.workspace_sid.to_string(),
        "assignment_status": t.assignment_status.as_str(),
        "summary": summary(e),
        "attributes": serde_json::from_str::<Value>(&t.attributes).unwrap_or(Value::Null),
        "priority": t.priority,
        "task_channel_unique_name": t.task_channel.1,
        "workflow_sid": t.workflow.as_ref().map(|w| w.0.to_string()),
        "workflow_friendly_name": t.workflow.as_ref().map(|w| w.1.clone()),
        "task_queue_sid": t.task_queue.as_ref().map(|q| q.0.to_string()),
        "task_queue_friendly_name": t.task_queue.as_ref().map(|q| q.1.clone()),
        "reservations": e.holding.iter().map(|r| json!({
            "reservation_sid": r.sid.to_string(),
            "worker_sid": r.worker_sid.to_string(),
            "worker_name": r.worker_name,
            "reservation_status": r.status.as_str(),
            "date_created": date(r.date_created),
        })).collect::<Vec<_>>(),
        "routing": e.routing.as_ref().map(|r| routing(r, &e.history)),
        "history": e.history.iter().map(|p| json!({
            "reservation_sid": p.reservation.to_string(),
            "worker_sid": p.worker.to_string(),
            "outcome": p.outcome,
            "date": date(p.at),
            "reason": p.reason,
        })).collect::<Vec<_>>(),
    })
}

/// One sentence: what the task is waiting for, if anything.
fn summary(e: &TaskExplanation) -> String {
    let status = e.task.assignment_status;
    let Some(r) = &e.routing else {
        return match status {
            TaskStatus::Assigned | TaskStatus::Wrapping => {
                let by: Vec<&str> = (e.holding.iter()).map(|r| r.worker_name.as_str()).collect();
                format!("The task is {} ({}).", status.as_str(), by.join(", "))
            }
            _ => format!(
                "The task is {}: it is not routed any more.",
                status.as_str()
            ),
        };
    };
    if !r.workflow_configured {
        return "The task's workflow has no configuration that parses: it routes nothing.".into();
    }
    if matches!(r.route, Route::Unrouted) {
        return "No workflow filter matches the task and the workflow has no default filter: \
                it waits until its attributes or the workflow change."
            .into();
    }
    let eligible = r.workers.iter().filter(|w| w.eligible()).count();
    let pending = r.reserved_by.len();
    if pending > 0 && r.wanted == 0 {
        return format!(
            "The task is reserved: {pending} pending reservation(s), waiting for an answer."
        );
    }
    if eligible > 0 {
        return format!(
            "{eligible} worker(s) may take the task now: it is reserved on the next routing pass."
        );
    }
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for w in &r.workers {
        if let Some(first) = w.reasons.first() {
            let kind = kind(first);
            match counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((kind, 1)),
            }
        }
    }
    if counts.is_empty() {
        return "The workspace has no workers.".into();
    }
    let parts: Vec<String> = (counts.iter())
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    format!(
        "No worker may take the task now ({}): it waits.",
        parts.join(", ")
    )
}

fn routing(r: &Explanation, history: &[PastReservation]) -> Value {
    let route = match &r.route {
        Route::Workflow { workflow, .. } => {
            json!({"type": "workflow", "workflow_sid": workflow.to_string()})
        }
        Route::Queue(q) => json!({"type": "task_queue", "task_queue_sid": q.to_string()}),
        Route::Worker {
            worker,
            ignore_capacity,
        } => json!({
            "type": "worker",
            "worker_sid": worker.to_string(),
            "ignore_capacity": ignore_capacity,
        }),
        Route::Unrouted => json!({"type": "unrouted"}),
    };
    let current_filter = r.step.as_ref().map(|s| s.at.filter);
    json!({
        "route": route,
        "workflow_configured": r.workflow_configured,
        "filters": r.filters.iter().map(|f| json!({
            "index": f.index,
            "filter_friendly_name": f.name,
            "expression": f.expression,
            "matched": f.matched,
            "current": current_filter == Some(Some(f.index)),
            "unmet": unmet(&f.unmet),
        })).collect::<Vec<_>>(),
        "step": r.step.as_ref().map(|s| json!({
            "filter_index": s.at.filter,
            "default_filter": s.at.filter.is_none(),
            "filter_friendly_name": s.filter_name,
            "step_index": s.at.step,
            "task_queue_sid": s.queue.to_string(),
            "expression": s.expression,
            "timeout_date": s.deadline.map(date),
            "skip_if": s.skip_if.as_ref().map(|(e, holds)| json!({"expression": e, "holds": holds})),
        })),
        "task_queue_sid": r.queue.as_ref().map(|q| q.0.to_string()),
        "task_queue_friendly_name": r.queue.as_ref().map(|q| q.1.clone()),
        "task_channel_sid": r.channel.to_string(),
        "reserved_by": r.reserved_by.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "more_workers_wanted": r.wanted,
        "eligible_workers": r.workers.iter().filter(|w| w.eligible()).count(),
        "workers": r.workers.iter().map(|w| worker(w, history)).collect::<Vec<_>>(),
    })
}

fn worker(w: &WorkerCheck, history: &[PastReservation]) -> Value {
    json!({
        "worker_sid": w.sid.to_string(),
        "friendly_name": w.friendly_name,
        "eligible": w.eligible(),
        "reasons": w.reasons.iter().map(|r| reason(r, w, history)).collect::<Vec<_>>(),
    })
}

/// A reason's short name, as its `reason` field carries it.
fn kind(r: &Reason) -> &'static str {
    match r {
        Reason::NotTheRoutingTarget { .. } => "not_the_routing_target",
        Reason::NoStep => "no_step",
        Reason::NotInQueue { .. } => "not_in_queue",
        Reason::NotTheKnownWorker { .. } => "not_the_known_worker",
        Reason::StepExpressionFalse { .. } => "step_expression_false",
        Reason::AlreadyReserved => "already_reserved",
        Reason::RefusedBefore => "refused_before",
        Reason::CallbackBackoff { .. } => "callback_failed",
        Reason::ActivityUnavailable { .. } => "activity_unavailable",
        Reason::NoChannel => "no_channel",
        Reason::ChannelUnavailable { .. } => "channel_unavailable",
        Reason::NoCapacity { .. } => "no_capacity",
        Reason::Busy { .. } => "busy",
    }
}

fn reason(r: &Reason, w: &WorkerCheck, history: &[PastReservation]) -> Value {
    let last = |outcomes: &[&str]| {
        (history.iter()).find(|p| p.worker == w.sid && outcomes.contains(&p.outcome.as_str()))
    };
    let mut v = Map::new();
    v.insert("reason".into(), kind(r).into());
    let message = match r {
        Reason::NotTheRoutingTarget { target } => {
            v.insert("target_worker_sid".into(), target.to_string().into());
            format!("The task is routed straight to worker {target}.")
        }
        Reason::NoStep => "The task is on no workflow step with a queue.".into(),
        Reason::NotInQueue {
            queue,
            queue_name,
            target_workers,
            unmet: u,
        } => {
            v.insert("task_queue_sid".into(), queue.to_string().into());
            v.insert("task_queue_friendly_name".into(), queue_name.clone().into());
            v.insert("target_workers".into(), target_workers.clone().into());
            v.insert("unmet".into(), unmet(u));
            format!("Not in queue {queue_name}: its TargetWorkers `{target_workers}` is false for this worker.")
        }
        Reason::NotTheKnownWorker {
            attribute,
            task_value,
        } => {
            v.insert("attribute".into(), attribute.clone().into());
            v.insert("task_value".into(), task_value.clone().unwrap_or(Value::Null));
            format!("The step routes to the worker named by the task's `{attribute}`, not this one.")
        }
        Reason::StepExpressionFalse {
            expression,
            unmet: u,
        } => {
            v.insert("expression".into(), expression.clone().into());
            v.insert("unmet".into(), unmet(u));
            format!("The step's worker expression `{expression}` is false for this worker.")
        }
        Reason::AlreadyReserved => "It holds a pending reservation for this task.".into(),
        Reason::RefusedBefore => match last(&["rejected", "timeout"]) {
            Some(p) => {
                v.insert("reservation_sid".into(), p.reservation.to_string().into());
                v.insert("date".into(), date(p.at).into());
                let how = if p.outcome == "rejected" {
                    "rejected it"
                } else {
                    "let its reservation time out"
                };
                format!("It {how} at {}: it is not offered this task again.", date(p.at))
            }
            None => "It rejected the task or let a reservation time out: it is not offered this task again.".into(),
        },
        Reason::CallbackBackoff { failures, until } => {
            v.insert("failures".into(), (*failures).into());
            v.insert("retry_date".into(), date(*until).into());
            let failed = last(&["canceled"]).filter(|p| p.reason.is_some());
            if let Some(p) = failed {
                v.insert("reservation_sid".into(), p.reservation.to_string().into());
                v.insert("date".into(), date(p.at).into());
                v.insert("error".into(), p.reason.clone().into());
            }
            format!(
                "Its assignment callback failed {failures} time(s){}: offered the task again from {}.",
                failed
                    .and_then(|p| p.reason.as_deref())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                date(*until)
            )
        }
        Reason::ActivityUnavailable {
            activity_sid,
            activity_name,
        } => {
            v.insert("activity_sid".into(), activity_sid.to_string().into());
            v.insert("activity_name".into(), activity_name.clone().into());
            format!("Its activity {activity_name} is not available.")
        }
        Reason::NoChannel => "It has no capacity on the task's channel.".into(),
        Reason::ChannelUnavailable { channel } => {
            v.insert("task_channel_unique_name".into(), channel.clone().into());
            format!("Its {channel} channel is switched off.")
        }
        Reason::NoCapacity {
            channel,
            load,
            capacity,
        } => {
            v.insert("task_channel_unique_name".into(), channel.clone().into());
            v.insert("load".into(), (*load).into());
            v.insert("capacity".into(), (*capacity).into());
            format!("Its {channel} channel is full: {load} of {capacity}.")
        }
        Reason::Busy { active } => {
            v.insert("active_reservations".into(), (*active).into());
            "It already has a task (the workspace is single-tasking).".into()
        }
    };
    v.insert("message".into(), message.into());
    Value::Object(v)
}

/// Failing comparisons as `[{comparison, values: {key: value}}]` (a missing key is `null`).
fn unmet(u: &[Unmet]) -> Value {
    (u.iter())
        .map(|u| {
            let values: Map<String, Value> = (u.values.iter())
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or(Value::Null)))
                .collect();
            json!({"comparison": u.comparison, "values": values})
        })
        .collect()
}
