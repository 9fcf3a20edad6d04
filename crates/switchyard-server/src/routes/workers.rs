use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_core::sid::{ActivitySid, TaskQueueSid};
use switchyard_engine::{
    CreateWorker, UpdateWorker, UpdateWorkerChannel, WorkerFilter, WorkerQuery,
};

use super::{created, no_content, ok, path_sid, with_etag, IfMatch};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::{WorkerChannelResource, WorkerResource};
use crate::{AppState, Caller};

/// `GET /Workers` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::text")]
    activity_name: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::flag")]
    available: Option<bool>,
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    target_workers_expression: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    task_queue_sid: Option<TaskQueueSid>,
    #[serde(deserialize_with = "field::text")]
    task_queue_name: Option<String>,
}

/// `POST /Workers`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::text")]
    attributes: Option<String>,
}

/// `POST /Workers/{WK}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::sid")]
    activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::text")]
    attributes: Option<String>,
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    reject_pending_reservations: Option<bool>,
}

/// `POST /Workers/{WK}/Channels/{channel}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateChannelForm {
    #[serde(deserialize_with = "field::int")]
    capacity: Option<i64>,
    #[serde(deserialize_with = "field::flag")]
    available: Option<bool>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let query = WorkerQuery {
        filter: WorkerFilter {
            activity_name: q.activity_name,
            activity_sid: q.activity_sid,
            available: q.available,
            friendly_name: q.friendly_name,
        },
        target_workers_expression: q.target_workers_expression,
        task_queue_sid: q.task_queue_sid,
        task_queue_name: q.task_queue_name,
    };
    let page = st
        .engine
        .list_workers(&c.account, &ws, &query, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/Workers");
    Ok(ok(req.respond(&url, "workers", page, |w| {
        WorkerResource::new(w, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateWorker {
        friendly_name: f.friendly_name.unwrap_or_default(),
        activity_sid: f.activity_sid,
        attributes: f.attributes,
    };
    let w = st
        .engine
        .create_worker(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    let version = w.version;
    Ok(with_etag(
        created(WorkerResource::new(w, st.ctx(&c.account))),
        version,
    ))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let w = st.engine.worker(&c.account, &ws, &sid).await.at(&c.path)?;
    let version = w.version;
    Ok(with_etag(
        ok(WorkerResource::new(w, st.ctx(&c.account))),
        version,
    ))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    Path((ws, sid)): Path<(String, String)>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateWorker {
        activity_sid: f.activity_sid,
        attributes: f.attributes,
        friendly_name: f.friendly_name,
        reject_pending_reservations: f.reject_pending_reservations,
        expected_version: if_match.version(),
    };
    let w = st
        .engine
        .update_worker(&c.account, &ws, &sid, p)
        .await
        .at(&c.path)?;
    let version = w.version;
    Ok(with_etag(
        ok(WorkerResource::new(w, st.ctx(&c.account))),
        version,
    ))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    st.engine
        .delete_worker(&c.account, &ws, &sid, if_match.version())
        .await
        .at(&c.path)?;
    Ok(no_content())
}

pub(crate) async fn list_channels(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
    req: ListRequest,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let page = st
        .engine
        .list_worker_channels(&c.account, &ws, &sid, req.page)
        .await
        .at(&c.path)?;
    let url = st
        .ctx(&c.account)
        .ws(&ws, &format!("/Workers/{sid}/Channels"));
    Ok(ok(req.respond(&url, "channels", page, |ch| {
        WorkerChannelResource::new(ch, st.ctx(&c.account))
    })))
}

pub(crate) async fn fetch_channel(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid, channel)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let ch = st
        .engine
        .worker_channel(&c.account, &ws, &sid, &channel)
        .await
        .at(&c.path)?;
    Ok(ok(WorkerChannelResource::new(ch, st.ctx(&c.account))))
}

pub(crate) async fn update_channel(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid, channel)): Path<(String, String, String)>,
    Form(f): Form<UpdateChannelForm>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateWorkerChannel {
        capacity: f.capacity,
        available: f.available,
    };
    let ch = st
        .engine
        .update_worker_channel(&c.account, &ws, &sid, &channel, p)
        .await
        .at(&c.path)?;
    Ok(ok(WorkerChannelResource::new(ch, st.ctx(&c.account))))
}
