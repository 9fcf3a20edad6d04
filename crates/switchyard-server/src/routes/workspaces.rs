use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_core::model::QueueOrder;
use switchyard_core::sid::ActivitySid;
use switchyard_engine::{CreateWorkspace, UpdateWorkspace, WorkspaceFilter};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::WorkspaceResource;
use crate::{AppState, Caller};

/// `GET /Workspaces` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
}

/// `POST /Workspaces`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    event_callback_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    events_filter: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    multi_task_enabled: Option<bool>,
    #[serde(deserialize_with = "field::text")]
    template: Option<String>,
    #[serde(deserialize_with = "field::choice")]
    prioritize_queue_order: Option<QueueOrder>,
}

/// `POST /Workspaces/{WS}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    default_activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::sid")]
    timeout_activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::text")]
    event_callback_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    events_filter: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    multi_task_enabled: Option<bool>,
    #[serde(deserialize_with = "field::choice")]
    prioritize_queue_order: Option<QueueOrder>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let filter = WorkspaceFilter {
        friendly_name: q.friendly_name,
    };
    let page = st
        .engine
        .list_workspaces(&c.account, &filter, req.page)
        .await
        .at(&c.path)?;
    let url = format!("{}/v1/Workspaces", st.config.public_url);
    Ok(ok(req.respond(&url, "workspaces", page, |w| {
        WorkspaceResource::new(w, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let p = CreateWorkspace {
        friendly_name: f.friendly_name.unwrap_or_default(),
        event_callback_url: f.event_callback_url,
        events_filter: f.events_filter,
        multi_task_enabled: f.multi_task_enabled,
        template: f.template,
        prioritize_queue_order: f.prioritize_queue_order,
    };
    let w = st
        .engine
        .create_workspace(&c.account, p)
        .await
        .at(&c.path)?;
    Ok(created(WorkspaceResource::new(w, st.ctx(&c.account))))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let w = st.engine.workspace(&c.account, &ws).await.at(&c.path)?;
    Ok(ok(WorkspaceResource::new(w, st.ctx(&c.account))))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = UpdateWorkspace {
        friendly_name: f.friendly_name,
        default_activity_sid: f.default_activity_sid,
        timeout_activity_sid: f.timeout_activity_sid,
        event_callback_url: f.event_callback_url,
        events_filter: f.events_filter,
        multi_task_enabled: f.multi_task_enabled,
        prioritize_queue_order: f.prioritize_queue_order,
    };
    let w = st
        .engine
        .update_workspace(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    Ok(ok(WorkspaceResource::new(w, st.ctx(&c.account))))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    st.engine
        .delete_workspace(&c.account, &ws)
        .await
        .at(&c.path)?;
    st.sender.log.forget(&ws);
    Ok(no_content())
}
