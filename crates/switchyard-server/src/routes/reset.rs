//! `POST /_switchyard/Reset`: a clean slate for the caller's account, as between test runs.

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::ok;
use crate::error::{ApiResult, ResultExt};
use crate::{AppState, Caller};

/// Deletes every workspace of the caller's account (others' are untouched) and lists them.
pub(crate) async fn reset(State(st): State<AppState>, c: Caller) -> ApiResult<Response> {
    let deleted = (st.engine)
        .delete_all_workspaces(&c.account)
        .await
        .at(&c.path)?;
    for ws in &deleted {
        st.sender.log.forget(ws);
    }
    Ok(ok(json!({
        "account_sid": c.account.to_string(),
        "deleted_workspace_sids": deleted.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}
