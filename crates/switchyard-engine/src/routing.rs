//! Routing: one in-memory [`Model`] per workspace, decisions serialized per workspace, every
//! decision committed before anyone hears of it.
//!
//! Operations that can change who gets which task (tasks, reservations, workers, queues,
//! workflows) run under the workspace's lock (`lock.rs`): the core decides on the model
//! (`switchyard_core::decide`, which changes the model and records units of rows to write),
//! the engine submits the units and then routes what the change made possible. Each
//! reservation is one unit (reservation, task, worker), announced once it commits. The model
//! is built from the store in `load.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};

use switchyard_core::decide::Triggers;
use switchyard_core::model::{Task, Workspace};
use switchyard_core::sid::{TaskSid, WorkflowSid, WorkspaceSid};
use tokio::sync::{mpsc, Mutex};

use crate::deadline::Due;
use crate::lock::{Locked, Slot};
use crate::{Engine, Error, Result};

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

pub use switchyard_core::decide::ReservationCreated;

/// Per-workspace models and the notification subscribers.
#[derive(Default)]
pub(crate) struct Routing {
    pub(crate) models: SyncMutex<HashMap<WorkspaceSid, Arc<Mutex<Slot>>>>,
    /// Workspaces as last read from the store; an entry is dropped whenever its workspace or its
    /// activities change (every such change goes through `reload` or `forget`).
    workspaces: SyncMutex<HashMap<WorkspaceSid, Workspace>>,
    /// The store's generation the cached workspaces were read in.
    generation: AtomicU64,
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
    /// The cached workspace, unless the store's `generation` moved on since it was cached
    /// (then the whole cache is dropped).
    pub(crate) fn cached_workspace(&self, ws: &WorkspaceSid, generation: u64) -> Option<Workspace> {
        let mut cached = self.workspaces.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            cached.clear();
        }
        cached.get(ws).cloned()
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

    /// Whether `cell` is still `ws`'s model cell (not forgotten since it was taken).
    pub(crate) fn holds_slot(&self, ws: &WorkspaceSid, cell: &Arc<Mutex<Slot>>) -> bool {
        let models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        models.get(ws).is_some_and(|c| Arc::ptr_eq(c, cell))
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
        let locked = match self.lock_with(workspace, true).await {
            Ok(locked) => locked,
            // The change committed; the node that decides now loads it from the store.
            Err(Error::NotOwner { .. } | Error::Unavailable(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
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
        let mut locked = match self.lock_with(workspace, true).await {
            Ok(locked) => locked,
            // The change committed; the node that decides now loads it from the store (its
            // load routes what waits, though it re-enters no task into the workflow).
            Err(Error::NotOwner { .. } | Error::Unavailable(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let now = self.now();
        self.decide(&mut locked, now, |d| d.reenter_workflow(workflow, all));
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

    /// Decides what the triggers make possible (core `Decider::route`) and submits it.
    pub(crate) fn route(&self, locked: &mut Locked, triggers: Triggers) {
        let now = self.now();
        self.decide(locked, now, |d| d.route(triggers));
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
}
