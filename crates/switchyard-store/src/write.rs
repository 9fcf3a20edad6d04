//! The store's one way to write: an atomic list of [`Change`]s (a routing decision's unit, or a
//! configuration change), what the engine hands over, and what it gets back (a [`Pending`] to
//! wait on).
//!
//! A write is compiled into SQL at once ([`crate::sql`]) and queued for the one writer
//! ([`crate::writer`]), which commits in submission order and groups what queues up into one
//! transaction. [`Store::submit`] returns at once, so the engine decides its next change while
//! this one commits. The engine keeps what it wrote in its own model; every query waits for
//! the writes submitted before it, so a reader never sees less than was acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use switchyard_core::decide::Change;
use tokio::sync::oneshot;

use crate::lease::Fence;
use crate::sql;
use crate::writer::Job;
use crate::{Result, Store, StoreError};

/// What a write's submitter wants done as soon as it commits, in commit order.
pub type OnCommit = Box<dyn FnOnce() + Send>;

/// Writes that build on each other: once one fails, the writer refuses the rest, since each was
/// decided on the assumption that the ones before it commit.
///
/// A fenced chain's writes commit only while its workspace's lease has the chain's epoch
/// (several nodes on one PostgreSQL database: `lease.rs`); the writer checks it in each
/// group's transaction.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    broken: Arc<AtomicBool>,
    fence: Option<Arc<Fence>>,
}

impl Chain {
    /// A chain whose writes commit only under `fence`.
    pub fn fenced(fence: Fence) -> Chain {
        Chain {
            broken: Arc::default(),
            fence: Some(Arc::new(fence)),
        }
    }

    /// A new chain under the same fence: its failures refuse none of this one's writes.
    pub fn sibling(&self) -> Chain {
        Chain {
            broken: Arc::default(),
            fence: self.fence.clone(),
        }
    }

    /// The fence its writes commit under, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_deref()
    }

    /// Whether one of its writes failed, so that the rest were refused.
    pub fn broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Whether `other` is this chain.
    pub(crate) fn same(&self, other: &Chain) -> bool {
        Arc::ptr_eq(&self.broken, &other.broken)
    }

    pub(crate) fn break_off(&self) {
        self.broken.store(true, Ordering::Release);
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

    pub(crate) fn failed(e: StoreError) -> Pending {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Pending(rx)
    }
}

impl Store {
    /// Applies every change of one decision in one transaction, all or nothing, and returns
    /// once it is committed.
    ///
    /// Once submitted, the write runs to its commit or rollback even if the caller's future is
    /// dropped: a request cancelled half-way must not leave the connection inside a transaction.
    pub async fn write(&self, writes: &[Change]) -> Result<()> {
        self.submit(writes, &Chain::default()).wait().await
    }

    /// Hands one decision to the writer, which commits it after every write submitted before
    /// it; returns at once. Refused without a try when an earlier write of `chain` failed.
    pub fn submit(&self, writes: &[Change], chain: &Chain) -> Pending {
        self.submit_then(writes, chain, None)
    }

    /// [`Store::submit`], with `on_commit` run on the writer's thread once the write has
    /// committed (never if it fails), in commit order and before [`Pending::wait`] returns.
    pub fn submit_then(
        &self,
        writes: &[Change],
        chain: &Chain,
        on_commit: Option<OnCommit>,
    ) -> Pending {
        let mut compiled = sql::compile(writes);
        if self.pool.backend() == crate::Backend::Postgres {
            compiled.changes = writes.to_vec();
        }
        let (done, answer) = oneshot::channel();
        let mut queue = self.writer.queue();
        if queue.gone {
            return Pending::failed(sqlx::Error::WorkerCrashed.into());
        }
        let id = queue.last + 1;
        queue.last = id;
        queue.push_job(Job {
            id,
            chain: chain.clone(),
            compiled,
            done,
            on_commit,
        });
        drop(queue);
        self.writer.wake.notify_one();
        Pending(answer)
    }

    /// Waits until every write submitted so far is committed or has failed, so that a query
    /// sees them.
    pub async fn settled(&self) {
        let target = self.writer.queue().last;
        if *self.writer.finished.borrow() >= target {
            return;
        }
        let mut finished = self.writer.finished.subscribe();
        // Fails only when the writer is gone, and then there is nothing left to wait for.
        let _ = finished.wait_for(|done| *done >= target).await;
    }

    /// The pool, once every write submitted so far is done: each query starts here.
    pub(crate) async fn pool(&self) -> &crate::db::Pool {
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
            queue.push_close(done);
        }
        self.writer.wake.notify_one();
        let _ = closed.await;
    }
}
