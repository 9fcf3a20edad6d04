//! Webhooks as Twilio sends them: a form POST signed with `X-Twilio-Signature`, sent only where
//! the callback policy admits, its answer read within a deadline on the engine's clock, and
//! every attempt written to the callback log. Assignment and event callbacks (and Replay) all
//! send through here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use switchyard_core::sid::WorkspaceSid;
use switchyard_core::Timestamp;
use switchyard_engine::Engine;

use crate::callback_log::{CallbackLog, Entry, Kind};
use crate::{telemetry, CallbackPolicy};

/// The most of an answer's body read: far more than any instruction needs, bounded for an app
/// that answers with a stream.
const BODY_READ: usize = 1024 * 1024;

/// `X-Twilio-Signature`: base64 of HMAC-SHA1 keyed with the auth token, over the URL followed by
/// every parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// An error with its causes, which say what actually went wrong (refused, timed out, denied).
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// The engine-clock time `d` from now: callback deadlines follow a manual clock too.
pub(crate) fn after(engine: &Engine, d: Duration) -> Timestamp {
    engine.now() + switchyard_core::time::Duration::from_millis(d.as_millis() as i64)
}

/// What sends callbacks: an HTTP client that resolves names within the policy, the policy, and
/// the log every attempt goes to.
#[derive(Clone)]
pub(crate) struct Sender {
    http: reqwest::Client,
    policy: Arc<CallbackPolicy>,
    pub(crate) log: Arc<CallbackLog>,
}

impl Sender {
    pub(crate) fn new(policy: Arc<CallbackPolicy>, log: Arc<CallbackLog>) -> Sender {
        Sender {
            http: policy.client(),
            policy,
            log,
        }
    }
}

/// One callback to send.
pub(crate) struct Attempt<'a> {
    pub(crate) kind: Kind,
    pub(crate) workspace: &'a WorkspaceSid,
    pub(crate) url: &'a str,
    /// The auth token that signs it.
    pub(crate) token: &'a str,
    pub(crate) params: &'a [(String, String)],
    /// Which attempt of its delivery this is, from 1.
    pub(crate) number: u32,
    /// The log entry it sends again, for a replay.
    pub(crate) replay_of: Option<String>,
}

/// What an attempt came to.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status, when an answer came.
    pub(crate) status: Option<u16>,
    /// Whether the answer declared `Content-Type: application/json`.
    pub(crate) json: bool,
    /// The answer's body (its first [`BODY_READ`] bytes).
    pub(crate) body: String,
    /// Why no answer came: refused by the policy, the connection failed, or the deadline passed.
    pub(crate) error: Option<String>,
    started: Instant,
    date: Timestamp,
    signature: String,
}

impl Answer {
    /// How long the attempt took until now, in milliseconds.
    pub(crate) fn latency_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// Whether an answer came with a 2xx status.
    pub(crate) fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Signs and POSTs the attempt's form and reads the answer, giving up once `timeout` has passed
/// on the engine's clock (so a manual clock decides when a silent app has taken too long).
/// With `wall_limit`, it also gives up once that much real time has passed (a replay asked
/// by a person must not wait for a manual clock to move). Call [`Sender::logged`] with the
/// verdict once the answer is judged.
pub(crate) async fn send(
    engine: &Engine,
    client: &Sender,
    attempt: &Attempt<'_>,
    timeout: Duration,
    wall_limit: Option<Duration>,
) -> Answer {
    let signature = signature(attempt.token, attempt.url, attempt.params);
    let mut answer = Answer {
        status: None,
        json: false,
        body: String::new(),
        error: None,
        started: Instant::now(),
        date: engine.now(),
        signature,
    };
    let deadline = after(engine, timeout);
    tokio::select! {
        () = exchange(client, attempt, &mut answer) => {}
        () = engine.clock().sleep_until(deadline) => {
            answer.error = Some(format!("no answer within {} ms", timeout.as_millis()));
        }
        () = wall(wall_limit) => {
            answer.error = Some(format!("no answer within {} ms", timeout.as_millis()));
        }
    }
    answer
}

/// Sleeps for `limit` of real time, or forever without one.
async fn wall(limit: Option<Duration>) {
    match limit {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

async fn exchange(client: &Sender, attempt: &Attempt<'_>, answer: &mut Answer) {
    if let Err(why) = client.policy.check_url(attempt.url) {
        answer.error = Some(why);
        return;
    }
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in attempt.params {
            form.append_pair(k, v);
        }
        form.finish()
    };
    let request = (client.http.post(attempt.url))
        .header("X-Twilio-Signature", &answer.signature)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::USER_AGENT, "TwilioProxy/1.1")
        .body(form);
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            answer.error = Some(format!("request failed: {}", describe(&e)));
            return;
        }
    };
    answer.status = Some(response.status().as_u16());
    answer.json = (response.headers().get(reqwest::header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(BODY_READ - body.len())]);
                if body.len() >= BODY_READ {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                answer.error = Some(format!("reading the answer failed: {}", describe(&e)));
                break;
            }
        }
    }
    answer.body = String::from_utf8_lossy(&body).into_owned();
}

impl Sender {
    /// Records a sent attempt: in the callback log, with `failure` (why it counts as failed,
    /// if it does), and in the metrics.
    pub(crate) fn logged(
        &self,
        attempt: &Attempt<'_>,
        answer: &Answer,
        failure: Option<&str>,
    ) -> Arc<Entry> {
        telemetry::callback_attempt(attempt.kind.metric(), failure.is_none(), answer.started);
        let mut entry = Entry {
            seq: 0,
            workspace_sid: attempt.workspace.clone(),
            kind: attempt.kind,
            url: attempt.url.to_owned(),
            params: attempt.params.to_vec(),
            signature: answer.signature.clone(),
            date: answer.date,
            status: answer.status,
            error: failure.map(str::to_owned),
            body: None,
            body_truncated: false,
            latency_ms: answer.latency_ms(),
            attempt: attempt.number,
            replay_of: attempt.replay_of.clone(),
        };
        entry.set_body(answer.status.map(|_| answer.body.as_str()));
        self.log.record(entry)
    }
}
