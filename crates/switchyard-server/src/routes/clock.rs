//! The development clock API, outside `/v1`: read the engine's time, and (with `--clock manual`)
//! move it forward, firing every timer due on the way.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_core::Timestamp;
use switchyard_engine::{FiredTimer, Timer};

use super::ok;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::field;
use crate::form::Form;
use crate::resource::date;
use crate::{AppState, Caller};

/// `POST /_switchyard/Clock`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct UpdateForm {
    #[serde(deserialize_with = "field::text")]
    advance: Option<String>,
    #[serde(deserialize_with = "field::date")]
    time: Option<Timestamp>,
}

fn body(st: &AppState, fired: Option<Vec<FiredTimer>>) -> Value {
    let now = st.engine.now();
    let mut v = json!({
        "now": date(now),
        "now_ms": now.as_millis(),
        "mode": if st.engine.clock().manual().is_some() { "manual" } else { "real" },
    });
    if let Some(fired) = fired {
        v["fired"] = fired
            .into_iter()
            .map(|f| {
                let (kind, task, worker) = match f.timer {
                    Timer::Reservation { task, worker } => {
                        ("reservation.timeout", task, Some(worker))
                    }
                    Timer::CallbackRetry { task, worker } => {
                        ("reservation.callback-retry", task, Some(worker))
                    }
                    Timer::Step { task } => ("workflow.step-timeout", task, None),
                    Timer::Ttl { task } => ("task.ttl", task, None),
                };
                json!({
                    "at": date(f.at),
                    "at_ms": f.at.as_millis(),
                    "timer": kind,
                    "workspace_sid": f.workspace_sid.to_string(),
                    "task_sid": task.to_string(),
                    "worker_sid": worker.map(|w| w.to_string()),
                })
            })
            .collect();
    }
    v
}

pub(crate) async fn fetch(State(st): State<AppState>, _c: Caller) -> ApiResult<Response> {
    Ok(ok(body(&st, None)))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    c: Caller,
    Form(f): Form<UpdateForm>,
) -> ApiResult<Response> {
    let now = st.engine.now();
    let to = match (f.advance.as_deref(), f.time) {
        (Some(secs), None) => {
            let secs: f64 = secs
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite())
                .ok_or_else(|| {
                    ApiError::Invalid(format!("Advance must be a number of seconds, got '{secs}'"))
                })?;
            if secs < 0.0 {
                return Err(ApiError::Invalid(
                    "Advance must not be negative: the clock only moves forward".into(),
                ));
            }
            now + switchyard_core::time::Duration::from_millis((secs * 1000.0).round() as i64)
        }
        (None, Some(t)) => t,
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid("Give Advance or Time, not both".into()))
        }
        (None, None) => {
            return Err(ApiError::Invalid(
                "Missing required parameter Advance or Time".into(),
            ))
        }
    };
    if to < now {
        return Err(ApiError::Invalid(format!(
            "Time {} is before the current time {}: the clock only moves forward",
            date(to),
            date(now)
        )));
    }
    let fired = st.engine.advance_to(to).await.at(&c.path)?;
    Ok(ok(body(&st, Some(fired))))
}
