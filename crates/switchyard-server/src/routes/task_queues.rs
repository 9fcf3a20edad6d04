use axum::extract::{Path, State};
use axum::response::Response;
use switchyard_core::model::QueueOrder;
use switchyard_engine::{CreateTaskQueue, TaskQueueFilter, TaskQueueQuery, UpdateTaskQueue};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Query};
use crate::resource::TaskQueueResource;
use crate::{AppState, Caller};

const TASK_ORDER: &str = "FIFO or LIFO";

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let query = TaskQueueQuery {
        filter: TaskQueueFilter {
            friendly_name: q.string("FriendlyName"),
        },
        evaluate_worker_attributes: q.string("EvaluateWorkerAttributes"),
        worker_sid: q.sid("WorkerSid")?,
    };
    let page = st
        .engine
        .list_task_queues(&c.account, &ws, &query, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/TaskQueues");
    Ok(ok(req.respond(&url, "task_queues", page, |t| {
        TaskQueueResource::new(t, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateTaskQueue {
        friendly_name: f.string("FriendlyName").unwrap_or_default(),
        target_workers: f.string("TargetWorkers"),
        max_reserved_workers: f.int("MaxReservedWorkers")?,
        task_order: f.parsed::<QueueOrder>("TaskOrder", TASK_ORDER)?,
        reservation_activity_sid: f.sid("ReservationActivitySid")?,
        assignment_activity_sid: f.sid("AssignmentActivitySid")?,
    };
    let t = st
        .engine
        .create_task_queue(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    Ok(created(TaskQueueResource::new(t, st.ctx(&c.account))))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let t = st
        .engine
        .task_queue(&c.account, &ws, &sid)
        .await
        .at(&c.path)?;
    Ok(ok(TaskQueueResource::new(t, st.ctx(&c.account))))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
    Form(f): Form,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateTaskQueue {
        friendly_name: f.string("FriendlyName"),
        target_workers: f.string("TargetWorkers"),
        max_reserved_workers: f.int("MaxReservedWorkers")?,
        task_order: f.parsed::<QueueOrder>("TaskOrder", TASK_ORDER)?,
        reservation_activity_sid: f.sid("ReservationActivitySid")?,
        assignment_activity_sid: f.sid("AssignmentActivitySid")?,
    };
    let t = st
        .engine
        .update_task_queue(&c.account, &ws, &sid, p)
        .await
        .at(&c.path)?;
    Ok(ok(TaskQueueResource::new(t, st.ctx(&c.account))))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    st.engine
        .delete_task_queue(&c.account, &ws, &sid)
        .await
        .at(&c.path)?;
    Ok(no_content())
}
