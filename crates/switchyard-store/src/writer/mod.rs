//! The one writer: commits every write in the order it was submitted, on a thread of its own,
//! many at a time.
//!
//! Writes that queue up while the writer is busy form a group, committed in one transaction
//! (group commit): the pages they share, the tables' and indexes' newest leaves, reach the WAL
//! once instead of once per write. A write that fails is left out (the group is rolled back
//! and run again without it) and the others still commit; the writes of its [`Chain`] after
//! it are refused, since each was decided on the assumption that the ones before it commit.
//!
//! The thread talks to its database through a [`Committer`] of the backend's: SQLite's
//! ([`sqlite`]) and PostgreSQL's ([`postgres`]).

use std::sync::{Arc, Condvar, Mutex, Weak};

use tokio::sync::{oneshot, watch};

use crate::lease::Fence;
use crate::sql::Compiled;
use crate::write::{Chain, OnCommit};
use crate::{Result, StoreError};

/// The most writes one group commits. Enough to spread a commit over many writes; few enough
/// that a group's query stays small and its writers hear back soon.
const MAX_GROUP: usize = 64;

/// How long the writer took to commit one group (a histogram).
pub const COMMIT_SECONDS: &str = "switchyard_commit_duration_seconds";
/// How many writes one group held (a histogram).
pub const COMMIT_GROUP_WRITES: &str = "switchyard_commit_group_writes";
/// Writes that failed or were refused (their chain broke before them).
pub const WRITES_FAILED: &str = "switchyard_writes_failed_total";

mod batch;
mod postgres;
mod sqlite;

pub(crate) use postgres::PostgresCommitter;
pub(crate) use sqlite::SqliteCommitter;

/// The message of the conflict that fails a write whose worker changed since it was decided.
pub(crate) const WORKER_CHANGED: &str = "a worker changed concurrently";

/// How the writer thread reaches its database: one connection, one transaction at a time.
pub(crate) trait Committer: Send + 'static {
    fn begin(&mut self) -> Result<()>;
    /// Runs one write's statements inside the open transaction.
    fn apply(&mut self, write: &Compiled) -> Result<()>;
    /// Runs several writes at once, table by table, inside the open transaction: `None` when
    /// this backend has no such path or these writes cannot take it (then each runs on its own).
    fn apply_batched(&mut self, _writes: &[&Compiled]) -> Option<Result<()>> {
        None
    }
    /// Which of `fences` still hold, checked inside the open transaction so that they keep
    /// holding until it ends (PostgreSQL's `FOR SHARE`). Only PostgreSQL has several nodes.
    fn fences_hold(&mut self, fences: &[&Fence]) -> Result<Vec<bool>> {
        Ok(vec![true; fences.len()])
    }
    fn commit(&mut self) -> Result<()>;
    /// Ends the open transaction, if any, without committing.
    fn rollback(&mut self);
    /// After each group: how many writes it committed, and whether more are queued.
    fn committed(&mut self, _writes: usize, _backlog: bool) {}
    /// Closes the connection once the writes before are done.
    fn close(&mut self);
}

/// One submitted write.
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) chain: Chain,
    pub(crate) compiled: Compiled,
    pub(crate) done: oneshot::Sender<Result<()>>,
    /// Run on the writer's thread once it committed, before anyone waiting hears of it.
    pub(crate) on_commit: Option<OnCommit>,
}

pub(crate) enum Command {
    Write(Vec<Job>),
    /// Close the connection once every write before this one is done.
    Close(oneshot::Sender<()>),
}

#[derive(Default)]
pub(crate) struct Queue {
    /// The id of the last submitted write.
    pub(crate) last: u64,
    commands: std::collections::VecDeque<Command>,
    /// The writer task has ended; nothing more will be written.
    pub(crate) gone: bool,
}

impl Queue {
    /// Queues a write: into the group waiting at the back, if it has room.
    pub(crate) fn push_job(&mut self, job: Job) {
        if let Some(Command::Write(group)) = self.commands.back_mut() {
            if group.len() < MAX_GROUP {
                group.push(job);
                return;
            }
        }
        self.commands.push_back(Command::Write(vec![job]));
    }

    pub(crate) fn push_close(&mut self, done: oneshot::Sender<()>) {
        self.commands.push_back(Command::Close(done));
    }
}

/// A wake-up that is not lost when it comes before the wait (a permit, like tokio's `Notify`).
#[derive(Default)]
pub(crate) struct Wake {
    pending: Mutex<bool>,
    signal: Condvar,
}

