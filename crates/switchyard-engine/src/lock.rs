//! The lock protocol: a workspace's model and the chain of its writes, locked for one
//! operation; writes submitted without waiting, the lock released at once, the commit awaited
//! after.

use std::sync::Arc;

use switchyard_core::decide::{Change, Decider, Triggers, Unit};
use switchyard_core::event::Event;
use switchyard_core::model::{Task, Worker, Workspace};
use switchyard_core::routing::Model;
use switchyard_core::sid::{TaskSid, WorkerSid};
use switchyard_core::Timestamp;
use switchyard_store::{Chain, Fence, OnCommit, Pending};
use tokio::sync::OwnedMutexGuard;

use crate::deadline::Due;
use crate::measure;
use crate::routing::{Notification, Routing};
use crate::Minter;
use crate::{Engine, Error, Result};

/// A workspace's routing state: its model (`None` until loaded, or once it may disagree with
/// the store) and the chain its decisions' writes are submitted on.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) model: Option<Model>,
    /// Every write decided on this model, in decision order: once one fails, the writer refuses
    /// the rest, and the next lock rebuilds the model.
    chain: Chain,
    /// The number of the workspace's last event decided, loaded with the model.
    last_event: i64,
    /// The store's generation the model was loaded in ([`switchyard_store::Store::generation`]).
    generation: u64,
    /// The lease epoch the model was loaded under, in a cluster (`cluster.rs`); its writes
    /// commit only while the lease keeps it.
    epoch: Option<i64>,
}

