use axum::extract::{Path, State};
use axum::response::Response;
use switchyard_engine::{ActivityFilter, CreateActivity, UpdateActivity};

use super::{created, no_content, ok, path_sid};
use crate::error::{ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Query};
use crate::resource::ActivityResource;
use crate::{AppState, Caller};

pub(crate) async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let filter = ActivityFilter {
        friendly_name: q.string("FriendlyName"),
        available: q.bool("Available"),
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
    Form(f): Form,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let p = CreateActivity {
        friendly_name: f.string("FriendlyName").unwrap_or_default(),
        available: f.bool("Available"),
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
    Form(f): Form,
) -> ApiResult<Response> {
    let (ws, sid) = (path_sid(&c.path, &ws)?, path_sid(&c.path, &sid)?);
    let p = UpdateActivity {
        friendly_name: f.string("FriendlyName"),
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
