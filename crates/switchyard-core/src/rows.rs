//! The stored rows a workspace's routing decisions build on, kept beside the routing model so
//! that deciding never reads the store: its workers, its tasks not yet completed or canceled,
//! its reservations still holding capacity, its workflows and task channels, and the next
//! creation number for a task.
//!
//! The engine keeps these as it writes them (one process owns the database), so they are the
//! rows as the last decision left them, committed or about to be.

use std::collections::HashMap;

use crate::model::{Reservation, Task, TaskChannel, Worker, Workflow};
use crate::routing::ReservationStatus;
use crate::sid::{ReservationSid, TaskSid, WorkerSid, WorkflowSid};
use crate::Timestamp;

/// A workspace's rows (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    workers: HashMap<WorkerSid, Worker>,
    /// Tasks that are neither completed nor canceled.
    tasks: HashMap<TaskSid, Task>,
    /// Reservations that are pending, accepted or wrapping.
    reservations: HashMap<ReservationSid, Reservation>,
    /// Each task's live reservations, in creation order.
    by_task: HashMap<TaskSid, Vec<ReservationSid>>,
    workflows: HashMap<WorkflowSid, Workflow>,
    /// The workspace's task channels (a handful).
    channels: Vec<TaskChannel>,
    /// Greater than the creation number of every task the model holds.
    next_task_seq: i64,
}

/// Whether a reservation in `status` still holds its worker's capacity.
fn live(status: ReservationStatus) -> bool {
    matches!(
        status,
        ReservationStatus::Pending | ReservationStatus::Accepted | ReservationStatus::Wrapping
    )
}

impl Rows {
    /// A worker of the workspace.
    pub fn worker(&self, sid: &WorkerSid) -> Option<&Worker> {
        self.workers.get(sid)
    }

