use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_core::Timestamp;
use switchyard_engine::EventFilter;

use super::{ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::Query;
use crate::paging::ListRequest;
use crate::resource::EventResource;
use crate::{AppState, Caller};

/// `GET /Events` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::date")]
    start_date: Option<Timestamp>,
    #[serde(deserialize_with = "field::date")]
    end_date: Option<Timestamp>,
    #[serde(deserialize_with = "field::text")]
    event_type: Option<String>,
    #[serde(deserialize_with = "field::text")]
    task_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    worker_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    workflow_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    task_queue_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    reservation_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    task_channel: Option<String>,
    #[serde(deserialize_with = "field::text")]
    sid: Option<String>,
    #[serde(deserialize_with = "field::int")]
    minutes: Option<i64>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let filter = EventFilter {
        start: q.start_date,
        end: q.end_date,
        event_type: q.event_type,
        task_sid: q.task_sid,
        worker_sid: q.worker_sid,
        workflow_sid: q.workflow_sid,
        task_queue_sid: q.task_queue_sid,
        reservation_sid: q.reservation_sid,
        task_channel: q.task_channel,
        sid: q.sid,
    };
    let page = st
        .engine
        .list_events(&c.account, &ws, filter, q.minutes, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/Events");
    Ok(ok(req.respond(&url, "events", page, |e| {
        EventResource::new(e, st.ctx(&c.account))
    })))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let e = st.engine.event(&c.account, &ws, &sid).await.at(&c.path)?;
    Ok(ok(EventResource::new(e, st.ctx(&c.account))))
}
