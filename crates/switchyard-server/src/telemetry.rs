//! Metrics for operators: `GET /metrics` in Prometheus's text format (no auth, like `/health`),
//! what the HTTP layer and the callbacks record, and the one process-wide recorder that the
//! engine and store crates record into through the `metrics` facade.
//!
//! Labels carry route templates, statuses and outcomes, never SIDs or other account data.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// HTTP requests answered: labels `method`, `route` (the route's template), `status`.
pub(crate) const HTTP_REQUESTS: &str = "switchyard_http_requests_total";
/// How long requests took to answer: labels `method`, `route`.
pub(crate) const HTTP_SECONDS: &str = "switchyard_http_request_duration_seconds";
/// Callback attempts: labels `kind` (`assignment`, `event`) and `outcome` (`answered`,
/// `failed`).
pub(crate) const CALLBACK_ATTEMPTS: &str = "switchyard_callback_attempts_total";
/// How long a callback attempt took, answered or not: label `kind`.
pub(crate) const CALLBACK_SECONDS: &str = "switchyard_callback_duration_seconds";

/// Latency buckets, in seconds: from a commit's 100 µs to a slow callback's 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// How many writes a commit group held (the writer takes at most 64).
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// How often histograms are trimmed when nobody scrapes, so they never grow without limit.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use. One per process, as the `metrics` facade
/// has one: several servers in one process (tests) render the same figures.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(switchyard_engine::measure::COMMIT_GROUP_WRITES.to_owned()),
                    GROUP_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows nothing");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    switchyard_engine::measure::describe();
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status");
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request"
    );
    describe_counter!(
        CALLBACK_ATTEMPTS,
        "Assignment and event callback attempts, by outcome"
    );
    describe_histogram!(
        CALLBACK_SECONDS,
        Unit::Seconds,
        "Time a callback attempt took"
    );
}

/// Trims the histograms now and then; runs until aborted.
pub(crate) async fn upkeep() {
    loop {
        tokio::time::sleep(UPKEEP_EVERY).await;
        handle().run_upkeep();
    }
}

/// `GET /metrics`.
pub(crate) async fn render(State(state): State<AppState>) -> Response {
    state.engine.update_gauges();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}

/// Counts every request and times it, by route template.
pub(crate) async fn record_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the standard methods become label values: anyone may send any method, and each
    // new value would be a new series kept for good.
    let method: &'static str = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(HTTP_SECONDS, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// Records one callback attempt of `kind` that began at `started`.
pub(crate) fn callback_attempt(kind: &'static str, answered: bool, started: Instant) {
    let outcome = if answered { "answered" } else { "failed" };
    metrics::histogram!(CALLBACK_SECONDS, "kind" => kind).record(started.elapsed().as_secs_f64());
    metrics::counter!(CALLBACK_ATTEMPTS, "kind" => kind, "outcome" => outcome).increment(1);
}
