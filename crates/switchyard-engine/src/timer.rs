//! Timers: reservation timeouts, task TTLs and workflow step timeouts.
//!
//! The core computes every deadline from the routing model ([`Model::next_due`]); this module
//! fires them, one transaction each, in deadline order (ties in creation order), and re-routes
//! what each firing frees. With the real clock, [`Engine::run_timers`] sleeps until the next
//! deadline; with a [`ManualClock`](crate::ManualClock), [`Engine::advance_to`] moves time and fires
//! every timer it passes, with the clock set to each timer's deadline as it fires.

use switchyard_core::routing::Timer;
use switchyard_core::sid::WorkspaceSid;
use switchyard_core::Timestamp;

use crate::deadline::Due;
use crate::measure;
use crate::Clock;
use crate::{Engine, Error, Result};
use crate::{Notification, ReservationCreated};
use switchyard_core::decide::Command;

pub use switchyard_core::decide::{MAX_ASSIGNMENTS_EXCEEDED, TTL_EXCEEDED, WORKFLOW_TIMEOUT};

/// How many timers one workspace fires under one hold of its lock before letting operations
/// waiting for it go first. Not fewer: each release waits for the run's commits, which stalls
/// the writer until the next run has been decided.
const RUN: usize = 256;

/// A timer that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredTimer {
    /// Its deadline (the clock's time when it fired).
    pub at: Timestamp,
    /// The workspace.
    pub workspace_sid: WorkspaceSid,
    /// What fired.
    pub timer: Timer,
}

impl Engine {
    /// Loads every workspace that has tasks being routed, so their timers run, fires the
    /// timers that fell due while the engine was down, and routes what is waiting. Call once
    /// at startup. A manual clock behind the latest stored change is moved up to it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use switchyard_engine::{
    ///     CreateTask, CreateTaskQueue, CreateWorkspace, Engine, EngineOptions, SystemClock,
    ///     TaskStatus,
    /// };
    ///
    /// let dir = tempfile::tempdir()?;
    /// let url = format!("sqlite://{}", dir.path().join("router.db").display());
    /// let engine = Engine::open(&url, SystemClock, EngineOptions::default()).await?;
    /// # let account = engine.ensure_account("AC00000000000000000000000000000000".parse()?).await?;
    /// # let new_workspace = CreateWorkspace { friendly_name: "Durable".into(), ..Default::default() };
    /// # let ws = engine.create_workspace(&account, new_workspace).await?.sid;
    /// # let queue = CreateTaskQueue { friendly_name: "All".into(), ..Default::default() };
    /// # let queue = engine.create_task_queue(&account, &ws, queue).await?.sid;
    /// let request = CreateTask { task_queue_sid: Some(queue), ..Default::default() };
    /// let task = engine.create_task(&account, &ws, request).await?.sid;
    /// engine.close().await;
    ///
    /// // A new engine on the same file picks up where the first stopped.
    /// let engine = Engine::open(&url, SystemClock, EngineOptions::default()).await?;
    /// engine.start().await?;
    /// assert_eq!(engine.pending_timers().await, 1); // the task's TTL
    /// assert_eq!(engine.task(&account, &ws, &task).await?.assignment_status, TaskStatus::Pending);
    /// # Ok(()) }
    /// ```
    pub async fn start(&self) -> Result<Vec<FiredTimer>> {
        // Time never runs backward: a manual clock starts no earlier than what the store recorded.
        if let Some(clock) = self.clock.manual() {
            let latest = self.store.latest_time().await?;
            if latest > clock.now() {
                clock.set(latest);
            }
        }
        if self.cluster.is_some() {
            // Each workspace is recovered by the node that takes its lease (`cluster.rs`); the
            // tick is tried again every tenth of a lease.
            if let Err(e) = self.cluster_tick().await {
                tracing::warn!(error = %e, "taking this node's share of the workspaces failed; retrying");
            }
            return Ok(Vec::new());
        }
        // Left unanswered by the last run: announced again below if still pending then.
        let unanswered: std::collections::HashSet<_> = self
            .store
            .unanswered_reservations()
            .await?
            .into_iter()
            .map(|r| r.sid)
            .collect();
        for ws in self.store.workspaces_with_routing_tasks().await? {
            let workspace = self.store_workspace(&ws).await?;
            // Loading the model routes every waiting task and idle worker.
            let locked = self.lock(workspace).await?;
            self.release_lock(locked, Ok(())).await?;
        }
        let fired = self.fire_due().await?;
        self.renotify(&unanswered).await?;
        Ok(fired)
    }

