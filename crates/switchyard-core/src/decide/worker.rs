//! A worker's changes that routing follows: its name, attributes and activity, and its
//! channels' capacity and availability.

use super::reservation::Unaccepted;
use super::{Change, Decider, Mint, Refused, Triggers};
use crate::event::build as event;
use crate::model::{parse_attributes, Worker, WorkerChannel};
use crate::routing::{worker_state, ReservationStatus};
use crate::sid::{ActivitySid, WorkerSid};

/// Changes to a worker, each field checked on its own already (by the caller).
#[derive(Debug, Clone, Default)]
pub struct WorkerChange {
    /// New display name (unique in the workspace, ignoring ASCII case).
    pub friendly_name: Option<String>,
    /// New attributes (checked here: a JSON object).
    pub attributes: Option<String>,
    /// New activity.
    pub activity_sid: Option<ActivitySid>,
    /// Reject its pending reservations (only when moving to an unavailable activity).
    pub reject_pending_reservations: bool,
}

/// Changes to a worker channel, checked on their own already.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelChange {
    /// New capacity.
    pub capacity: Option<i64>,
    /// New availability.
    pub available: Option<bool>,
}

impl<M: Mint> Decider<'_, M> {
    /// Updates worker `w` (its row): everything is checked before anything changes. Routing
    /// looks at the worker again; with `reject_pending_reservations` its pending reservations
    /// end as rejected (it keeps the activity it asked for).
    pub fn update_worker(
        &mut self,
        mut w: Worker,
        change: WorkerChange,
        triggers: &mut Triggers,
    ) -> Result<Worker, Refused> {
        let now = self.now;
        let ws = &self.workspace.sid;
        if let Some(name) = &change.friendly_name {
            let taken = (self.model.rows.workers())
                .any(|o| o.sid != w.sid && o.friendly_name.eq_ignore_ascii_case(name));
            if taken {
                let rule = format!("Worker named {name} already exists for workspace {ws}");
                return Err(Refused::Rule(rule));
            }
        }
        if let Some(text) = &change.attributes {
            parse_attributes(text).map_err(|problem| Refused::field("attributes", problem))?;
        }
        let activity = match change.activity_sid {
            Some(a) => {
                let a = self.activity("activity_sid", a)?;
                let (name, available) = self.model.activities[&a].clone();
                if change.reject_pending_reservations && available {
                    let problem = "is only valid when moving to an unavailable activity";
                    return Err(Refused::field("reject_pending_reservations", problem));
                }
                Some((a, name, available))
            }
            None => None,
        };

        let before = w.clone();
        let expected = w.version;
        if let Some(name) = change.friendly_name {
            w.friendly_name = name;
        }
        if let Some(attributes) = change.attributes {
            w.attributes = attributes;
        }
        let reject_pending = activity.is_some() && change.reject_pending_reservations;
        if let Some((a, name, available)) = activity {
            if a != w.activity_sid {
                w.date_status_changed = now;
                if available && !w.available {
                    w.idle_since = now;
                }
            }
            (w.activity_sid, w.activity_name, w.available) = (a, name, available);
        }
        w.version = expected + 1;
        w.date_updated = now;
        let mut events = Vec::new();
        if w.activity_sid != before.activity_sid {
            let sid = self.mint.sid();
            events.push(event::worker_activity(
                sid,
                self.workspace,
                &before,
                &w,
                now,
            ));
        }
        if w.attributes != before.attributes {
            let sid = self.mint.sid();
            let kind = "worker.attributes.update";
            events.push(event::worker(sid, self.workspace, kind, &w, now));
        }
        let mut changes = vec![Change::Worker {
            worker: w.clone(),
            expected_version: expected,
        }];
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        let sid = w.sid.clone();
        let (channels, seq, idle_since) = (self.model.workers.get(&sid))
            .map(|s| (s.channels.clone(), s.seq, s.idle_since.max(w.idle_since)))
            .unwrap_or((Default::default(), 0, w.idle_since));
        let mut state = worker_state(&w, channels);
        state.seq = seq;
        state.idle_since = idle_since;
        self.model.put_worker(state);
        triggers.workers.push(sid.clone());
        if reject_pending {
            let pending = (self.model.rows).worker_reservations(&sid, ReservationStatus::Pending);
            // The worker keeps the activity it asked for; the reservations just end. The
            // activity was checked above and a live reservation's task is in the rows, so none
            // is refused (and the update stands whatever became of them).
            let activity = Some(w.activity_sid.clone());
            for r in pending {
                let _ = self.end_unaccepted(r, Unaccepted::Rejected, activity.clone(), triggers);
            }
        }
        Ok(self.model.rows.worker(&sid).cloned().unwrap_or(w))
    }

    /// Changes one of worker `w`'s channels (`c`, its row as stored): each change of capacity
    /// or availability is an event and a new version of the worker, as the Worker SDK counts
    /// them. Returns the channel as changed.
    pub fn update_worker_channel(
        &mut self,
        mut w: Worker,
        mut c: WorkerChannel,
        change: ChannelChange,
        triggers: &mut Triggers,
    ) -> WorkerChannel {
        let now = self.now;
        let before = c.clone();
        if let Some(capacity) = change.capacity {
            c.configured_capacity = capacity;
        }
        if let Some(available) = change.available {
            c.available = available;
        }
        c.date_updated = now;
        let expected_version = w.version;
        let kinds: Vec<&str> = [
            (
                c.configured_capacity != before.configured_capacity,
                "worker.capacity.update",
            ),
            (
                c.available != before.available,
                "worker.channel.availability.update",
            ),
        ]
        .into_iter()
        .filter_map(|(changed, kind)| changed.then_some(kind))
        .collect();
        w.version += kinds.len() as i64;
        let mut changes = vec![Change::WorkerChannel(c.clone())];
        if !kinds.is_empty() {
            changes.push(Change::Worker {
                worker: w.clone(),
                expected_version,
            });
        }
        for kind in kinds {
            let sid = self.mint.sid();
            let e = event::worker_channel(sid, self.workspace, kind, &w, &before, &c, now);
            changes.push(Change::Event(e));
        }
        self.emit(changes);
        let state = self.model.workers.get_mut(&w.sid);
        if let Some(state) = state {
            if let Some(ch) = state.channels.get_mut(&c.task_channel_sid) {
                ch.capacity = c.configured_capacity;
                ch.available = c.available;
            }
            state.refresh();
        }
        triggers.workers.push(w.sid.clone());
        c
    }

    /// Ends a worker's pending reservations (canceled) before it is deleted; their tasks are
    /// routed on.
    pub fn release_worker(&mut self, worker: &WorkerSid, triggers: &mut Triggers) {
        let pending = self
            .model
            .rows
            .worker_reservations(worker, ReservationStatus::Pending);
        for r in pending {
            // A live reservation's task is in the rows: never refused.
            let _ = self.end_unaccepted(r, Unaccepted::Canceled, None, triggers);
        }
        triggers.workers.retain(|w| w != worker);
    }
}
