use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_engine::{CreateWorkflow, UpdateWorkflow, WorkflowFilter};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::WorkflowResource;
use crate::{AppState, Caller};

/// `GET /Workflows` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
}

/// `POST /Workflows`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    configuration: Option<String>,
    #[serde(deserialize_with = "field::text")]
    assignment_callback_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    fallback_assignment_callback_url: Option<String>,
    #[serde(deserialize_with = "field::int")]
    task_reservation_timeout: Option<i64>,
}

/// `POST /Workflows/{WW}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    configuration: Option<String>,
    #[serde(deserialize_with = "field::text")]
    assignment_callback_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    fallback_assignment_callback_url: Option<String>,
    #[serde(deserialize_with = "field::int")]
    task_reservation_timeout: Option<i64>,
    #[serde(deserialize_with = "field::flag")]
    re_evaluate_tasks: Option<bool>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let filter = WorkflowFilter {
        friendly_name: q.friendly_name,
    };
    let page = st
        .engine
        .list_workflows(&c.account, &ws, &filter, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/Workflows");
    Ok(ok(req.respond(&url, "workflows", page, |w| {
        WorkflowResource::new(w, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateWorkflow {
        friendly_name: f.friendly_name.unwrap_or_default(),
        configuration: f.configuration.unwrap_or_default(),
        assignment_callback_url: f.assignment_callback_url,
        fallback_assignment_callback_url: f.fallback_assignment_callback_url,
        task_reservation_timeout: f.task_reservation_timeout,
    };
    let w = st
        .engine
        .create_workflow(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    Ok(created(WorkflowResource::new(w, st.ctx(&c.account))))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let w = st
        .engine
        .workflow(&c.account, &ws, &sid)
        .await
        .at(&c.path)?;
    Ok(ok(WorkflowResource::new(w, st.ctx(&c.account))))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateWorkflow {
        friendly_name: f.friendly_name,
        configuration: f.configuration,
        assignment_callback_url: f.assignment_callback_url,
        fallback_assignment_callback_url: f.fallback_assignment_callback_url,
        task_reservation_timeout: f.task_reservation_timeout,
        re_evaluate_tasks: f.re_evaluate_tasks,
    };
    let w = st
        .engine
        .update_workflow(&c.account, &ws, &sid, p)
        .await
        .at(&c.path)?;
    Ok(ok(WorkflowResource::new(w, st.ctx(&c.account))))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    st.engine
        .delete_workflow(&c.account, &ws, &sid)
        .await
        .at(&c.path)?;
    Ok(no_content())
}