    /// Announces again the reservations of `sids` that are still pending with no recorded
    /// callback outcome: their callback may never have been sent, or its answer was lost when
    /// the process stopped. Subscribers hear of each at least once.
    pub(crate) async fn renotify(
        &self,
        sids: &std::collections::HashSet<switchyard_core::sid::ReservationSid>,
    ) -> Result<()> {
        let mut out = Vec::new();
        let still = self.store.unanswered_reservations().await?;
        for r in still.into_iter().filter(|r| sids.contains(&r.sid)) {
            let ws = self.store_workspace(&r.workspace_sid).await?;
            let task = self.committed_task(&ws.sid, &r.task_sid).await?;
            let Some(worker) = self.store.get_worker(&ws.sid, &r.worker_sid).await? else {
                continue;
            };
            let workflow = match &task.workflow {
                Some((w, _)) => self.store.get_workflow(&ws.sid, w).await?,
                None => None,
            };
            out.push(Notification::ReservationCreated(Box::new(
                ReservationCreated {
                    workspace: ws,
                    reservation: r,
                    task,
                    worker,
                    workflow,
                },
            )));
        }
        self.publish(out);
        Ok(())
    }

    /// The earliest timer deadline of any loaded workspace.
    pub async fn next_deadline(&self) -> Option<Timestamp> {
        let now = self.now();
        // A dropped model's timers are unknown until it is rebuilt, which `fire_due` does as
        // soon as its backoff allows.
        (self.routing.deadlines().into_iter())
            .map(|(_, due)| due.at(now))
            .min()
    }

    /// Rebuilds the models dropped after a failed write whose retry is due, routing what they
    /// hold, so that their timers are known again. A rebuild that fails is logged and put off
    /// (`deadline.rs`); the other workspaces go on.
    async fn rebuild_dropped(&self) {
        let now = self.now();
        for (ws, due) in self.routing.deadlines() {
            match due {
                Due::Rebuild { not_before } if not_before <= now => {}
                _ => continue,
            }
            let rebuilt = match self.store_workspace(&ws).await {
                Ok(workspace) => match self.lock(workspace).await {
                    Ok(locked) => self.release_lock(locked, Ok(())).await,
                    Err(e) => Err(e),
                },
                Err(Error::NotFound { .. }) => {
                    self.forget(&ws);
                    continue;
                }
                Err(e) => {
                    self.routing.rebuild_failed(&ws, now);
                    Err(e)
                }
            };
            if let Err(e) = rebuilt {
                tracing::warn!(workspace = %ws, error = %e, "rebuilding the workspace's routing failed; retrying later");
            }
        }
    }

    /// How many timers are scheduled in the loaded workspaces.
    pub async fn pending_timers(&self) -> usize {
        let mut n = 0;
        for cell in self.routing.cells() {
            n += cell
                .lock()
                .await
                .model
                .as_ref()
                .map_or(0, |m| m.timer_count());
        }
        n
    }

    /// The workspace whose next deadline is earliest, if that is at most `upto`, with the
    /// deadline and the earliest deadline of the other workspaces.
    async fn earliest_deadline(
        &self,
        upto: Timestamp,
    ) -> Option<(Timestamp, WorkspaceSid, Option<Timestamp>)> {
        let mut best: Option<(Timestamp, WorkspaceSid)> = None;
        let mut runner_up: Option<Timestamp> = None;
        for (ws, due) in self.routing.deadlines() {
            // A dropped model is rebuilt first (`rebuild_dropped`), which publishes its timers.
            let Due::At(at) = due else {
                continue;
            };
            match &best {
                Some((b, _)) if at >= *b => runner_up = Some(runner_up.map_or(at, |r| r.min(at))),
                _ => {
                    if let Some((b, _)) = best.replace((at, ws)) {
                        runner_up = Some(runner_up.map_or(b, |r| r.min(b)));
                    }
                }
            }
        }
        best.filter(|(at, _)| *at <= upto)
            .map(|(at, ws)| (at, ws, runner_up))
    }

    /// Fires every timer due now, in deadline order. Returns what fired.
    pub async fn fire_due(&self) -> Result<Vec<FiredTimer>> {
        self.fire_upto(|| self.now(), false).await
    }

    /// Fires the timers with deadlines up to `upto` (read again before each run), run by run,
    /// each run in the workspace whose next deadline is earliest and stopping short of the
    /// other workspaces' next deadline; `advance` as in [`Engine::fire_run`].
    async fn fire_upto(
        &self,
        upto: impl Fn() -> Timestamp,
        advance: bool,
    ) -> Result<Vec<FiredTimer>> {
        self.rebuild_dropped().await;
        let mut fired = Vec::new();
        let mut last = None;
        loop {
            let upto = upto();
            let Some((at, ws, others)) = self.earliest_deadline(upto).await else {
                break;
            };
            let run = self
                .fire_run(&ws, others.map_or(upto, |o| o.min(upto)), advance)
                .await?;
            if run.is_empty() {
                // A deadline published before an operation still under way removed its timer:
                // the run republished the workspace's real one; stop only if nothing moved.
                if last == Some((at, ws.clone())) {
                    break;
                }
                last = Some((at, ws));
                continue;
            }
            last = None;
            fired.extend(run);
        }
        Ok(fired)
    }

