use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use switchyard_engine::{
    CreateWorker, UpdateWorker, UpdateWorkerChannel, WorkerFilter, WorkerQuery,
};

use super::{created, if_match, no_content, ok, path_sid, with_etag};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Query};
use crate::resource::{WorkerChannelResource, WorkerResource};
use crate::{AppState, Caller};

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let query = WorkerQuery {
        filter: WorkerFilter {
            activity_name: q.string("ActivityName"),
            activity_sid: q.sid("ActivitySid")?,
            available: q.bool("Available"),
            friendly_name: q.string("FriendlyName"),
        },
        target_workers_expression: q.string("TargetWorkersExpression"),
        task_queue_sid: q.sid("TaskQueueSid")?,
        task_queue_name: q.string("TaskQueueName"),
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
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateWorker {
        friendly_name: f.string("FriendlyName").unwrap_or_default(),
        activity_sid: f.sid("ActivitySid")?,
        attributes: f.string("Attributes"),
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
    headers: HeaderMap,
    Path((ws, sid)): Path<(String, String)>,
    Form(f): Form,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateWorker {
        activity_sid: f.sid("ActivitySid")?,
        attributes: f.string("Attributes"),
        friendly_name: f.string("FriendlyName"),
        reject_pending_reservations: f.bool("RejectPendingReservations"),
        if_match: if_match(&headers),
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
    headers: HeaderMap,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    st.engine
        .delete_worker(&c.account, &ws, &sid, if_match(&headers).as_deref())
        .await
        .at(&c.path)?;
    Ok(no_content())
}

pub(crate) async fn list_channels(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let req = ListRequest::from_query(&q)?;
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
    Form(f): Form,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateWorkerChannel {
        capacity: f.int("Capacity")?,
        available: f.bool("Available"),
    };
    let ch = st
        .engine
        .update_worker_channel(&c.account, &ws, &sid, &channel, p)
        .await
        .at(&c.path)?;
    Ok(ok(WorkerChannelResource::new(ch, st.ctx(&c.account))))
}
