use axum::extract::{Path, State};
use axum::response::Response;
use switchyard_engine::{CreateWorkflow, UpdateWorkflow, WorkflowFilter};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Query};
use crate::resource::WorkflowResource;
use crate::{AppState, Caller};

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let filter = WorkflowFilter {
        friendly_name: q.string("FriendlyName"),
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
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateWorkflow {
        friendly_name: f.string("FriendlyName").unwrap_or_default(),
        configuration: f.string("Configuration").unwrap_or_default(),
        assignment_callback_url: f.string("AssignmentCallbackUrl"),
        fallback_assignment_callback_url: f.string("FallbackAssignmentCallbackUrl"),
        task_reservation_timeout: f.int("TaskReservationTimeout")?,
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
    Form(f): Form,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateWorkflow {
        friendly_name: f.string("FriendlyName"),
        configuration: f.string("Configuration"),
        assignment_callback_url: f.string("AssignmentCallbackUrl"),
        fallback_assignment_callback_url: f.string("FallbackAssignmentCallbackUrl"),
        task_reservation_timeout: f.int("TaskReservationTimeout")?,
        re_evaluate_tasks: f.bool("ReEvaluateTasks"),
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
