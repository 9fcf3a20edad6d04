//! The workspace's event log: listing it, and the stream an embedder follows. The events
//! themselves are built by the core (`switchyard_core::event::build`), in the decision that
//! records them, so an event exists exactly when its change does.

pub(crate) use switchyard_core::event::build::*;
use switchyard_core::event::Event;
use switchyard_core::Timestamp;

/// Twilio's default event window, in minutes.
pub const DEFAULT_EVENT_MINUTES: i64 = 15;

impl crate::Engine {
    /// A page of the workspace's events, oldest first. Without `filter.start`, the window is the
    /// last `minutes` (Twilio's `Minutes`, 15 when not given) before now.
    pub async fn list_events(
        &self,
        account: &switchyard_core::sid::AccountSid,
        ws: &switchyard_core::sid::WorkspaceSid,
        mut filter: switchyard_store::EventFilter,
        minutes: Option<i64>,
        page: crate::PageRequest,
    ) -> crate::Result<crate::Page<Event>> {
        self.workspace(account, ws).await?;
        let minutes = minutes.unwrap_or(DEFAULT_EVENT_MINUTES);
        if minutes < 0 {
            return Err(crate::Error::field(
                "minutes",
                format!("must not be negative, got {minutes}"),
            ));
        }
        filter.start.get_or_insert_with(|| {
            Timestamp::from_millis(
                self.now()
                    .as_millis()
                    .saturating_sub(minutes.saturating_mul(60_000)),
            )
        });
        Ok(self
            .store
            .list_events(ws, &filter, page.cursor, page.size)
            .await?)
    }

    /// One event of the workspace.
    pub async fn event(
        &self,
        account: &switchyard_core::sid::AccountSid,
        ws: &switchyard_core::sid::WorkspaceSid,
        sid: &switchyard_core::sid::EventSid,
    ) -> crate::Result<Event> {
        self.workspace(account, ws).await?;
        self.store
            .get_event(ws, sid)
            .await?
            .ok_or_else(|| crate::Error::not_found("Event", sid))
    }
}

/// The event-callback outbox: events are delivered from the store, so nothing owed is lost to a
/// crash and a dead receiver holds no memory.
impl crate::Engine {
    /// The workspace (whoever owns it) and up to `limit` of its events not yet handled by
    /// event callbacks, oldest first.
    pub async fn undelivered_events(
        &self,
        ws: &switchyard_core::sid::WorkspaceSid,
        limit: usize,
    ) -> crate::Result<(switchyard_core::model::Workspace, Vec<(i64, Event)>)> {
        let workspace = self.store_workspace(ws).await?;
        let cursor = self.store.event_cursor(ws).await?;
        Ok((workspace, self.store.events_after(ws, cursor, limit).await?))
    }

    /// Records that the workspace's events up to `seq` are handled (delivered, filtered out,
    /// or given up on).
    pub async fn mark_events_delivered(
        &self,
        ws: &switchyard_core::sid::WorkspaceSid,
        seq: i64,
    ) -> crate::Result<()> {
        let delivered = switchyard_core::decide::Change::EventsDelivered {
            workspace: ws.clone(),
            through: seq,
        };
        // Handed to another node meanwhile: it delivers from the recorded cursor on.
        let Some(chain) = self.bookkeeping_chain(ws) else {
            return Ok(());
        };
        Ok(self.store.submit(&[delivered], &chain).wait().await?)
    }

    /// The workspace's `EventCallbackUrl`; `None` once it has none, or is deleted.
    pub async fn event_callback_url(
        &self,
        ws: &switchyard_core::sid::WorkspaceSid,
    ) -> crate::Result<Option<String>> {
        match self.store_workspace(ws).await {
            Ok(w) => Ok(w.event_callback_url),
            Err(crate::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Workspaces with an `EventCallbackUrl`.
    pub async fn workspaces_with_event_callbacks(
        &self,
    ) -> crate::Result<Vec<switchyard_core::sid::WorkspaceSid>> {
        Ok(self.store.workspaces_with_event_callbacks().await?)
    }

    /// Changes whenever events are committed.
    pub fn event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store.event_signal()
    }
}

/// Where an [`EventStream`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// With the workspace's first event still stored.
    Beginning,
    /// With the first event committed after the stream is opened.
    Now,
    /// After the event at this position (an [`EventStream::position`] saved earlier), so a
    /// consumer that restarts picks up where it left off.
    After(i64),
}

/// A workspace's events in commit order, as they are committed: what an embedding service
/// watches instead of an event callback URL.
///
/// Events are read from the store, so a slow consumer holds no memory and misses nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use switchyard_engine::{CreateWorkspace, Engine, EngineOptions, StreamStart, SystemClock};
///
/// let engine = Engine::open("sqlite::memory:", SystemClock, EngineOptions::default()).await?;
/// let account = engine.ensure_account("AC00000000000000000000000000000000".parse()?).await?;
/// let ws = engine
///     .create_workspace(&account, CreateWorkspace { friendly_name: "Demo".into(), ..Default::default() })
///     .await?;
/// let mut events = engine.event_stream(&account, &ws.sid, StreamStart::Beginning).await?;
/// assert_eq!(events.next().await?.event_type, "workspace.created");
/// // A consumer that saved its position picks up with the next event.
/// let saved = events.position();
/// let mut resumed = engine.event_stream(&account, &ws.sid, StreamStart::After(saved)).await?;
/// assert_eq!(resumed.next().await?.event_type, "activity.created");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EventStream {
    engine: crate::Engine,
    ws: switchyard_core::sid::WorkspaceSid,
    after: i64,
    ready: std::collections::VecDeque<(i64, Event)>,
    signal: tokio::sync::watch::Receiver<u64>,
}

impl EventStream {
    /// The next event, waiting until one is committed.
    pub async fn next(&mut self) -> crate::Result<Event> {
        loop {
            if let Some((seq, e)) = self.ready.pop_front() {
                self.after = seq;
                return Ok(e);
            }
            // Mark the signal seen before reading, so a commit racing the read wakes us.
            self.signal.borrow_and_update();
            self.ready.extend(
                self.engine
                    .store
                    .events_after(&self.ws, self.after, 256)
                    .await?,
            );
            // The signal's sender lives in the store this stream holds: it cannot close.
            if self.ready.is_empty() && self.signal.changed().await.is_err() {
                return Err(crate::Error::Gone("the event signal closed".into()));
            }
        }
    }

    /// The position of the last event returned: open a stream with
    /// [`StreamStart::After`] it to continue from there.
    pub fn position(&self) -> i64 {
        self.after
    }
}

impl crate::Engine {
    /// The workspace's events, in commit order, from `start` on.
    pub async fn event_stream(
        &self,
        account: &switchyard_core::sid::AccountSid,
        ws: &switchyard_core::sid::WorkspaceSid,
        start: StreamStart,
    ) -> crate::Result<EventStream> {
        self.workspace(account, ws).await?;
        let after = match start {
            StreamStart::Beginning => 0,
            StreamStart::Now => self.store.last_event_number(ws).await?,
            StreamStart::After(seq) => seq,
        };
        Ok(EventStream {
            engine: self.clone(),
            ws: ws.clone(),
            after,
            ready: Default::default(),
            signal: self.store.event_signal(),
        })
    }
}
