//! `GET /_switchyard/Workspaces/{ws}/Export` and `POST /_switchyard/Import`: a workspace's
//! configuration as one JSON document, and a new workspace made from one.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use switchyard_core::sid::WorkspaceSid;

use super::{created, ok, path_sid};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::resource::WorkspaceResource;
use crate::{portable, AppState, Caller};

/// `GET /_switchyard/Workspaces/{ws}/Export`.
pub(crate) async fn export(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let ws: WorkspaceSid = path_sid(&c.path, &ws)?;
    let doc = portable::export(&st.engine, &c.account, &ws)
        .await
        .at(&c.path)?;
    Ok(ok(doc))
}

/// `POST /_switchyard/Import`, with the document as `application/json`: answers the new
/// workspace as the REST API shows it.
pub(crate) async fn import(
    State(st): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let json = (headers.get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::Invalid(
            "The document must be sent as Content-Type: application/json".into(),
        ));
    }
    let doc = portable::parse(&body)?;
    let w = portable::import(&st.engine, &c.account, &doc).await?;
    Ok(created(WorkspaceResource::new(w, st.ctx(&c.account))))
}
