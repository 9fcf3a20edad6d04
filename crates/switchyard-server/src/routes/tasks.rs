use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use switchyard_core::routing::TaskStatus;
use switchyard_engine::{CreateTask, TaskFilter, TaskQuery, UpdateTask};

use super::{created, if_match, no_content, ok, path_sid, with_etag};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Params, Query};
use crate::resource::TaskResource;
use crate::{AppState, Caller};

const STATUSES: &str = "pending, reserved, assigned, canceled, wrapping or completed";

fn statuses(q: &Params) -> ApiResult<Vec<TaskStatus>> {
    q.list("AssignmentStatus")
        .iter()
        .map(|s| {
            TaskStatus::parse(s).ok_or_else(|| {
                ApiError::Invalid(format!("AssignmentStatus must be {STATUSES}, got '{s}'"))
            })
        })
        .collect()
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let query = TaskQuery {
        filter: TaskFilter {
            statuses: statuses(&q)?,
            workflow_sid: q.string("WorkflowSid"),
            workflow_name: q.string("WorkflowName"),
            task_queue_sid: q.string("TaskQueueSid"),
            task_queue_name: q.string("TaskQueueName"),
            priority: q.int("Priority")?,
            routing_target: q.string("RoutingTarget"),
        },
        evaluate_task_attributes: q.string("EvaluateTaskAttributes"),
        ordering: crate::params::ordering(q.str("Ordering").unwrap_or(""))?,
    };
    let page = st
        .engine
        .list_tasks(&c.account, &ws, &query, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/Tasks");
    let now = st.engine.now();
    Ok(ok(req.respond(&url, "tasks", page, |t| {
        TaskResource::new(t, now, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateTask {
        attributes: f.string("Attributes"),
        workflow_sid: f.sid("WorkflowSid")?,
        priority: f.int("Priority")?,
        timeout: f.int("Timeout")?,
        task_channel: f.string("TaskChannel").filter(|s| !s.is_empty()),
        virtual_start_time: f.date("VirtualStartTime")?,
        routing_target: f.string("RoutingTarget"),
        ignore_capacity: f.bool("IgnoreCapacity"),
        task_queue_sid: f.sid("TaskQueueSid")?,
    };
    let t = st
        .engine
        .create_task(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    let version = t.version;
    Ok(with_etag(
        created(TaskResource::new(t, st.engine.now(), st.ctx(&c.account))),
        version,
    ))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let t = st.engine.task(&c.account, &ws, &sid).await.at(&c.path)?;
    let version = t.version;
    Ok(with_etag(
        ok(TaskResource::new(t, st.engine.now(), st.ctx(&c.account))),
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
    let assignment_status = match f.str("AssignmentStatus") {
        None => None,
        Some(s) => Some(match TaskStatus::parse(s) {
            Some(st @ (TaskStatus::Canceled | TaskStatus::Wrapping | TaskStatus::Completed)) => st,
            _ => {
                return Err(ApiError::Invalid(format!(
                    "AssignmentStatus can be set to canceled, wrapping or completed, got '{s}'"
                )))
            }
        }),
    };
    // Twilio: "required only if the Task is canceled or completed".
    if matches!(
        assignment_status,
        Some(TaskStatus::Canceled | TaskStatus::Completed)
    ) && f.str("Reason").is_none_or(|r| r.trim().is_empty())
    {
        return Err(ApiError::Invalid(
            "Reason is required when AssignmentStatus is canceled or completed".into(),
        ));
    }
    let p = UpdateTask {
        attributes: f.string("Attributes"),
        priority: f.int("Priority")?,
        task_channel: f.string("TaskChannel").filter(|s| !s.is_empty()),
        assignment_status,
        reason: f.string("Reason"),
        virtual_start_time: f.date("VirtualStartTime")?,
        if_match: if_match(&headers),
    };
    let t = st
        .engine
        .update_task(&c.account, &ws, &sid, p)
        .await
        .at(&c.path)?;
    let version = t.version;
    Ok(with_etag(
        ok(TaskResource::new(t, st.engine.now(), st.ctx(&c.account))),
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
        .delete_task(&c.account, &ws, &sid, if_match(&headers).as_deref())
        .await
        .at(&c.path)?;
    Ok(no_content())
}
