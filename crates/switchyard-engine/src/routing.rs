//! Routing: one in-memory [`Model`] per workspace, decisions serialized per workspace, every
//! decision committed before anyone hears of it.
//!
//! Operations that can change who gets which task (tasks, reservations, workers, queues,
//! workflows) run under the workspace's lock (`lock.rs`): they decide on the model, submit
//! their writes, update the model to match, and then ask it for the reservations the change
//! makes possible. Each reservation is one write (reservation, task, worker), announced once it
//! commits. The model is built from the store in `load.rs`.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex as SyncMutex};

use serde_json::Value;
use switchyard_core::expr::Scoped;
use switchyard_core::model::{
    Reservation, Task, Worker, Workflow, Workspace, MAX_ASSIGNMENT_COUNT,
};
use switchyard_core::routing::{
    taskrouter_vars, Model, ReservationStatus, Route, StepRef, TaskStatus,
};
use switchyard_core::sid::{TaskQueueSid, TaskSid, WorkerSid, WorkflowSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::Write;
use tokio::sync::{mpsc, Mutex};

use crate::deadline::Due;
use crate::lock::{Locked, Slot};
use crate::timer::MAX_ASSIGNMENTS_EXCEEDED;
use crate::{event, mint, Engine, Error, Result};
use switchyard_core::event::Event;

/// Something that happened which someone outside the engine acts on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Notification {
    /// A reservation was created: the worker is offered the task (the assignment callback).
    /// [`Engine::start`] announces again the reservations still pending from the last run
    /// whose callback has no recorded outcome ([`Engine::record_callback_answered`], or a
    /// failure through [`Engine::cancel_undeliverable`]), so a subscriber hears of each at least
    /// once.
    ReservationCreated(Box<ReservationCreated>),
}

/// A new reservation with everything an assignment callback carries.
#[derive(Debug, Clone)]
pub struct ReservationCreated {
    /// The workspace (with its account).
    pub workspace: Workspace,
    /// The reservation.
    pub reservation: Reservation,
    /// The task, as reserved.
    pub task: Task,
    /// The worker, as reserved.
    pub worker: Worker,
    /// The workflow routing the task, if any.
    pub workflow: Option<Workflow>,
}

/// Per-workspace models and the notification subscribers.
#[derive(Default)]
pub(crate) struct Routing {
    pub(crate) models: SyncMutex<HashMap<WorkspaceSid, Arc<Mutex<Slot>>>>,
    /// Workspaces as last read from the store; an entry is dropped whenever its workspace or its
    /// activities change (every such change goes through `reload` or `forget`).
    workspaces: SyncMutex<HashMap<WorkspaceSid, Workspace>>,
    subscribers: SyncMutex<Vec<mpsc::UnboundedSender<Notification>>>,
    /// Each loaded workspace's next deadline, published whenever its lock is released, so the
    /// timer loop finds the next one without locking every workspace's model.
    pub(crate) deadlines: SyncMutex<HashMap<WorkspaceSid, Due>>,
    /// How many times in a row each failing workspace failed to rebuild or to write
    /// (`deadline.rs`), and how many workspaces are failing.
    pub(crate) faults: SyncMutex<HashMap<WorkspaceSid, u32>>,
    pub(crate) faulty: AtomicUsize,
    /// Signaled when a workspace's next deadline comes sooner.
    pub(crate) changed: tokio::sync::Notify,
    /// Held while a manual clock is being advanced, so advances do not interleave.
    pub(crate) advancing: Mutex<()>,
}

