//! Several nodes: a request for a workspace is served by the node that decides for it
//! (`switchyard_engine::Engine::owner`); any other node sends it on over HTTP and hands back the
//! answer as it came.
//!
//! Every request under `/v1/Workspaces/{WS}` and `/_switchyard/Workspaces/{WS}` goes to the
//! owner, reads included: the owner's answers are the ones that agree with its model, and a
//! client that hops between nodes reads its own writes. A forwarded request carries
//! [`FORWARDED_BY`] and is never sent on again: a node it reaches takes the workspace if nobody
//! holds it, and otherwise answers 503. When the owner cannot be reached at all (it died), the
//! request waits for its lease to run out and is served by whichever node takes the workspace
//! over, this one included; a request the owner may have begun (the connection broke after it
//! was sent) is not sent twice, but answered 503.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use switchyard_core::sid::WorkspaceSid;
use switchyard_engine::Owner;

use crate::error::{ApiError, ChangingHands};
use crate::AppState;

/// The header a forwarded request carries: the cluster's secret
/// (`switchyard_engine::Engine::peer_secret`), which only the nodes know.
pub const FORWARDED_BY: &str = "x-switchyard-forwarded-by";

/// Whether the request was sent on by another node of the cluster (a client's header with
/// the wrong value counts for nothing).
fn from_peer(state: &AppState, headers: &HeaderMap) -> bool {
    use subtle::ConstantTimeEq as _;
    let (Some(secret), Some(shown)) = (state.engine.peer_secret(), headers.get(FORWARDED_BY))
    else {
        return false;
    };
    bool::from(secret.as_bytes().ct_eq(shown.as_bytes()))
}

/// How long a forwarded request may take before the caller is told the owner did not answer.
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers of one hop only (RFC 9110, 7.6.1), the ones the client recomputes, and ours.
const HOP_BY_HOP: [&str; 11] = [
    FORWARDED_BY,
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The workspace a path is about, if it names one and must be served by its owner. The
/// console's event stream is not: it reads committed events, which every node sees, and a
/// stream cannot wait for the forwarded answer to end.
fn workspace_of(path: &str) -> Option<WorkspaceSid> {
    if path.ends_with("/Events/Stream") {
        return None;
    }
    let rest = (path.strip_prefix("/v1/Workspaces/"))
        .or_else(|| path.strip_prefix("/_switchyard/Workspaces/"))?;
    rest.split('/').next()?.parse().ok()
}

/// How long connecting to another node may take: one that accepts no connection is gone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The client that sends requests on: no redirects followed (the answer goes back as it is).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FORWARD_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Serves a workspace's request here if this node decides for it, else sends it on to the
/// node that does.
pub(crate) async fn to_owner(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(lease) = state.engine.lease() else {
        return next.run(req).await;
    };
    let Some(ws) = workspace_of(req.uri().path()) else {
        return next.run(req).await;
    };
    let forwarded = from_peer(&state, req.headers());
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, crate::form::MAX_BODY_LEN).await {
        Ok(b) => b,
        Err(e) if e.to_string().contains("length limit") => {
            let message = format!(
                "The request body is larger than {} bytes",
                crate::form::MAX_BODY_LEN
            );
            return ApiError::Invalid(message).into_response();
        }
        Err(_) => return ApiError::BodyTimeout.into_response(),
    };
    // Long enough for a dead owner's lease to run out and another node to take over.
    let deadline = Instant::now() + lease + lease / 2;
    let pause = lease / 10;
    loop {
        let retry = match state.engine.owner(&ws, forwarded).await {
            Ok(Owner::Here) => {
                let req = Request::from_parts(parts.clone(), Body::from(body.clone()));
                let res = next.clone().run(req).await;
                // Nothing decided: the workspace moved on before the handler locked it.
                if res.extensions().get::<ChangingHands>().is_none() {
                    return res;
                }
                res
            }
            Ok(Owner::Node { url, .. }) if !forwarded => {
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                // No longer than the takeover of a frozen owner would take.
                let within = deadline.saturating_duration_since(Instant::now());
                let within = within.max(CONNECT_TIMEOUT);
                let request = (&parts.method, path, &parts.headers);
                let sent = send_on(&state, &url, request, body.clone(), within);
                match sent.await {
                    Ok(res) => return res,
                    // Nothing was sent, or only a read (asked again safely; a connection to
                    // a node that just died fails in several ways): the owner is gone or
                    // frozen, and its lease runs out soon.
                    Err(e) if e.is_connect() || parts.method.is_safe() => {
                        tracing::warn!(owner = %url, error = %e, "the workspace's node does not answer; waiting for a takeover");
                        unavailable()
                    }
                    Err(e) => {
                        tracing::warn!(owner = %url, error = %e, "forwarding a request failed");
                        return unavailable();
                    }
                }
            }
            // Sent here by a node that thought this one decides: it no longer does.
            Ok(Owner::Node { .. }) => unavailable(),
            Err(e @ switchyard_engine::Error::Unavailable(_)) => {
                ApiError::engine(parts.uri.path(), e).into_response()
            }
            Err(e) => return ApiError::engine(parts.uri.path(), e).into_response(),
        };
        if Instant::now() + pause >= deadline {
            return retry;
        }
        tokio::time::sleep(pause).await;
    }
}