    /// Every worker of the workspace, in no particular order.
    pub fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers.values()
    }

    /// Adds or replaces a worker.
    pub fn put_worker(&mut self, w: Worker) {
        self.workers.insert(w.sid.clone(), w);
    }

    /// Records when a worker became idle.
    pub fn set_idle_since(&mut self, sid: &WorkerSid, at: Timestamp) {
        if let Some(w) = self.workers.get_mut(sid) {
            w.idle_since = at;
        }
    }

    /// Forgets a deleted worker.
    pub fn remove_worker(&mut self, sid: &WorkerSid) {
        self.workers.remove(sid);
    }

    /// A task that is neither completed nor canceled.
    pub fn task(&self, sid: &TaskSid) -> Option<&Task> {
        self.tasks.get(sid)
    }

    /// Every task that is neither completed nor canceled, in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    /// Adds or replaces a task; a completed or canceled one is forgotten (it cannot change
    /// any more, so deciding never needs it).
    pub fn put_task(&mut self, t: Task) {
        if t.assignment_status.is_final() {
            self.tasks.remove(&t.sid);
        } else {
            self.tasks.insert(t.sid.clone(), t);
        }
    }

    /// A reservation that is pending, accepted or wrapping.
    pub fn reservation(&self, sid: &ReservationSid) -> Option<&Reservation> {
        self.reservations.get(sid)
    }

    /// A task's reservations that are pending, accepted or wrapping, oldest first.
    pub fn task_reservations(&self, task: &TaskSid) -> Vec<Reservation> {
        self.by_task
            .get(task)
            .into_iter()
            .flatten()
            .filter_map(|r| self.reservations.get(r))
            .cloned()
            .collect()
    }

    /// A worker's reservations in `status` (pending, accepted or wrapping), oldest first.
    pub fn worker_reservations(
        &self,
        worker: &WorkerSid,
        status: ReservationStatus,
    ) -> Vec<Reservation> {
        let mut found: Vec<Reservation> = (self.reservations.values())
            .filter(|r| r.worker_sid == *worker && r.status == status)
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.date_created, &a.sid).cmp(&(b.date_created, &b.sid)));
        found
    }

    /// Adds or replaces a reservation; one that no longer holds capacity is forgotten.
    pub fn put_reservation(&mut self, r: Reservation) {
        if !live(r.status) {
            self.reservations.remove(&r.sid);
            if let Some(list) = self.by_task.get_mut(&r.task_sid) {
                list.retain(|s| *s != r.sid);
                if list.is_empty() {
                    self.by_task.remove(&r.task_sid);
                }
            }
            return;
        }
        let list = self.by_task.entry(r.task_sid.clone()).or_default();
        if !list.contains(&r.sid) {
            list.push(r.sid.clone());
        }
        self.reservations.insert(r.sid.clone(), r);
    }

    /// Forgets a deleted task and its reservations.
    pub fn remove_task(&mut self, task: &TaskSid) {
        self.tasks.remove(task);
        for r in self.by_task.remove(task).into_iter().flatten() {
            self.reservations.remove(&r);
        }
    }

    /// A workflow of the workspace.
    pub fn workflow(&self, sid: &WorkflowSid) -> Option<&Workflow> {
        self.workflows.get(sid)
    }

    /// The workspace's workflows, oldest first.
    pub fn workflows(&self) -> Vec<&Workflow> {
        let mut all: Vec<&Workflow> = self.workflows.values().collect();
        all.sort_by(|a, b| (a.date_created, &a.sid).cmp(&(b.date_created, &b.sid)));
        all
    }

    /// Adds or replaces a workflow.
    pub fn put_workflow(&mut self, f: Workflow) {
        self.workflows.insert(f.sid.clone(), f);
    }

    /// A task channel by its SID or unique name.
    pub fn task_channel(&self, sid_or_name: &str) -> Option<&TaskChannel> {
        (self.channels.iter())
            .find(|c| c.sid.as_str() == sid_or_name || c.unique_name == sid_or_name)
    }

    /// Adds a task channel.
    pub fn put_task_channel(&mut self, c: TaskChannel) {
        self.channels.retain(|old| old.sid != c.sid);
        self.channels.push(c);
    }

    /// Notes a task's creation number, so later ones are numbered after it.
    pub fn saw_task_seq(&mut self, seq: i64) {
        self.next_task_seq = self.next_task_seq.max(seq + 1);
    }

    /// The creation number of a new task: greater than every one before it.
    pub fn take_task_seq(&mut self) -> i64 {
        let seq = self.next_task_seq;
        self.next_task_seq += 1;
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::TaskStatus;

    fn reservation(sid: &str, task: &str, status: ReservationStatus, at: i64) -> Reservation {
        Reservation {
            sid: sid.parse().unwrap(),
            workspace_sid: format!("WS{}", "0".repeat(32)).parse().unwrap(),
            task_sid: task.parse().unwrap(),
            worker_sid: format!("WK{}", "0".repeat(32)).parse().unwrap(),
            worker_name: "w".into(),
            task_queue_sid: None,
            task_channel_sid: format!("TC{}", "0".repeat(32)).parse().unwrap(),
            status,
            previous_activity_sid: None,
            instruction: None,
            version: 0,
            date_created: Timestamp::from_millis(at),
            date_updated: Timestamp::from_millis(at),
        }
    }

    #[test]
    fn ended_reservations_are_forgotten_and_live_ones_kept_in_order() {
        let task = format!("WT{}", "1".repeat(32));
        let (a, b) = (
            format!("WR{}", "a".repeat(32)),
            format!("WR{}", "b".repeat(32)),
        );
        let mut rows = Rows::default();
        rows.put_reservation(reservation(&a, &task, ReservationStatus::Pending, 1));
        rows.put_reservation(reservation(&b, &task, ReservationStatus::Pending, 2));
        let task: TaskSid = task.parse().unwrap();
        let sids = |rows: &Rows| -> Vec<String> {
            rows.task_reservations(&task)
                .iter()
                .map(|r| r.sid.to_string())
                .collect()
        };
        assert_eq!(sids(&rows), [a.clone(), b.clone()]);
        rows.put_reservation(reservation(
            &a,
            task.as_str(),
            ReservationStatus::Rejected,
            3,
        ));
        assert_eq!(sids(&rows), std::slice::from_ref(&b));
        assert!(rows.reservation(&a.parse().unwrap()).is_none());
        rows.remove_task(&task);
        assert!(sids(&rows).is_empty());
        assert!(rows.reservation(&b.parse().unwrap()).is_none());
    }

    fn task(sid: &str, status: TaskStatus) -> Task {
        Task {
            sid: sid.parse().unwrap(),
            workspace_sid: format!("WS{}", "0".repeat(32)).parse().unwrap(),
            workflow: None,
            attributes: "{}".into(),
            assignment_status: status,
            priority: 0,
            timeout: 60,
            task_channel: (
                format!("TC{}", "0".repeat(32)).parse().unwrap(),
                "default".into(),
            ),
            task_queue: None,
            task_queue_entered_date: None,
            virtual_start_time: Timestamp::from_millis(0),
            reason: None,
            routing_target: None,
            ignore_capacity: None,
            step: None,
            step_entered: None,
            assignment_count: 0,
            addons: "{}".into(),
            version: 0,
            date_created: Timestamp::from_millis(0),
            date_updated: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_task_is_kept_until_it_is_completed_canceled_or_deleted() {
        let (a, b) = (
            format!("WT{}", "a".repeat(32)),
            format!("WT{}", "b".repeat(32)),
        );
        let mut rows = Rows::default();
        rows.put_task(task(&a, TaskStatus::Pending));
        rows.put_task(task(&b, TaskStatus::Assigned));
        let (a, b): (TaskSid, TaskSid) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(rows.tasks().count(), 2);
        rows.put_task(task(a.as_str(), TaskStatus::Reserved));
        assert_eq!(
            rows.task(&a).map(|t| t.assignment_status),
            Some(TaskStatus::Reserved)
        );
        rows.put_task(task(a.as_str(), TaskStatus::Canceled));
        assert!(rows.task(&a).is_none());
        rows.put_task(task(b.as_str(), TaskStatus::Completed));
        assert!(rows.task(&b).is_none());
        rows.put_task(task(b.as_str(), TaskStatus::Wrapping));
        rows.remove_task(&b);
        assert_eq!(rows.tasks().count(), 0);
    }

    #[test]
    fn task_numbers_follow_every_number_seen() {
        let mut rows = Rows::default();
        rows.saw_task_seq(41);
        rows.saw_task_seq(7);
        assert_eq!(rows.take_task_seq(), 42);
        assert_eq!(rows.take_task_seq(), 43);
    }
}
