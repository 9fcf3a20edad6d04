//! The open sockets of each worker: so that `closeExistingSessions=true` can close a worker's
//! other sockets, and so that a worker goes offline only when its last socket closes
//! (`setWorkerOfflineIfDisconnected`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use switchyard_core::sid::{WorkerSid, WorkspaceSid};
use tokio::sync::watch;

/// One socket: its number, and the signal that closes it.
struct Session {
    id: u64,
    close: watch::Sender<bool>,
}

/// Every worker's open sockets.
#[derive(Default)]
pub(crate) struct Sessions {
    next: AtomicU64,
    open: Mutex<HashMap<(WorkspaceSid, WorkerSid), Vec<Session>>>,
}

/// A registered socket: its number and what tells it to close.
pub(crate) struct Registered {
    pub(crate) id: u64,
    pub(crate) closed: watch::Receiver<bool>,
}

impl Sessions {
    /// Registers a new socket of the worker; with `close_others`, tells its other sockets to
    /// close.
    pub(crate) fn open(
        &self,
        ws: &WorkspaceSid,
        worker: &WorkerSid,
        close_others: bool,
    ) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = watch::channel(false);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = open.entry((ws.clone(), worker.clone())).or_default();
        if close_others {
            for other in sessions.iter() {
                let _ = other.close.send(true);
            }
        }
        sessions.push(Session { id, close });
        Registered { id, closed }
    }

    /// Unregisters socket `id`; says whether it was the worker's last.
    pub(crate) fn close(&self, ws: &WorkspaceSid, worker: &WorkerSid, id: u64) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let key = (ws.clone(), worker.clone());
        let Some(sessions) = open.get_mut(&key) else {
            return true;
        };
        sessions.retain(|s| s.id != id);
        let last = sessions.is_empty();
        if last {
            open.remove(&key);
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_may_close_the_others_and_the_last_to_close_says_so() {
        let ws: WorkspaceSid = "WS0123456789abcdef0123456789abcdef".parse().unwrap();
        let wk: WorkerSid = "WK0123456789abcdef0123456789abcdef".parse().unwrap();
        let sessions = Sessions::default();
        let first = sessions.open(&ws, &wk, false);
        let second = sessions.open(&ws, &wk, false);
        assert!(!*first.closed.borrow());
        let third = sessions.open(&ws, &wk, true);
        assert!(*first.closed.borrow() && *second.closed.borrow());
        assert!(!*third.closed.borrow());
        assert!(!sessions.close(&ws, &wk, first.id));
        assert!(!sessions.close(&ws, &wk, second.id));
        assert!(sessions.close(&ws, &wk, third.id), "the last one");
    }
}
