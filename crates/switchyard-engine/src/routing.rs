//! Routing: one in-memory [`Model`] per workspace, decisions serialized per workspace, every
//! decision committed before anyone hears of it.
//!
//! Operations that can change who gets which task (tasks, reservations, workers, queues,
//! workflows) run under the workspace's lock: they write the store, update the model to match,
//! and then ask the model for the reservations the change makes possible. Each reservation is
//! one transaction (reservation, task, worker). Notifications go out after the lock is released.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as SyncMutex};

use serde_json::Value;
use switchyard_core::expr::{Expr, Scoped};
use switchyard_core::model::{
    Reservation, Task, Worker, Workflow, Workspace, MAX_ASSIGNMENT_COUNT,
};
use switchyard_core::routing::{
    callback_backoff, taskrouter_vars, CallbackFailures, ChannelState, Model, QueueState,
    ReservationStatus, Route, StepRef, TaskState, TaskStatus, WorkerState,
};
use switchyard_core::sid::{
    ActivitySid, TaskChannelSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid, WorkspaceSid,
};
use switchyard_core::workflow::WorkflowConfig;
use switchyard_core::Timestamp;
use switchyard_store::{Chain, OnCommit, Pending, Write};
use tokio::sync::{mpsc, Mutex, OwnedMutexGuard};

use crate::deadline::Due;
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
    fn publish(&self, notifications: Vec<Notification>) {
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

/// A workspace's routing state: its model (`None` until loaded, or once it may disagree with
/// the store) and the chain its decisions' writes are submitted on.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) model: Option<Model>,
    /// Every write decided on this model, in decision order: once one fails, the writer refuses
    /// the rest, and the next lock rebuilds the model.
    chain: Chain,
}

/// The workspace's model, locked for one operation; loaded from the store on first use.
///
/// The operation decides on the model, submits its writes without waiting ([`Engine::commit`])
/// and updates the model as if they had committed. [`Engine::release_lock`] releases the lock
/// as soon as they are submitted, then waits for their commit before the caller hears of it;
/// the next operation meanwhile decides on top of them.
pub(crate) struct Locked {
    guard: OwnedMutexGuard<Slot>,
    /// Where the workspace's next deadline is published when the lock is released.
    routing: Arc<Routing>,
    pub(crate) workspace: Workspace,
    inflight: Vec<Pending>,
}

impl Drop for Locked {
    fn drop(&mut self) {
        if !self.inflight.is_empty() {
            // Left on an error after writing, without `release_lock`: the model may hold half
            // a change, so it is rebuilt from the store on next use.
            self.guard.model = None;
        }
        let due = match self.guard.model.as_ref() {
            None => Some(Due::Rebuild),
            Some(model) => model.next_deadline().map(Due::At),
        };
        self.routing.publish_deadline(&self.workspace.sid, due);
    }
}

impl Locked {
    pub(crate) fn model(&mut self) -> &mut Model {
        self.guard.model.get_or_insert_with(Model::default)
    }

    /// Whether another operation wants this workspace. Each one clones the workspace's model
    /// cell before it waits for the lock; the map of cells and this guard hold the other two
    /// references.
    pub(crate) fn contended(&self) -> bool {
        Arc::strong_count(OwnedMutexGuard::mutex(&self.guard)) > 2
    }

    /// Moves `worker` to `activity` as of `now` (name and availability from the model).
    pub(crate) fn move_to_activity(
        &mut self,
        worker: &mut Worker,
        activity: ActivitySid,
        now: Timestamp,
    ) {
        let (name, available) = self
            .model()
            .activities
            .get(&activity)
            .cloned()
            .unwrap_or_default();
        worker.activity_sid = activity;
        worker.activity_name = name;
        worker.available = available;
        worker.date_status_changed = now;
        worker.version += 1;
        worker.date_updated = now;
    }

    /// The writes submitted so far, for the caller to wait for apart from the rest.
    pub(crate) fn take_inflight(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.inflight)
    }

    /// An activity of the workspace (its name and availability), for the parameter `field`.
    pub(crate) fn activity(&mut self, a: &ActivitySid, field: &str) -> Result<(String, bool)> {
        let ws = &self.workspace.sid;
        let found = self.guard.model.as_ref().and_then(|m| m.activities.get(a));
        found.cloned().ok_or_else(|| {
            Error::invalid(format!("{field} {a} is not an activity of workspace {ws}"))
        })
    }

    /// A worker's row, as the decisions so far left it.
    pub(crate) fn worker_row(&mut self, sid: &WorkerSid) -> Result<Worker> {
        (self.model().rows.worker(sid).cloned()).ok_or_else(|| Error::not_found("Worker", sid))
    }
}

/// Waits for submitted writes, in order; the first failure, if any.
pub(crate) async fn settle(inflight: Vec<Pending>) -> Result<()> {
    let mut result = Ok(());
    for pending in inflight {
        if let Err(e) = pending.wait().await {
            if result.is_ok() {
                result = Err(e.into());
            }
        }
    }
    result
}

