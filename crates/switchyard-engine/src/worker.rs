//! Workers and worker channels.

use serde_json::Value;
use switchyard_core::expr::Expr;
use switchyard_core::model::{parse_attributes, Worker, WorkerChannel, MAX_CHANNEL_CAPACITY};
use switchyard_core::routing::WorkerState;
use switchyard_core::sid::{AccountSid, ActivitySid, TaskQueueSid, WorkerSid, WorkspaceSid};
use switchyard_store::{Cursor, StoreError, TaskQueueFilter, WorkerFilter};

use crate::event;
use crate::lock::settle;
use crate::task_channel::{new_worker_channel, ALL_TASK_CHANNELS};
use crate::{
    check_version, filtered_page, friendly_name, mint, new_friendly_name, Engine, Error, Page,
    PageRequest, Result,
};
use switchyard_core::decide::{Change, ChannelChange, Configure, Triggers, WorkerChange};
use switchyard_core::routing::{channel_state, worker_state};

/// Parameters of a new worker.
#[derive(Debug, Clone, Default)]
pub struct CreateWorker {
    /// Display name (required), unique within the workspace regardless of case.
    pub friendly_name: String,
    /// Initial activity; the workspace's default when absent.
    pub activity_sid: Option<ActivitySid>,
    /// Attributes JSON object; `{}` when absent.
    pub attributes: Option<String>,
}

/// Changes to a worker.
#[derive(Debug, Clone, Default)]
pub struct UpdateWorker {
    /// New activity.
    pub activity_sid: Option<ActivitySid>,
    /// New attributes JSON object.
    pub attributes: Option<String>,
    /// New display name.
    pub friendly_name: Option<String>,
    /// Reject the worker's pending reservations when moving to an unavailable activity.
    pub reject_pending_reservations: Option<bool>,
    /// Apply only if the worker's version (its ETag) is this one.
    pub expected_version: Option<i64>,
}

/// Changes to a worker channel.
#[derive(Debug, Clone, Default)]
pub struct UpdateWorkerChannel {
    /// New capacity, 0 to 50.
    pub capacity: Option<i64>,
    /// Whether the channel takes new tasks.
    pub available: Option<bool>,
}

/// Filters of the worker list.
#[derive(Debug, Clone, Default)]
pub struct WorkerQuery {
    /// Filters SQL answers.
    pub filter: WorkerFilter,
    /// Expression over attributes plus `sid`, `friendly_name`, `activity_sid`, `activity_name`.
    pub target_workers_expression: Option<String>,
    /// Only workers eligible for this queue.
    pub task_queue_sid: Option<TaskQueueSid>,
    /// Only workers eligible for the queue of this name.
    pub task_queue_name: Option<String>,
}

/// The document a `TargetWorkersExpression` is evaluated over: the attributes, plus the worker's
/// own fields where the attributes do not define them.
fn worker_document(w: &Worker) -> Value {
    let mut doc = serde_json::from_str::<Value>(&w.attributes)
        .unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut doc {
        for (k, v) in [
            ("sid", w.sid.as_str()),
            ("friendly_name", &w.friendly_name),
            ("activity_sid", w.activity_sid.as_str()),
            ("activity_name", &w.activity_name),
        ] {
            map.entry(k).or_insert_with(|| Value::String(v.to_owned()));
        }
    }
    doc
}

/// Whether the worker's attributes satisfy a queue's `TargetWorkers` expression.
pub(crate) fn in_queue(target: &Expr, w: &Worker) -> bool {
    serde_json::from_str::<Value>(&w.attributes).is_ok_and(|attrs| target.eval(&attrs))
}

pub(crate) fn parse_expression(text: &str, field: &'static str) -> Result<Expr> {
    Expr::parse(text).map_err(|e| Error::field(field, format!("is not a valid expression: {e}")))
}

fn attributes(text: String) -> Result<String> {
    parse_attributes(&text).map_err(|problem| Error::field("attributes", problem))?;
    Ok(text)
}

