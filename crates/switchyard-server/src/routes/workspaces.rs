use axum::extract::{Path, State};
use axum::response::Response;
use switchyard_core::model::QueueOrder;
use switchyard_engine::{CreateWorkspace, UpdateWorkspace, WorkspaceFilter};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Query};
use crate::resource::WorkspaceResource;
use crate::{AppState, Caller};

const QUEUE_ORDER: &str = "FIFO or LIFO";

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Query(q): Query,
) -> ApiResult<Response> {
    let req = ListRequest::from_query(&q)?;
    let filter = WorkspaceFilter {
        friendly_name: q.string("FriendlyName"),
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
    Form(f): Form,
) -> ApiResult<Response> {
    let p = CreateWorkspace {
        friendly_name: f.string("FriendlyName").unwrap_or_default(),
        event_callback_url: f.string("EventCallbackUrl"),
        events_filter: f.string("EventsFilter"),
        multi_task_enabled: f.bool("MultiTaskEnabled"),
        template: f.string("Template"),
        prioritize_queue_order: f.parsed::<QueueOrder>("PrioritizeQueueOrder", QUEUE_ORDER)?,
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
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = UpdateWorkspace {
        friendly_name: f.string("FriendlyName"),
        default_activity_sid: f.sid("DefaultActivitySid")?,
        timeout_activity_sid: f.sid("TimeoutActivitySid")?,
        event_callback_url: f.string("EventCallbackUrl"),
        events_filter: f.string("EventsFilter"),
        multi_task_enabled: f.bool("MultiTaskEnabled"),
        prioritize_queue_order: f.parsed::<QueueOrder>("PrioritizeQueueOrder", QUEUE_ORDER)?,
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
    Ok(no_content())
}
