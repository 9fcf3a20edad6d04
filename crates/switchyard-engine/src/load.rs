//! Building a workspace's routing model from the store.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use switchyard_core::expr::Expr;
use switchyard_core::model::{Task, Worker, Workspace};
use switchyard_core::routing::{
    callback_backoff, CallbackFailures, ChannelState, Model, QueueState, ReservationStatus, Route,
    TaskState, WorkerState,
};
use switchyard_core::sid::{TaskChannelSid, TaskSid, WorkerSid};
use switchyard_core::workflow::WorkflowConfig;
use switchyard_core::Timestamp;

use crate::{Engine, Result};

impl Engine {
    pub(crate) async fn load_model(&self, workspace: &Workspace) -> Result<Model> {
        let ws = &workspace.sid;
        let mut model = Model::new(
            workspace.multi_task_enabled,
            workspace.prioritize_queue_order,
        );
        let activities = self
            .store
            .list_activities(ws, &Default::default(), Default::default(), 10_000)
            .await?;
        for (_, a) in activities.items {
            model
                .activities
                .insert(a.sid, (a.friendly_name, a.available));
        }
        let live = self.store.live_reservations(ws).await?;
        let mut channels: HashMap<WorkerSid, HashMap<TaskChannelSid, ChannelState>> =
            HashMap::new();
        for c in self.store.all_worker_channels(ws).await? {
            channels.entry(c.worker_sid.clone()).or_default().insert(
                c.task_channel_sid.clone(),
                ChannelState {
                    unique_name: c.task_channel_unique_name,
                    capacity: c.configured_capacity,
                    available: c.available,
                    pending: 0,
                    assigned: 0,
                    wrapping: 0,
                },
            );
        }
        for r in &live {
            if let Some(c) = channels
                .get_mut(&r.worker_sid)
                .and_then(|m| m.get_mut(&r.task_channel_sid))
            {
                match r.status {
                    ReservationStatus::Pending => c.pending += 1,
                    ReservationStatus::Accepted => c.assigned += 1,
                    ReservationStatus::Wrapping => c.wrapping += 1,
                    _ => {}
                }
            }
        }
        for (_, q) in self
            .store
            .list_task_queues(ws, &Default::default(), Default::default(), None)
            .await?
        {
            model.put_queue(queue_state(&q));
        }
        for (seq, w) in self.store.all_workers(ws).await? {
            let chans = channels.remove(&w.sid).unwrap_or_default();
            let mut state = worker_state(&w, chans);
            state.seq = seq;
            model.put_worker(state);
            model.rows.put_worker(w);
        }
        for r in &live {
            model.rows.put_reservation(r.clone());
        }
        let channels = (self.store)
            .list_task_channels(ws, Default::default(), 10_000)
            .await?;
        for (_, c) in channels.items {
            model.rows.put_task_channel(c);
        }
        for f in self.store.all_workflows(ws).await? {
            let config = WorkflowConfig::parse(&f.configuration)
                .inspect_err(|e| tracing::warn!(workflow = %f.sid, error = %e, "stored workflow configuration does not parse"))
                .ok();
            model.put_workflow(f.sid.clone(), config, f.task_reservation_timeout);
            model.rows.put_workflow(f);
        }
        let mut pending: HashMap<TaskSid, HashMap<WorkerSid, Timestamp>> = HashMap::new();
        for r in live
            .iter()
            .filter(|r| r.status == ReservationStatus::Pending)
        {
            pending
                .entry(r.task_sid.clone())
                .or_default()
                .insert(r.worker_sid.clone(), r.date_created);
        }
        let mut refused: HashMap<TaskSid, HashSet<WorkerSid>> = HashMap::new();
        for (t, w) in self.store.refusals(ws).await? {
            refused.entry(t).or_default().insert(w);
        }
        // The same backoff as before the restart: counted from the last failure.
        let mut failed: HashMap<TaskSid, HashMap<WorkerSid, CallbackFailures>> = HashMap::new();
        for f in self.store.callback_failures(ws).await? {
            let until = f.last + callback_backoff(f.count);
            failed.entry(f.task).or_default().insert(
                f.worker,
                CallbackFailures {
                    count: f.count,
                    until: Some(until),
                },
            );
        }
        for (seq, t) in self.store.active_tasks(ws).await? {
            model.rows.saw_task_seq(seq);
            if t.assignment_status.is_routing() {
                let mut state = task_state(&t, seq);
                state.reserved_at = pending.remove(&t.sid).unwrap_or_default();
                state.pending = state.reserved_at.keys().cloned().collect();
                state.refused_by = refused.remove(&t.sid).unwrap_or_default();
                state.callback_failures = failed.remove(&t.sid).unwrap_or_default();
                model.put_task(state);
            }
            model.rows.put_task(t);
        }
        Ok(model)
    }
}

/// Compiles a stored expression; one that no longer parses matches nobody rather than failing.
fn compile(text: &str) -> Expr {
    Expr::parse(text)
        .unwrap_or_else(|_| Expr::parse("1 == 0").expect("a constant expression parses"))
}

pub(crate) fn channel_state(unique_name: String, capacity: i64, available: bool) -> ChannelState {
    ChannelState {
        unique_name,
        capacity,
        available,
        pending: 0,
        assigned: 0,
        wrapping: 0,
    }
}

pub(crate) fn queue_state(q: &switchyard_core::model::TaskQueue) -> QueueState {
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

pub(crate) fn worker_state(
    w: &Worker,
    channels: HashMap<TaskChannelSid, ChannelState>,
) -> WorkerState {
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

pub(crate) fn task_state(t: &Task, seq: i64) -> TaskState {
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
