//! Building a workspace's routing model from the store.

use std::collections::{HashMap, HashSet};

use switchyard_core::model::Workspace;
use switchyard_core::routing::{
    callback_backoff, CallbackFailures, ChannelState, Model, ReservationStatus,
};
use switchyard_core::sid::{TaskChannelSid, TaskSid, WorkerSid};
use switchyard_core::workflow::WorkflowConfig;
use switchyard_core::Timestamp;

use switchyard_core::routing::{queue_state, task_state, worker_state};

use crate::task_channel::ALL_TASK_CHANNELS;
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
            .list_task_channels(ws, Default::default(), ALL_TASK_CHANNELS)
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
