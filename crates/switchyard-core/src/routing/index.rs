//! Queue membership: which workers each queue's `TargetWorkers` selects, kept by indexing
//! queues on the attribute values their expressions require.

use std::collections::HashSet;

use crate::expr::{probes, walk};
use crate::sid::{TaskQueueSid, TaskSid, WorkerSid};

use super::{Model, QueueState, Route, WorkerState};

impl Model {
    /// Adds or replaces a worker, recomputing its queue memberships.
    pub fn put_worker(&mut self, w: WorkerState) {
        let mut candidates: Vec<&TaskQueueSid> = self.unindexed_queues.iter().collect();
        for (key, by_probe) in &self.queues_by_probe {
            for probe in walk(&w.attributes, &key.path)
                .map(probes)
                .unwrap_or_default()
            {
                candidates.extend(by_probe.get(&probe).into_iter().flatten());
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let member_of: HashSet<TaskQueueSid> = candidates
            .into_iter()
            .filter(|q| {
                self.queues
                    .get(*q)
                    .is_some_and(|q| q.target.eval(&w.attributes))
            })
            .cloned()
            .collect();
        let was_in = self.member_of.remove(&w.sid).unwrap_or_default();
        for q in was_in.difference(&member_of) {
            if let Some(q) = self.queues.get_mut(q) {
                q.members.remove(&w.sid);
            }
        }
        for q in &member_of {
            if let Some(q) = self.queues.get_mut(q) {
                q.members.insert(w.sid.clone());
            }
        }
        self.member_of.insert(w.sid.clone(), member_of);
        self.workers.insert(w.sid.clone(), w);
    }

    /// Removes a worker.
    pub fn remove_worker(&mut self, sid: &WorkerSid) {
        self.workers.remove(sid);
        for q in self.member_of.remove(sid).unwrap_or_default() {
            if let Some(q) = self.queues.get_mut(&q) {
                q.members.remove(sid);
            }
        }
    }

    /// Adds or replaces a queue, recomputing its members.
    pub fn put_queue(&mut self, mut q: QueueState) {
        if let Some(old) = self.queues.get(&q.sid) {
            for w in &old.members {
                if let Some(m) = self.member_of.get_mut(w) {
                    m.remove(&q.sid);
                }
            }
        }
        self.unindex_queue(&q.sid);
        match q.target.required_values() {
            Some(required) => {
                for (key, probe) in &required {
                    self.queues_by_probe
                        .entry(key.clone())
                        .or_default()
                        .entry(probe.clone())
                        .or_default()
                        .insert(q.sid.clone());
                }
                self.queue_probes.insert(q.sid.clone(), required);
            }
            None => {
                self.unindexed_queues.insert(q.sid.clone());
            }
        }
        q.members = self
            .workers
            .values()
            .filter(|w| q.target.eval(&w.attributes))
            .map(|w| w.sid.clone())
            .collect();
        for w in &q.members {
            self.member_of
                .entry(w.clone())
                .or_default()
                .insert(q.sid.clone());
        }
        let sid = q.sid.clone();
        self.queues.insert(sid.clone(), q);
        // Its order and reservation limit decide where and whether its tasks wait.
        let affected: Vec<TaskSid> = self
            .tasks
            .values()
            .filter(|t| {
                t.queue.as_ref() == Some(&sid) || matches!(&t.route, Route::Queue(q) if *q == sid)
            })
            .map(|t| t.sid.clone())
            .collect();
        for t in affected {
            self.rewait(&t);
        }
    }

    fn unindex_queue(&mut self, sid: &TaskQueueSid) {
        self.unindexed_queues.remove(sid);
        for (key, probe) in self.queue_probes.remove(sid).unwrap_or_default() {
            if let Some(by_probe) = self.queues_by_probe.get_mut(&key) {
                if let Some(queues) = by_probe.get_mut(&probe) {
                    queues.remove(sid);
                    if queues.is_empty() {
                        by_probe.remove(&probe);
                    }
                }
                if by_probe.is_empty() {
                    self.queues_by_probe.remove(&key);
                }
            }
        }
    }
}