impl Engine {
    /// Creates a worker, with a channel for every task channel of the workspace.
    pub async fn create_worker(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: CreateWorker,
    ) -> Result<Worker> {
        let workspace = self.workspace(account, ws).await?;
        let name = friendly_name(Some(p.friendly_name), "friendly_name")?;
        if self.store.worker_name_taken(ws, &name, None).await? {
            return Err(Error::invalid(format!(
                "Worker named {name} already exists for workspace {ws}"
            )));
        }
        let activity = match p.activity_sid {
            Some(a) => self.activity_param(ws, &a, "activity_sid").await?,
            None => {
                self.activity_param(ws, &workspace.default_activity_sid, "default_activity_sid")
                    .await?
            }
        };
        let now = self.now();
        let worker = Worker {
            sid: mint(),
            workspace_sid: ws.clone(),
            friendly_name: name,
            activity_sid: activity.sid,
            activity_name: activity.friendly_name,
            available: activity.available,
            attributes: attributes(p.attributes.unwrap_or_else(|| "{}".to_owned()))?,
            date_status_changed: now,
            date_created: now,
            date_updated: now,
            version: 0,
            idle_since: now,
        };
        let mut locked = self.lock(workspace).await?;
        let created = event::worker(mint(), &locked.workspace, "worker.created", &worker, now);
        // Read under the workspace's lock, so that a task channel created meanwhile either is
        // listed here or lists this worker.
        let capacity = self.options.default_channel_capacity;
        let channels = (self.store)
            .list_task_channels(ws, Cursor::Start, ALL_TASK_CHANNELS)
            .await?
            .items
            .into_iter()
            .map(|(_, c)| new_worker_channel(&worker.sid, &c, capacity, now))
            .collect();
        let mut changes = [
            Change::Configure(Configure::CreateWorker {
                worker: worker.clone(),
                channels,
            }),
            Change::Event(created),
        ];
        self.submit(&mut locked, &mut changes, None);
        // Its row's creation order comes from the store: wait for it here.
        if let Err(e) = settle(locked.take_inflight()).await {
            // Not stored: the model is dropped and the error returned (`release_lock` returns
            // the error it is given).
            return self.release_lock(locked, Err(e)).await.map(|()| worker);
        }
        // The worker is stored from here on: an error now would have the caller create it
        // again. Whatever fails below drops the workspace's model, and rebuilding it routes.
        let triggers = Triggers {
            workers: vec![worker.sid.clone()],
            ..Default::default()
        };
        let routed = match self.worker_model_state(&worker).await {
            Ok(state) => {
                locked.model().put_worker(state);
                locked.model().rows.put_worker(worker.clone());
                self.finish(locked, triggers).await
            }
            Err(e) => self.release_lock(locked, Err(e)).await,
        };
        if let Err(e) = routed {
            tracing::warn!(worker = %worker.sid, error = %e, "routing a new worker failed");
        }
        Ok(worker)
    }

    /// A stored worker as the routing model holds it, with its channels as stored (one per
    /// task channel).
    async fn worker_model_state(&self, worker: &Worker) -> Result<WorkerState> {
        let channels = self
            .store
            .list_worker_channels(&worker.sid, Cursor::Start, 10_000)
            .await?
            .items
            .into_iter()
            .map(|(_, c)| {
                (
                    c.task_channel_sid,
                    channel_state(
                        c.task_channel_unique_name,
                        c.configured_capacity,
                        c.available,
                    ),
                )
            })
            .collect();
        let mut state = worker_state(worker, channels);
        state.seq = self.store.worker_seq(&worker.sid).await?;
        Ok(state)
    }

    /// A worker of the workspace.
    pub async fn worker(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &WorkerSid,
    ) -> Result<Worker> {
        self.workspace(account, ws).await?;
        self.store
            .get_worker(ws, sid)
            .await?
            .ok_or_else(|| Error::not_found("Worker", sid))
    }

