//! One reader of each workspace's event log for all its sockets: the events are read once and
//! fanned out, instead of every socket querying the store on every commit. A feed lives while a
//! socket holds it and stops when the last one goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use switchyard_core::event::Event;
use switchyard_core::sid::{AccountSid, WorkspaceSid};
use switchyard_engine::{Engine, StreamStart};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Events a slow socket may fall behind by before it is closed (the SDK then reconnects and
/// fetches its reservations afresh).
const BACKLOG: usize = 4096;

/// A workspace's events as they commit, for every socket of it.
pub(crate) struct Feed {
    events: broadcast::Sender<Arc<Event>>,
    reader: JoinHandle<()>,
}

impl Feed {
    /// The events from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.reader.abort();
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
        if let Some(feed) = self.lock().get(ws).and_then(Weak::upgrade) {
            return Ok(feed);
        }
        let mut stream = engine.event_stream(account, ws, StreamStart::Now).await?;
        let (events, _) = broadcast::channel(BACKLOG);
        let sender = events.clone();
        let workspace = ws.clone();
        let reader = tokio::spawn(async move {
            loop {
                match stream.next().await {
                    // Nobody listening for a moment is fine: the feed lives as long as a socket.
                    Ok(e) => drop(sender.send(Arc::new(e))),
                    Err(e) => {
                        tracing::debug!(%workspace, error = %e, "a workspace's event feed ended");
                        return;
                    }
                }
            }
        });
        let feed = Arc::new(Feed { events, reader });
        let mut feeds = self.lock();
        // Another socket may have started one meanwhile: keep that one, drop this.
        if let Some(existing) = feeds.get(ws).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        feeds.retain(|_, f| f.strong_count() > 0);
        feeds.insert(ws.clone(), Arc::downgrade(&feed));
        Ok(feed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkspaceSid, Weak<Feed>>> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }
}
