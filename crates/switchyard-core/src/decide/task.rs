//! Moving a task through its life on request (cancel, wrap up, complete) and deleting it.

use super::{Change, Decider, Mint, Refused, Triggers};
use crate::event::build as event;
use crate::lifecycle;
use crate::model::{Reservation, Task};
use crate::routing::{ReservationStatus, TaskStatus};
use crate::sid::TaskSid;

impl<M: Mint> Decider<'_, M> {
    /// Moves `task` (its row as the caller changed it) to `to`, with the effects on its
    /// reservations and workers; checked against the task's state machine first. Returns the
    /// task as moved and the reservations that followed it.
    pub fn move_task(
        &mut self,
        mut task: Task,
        to: TaskStatus,
        reason: Option<&str>,
        triggers: &mut Triggers,
    ) -> Result<(Task, Vec<Reservation>), Refused> {
        use TaskStatus as S;
        lifecycle::task_request(task.assignment_status, to)
            .map_err(|e| Refused::transition("Task", &task.sid, e))?;
        let now = self.now;
        if to == S::Canceled {
            let workers = (self.model.task(&task.sid))
                .map(|t| t.pending.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let task = self.cancel(task, reason, Vec::new());
            triggers.workers.extend(workers);
            return Ok((task, Vec::new()));
        }
        // Assigned or wrapping: the accepted (or wrapping) reservation follows the task.
        let (from, res_to) = match to {
            S::Wrapping => (
                &[ReservationStatus::Accepted][..],
                ReservationStatus::Wrapping,
            ),
            _ => (
                &[ReservationStatus::Accepted, ReservationStatus::Wrapping][..],
                ReservationStatus::Completed,
            ),
        };
        let mut moved = Vec::new();
        for mut r in self.model.rows.task_reservations(&task.sid) {
            if from.contains(&r.status) {
                let before = r.status;
                r.status = res_to;
                r.version += 1;
                r.date_updated = now;
                moved.push((before, r));
            }
        }
        task.assignment_status = to;
        if to == S::Completed {
            task.reason = reason.map(str::to_owned);
        }
        task.version += 1;
        task.date_updated = now;
        let what = if to == S::Wrapping {
            "wrapup"
        } else {
            "completed"
        };
        let mut events = vec![event::task(
            self.mint.sid(),
            self.workspace,
            &format!("task.{what}"),
            &task,
            now,
        )];
        events.extend(event::reservations(
            self.mint,
            self.workspace,
            &format!("reservation.{what}"),
            moved.iter().map(|(_, r)| r),
            &task,
            now,
        ));
        let mut changes: Vec<Change> = (moved.iter())
            .map(|(_, r)| Change::Reservation(r.clone()))
            .collect();
        changes.push(Change::Task(task.clone()));
        changes.extend(events.into_iter().map(Change::Event));
        // The model first: when a worker became idle goes into the same unit.
        for (before, r) in &moved {
            (self.model).move_load(&r.worker_sid, &r.task_channel_sid, *before, r.status, now);
            if let Some(idle_since) = self.idle_since_changed(&r.worker_sid) {
                changes.push(Change::WorkerIdle {
                    worker: r.worker_sid.clone(),
                    idle_since,
                });
            }
            triggers.workers.push(r.worker_sid.clone());
        }
        self.emit(changes);
        Ok((task, moved.into_iter().map(|(_, r)| r).collect()))
    }

    /// Deletes `task` (its row): pending reservations are canceled, accepted or wrapping work
    /// completed, freeing the workers.
    pub fn delete_task(&mut self, task: &Task, triggers: &mut Triggers) {
        let now = self.now;
        let sid: &TaskSid = &task.sid;
        let ended = self.end_pending(sid, ReservationStatus::Canceled);
        // Accepted or wrapping work ends with the task too, freeing the worker's capacity.
        let mut finished = Vec::new();
        for mut r in self.model.rows.task_reservations(sid) {
            if matches!(
                r.status,
                ReservationStatus::Accepted | ReservationStatus::Wrapping
            ) {
                let before = r.status;
                r.status = ReservationStatus::Completed;
                r.version += 1;
                r.date_updated = now;
                finished.push((before, r));
            }
        }
        let ws = self.workspace;
        let mut events =
            event::reservations(self.mint, ws, "reservation.canceled", &ended, task, now);
        events.extend(event::reservations(
            self.mint,
            ws,
            "reservation.completed",
            finished.iter().map(|(_, r)| r),
            task,
            now,
        ));
        events.push(event::task(self.mint.sid(), ws, "task.deleted", task, now));
        let mut changes: Vec<Change> = ended.iter().cloned().map(Change::Reservation).collect();
        changes.extend(finished.iter().map(|(_, r)| Change::Reservation(r.clone())));
        changes.push(Change::DeleteTask(sid.clone()));
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        self.release(&ended);
        for (before, r) in &finished {
            (self.model).move_load(&r.worker_sid, &r.task_channel_sid, *before, r.status, now);
        }
        self.model.remove_task(sid);
        triggers
            .workers
            .extend(ended.iter().map(|r| r.worker_sid.clone()));
        triggers
            .workers
            .extend(finished.iter().map(|(_, r)| r.worker_sid.clone()));
    }
}