/// Keeps the model's rows as `writes` leave them.
fn mirror_rows(model: &mut Model, writes: &[Write<'_>]) {
    let rows = &mut model.rows;
    for w in writes {
        match *w {
            Write::Reservation(r) => rows.put_reservation(r.clone()),
            Write::Worker { worker, .. } => rows.put_worker(worker.clone()),
            Write::WorkerIdle { worker, idle_since } => rows.set_idle_since(worker, idle_since),
            Write::DeleteTask(sid) => rows.remove_task(sid),
            Write::Task(_)
            | Write::Event(_)
            | Write::CallbackAnswered(_)
            | Write::CallbackFailed { .. } => {}
        }
    }
}

/// Compiles a stored expression; one that no longer parses matches nobody rather than failing.
fn compile(text: &str) -> Expr {
    Expr::parse(text)
        .unwrap_or_else(|_| Expr::parse("1 == 0").expect("a constant expression parses"))
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

    /// Locks the workspace's routing state, loading the model if needed.
    pub(crate) async fn lock(&self, workspace: Workspace) -> Result<Locked> {
        self.lock_with(workspace, false).await
    }

    /// Locks the workspace's routing state; with `fresh`, rebuilds the model from the store
    /// even if one is loaded (after a configuration change).
    ///
    /// A model built here otherwise (first use, or after a failed write dropped it) has not
    /// seen what the store holds routed: every waiting task and idle worker is routed before
    /// the operation goes on, and what that reserves is committed and announced here.
    async fn lock_with(&self, workspace: Workspace, fresh: bool) -> Result<Locked> {
        let cell = {
            let mut models = self
                .routing
                .models
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            models.entry(workspace.sid.clone()).or_default().clone()
        };
        let mut guard = cell.lock_owned().await;
        if guard.chain.broken() {
            // A write decided on this model failed: it took that write as done.
            guard.model = None;
        }
        let unrouted = !fresh && guard.model.is_none();
        if fresh || guard.model.is_none() {
            match self.load_model(&workspace).await {
                Ok(model) => {
                    guard.model = Some(model);
                    // The load read the store after every write submitted before it: the
                    // model builds on none of them, whatever became of them.
                    guard.chain = Chain::default();
                }
                Err(e) => {
                    // Its timers are unknown until a load succeeds: the timer loop retries.
                    guard.model = None;
                    drop(guard);
                    (self.routing).publish_deadline(&workspace.sid, Some(Due::Rebuild));
                    return Err(e);
                }
            }
        }
        let mut locked = Locked {
            guard,
            routing: self.routing.clone(),
            workspace,
            inflight: Vec::new(),
        };
        if unrouted {
            let sweep = Triggers {
                sweep: true,
                ..Default::default()
            };
            if let Err(e) = self.route(&mut locked, sweep).await {
                locked.guard.model = None;
                self.release_lock(locked, Ok(())).await?;
                return Err(e);
            }
        }
        Ok(locked)
    }

    /// Submits one decision's writes behind the earlier ones of the workspace and returns
    /// without waiting; the model's rows follow them at once. The rest of the model is the
    /// caller's to update, as if they had committed; should they fail, the writes decided after
    /// them are refused and the model is rebuilt (see [`Engine::release_lock`]).
    pub(crate) fn commit(&self, locked: &mut Locked, writes: &[Write<'_>]) {
        self.commit_announcing(locked, writes, None);
    }

    /// [`Engine::commit`], with `announce` told to subscribers once the writes have committed,
    /// in commit order.
    pub(crate) fn commit_announcing(
        &self,
        locked: &mut Locked,
        writes: &[Write<'_>],
        announce: Option<Notification>,
    ) {
        mirror_rows(locked.model(), writes);
        let on_commit = announce.map(|n| {
            let routing = Arc::clone(&self.routing);
            Box::new(move || routing.publish(vec![n])) as OnCommit
        });
        let pending = (self.store).submit_then(writes, &locked.guard.chain, on_commit);
        locked.inflight.push(pending);
    }

    /// Runs the routing the triggers call for, releases the lock, and waits for every write.
    pub(crate) async fn finish(&self, mut locked: Locked, triggers: Triggers) -> Result<()> {
        let routed = self.route(&mut locked, triggers).await;
        self.release_lock(locked, routed).await
    }

    /// Releases the lock, then waits for the operation's writes; `result` is how the operation
    /// went until now (an error drops the model, which may hold half a change). A failed write
    /// fails the operation: nobody was told of it, and the model is rebuilt on next use.
    pub(crate) async fn release_lock(&self, mut locked: Locked, result: Result<()>) -> Result<()> {
        if result.is_err() {
            locked.guard.model = None;
        }
        let inflight = std::mem::take(&mut locked.inflight);
        let ws = locked.workspace.sid.clone();
        drop(locked);
        let written = settle(inflight).await;
        if written.is_err() {
            // The next lock rebuilds it; until then its timers are unknown.
            self.routing.publish_deadline(&ws, Some(Due::Rebuild));
        }
        result.and(written)
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
            let mut task = self.store_task(&locked.workspace.sid, &sid).await?;
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
        self.routing.publish_deadline(ws, None);
    }

    async fn load_model(&self, workspace: &Workspace) -> Result<Model> {
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
            .list_task_channels(ws, Default::default(), 10_000)
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
        }
        Ok(model)
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
            let task = self.store_task(&locked.workspace.sid, sid).await?;
            return self
                .cancel_locked(
                    locked,
                    task,
                    Some(MAX_ASSIGNMENTS_EXCEEDED),
                    now,
                    Vec::new(),
                )
                .await;
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
            let mut task = self.store_task(&locked.workspace.sid, sid).await?;
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

    /// The task as the writes submitted so far left it: under the workspace lock, with the
    /// operation's own writes in flight, what its next decision builds on.
    pub(crate) async fn store_task(&self, ws: &WorkspaceSid, sid: &TaskSid) -> Result<Task> {
        self.store
            .task_as_written(ws, sid)
            .await?
            .ok_or_else(|| Error::not_found("Task", sid))
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
        let ws = locked.workspace.sid.clone();
        let mut task = self.store_task(&ws, task_sid).await?;
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
        } else if !locked.workspace.multi_task_enabled {
            previous_activity = Some(worker.activity_sid.clone());
        }
        let reservation = Reservation {
            sid: mint(),
            workspace_sid: ws.clone(),
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
        let mut writes = vec![Write::Task(&task), Write::Reservation(&reservation)];
        if moves_worker {
            writes.push(Write::Worker {
                worker: &worker,
                expected_version: worker_version,
            });
        }
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
    /// their workers freed.
    pub(crate) async fn cancel_locked(
        &self,
        locked: &mut Locked,
        mut task: Task,
        reason: Option<&str>,
        now: Timestamp,
        lead: Vec<Event>,
    ) -> Result<()> {
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
        Ok(())
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

pub(crate) fn channel_state(unique_name: String, capacity: i64, available: bool) -> ChannelState {
    ChannelState {
        unique_name,
        capacity,
        available,
        pending: 0,
        assigned: 0,
        wrapping: 0,
    }
}

pub(crate) fn queue_state(q: &switchyard_core::model::TaskQueue) -> QueueState {
    QueueState {
        sid: q.sid.clone(),
        friendly_name: q.friendly_name.clone(),
        target: compile(&q.target_workers),
        order: q.task_order,
        max_reserved: q.max_reserved_workers,
        reservation_activity: q.reservation_activity.as_ref().map(|(s, _)| s.clone()),
        assignment_activity: q.assignment_activity.as_ref().map(|(s, _)| s.clone()),
        members: HashSet::new(),
    }
}

pub(crate) fn worker_state(
    w: &Worker,
    channels: HashMap<TaskChannelSid, ChannelState>,
) -> WorkerState {
    let attrs = serde_json::from_str(&w.attributes).unwrap_or(Value::Null);
    WorkerState::new(
        w.sid.clone(),
        w.friendly_name.clone(),
        attrs,
        (w.activity_sid.clone(), w.activity_name.clone(), w.available),
        channels,
        w.idle_since,
    )
}

pub(crate) fn task_state(t: &Task, seq: i64) -> TaskState {
    let route = match (&t.routing_target, &t.workflow, t.step) {
        (Some(target), _, _) if target.starts_with("WK") => match target.parse() {
            Ok(worker) => Route::Worker {
                worker,
                ignore_capacity: t.ignore_capacity.unwrap_or(true),
            },
            Err(_) => Route::Unrouted,
        },
        (Some(target), _, _) if target.starts_with("WQ") => match target.parse() {
            Ok(q) => Route::Queue(q),
            Err(_) => Route::Unrouted,
        },
        (_, Some((workflow, _)), Some(step)) => Route::Workflow {
            workflow: workflow.clone(),
            step,
        },
        _ => Route::Unrouted,
    };
    TaskState {
        sid: t.sid.clone(),
        attributes: serde_json::from_str(&t.attributes).unwrap_or(Value::Null),
        priority: t.priority,
        channel: t.task_channel.0.clone(),
        route,
        queue: t.task_queue.as_ref().map(|(q, _)| q.clone()),
        virtual_start_time: t.virtual_start_time,
        seq,
        pending: HashSet::new(),
        reserved_at: HashMap::new(),
        refused_by: HashSet::new(),
        callback_failures: HashMap::new(),
        date_created: t.date_created,
        step_entered: t.step_entered,
        ttl_secs: t.timeout,
        assignment_count: t.assignment_count,
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
