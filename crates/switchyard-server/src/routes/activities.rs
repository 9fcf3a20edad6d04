use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_engine::{ActivityFilter, CreateActivity, UpdateActivity};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::ActivityResource;
use crate::{AppState, Caller};

/// `GET /Activities` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    available: Option<bool>,
}

/// `POST /Activities`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CreateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
    #[serde(deserialize_with = "field::flag")]
    available: Option<bool>,
}

/// `POST /Activities/{WA}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
}

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let filter = ActivityFilter {
        friendly_name: q.friendly_name,
        available: q.available,
    };
    let page = st
        .engine
        .list_activities(&c.account, &ws, &filter, req.page)
        .await
        .at(&c.path)?;
    let url = st.ctx(&c.account).ws(&ws, "/Activities");
    Ok(ok(req.respond(&url, "activities", page, |a| {
        ActivityResource::new(a, st.ctx(&c.account))
    })))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Form(f): Form<CreateForm>,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateActivity {
        friendly_name: f.friendly_name.unwrap_or_default(),
        available: f.available,
    };
    let a = st
        .engine
        .create_activity(&c.account, &ws, p)
        .await
        .at(&c.path)?;
    Ok(created(ActivityResource::new(a, st.ctx(&c.account))))
}

pub(crate) async fn fetch(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let a = st
        .engine
        .activity(&c.account, &ws, &sid)
        .await
        .at(&c.path)?;
    Ok(ok(ActivityResource::new(a, st.ctx(&c.account))))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateActivity {
        friendly_name: f.friendly_name,
    };
    let a = st
        .engine
        .update_activity(&c.account, &ws, &sid, p)
        .await
        .at(&c.path)?;
    Ok(ok(ActivityResource::new(a, st.ctx(&c.account))))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    st.engine
        .delete_activity(&c.account, &ws, &sid)
        .await
        .at(&c.path)?;
    Ok(no_content())
}
