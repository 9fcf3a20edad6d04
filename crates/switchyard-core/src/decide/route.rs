//! Routing after a change: which waiting task each free worker gets and which workers each
//! task is offered to (one [`Unit`](super::Unit) per reservation), workflow steps entered and
//! skipped, and tasks canceled when nothing can take them any more.

use serde_json::Value;

use super::{set_activity, Change, Decider, Mint, ReservationCreated, Triggers};
use super::{MAX_ASSIGNMENTS_EXCEEDED, WORKFLOW_SKIPPED};
use crate::event::{build as event, Event};
use crate::expr::Scoped;
use crate::model::{Reservation, Task, Workspace, MAX_ASSIGNMENT_COUNT};
use crate::routing::{taskrouter_vars, Model, ReservationStatus, Route, StepRef, TaskStatus};
use crate::sid::{TaskQueueSid, TaskSid, WorkerSid, WorkflowSid};
use crate::Timestamp;

impl<M: Mint> Decider<'_, M> {
    /// Offers what the triggers make possible: each task to the workers the model picks, then
    /// each worker the tasks it can take, in a deterministic order.
    pub fn route(&mut self, triggers: Triggers) {
        let mut tasks = triggers.tasks;
        if triggers.sweep {
            tasks.extend(self.model.tasks_by_priority());
        }
        for t in tasks {
            self.route_task(&t);
        }
        let mut workers = triggers.workers;
        if triggers.sweep {
            // In creation order, so the same commands make the same reservations.
            let mut all: Vec<(i64, &WorkerSid)> = (self.model.workers.iter())
                .map(|(sid, w)| (w.seq, sid))
                .collect();
            all.sort();
            workers.extend(all.into_iter().map(|(_, sid)| sid.clone()));
        }
        let now = self.now;
        for w in workers {
            // Each reservation adds load to the worker, so this loop ends when it is full or
            // nothing is left for it (a reservation that cannot be made ends it too).
            while let Some(t) = self.model.task_for_worker(&w, now) {
                if !self.reserve(&t, &w) {
                    break;
                }
            }
        }
    }

    /// After a workflow's configuration changed: sends the workflow's tasks that wait with no
    /// reservation through it again (all of them when `all`, else those whose step no longer
    /// exists), in creation order. A task no filter matches any more leaves its queue.
    pub fn reenter_workflow(&mut self, workflow: &WorkflowSid, all: bool) {
        let now = self.now;
        let model = &*self.model;
        let mut candidates: Vec<(i64, TaskSid, Value)> = model
            .tasks()
            .filter(|t| t.pending.is_empty())
            .filter(|t| matches!(&t.route, Route::Workflow { workflow: w, .. } if w == workflow))
            .filter(|t| all || model.step_of(t).is_none())
            .map(|t| (t.seq, t.sid.clone(), t.attributes.clone()))
            .collect();
        // In creation order, so the same commands make the same writes and events.
        candidates.sort_by_key(|c| c.0);
        for (_, sid, attrs) in candidates {
            let Some(mut task) = self.model.rows.task(&sid).cloned() else {
                continue;
            };
            match workflow_entry(self.model, workflow, &attrs, now) {
                Some(at) => self.enter_step(&mut task, workflow, at, None),
                None => {
                    place(self.model, &mut task, None, now);
                    task.step = None;
                    task.step_entered = None;
                    task.version += 1;
                    task.date_updated = now;
                    self.emit(vec![Change::Task(task)]);
                    self.model.update_task(&sid, |t| {
                        t.route = Route::Unrouted;
                        t.queue = None;
                    });
                }
            }
        }
    }

    /// Offers a task to the workers the model picks; when nobody can take it and the step says
    /// `skip_if`, moves it on.
    fn route_task(&mut self, sid: &TaskSid) {
        let now = self.now;
        let at_cap = (self.model.task(sid))
            .is_some_and(|t| t.pending.is_empty() && t.assignment_count >= MAX_ASSIGNMENT_COUNT);
        if at_cap {
            if let Some(task) = self.model.rows.task(sid).cloned() {
                self.cancel(task, Some(MAX_ASSIGNMENTS_EXCEEDED), Vec::new());
            }
            return;
        }
        // Each skip moves at least one step forward, so this bounds the loop.
        for _ in 0..64 {
            let picks = self.model.workers_for_task(sid, now);
            if !picks.is_empty() {
                for w in picks {
                    self.reserve(sid, &w);
                }
                return;
            }
            let model = &*self.model;
            let Some(t) = model.task(sid) else {
                return;
            };
            if !t.pending.is_empty() || !model.should_skip(t) {
                return;
            }
            let Route::Workflow { workflow, step } = t.route.clone() else {
                return;
            };
            let next = {
                let vars = taskrouter_vars(now);
                let scopes = [("taskrouter", &vars)];
                let ctx = Scoped::new(&scopes).with_fallback(&t.attributes);
                (model.workflow(&workflow)).and_then(|c| c.after_skip(&ctx, step))
            };
            let Some(mut task) = model.rows.task(sid).cloned() else {
                return;
            };
            let label = filter_name(model, &task, step);
            let skipped = event::workflow(
                self.mint.sid(),
                self.workspace,
                "workflow.skipped",
                &task,
                Some((step, label.as_deref())),
                now,
            );
            match next {
                Some(next) => self.enter_step(&mut task, &workflow, next, Some(skipped)),
                None => {
                    self.cancel(task, Some(WORKFLOW_SKIPPED), vec![skipped]);
                    return;
                }
            }
        }
    }

    /// Creates a pending reservation of `worker_sid` for `task_sid`, as one unit announced
    /// once it commits. False when it cannot (the task at its reservation cap, or a row
    /// missing).
    fn reserve(&mut self, task_sid: &TaskSid, worker_sid: &WorkerSid) -> bool {
        let now = self.now;
        let Some(mut task) = self.model.rows.task(task_sid).cloned() else {
            return false;
        };
        if task.assignment_count >= MAX_ASSIGNMENT_COUNT {
            // At the cap: no more offers; `route_task` cancels it once nothing is pending.
            return false;
        }
        let Some(mut worker) = self.model.rows.worker(worker_sid).cloned() else {
            return false;
        };
        let queue_sid = task.task_queue.as_ref().map(|(q, _)| q.clone());
        let reservation_activity = (queue_sid.as_ref())
            .and_then(|q| self.model.queues.get(q))
            .and_then(|q| q.reservation_activity.clone());
        let single_tasking = !self.workspace.multi_task_enabled;
        let worker_version = worker.version;
        let before = worker.clone();
        let mut previous_activity = None;
        let moves_to = reservation_activity.filter(|a| single_tasking && *a != worker.activity_sid);
        let moves_worker = moves_to.is_some();
        if single_tasking {
            previous_activity = Some(worker.activity_sid.clone());
        }
        match moves_to {
            Some(a) => self.move_to_activity(&mut worker, a),
            // A reservation is a change of the worker: its version rises by one, as the Worker
            // SDK's copy does when it hears of the reservation (its later If-Match depends on it).
            None => worker.version += 1,
        }
        let reservation = Reservation {
            sid: self.mint.sid(),
            workspace_sid: self.workspace.sid.clone(),
            task_sid: task.sid.clone(),
            worker_sid: worker.sid.clone(),
            worker_name: worker.friendly_name.clone(),
            task_queue_sid: queue_sid,
            task_channel_sid: task.task_channel.0.clone(),
            status: ReservationStatus::Pending,
            previous_activity_sid: previous_activity,
            instruction: None,
            version: 0,
            date_created: now,
            date_updated: now,
        };
        task.assignment_status = TaskStatus::Reserved;
        task.assignment_count += 1;
        task.version += 1;
        task.date_updated = now;
        let mut events = vec![event::reservation(
            self.mint.sid(),
            self.workspace,
            "reservation.created",
            &reservation,
            &task,
            Some(&worker),
            now,
        )];
        if moves_worker {
            let sid = self.mint.sid();
            events.push(event::worker_activity(
                sid,
                self.workspace,
                &before,
                &worker,
                now,
            ));
        }
        let workflow =
            (task.workflow.as_ref()).and_then(|(w, _)| self.model.rows.workflow(w).cloned());
        let created = Box::new(ReservationCreated {
            workspace: self.workspace.clone(),
            reservation: reservation.clone(),
            task: task.clone(),
            worker: worker.clone(),
            workflow,
        });
        let mut changes = vec![
            Change::Task(task),
            Change::Reservation(reservation),
            Change::Worker {
                worker: worker.clone(),
                expected_version: worker_version,
            },
        ];
        changes.extend(events.into_iter().map(Change::Event));
        self.emit_announcing(changes, Some(created));
        self.model.reserve(task_sid, worker_sid, now);
        if moves_worker {
            set_activity(self.model, &worker);
        }
        true
    }

    /// Cancels a task that is still being routed: its pending reservations are canceled and
    /// their workers freed, after the `lead` events (what caused it). Returns the task as
    /// canceled.
    pub(super) fn cancel(
        &mut self,
        mut task: Task,
        reason: Option<&str>,
        lead: Vec<Event>,
    ) -> Task {
        let now = self.now;
        task.assignment_status = TaskStatus::Canceled;
        task.reason = reason.map(str::to_owned);
        task.version += 1;
        task.date_updated = now;
        let ended = self.end_pending(&task.sid, ReservationStatus::Canceled);
        let mut events = lead;
        events.extend(event::reservations(
            self.mint,
            self.workspace,
            "reservation.canceled",
            &ended,
            &task,
            now,
        ));
        events.push(event::task(
            self.mint.sid(),
            self.workspace,
            "task.canceled",
            &task,
            now,
        ));
        let mut changes: Vec<Change> = ended.iter().cloned().map(Change::Reservation).collect();
        changes.push(Change::Task(task.clone()));
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        self.release(&ended);
        self.model.remove_task(&task.sid);
        task
    }

    /// The task's pending reservations, moved to `status` (not yet written).
    pub(super) fn end_pending(
        &self,
        task: &TaskSid,
        status: ReservationStatus,
    ) -> Vec<Reservation> {
        if (self.model.task(task)).is_some_and(|t| t.pending.is_empty()) {
            return Vec::new();
        }
        let mut ended = Vec::new();
        for mut r in self.model.rows.task_reservations(task) {
            if r.status == ReservationStatus::Pending {
                r.status = status;
                r.version += 1;
                r.date_updated = self.now;
                ended.push(r);
            }
        }
        ended
    }

    /// Tells the model that pending reservations ended (as they are written).
    pub(super) fn release(&mut self, ended: &[Reservation]) {
        for r in ended {
            self.model.end_pending(&r.task_sid, &r.worker_sid);
            self.model.move_load(
                &r.worker_sid,
                &r.task_channel_sid,
                ReservationStatus::Pending,
                r.status,
                self.now,
            );
        }
    }

    /// Moves a routing task into workflow step `at`: its queue, priority and route change, as
    /// one unit. The events record the match and any queue change, after `lead` (what caused
    /// the move).
    pub(super) fn enter_step(
        &mut self,
        task: &mut Task,
        workflow: &WorkflowSid,
        at: StepRef,
        lead: Option<Event>,
    ) {
        let now = self.now;
        let old_queue = task.task_queue.clone();
        let (queue, priority) = {
            let step = self.model.workflow(workflow).and_then(|c| c.step(at));
            (
                step.map(|s| s.queue.clone()),
                step.and_then(|s| s.target.priority),
            )
        };
        place(self.model, task, queue.as_ref(), now);
        task.step = Some(at);
        task.step_entered = Some(now);
        if let Some(p) = priority {
            task.priority = p;
        }
        task.version += 1;
        task.date_updated = now;
        let label = filter_name(self.model, task, at);
        let mut events: Vec<Event> = lead.into_iter().collect();
        events.extend(step_events(
            self.mint,
            self.workspace,
            task,
            old_queue.as_ref(),
            (at, label.as_deref()),
            now,
        ));
        let mut changes = vec![Change::Task(task.clone())];
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        let priority = task.priority;
        self.model.update_task(&task.sid, |t| {
            t.route = Route::Workflow {
                workflow: workflow.clone(),
                step: at,
            };
            t.step_entered = Some(now);
            t.queue = queue;
            t.priority = priority;
        });
    }
}

