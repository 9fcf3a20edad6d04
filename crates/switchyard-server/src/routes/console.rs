//! The browser console: `GET /` serves a small page (HTML, CSS and JavaScript compiled into the
//! binary, no CDN, no build step) that reads the same API a developer uses, plus two reads made
//! for it: a workspace at a glance (`…/Overview`) and its events as they commit, as Server-Sent
//! Events (`…/Events/Stream`), so the page updates without reloading.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchyard_core::event::Event;
use switchyard_core::sid::WorkspaceSid;
use switchyard_engine::{Overview, OverviewSize, StreamStart, TaskView};
use tokio_stream::wrappers::ReceiverStream;

use super::{ok, path_sid};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::field;
use crate::form::Query;
use crate::resource::date;
use crate::{AppState, Caller};

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");

/// The most workers or tasks one overview lists.
const MAX_LISTED: i64 = 5_000;

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:",
            ),
            (header::CONTENT_TYPE, content_type),
            // Small, and changes with the binary: always asked for again.
            (header::CACHE_CONTROL, "no-cache"),
            // Never inside another site's frame (clickjacking the Reset button).
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`.
pub(crate) async fn index(_c: Caller) -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /console/console.js`.
pub(crate) async fn script(_c: Caller) -> Response {
    page("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /console/console.css`.
pub(crate) async fn style(_c: Caller) -> Response {
    page("text/css; charset=utf-8", STYLE)
}

/// `GET /_switchyard/Workspaces/{ws}/Overview` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct OverviewForm {
    #[serde(deserialize_with = "field::int")]
    workers: Option<i64>,
    #[serde(deserialize_with = "field::int")]
    workers_from: Option<i64>,
    #[serde(deserialize_with = "field::int")]
    tasks_per_queue: Option<i64>,
    #[serde(deserialize_with = "field::int")]
    tasks: Option<i64>,
}

fn bounded(name: &str, value: Option<i64>, default: usize) -> ApiResult<usize> {
    match value {
        None => Ok(default),
        Some(v) if (0..=MAX_LISTED).contains(&v) => Ok(v as usize),
        Some(v) => Err(ApiError::Invalid(format!(
            "{name} must be between 0 and {MAX_LISTED}, got {v}"
        ))),
    }
}

/// `GET /_switchyard/Workspaces/{ws}/Overview`: queues with the tasks waiting in them, and
/// workers with their activity and channel load.
pub(crate) async fn overview(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<OverviewForm>,
) -> ApiResult<Response> {
    let ws: WorkspaceSid = path_sid(&c.path, &ws)?;
    let defaults = OverviewSize::default();
    let size = OverviewSize {
        workers: bounded("Workers", q.workers, defaults.workers)?,
        workers_from: match q.workers_from {
            None => defaults.workers_from,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(n) => {
                return Err(ApiError::Invalid(format!(
                    "WorkersFrom must not be negative, got {n}"
                )))
            }
        },
        tasks_per_queue: bounded("TasksPerQueue", q.tasks_per_queue, defaults.tasks_per_queue)?,
        tasks: bounded("Tasks", q.tasks, defaults.tasks)?,
    };
    let o = st
        .engine
        .overview(&c.account, &ws, size)
        .await
        .at(&c.path)?;
    Ok(ok(render(&o)))
}

fn task(t: &TaskView) -> Value {
    json!({
        "task_sid": t.sid.to_string(),
        "priority": t.priority,
        "status": t.status,
        "date_created": date(t.date_created),
        "date_created_ms": t.date_created.as_millis(),
        "reserved_by": t.reserved_by.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn render(o: &Overview) -> Value {
    json!({
        "now": date(o.now),
        "now_ms": o.now.as_millis(),
        "task_queues": o.queues.iter().map(|q| json!({
            "task_queue_sid": q.sid.to_string(),
            "friendly_name": q.friendly_name,
            "target_workers": q.target_workers,
            "members": q.members,
            "available_members": q.available_members,
            "tasks_total": q.tasks_total,
            "tasks": q.tasks.iter().map(task).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "unqueued_tasks": o.unqueued.iter().map(task).collect::<Vec<_>>(),
        "workers_total": o.workers_total,
        "workers_available": o.workers_available,
        "workers": o.workers.iter().map(|w| json!({
            "worker_sid": w.sid.to_string(),
            "friendly_name": w.friendly_name,
            "activity_name": w.activity_name,
            "available": w.available,
            "channels": w.channels.iter().map(|c| json!({
                "unique_name": c.unique_name,
                "pending": c.pending,
                "assigned": c.assigned,
                "wrapping": c.wrapping,
                "capacity": c.capacity,
                "available": c.available,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn event_json(e: &Event) -> Value {
    let data: Map<String, Value> = (e.data.iter())
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json!({
        "sid": e.sid.to_string(),
        "event_type": e.event_type,
        "description": e.description,
        "date": date(e.date),
        "date_ms": e.date.as_millis(),
        "resource_type": e.resource_type,
        "resource_sid": e.resource_sid,
        "data": data,
    })
}

/// `GET /_switchyard/Workspaces/{ws}/Events/Stream`: the workspace's events from now on, as
/// Server-Sent Events, one JSON object each.
pub(crate) async fn stream(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let ws: WorkspaceSid = path_sid(&c.path, &ws)?;
    let mut events = (st.engine)
        .event_stream(&c.account, &ws, StreamStart::Now)
        .await
        .at(&c.path)?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                // The page went away: stop reading for it.
                () = tx.closed() => return,
                next = events.next() => next,
            };
            match next {
                Ok(e) => {
                    let frame = SseEvent::default().data(event_json(&e).to_string());
                    if tx.send(Ok(frame)).await.is_err() {
                        return;
                    }
                }
                // The workspace was deleted, or the store failed: the page reconnects.
                Err(e) => {
                    tracing::debug!(workspace = %ws, error = %e, "event stream ended");
                    return;
                }
            }
        }
    });
    let stream: ReceiverStream<Result<SseEvent, Infallible>> = ReceiverStream::new(rx);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
