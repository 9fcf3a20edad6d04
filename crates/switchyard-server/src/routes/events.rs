use axum::extract::{Path, State};
use axum::response::Response;
use switchyard_engine::EventFilter;

use super::{ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::Query;
use crate::resource::EventResource;
use crate::{AppState, Caller};

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let filter = EventFilter {
        start: q.date("StartDate")?,
        end: q.date("EndDate")?,
        event_type: q.string("EventType"),
        task_sid: q.string("TaskSid"),
        worker_sid: q.string("WorkerSid"),
        workflow_sid: q.string("WorkflowSid"),
        task_queue_sid: q.string("TaskQueueSid"),
        reservation_sid: q.string("ReservationSid"),
        task_channel: q.string("TaskChannel"),
        sid: q.string("Sid"),
    };
    let page = st
        .engine
        .list_events(&c.account, &ws, filter, q.int("Minutes")?, req.page)
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