/// Sets the task's queue (with its name and entry date when it changes).
pub(super) fn place(model: &Model, task: &mut Task, queue: Option<&TaskQueueSid>, now: Timestamp) {
    let current = task.task_queue.as_ref().map(|(s, _)| s);
    if current == queue {
        return;
    }
    task.task_queue = queue.map(|q| {
        let name = (model.queues.get(q))
            .map(|q| q.friendly_name.clone())
            .unwrap_or_default();
        (q.clone(), name)
    });
    task.task_queue_entered_date = queue.map(|_| now);
}

/// Where a task enters its workflow, given its attributes.
pub(super) fn workflow_entry(
    model: &Model,
    workflow: &WorkflowSid,
    attrs: &Value,
    now: Timestamp,
) -> Option<StepRef> {
    let config = model.workflow(workflow)?;
    let vars = taskrouter_vars(now);
    let scopes = [("taskrouter", &vars)];
    config.entry(&Scoped::new(&scopes).with_fallback(attrs))
}

/// The label of the filter a step belongs to (`None` for an unlabeled filter).
pub(super) fn filter_name(model: &Model, task: &Task, at: StepRef) -> Option<String> {
    let (workflow, _) = task.workflow.as_ref()?;
    let config = model.workflow(workflow)?;
    config.filters.get(at.filter?)?.friendly_name.clone()
}

/// What a task entering a workflow step records: the match, then a queue change if any
/// (`task-queue.moved` from another queue, and `task-queue.entered`).
pub(super) fn step_events(
    mint: &mut impl Mint,
    ws: &Workspace,
    task: &Task,
    old_queue: Option<&(TaskQueueSid, String)>,
    at: (StepRef, Option<&str>),
    now: Timestamp,
) -> Vec<Event> {
    let mut events = vec![event::workflow(
        mint.sid(),
        ws,
        "workflow.target-matched",
        task,
        Some(at),
        now,
    )];
    if let Some(q) = (task.task_queue.as_ref()).filter(|q| Some(&q.0) != old_queue.map(|o| &o.0)) {
        if old_queue.is_some() {
            events.push(event::queue(
                mint.sid(),
                ws,
                "task-queue.moved",
                task,
                q,
                now,
            ));
        }
        events.push(event::queue(
            mint.sid(),
            ws,
            "task-queue.entered",
            task,
            q,
            now,
        ));
    }
    events
}
