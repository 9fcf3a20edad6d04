//! Building the events each change records. They are written in the same `Store::write` as the
//! change, so an event exists exactly when its change does.

use switchyard_core::event::Event;
use switchyard_core::model::{
    Activity, Reservation, Task, TaskChannel, TaskQueue, Worker, WorkerChannel, Workflow, Workspace,
};
use switchyard_core::routing::StepRef;
use switchyard_core::Timestamp;

use crate::mint;

/// A task event (`task.created`, `task.canceled`, ...).
pub(crate) fn task(ws: &Workspace, kind: &str, t: &Task, now: Timestamp) -> Event {
    let what = kind.strip_prefix("task.").unwrap_or(kind);
    let description = match &t.reason {
        Some(reason) if matches!(what, "canceled" | "completed") => {
            format!("Task {} {what}: {reason}", t.sid)
        }
        _ => format!("Task {} {what}", t.sid),
    };
    Event::new(mint(), ws, kind, ("task", t.sid.as_str()), description, now).with_task(t, now)
}

/// A reservation event, with the task's fields and the worker's (all of them when `worker` is
/// known, else the SID and name the reservation carries).
pub(crate) fn reservation(
    ws: &Workspace,
    kind: &str,
    r: &Reservation,
    t: &Task,
    worker: Option<&Worker>,
    now: Timestamp,
) -> Event {
    let what = kind.strip_prefix("reservation.").unwrap_or(kind);
    let description = format!(
        "Reservation {} {what} for Worker {} and Task {}",
        r.sid, r.worker_name, t.sid
    );
    let e = Event::new(
        mint(),
        ws,
        kind,
        ("reservation", r.sid.as_str()),
        description,
        now,
    )
    .with_task(t, now)
    .with_reservation(r);
    match worker {
        Some(w) => e.with_worker(w),
        None => e
            .with("worker_sid", r.worker_sid.as_str())
            .with("worker_name", r.worker_name.clone()),
    }
}

/// The same reservation event for each of `rs`, all of one task.
pub(crate) fn reservations<'a>(
    ws: &Workspace,
    kind: &str,
    rs: impl IntoIterator<Item = &'a Reservation>,
    t: &Task,
    now: Timestamp,
) -> Vec<Event> {
    rs.into_iter()
        .map(|r| reservation(ws, kind, r, t, None, now))
        .collect()
}

/// `worker.activity.update`: `after` is the worker in its new activity, `before` as it was.
pub(crate) fn worker_activity(
    ws: &Workspace,
    before: &Worker,
    after: &Worker,
    now: Timestamp,
) -> Event {
    let description = format!(
        "Worker {} updated to {} Activity",
        after.friendly_name, after.activity_name
    );
    Event::new(
        mint(),
        ws,
        "worker.activity.update",
        ("worker", after.sid.as_str()),
        description,
        now,
    )
    .with_worker(after)
    .with_previous_activity(before, now)
}

/// A worker event other than an activity change (`worker.attributes.update`, ...).
pub(crate) fn worker(ws: &Workspace, kind: &str, w: &Worker, now: Timestamp) -> Event {
    let what = kind
        .strip_prefix("worker.")
        .unwrap_or(kind)
        .replace('.', " ");
    let description = format!("Worker {} {what}", w.friendly_name);
    Event::new(
        mint(),
        ws,
        kind,
        ("worker", w.sid.as_str()),
        description,
        now,
    )
    .with_worker(w)
}

/// A queue event about a task (`task-queue.entered`, `task-queue.timeout`, `task-queue.moved`),
/// naming the queue the task is in (`entered`, `moved`) or left (`timeout`): `queue`.
pub(crate) fn queue(
    ws: &Workspace,
    kind: &str,
    t: &Task,
    queue: &(switchyard_core::sid::TaskQueueSid, String),
    now: Timestamp,
) -> Event {
    let what = kind.strip_prefix("task-queue.").unwrap_or(kind);
    let description = format!("Task {} {what} TaskQueue {}", t.sid, queue.1);
    Event::new(
        mint(),
        ws,
        kind,
        ("taskqueue", queue.0.as_str()),
        description,
        now,
    )
    .with_task(t, now)
    .with_queue(&queue.0, &queue.1)
}

