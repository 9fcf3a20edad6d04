//! The callback log over HTTP: `GET /_switchyard/Workspaces/{ws}/Callbacks` lists every
//! assignment and event callback attempt of a workspace, newest first, paged; `POST
//! …/Callbacks/{id}/Replay` sends one again, freshly signed, and logs the new attempt. A replay's
//! answer is logged, not acted on: the reservation or event it was for has moved on.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Map, Value};
use switchyard_core::sid::WorkspaceSid;

use super::{created, ok, path_sid};
use crate::callback_log::{Entry, Kind};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::resource::date;
use crate::webhook::{self, Attempt};
use crate::{callback, event_callback, AppState, Caller};

/// `GET /_switchyard/Workspaces/{ws}/Callbacks`.
pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    req: ListRequest,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let ws: WorkspaceSid = path_sid(&c.path, &ws)?;
    st.engine.workspace(&c.account, &ws).await.at(&c.path)?;
    let page = (st.sender.log).page(&ws, req.page.cursor, req.page.size);
    let url = format!(
        "{}/_switchyard/Workspaces/{ws}/Callbacks",
        st.config.public_url
    );
    Ok(ok(
        req.respond(&url, "callbacks", page, |e| resource(&st, &e))
    ))
}

/// `POST /_switchyard/Workspaces/{ws}/Callbacks/{id}/Replay`.
pub(crate) async fn replay(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ws: WorkspaceSid = path_sid(&c.path, &ws)?;
    st.engine.workspace(&c.account, &ws).await.at(&c.path)?;
    let original = (st.sender.log)
        .get(&ws, &id)
        .ok_or_else(|| ApiError::NotFound(c.path.clone()))?;
    let token = st.accounts.get(&c.account).cloned().unwrap_or_default();
    let attempt = Attempt {
        kind: original.kind,
        workspace: &ws,
        url: &original.url,
        token: &token,
        params: &original.params,
        number: 1,
        replay_of: Some(original.id()),
    };
    let (timeout, judge): (_, fn(&webhook::Answer) -> Option<String>) = match original.kind {
        Kind::Assignment | Kind::AssignmentFallback => {
            (st.config.callback_timeout, callback::failure)
        }
        Kind::Event => (st.config.event_callback_timeout, event_callback::failure),
    };
    let sent = webhook::send(&st.engine, &st.sender, &attempt, timeout, Some(timeout)).await;
    let entry = st.sender.logged(&attempt, &sent, judge(&sent).as_deref());
    Ok(created(resource(&st, &entry)))
}

fn resource(st: &AppState, e: &Arc<Entry>) -> Value {
    let params: Map<String, Value> = (e.params.iter())
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let param = |name: &str| {
        (e.params.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let id = e.id();
    json!({
        "sid": id,
        "workspace_sid": e.workspace_sid.to_string(),
        "kind": e.kind.as_str(),
        "url": e.url,
        "date_created": date(e.date),
        "date_created_ms": e.date.as_millis(),
        "attempt": e.attempt,
        "replay_of": e.replay_of,
        "outcome": if e.error.is_none() { "answered" } else { "failed" },
        "error": e.error,
        "response_status": e.status,
        "response_body": e.body,
        "response_body_truncated": e.body_truncated,
        "latency_ms": (e.latency_ms * 1000.0).round() / 1000.0,
        "signature": e.signature,
        "event_type": param("EventType"),
        "task_sid": param("TaskSid"),
        "reservation_sid": param("ReservationSid"),
        "params": params,
        "links": {
            "replay": format!(
                "{}/_switchyard/Workspaces/{}/Callbacks/{id}/Replay",
                st.config.public_url, e.workspace_sid
            ),
        },
    })
}