impl Wake {
    pub(crate) fn notify_one(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.signal.notify_one();
    }

    fn wait(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        while !*pending {
            pending = self.signal.wait(pending).unwrap_or_else(|e| e.into_inner());
        }
        *pending = false;
    }
}

/// The handle on the writer thread.
pub(crate) struct Writer {
    /// One lock for ids and queue, so ids follow the queue's order.
    queue: Mutex<Queue>,
    pub(crate) wake: Arc<Wake>,
    /// The id of the last write the writer is done with (committed or failed).
    pub(crate) finished: watch::Sender<u64>,
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
    /// Starts the writer on a thread of its own, with `conns`.
    ///
    /// Not a task on the caller's runtime: a task woken by an operation that keeps deciding
    /// without yielding waits in that worker's queue until the operation is done, so the
    /// decisions and their commits would take turns instead of overlapping.
    pub(crate) fn start(
        committer: Box<dyn Committer>,
        events_written: Arc<watch::Sender<u64>>,
    ) -> std::io::Result<Arc<Writer>> {
        let wake = Arc::new(Wake::default());
        let writer = Arc::new(Writer {
            queue: Mutex::default(),
            wake: Arc::clone(&wake),
            finished: watch::channel(0).0,
        });
        let task = WriterTask {
            committer: Some(committer),
            events_written,
            writer: Arc::downgrade(&writer),
        };
        std::thread::Builder::new()
            .name("switchyard-writer".to_owned())
            .spawn(move || {
                // However the thread ends (the store dropped, a panic), nobody may be left
                // waiting for writes it will never finish.
                let _release = ReleaseWaiters(task.writer.clone());
                task.run(&wake);
            })?;
        Ok(writer)
    }

    pub(crate) fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the writer thread owns.
struct WriterTask {
    /// The connection writes go through: one writer keeps its caches and prepared statements
    /// warm and never waits on another writer's lock. `None` once closed.
    committer: Option<Box<dyn Committer>>,
    events_written: Arc<watch::Sender<u64>>,
    writer: Weak<Writer>,
}

impl WriterTask {
    fn run(mut self, wake: &Wake) {
        loop {
            let command = match self.writer.upgrade() {
                Some(writer) => writer.queue().commands.pop_front(),
                None => break,
            };
            match command {
                Some(Command::Write(group)) => self.apply(group),
                Some(Command::Close(done)) => {
                    if let Some(mut committer) = self.committer.take() {
                        committer.close();
                    }
                    let _ = done.send(());
                }
                // A submit in between leaves a permit, so no wake-up is lost.
                None => wake.wait(),
            }
        }
    }

