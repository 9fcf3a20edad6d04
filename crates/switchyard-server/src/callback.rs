//! Assignment callbacks: for every new reservation, a form POST to the workflow's
//! `AssignmentCallbackUrl`, signed as Twilio signs webhooks, and the answer acted on.
//!
//! The answer is an HTTP 200 (`Content-Type: application/json`) whose JSON `instruction` accepts (`accept`, or a call-control
//! instruction, recorded as the accept's instruction) or rejects (`reject`, optional `activity_sid`)
//! the reservation. An empty body or a JSON object without `instruction` leaves it pending for a
//! later REST call. A failure — a non-2xx status, a body that is not JSON or not declared JSON, no
//! answer within the deadline — falls back to `FallbackAssignmentCallbackUrl`; when that fails too (or there is
//! none), the reservation is canceled and the task routed on. Each callback runs on its own task,
//! so a slow app never delays routing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use switchyard_core::sid::{AccountSid, ActivitySid};
use switchyard_engine::{
    Engine, Notification, ReservationAction, ReservationCreated, ReservationScope,
    UpdateReservation,
};
use tokio::task::JoinHandle;

use crate::telemetry;
use crate::CallbackPolicy;

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

/// A webhook as Twilio sends one: the form POSTed with its `X-Twilio-Signature`; refused when
/// the callback policy does not admit the URL.
pub(crate) fn signed_post(
    client: &Sender,
    url: &str,
    token: &str,
    params: &[(String, String)],
) -> Result<reqwest::RequestBuilder, String> {
    client.policy.check_url(url)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    Ok(client
        .http
        .post(url)
        .header("X-Twilio-Signature", signature(token, url, params))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::USER_AGENT, "TwilioProxy/1.1")
        .body(form.finish()))
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

/// What sends callbacks: an HTTP client that resolves names within the policy, and the policy.
#[derive(Clone)]
pub(crate) struct Sender {
    http: reqwest::Client,
    policy: Arc<CallbackPolicy>,
}

impl Sender {
    pub(crate) fn new(policy: Arc<CallbackPolicy>) -> Sender {
        Sender {
            http: policy.client(),
            policy,
        }
    }
}

/// The engine-clock time `d` from now: callback deadlines follow a manual clock too.
pub(crate) fn after(engine: &Engine, d: Duration) -> switchyard_core::Timestamp {
    engine.now() + switchyard_core::time::Duration::from_millis(d.as_millis() as i64)
}

/// The form fields of an assignment callback.
pub fn assignment_params(n: &ReservationCreated, now_secs: i64) -> Vec<(String, String)> {
    let task = &n.task;
    let mut p = vec![
        ("AccountSid", n.workspace.account_sid.to_string()),
        ("WorkspaceSid", n.workspace.sid.to_string()),
        ("ReservationSid", n.reservation.sid.to_string()),
        ("TaskSid", task.sid.to_string()),
        ("TaskAttributes", task.attributes.clone()),
        (
            "TaskAge",
            (now_secs - task.date_created.as_secs()).max(0).to_string(),
        ),
        ("TaskPriority", task.priority.to_string()),
        (
            "TaskAssignmentStatus",
            task.assignment_status.as_str().to_owned(),
        ),
        ("TaskChannelSid", task.task_channel.0.to_string()),
        ("TaskChannelUniqueName", task.task_channel.1.clone()),
        ("WorkerSid", n.worker.sid.to_string()),
        ("WorkerName", n.worker.friendly_name.clone()),
        ("WorkerAttributes", n.worker.attributes.clone()),
        ("Timestamp", now_secs.to_string()),
    ];
    if let Some((q, name)) = &task.task_queue {
        p.push(("TaskQueueSid", q.to_string()));
        p.push(("TaskQueueName", name.clone()));
    }
    if let Some((w, name)) = &task.workflow {
        p.push(("WorkflowSid", w.to_string()));
        p.push(("WorkflowName", name.clone()));
    }
    p.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// What the app answered.
#[derive(Debug)]
enum Answer {
    /// A JSON object with an `instruction`.
    Instruction(serde_json::Map<String, Value>),
    /// 200 with nothing to do now.
    Nothing,
    /// The callback failed; the reason is logged.
    Failed(String),
}

/// Posts the callback and reads the answer, giving up once `timeout` has passed on the engine's
/// clock (so a manual clock decides when a silent app has taken too long).
async fn post(
    engine: &Engine,
    client: &Sender,
    url: &str,
    token: &str,
    params: &[(String, String)],
    timeout: Duration,
) -> Answer {
    let deadline = after(engine, timeout);
    let started = Instant::now();
    let answer = tokio::select! {
        answer = exchange(client, url, token, params) => answer,
        () = engine.clock().sleep_until(deadline) => {
            Answer::Failed(format!("no answer within {} ms", timeout.as_millis()))
        }
    };
    let answered = !matches!(answer, Answer::Failed(_));
    telemetry::callback_attempt("assignment", answered, started);
    if answered {
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(%url, latency_ms, "assignment callback answered");
    }
    answer
}

async fn exchange(client: &Sender, url: &str, token: &str, params: &[(String, String)]) -> Answer {
    let request = match signed_post(client, url, token, params) {
        Ok(r) => r,
        Err(why) => return Answer::Failed(why),
    };
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Answer::Failed(format!("request failed: {}", describe(&e))),
    };
    let status = response.status();
    if !status.is_success() {
        return Answer::Failed(format!("answered HTTP {}", status.as_u16()));
    }
    let json_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let text = match response.text().await {
        Ok(t) => t,
        Err(e) => return Answer::Failed(format!("reading the answer failed: {e}")),
    };
    if text.trim().is_empty() {
        return Answer::Nothing;
    }
    // Twilio reads an answer only when it is declared JSON; anything else is ignored and the
    // fallback URL is tried.
    if !json_type {
        return Answer::Failed("the answer is not Content-Type application/json".to_owned());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) if map.contains_key("instruction") => Answer::Instruction(map),
        Ok(_) => Answer::Nothing,
        Err(_) => Answer::Failed("the answer is not JSON".to_owned()),
    }
}

