//! The atomic write of one routing decision, and the one writer that commits them in order.
//!
//! Each statement sent through sqlx is a round trip to the connection's worker thread, and
//! `BEGIN`/`COMMIT` are two more; a firing timer or an accepted reservation writes a task, its
//! reservations and their events. So a decision is compiled into one multi-statement query
//! (`BEGIN; …; COMMIT`) whose parameters sqlx binds statement by statement: one round trip.
//! (sqlx 0.8 runs such queries on SQLite only and means to drop them in a later version; this
//! module is the one place that relies on them.)
//!
//! One writer task commits every decision, in the order they were submitted. [`Store::submit`]
//! hands a decision over and returns at once, so the engine can work out its next decision while
//! this one commits: SQLite's thread and the engine's then run side by side instead of taking
//! turns. Until a write commits, the tasks it wrote are seen only by [`Store::task_as_written`]
//! (the engine's own view), and every query waits for the writes submitted before it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use switchyard_core::event::Event;
use switchyard_core::model::{Reservation, Task, Worker};
use switchyard_core::sid::{TaskSid, WorkspaceSid};
use switchyard_core::Timestamp;
use tokio::sync::{mpsc, oneshot, watch};

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
}

/// Writes that build on each other: once one fails, the writer refuses the rest, since each was
/// decided on the assumption that the ones before it commit.
#[derive(Debug, Clone, Default)]
pub struct Chain(Arc<AtomicBool>);

impl Chain {
    fn broken(&self) -> bool {
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

/// A write on its way to the writer.
struct Job {
    id: u64,
    /// `BEGIN` and the version-checked worker updates, with how many there are.
    checks: Option<(Batch, usize)>,
    batch: Batch,
    lone: bool,
    tasks: Vec<(TaskSid, Option<Task>)>,
    has_events: bool,
    chain: Chain,
    done: oneshot::Sender<Result<()>>,
}

enum Command {
    Write(Box<Job>),
    /// Close the connection once every write before this one is done.
    Close(oneshot::Sender<()>),
}

/// The handle on the writer task.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The id of the last submitted write, and the way to the writer; one lock, so ids follow
    /// the queue's order.
    queue: Mutex<(u64, mpsc::UnboundedSender<Command>)>,
    /// The id of the last write the writer is done with (committed or failed).
    finished: watch::Sender<u64>,
}

impl Writer {
    /// Starts the writer task: on `conn` when given, else on connections of `pool`.
    pub(crate) fn start(
        conn: Option<SqliteConnection>,
        pool: SqlitePool,
        tasks: Arc<Mutex<TaskMemory>>,
        events_written: Arc<watch::Sender<u64>>,
    ) -> Arc<Writer> {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Arc::new(Writer {
            queue: Mutex::new((0, tx)),
            finished: watch::channel(0).0,
        });
        let task = WriterTask {
            conn: conn.map(Some),
            pool,
            tasks,
            events_written,
            writer: Arc::downgrade(&writer),
        };
        tokio::spawn(task.run(rx));
        writer
    }