    /// A page of the workspace's workers.
    pub async fn list_workers(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        query: &WorkerQuery,
        page: PageRequest,
    ) -> Result<Page<Worker>> {
        self.workspace(account, ws).await?;
        let expression = query
            .target_workers_expression
            .as_deref()
            .map(|e| parse_expression(e, "target_workers_expression"))
            .transpose()?;
        let queue = match (&query.task_queue_sid, &query.task_queue_name) {
            (Some(q), _) => Some(self.store.get_task_queue(ws, q).await?.ok_or_else(|| {
                Error::field(
                    "task_queue_sid",
                    format!("{q} is not a TaskQueue of workspace {ws}"),
                )
            })?),
            (None, Some(name)) => {
                let filter = TaskQueueFilter {
                    friendly_name: Some(name.clone()),
                };
                match self
                    .store
                    .list_task_queues(ws, &filter, Default::default(), Some(1))
                    .await?
                    .pop()
                {
                    Some((_, q)) => Some(q),
                    // No such queue: nobody is eligible for it.
                    None => return Ok(Page::empty()),
                }
            }
            (None, None) => None,
        };
        if queue
            .as_ref()
            .is_some_and(|q| q.target_workers.trim().is_empty())
        {
            // An empty TargetWorkers selects nobody.
            return Ok(Page::empty());
        }
        let target = queue
            .map(|q| parse_expression(&q.target_workers, "target_workers"))
            .transpose()?;
        let keep = |w: &Worker| {
            expression
                .as_ref()
                .is_none_or(|e| e.eval(&worker_document(w)))
                && target.as_ref().is_none_or(|t| in_queue(t, w))
        };
        let needs_keep = expression.is_some() || target.is_some();
        filtered_page(page, needs_keep.then_some(&keep as _), |limit| {
            self.store
                .list_workers(ws, &query.filter, page.cursor, limit)
        })
        .await
    }

    /// Changes a worker. Moving to an available activity, new attributes or new capacity may
    /// get it a reservation at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use switchyard_engine::{
    ///     ActivityFilter, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkspace, Engine,
    ///     EngineOptions, PageRequest, SystemClock, TaskStatus, UpdateWorker,
    /// };
    ///
    /// # let engine = Engine::open("sqlite::memory:", SystemClock, EngineOptions::default()).await?;
    /// # let account = engine.ensure_account("AC00000000000000000000000000000000".parse()?).await?;
    /// # let new_workspace = CreateWorkspace { friendly_name: "Quickstart".into(), ..Default::default() };
    /// # let ws = engine.create_workspace(&account, new_workspace).await?.sid;
    /// # let queue = CreateTaskQueue { friendly_name: "All".into(), ..Default::default() };
    /// # let queue = engine.create_task_queue(&account, &ws, queue).await?.sid;
    /// // Alice starts in the workspace's default activity, Offline: the task waits.
    /// let alice = CreateWorker { friendly_name: "Alice".into(), ..Default::default() };
    /// let alice = engine.create_worker(&account, &ws, alice).await?;
    /// assert_eq!(alice.activity_name, "Offline");
    /// let request = CreateTask { task_queue_sid: Some(queue), ..Default::default() };
    /// let task = engine.create_task(&account, &ws, request).await?.sid;
    /// assert_eq!(engine.task(&account, &ws, &task).await?.assignment_status, TaskStatus::Pending);
    ///
    /// // Going Available reserves her for it before the call returns.
    /// let filter = ActivityFilter { friendly_name: Some("Available".into()), ..Default::default() };
    /// let available = engine.list_activities(&account, &ws, &filter, PageRequest::default()).await?;
    /// let change = UpdateWorker {
    ///     activity_sid: Some(available.items[0].1.sid.clone()),
    ///     ..Default::default()
    /// };
    /// engine.update_worker(&account, &ws, &alice.sid, change).await?;
    /// assert_eq!(engine.task(&account, &ws, &task).await?.assignment_status, TaskStatus::Reserved);
    /// # Ok(()) }
    /// ```
    pub async fn update_worker(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &WorkerSid,
        p: UpdateWorker,
    ) -> Result<Worker> {
        let workspace = self.workspace(account, ws).await?;
        let mut locked = self.lock(workspace).await?;
        let w = locked.worker_row(sid)?;
        check_version(p.expected_version, w.version, "Worker", sid)?;
        let now = self.now();
        let change = WorkerChange {
            friendly_name: new_friendly_name(p.friendly_name, "friendly_name")?,
            attributes: p.attributes,
            activity_sid: p.activity_sid,
            reject_pending_reservations: p.reject_pending_reservations == Some(true),
        };
        let mut triggers = Triggers::default();
        let updated = self.decide(&mut locked, now, |d| {
            d.update_worker(w, change, &mut triggers)
        });
        let finished = self.finish(locked, triggers).await;
        let updated = updated?;
        match finished {
            // The version check guards against a writer the model does not know of.
            Err(Error::Store(StoreError::Conflict(_))) => Err(Error::ConcurrentChange(format!(
                "Worker {sid} was changed concurrently; retry"
            ))),
            other => other.map(|()| updated),
        }
    }

