//! Reservations, reachable from their task and from their worker.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchyard_core::routing::ReservationStatus;
use switchyard_core::sid::{ActivitySid, ReservationSid, WorkerSid, WorkspaceSid};
use switchyard_engine::{ReservationAction, ReservationScope, UpdateReservation};

use super::{ok, path_sid, with_etag, IfMatch};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::field;
use crate::form::{Form, Query};
use crate::paging::ListRequest;
use crate::resource::ReservationResource;
use crate::{AppState, Caller};

/// `GET .../Reservations` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListForm {
    #[serde(deserialize_with = "field::choice")]
    reservation_status: Option<ReservationStatus>,
    #[serde(deserialize_with = "field::sid")]
    worker_sid: Option<WorkerSid>,
}

/// `POST .../Reservations/{WR}`: a new `ReservationStatus`, or an `Instruction` with the
/// parameters Twilio gives it (checked in [`instruction`](super::instruction); those whose
/// errors carry their own Twilio code are kept as text until then).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    pub(super) reservation_status: Option<String>,
    #[serde(deserialize_with = "field::sid")]
    pub(super) worker_activity_sid: Option<ActivitySid>,
    #[serde(deserialize_with = "field::nonempty_text")]
    pub(super) instruction: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) dequeue_post_work_activity_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) dequeue_record: Option<String>,
    #[serde(deserialize_with = "field::int")]
    pub(super) dequeue_timeout: Option<i64>,
    #[serde(deserialize_with = "field::text")]
    pub(super) dequeue_status_callback_url: Option<String>,
    #[serde(deserialize_with = "field::list")]
    pub(super) dequeue_status_callback_event: Vec<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) call_from: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) call_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) call_status_callback_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) call_accept: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) call_record: Option<String>,
    #[serde(deserialize_with = "field::int")]
    pub(super) call_timeout: Option<i64>,
    #[serde(deserialize_with = "field::text")]
    pub(super) redirect_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) redirect_call_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) redirect_accept: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) post_work_activity_sid: Option<String>,
    #[serde(deserialize_with = "field::int")]
    pub(super) timeout: Option<i64>,
    #[serde(deserialize_with = "field::text")]
    pub(super) status_callback: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) status_callback_method: Option<String>,
    #[serde(deserialize_with = "field::list")]
    pub(super) status_callback_event: Vec<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) record: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) muted: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) start_conference_on_enter: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) end_conference_on_exit: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) end_conference_on_customer_exit: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) beep_on_customer_entrance: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) early_media: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) beep: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) wait_url: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) wait_method: Option<String>,
    #[serde(deserialize_with = "field::int")]
    pub(super) max_participants: Option<i64>,
    #[serde(deserialize_with = "field::text")]
    pub(super) conference_status_callback: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) conference_status_callback_method: Option<String>,
    #[serde(deserialize_with = "field::list")]
    pub(super) conference_status_callback_event: Vec<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) conference_record: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) conference_trim: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) recording_channels: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) recording_status_callback: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) recording_status_callback_method: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) conference_recording_status_callback: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) conference_recording_status_callback_method: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) region: Option<String>,
    #[serde(deserialize_with = "field::text")]
    pub(super) jitter_buffer_size: Option<String>,
}

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
    (req, q): (ListRequest, ListForm),
    by_worker: bool,
) -> ApiResult<Response> {
    let (ws, scope) = scope(&c, &ws, &owner, by_worker)?;
    let page = st
        .engine
        .list_reservations(
            &c.account,
            &ws,
            &scope,
            q.reservation_status,
            q.worker_sid.as_ref(),
            req.page,
        )
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
fn action(f: &UpdateForm) -> ApiResult<ReservationAction> {
    if let Some(instruction) = &f.instruction {
        let instruction = super::instruction::validate(instruction, f)?;
        return Ok(ReservationAction::Accept {
            instruction: Some(instruction.to_owned()),
        });
    }
    match f.reservation_status.as_deref() {
        Some("accepted") => Ok(ReservationAction::Accept { instruction: None }),
        Some("rejected") => Ok(ReservationAction::Reject { activity: f.worker_activity_sid.clone() }),
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
    if_match: IfMatch,
    (ws, owner, sid): (String, String, String),
    f: UpdateForm,
    by_worker: bool,
) -> ApiResult<Response> {
    let (ws, scope) = scope(&c, &ws, &owner, by_worker)?;
    let sid: ReservationSid = path_sid(&c.path, &sid)?;
    let p = UpdateReservation {
        action: action(&f)?,
        expected_version: if_match.version(),
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
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    list(st, c, ws, task, (req, q), false).await
}

pub(crate) async fn list_for_worker(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, worker)): Path<(String, String)>,
    req: ListRequest,
    Query(q): Query<ListForm>,
) -> ApiResult<Response> {
    list(st, c, ws, worker, (req, q), true).await
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
    if_match: IfMatch,
    Path(path): Path<(String, String, String)>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    update(st, c, if_match, path, f, false).await
}

pub(crate) async fn update_for_worker(
    State(st): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    Path(path): Path<(String, String, String)>,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    update(st, c, if_match, path, f, true).await
}
