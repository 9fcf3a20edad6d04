//! Switchyard's HTTP server: Twilio TaskRouter's REST API (v1) over the engine.
//!
//! This is the only crate that knows the Twilio wire format: PascalCase form fields in
//! ([`form`], [`field`]), snake_case JSON out ([`resource`]), the list envelope ([`paging`]) and the error
//! body ([`error`]). Everything else — validation, persistence, routing — is the engine's.
//!
//! [`app`] builds the router; [`serve`] runs it on a bound listener until a shutdown future
//! resolves, which is how both the binary and the tests start it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use switchyard_core::sid::AccountSid;
use switchyard_engine::Engine;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use tracing::{Instrument, Span};

pub mod access_token;
mod bare_errors;
pub mod callback;
mod callback_log;
pub mod callback_policy;
pub mod error;
mod event_bridge;
pub mod event_callback;
pub mod field;
pub mod form;
pub mod forward;
mod listen;
pub mod paging;
pub mod portable;
pub mod precondition;
pub mod resource;
mod routes;
mod telemetry;
mod webhook;

pub use callback_log::DEFAULT_PER_WORKSPACE as DEFAULT_CALLBACK_LOG_SIZE;
pub use callback_policy::{CallbackPolicy, Rule as CallbackRule};
pub use error::{ApiError, ApiResult};
pub use listen::ConnectionLimits;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base of every absolute URL written into responses, without a trailing slash.
    pub public_url: String,
    /// How long an assignment callback may take to answer, on the engine's clock.
    pub callback_timeout: Duration,
    /// How long an event callback may take to answer, on the engine's clock.
    pub event_callback_timeout: Duration,
    /// The accounts that may sign in, with their auth tokens: exactly these, whatever the
    /// database holds. Their tokens also sign the callbacks of their workspaces.
    pub accounts: Vec<(AccountSid, String)>,
    /// Limits on client connections.
    pub limits: ConnectionLimits,
    /// Where callbacks may go.
    pub callback_policy: CallbackPolicy,
    /// Callback attempts the callback log keeps per workspace (0 keeps none).
    pub callback_log_size: usize,
    /// The API keys whose access tokens the Worker SDK's event bridge accepts.
    pub api_keys: Vec<access_token::ApiKey>,
}

impl ServerConfig {
    /// Settings with Twilio's deadlines (5 s for assignment callbacks, 15 s for event
    /// callbacks), default connection limits, callbacks allowed anywhere, and no account yet.
    pub fn new(public_url: impl Into<String>) -> Self {
        ServerConfig {
            public_url: public_url.into(),
            callback_timeout: Duration::from_secs(5),
            event_callback_timeout: Duration::from_secs(15),
            accounts: Vec::new(),
            limits: ConnectionLimits::default(),
            callback_policy: CallbackPolicy::default(),
            callback_log_size: callback_log::DEFAULT_PER_WORKSPACE,
            api_keys: Vec::new(),
        }
    }

    /// Adds an account that may sign in with `auth_token`.
    pub fn with_account(mut self, account: AccountSid, auth_token: impl Into<String>) -> Self {
        self.accounts.push((account, auth_token.into()));
        self
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// HTTP settings.
    pub config: Arc<ServerConfig>,
    accounts: Arc<HashMap<AccountSid, String>>,
    /// Sends every callback, and logs each attempt.
    sender: webhook::Sender,
    /// What access tokens are checked against.
    api_keys: Arc<access_token::ApiKeys>,
    /// The Worker SDK's open sockets.
    sessions: Arc<event_bridge::Sessions>,
    /// Each workspace's events, read once for all its sockets.
    hub: Arc<event_bridge::Hub>,
    /// Sends requests on to the node that decides for their workspace.
    forwarder: reqwest::Client,
}

impl AppState {
    /// Builds the state; the configured accounts are created in the store if new. An account
    /// with an empty auth token is refused.
    pub async fn new(
        engine: Engine,
        config: ServerConfig,
    ) -> Result<AppState, switchyard_engine::Error> {
        // Installed before anything is recorded into it.
        telemetry::handle();
        let mut accounts = HashMap::new();
        for (sid, token) in &config.accounts {
            if token.is_empty() {
                return Err(switchyard_engine::Error::Invalid(format!(
                    "the auth token of {sid} must not be empty"
                )));
            }
            engine.ensure_account(sid.clone()).await?;
            accounts.insert(sid.clone(), token.clone());
        }
        let config = ServerConfig {
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            ..config
        };
        let log = Arc::new(callback_log::CallbackLog::new(config.callback_log_size));
        let sender = webhook::Sender::new(Arc::new(config.callback_policy.clone()), log);
        for key in &config.api_keys {
            if !accounts.contains_key(&key.account) {
                return Err(switchyard_engine::Error::Invalid(format!(
                    "API key {} is for {}, which is not a configured account",
                    key.sid, key.account
                )));
            }
        }
        let api_keys = Arc::new(access_token::ApiKeys::new(config.api_keys.clone()));
        Ok(AppState {
            engine,
            config: Arc::new(config),
            accounts: Arc::new(accounts),
            sender,
            api_keys,
            sessions: Arc::default(),
            hub: Arc::default(),
            forwarder: forward::client(),
        })
    }

    /// Renders context for `account`.
    pub(crate) fn ctx<'a>(&'a self, account: &'a AccountSid) -> resource::Ctx<'a> {
        resource::Ctx {
            base: &self.config.public_url,
            account,
        }
    }
}

/// The authenticated account of a `/v1` request, and the request path (for 404 messages).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account whose credentials the request carried.
    pub account: AccountSid,
    /// The request path.
    pub path: String,
}

