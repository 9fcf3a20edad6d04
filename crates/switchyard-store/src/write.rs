//! The atomic write of one routing decision, and the one writer that commits them in order.
//!
//! Each statement sent through sqlx is a round trip to the connection's worker thread, and
//! `BEGIN`/`COMMIT` are two more; a firing timer or an accepted reservation writes a task, its
//! reservations and their events. So a decision is compiled into one multi-statement query
//! (`BEGIN; …; COMMIT`) whose parameters sqlx binds statement by statement: one round trip.
//! (sqlx 0.8 runs such queries on SQLite only and means to drop them in a later version; this
//! module is the one place that relies on them.)
//!
//! One writer, on a thread of its own, commits every decision, in the order they were
//! submitted. [`Store::submit`] hands a decision over and returns at once, so the engine can work
//! out its next decision while this one commits: SQLite's thread and the engine's then run side
//! by side instead of taking turns. Until a write commits, the tasks it wrote are seen only by [`Store::task_as_written`]
//! (the engine's own view), and every query waits for the writes submitted before it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures_util::StreamExt;
use sqlx::{Executor, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use switchyard_core::event::Event;
use switchyard_core::model::{Reservation, Task, Worker};
use switchyard_core::sid::{ReservationSid, TaskSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;
use tokio::sync::{oneshot, watch, Notify};

use crate::{Result, Store, StoreError};

/// One change of a routing decision; [`Store::write`] applies a batch in one transaction.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// Insert or replace a task.
    Task(&'a Task),
    /// Insert or replace a reservation.
    Reservation(&'a Reservation),
    /// Update a worker whose stored version is `expected_version`.
    Worker {
        /// The new state.
        worker: &'a Worker,
        /// The version it replaces.
        expected_version: i64,
    },
    /// Delete a task.
    DeleteTask(&'a TaskSid),
    /// Record an event.
    Event(&'a Event),
    /// Record when a worker became idle (not a change of the worker's resource: its version
    /// stays).
    WorkerIdle {
        /// The worker.
        worker: &'a WorkerSid,
        /// When its last reservation ended, or it became available.
        idle_since: Timestamp,
    },
    /// Record that the reservation's assignment callback failed, and why.
    CallbackFailed {
        /// The reservation.
        reservation: &'a ReservationSid,
        /// What went wrong.
        error: &'a str,
    },
}

/// Writes that build on each other: once one fails, the writer refuses the rest, since each was
/// decided on the assumption that the ones before it commit.
#[derive(Debug, Clone, Default)]
pub struct Chain(Arc<AtomicBool>);

impl Chain {
    /// Whether one of its writes failed, so that the rest were refused.
    pub fn broken(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn break_off(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A submitted write; [`Pending::wait`] returns once it committed or failed. Dropping it does
/// not cancel the write.
#[derive(Debug)]
#[must_use = "a submitted write may still fail"]
pub struct Pending(oneshot::Receiver<Result<()>>);

impl Pending {
    /// Waits for the commit.
    pub async fn wait(self) -> Result<()> {
        self.0
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    fn failed(e: StoreError) -> Pending {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Pending(rx)
    }
}

/// Statements with their parameters, owned so the batch can outlive the caller.
type Batch = QueryBuilder<'static, Sqlite>;

/// The tasks still in play (not completed or canceled), so that reading one back costs no query.
#[derive(Debug, Default)]
pub(crate) struct TaskMemory {
    /// As committed.
    pub(crate) live: HashMap<TaskSid, Task>,
    /// As written by writes not yet committed, with the id of the latest such write (`None`:
    /// deleted).
    written: HashMap<TaskSid, (u64, Option<Task>)>,
}

impl TaskMemory {
    /// Records a committed write's tasks; a write that lost a race to a newer version of the
    /// same task does not replace it.
    fn commit(&mut self, id: u64, changes: Vec<(TaskSid, Option<Task>)>) {
        for (sid, task) in changes {
            self.unwrite(id, &sid);
            match task {
                Some(t) if !t.assignment_status.is_final() => {
                    if self
                        .live
                        .get(&sid)
                        .is_none_or(|old| old.version <= t.version)
                    {
                        self.live.insert(sid, t);
                    }
                }
                _ => {
                    self.live.remove(&sid);
                }
            }
        }
    }

    /// What a write not yet committed made of `sid`: `Some(None)` when it deleted it.
    pub(crate) fn written(&self, sid: &TaskSid) -> Option<Option<&Task>> {
        self.written.get(sid).map(|(_, t)| t.as_ref())
    }

    /// Forgets what write `id` wrote to `sid`, unless a later write has written it since.
    fn unwrite(&mut self, id: u64, sid: &TaskSid) {
        if self.written.get(sid).is_some_and(|(by, _)| *by == id) {
            self.written.remove(sid);
        }
    }
}

/// The most writes one round trip to SQLite carries.
const MAX_GROUP: usize = 8;

/// One write, as part of a [`Group`].
struct Job {
    id: u64,
    /// How many statements it adds to the group's batch.
    statements: usize,
    tasks: Vec<(TaskSid, Option<Task>)>,
    has_events: bool,
    done: oneshot::Sender<Result<()>>,
    /// Run on the writer's thread once it committed, before anyone waiting hears of it.
    on_commit: Option<OnCommit>,
}

/// What a write's submitter wants done as soon as it commits, in commit order.
pub type OnCommit = Box<dyn FnOnce() + Send>;

/// Writes of one chain sent to SQLite in one round trip, each still its own transaction:
/// SQLite's thread goes from one to the next without waiting for ours in between.
struct Group {
    chain: Chain,
    /// `BEGIN` and the version-checked worker updates, with how many there are. A write with
    /// such checks travels alone: a conflict must be seen before the rest of it runs.
    checks: Option<(Batch, usize)>,
    batch: Batch,
    jobs: Vec<Job>,
}

impl Group {
    /// Whether a write without checks of `chain` may join this group.
    fn takes(&self, chain: &Chain) -> bool {
        self.checks.is_none() && self.jobs.len() < MAX_GROUP && Arc::ptr_eq(&self.chain.0, &chain.0)
    }
}

enum Command {
    Write(Box<Group>),
    /// Close the connection once every write before this one is done.
    Close(oneshot::Sender<()>),
}

#[derive(Default)]
struct Queue {
    /// The id of the last submitted write.
    last: u64,
    commands: std::collections::VecDeque<Command>,
    /// The writer task has ended; nothing more will be written.
    gone: bool,
}

/// The handle on the writer task.
pub(crate) struct Writer {
    /// One lock for ids and queue, so ids follow the queue's order.
    queue: Mutex<Queue>,
    wake: Arc<Notify>,
    /// The id of the last write the writer is done with (committed or failed).
    finished: watch::Sender<u64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("finished", &*self.finished.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The last store handle is gone: let the task see it and end.
        self.wake.notify_one();
    }
}

impl Writer {
    /// Starts the writer on a thread of its own: on `conns` when given, else on connections of
    /// `pool`.
    ///
    /// Not a task on the caller's runtime: a task woken by an operation that keeps deciding
    /// without yielding waits in that worker's queue until the operation is done, so the
    /// decisions and their commits would take turns instead of overlapping.
    pub(crate) fn start(
        conns: Option<WriterConnections>,
        pool: SqlitePool,
        tasks: Arc<Mutex<TaskMemory>>,
        events_written: Arc<watch::Sender<u64>>,
    ) -> std::io::Result<Arc<Writer>> {
        let wake = Arc::new(Notify::new());
        let writer = Arc::new(Writer {
            queue: Mutex::default(),
            wake: Arc::clone(&wake),
            finished: watch::channel(0).0,
        });
        let (conn, checkpoint_conn) = match conns {
            Some(c) => (Some(Some(c.write)), Some(c.checkpoint)),
            None => (None, None),
        };
        let task = WriterTask {
            conn,
            checkpoint_conn,
            checkpointer: None,
            pool,
            tasks,
            events_written,
            writer: Arc::downgrade(&writer),
        };
        std::thread::Builder::new()
            .name("switchyard-writer".to_owned())
            .spawn(move || {
                // However the thread ends (the store dropped, a panic), nobody may be left
                // waiting for writes it will never finish.
                let _release = ReleaseWaiters(task.writer.clone());
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(task.run(wake)),
                    Err(e) => tracing::error!(error = %e, "the writer's runtime did not start"),
                }
            })?;
        Ok(writer)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The connections of a file database's writer.
pub(crate) struct WriterConnections {
    /// Every write goes through it. SQLite's autocheckpoint stays on here: a checkpoint on
    /// the writer's connection, between its transactions, is what lets the next one start the
    /// WAL over.
    pub(crate) write: SqliteConnection,
    /// For the [`Checkpointer`].
    pub(crate) checkpoint: SqliteConnection,
}

/// What the writer task owns.
struct WriterTask {
    /// The connection writes go through (file databases): one writer keeps its page cache warm
    /// and never waits on another writer's lock. `Some(None)` once closed; `None` to use the pool
    /// (an in-memory database lives in the pool's one connection).
    conn: Option<Option<SqliteConnection>>,
    /// The checkpointer's connection until it starts, on the writer's runtime.
    checkpoint_conn: Option<SqliteConnection>,
    checkpointer: Option<Checkpointer>,
    pool: SqlitePool,
    tasks: Arc<Mutex<TaskMemory>>,
    events_written: Arc<watch::Sender<u64>>,
    writer: Weak<Writer>,
}

impl WriterTask {
    async fn run(mut self, wake: Arc<Notify>) {
        self.checkpointer = self.checkpoint_conn.take().map(Checkpointer::start);
        loop {
            let command = match self.writer.upgrade() {
                Some(writer) => writer.queue().commands.pop_front(),
                None => break,
            };
            match command {
                Some(Command::Write(group)) => self.apply(*group).await,
                Some(Command::Close(done)) => {
                    if let Some(checkpointer) = self.checkpointer.take() {
                        checkpointer.close().await;
                    }
                    if let Some(conn) = self.conn.as_mut().and_then(Option::take) {
                        if let Err(e) = sqlx::Connection::close(conn).await {
                            tracing::warn!(error = %e, "closing the writer connection failed");
                        }
                    }
                    let _ = done.send(());
                }
                // A submit in between leaves a permit, so no wake-up is lost.
                None => wake.notified().await,
            }
        }
    }

    async fn apply(&mut self, group: Group) {
        let Group {
            chain,
            checks,
            batch,
            jobs,
        } = group;
        let (committed, mut failure) = if chain.broken() {
            (0, Some(StoreError::Abandoned))
        } else {
            let statements: Vec<usize> = jobs.iter().map(|j| j.statements).collect();
            match &mut self.conn {
                Some(Some(conn)) => run_group(conn, checks, batch, &statements).await,
                Some(None) => (0, Some(sqlx::Error::PoolClosed.into())),
                None => match self.pool.acquire().await {
                    Ok(mut conn) => run_group(&mut conn, checks, batch, &statements).await,
                    Err(e) => (0, Some(e.into())),
                },
            }
        };
        if failure.is_some() {
            chain.break_off();
        }
        let mut answers = Vec::with_capacity(jobs.len());
        let mut hooks = Vec::new();
        let (mut last, mut any_events) = (0, false);
        {
            let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            for (i, job) in jobs.into_iter().enumerate() {
                let result = if i < committed {
                    tasks.commit(job.id, job.tasks);
                    any_events |= job.has_events;
                    if let Some(hook) = job.on_commit {
                        hooks.push(hook);
                    }
                    Ok(())
                } else {
                    for (sid, _) in &job.tasks {
                        tasks.unwrite(job.id, sid);
                    }
                    // The first write not committed is the one that failed.
                    Err(failure.take().unwrap_or(StoreError::Abandoned))
                };
                last = job.id;
                answers.push((job.done, result));
            }
        }
        let mut backlog = false;
        if let Some(writer) = self.writer.upgrade() {
            writer.finished.send_replace(last);
            backlog = !writer.queue().commands.is_empty();
        }
        if any_events {
            self.events_written.send_modify(|n| *n = n.wrapping_add(1));
        }
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.committed(committed, backlog);
        }
        for hook in hooks {
            hook();
        }
        for (done, result) in answers {
            let _ = done.send(result);
        }
    }
}

/// Runs a group; returns how many of its writes committed and why the next one did not.
async fn run_group(
    conn: &mut SqliteConnection,
    checks: Option<(Batch, usize)>,
    mut batch: Batch,
    statements: &[usize],
) -> (usize, Option<StoreError>) {
    if let Some(checks) = checks {
        return match commit_checked(conn, checks, batch).await {
            Ok(()) => (1, None),
            Err(e) => (0, Some(e)),
        };
    }
    // Each statement reports once when it is done, so the count says how far the batch got.
    let mut done = 0;
    let mut failure = None;
    {
        let mut results = conn.fetch_many(batch.build());
        while let Some(result) = results.next().await {
            match result {
                Ok(sqlx::Either::Left(_)) => done += 1,
                Ok(sqlx::Either::Right(_)) => {}
                Err(e) => {
                    failure = Some(StoreError::from(e));
                    break;
                }
            }
        }
    }
    let mut committed = 0;
    let mut end = 0;
    for n in statements {
        end += n;
        if end > done {
            break;
        }
        committed += 1;
    }
    if failure.is_none() && committed < statements.len() {
        failure = Some(StoreError::Corrupt(format!(
            "a batch of {end} statements reported {done}"
        )));
    }
    if failure.is_some() && statements.get(committed).is_some_and(|n| *n > 1) {
        // The failed write may have stopped inside its transaction; without one open,
        // ROLLBACK fails harmlessly.
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            tracing::debug!(error = %e, "rollback after a failed write");
        }
    }
    (committed, failure)
}

/// How many committed writes the writer lets pass between two requests to the
/// [`Checkpointer`] (at about eight pages a write, most of the 10,000 pages after which SQLite
/// checkpoints on the writer's connection), and how much sooner it asks while writes queue up.
const CHECKPOINT_EVERY: usize = 1024;
const BACKLOG_WEIGHT: usize = 4;

/// Copies committed pages from the WAL back into the database on a connection of its own,
/// beside the writer, so that the writer's own checkpoint (SQLite's autocheckpoint, which must
/// run between the writer's transactions for the WAL to start over) finds little left to copy
/// and sync. A checkpoint takes turns with another one, never with the writer.
///
/// Asked for four times as often while writes queue up, when the writer is what holds everyone
/// up. When it keeps up, a checkpoint beside it mostly takes CPU from the next write: asked for
/// every 256 writes regardless, it took a one-write-at-a-time p99 from 0.55 ms to 1.4 ms on two
/// cores.
struct Checkpointer {
    due: Arc<Notify>,
    /// Committed writes since the last request.
    writes: usize,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<SqliteConnection>,
}

impl Checkpointer {
    /// Starts it on the current runtime.
    fn start(mut conn: SqliteConnection) -> Checkpointer {
        let due = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (due, stop) = (Arc::clone(&due), Arc::clone(&stop));
            async move {
                loop {
                    // Requests made while a checkpoint runs leave one permit: they coalesce.
                    due.notified().await;
                    if stop.load(Ordering::Acquire) {
                        return conn;
                    }
                    let passive = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)");
                    if let Err(e) = passive.execute(&mut conn).await {
                        tracing::debug!(error = %e, "a background checkpoint failed");
                    }
                }
            }
        });
        Checkpointer {
            due,
            writes: 0,
            stop,
            task,
        }
    }

    fn committed(&mut self, writes: usize, backlog: bool) {
        self.writes += if backlog {
            writes * BACKLOG_WEIGHT
        } else {
            writes
        };
        if self.writes >= CHECKPOINT_EVERY {
            self.writes = 0;
            self.due.notify_one();
        }
    }

    /// Waits for the checkpoint under way, if any, and closes the connection.
    async fn close(self) {
        self.stop.store(true, Ordering::Release);
        self.due.notify_one();
        if let Ok(conn) = self.task.await {
            if let Err(e) = sqlx::Connection::close(conn).await {
                tracing::warn!(error = %e, "closing the checkpoint connection failed");
            }
        }
    }
}

/// When the writer task ends, fails the writes still queued and marks every write finished,
/// so nobody waits for it forever.
struct ReleaseWaiters(Weak<Writer>);

impl Drop for ReleaseWaiters {
    fn drop(&mut self) {
        if let Some(writer) = self.0.upgrade() {
            let abandoned = {
                let mut queue = writer.queue();
                queue.gone = true;
                std::mem::take(&mut queue.commands)
            };
            // Dropping a job's answer channel fails its `Pending::wait`.
            drop(abandoned);
            writer.finished.send_replace(u64::MAX);
        }
    }
}

impl Store {
    /// Applies every change of one decision in one transaction, all or nothing, and returns
    /// once it is committed.
    ///
    /// Once submitted, the write runs to its commit or rollback even if the caller's future is
    /// dropped: a request cancelled half-way must not leave the connection inside a transaction.
    pub async fn write(&self, writes: &[Write<'_>]) -> Result<()> {
        self.submit(writes, &Chain::default()).wait().await
    }

    /// Hands one decision to the writer, which commits it after every write submitted before
    /// it; returns at once. Refused without a try when an earlier write of `chain` failed.
    pub fn submit(&self, writes: &[Write<'_>], chain: &Chain) -> Pending {
        self.submit_then(writes, chain, None)
    }

    /// [`Store::submit`], with `on_commit` run on the writer's thread once the write has
    /// committed (never if it fails), in commit order and before [`Pending::wait`] returns.
    pub fn submit_then(
        &self,
        writes: &[Write<'_>],
        chain: &Chain,
        on_commit: Option<OnCommit>,
    ) -> Pending {
        let workers = writes
            .iter()
            .filter(|w| matches!(w, Write::Worker { .. }))
            .count();
        let (done, answer) = oneshot::channel();
        let mut queue = self.writer.queue();
        if queue.gone {
            return Pending::failed(sqlx::Error::WorkerCrashed.into());
        }
        let id = queue.last + 1;
        queue.last = id;
        let joins = match queue.commands.back_mut() {
            Some(Command::Write(group)) => workers == 0 && group.takes(chain),
            _ => false,
        };
        if !joins {
            // Version-checked worker updates go first, in a round trip of their own that
            // reports each statement's changes, so a conflict is seen before anything commits.
            let checks = (workers > 0).then(|| (Batch::new("BEGIN;"), workers));
            queue.commands.push_back(Command::Write(Box::new(Group {
                chain: chain.clone(),
                checks,
                batch: Batch::new(""),
                jobs: Vec::new(),
            })));
        }
        let Some(Command::Write(group)) = queue.commands.back_mut() else {
            unreachable!("a group was just found or pushed");
        };
        let (statements, tasks, has_events) = push_write(group, writes, workers);
        {
            // Before the writer can see the job, so that its commit finds these entries.
            let mut memory = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            for (sid, t) in &tasks {
                memory.written.insert(sid.clone(), (id, t.clone()));
            }
        }
        group.jobs.push(Job {
            id,
            statements,
            tasks,
            has_events,
            done,
            on_commit,
        });
        drop(queue);
        self.writer.wake.notify_one();
        Pending(answer)
    }

    /// Waits until every write submitted so far is committed or has failed, so that a query
    /// sees them.
    pub(crate) async fn settled(&self) {
        let target = self.writer.queue().last;
        if *self.writer.finished.borrow() >= target {
            return;
        }
        let mut finished = self.writer.finished.subscribe();
        // Fails only when the writer is gone, and then there is nothing left to wait for.
        let _ = finished.wait_for(|done| *done >= target).await;
    }

    /// The pool, once every write submitted so far is done: each query starts here.
    pub(crate) async fn pool(&self) -> &SqlitePool {
        self.settled().await;
        &self.pool
    }

    /// Closes the writer's connection once the writes submitted so far are done.
    pub(crate) async fn close_writer(&self) {
        let (done, closed) = oneshot::channel();
        {
            let mut queue = self.writer.queue();
            if queue.gone {
                return;
            }
            queue.commands.push_back(Command::Close(done));
        }
        self.writer.wake.notify_one();
        let _ = closed.await;
    }

    /// Records `events` in `tx`, commits it, and tells event listeners: a configuration change
    /// and its events are one transaction, like a routing decision.
    pub(crate) async fn commit_with_events(
        &self,
        mut tx: sqlx::Transaction<'static, Sqlite>,
        events: &[Event],
    ) -> Result<()> {
        if !events.is_empty() {
            let mut batch = Batch::new("");
            push_events(&mut batch, &events.iter().collect::<Vec<_>>());
            batch.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.events_written.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }

    /// Forgets the remembered tasks of a deleted workspace.
    pub(crate) fn forget_tasks(&self, ws: &WorkspaceSid) {
        let mut memory = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        memory.live.retain(|_, t| t.workspace_sid != *ws);
        memory
            .written
            .retain(|_, (_, t)| t.as_ref().is_none_or(|t| t.workspace_sid != *ws));
    }
}

/// Runs `checks` (`BEGIN` and the worker updates, each of which must change one row), then
/// `batch`; rolls back on failure.
async fn commit_checked(
    conn: &mut SqliteConnection,
    (mut checks, workers): (Batch, usize),
    mut batch: Batch,
) -> Result<()> {
    let result = async {
        // Each update returns its row only if the version matched.
        let changed = checks.build().fetch_all(&mut *conn).await?.len();
        if changed != workers {
            return Err(StoreError::Conflict(
                "a worker changed concurrently".to_owned(),
            ));
        }
        batch.build().execute(&mut *conn).await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        // A batch stops at its first failing statement, which may leave it inside the
        // transaction; without one open, ROLLBACK fails harmlessly.
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            tracing::debug!(error = %e, "rollback after a failed write");
        }
    }
    result
}

/// Adds one write's statements to `group`, given how many of them are version-checked worker
/// updates; returns how many statements that is, the tasks it writes, and whether it records
/// events.
fn push_write(
    group: &mut Group,
    writes: &[Write<'_>],
    workers: usize,
) -> (usize, Vec<(TaskSid, Option<Task>)>, bool) {
    let Group { checks, batch, .. } = group;
    let events: Vec<&Event> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Event(e) => Some(*e),
            _ => None,
        })
        .collect();
    let rows = writes.len() - workers - events.len();
    // SQLite commits a lone statement atomically: BEGIN and COMMIT would add nothing. With
    // worker checks, BEGIN went with them.
    let lone = workers == 0 && rows + usize::from(!events.is_empty()) == 1;
    let mut statements = 0;
    if !lone && workers == 0 {
        batch.push("BEGIN;");
        statements += 1;
    }
    let mut tasks = Vec::new();
    for w in writes {
        match *w {
            Write::Task(t) => {
                push_task(batch, t);
                statements += 1;
                tasks.push((t.sid.clone(), Some(t.clone())));
            }
            Write::Reservation(r) => {
                push_reservation(batch, r);
                statements += 1;
            }
            Write::Worker {
                worker,
                expected_version,
            } => {
                if let Some((checks, _)) = checks {
                    push_worker(checks, worker, expected_version);
                }
            }
            Write::DeleteTask(sid) => {
                batch
                    .push("DELETE FROM tasks WHERE sid = ")
                    .push_bind(sid.as_str().to_owned())
                    .push(";");
                statements += 1;
                tasks.push((sid.clone(), None));
            }
            Write::WorkerIdle { worker, idle_since } => {
                batch
                    .push("UPDATE workers SET idle_since = ")
                    .push_bind(idle_since.as_millis())
                    .push(" WHERE sid = ")
                    .push_bind(worker.as_str().to_owned())
                    .push(";");
                statements += 1;
            }
            Write::CallbackFailed { reservation, error } => {
                batch
                    .push("UPDATE reservations SET callback_outcome = 'failed', callback_error = ")
                    .push_bind(error.to_owned())
                    .push(" WHERE sid = ")
                    .push_bind(reservation.as_str().to_owned())
                    .push(";");
                statements += 1;
            }
            Write::Event(_) => {}
        }
    }
    // All of a change's events go in one statement, in order.
    if !events.is_empty() {
        push_events(batch, &events);
        statements += 1;
    }
    if !lone {
        batch.push("COMMIT;");
        statements += 1;
    }
    (statements, tasks, !events.is_empty())
}

fn push_task(b: &mut Batch, t: &Task) {
    let (step_filter, step_index) = match t.step {
        Some(s) => (Some(s.filter.map_or(-1, |f| f as i64)), Some(s.step as i64)),
        None => (None, None),
    };
    b.push(
        "INSERT INTO tasks (sid, workspace_sid, workflow_sid, workflow_friendly_name, attributes,
            assignment_status, priority, timeout, task_channel_sid, task_channel_unique_name,
            task_queue_sid, task_queue_friendly_name, task_queue_entered_date, virtual_start_time,
            reason, routing_target, ignore_capacity, step_filter, step_index, step_entered_date,
            assignment_count, addons, version, date_created, date_updated) VALUES (",
    );
    let mut v = b.separated(", ");
    v.push_bind(t.sid.as_str().to_owned())
        .push_bind(t.workspace_sid.as_str().to_owned())
        .push_bind(t.workflow.as_ref().map(|(s, _)| s.as_str().to_owned()))
        .push_bind(t.workflow.as_ref().map(|(_, n)| n.clone()))
        .push_bind(t.attributes.clone())
        .push_bind(t.assignment_status.as_str())
        .push_bind(t.priority)
        .push_bind(t.timeout)
        .push_bind(t.task_channel.0.as_str().to_owned())
        .push_bind(t.task_channel.1.clone())
        .push_bind(t.task_queue.as_ref().map(|(s, _)| s.as_str().to_owned()))
        .push_bind(t.task_queue.as_ref().map(|(_, n)| n.clone()))
        .push_bind(t.task_queue_entered_date.map(Timestamp::as_millis))
        .push_bind(t.virtual_start_time.as_millis())
        .push_bind(t.reason.clone())
        .push_bind(t.routing_target.clone())
        .push_bind(t.ignore_capacity)
        .push_bind(step_filter)
        .push_bind(step_index)
        .push_bind(t.step_entered.map(Timestamp::as_millis))
        .push_bind(t.assignment_count)
        .push_bind(t.addons.clone())
        .push_bind(t.version)
        .push_bind(t.date_created.as_millis())
        .push_bind(t.date_updated.as_millis());
    b.push(
        ") ON CONFLICT (sid) DO UPDATE SET
            workflow_sid = excluded.workflow_sid,
            workflow_friendly_name = excluded.workflow_friendly_name,
            attributes = excluded.attributes,
            assignment_status = excluded.assignment_status,
            priority = excluded.priority,
            timeout = excluded.timeout,
            task_channel_sid = excluded.task_channel_sid,
            task_channel_unique_name = excluded.task_channel_unique_name,
            task_queue_sid = excluded.task_queue_sid,
            task_queue_friendly_name = excluded.task_queue_friendly_name,
            task_queue_entered_date = excluded.task_queue_entered_date,
            virtual_start_time = excluded.virtual_start_time,
            reason = excluded.reason,
            step_filter = excluded.step_filter,
            step_index = excluded.step_index,
            step_entered_date = excluded.step_entered_date,
            assignment_count = excluded.assignment_count,
            version = excluded.version,
            date_updated = excluded.date_updated;",
    );
}

fn push_reservation(b: &mut Batch, r: &Reservation) {
    b.push(
        "INSERT INTO reservations (sid, workspace_sid, task_sid, worker_sid, worker_name,
            task_queue_sid, task_channel_sid, reservation_status, previous_activity_sid,
            instruction, version, date_created, date_updated) VALUES (",
    );
    let mut v = b.separated(", ");
    v.push_bind(r.sid.as_str().to_owned())
        .push_bind(r.workspace_sid.as_str().to_owned())
        .push_bind(r.task_sid.as_str().to_owned())
        .push_bind(r.worker_sid.as_str().to_owned())
        .push_bind(r.worker_name.clone())
        .push_bind(r.task_queue_sid.as_ref().map(|s| s.as_str().to_owned()))
        .push_bind(r.task_channel_sid.as_str().to_owned())
        .push_bind(r.status.as_str())
        .push_bind(
            r.previous_activity_sid
                .as_ref()
                .map(|s| s.as_str().to_owned()),
        )
        .push_bind(r.instruction.clone())
        .push_bind(r.version)
        .push_bind(r.date_created.as_millis())
        .push_bind(r.date_updated.as_millis());
    b.push(
        ") ON CONFLICT (sid) DO UPDATE SET
            reservation_status = excluded.reservation_status,
            instruction = excluded.instruction,
            version = excluded.version,
            date_updated = excluded.date_updated;",
    );
}

/// Writes a worker's mutable fields if its version is still `expected_version`.
fn push_worker(b: &mut Batch, w: &Worker, expected_version: i64) {
    b.push("UPDATE workers SET friendly_name = ")
        .push_bind(w.friendly_name.clone())
        .push(", activity_sid = ")
        .push_bind(w.activity_sid.as_str().to_owned())
        .push(", attributes = ")
        .push_bind(w.attributes.clone())
        .push(", date_status_changed = ")
        .push_bind(w.date_status_changed.as_millis())
        .push(", date_updated = ")
        .push_bind(w.date_updated.as_millis())
        .push(", version = ")
        .push_bind(w.version)
        .push(", idle_since = ")
        .push_bind(w.idle_since.as_millis())
        .push(" WHERE sid = ")
        .push_bind(w.sid.as_str().to_owned())
        .push(" AND version = ")
        .push_bind(expected_version)
        .push(" RETURNING sid;");
}

/// Inserts events in one statement, in order (their `seq` follows it).
fn push_events(b: &mut Batch, events: &[&Event]) {
    if events.is_empty() {
        return;
    }
    b.push(
        "INSERT INTO events (sid, workspace_sid, event_type, description, event_date,
            resource_type, resource_sid, actor_type, actor_sid, event_data, task_sid, worker_sid,
            workflow_sid, task_queue_sid, reservation_sid, task_channel_sid,
            task_channel_unique_name) ",
    );
    b.push_values(events, |mut row, e| {
        let data = serde_json::to_string(&e.data).expect("pairs of strings serialize");
        row.push_bind(e.sid.as_str().to_owned())
            .push_bind(e.workspace_sid.as_str().to_owned())
            .push_bind(e.event_type.clone())
            .push_bind(e.description.clone())
            .push_bind(e.date.as_millis())
            .push_bind(e.resource_type.clone())
            .push_bind(e.resource_sid.clone())
            .push_bind(e.actor_type.clone())
            .push_bind(e.actor_sid.clone())
            .push_bind(data);
        for key in [
            "task_sid",
            "worker_sid",
            "workflow_sid",
            "task_queue_sid",
            "reservation_sid",
            "task_channel_sid",
            "task_channel_unique_name",
        ] {
            row.push_bind(e.get(key).map(str::to_owned));
        }
    });
    b.push(";");
}