    fn apply(&mut self, group: Vec<Job>) {
        let mut outcomes: Vec<Option<Result<()>>> = (group.iter())
            .map(|job| job.chain.broken().then_some(Err(StoreError::Abandoned)))
            .collect();
        let started = std::time::Instant::now();
        match &mut self.committer {
            Some(committer) => run_group(committer.as_mut(), &group, &mut outcomes),
            None => fail_all(&mut outcomes, sqlx::Error::PoolClosed.into()),
        }
        metrics::histogram!(COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
        metrics::histogram!(COMMIT_GROUP_WRITES).record(group.len() as f64);
        let mut answers = Vec::with_capacity(group.len());
        let mut hooks = Vec::new();
        let (mut last, mut any_events, mut committed) = (0, false, 0);
        for (job, outcome) in group.into_iter().zip(outcomes) {
            let result = outcome.unwrap_or(Err(StoreError::Abandoned));
            let Job {
                id,
                chain,
                compiled,
                done,
                on_commit,
            } = job;
            if result.is_ok() {
                any_events |= compiled.has_events;
                committed += 1;
                hooks.extend(on_commit);
            } else {
                metrics::counter!(WRITES_FAILED).increment(1);
                chain.break_off();
            }
            last = id;
            answers.push((done, result));
        }
        let mut backlog = false;
        if let Some(writer) = self.writer.upgrade() {
            writer.finished.send_replace(last);
            backlog = !writer.queue().commands.is_empty();
        }
        if any_events {
            self.events_written.send_modify(|n| *n = n.wrapping_add(1));
        }
        if let Some(committer) = &mut self.committer {
            committer.committed(committed, backlog);
        }
        for hook in hooks {
            hook();
        }
        for (done, result) in answers {
            let _ = done.send(result);
        }
    }
}

/// Marks every write without an outcome as failed: the first with `error`, the rest as not
/// committed because their group was not.
fn fail_all(outcomes: &mut [Option<Result<()>>], error: StoreError) {
    let mut error = Some(error);
    for outcome in outcomes.iter_mut().filter(|o| o.is_none()) {
        *outcome = Some(Err(error.take().unwrap_or(StoreError::Abandoned)));
    }
}

/// Commits the writes of `group` that have no outcome yet in one transaction, and records
/// every one's outcome. A write that a rule of the schema refuses (a conflict: its own fault,
/// not the database's) is left out: the transaction is rolled back and run again without it
/// and without the later writes of its chain. Any other failure fails the whole group.
///
/// Rolling back and running again costs more than a savepoint per write when a write fails,
/// but nothing when none does: on SQLite, a savepoint copies every page a write touches first
/// into a journal of its own.
fn run_group(conn: &mut dyn Committer, group: &[Job], outcomes: &mut [Option<Result<()>>]) {
    loop {
        let todo: Vec<usize> = (0..group.len())
            .filter(|&i| outcomes[i].is_none())
            .collect();
        if todo.is_empty() {
            return;
        }
        if let Err(e) = begin_fenced(conn, group, outcomes) {
            conn.rollback();
            fail_all(outcomes, e);
            return;
        }
        let todo: Vec<usize> = todo
            .into_iter()
            .filter(|&i| outcomes[i].is_none())
            .collect();
        if todo.is_empty() {
            conn.rollback();
            return;
        }
        let writes: Vec<&Compiled> = todo.iter().map(|&i| &group[i].compiled).collect();
        match conn.apply_batched(&writes) {
            None => {}
            Some(Ok(())) => {
                match conn.commit() {
                    Ok(()) => todo.iter().for_each(|&i| outcomes[i] = Some(Ok(()))),
                    Err(e) => {
                        conn.rollback();
                        fail_all(outcomes, e);
                    }
                }
                return;
            }
            // One of them broke a rule (or the batch itself failed): run them one by one, which
            // tells which, or fails the group if the database does.
            Some(Err(e)) => {
                tracing::debug!(error = %e, "a batched group runs again one write at a time");
                conn.rollback();
                if let Err(e) = begin_fenced(conn, group, outcomes) {
                    conn.rollback();
                    fail_all(outcomes, e);
                    return;
                }
            }
        }
        let todo: Vec<usize> = todo
            .into_iter()
            .filter(|&i| outcomes[i].is_none())
            .collect();
        let failed =
            (todo.iter()).find_map(|&i| conn.apply(&group[i].compiled).err().map(|e| (i, e)));
        let Some((i, error)) = failed else {
            match conn.commit() {
                Ok(()) => todo.iter().for_each(|&i| outcomes[i] = Some(Ok(()))),
                Err(e) => {
                    conn.rollback();
                    fail_all(outcomes, e);
                }
            }
            return;
        };
        conn.rollback();
        let own_fault = matches!(error, StoreError::Conflict(_));
        outcomes[i] = Some(Err(error));
        if !own_fault {
            fail_all(outcomes, StoreError::Abandoned);
            return;
        }
        let chain = group[i].chain.clone();
        for (later, outcome) in group.iter().zip(outcomes.iter_mut()).skip(i + 1) {
            if outcome.is_none() && later.chain.same(&chain) {
                *outcome = Some(Err(StoreError::Abandoned));
            }
        }
    }
}

/// Begins a transaction and checks, inside it, the fences of the writes without an outcome:
/// a write whose fence no longer holds fails ([`StoreError::Fenced`]), and so do the later
/// writes of its chain. The fences checked hold until the transaction ends.
fn begin_fenced(
    conn: &mut dyn Committer,
    group: &[Job],
    outcomes: &mut [Option<Result<()>>],
) -> Result<()> {
    conn.begin()?;
    let mut fences: Vec<&Fence> = Vec::new();
    for (job, outcome) in group.iter().zip(outcomes.iter()) {
        if let (None, Some(f)) = (outcome, job.chain.fence()) {
            if !fences.contains(&f) {
                fences.push(f);
            }
        }
    }
    if fences.is_empty() {
        return Ok(());
    }
    let hold = conn.fences_hold(&fences)?;
    for (fence, _) in fences.iter().zip(hold).filter(|(_, holds)| !holds) {
        for (job, outcome) in group.iter().zip(outcomes.iter_mut()) {
            if outcome.is_none() && job.chain.fence() == Some(*fence) {
                *outcome = Some(Err(StoreError::Fenced(fence.workspace.clone())));
            }
        }
    }
    Ok(())
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