    fn last_submitted(&self) -> u64 {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

/// What the writer task owns.
struct WriterTask {
    /// The connection writes go through (file databases): one writer keeps its page cache warm
    /// and never waits on another writer's lock. `Some(None)` once closed; `None` to use the pool
    /// (an in-memory database lives in the pool's one connection).
    conn: Option<Option<SqliteConnection>>,
    pool: SqlitePool,
    tasks: Arc<Mutex<TaskMemory>>,
    events_written: Arc<watch::Sender<u64>>,
    writer: std::sync::Weak<Writer>,
}

impl WriterTask {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // However this task ends (the store dropped, a panic, the runtime shutting down),
        // nobody may be left waiting for writes it will never finish.
        let _release = ReleaseWaiters(self.writer.clone());
        while let Some(command) = commands.recv().await {
            match command {
                Command::Write(job) => self.apply(*job).await,
                Command::Close(done) => {
                    if let Some(conn) = self.conn.as_mut().and_then(Option::take) {
                        if let Err(e) = sqlx::Connection::close(conn).await {
                            tracing::warn!(error = %e, "closing the writer connection failed");
                        }
                    }
                    let _ = done.send(());
                }
            }
        }
    }

    async fn apply(&mut self, job: Job) {
        let result = if job.chain.broken() {
            Err(StoreError::Abandoned)
        } else {
            match &mut self.conn {
                Some(Some(conn)) => commit(conn, job.checks, job.batch, job.lone).await,
                Some(None) => Err(sqlx::Error::PoolClosed.into()),
                None => match self.pool.acquire().await {
                    Ok(mut conn) => commit(&mut conn, job.checks, job.batch, job.lone).await,
                    Err(e) => Err(e.into()),
                },
            }
        };
        {
            let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            if result.is_ok() {
                tasks.commit(job.id, job.tasks);
            } else {
                job.chain.break_off();
                for (sid, _) in &job.tasks {
                    tasks.unwrite(job.id, sid);
                }
            }
        }
        if let Some(writer) = self.writer.upgrade() {
            writer.finished.send_replace(job.id);
        }
        if result.is_ok() && job.has_events {
            self.events_written.send_modify(|n| *n = n.wrapping_add(1));
        }
        let _ = job.done.send(result);
    }
}

/// Marks every write finished when the writer task ends, so no query waits for it forever.
struct ReleaseWaiters(std::sync::Weak<Writer>);

impl Drop for ReleaseWaiters {
    fn drop(&mut self) {
        if let Some(writer) = self.0.upgrade() {
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
        let workers = writes
            .iter()
            .filter(|w| matches!(w, Write::Worker { .. }))
            .count();
        let events: Vec<&Event> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Event(e) => Some(*e),
                _ => None,
            })
            .collect();
        let rows = writes.len() - workers - events.len();
        // SQLite commits a lone statement atomically: BEGIN and COMMIT would add nothing.
        let lone = workers == 0 && rows + usize::from(!events.is_empty()) == 1;
        // Version-checked worker updates go first, in a round trip of their own that reports
        // each statement's changes, so a conflict is seen before anything commits.
        let mut checks = (workers > 0).then(|| Batch::new("BEGIN;"));
        let mut batch = Batch::new(if lone || workers > 0 { "" } else { "BEGIN;" });
        let mut tasks = Vec::new();
        for w in writes {
            match *w {
                Write::Task(t) => {
                    push_task(&mut batch, t);
                    tasks.push((t.sid.clone(), Some(t.clone())));
                }
                Write::Reservation(r) => push_reservation(&mut batch, r),
                Write::Worker {
                    worker,
                    expected_version,
                } => {
                    if let Some(checks) = &mut checks {
                        push_worker(checks, worker, expected_version);
                    }
                }
                Write::DeleteTask(sid) => {
                    batch
                        .push("DELETE FROM tasks WHERE sid = ")
                        .push_bind(sid.as_str().to_owned())
                        .push(";");
                    tasks.push((sid.clone(), None));
                }
                Write::Event(_) => {}
            }
        }
        // All of a change's events go in one statement, in order.
        push_events(&mut batch, &events);
        if !lone {
            batch.push("COMMIT;");
        }
        let (done, result) = oneshot::channel();
        let mut queue = self.writer.queue.lock().unwrap_or_else(|e| e.into_inner());
        let id = queue.0 + 1;
        {
            // Before the writer can see the job, so that its commit finds these entries.
            let mut memory = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            for (sid, t) in &tasks {
                memory.written.insert(sid.clone(), (id, t.clone()));
            }
        }
        let job = Job {
            id,
            checks: checks.map(|c| (c, workers)),
            batch,
            lone,
            tasks,
            has_events: !events.is_empty(),
            chain: chain.clone(),
            done,
        };
        match queue.1.send(Command::Write(Box::new(job))) {
            Ok(()) => {
                queue.0 = id;
                Pending(result)
            }
            Err(mpsc::error::SendError(command)) => {
                if let Command::Write(job) = command {
                    let mut memory = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
                    for (sid, _) in &job.tasks {
                        memory.unwrite(id, sid);
                    }
                }
                Pending::failed(sqlx::Error::PoolClosed.into())
            }
        }
    }

    /// Waits until every write submitted so far is committed or has failed, so that a query
    /// sees them.
    pub(crate) async fn settled(&self) {
        let target = self.writer.last_submitted();
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
        let sent = {
            let queue = self.writer.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.1.send(Command::Close(done)).is_ok()
        };
        if sent {
            let _ = closed.await;
        }
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

/// Runs `checks` (`BEGIN` and the worker updates, each of which must change one row) when
/// there are any, then `batch`; rolls back on failure.
async fn commit(
    conn: &mut SqliteConnection,
    checks: Option<(Batch, usize)>,
    mut batch: Batch,
    lone: bool,
) -> Result<()> {
    let result = async {
        if let Some((mut checks, workers)) = checks {
            // Each update returns its row only if the version matched.
            let changed = checks.build().fetch_all(&mut *conn).await?.len();
            if changed != workers {
                return Err(StoreError::Conflict(
                    "a worker changed concurrently".to_owned(),
                ));
            }
        }
        batch.build().execute(&mut *conn).await?;
        Ok(())
    }
    .await;
    if result.is_err() && !lone {
        // A batch stops at its first failing statement, which may leave it inside the
        // transaction; without one open, ROLLBACK fails harmlessly.
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            tracing::debug!(error = %e, "rollback after a failed write");
        }
    }
    result
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
            reason, routing_target, ignore_capacity, step_filter, step_index, assignment_count,
            addons, version, date_created, date_updated) VALUES (",
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