#[derive(Debug, Clone)]
struct Authenticated(AccountSid);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let account = parts
            .extensions
            .get::<Authenticated>()
            .map(|a| a.0.clone())
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            account,
            path: parts.uri.path().to_owned(),
        })
    }
}

/// Checks HTTP Basic credentials (`AccountSid:AuthToken`) against the configured accounts.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Option<AccountSid> {
    use headers::authorization::{Authorization, Basic};
    use headers::HeaderMapExt as _;
    use subtle::ConstantTimeEq as _;
    let credentials = headers.typed_get::<Authorization<Basic>>()?;
    let account: AccountSid = credentials.username().parse().ok()?;
    let token = state.accounts.get(&account)?;
    bool::from(token.as_bytes().ct_eq(credentials.password().as_bytes())).then_some(account)
}

async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(why) = cross_site_write(&req) {
        return ApiError::Forbidden(why).into_response();
    }
    match authenticate(&state, req.headers()) {
        Some(account) => {
            req.extensions_mut().insert(Authenticated(account));
            // A client that hangs up drops its request's future. Run the handler as its own
            // task so a change begun is finished: the store and the routing model must never
            // be left with one half-applied.
            let handler = tokio::spawn(next.run(req).instrument(Span::current()));
            handler.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "request handler panicked");
                ApiError::Internal.into_response()
            })
        }
        None => ApiError::Unauthorized.into_response(),
    }
}

/// Why a request that changes something must be refused as coming from another site, if it
/// must. A browser that signed in to the console sends its Basic credentials with any request
/// to this origin, including a form another site's page submits; browsers mark those
/// (`Sec-Fetch-Site`, `Origin`), while the SDKs and curl send neither header.
fn cross_site_write(req: &Request) -> Option<String> {
    use axum::http::{header, Method};
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return Some("A request from another site may not change anything here".into());
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let origin_host = url::Url::parse(origin).ok().map(|u| match u.port() {
        Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_owned(),
    });
    (origin_host.as_deref() != Some(host))
        .then(|| format!("A request from {origin} may not change anything here"))
}

/// Ready when the database answers: a load balancer or an orchestrator stops sending requests
/// to a server whose database is gone, and resumes once it is back.
async fn health(State(state): State<AppState>) -> Response {
    const WITHIN: Duration = Duration::from_secs(2);
    match tokio::time::timeout(WITHIN, state.engine.database_ready()).await {
        Ok(Ok(())) => "ok".into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable: no answer within 2 s",
        )
            .into_response(),
    }
}

async fn not_found(req: Request) -> ApiError {
    // Paths are shown as Twilio does, under the API version (`/Workspaces/...`); others whole.
    // A nested router sees its own part of the path: name the whole one.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path(), |u| u.0.path());
    let shown = path.strip_prefix("/v1").filter(|p| p.starts_with('/'));
    ApiError::NotFound(shown.unwrap_or(path).to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn request_span(req: &Request<Body>) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    tracing::info_span!("request", method = %req.method(), route = %route)
}

/// The complete router: `/health` without auth, the TaskRouter API under `/v1` with auth.
pub fn app(state: AppState) -> Router {
    let v1 = routes::router()
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            forward::to_owner,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(telemetry::render))
        // The Worker SDK's event bridge authenticates with access tokens, not Basic auth.
        .route(
            "/v1/wschannels",
            get(event_bridge::socket)
                .post(event_bridge::call)
                .options(event_bridge::preflight),
        )
        .merge(v1)
        .fallback(not_found)
        .layer(middleware::from_fn(telemetry::record_request))
        .layer(axum::extract::DefaultBodyLimit::max(form::MAX_BODY_LEN))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "handled"
                    );
                }),
        )
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes requests in flight.
/// Assignment and event callbacks are delivered meanwhile.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Subscribed before start-up recovery: reservations it creates, and those left
    // unanswered by the last run, get their assignment callbacks.
    let callbacks = callback::spawn(
        state.engine.clone(),
        state.accounts.clone(),
        state.config.callback_timeout,
        state.sender.clone(),
    );
    // Rebuild routing from the store and fire what fell due while down, before serving.
    if let Err(e) = state.engine.start().await {
        callbacks.abort();
        return Err(std::io::Error::other(e));
    }
    let events = event_callback::spawn(
        state.engine.clone(),
        state.accounts.clone(),
        state.config.event_callback_timeout,
        state.sender.clone(),
    );
    let engine = state.engine.clone();
    let timers = tokio::spawn(async move { engine.run_timers().await });
    let engine = state.engine.clone();
    let cluster = tokio::spawn(async move { engine.run_cluster().await });
    let upkeep = tokio::spawn(telemetry::upkeep());
    let limits = state.config.limits;
    let leaving = state.engine.clone();
    let shutdown = async move {
        shutdown.await;
        // At once, not once every connection has closed (a Worker SDK socket may stay open):
        // the other nodes take this one's workspaces, and requests still arriving go to them.
        if let Err(e) = leaving.leave_cluster().await {
            tracing::warn!(error = %e, "leaving the cluster failed; the other nodes take over once the leases run out");
        }
    };
    let result = listen::serve(listener, app(state), limits, shutdown).await;
    timers.abort();
    cluster.abort();
    callbacks.abort();
    events.abort();
    upkeep.abort();
    result
}