/// 503, Twilio-shaped: the workspace is between nodes.
fn unavailable() -> Response {
    ApiError::engine("", switchyard_engine::Error::Unavailable(String::new())).into_response()
}

/// The Worker SDK's RPC channel (`/v1/wschannels`, one path for every workspace): the call is
/// sent on to the node that decides for the workspace its token names, if another one does.
/// `None`: serve it here.
pub(crate) async fn rpc_to_owner(
    state: &AppState,
    ws: &WorkspaceSid,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    state.engine.lease()?;
    let forwarded = from_peer(state, headers);
    match state.engine.owner(ws, forwarded).await {
        Ok(Owner::Node { url, .. }) if !forwarded => {
            let request = (&Method::POST, "/v1/wschannels", headers);
            let sent = send_on(state, &url, request, body.clone(), FORWARD_TIMEOUT);
            match sent.await {
                Ok(res) => Some(res),
                Err(e) => {
                    tracing::warn!(owner = %url, error = %e, "forwarding a Worker SDK call failed");
                    Some(unavailable())
                }
            }
        }
        Ok(Owner::Here) => None,
        Ok(Owner::Node { .. }) => Some(unavailable()),
        Err(e) => Some(ApiError::engine("/v1/wschannels", e).into_response()),
    }
}

/// Sends a request on to the node at `base` and hands back its answer.
async fn send_on(
    state: &AppState,
    base: &str,
    (method, path, headers): (&Method, &str, &HeaderMap),
    body: Bytes,
    within: Duration,
) -> Result<Response, reqwest::Error> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut out = (state.forwarder.request(method.clone(), url))
        .timeout(within)
        .body(body);
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let secret = state.engine.peer_secret().unwrap_or_default();
    let answer = out.header(FORWARDED_BY, secret).send().await?;
    let mut res = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            res = res.header(name, value);
        }
    }
    let bytes = answer.bytes().await?;
    Ok(res
        .body(Body::from(bytes))
        .unwrap_or_else(|_| (StatusCode::BAD_GATEWAY, "bad answer from the owner").into_response()))
}

#[cfg(test)]
mod tests {
    use super::workspace_of;

    #[test]
    fn only_workspace_paths_name_a_workspace() {
        let ws = "WS0123456789abcdef0123456789abcdef";
        assert_eq!(
            workspace_of(&format!("/v1/Workspaces/{ws}/Tasks")).map(|w| w.to_string()),
            Some(ws.to_owned())
        );
        assert!(workspace_of(&format!("/_switchyard/Workspaces/{ws}")).is_some());
        assert!(workspace_of("/v1/Workspaces").is_none());
        assert!(workspace_of("/v1/Workspaces/not-a-sid/Tasks").is_none());
        assert!(workspace_of("/_switchyard/Nodes").is_none());
    }
}