    /// Moves a manual clock forward to `to`, firing on the way every timer that falls due, each
    /// with the clock at its deadline. Fails on a real clock, or when `to` is in the past.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use switchyard_engine::{
    ///     CreateTask, CreateTaskQueue, CreateWorkspace, Engine, EngineOptions, ManualClock,
    ///     TaskStatus, Timer, Timestamp, TTL_EXCEEDED,
    /// };
    ///
    /// let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
    /// let engine = Engine::open("sqlite::memory:", clock, EngineOptions::default()).await?;
    /// # let account = engine.ensure_account("AC00000000000000000000000000000000".parse()?).await?;
    /// # let new_workspace = CreateWorkspace { friendly_name: "Timers".into(), ..Default::default() };
    /// # let ws = engine.create_workspace(&account, new_workspace).await?.sid;
    /// # let queue = CreateTaskQueue { friendly_name: "Nobody".into(), ..Default::default() };
    /// # let queue = engine.create_task_queue(&account, &ws, queue).await?.sid;
    /// // A task nobody can take, which may wait one minute.
    /// let request = CreateTask { task_queue_sid: Some(queue), timeout: Some(60), ..Default::default() };
    /// let task = engine.create_task(&account, &ws, request).await?.sid;
    ///
    /// let fired = engine.advance_to(Timestamp::from_secs(1_800_000_090)).await?;
    /// assert_eq!(fired.len(), 1);
    /// assert_eq!(fired[0].at, Timestamp::from_secs(1_800_000_060));
    /// assert_eq!(fired[0].timer, Timer::Ttl { task: task.clone() });
    /// let task = engine.task(&account, &ws, &task).await?;
    /// assert_eq!(task.assignment_status, TaskStatus::Canceled);
    /// assert_eq!(task.reason.as_deref(), Some(TTL_EXCEEDED));
    /// assert_eq!(engine.now(), Timestamp::from_secs(1_800_000_090));
    /// # Ok(()) }
    /// ```
    pub async fn advance_to(&self, to: Timestamp) -> Result<Vec<FiredTimer>> {
        let Some(clock) = self.clock.manual() else {
            return Err(Error::invalid(
                "The clock is the system clock; start with a manual clock to move it",
            ));
        };
        if to < clock.now() {
            return Err(Error::invalid("The clock only moves forward"));
        }
        let _one_at_a_time = self.routing.advancing.lock().await;
        let mut fired = self.fire_upto(|| to, true).await?;
        clock.set(to);
        fired.extend(self.fire_due().await?);
        Ok(fired)
    }

    /// Fires one workspace's timers with deadlines up to `upto`, in order, under one hold of its
    /// lock; once [`RUN`] have fired, it stops as soon as another operation waits for the lock.
    /// With `advance`, moves the manual clock to each deadline as it comes; else fires only
    /// what is due now.
    ///
    /// Each firing is one transaction, submitted without waiting: while SQLite commits one,
    /// the next is decided. All have committed when this returns.
    async fn fire_run(
        &self,
        ws: &WorkspaceSid,
        upto: Timestamp,
        advance: bool,
    ) -> Result<Vec<FiredTimer>> {
        let workspace = self.store_workspace(ws).await?;
        let mut locked = self.lock(workspace).await?;
        let mut fired = Vec::new();
        let result = loop {
            let Some(at) = locked.model().next_deadline().filter(|at| *at <= upto) else {
                break Ok(());
            };
            if fired.len() >= RUN && locked.contended() {
                break Ok(());
            }
            if let Some(clock) = self.clock.manual().filter(|_| advance) {
                clock.set(at.max(clock.now()));
            }
            let now = self.now();
            let Some((at, timer)) = locked.model().next_due(now) else {
                break Ok(());
            };
            measure::timer_fired(ws, &timer);
            let command = Command::Fire(timer.clone());
            let fired_at = self.decide(&mut locked, now, |d| d.command(command));
            if let Err(e) = fired_at {
                // The core refused it, so it is still due: the model disagrees with its rows.
                // Ending the run with an error drops the model, which is rebuilt from the store.
                tracing::warn!(workspace = %ws, ?timer, error = %e, "a timer failed to fire");
                break Err(e.into());
            }
            fired.push(FiredTimer {
                at,
                workspace_sid: ws.clone(),
                timer,
            });
        };
        self.release_lock(locked, result).await?;
        Ok(fired)
    }

    /// Runs timers against the real clock until the engine is dropped: sleeps until the next
    /// deadline (or until a change may have brought one closer) and fires what is due. With a
    /// manual clock it does nothing; time moves through [`Engine::advance_to`].
    pub async fn run_timers(&self) {
        if self.clock.manual().is_some() {
            return;
        }
        loop {
            let wait = match self.next_deadline().await {
                Some(at) => {
                    std::time::Duration::from_millis((at - self.now()).as_millis().max(0) as u64)
                }
                None => std::time::Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.routing.changed.notified() => continue,
            }
            if let Err(e) = self.fire_due().await {
                tracing::warn!(error = %e, "firing timers failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}
