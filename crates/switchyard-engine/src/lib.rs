//! Switchyard's engine: the store, the clock and every rule of TaskRouter, without HTTP.
//!
//! [`Engine`] is what the HTTP server is a thin shell over, and what a Rust service embeds to route
//! work in-process. Every operation validates its input with the same rules and messages the REST
//! API shows, persists the change, and only then returns.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_engine::{
//!     ActivityFilter, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, CreateWorkspace,
//!     Engine, EngineOptions, ManualClock, Notification, PageRequest, ReservationAction,
//!     ReservationScope, TaskStatus, Timestamp, UpdateReservation,
//! };
//!
//! // A manual clock stands still until told to move (`advance_to`); `SystemClock` is real time.
//! let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
//! let engine = Engine::open("sqlite::memory:", clock, EngineOptions::default()).await?;
//! let account = engine.ensure_account("AC00000000000000000000000000000000".parse()?).await?;
//! let new_workspace = CreateWorkspace { friendly_name: "Support".into(), ..Default::default() };
//! let ws = engine.create_workspace(&account, new_workspace).await?.sid;
//!
//! let spanish = CreateTaskQueue {
//!     friendly_name: "Spanish".into(),
//!     target_workers: Some("languages HAS 'es'".into()),
//!     ..Default::default()
//! };
//! let queue = engine.create_task_queue(&account, &ws, spanish).await?.sid;
//! let route = CreateWorkflow {
//!     friendly_name: "Everything to Spanish".into(),
//!     configuration: format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#),
//!     ..Default::default()
//! };
//! let workflow = engine.create_workflow(&account, &ws, route).await?.sid;
//! let filter = ActivityFilter { friendly_name: Some("Available".into()), ..Default::default() };
//! let available = engine.list_activities(&account, &ws, &filter, PageRequest::default()).await?;
//! let alice = CreateWorker {
//!     friendly_name: "Alice".into(),
//!     activity_sid: Some(available.items[0].1.sid.clone()),
//!     attributes: Some(r#"{"languages":["en","es"]}"#.into()),
//! };
//! let alice = engine.create_worker(&account, &ws, alice).await?.sid;
//!
//! // A reservation is announced to subscribers once it is committed.
//! let mut offers = engine.subscribe();
//! let request = CreateTask {
//!     attributes: Some(r#"{"language":"es"}"#.into()),
//!     workflow_sid: Some(workflow),
//!     ..Default::default()
//! };
//! let task = engine.create_task(&account, &ws, request).await?.sid;
//! let Some(Notification::ReservationCreated(offer)) = offers.recv().await else {
//!     panic!("no reservation");
//! };
//! assert_eq!(offer.worker.sid, alice);
//!
//! let scope = ReservationScope::Task(task.clone());
//! for action in [ReservationAction::Accept { instruction: None }, ReservationAction::Complete] {
//!     let change = UpdateReservation { action, expected_version: None };
//!     engine.update_reservation(&account, &ws, &scope, &offer.reservation.sid, change).await?;
//! }
//! let task = engine.task(&account, &ws, &task).await?;
//! assert_eq!(task.assignment_status, TaskStatus::Completed);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

use std::sync::Arc;

use switchyard_core::decide::{Change, Configure};
use switchyard_core::model::{Workspace, MAX_FRIENDLY_NAME_LEN};
use switchyard_core::sid::{AccountSid, Sid, WorkspaceSid};

mod activity;
mod clock;
mod cluster;
mod deadline;
mod error;
mod event;
mod explain;
mod load;
mod lock;
pub mod measure;
mod overview;
mod reservation;
mod routing;
mod statistics;
mod task;
mod task_channel;
mod task_queue;
mod timer;
mod worker;
mod workflow;
mod workspace;

