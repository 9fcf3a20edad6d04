use axum::extract::{Path, State};
use axum::response::Response;
use switchyard_engine::{CreateTaskChannel, UpdateTaskChannel};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Query};
use crate::resource::TaskChannelResource;
use crate::{AppState, Caller};

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let page = st
        .engine
        .list_task_channels(&c.account, &ws, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/TaskChannels");
    Ok(ok(req.respond(&url, "channels", page, |t| {
        TaskChannelResource::new(t, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateTaskChannel {
        friendly_name: f.string("FriendlyName").unwrap_or_default(),
        unique_name: f.string("UniqueName").unwrap_or_default(),
        channel_optimized_routing: f.bool("ChannelOptimizedRouting"),
    };
    let t = st
        .engine
        .create_task_channel(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    Ok(created(TaskChannelResource::new(t, st.ctx(&c.account))))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let t = st
        .engine
        .task_channel(&c.account, &ws, &key)
        .await
        .at(&c.path)?;
    Ok(ok(TaskChannelResource::new(t, st.ctx(&c.account))))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, key)): Path<(String, String)>,
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = UpdateTaskChannel {
        friendly_name: f.string("FriendlyName"),
        channel_optimized_routing: f.bool("ChannelOptimizedRouting"),
    };
    let t = st
        .engine
        .update_task_channel(&c.account, &ws, &key, p)
        .await
        .at(&c.path)?;
    Ok(ok(TaskChannelResource::new(t, st.ctx(&c.account))))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    st.engine
        .delete_task_channel(&c.account, &ws, &key)
        .await
        .at(&c.path)?;
    Ok(no_content())
}