    /// Deletes a worker; its pending reservations are canceled and their tasks routed on.
    pub async fn delete_worker(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &WorkerSid,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let workspace = self.workspace(account, ws).await?;
        let mut locked = self.lock(workspace).await?;
        let w = locked.worker_row(sid)?;
        check_version(expected_version, w.version, "Worker", sid)?;
        let now = self.now();
        let mut triggers = Triggers::default();
        self.decide(&mut locked, now, |d| d.release_worker(sid, &mut triggers));
        let deleted = event::worker(mint(), &locked.workspace, "worker.deleted", &w, now);
        let mut changes = [
            Change::Configure(Configure::DeleteWorker(sid.clone())),
            Change::Event(deleted),
        ];
        self.submit(&mut locked, &mut changes, None);
        locked.model().remove_worker(sid);
        locked.model().rows.remove_worker(sid);
        self.finish(locked, triggers).await
    }

    /// A page of the worker's channels.
    pub async fn list_worker_channels(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        worker: &WorkerSid,
        page: PageRequest,
    ) -> Result<Page<WorkerChannel>> {
        self.worker(account, ws, worker).await?;
        Ok(self
            .store
            .list_worker_channels(worker, page.cursor, page.size)
            .await?)
    }

    /// One of the worker's channels, by `WC` SID, or by its task channel's SID or unique name.
    pub async fn worker_channel(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        worker: &WorkerSid,
        key: &str,
    ) -> Result<WorkerChannel> {
        self.worker(account, ws, worker).await?;
        self.store
            .get_worker_channel(worker, key)
            .await?
            .ok_or_else(|| Error::not_found("WorkerChannel", key))
    }

    /// Changes a worker channel's capacity or availability.
    pub async fn update_worker_channel(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        worker: &WorkerSid,
        key: &str,
        p: UpdateWorkerChannel,
    ) -> Result<WorkerChannel> {
        let workspace = self.workspace(account, ws).await?;
        let mut locked = self.lock(workspace).await?;
        // Read under the lock, so the events name the capacity this change replaces.
        let c = self.worker_channel(account, ws, worker, key).await?;
        if let Some(capacity) = p.capacity {
            if !(0..=MAX_CHANNEL_CAPACITY).contains(&capacity) {
                return Err(Error::field(
                    "capacity",
                    format!("must be between 0 and {MAX_CHANNEL_CAPACITY}, got {capacity}"),
                ));
            }
        }
        let w = locked.worker_row(worker)?;
        let change = ChannelChange {
            capacity: p.capacity,
            available: p.available,
        };
        let now = self.now();
        let mut triggers = Triggers::default();
        let c = self.decide(&mut locked, now, |d| {
            d.update_worker_channel(w, c, change, &mut triggers)
        });
        self.finish(locked, triggers).await?;
        Ok(c)
    }
}
