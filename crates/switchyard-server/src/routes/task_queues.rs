use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_core::model::QueueOrder;
use switchyard_core::sid::{ActivitySid, WorkerSid};
use switchyard_engine::{CreateTaskQueue, TaskQueueFilter, TaskQueueQuery, UpdateTaskQueue};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::TaskQueueResource;
use crate::{AppState, Caller};

/// `GET /TaskQueues` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    evaluate_worker_attributes: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    worker_sid: Option<WorkerSid>,
}

/// `POST /TaskQueues`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    target_workers: Option<String>,
    #[serde(deserialize_with = "field::int")]
    max_reserved_workers: Option<i64>,
    #[serde(deserialize_with = "field::choice")]
    task_order: Option<QueueOrder>,
    #[serde(deserialize_with = "field::sid")]
    reservation_activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::sid")]
    assignment_activity_sid: Option<ActivitySid>,
}

/// `POST /TaskQueues/{WQ}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    target_workers: Option<String>,
    #[serde(deserialize_with = "field::int")]
    max_reserved_workers: Option<i64>,
    #[serde(deserialize_with = "field::choice")]
    task_order: Option<QueueOrder>,
    #[serde(deserialize_with = "field::sid")]
    reservation_activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::sid")]
    assignment_activity_sid: Option<ActivitySid>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let query = TaskQueueQuery {
        filter: TaskQueueFilter {
            friendly_name: q.friendly_name,
        },
        evaluate_worker_attributes: q.evaluate_worker_attributes,
        worker_sid: q.worker_sid,
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
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateTaskQueue {
        friendly_name: f.friendly_name.unwrap_or_default(),
        target_workers: f.target_workers,
        max_reserved_workers: f.max_reserved_workers,
        task_order: f.task_order,
        reservation_activity_sid: f.reservation_activity_sid,
        assignment_activity_sid: f.assignment_activity_sid,
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
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateTaskQueue {
        friendly_name: f.friendly_name,
        target_workers: f.target_workers,
        max_reserved_workers: f.max_reserved_workers,
        task_order: f.task_order,
        reservation_activity_sid: f.reservation_activity_sid,
        assignment_activity_sid: f.assignment_activity_sid,
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
