//! Reservations, reachable from their task and from their worker.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use switchyard_core::routing::ReservationStatus;
use switchyard_core::sid::{ReservationSid, WorkspaceSid};
use switchyard_engine::{ReservationAction, ReservationScope, UpdateReservation};

use super::{if_match, ok, path_sid, with_etag};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Form, Params, Query};
use crate::resource::ReservationResource;
use crate::{AppState, Caller};

const STATUSES: &str =
    "pending, accepted, rejected, timeout, canceled, rescinded, wrapping or completed";

fn scope(
    c: &Caller,
    ws: &str,
    owner: &str,
    by_worker: bool,
) -> ApiResult<(WorkspaceSid, ReservationScope)> {
    let ws = path_sid(&c.path, ws)?;
    let scope = if by_worker {
        ReservationScope::Worker(path_sid(&c.path, owner)?)
    } else {
        ReservationScope::Task(path_sid(&c.path, owner)?)
    };
    Ok((ws, scope))
}

async fn list(
    st: AppState,
    c: Caller,
    ws: String,
    owner: String,
    q: Params,
    by_worker: bool,
) -> ApiResult<Response> {
    let (ws, scope) = scope(&c, &ws, &owner, by_worker)?;
    let req = ListRequest::from_query(&q)?;
    let status = q.parsed_with("ReservationStatus", STATUSES, ReservationStatus::parse)?;
    let worker = q.sid("WorkerSid")?;
    let page = st
        .engine
        .list_reservations(&c.account, &ws, &scope, status, worker.as_ref(), req.page)
        .await
        .at(&c.path)?;
    let base = if by_worker {
        format!("/Workers/{owner}/Reservations")
    } else {
        format!("/Tasks/{owner}/Reservations")
    };
    let url = st.ctx(&c.account).ws(&ws, &base);
    Ok(ok(req.respond(&url, "reservations", page, |r| {
        ReservationResource::new(r, by_worker, st.ctx(&c.account))
    })))
}

async fn fetch(
    st: AppState,
    c: Caller,
    ws: String,
    owner: String,
    sid: String,
    by_worker: bool,
) -> ApiResult<Response> {
    let (ws, scope) = scope(&c, &ws, &owner, by_worker)?;
    let sid: ReservationSid = path_sid(&c.path, &sid)?;
    let r = st
        .engine
        .reservation(&c.account, &ws, &scope, &sid)
        .await
        .at(&c.path)?;
    let version = r.version;
    Ok(with_etag(
        ok(ReservationResource::new(r, by_worker, st.ctx(&c.account))),
        version,
    ))
}

/// Reads what a reservation update asks for: an `Instruction`, or a `ReservationStatus`.
fn action(f: &Params) -> ApiResult<ReservationAction> {
    if let Some(instruction) = f.str("Instruction").filter(|s| !s.is_empty()) {
        let instruction = super::instruction::validate(instruction, f)?;
        return Ok(ReservationAction::Accept {
            instruction: Some(instruction.to_owned()),
        });
    }
    match f.str("ReservationStatus") {
        Some("accepted") => Ok(ReservationAction::Accept { instruction: None }),
        Some("rejected") => Ok(ReservationAction::Reject { activity: f.sid("WorkerActivitySid")? }),
        Some("wrapping") => Ok(ReservationAction::Wrap),
        Some("completed") => Ok(ReservationAction::Complete),
        Some(other) => Err(ApiError::Invalid(format!(
            "ReservationStatus can be set to accepted, rejected, wrapping or completed, got '{other}'"
        ))),
        None => Err(ApiError::Invalid("Missing required parameter ReservationStatus or Instruction".into())),
    }
}

async fn update(
    st: AppState,
    c: Caller,
    headers: HeaderMap,
    (ws, owner, sid): (String, String, String),
    f: Params,
    by_worker: bool,
) -> ApiResult<Response> {
    let (ws, scope) = scope(&c, &ws, &owner, by_worker)?;
    let sid: ReservationSid = path_sid(&c.path, &sid)?;
    let p = UpdateReservation {
        action: action(&f)?,
        if_match: if_match(&headers),
    };
    let r = st
        .engine
        .update_reservation(&c.account, &ws, &scope, &sid, p)
        .await
        .at(&c.path)?;
    let version = r.version;
    Ok(with_etag(
        ok(ReservationResource::new(r, by_worker, st.ctx(&c.account))),
        version,
    ))
}

pub(crate) async fn list_for_task(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, task)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    list(st, c, ws, task, q, false).await
}

pub(crate) async fn list_for_worker(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, worker)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    list(st, c, ws, worker, q, true).await
}

pub(crate) async fn fetch_for_task(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, task, sid)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    fetch(st, c, ws, task, sid, false).await
}

pub(crate) async fn fetch_for_worker(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, worker, sid)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    fetch(st, c, ws, worker, sid, true).await
}

pub(crate) async fn update_for_task(
    State(st): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    Path(path): Path<(String, String, String)>,
    Form(f): Form,
) -> ApiResult<Response> {
    update(st, c, headers, path, f, false).await
}

pub(crate) async fn update_for_worker(
    State(st): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    Path(path): Path<(String, String, String)>,
    Form(f): Form,
) -> ApiResult<Response> {
    update(st, c, headers, path, f, true).await
}
