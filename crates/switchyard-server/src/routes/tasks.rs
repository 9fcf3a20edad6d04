use axum::extract::{Path, State};
use axum::response::Response;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use switchyard_core::routing::TaskStatus;
use switchyard_core::sid::{TaskQueueSid, WorkflowSid};
use switchyard_core::Timestamp;
use switchyard_engine::{CreateTask, TaskFilter, TaskOrder, TaskQuery, UpdateTask};

use super::{created, no_content, ok, path_sid, with_etag, IfMatch};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::TaskResource;
use crate::{AppState, Caller};

/// `GET /Tasks` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::choices")]
    assignment_status: Vec<TaskStatus>,
    #[serde(deserialize_with = "field::text")]
    workflow_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    workflow_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    task_queue_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    task_queue_name: Option<String>,
    #[serde(deserialize_with = "field::int")]
    priority: Option<i64>,
    #[serde(deserialize_with = "field::text")]
    routing_target: Option<String>,
    #[serde(deserialize_with = "field::text")]
    evaluate_task_attributes: Option<String>,
    #[serde(deserialize_with = "ordering")]
    ordering: Vec<(TaskOrder, bool)>,
}

/// `POST /Tasks`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    attributes: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    workflow_sid: Option<WorkflowSid>,
    #[serde(deserialize_with = "field::int")]
    priority: Option<i64>,
    #[serde(deserialize_with = "field::int")]
    timeout: Option<i64>,
    #[serde(deserialize_with = "field::nonempty_text")]
    task_channel: Option<String>,
    #[serde(deserialize_with = "field::date")]
    virtual_start_time: Option<Timestamp>,
    #[serde(deserialize_with = "field::text")]
    routing_target: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    ignore_capacity: Option<bool>,
    #[serde(deserialize_with = "field::sid")]
    task_queue_sid: Option<TaskQueueSid>,
}

/// `POST /Tasks/{WT}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    attributes: Option<String>,
    #[serde(deserialize_with = "field::int")]
    priority: Option<i64>,
    #[serde(deserialize_with = "field::nonempty_text")]
    task_channel: Option<String>,
    #[serde(deserialize_with = "new_status")]
    assignment_status: Option<TaskStatus>,
    #[serde(deserialize_with = "field::text")]
    reason: Option<String>,
    #[serde(deserialize_with = "field::date")]
    virtual_start_time: Option<Timestamp>,
}

/// The statuses an update may set.
fn new_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TaskStatus>, D::Error> {
    let v = field::text(d)?.unwrap_or_default();
    match TaskStatus::parse(&v) {
        Some(s @ (TaskStatus::Canceled | TaskStatus::Wrapping | TaskStatus::Completed)) => {
            Ok(Some(s))
        }
        _ => Err(de::Error::custom(format!(
            " can be set to canceled, wrapping or completed, got '{v}'"
        ))),
    }
}

/// A task list `Ordering`: `Attribute:order` pairs over `DateCreated`, `Priority` and
/// `VirtualStartTime`, `asc` or `desc`.
fn ordering<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(TaskOrder, bool)>, D::Error> {
    let value = field::text(d)?.unwrap_or_default();
    let bad = || {
        de::Error::custom(format!(
            " must be Attribute:order pairs over DateCreated, Priority and VirtualStartTime with asc or desc, got '{value}'"
        ))
    };
    let mut keys = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (attr, order) = pair.split_once(':').unwrap_or((pair, "asc"));
        let key = match attr {
            "DateCreated" => TaskOrder::DateCreated,
            "Priority" => TaskOrder::Priority,
            "VirtualStartTime" => TaskOrder::VirtualStartTime,
            _ => return Err(bad()),
        };
        let desc = match order.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            _ => return Err(bad()),
        };
        keys.push((key, desc));
    }
    let has = |k| keys.iter().any(|(key, _)| *key == k);
    if has(TaskOrder::DateCreated) && has(TaskOrder::VirtualStartTime) {
        return Err(de::Error::custom(
            " cannot use DateCreated and VirtualStartTime together",
        ));
    }
    Ok(keys)
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let query = TaskQuery {
        filter: TaskFilter {
            statuses: q.assignment_status,
            workflow_sid: q.workflow_sid,
            workflow_name: q.workflow_name,
            task_queue_sid: q.task_queue_sid,
            task_queue_name: q.task_queue_name,
            priority: q.priority,
            routing_target: q.routing_target,
        },
        evaluate_task_attributes: q.evaluate_task_attributes,
        ordering: q.ordering,
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
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateTask {
        attributes: f.attributes,
        workflow_sid: f.workflow_sid,
        priority: f.priority,
        timeout: f.timeout,
        task_channel: f.task_channel,
        virtual_start_time: f.virtual_start_time,
        routing_target: f.routing_target,
        ignore_capacity: f.ignore_capacity,
        task_queue_sid: f.task_queue_sid,
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
    if_match: IfMatch,
    Path((ws, sid)): Path<(String, String)>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    // Twilio: "required only if the Task is canceled or completed".
    if matches!(
        f.assignment_status,
        Some(TaskStatus::Canceled | TaskStatus::Completed)
    ) && f.reason.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(ApiError::Invalid(
            "Reason is required when AssignmentStatus is canceled or completed".into(),
        ));
    }
    let p = UpdateTask {
        attributes: f.attributes,
        priority: f.priority,
        task_channel: f.task_channel,
        assignment_status: f.assignment_status,
        reason: f.reason,
        virtual_start_time: f.virtual_start_time,
        expected_version: if_match.version(),
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
    if_match: IfMatch,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    st.engine
        .delete_task(&c.account, &ws, &sid, if_match.version())
        .await
        .at(&c.path)?;
    Ok(no_content())
}