/// The workspace's model, locked for one operation; loaded from the store on first use.
///
/// The operation decides on the model with the core ([`Engine::decide`]), which changes the
/// model as if its units had committed, and submits the units without waiting.
/// [`Engine::release_lock`] releases the lock as soon as they are submitted, then waits for
/// their commit before the caller hears of it; the next operation meanwhile decides on top of
/// them.
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
            None => Some(Due::REBUILD_NOW),
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

    /// Numbers `events` after every event of the workspace decided before them. Only under the
    /// lock, for events submitted to the writer (which commits in submission order) before it
    /// is released.
    pub(crate) fn number<'e>(&mut self, events: impl IntoIterator<Item = &'e mut Event>) {
        for event in events {
            self.guard.last_event += 1;
            event.number = self.guard.last_event;
        }
    }

    /// The writes submitted so far, for the caller to wait for apart from the rest.
    pub(crate) fn take_inflight(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.inflight)
    }

    /// A core decider on the locked model, at `now`.
    pub(crate) fn decider<'a>(
        &'a mut self,
        now: Timestamp,
        mint: &'a mut Minter,
    ) -> Decider<'a, Minter> {
        let model = self.guard.model.get_or_insert_with(Model::default);
        Decider::new(model, &self.workspace, now, mint)
    }

    /// A task's row, as the decisions so far left it, if it is neither completed nor
    /// canceled.
    pub(crate) fn live_task(&mut self, sid: &TaskSid) -> Option<Task> {
        self.model().rows.task(sid).cloned()
    }

    /// The chain of the workspace's writes, to learn later whether one decided so far failed.
    pub(crate) fn chain(&self) -> Chain {
        self.guard.chain.clone()
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

impl Engine {
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
    pub(crate) async fn lock_with(&self, workspace: Workspace, fresh: bool) -> Result<Locked> {
        let (mut guard, epoch) = loop {
            let cell = {
                let mut models = self
                    .routing
                    .models
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                models.entry(workspace.sid.clone()).or_default().clone()
            };
            let guard = cell.clone().lock_owned().await;
            // Under the lock: a hand-over takes it too, so this sees whether one came first.
            let epoch = self.fence(&workspace.sid).await?;
            // A lease lost meanwhile forgot this slot: another may hold a model of the same
            // workspace now, and two models must never decide for one workspace.
            if self.routing.holds_slot(&workspace.sid, &cell) {
                break (guard, epoch);
            }
        };
        let generation = self.store.generation();
        if guard.chain.broken() || guard.generation != generation || guard.epoch != epoch {
            // A write decided on this model failed: it took that write as done. Or the store
            // lost its database for a while, and a group cut off may have committed. Or the
            // lease changed hands since the model was loaded.
            guard.model = None;
        }
        let unrouted = !fresh && guard.model.is_none();
        if fresh || guard.model.is_none() {
            let loaded = match self.load_model(&workspace).await {
                Ok(model) => (self.store.last_event_number(&workspace.sid).await)
                    .map(|last| (model, last))
                    .map_err(Error::from),
                Err(e) => Err(e),
            };
            match loaded {
                Ok((model, last_event)) => {
                    guard.model = Some(model);
                    guard.last_event = last_event;
                    guard.generation = generation;
                    guard.epoch = epoch;
                    // The load read the store after every write submitted before it: the
                    // model builds on none of them, whatever became of them.
                    guard.chain = match epoch {
                        Some(epoch) => Chain::fenced(Fence {
                            workspace: workspace.sid.to_string(),
                            epoch,
                        }),
                        None => Chain::default(),
                    };
                }
                Err(e) => {
                    // Its timers are unknown until a load succeeds: the timer loop retries,
                    // backing off while it keeps failing.
                    guard.model = None;
                    drop(guard);
                    self.routing.rebuild_failed(&workspace.sid, self.now());
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
            self.route(&mut locked, sweep);
        }
        Ok(locked)
    }

    /// Writes a configuration change with its events, numbered under the workspace's lock
    /// after every event decided before them and submitted before the lock is released, so
    /// that the writer commits them in that order; returns once it committed.
    ///
    /// On a chain of its own: a configuration write that fails (a name taken meanwhile)
    /// refuses none of the routing writes decided after it, and the model, which it did not
    /// change, stays (the caller reloads it once the change has committed). A change that
    /// updates the model in place (a worker created or deleted, a queue created) goes on the
    /// workspace's chain instead ([`Engine::submit`]).
    pub(crate) async fn configure(&self, workspace: Workspace, changes: Vec<Change>) -> Result<()> {
        let locked = self.lock(workspace).await?;
        self.configure_locked(locked, changes).await
    }

    /// [`Engine::configure`] under a lock already held (by a change that read what it writes
    /// under it).
    pub(crate) async fn configure_locked(
        &self,
        mut locked: Locked,
        mut changes: Vec<Change>,
    ) -> Result<()> {
        locked.number(changes.iter_mut().filter_map(|c| match c {
            Change::Event(e) => Some(e),
            _ => None,
        }));
        let pending = self.store.submit(&changes, &locked.guard.chain.sibling());
        // The model stays as it is if this write fails: the lock's own writes (routing a model
        // it had to load) are awaited apart from it, and their failure, after which the model
        // is rebuilt, is not this change's: it has committed once `pending` says so.
        if let Err(e) = self.release_lock(locked, Ok(())).await {
            tracing::warn!(error = %e, "routing before a configuration change failed");
        }
        Ok(pending.wait().await?)
    }

    /// Submits writes behind the earlier ones of the workspace, with `announce` told to
    /// subscribers once they commit (in commit order); returns without waiting.
    pub(crate) fn submit(
        &self,
        locked: &mut Locked,
        writes: &mut [Change],
        announce: Option<Notification>,
    ) {
        locked.number(writes.iter_mut().filter_map(|c| match c {
            Change::Event(e) => Some(e),
            _ => None,
        }));
        let counts = measure::counts(writes);
        let on_commit = (announce.is_some() || !counts.is_empty()).then(|| {
            let routing = Arc::clone(&self.routing);
            Box::new(move || {
                measure::record(&counts);
                if let Some(n) = announce {
                    routing.publish(vec![n]);
                }
            }) as OnCommit
        });
        let pending = (self.store).submit_then(writes, &locked.guard.chain, on_commit);
        locked.inflight.push(pending);
    }

    /// Decides with the core on the locked model at `now` (`f` calls the [`Decider`]), then
    /// submits the units decided, in order, behind the workspace's earlier writes.
    pub(crate) fn decide<R>(
        &self,
        locked: &mut Locked,
        now: Timestamp,
        f: impl FnOnce(&mut Decider<'_, Minter>) -> R,
    ) -> R {
        let mut mint = Minter;
        let (out, units) = {
            let mut decider = locked.decider(now, &mut mint);
            let out = f(&mut decider);
            (out, decider.finish())
        };
        for unit in units {
            self.submit_unit(locked, unit);
        }
        out
    }

    /// Submits one unit the core decided (whose rows the model already follows).
    fn submit_unit(&self, locked: &mut Locked, mut unit: Unit) {
        let announce = unit.announce.map(Notification::ReservationCreated);
        self.submit(locked, &mut unit.changes, announce);
    }

    /// Runs the routing the triggers call for, releases the lock, and waits for every write.
    pub(crate) async fn finish(&self, mut locked: Locked, triggers: Triggers) -> Result<()> {
        self.route(&mut locked, triggers);
        self.release_lock(locked, Ok(())).await
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
        let epoch = locked.guard.epoch;
        drop(locked);
        let written = settle(inflight).await;
        if let Err(Error::Store(switchyard_store::StoreError::Fenced(_))) = &written {
            self.lease_lost(&ws, epoch);
        }
        match (&result, &written) {
            // The next lock rebuilds it; until then its timers are unknown.
            (_, Err(_)) => self.routing.rebuild_failed(&ws, self.now()),
            (Ok(()), Ok(())) => self.routing.recovered(&ws),
            (Err(_), Ok(())) => {}
        }
        result.and(written)
    }
}
