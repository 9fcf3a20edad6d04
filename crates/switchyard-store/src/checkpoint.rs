//! The background checkpointer beside the writer.

use std::sync::{Arc, Condvar, Mutex};

/// How many committed writes the writer lets pass between two requests to the
/// [`Checkpointer`] (at about eight pages a write, a fraction of the pages after which SQLite
/// checkpoints on the writer's connection, `WAL_AUTOCHECKPOINT_PAGES`), and how much sooner it
/// asks while writes queue up.
const CHECKPOINT_EVERY: usize = 1024;
const BACKLOG_WEIGHT: usize = 4;

/// What the checkpointer's thread waits on: a checkpoint is due, or it must stop.
#[derive(Default)]
struct Requests {
    due: bool,
    stop: bool,
}

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
    requests: Arc<(Mutex<Requests>, Condvar)>,
    /// Committed writes since the last request.
    writes: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts it on a thread of its own, with `conn`.
    pub(crate) fn start(conn: rusqlite::Connection) -> std::io::Result<Checkpointer> {
        let requests = Arc::new((Mutex::new(Requests::default()), Condvar::new()));
        let thread = std::thread::Builder::new()
            .name("switchyard-checkpoint".to_owned())
            .spawn({
                let requests = Arc::clone(&requests);
                move || loop {
                    {
                        let (lock, wake) = &*requests;
                        let mut r = lock.lock().unwrap_or_else(|e| e.into_inner());
                        // Requests made while a checkpoint runs leave `due` set: they coalesce.
                        while !r.due && !r.stop {
                            r = wake.wait(r).unwrap_or_else(|e| e.into_inner());
                        }
                        if r.stop {
                            return;
                        }
                        r.due = false;
                    }
                    let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(e) = passive {
                        tracing::debug!(error = %e, "a background checkpoint failed");
                    }
                }
            })?;
        Ok(Checkpointer {
            requests,
            writes: 0,
            thread: Some(thread),
        })
    }

    pub(crate) fn committed(&mut self, writes: usize, backlog: bool) {
        self.writes += if backlog {
            writes * BACKLOG_WEIGHT
        } else {
            writes
        };
        if self.writes >= CHECKPOINT_EVERY {
            self.writes = 0;
            self.ask(|r| r.due = true);
        }
    }

    fn ask(&self, f: impl FnOnce(&mut Requests)) {
        let (lock, wake) = &*self.requests;
        f(&mut lock.lock().unwrap_or_else(|e| e.into_inner()));
        wake.notify_one();
    }

    /// Waits for the checkpoint under way, if any, and closes the connection.
    pub(crate) fn close(mut self) {
        self.ask(|r| r.stop = true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.ask(|r| r.stop = true);
        }
    }
}
