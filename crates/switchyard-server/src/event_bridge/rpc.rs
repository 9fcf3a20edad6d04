//! `POST /v1/wschannels`: the Worker SDK's RPC channel. Every read and write of the SDK is one
//! POST whose body is JSON `{url, method, params, token}` whatever its Content-Type (browsers
//! send `text/plain`), answered `{payload: …}`, or an error with a `message`. Preflights are
//! answered so a page on another origin may call it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchyard_core::model::{Task, DEFAULT_RESERVATION_TIMEOUT_SECS};
use switchyard_core::routing::TaskStatus;
use switchyard_core::sid::{ReservationSid, Sid, TaskSid, WorkerSid};
use switchyard_engine::{
    ActivityFilter, CreateTask, PageRequest, ReservationAction, ReservationScope,
    ReservationStatus, UpdateReservation, UpdateTask, UpdateWorker,
};

use super::socket::wall_clock_secs;
use super::{listing, payload};
use crate::access_token::{Grant, Role};
use crate::AppState;

/// One call.
#[derive(Debug, Deserialize)]
struct Call {
    url: String,
    #[serde(default = "get")]
    method: String,
    #[serde(default)]
    params: Map<String, Value>,
    #[serde(default)]
    token: String,
}

fn get() -> String {
    "GET".to_owned()
}

/// A refusal the SDK reads: a status and a JSON `message`.
pub(super) struct Refusal(pub(super) StatusCode, pub(super) String);

impl Refusal {
    fn bad(message: impl Into<String>) -> Refusal {
        Refusal(StatusCode::BAD_REQUEST, message.into())
    }
}

impl From<switchyard_engine::Error> for Refusal {
    fn from(e: switchyard_engine::Error) -> Refusal {
        let status = match &e {
            switchyard_engine::Error::NotFound { .. } => StatusCode::NOT_FOUND,
            switchyard_engine::Error::VersionMismatch { .. }
            | switchyard_engine::Error::ConcurrentChange(_) => StatusCode::PRECONDITION_FAILED,
            switchyard_engine::Error::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Refusal(status, e.to_string())
    }
}

/// The headers every answer carries, so that a page on another origin may read it.
fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("apiVersion, clientVersion, If-Match, Content-Type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag"),
    );
}

/// `OPTIONS /v1/wschannels`: the CORS preflight.
pub(crate) async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors(response.headers_mut());
    response
}

/// `POST /v1/wschannels`.
pub(crate) async fn call(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(response) = on_owner(&st, &headers, &body).await {
        return response;
    }
    let answer = match serde_json::from_slice::<Call>(&body) {
        Ok(call) => serve(&st, &headers, call).await,
        Err(e) => Err(Refusal::bad(format!("The request body is not a call: {e}"))),
    };
    let mut response = match answer {
        Ok(payload) => (StatusCode::OK, axum::Json(json!({ "payload": payload }))).into_response(),
        Err(Refusal(status, message)) => (
            status,
            axum::Json(json!({ "message": message, "status": status.as_u16() })),
        )
            .into_response(),
    };
    cors(response.headers_mut());
    response
}

/// With several nodes: the answer of the node that decides for the workspace the call's token
/// names, when that is another node. A call that does not parse, or whose token does not
/// verify, is refused here.
async fn on_owner(st: &AppState, headers: &HeaderMap, body: &Bytes) -> Option<Response> {
    st.engine.lease()?;
    let call = serde_json::from_slice::<Call>(body).ok()?;
    let grant = (st.api_keys).verify(&call.token, wall_clock_secs()).ok()?;
    let mut response = crate::forward::rpc_to_owner(st, &grant.workspace, headers, body).await?;
    cors(response.headers_mut());
    Some(response)
}

