//! Timers firing: a reservation timing out, a task's TTL, a workflow step's timeout, the end
//! of a failed callback's backoff.

use super::reservation::Unaccepted;
use super::{filter_name, place, TTL_EXCEEDED, WORKFLOW_TIMEOUT};
use super::{step_events, Change, Decider, Mint, Refused, Triggers};
use crate::event::build as event;
use crate::expr::Scoped;
use crate::routing::{taskrouter_vars, ReservationStatus, Route, TaskStatus, Timer};
use crate::sid::{TaskSid, WorkerSid};

impl<M: Mint> Decider<'_, M> {
    /// Fires `timer` (one the model said was due), adding what it frees to `triggers`.
    pub fn fire(&mut self, timer: &Timer, triggers: &mut Triggers) -> Result<(), Refused> {
        match timer {
            Timer::Reservation { task, worker } => self.reservation_timeout(task, worker, triggers),
            Timer::Ttl { task } => {
                let workers = (self.model.task(task))
                    .map(|t| t.pending.iter().cloned().collect::<Vec<_>>())
                    .unwrap_or_default();
                let row = (self.model.rows.task(task).cloned())
                    .ok_or_else(|| Refused::not_found("Task", task))?;
                self.cancel(row, Some(TTL_EXCEEDED), Vec::new());
                triggers.workers.extend(workers);
                Ok(())
            }
            Timer::Step { task } => self.step_timeout(task, triggers),
            Timer::CallbackRetry { task, worker } => {
                // The backoff is over: the worker is eligible again, so route the task.
                self.model.update_task(task, |t| {
                    if let Some(f) = t.callback_failures.get_mut(worker) {
                        f.until = None;
                    }
                });
                triggers.tasks.push(task.clone());
                Ok(())
            }
        }
    }

    fn reservation_timeout(
        &mut self,
        task: &TaskSid,
        worker: &WorkerSid,
        triggers: &mut Triggers,
    ) -> Result<(), Refused> {
        let pending = (self.model.rows.task_reservations(task).into_iter())
            .find(|r| r.worker_sid == *worker && r.status == ReservationStatus::Pending);
        let Some(r) = pending else {
            // The model thought it pending but its rows disagree: trust the rows.
            self.model.end_pending(task, worker);
            return Ok(());
        };
        let activity = Some(self.workspace.timeout_activity_sid.clone());
        self.end_unaccepted(r, Unaccepted::Timeout, activity, triggers)?;
        Ok(())
    }

    /// Moves a task whose step timed out to the next step, or the next matching filter; cancels
    /// it when the workflow is exhausted. Pending reservations the new step does not admit are
    /// rescinded; all of it is one unit.
    fn step_timeout(&mut self, sid: &TaskSid, triggers: &mut Triggers) -> Result<(), Refused> {
        let now = self.now;
        let Some(state) = self.model.task(sid).cloned() else {
            return Ok(());
        };
        let Route::Workflow { workflow, step } = state.route.clone() else {
            return Ok(());
        };
        let next = {
            let vars = taskrouter_vars(now);
            let scopes = [("taskrouter", &vars)];
            let ctx = Scoped::new(&scopes).with_fallback(&state.attributes);
            (self.model.workflow(&workflow)).and_then(|c| c.after_timeout(&ctx, step))
        };
        let mut task =
            (self.model.rows.task(sid).cloned()).ok_or_else(|| Refused::not_found("Task", sid))?;
        let mut events = Vec::new();
        if let Some(q) = &task.task_queue {
            let sid = self.mint.sid();
            events.push(event::queue(
                sid,
                self.workspace,
                "task-queue.timeout",
                &task,
                q,
                now,
            ));
        }
        let Some(next) = next else {
            let label = filter_name(self.model, &task, step);
            events.push(event::workflow(
                self.mint.sid(),
                self.workspace,
                "workflow.timeout",
                &task,
                Some((step, label.as_deref())),
                now,
            ));
            triggers.workers.extend(state.pending.iter().cloned());
            self.cancel(task, Some(WORKFLOW_TIMEOUT), events);
            return Ok(());
        };
        let old_queue = task.task_queue.clone();
        let (queue, priority) = {
            let step = self.model.workflow(&workflow).and_then(|c| c.step(next));
            (
                step.map(|s| s.queue.clone()),
                step.and_then(|s| s.target.priority),
            )
        };
        place(self.model, &mut task, queue.as_ref(), now);
        task.step = Some(next);
        task.step_entered = Some(now);
        if let Some(p) = priority {
            task.priority = p;
        }
        // The model sees the task in its new step before deciding which reservations stay.
        let priority = task.priority;
        self.model.update_task(sid, |t| {
            t.route = Route::Workflow {
                workflow: workflow.clone(),
                step: next,
            };
            t.step_entered = Some(now);
            t.queue = queue.clone();
            t.priority = priority;
        });
        let mut rescinded = Vec::new();
        let reservations = if state.pending.is_empty() {
            Vec::new()
        } else {
            self.model.rows.task_reservations(sid)
        };
        for mut r in reservations {
            if r.status != ReservationStatus::Pending {
                continue;
            }
            let model = &*self.model;
            let still = match (model.task(sid), model.workers.get(&r.worker_sid)) {
                (Some(t), Some(w)) => model.allows(t, w, now),
                _ => false,
            };
            if !still {
                r.status = ReservationStatus::Rescinded;
                r.version += 1;
                r.date_updated = now;
                rescinded.push(r);
            }
        }
        if !rescinded.is_empty() && rescinded.len() == state.pending.len() {
            task.assignment_status = TaskStatus::Pending;
        }
        task.version += 1;
        task.date_updated = now;
        let label = filter_name(self.model, &task, next);
        events.extend(step_events(
            self.mint,
            self.workspace,
            &task,
            old_queue.as_ref(),
            (next, label.as_deref()),
            now,
        ));
        events.extend(event::reservations(
            self.mint,
            self.workspace,
            "reservation.rescinded",
            &rescinded,
            &task,
            now,
        ));
        let mut changes: Vec<Change> = rescinded.iter().cloned().map(Change::Reservation).collect();
        changes.push(Change::Task(task));
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        self.release(&rescinded);
        triggers
            .workers
            .extend(rescinded.iter().map(|r| r.worker_sid.clone()));
        triggers.tasks.push(sid.clone());
        Ok(())
    }
}
