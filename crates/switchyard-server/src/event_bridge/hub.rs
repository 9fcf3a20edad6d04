//! One reader of each workspace's event log for all its sockets: the events are read once and
//! handed to the sockets they concern, instead of every socket querying the store on every
//! commit, or waking for every event. An event naming a worker goes to that worker's sockets;
//! the task events the SDK follows (they name no worker) go to every socket, which keeps those
//! of its own tasks. A feed lives while a socket holds it and stops when the last one goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use switchyard_core::event::Event;
use switchyard_core::sid::{AccountSid, WorkerSid, WorkspaceSid};
use switchyard_engine::{Engine, StreamStart};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events a slow socket may fall behind by before it is dropped (its socket then closes, and
/// the SDK reconnects and fetches its reservations afresh).
const BACKLOG: usize = 4096;

/// The `task.*` events the SDK handles: they reach every socket of the workspace.
const TASK_EVENTS: [&str; 4] = [
    "task.updated",
    "task.canceled",
    "task.completed",
    "task.wrapup",
];

type Sender = mpsc::Sender<Arc<Event>>;

/// Who listens to a workspace's feed, by worker.
#[derive(Default)]
struct Listeners {
    next_id: u64,
    by_worker: HashMap<WorkerSid, Vec<(u64, Sender)>>,
}

/// A workspace's events as they commit, for the sockets of its workers.
pub(crate) struct Feed {
    listeners: Arc<Mutex<Listeners>>,
    reader: JoinHandle<()>,
}

/// One socket's share of a feed: its worker's events and the task events, in commit order.
/// `recv` answers `None` once the socket fell behind or the feed ended.
pub(crate) struct Subscription {
    events: mpsc::Receiver<Arc<Event>>,
    worker: WorkerSid,
    id: u64,
    feed: Arc<Feed>,
}

impl Subscription {
    pub(crate) async fn recv(&mut self) -> Option<Arc<Event>> {
        self.events.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut listeners = lock(&self.feed.listeners);
        if let Some(senders) = listeners.by_worker.get_mut(&self.worker) {
            senders.retain(|(id, _)| *id != self.id);
            if senders.is_empty() {
                listeners.by_worker.remove(&self.worker);
            }
        }
    }
}

impl Feed {
    /// `worker`'s events (and the task events) from now on.
    pub(crate) fn subscribe(self: &Arc<Self>, worker: &WorkerSid) -> Subscription {
        let (tx, events) = mpsc::channel(BACKLOG);
        let mut listeners = lock(&self.listeners);
        listeners.next_id += 1;
        let id = listeners.next_id;
        (listeners.by_worker.entry(worker.clone()).or_default()).push((id, tx));
        Subscription {
            events,
            worker: worker.clone(),
            id,
            feed: self.clone(),
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Hands `e` to the sockets it concerns; a socket whose backlog is full loses its sender, so
/// its subscription ends.
fn dispatch(listeners: &Mutex<Listeners>, e: Arc<Event>) {
    let mut listeners = lock(listeners);
    let deliver = |senders: &mut Vec<(u64, Sender)>| {
        senders.retain(|(_, tx)| tx.try_send(e.clone()).is_ok());
    };
    if let Some(worker) = e.get("worker_sid") {
        let worker = worker.parse::<WorkerSid>().ok();
        if let Some(senders) = worker.and_then(|w| listeners.by_worker.get_mut(&w)) {
            deliver(senders);
        }
    } else if TASK_EVENTS.contains(&e.event_type.as_str()) {
        listeners.by_worker.values_mut().for_each(deliver);
    }
}

/// The feeds of the workspaces that have sockets open.
#[derive(Default)]
pub(crate) struct Hub {
    feeds: Mutex<HashMap<WorkspaceSid, Weak<Feed>>>,
}

impl Hub {
    /// The workspace's feed, started if no socket holds one.
    pub(crate) async fn feed(
        &self,
        engine: &Engine,
        account: &AccountSid,
        ws: &WorkspaceSid,
    ) -> Result<Arc<Feed>, switchyard_engine::Error> {
        if let Some(feed) = lock(&self.feeds).get(ws).and_then(Weak::upgrade) {
            return Ok(feed);
        }
        let mut stream = engine.event_stream(account, ws, StreamStart::Now).await?;
        let listeners = Arc::new(Mutex::new(Listeners::default()));
        let reading = listeners.clone();
        let workspace = ws.clone();
        let reader = tokio::spawn(async move {
            loop {
                match stream.next().await {
                    Ok(e) => dispatch(&reading, Arc::new(e)),
                    Err(e) => {
                        tracing::debug!(%workspace, error = %e, "a workspace's event feed ended");
                        // Every subscription ends, so every socket closes.
                        lock(&reading).by_worker.clear();
                        return;
                    }
                }
            }
        });
        let feed = Arc::new(Feed { listeners, reader });
        let mut feeds = lock(&self.feeds);
        // Another socket may have started one meanwhile: keep that one, drop this.
        if let Some(existing) = feeds.get(ws).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        feeds.retain(|_, f| f.strong_count() > 0);
        feeds.insert(ws.clone(), Arc::downgrade(&feed));
        Ok(feed)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