pub use activity::{CreateActivity, UpdateActivity};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cluster::{ClusterOptions, Owner};
pub use error::{Error, Result};
pub use event::{EventStream, StreamStart, DEFAULT_EVENT_MINUTES};
pub use explain::{PastReservation, TaskExplanation};
pub use overview::{ChannelView, Overview, OverviewSize, QueueView, TaskView, WorkerView};
pub use reservation::{ReservationAction, UpdateReservation, CALLBACK_FAILED};
pub use routing::{Notification, ReservationCreated};
pub use statistics::{
    ActivityCount, ActivityDuration, CumulativeOptions, CumulativeStatistics, DurationStats,
    RealTimeStatistics, SplitCounts, StatsScope, StatsWindow, WaitSplit, WorkerSelection,
};
pub use switchyard_core::event::Event;
pub use switchyard_core::routing::Timer;
/// The core's types the engine's calls take and return: SIDs, resources, statuses, time.
pub use switchyard_core::{model, routing::ReservationStatus, routing::TaskStatus, sid, Timestamp};
pub use switchyard_store::{
    is_postgres_url, testing, Backend, NodeRow, ReservationScope, TaskFilter,
};
pub use switchyard_store::{
    ActivityFilter, Cursor, EventFilter, Page, Store, StoreError, TaskQueueFilter, WorkerFilter,
    WorkflowFilter, WorkspaceFilter,
};
pub use task::{CreateTask, TaskOrder, TaskQuery, UpdateTask};
pub use task_channel::{CreateTaskChannel, UpdateTaskChannel};
pub use task_queue::{CreateTaskQueue, TaskQueueQuery, UpdateTaskQueue};
pub use timer::{FiredTimer, MAX_ASSIGNMENTS_EXCEEDED, TTL_EXCEEDED, WORKFLOW_TIMEOUT};
pub use worker::{CreateWorker, UpdateWorker, UpdateWorkerChannel, WorkerQuery};
pub use workflow::{CreateWorkflow, UpdateWorkflow};
pub use workspace::{ActivitySet, CreateWorkspace, UpdateWorkspace};

/// Settings that shape new resources.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The activities a new workspace starts with.
    pub activity_set: ActivitySet,
    /// Capacity of a new worker channel.
    pub default_channel_capacity: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            activity_set: ActivitySet::Current,
            default_channel_capacity: 1,
        }
    }
}

/// Which page of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Where the page starts.
    pub cursor: Cursor,
    /// How many items at most.
    pub size: usize,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            cursor: Cursor::Start,
            size: 50,
        }
    }
}

/// The routing engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    clock: Arc<dyn Clock>,
    options: Arc<EngineOptions>,
    routing: Arc<routing::Routing>,
    /// This node's part in a cluster of nodes on one PostgreSQL database, once it joined one.
    cluster: Option<Arc<cluster::Membership>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish()
    }
}

impl Engine {
    /// Opens the store at `url` (see [`Store::open`]) and builds an engine over it.
    pub async fn open(url: &str, clock: impl Clock, options: EngineOptions) -> Result<Engine> {
        let store = Store::open(url).await?;
        Ok(Engine::new(store, Arc::new(clock), options))
    }

    /// Builds an engine over an open store.
    pub fn new(store: Store, clock: Arc<dyn Clock>, options: EngineOptions) -> Engine {
        Engine {
            store,
            clock,
            options: Arc::new(options),
            routing: Arc::default(),
            cluster: None,
        }
    }

    /// The current time, as the engine sees it.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock the engine reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether the database answers now (for a readiness probe).
    pub async fn database_ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Closes the store, waiting for queries in flight.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Creates the account if it is new, and returns its SID. The engine keeps no
    /// credentials: who may act for an account is the embedding service's (or the HTTP
    /// server's) business.
    pub async fn ensure_account(&self, account: AccountSid) -> Result<AccountSid> {
        let create = Configure::CreateAccount {
            sid: account.clone(),
            date_created: self.now(),
        };
        self.store.write(&[Change::Configure(create)]).await?;
        Ok(account)
    }

    /// The workspace, whoever owns it.
    pub(crate) async fn store_workspace(&self, ws: &WorkspaceSid) -> Result<Workspace> {
        if let Some(w) = (self.routing).cached_workspace(ws, self.store.generation()) {
            return Ok(w);
        }
        let w = self
            .store
            .find_workspace(ws)
            .await?
            .ok_or_else(|| Error::not_found("Workspace", ws))?;
        self.routing.cache_workspace(&w);
        Ok(w)
    }

