//! The background checkpointer beside the writer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::SqliteConnection;
use tokio::sync::Notify;

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
pub(crate) struct Checkpointer {
    due: Arc<Notify>,
    /// Committed writes since the last request.
    writes: usize,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<SqliteConnection>,
}

impl Checkpointer {
    /// Starts it on the current runtime.
    pub(crate) fn start(mut conn: SqliteConnection) -> Checkpointer {
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

    pub(crate) fn committed(&mut self, writes: usize, backlog: bool) {
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
    pub(crate) async fn close(self) {
        self.stop.store(true, Ordering::Release);
        self.due.notify_one();
        if let Ok(conn) = self.task.await {
            if let Err(e) = sqlx::Connection::close(conn).await {
                tracing::warn!(error = %e, "closing the checkpoint connection failed");
            }
        }
    }
}
