//! Who may be reserved for what: eligibility, capacity, and the order workers are offered a
//! task in.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::expr::Scoped;
use crate::sid::{TaskSid, WorkerSid};
use crate::workflow::{KnownWorker, OrderBy};
use crate::Timestamp;

use super::{taskrouter_vars, ChannelState, Model, Route, TaskState, WorkerState};

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

impl Model {
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

    pub(super) fn has_room(&self, t: &TaskState, w: &WorkerState) -> bool {
        if self.multi_task {
            w.channels
                .get(&t.channel)
                .is_some_and(ChannelState::has_room)
        } else {
            w.active(false) == 0
        }
    }

    /// How many more workers `t` may reserve now.
    pub(super) fn wanted(&self, t: &TaskState) -> usize {
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
}