impl Routing {
    pub(crate) fn cached_workspace(&self, ws: &WorkspaceSid) -> Option<Workspace> {
        self.workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ws)
            .cloned()
    }

    pub(crate) fn cache_workspace(&self, w: &Workspace) {
        self.workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(w.sid.clone(), w.clone());
    }

    fn uncache_workspace(&self, ws: &WorkspaceSid) {
        self.workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ws);
    }

    /// Tells every subscriber.
    pub(crate) fn publish(&self, notifications: Vec<Notification>) {
        if notifications.is_empty() {
            return;
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| !s.is_closed());
        for n in notifications {
            for s in subs.iter() {
                let _ = s.send(n.clone());
            }
        }
    }

    /// Every loaded workspace's model cell.
    pub(crate) fn cells(&self) -> Vec<Arc<Mutex<Slot>>> {
        self.models
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// What an operation asks routing to look at once its own change is applied.
#[derive(Debug, Default)]
pub(crate) struct Triggers {
    pub(crate) tasks: Vec<TaskSid>,
    pub(crate) workers: Vec<WorkerSid>,
    pub(crate) sweep: bool,
}

impl Engine {
    /// Receives every notification from now on. Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Notification> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.routing
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    pub(crate) fn publish(&self, notifications: Vec<Notification>) {
        self.routing.publish(notifications);
    }

    /// Drops the workspace's model after a configuration change and re-routes everything.
    pub(crate) async fn reload(&self, workspace: Workspace) -> Result<()> {
        self.routing.uncache_workspace(&workspace.sid);
        let locked = self.lock_with(workspace, true).await?;
        self.finish(
            locked,
            Triggers {
                sweep: true,
                ..Default::default()
            },
        )
        .await
    }

    /// After a workflow's configuration changed: reloads the model and sends the workflow's
    /// pending tasks through it again — all of them when `all`, else those whose step no longer
    /// exists — then re-routes everything.
    pub(crate) async fn reevaluate(
        &self,
        workspace: Workspace,
        workflow: &WorkflowSid,
        all: bool,
    ) -> Result<()> {
        let mut locked = self.lock_with(workspace, true).await?;
        let now = self.now();
        let model = locked.model();
        let mut candidates: Vec<(i64, TaskSid, Value, bool)> = model
            .tasks()
            .filter(|t| t.pending.is_empty())
            .filter(|t| matches!(&t.route, Route::Workflow { workflow: w, .. } if w == workflow))
            .map(|t| {
                (
                    t.seq,
                    t.sid.clone(),
                    t.attributes.clone(),
                    model.step_of(t).is_none(),
                )
            })
            .collect();
        // In creation order, so the same commands make the same writes and events.
        candidates.sort_by_key(|c| c.0);
        for (_, sid, attrs, stale) in candidates {
            if !all && !stale {
                continue;
            }
            let mut task = self.task_row(&mut locked, &sid).await?;
            match Engine::workflow_entry(locked.model(), workflow, &attrs, now) {
                Some(at) => {
                    self.enter_step(&mut locked, &mut task, workflow, at, now, None)
                        .await?
                }
                None => {
                    Engine::place(locked.model(), &mut task, None, now);
                    task.step = None;
                    task.step_entered = None;
                    task.version += 1;
                    task.date_updated = now;
                    self.commit(&mut locked, &[Write::Task(&task)]);
                    locked.model().update_task(&sid, |t| {
                        t.route = Route::Unrouted;
                        t.queue = None;
                    });
                }
            }
        }
        self.finish(
            locked,
            Triggers {
                sweep: true,
                ..Default::default()
            },
        )
        .await
    }

    /// Forgets a deleted workspace's model.
    pub(crate) fn forget(&self, ws: &WorkspaceSid) {
        self.routing.uncache_workspace(ws);
        self.routing
            .models
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ws);
        self.routing.recovered(ws);
        self.routing.publish_deadline(ws, None);
    }

    pub(crate) async fn route(&self, locked: &mut Locked, triggers: Triggers) -> Result<()> {
        let now = self.now();
        let mut tasks = triggers.tasks;
        if triggers.sweep {
            tasks.extend(locked.model().tasks_by_priority());
        }
        for t in tasks {
            self.route_task(locked, &t, now).await?;
        }
        let mut workers = triggers.workers;
        if triggers.sweep {
            // In creation order, so the same commands make the same reservations.
            let mut all: Vec<(i64, &WorkerSid)> = (locked.model().workers.iter())
                .map(|(sid, w)| (w.seq, sid))
                .collect();
            all.sort();
            workers.extend(all.into_iter().map(|(_, sid)| sid.clone()));
        }
        for w in workers {
            // Each reservation adds load to the worker, so this loop ends when it is full or
            // nothing is left for it.
            while let Some(t) = locked.model().task_for_worker(&w, now) {
                self.reserve(locked, &t, &w, now).await?;
            }
        }
        Ok(())
    }

    /// Offers a task to the workers the model picks; when nobody can take it and the step says
    /// `skip_if`, moves it on.
    async fn route_task(&self, locked: &mut Locked, sid: &TaskSid, now: Timestamp) -> Result<()> {
        // The model knows the count, so only a task at the cap costs a read.
        if locked
            .model()
            .task(sid)
            .is_some_and(|t| t.pending.is_empty() && t.assignment_count >= MAX_ASSIGNMENT_COUNT)
        {
            let task = self.task_row(locked, sid).await?;
            return self
                .cancel_locked(
                    locked,
                    task,
                    Some(MAX_ASSIGNMENTS_EXCEEDED),
                    now,
                    Vec::new(),
                )
                .await
                .map(drop);
        }
        // Each skip moves at least one step forward, so this bounds the loop.
        for _ in 0..64 {
            let picks = locked.model().workers_for_task(sid, now);
            if !picks.is_empty() {
                for w in picks {
                    self.reserve(locked, sid, &w, now).await?;
                }
                return Ok(());
            }
            let model = locked.model();
            let Some(t) = model.task(sid) else {
                return Ok(());
            };
            if !t.pending.is_empty() || !model.should_skip(t) {
                return Ok(());
            }
            let Route::Workflow { workflow, step } = t.route.clone() else {
                return Ok(());
            };
            let next = {
                let vars = taskrouter_vars(now);
                let scopes = [("taskrouter", &vars)];
                let ctx = Scoped::new(&scopes).with_fallback(&t.attributes);
                model
                    .workflow(&workflow)
                    .and_then(|c| c.after_skip(&ctx, step))
            };
            let mut task = self.task_row(locked, sid).await?;
            let label = filter_name(locked.model(), &task, step);
            let skipped = event::workflow(
                &locked.workspace,
                "workflow.skipped",
                &task,
                Some((step, label.as_deref())),
                now,
            );
            match next {
                Some(next) => {
                    self.enter_step(locked, &mut task, &workflow, next, now, Some(skipped))
                        .await?
                }
                None => {
                    self.cancel_locked(
                        locked,
                        task,
                        Some("Workflow skipped: no step could take the task"),
                        now,
                        vec![skipped],
                    )
                    .await?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The task as the decisions so far left it: from the model while it is live; a completed
    /// or canceled one (which no longer changes) is read from the store, after the writes in
    /// flight.
    pub(crate) async fn task_row(&self, locked: &mut Locked, sid: &TaskSid) -> Result<Task> {
        match locked.live_task(sid) {
            Some(t) => Ok(t),
            None => self.committed_task(&locked.workspace.sid, sid).await,
        }
    }

    /// The task as committed: what a reader outside the workspace lock is shown.
    pub(crate) async fn committed_task(&self, ws: &WorkspaceSid, sid: &TaskSid) -> Result<Task> {
        self.store
            .get_task(ws, sid)
            .await?
            .ok_or_else(|| Error::not_found("Task", sid))
    }

    /// Moves a routing task into workflow step `at`: its queue, priority and route change. The
    /// events record the match and any queue change, after `lead` (what caused the move).
    pub(crate) async fn enter_step(
        &self,
        locked: &mut Locked,
        task: &mut Task,
        workflow: &WorkflowSid,
        at: StepRef,
        now: Timestamp,
        lead: Option<Event>,
    ) -> Result<()> {
        let old_queue = task.task_queue.clone();
        let (queue, priority) = {
            let model = locked.model();
            let step = model.workflow(workflow).and_then(|c| c.step(at));
            (
                step.map(|s| s.queue.clone()),
                step.and_then(|s| s.target.priority),
            )
        };
        Engine::place(locked.model(), task, queue.as_ref(), now);
        task.step = Some(at);
        task.step_entered = Some(now);
        if let Some(p) = priority {
            task.priority = p;
        }
        task.version += 1;
        task.date_updated = now;
        let label = filter_name(locked.model(), task, at);
        let mut events: Vec<Event> = lead.into_iter().collect();
        events.extend(step_events(
            &locked.workspace,
            task,
            old_queue.as_ref(),
            (at, label.as_deref()),
            now,
        ));
        let mut writes = vec![Write::Task(task)];
        writes.extend(events.iter().map(Write::Event));
        self.commit(locked, &writes);
        locked.model().update_task(&task.sid, |t| {
            t.route = Route::Workflow {
                workflow: workflow.clone(),
                step: at,
            };
            t.step_entered = Some(now);
            t.queue = queue;
            t.priority = task.priority;
        });
        Ok(())
    }

    /// Sets the task's queue (with its name and entry date when it changes).
    pub(crate) fn place(
        model: &Model,
        task: &mut Task,
        queue: Option<&TaskQueueSid>,
        now: Timestamp,
    ) {
        let current = task.task_queue.as_ref().map(|(s, _)| s);
        if current == queue {
            return;
        }
        task.task_queue = queue.map(|q| {
            let name = model
                .queues
                .get(q)
                .map(|q| q.friendly_name.clone())
                .unwrap_or_default();
            (q.clone(), name)
        });
        task.task_queue_entered_date = queue.map(|_| now);
    }

    /// Where a task enters its workflow, given its attributes.
    pub(crate) fn workflow_entry(
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

    /// Creates a pending reservation of `worker` for `task`, in one transaction.
    async fn reserve(
        &self,
        locked: &mut Locked,
        task_sid: &TaskSid,
        worker_sid: &WorkerSid,
        now: Timestamp,
    ) -> Result<()> {
        let mut task = self.task_row(locked, task_sid).await?;
        if task.assignment_count >= MAX_ASSIGNMENT_COUNT {
            // At the cap: no more offers; `route_task` cancels it once nothing is pending.
            return Ok(());
        }
        let mut worker = locked.worker_row(worker_sid)?;
        let queue_sid = task.task_queue.as_ref().map(|(q, _)| q.clone());
        let reservation_activity = queue_sid
            .as_ref()
            .and_then(|q| locked.model().queues.get(q))
            .and_then(|q| q.reservation_activity.clone());
        let mut previous_activity = None;
        let worker_version = worker.version;
        let moves_worker = !locked.workspace.multi_task_enabled
            && reservation_activity
                .as_ref()
                .is_some_and(|a| *a != worker.activity_sid);
        let before = worker.clone();
        if moves_worker {
            let a = reservation_activity.clone().expect("checked above");
            previous_activity = Some(worker.activity_sid.clone());
            locked.move_to_activity(&mut worker, a, now);
        } else {
            if !locked.workspace.multi_task_enabled {
                previous_activity = Some(worker.activity_sid.clone());
            }
            // A reservation is a change of the worker: its version rises by one, as the Worker
            // SDK's copy does when it hears of the reservation (its later If-Match depends on it).
            worker.version += 1;
        }
        let reservation = Reservation {
            sid: mint(),
            workspace_sid: locked.workspace.sid.clone(),
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
            &locked.workspace,
            "reservation.created",
            &reservation,
            &task,
            Some(&worker),
            now,
        )];
        if moves_worker {
            events.push(event::worker_activity(
                &locked.workspace,
                &before,
                &worker,
                now,
            ));
        }
        let mut writes = vec![
            Write::Task(&task),
            Write::Reservation(&reservation),
            Write::Worker {
                worker: &worker,
                expected_version: worker_version,
            },
        ];
        writes.extend(events.iter().map(Write::Event));
        let workflow =
            (task.workflow.as_ref()).and_then(|(w, _)| locked.model().rows.workflow(w).cloned());
        let created = Notification::ReservationCreated(Box::new(ReservationCreated {
            workspace: locked.workspace.clone(),
            reservation: reservation.clone(),
            task: task.clone(),
            worker: worker.clone(),
            workflow,
        }));
        self.commit_announcing(locked, &writes, Some(created));
        let model = locked.model();
        model.reserve(task_sid, worker_sid, now);
        if moves_worker {
            set_activity(model, &worker);
        }
        Ok(())
    }

    /// Cancels a task that is still being routed: its pending reservations are canceled and
    /// their workers freed. Returns the task as canceled.
    pub(crate) async fn cancel_locked(
        &self,
        locked: &mut Locked,
        mut task: Task,
        reason: Option<&str>,
        now: Timestamp,
        lead: Vec<Event>,
    ) -> Result<Task> {
        task.assignment_status = TaskStatus::Canceled;
        task.reason = reason.map(str::to_owned);
        task.version += 1;
        task.date_updated = now;
        let ended = self
            .end_pending(locked, &task.sid, ReservationStatus::Canceled, now)
            .await?;
        let mut events = lead;
        events.extend(event::reservations(
            &locked.workspace,
            "reservation.canceled",
            &ended,
            &task,
            now,
        ));
        events.push(event::task(&locked.workspace, "task.canceled", &task, now));
        let mut writes: Vec<Write<'_>> = ended.iter().map(Write::Reservation).collect();
        writes.push(Write::Task(&task));
        writes.extend(events.iter().map(Write::Event));
        self.commit(locked, &writes);
        self.release(locked, &ended, now);
        locked.model().remove_task(&task.sid);
        Ok(task)
    }

    /// The task's pending reservations, moved to `status` (not yet written).
    pub(crate) async fn end_pending(
        &self,
        locked: &mut Locked,
        task: &TaskSid,
        status: ReservationStatus,
        now: Timestamp,
    ) -> Result<Vec<Reservation>> {
        // The model knows which reservations are pending; the store only has to say more when
        // there are some.
        if locked
            .model()
            .task(task)
            .is_some_and(|t| t.pending.is_empty())
        {
            return Ok(Vec::new());
        }
        let mut ended = Vec::new();
        for mut r in locked.model().rows.task_reservations(task) {
            if r.status == ReservationStatus::Pending {
                r.status = status;
                r.version += 1;
                r.date_updated = now;
                ended.push(r);
            }
        }
        Ok(ended)
    }

    /// Tells the model that pending reservations ended (after they were written).
    pub(crate) fn release(&self, locked: &mut Locked, ended: &[Reservation], now: Timestamp) {
        let model = locked.model();
        for r in ended {
            model.end_pending(&r.task_sid, &r.worker_sid);
            model.move_load(
                &r.worker_sid,
                &r.task_channel_sid,
                ReservationStatus::Pending,
                r.status,
                now,
            );
        }
    }
}

/// When `worker` became idle, if the model says so and its stored row does not yet: recorded
/// for the longest-idle choice after a restart, in the write of the decision that freed it.
pub(crate) fn idle_since_changed(locked: &mut Locked, worker: &WorkerSid) -> Option<Timestamp> {
    let model = locked.model();
    let idle_since = model.workers.get(worker)?.idle_since;
    let stored = model.rows.worker(worker)?.idle_since;
    (stored != idle_since).then_some(idle_since)
}

/// Mirrors a worker's activity in the model.
pub(crate) fn set_activity(model: &mut Model, worker: &Worker) {
    if let Some(w) = model.workers.get_mut(&worker.sid) {
        w.activity_sid = worker.activity_sid.clone();
        w.activity_name = worker.activity_name.clone();
        w.available = worker.available;
        w.refresh();
    }
}

/// The label of the filter a step belongs to (`None` for an unlabeled filter).
pub(crate) fn filter_name(model: &Model, task: &Task, at: StepRef) -> Option<String> {
    let (workflow, _) = task.workflow.as_ref()?;
    let config = model.workflow(workflow)?;
    config.filters.get(at.filter?)?.friendly_name.clone()
}

/// What a task entering a workflow step records: the match, then a queue change if any
/// (`task-queue.moved` from another queue, and `task-queue.entered`).
pub(crate) fn step_events(
    ws: &Workspace,
    task: &Task,
    old_queue: Option<&(TaskQueueSid, String)>,
    at: (StepRef, Option<&str>),
    now: Timestamp,
) -> Vec<Event> {
    let mut events = vec![event::workflow(
        ws,
        "workflow.target-matched",
        task,
        Some(at),
        now,
    )];
    if let Some(q) = task
        .task_queue
        .as_ref()
        .filter(|q| Some(&q.0) != old_queue.map(|o| &o.0))
    {
        if old_queue.is_some() {
            events.push(event::queue(ws, "task-queue.moved", task, q, now));
        }
        events.push(event::queue(ws, "task-queue.entered", task, q, now));
    }
    events
}