async fn serve(st: &AppState, headers: &HeaderMap, call: Call) -> Result<Value, Refusal> {
    let grant = (st.api_keys)
        .verify(&call.token, wall_clock_secs())
        .map_err(|e| Refusal(StatusCode::UNAUTHORIZED, e.to_string()))?;
    let path: Vec<&str> = (call
        .url
        .trim_matches('/')
        .split('?')
        .next()
        .unwrap_or_default())
    .split('/')
    .collect();
    let method = call.method.to_ascii_uppercase();
    let (account, ws) = (&grant.account, &grant.workspace);
    let expected_version = (headers.get(header::IF_MATCH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().trim_matches('"').parse::<i64>().ok());
    match (method.as_str(), path.as_slice()) {
        (_, ["Workspaces", w, ..]) if *w != ws.as_str() => Err(Refusal(
            StatusCode::FORBIDDEN,
            format!("The access token is for workspace {ws}, not {w}"),
        )),
        ("GET", ["Workspaces", _, "Activities"]) => {
            let page = PageRequest {
                size: 1000,
                ..PageRequest::default()
            };
            let activities = (st.engine)
                .list_activities(account, ws, &ActivityFilter::default(), page)
                .await?;
            let contents: Vec<Value> = (activities.items.into_iter())
                .map(|(_, a)| payload::activity(account, &a))
                .collect();
            Ok(json!({ "contents": contents, "after_sid": null }))
        }
        ("GET", ["Workspaces", _, "Workers"]) => {
            if grant.role == Role::Worker {
                return Err(Refusal(
                    StatusCode::FORBIDDEN,
                    "Listing workers takes a supervisor or admin token".into(),
                ));
            }
            listing::workers(st, &grant, &call.params).await
        }
        ("GET", ["Workspaces", _, "TaskQueues"]) => {
            listing::task_queues(st, &grant, &call.params).await
        }
        ("GET", ["Workspaces", _, "TaskQueues", wq]) => {
            let wq = wq
                .parse()
                .map_err(|_| Refusal(StatusCode::NOT_FOUND, format!("No task queue {wq}")))?;
            let queue = st.engine.task_queue(account, ws, &wq).await?;
            Ok(payload::task_queue(account, &queue))
        }
        ("GET", ["Workspaces", _, "Workers", wk]) => {
            let wk = own_worker(&grant, wk)?;
            Ok(payload::worker(
                account,
                &st.engine.worker(account, ws, &wk).await?,
            ))
        }
        ("POST", ["Workspaces", _, "Workers", wk]) => {
            let wk = own_worker(&grant, wk)?;
            let update = UpdateWorker {
                activity_sid: param_str(&call.params, "ActivitySid")
                    .map(|a| {
                        a.parse().map_err(|_| {
                            Refusal::bad(format!("ActivitySid '{a}' is not an activity SID"))
                        })
                    })
                    .transpose()?,
                attributes: param_json(&call.params, "Attributes"),
                reject_pending_reservations: call
                    .params
                    .get("RejectPendingReservations")
                    .and_then(truthy),
                expected_version,
                ..UpdateWorker::default()
            };
            let updated = st.engine.update_worker(account, ws, &wk, update).await?;
            Ok(payload::worker(account, &updated))
        }
        ("GET", ["Workspaces", _, "Workers", wk, "WorkerChannels" | "Channels"]) => {
            let wk = own_worker(&grant, wk)?;
            let page = PageRequest {
                size: 1000,
                ..PageRequest::default()
            };
            let channels = st
                .engine
                .list_worker_channels(account, ws, &wk, page)
                .await?;
            let contents: Vec<Value> = (channels.items.into_iter())
                .map(|(_, c)| payload::channel(account, &c))
                .collect();
            Ok(json!({ "contents": contents, "after_sid": null }))
        }
        ("GET", ["Workspaces", _, "Workers", wk, "Reservations"]) => {
            let wk = own_worker(&grant, wk)?;
            let scope = ReservationScope::Worker(wk.clone());
            let page = PageRequest {
                size: 1000,
                ..PageRequest::default()
            };
            let mut contents = Vec::new();
            for status in [
                ReservationStatus::Pending,
                ReservationStatus::Accepted,
                ReservationStatus::Wrapping,
            ] {
                let found = (st.engine)
                    .list_reservations(account, ws, &scope, Some(status), None, page)
                    .await?;
                for (_, r) in found.items {
                    let task = st.engine.task(account, ws, &r.task_sid).await?;
                    let timeout = reservation_timeout(st, &grant, &task).await;
                    let now = st.engine.now();
                    contents.push(payload::reservation(account, &r, Some(&task), timeout, now));
                }
            }
            Ok(json!({ "contents": contents, "after_sid": null }))
        }
        ("POST", ["Workspaces", _, "Workers", wk, "Reservations", wr]) => {
            let wk = own_worker(&grant, wk)?;
            let wr: ReservationSid = wr
                .parse()
                .map_err(|_| Refusal(StatusCode::NOT_FOUND, format!("No reservation {wr}")))?;
            let action = match param_str(&call.params, "ReservationStatus").as_deref() {
                Some("accepted") => ReservationAction::Accept { instruction: None },
                Some("rejected") => ReservationAction::Reject {
                    activity: param_str(&call.params, "WorkerActivitySid")
                        .and_then(|a| a.parse().ok()),
                },
                Some("completed") => ReservationAction::Complete,
                Some("wrapping") => ReservationAction::Wrap,
                other => {
                    return Err(Refusal::bad(format!(
                        "ReservationStatus {other:?} is not served by the event bridge yet"
                    )))
                }
            };
            let update = UpdateReservation {
                action,
                expected_version,
            };
            let scope = ReservationScope::Worker(wk);
            let r = (st.engine)
                .update_reservation(account, ws, &scope, &wr, update)
                .await?;
            let task = st.engine.task(account, ws, &r.task_sid).await?;
            let timeout = reservation_timeout(st, &grant, &task).await;
            let now = st.engine.now();
            Ok(payload::reservation(account, &r, Some(&task), timeout, now))
        }
        ("POST", ["Workspaces", _, "Tasks"]) => {
            let create = CreateTask {
                attributes: param_json(&call.params, "Attributes"),
                workflow_sid: param_sid(&call.params, "WorkflowSid")?,
                task_queue_sid: param_sid(&call.params, "TaskQueueSid")?,
                routing_target: param_str(&call.params, "RoutingTarget"),
                task_channel: param_str(&call.params, "TaskChannelUniqueName")
                    .or_else(|| param_str(&call.params, "TaskChannelSid")),
                priority: call.params.get("Priority").and_then(Value::as_i64),
                timeout: call.params.get("Timeout").and_then(Value::as_i64),
                ..CreateTask::default()
            };
            let task = st.engine.create_task(account, ws, create).await?;
            Ok(payload::task(account, &task, st.engine.now()))
        }
        (_, ["Workspaces", _, rest @ ..])
            if rest.iter().any(|p| *p == "Transfers" || p.ends_with("Participant") || p.ends_with("Participants")) =>
        {
            Err(Refusal::bad(
                "Transfers and call participants need Twilio's voice backend, which Switchyard does not have",
            ))
        }
        ("GET", ["Workspaces", _, "Tasks", wt]) => {
            let wt = own_task(st, &grant, wt).await?;
            let task = st.engine.task(account, ws, &wt).await?;
            Ok(payload::task(account, &task, st.engine.now()))
        }
        ("POST", ["Workspaces", _, "Tasks", wt]) => {
            let wt = own_task(st, &grant, wt).await?;
            let status = match param_str(&call.params, "AssignmentStatus") {
                None => None,
                Some(s) => Some(TaskStatus::parse(&s).ok_or_else(|| {
                    Refusal::bad(format!("AssignmentStatus '{s}' is not a task status"))
                })?),
            };
            let update = UpdateTask {
                attributes: param_json(&call.params, "Attributes"),
                assignment_status: status,
                reason: param_str(&call.params, "Reason"),
                expected_version,
                ..UpdateTask::default()
            };
            let task = st.engine.update_task(account, ws, &wt, update).await?;
            Ok(payload::task(account, &task, st.engine.now()))
        }
        (m, _) => Err(Refusal(
            StatusCode::NOT_FOUND,
            format!(
                "{m} {} is not served by Switchyard's event bridge",
                call.url
            ),
        )),
    }
}

/// The `TaskReservationTimeout` of the task's workflow, in seconds (Twilio's default without one).
pub(super) async fn reservation_timeout(st: &AppState, grant: &Grant, task: &Task) -> i64 {
    match &task.workflow {
        Some((wf, _)) => (st
            .engine
            .workflow(&grant.account, &grant.workspace, wf)
            .await)
            .map_or(DEFAULT_RESERVATION_TIMEOUT_SECS, |w| {
                w.task_reservation_timeout
            }),
        None => DEFAULT_RESERVATION_TIMEOUT_SECS,
    }
}

/// The task of the path, which a `worker` token reaches only through a reservation of its own.
async fn own_task(st: &AppState, grant: &Grant, wt: &str) -> Result<TaskSid, Refusal> {
    let wt: TaskSid = wt
        .parse()
        .map_err(|_| Refusal(StatusCode::NOT_FOUND, format!("No task {wt}")))?;
    if grant.role == Role::Worker {
        let scope = ReservationScope::Task(wt.clone());
        let page = PageRequest {
            size: 1,
            ..PageRequest::default()
        };
        let mine = (st.engine)
            .list_reservations(
                &grant.account,
                &grant.workspace,
                &scope,
                None,
                Some(&grant.worker),
                page,
            )
            .await?;
        if mine.items.is_empty() {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                format!("Worker {} holds no reservation of task {wt}", grant.worker),
            ));
        }
    }
    Ok(wt)
}

/// The worker of the path, which a `worker` token may only be its own.
fn own_worker(grant: &Grant, wk: &str) -> Result<WorkerSid, Refusal> {
    let wk: WorkerSid = wk
        .parse()
        .map_err(|_| Refusal(StatusCode::NOT_FOUND, format!("No worker {wk}")))?;
    if grant.role == Role::Worker && wk != grant.worker {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            format!("The access token is for worker {}, not {wk}", grant.worker),
        ));
    }
    Ok(wk)
}

/// A parameter that names a SID, if given.
pub(super) fn param_sid<T: Sid>(
    params: &Map<String, Value>,
    name: &str,
) -> Result<Option<T>, Refusal> {
    (param_str(params, name))
        .map(|v| {
            v.parse()
                .map_err(|_| Refusal::bad(format!("{name} '{v}' is not a valid SID")))
        })
        .transpose()
}

/// A parameter as text (the SDK sends JSON-typed values).
pub(super) fn param_str(params: &Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A parameter that is JSON, sent as an object or as a string holding one.
fn param_json(params: &Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    }
}