/// A workflow event about a task (`workflow.entered`, `workflow.target-matched`,
/// `workflow.timeout`, `workflow.skipped`); `step` names the filter and target it concerns.
pub(crate) fn workflow(
    ws: &Workspace,
    kind: &str,
    t: &Task,
    step: Option<(StepRef, Option<&str>)>,
    now: Timestamp,
) -> Event {
    let Some((sid, name)) = &t.workflow else {
        return task(ws, kind, t, now);
    };
    let what = kind.strip_prefix("workflow.").unwrap_or(kind);
    let description = format!("Task {} {what} in Workflow {name}", t.sid);
    let mut e = Event::new(
        mint(),
        ws,
        kind,
        ("workflow", sid.as_str()),
        description,
        now,
    )
    .with_task(t, now)
    .with_workflow(sid, name);
    if let Some((at, filter_name)) = step {
        e = e.with("workflow_target_index", at.step.to_string());
        e = match (at.filter, filter_name) {
            (Some(_), Some(label)) => e.with("workflow_filter_name", label),
            (None, _) => e.with("workflow_filter_name", "Default Filter"),
            (Some(i), None) => e.with("workflow_filter_name", format!("filter {i}")),
        };
    }
    e
}

/// A configuration event: `kind` happened to the resource `(type, sid)`, which people know as
/// `"{label} {name}"` (`TaskQueue Support`).
fn configuration(
    ws: &Workspace,
    kind: &str,
    resource: (&str, &str),
    label: &str,
    name: &str,
    now: Timestamp,
) -> Event {
    // `task-queue.expression.updated` reads "expression updated".
    let what = kind
        .split_once('.')
        .map_or(kind, |(_, w)| w)
        .replace('.', " ");
    Event::new(
        mint(),
        ws,
        kind,
        resource,
        format!("{label} {name} {what}"),
        now,
    )
}

/// `workspace.created`, `workspace.updated`: the workspace group is every event's.
pub(crate) fn workspace(ws: &Workspace, kind: &str, now: Timestamp) -> Event {
    let name = ws.friendly_name.as_str();
    configuration(
        ws,
        kind,
        ("workspace", ws.sid.as_str()),
        "Workspace",
        name,
        now,
    )
}

/// `activity.created|updated|deleted`, with the activity group.
pub(crate) fn activity(ws: &Workspace, kind: &str, a: &Activity, now: Timestamp) -> Event {
    let resource = ("activity", a.sid.as_str());
    configuration(ws, kind, resource, "Activity", &a.friendly_name, now)
        .with("activity_sid", a.sid.as_str())
        .with("activity_name", a.friendly_name.clone())
        .with("activity_available", a.available.to_string())
}

/// `task-channel.created|updated|deleted`, with the task channel group.
pub(crate) fn task_channel(ws: &Workspace, kind: &str, c: &TaskChannel, now: Timestamp) -> Event {
    let resource = ("taskchannel", c.sid.as_str());
    configuration(ws, kind, resource, "TaskChannel", &c.unique_name, now)
        .with("task_channel_sid", c.sid.as_str())
        .with("task_channel_name", c.friendly_name.clone())
        .with("task_channel_unique_name", c.unique_name.clone())
        .with(
            "task_channel_optimized_routing",
            c.channel_optimized_routing.to_string(),
        )
}

/// `task-queue.created|deleted|expression.updated`, with the queue group.
pub(crate) fn task_queue(ws: &Workspace, kind: &str, q: &TaskQueue, now: Timestamp) -> Event {
    let resource = ("taskqueue", q.sid.as_str());
    configuration(ws, kind, resource, "TaskQueue", &q.friendly_name, now)
        .with_queue(&q.sid, &q.friendly_name)
        .with("task_queue_target_expression", q.target_workers.clone())
}

/// `workflow.created|updated|deleted`, with the workflow group.
pub(crate) fn workflow_configuration(
    ws: &Workspace,
    kind: &str,
    f: &Workflow,
    now: Timestamp,
) -> Event {
    let resource = ("workflow", f.sid.as_str());
    configuration(ws, kind, resource, "Workflow", &f.friendly_name, now)
        .with_workflow(&f.sid, &f.friendly_name)
}

/// `worker.capacity.update` or `worker.channel.availability.update`: the worker group and the
/// channel's, `after` the change and with the capacity it had `before`.
pub(crate) fn worker_channel(
    ws: &Workspace,
    kind: &str,
    w: &Worker,
    before: &WorkerChannel,
    after: &WorkerChannel,
    now: Timestamp,
) -> Event {
    worker(ws, kind, w, now)
        .with("task_channel_sid", after.task_channel_sid.as_str())
        .with(
            "task_channel_unique_name",
            after.task_channel_unique_name.clone(),
        )
        .with("worker_channel_available", after.available.to_string())
        .with(
            "worker_channel_available_capacity",
            after.configured_capacity.to_string(),
        )
        .with(
            "worker_channel_previous_capacity",
            before.configured_capacity.to_string(),
        )
        .with(
            "worker_channel_task_count",
            after.assigned_tasks.to_string(),
        )
}

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
        Ok(self.store.set_event_cursor(ws, seq).await?)
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
            StreamStart::Now => self.store.last_event_seq(ws).await?,
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
