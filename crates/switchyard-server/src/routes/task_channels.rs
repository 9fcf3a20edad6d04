use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_engine::{CreateTaskChannel, UpdateTaskChannel};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::Form;
use crate::paging::ListRequest;
use crate::resource::TaskChannelResource;
use crate::{AppState, Caller};

/// `POST /TaskChannels`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    unique_name: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    channel_optimized_routing: Option<bool>,
}

/// `POST /TaskChannels/{TC}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    channel_optimized_routing: Option<bool>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
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
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateTaskChannel {
        friendly_name: f.friendly_name.unwrap_or_default(),
        unique_name: f.unique_name.unwrap_or_default(),
        channel_optimized_routing: f.channel_optimized_routing,
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
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = UpdateTaskChannel {
        friendly_name: f.friendly_name,
        channel_optimized_routing: f.channel_optimized_routing,
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
