//! The waiting sets: tasks that want workers, by the queue and channel (or worker) they wait
//! on, in offer order, so a freed worker looks only at the heads of its own sets.

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeSet;

use crate::model::{QueueOrder, MAX_ASSIGNMENT_COUNT};
use crate::sid::{TaskChannelSid, TaskQueueSid, TaskSid, WorkerSid};
use crate::Timestamp;

use super::{ChannelState, Model, Route, TaskState};

/// Where a task waits for a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WaitPlace {
    Queue(TaskQueueSid, TaskChannelSid),
    Worker(WorkerSid),
}

/// A waiting task's place in its set: ascending key order is the order [`Model::prefer`] gives
/// tasks of the same queue order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum WaitKey {
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

impl Model {
    /// The waiting task worker `sid` should get next, if any.
    ///
    /// Only the first eligible task of each set the worker could draw from is a candidate: the
    /// tasks routed to it, and, when it is available, each of its queues' tasks on a channel it
    /// has room on. The cost grows with the worker's queues, not with the backlog.
    pub fn task_for_worker(&self, sid: &WorkerSid, now: Timestamp) -> Option<TaskSid> {
        let w = self.workers.get(sid)?;
        // A task at its reservation cap is offered to nobody more (it is canceled once its
        // last pending reservation ends).
        let first_eligible = |set: &BTreeSet<WaitKey>| {
            set.iter()
                .filter_map(|k| self.tasks.get(k.task()))
                .filter(|t| t.assignment_count < MAX_ASSIGNMENT_COUNT)
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
    pub(super) fn order_of(&self, t: &TaskState) -> QueueOrder {
        t.queue
            .as_ref()
            .and_then(|q| self.queues.get(q))
            .map_or(QueueOrder::Fifo, |q| q.order)
    }

    /// Whether task `a` (in a queue of order `ao`) goes before `b` (in one of order `bo`).
    pub(super) fn prefer(
        &self,
        a: &TaskState,
        ao: QueueOrder,
        b: &TaskState,
        bo: QueueOrder,
    ) -> bool {
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

    /// Puts task `sid` in the waiting set it belongs to now, or in none when it wants no more
    /// workers or is gone.
    pub(super) fn rewait(&mut self, sid: &TaskSid) {
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
}
