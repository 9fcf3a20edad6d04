//! Handlers, one module per resource, each named by HTTP verb (`list`, `create`, `fetch`,
//! `update`, `delete`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use switchyard_core::sid::Sid;

use crate::error::{ApiError, ApiResult};
pub(crate) use crate::precondition::IfMatch;
use crate::AppState;

mod activities;
mod callbacks;
mod clock;
mod console;
mod events;
mod explain;
mod instruction;
mod nodes;
mod portable;
mod reservations;
mod reset;
mod statistics;
mod task_channels;
mod task_queues;
mod tasks;
mod workers;
mod workflows;
mod workspaces;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(console::index))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        .route(
            "/_switchyard/Workspaces/{ws}/Overview",
            get(console::overview),
        )
        .route(
            "/_switchyard/Workspaces/{ws}/Events/Stream",
            get(console::stream),
        )
        .route("/_switchyard/Clock", get(clock::fetch).post(clock::update))
        .route("/_switchyard/Nodes", get(nodes::list))
        .route("/_switchyard/Reset", post(reset::reset))
        .route("/_switchyard/Import", post(portable::import))
        .route("/_switchyard/Workspaces/{ws}/Export", get(portable::export))
        .route(
            "/_switchyard/Workspaces/{ws}/Tasks/{sid}/Explain",
            get(explain::explain),
        )
        .route(
            "/_switchyard/Workspaces/{ws}/Callbacks",
            get(callbacks::list),
        )
        .route(
            "/_switchyard/Workspaces/{ws}/Callbacks/{id}/Replay",
            post(callbacks::replay),
        )
        .route(
            "/v1/Workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            "/v1/Workspaces/{ws}",
            get(workspaces::fetch)
                .post(workspaces::update)
                .delete(workspaces::delete),
        )
        .route(
            "/v1/Workspaces/{ws}/Activities",
            get(activities::list).post(activities::create),
        )
        .route(
            "/v1/Workspaces/{ws}/Activities/{sid}",
            get(activities::fetch)
                .post(activities::update)
                .delete(activities::delete),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskChannels",
            get(task_channels::list).post(task_channels::create),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskChannels/{sid}",
            get(task_channels::fetch)
                .post(task_channels::update)
                .delete(task_channels::delete),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers",
            get(workers::list).post(workers::create),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/{sid}",
            get(workers::fetch)
                .post(workers::update)
                .delete(workers::delete),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/{sid}/Reservations",
            get(reservations::list_for_worker),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/{sid}/Reservations/{reservation}",
            get(reservations::fetch_for_worker).post(reservations::update_for_worker),
        )
        .route(
            "/v1/Workspaces/{ws}/Tasks",
            get(tasks::list).post(tasks::create),
        )
        .route(
            "/v1/Workspaces/{ws}/Tasks/{sid}",
            get(tasks::fetch).post(tasks::update).delete(tasks::delete),
        )
        .route(
            "/v1/Workspaces/{ws}/Tasks/{sid}/Reservations",
            get(reservations::list_for_task),
        )
        .route(
            "/v1/Workspaces/{ws}/Tasks/{sid}/Reservations/{reservation}",
            get(reservations::fetch_for_task).post(reservations::update_for_task),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/{sid}/Channels",
            get(workers::list_channels),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/{sid}/Channels/{channel}",
            get(workers::fetch_channel).post(workers::update_channel),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues",
            get(task_queues::list).post(task_queues::create),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues/{sid}",
            get(task_queues::fetch)
                .post(task_queues::update)
                .delete(task_queues::delete),
        )
        .route("/v1/Workspaces/{ws}/Statistics", get(statistics::workspace))
        .route(
            "/v1/Workspaces/{ws}/RealTimeStatistics",
            get(statistics::workspace_realtime),
        )
        .route(
            "/v1/Workspaces/{ws}/CumulativeStatistics",
            get(statistics::workspace_cumulative),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues/Statistics",
            get(statistics::queues),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues/RealTimeStatistics",
            post(statistics::queues_realtime),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues/{sid}/Statistics",
            get(statistics::queue),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues/{sid}/RealTimeStatistics",
            get(statistics::queue_realtime),
        )
        .route(
            "/v1/Workspaces/{ws}/TaskQueues/{sid}/CumulativeStatistics",
            get(statistics::queue_cumulative),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/Statistics",
            get(statistics::workers),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/RealTimeStatistics",
            get(statistics::workers_realtime),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/CumulativeStatistics",
            get(statistics::workers_cumulative),
        )
        .route(
            "/v1/Workspaces/{ws}/Workers/{sid}/Statistics",
            get(statistics::worker),
        )
        .route(
            "/v1/Workspaces/{ws}/Workflows/{sid}/Statistics",
            get(statistics::workflow),
        )
        .route(
            "/v1/Workspaces/{ws}/Workflows/{sid}/RealTimeStatistics",
            get(statistics::workflow_realtime),
        )
        .route(
            "/v1/Workspaces/{ws}/Workflows/{sid}/CumulativeStatistics",
            get(statistics::workflow_cumulative),
        )
        .route("/v1/Workspaces/{ws}/Events", get(events::list))
        .route("/v1/Workspaces/{ws}/Events/{sid}", get(events::fetch))
        .route(
            "/v1/Workspaces/{ws}/Workflows",
            get(workflows::list).post(workflows::create),
        )
        .route(
            "/v1/Workspaces/{ws}/Workflows/{sid}",
            get(workflows::fetch)
                .post(workflows::update)
                .delete(workflows::delete),
        )
}

/// Parses a SID from the path; one of the wrong shape names nothing, so it is a 404.
pub(crate) fn path_sid<T: Sid>(path: &str, value: &str) -> ApiResult<T> {
    value
        .parse()
        .map_err(|_| ApiError::NotFound(path.strip_prefix("/v1").unwrap_or(path).to_owned()))
}

/// 200 with a JSON body.
pub(crate) fn ok(body: impl Serialize) -> Response {
    Json(body).into_response()
}

/// 201 with a JSON body.
pub(crate) fn created(body: impl Serialize) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// 204 with no body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Adds an `ETag` header carrying `version`, quoted as RFC 9110 writes an entity tag.
pub(crate) fn with_etag(mut res: Response, version: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}