    /// The workspace, if it belongs to `account`; every workspace-scoped operation starts here.
    pub async fn workspace(&self, account: &AccountSid, ws: &WorkspaceSid) -> Result<Workspace> {
        match self.store_workspace(ws).await {
            Ok(w) if w.account_sid == *account => Ok(w),
            Ok(_) => Err(Error::not_found("Workspace", ws)),
            Err(e) => Err(e),
        }
    }
}

/// A fresh SID of kind `T`: a UUIDv7, unique and time-ordered, so that each table's SID index
/// grows at its end rather than dirtying a random page per insert.
pub(crate) fn mint<T: Sid>() -> T {
    T::from_bytes(*uuid::Uuid::now_v7().as_bytes())
}

/// The engine's [`Mint`](switchyard_core::decide::Mint) for the core's decisions: [`mint`].
pub(crate) struct Minter;

impl switchyard_core::decide::Mint for Minter {
    fn sid<T: Sid>(&mut self) -> T {
        mint()
    }
}

/// Checks an optional callback URL: an empty value clears it, anything else must be an absolute
/// http(s) URL.
pub(crate) fn callback_url(value: Option<String>, field: &'static str) -> Result<Option<String>> {
    match value {
        Some(u) if u.is_empty() => Ok(None),
        Some(u) if !switchyard_core::model::is_http_url(&u) => Err(Error::field(
            field,
            format!("must be an absolute http or https URL, got '{u}'"),
        )),
        other => Ok(other),
    }
}

/// Fails with `VersionMismatch` unless `current` is the `expected` version (when one is).
pub(crate) fn check_version(
    expected: Option<i64>,
    current: i64,
    kind: &'static str,
    sid: &impl std::fmt::Display,
) -> Result<()> {
    match expected {
        Some(expected) if expected != current => Err(Error::VersionMismatch {
            kind,
            sid: sid.to_string(),
            expected,
            current,
        }),
        _ => Ok(()),
    }
}

/// Checks a required friendly name: present, not blank, at most 64 characters.
pub(crate) fn friendly_name(value: Option<String>, field: &'static str) -> Result<String> {
    match value {
        Some(v) if !v.trim().is_empty() => check_name_len(v, field),
        _ => Err(Error::MissingField { field }),
    }
}

/// Checks an optional new friendly name.
pub(crate) fn new_friendly_name(
    value: Option<String>,
    field: &'static str,
) -> Result<Option<String>> {
    value.map(|v| friendly_name(Some(v), field)).transpose()
}

fn check_name_len(v: String, field: &'static str) -> Result<String> {
    if v.chars().count() > MAX_FRIENDLY_NAME_LEN {
        return Err(Error::field(
            field,
            format!("must be at most {MAX_FRIENDLY_NAME_LEN} characters"),
        ));
    }
    Ok(v)
}

/// Reads a page when some filters are evaluated here rather than in SQL: fetch every row past the
/// cursor (`fetch(None)`) and keep the matching ones, or let SQL limit the rows when `keep` is absent.
pub(crate) async fn filtered_page<T, F, Fut>(
    page: PageRequest,
    keep: Option<&(dyn Fn(&T) -> bool + Sync)>,
    fetch: F,
) -> Result<Page<T>>
where
    F: FnOnce(Option<usize>) -> Fut,
    Fut: std::future::Future<Output = switchyard_store::Result<Vec<(i64, T)>>>,
{
    let rows = match keep {
        None => fetch(Some(page.size + 1)).await?,
        Some(keep) => {
            let mut rows = fetch(None).await?;
            rows.retain(|(_, t)| keep(t));
            if let Cursor::Offset(n) = page.cursor {
                rows.drain(..n.min(rows.len()));
            }
            rows.truncate(page.size + 1);
            rows
        }
    };
    Ok(Page::from_fetched(rows, page.cursor, page.size))
}