/// Runs one reservation's callback to its end.
async fn deliver(
    engine: Engine,
    client: Sender,
    token: String,
    n: ReservationCreated,
    timeout: Duration,
) {
    let Some(workflow) = &n.workflow else { return };
    let Some(primary) = workflow.assignment_callback_url.clone() else {
        return;
    };
    let params = assignment_params(&n, engine.now().as_secs());
    let reservation = &n.reservation.sid;
    let mut answer = post(&engine, &client, &primary, &token, &params, timeout).await;
    if let Answer::Failed(why) = &answer {
        tracing::warn!(%reservation, url = %primary, %why, "assignment callback failed");
        if let Some(fallback) = &workflow.fallback_assignment_callback_url {
            answer = post(&engine, &client, fallback, &token, &params, timeout).await;
            if let Answer::Failed(why) = &answer {
                tracing::warn!(%reservation, url = %fallback, %why, "fallback assignment callback failed");
            }
        }
    }
    if let Answer::Failed(why) = &answer {
        if let Err(e) = engine
            .cancel_undeliverable(&n.workspace.sid, reservation, &n.task.sid, why)
            .await
        {
            tracing::warn!(%reservation, error = %e, "canceling an undeliverable reservation failed");
        }
        return;
    }
    // Answered: a restart must not send it again, whatever the answer asks for. Recorded
    // beside the action the answer asks for, so both go into the same group commit.
    let answered = async {
        if let Err(e) = engine.record_callback_answered(reservation).await {
            tracing::warn!(%reservation, error = %e, "recording the assignment callback's answer failed");
        }
    };
    tokio::join!(answered, act(&engine, &n, answer));
}

/// Does what the app's answer to the assignment callback asks for.
async fn act(engine: &Engine, n: &ReservationCreated, answer: Answer) {
    let reservation = &n.reservation.sid;
    let action = match answer {
        Answer::Nothing | Answer::Failed(_) => return,
        Answer::Instruction(map) => match map
            .get("instruction")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        {
            Some(i) if i == "accept" => ReservationAction::Accept { instruction: None },
            Some(i) if i == "reject" => ReservationAction::Reject {
                activity: map
                    .get("activity_sid")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<ActivitySid>().ok()),
            },
            Some(i) if matches!(i.as_str(), "dequeue" | "call" | "redirect" | "conference") => {
                ReservationAction::Accept {
                    instruction: Some(i),
                }
            }
            other => {
                tracing::warn!(%reservation, instruction = ?other, "assignment callback answered an unknown instruction");
                return;
            }
        },
    };
    let scope = ReservationScope::Task(n.task.sid.clone());
    let update = UpdateReservation {
        action,
        expected_version: None,
    };
    if let Err(e) = engine
        .update_reservation(
            &n.workspace.account_sid,
            &n.workspace.sid,
            &scope,
            reservation,
            update,
        )
        .await
    {
        tracing::warn!(%reservation, error = %e, "acting on the assignment callback's answer failed");
    }
}

/// Starts delivering assignment callbacks for every reservation the engine creates.
pub fn spawn(
    engine: Engine,
    tokens: Arc<HashMap<AccountSid, String>>,
    timeout: Duration,
    policy: Arc<CallbackPolicy>,
) -> JoinHandle<()> {
    let mut notifications = engine.subscribe();
    let client = Sender::new(policy);
    tokio::spawn(async move {
        while let Some(n) = notifications.recv().await {
            let Notification::ReservationCreated(n) = n else {
                continue;
            };
            let token = tokens
                .get(&n.workspace.account_sid)
                .cloned()
                .unwrap_or_default();
            tokio::spawn(deliver(engine.clone(), client.clone(), token, *n, timeout));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_params(caller: &str) -> Vec<(String, String)> {
        [
            ("To", "+18005551212"),
            ("From", caller),
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn signature_matches_twilio_published_vectors() {
        // Twilio's webhook-security example and the one twilio-node's tests sign.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature("12345", url, &doc_params("+14158675310")),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
        assert_eq!(
            signature("12345", url, &doc_params("+14158675309")),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }
}
