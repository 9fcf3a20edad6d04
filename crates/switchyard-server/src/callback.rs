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
use std::time::Duration;

use serde_json::Value;
use switchyard_core::sid::{AccountSid, ActivitySid};
use switchyard_engine::{
    Engine, Notification, ReservationAction, ReservationCreated, ReservationScope,
    UpdateReservation,
};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::callback_log::Kind;
pub use crate::webhook::signature;
use crate::webhook::{self, Attempt, Sender};

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

/// Posts the callback to `url` and judges the answer.
async fn post(
    engine: &Engine,
    client: &Sender,
    n: &ReservationCreated,
    (kind, url): (Kind, &str),
    token: &str,
    params: &[(String, String)],
    timeout: Duration,
) -> Answer {
    let attempt = Attempt {
        kind,
        workspace: &n.workspace.sid,
        url,
        token,
        params,
        number: 1,
        replay_of: None,
    };
    let sent = webhook::send(engine, client, &attempt, timeout, None).await;
    let answer = judge(&sent);
    let failure = match &answer {
        Answer::Failed(why) => Some(why.as_str()),
        _ => None,
    };
    client.logged(&attempt, &sent, failure);
    if let (None, Some(status)) = (failure, sent.status) {
        let latency_ms = sent.latency_ms();
        tracing::info!(%url, status, latency_ms, "assignment callback answered");
    }
    answer
}

/// Why an assignment callback's answer counts as a failure, if it does.
pub(crate) fn failure(sent: &webhook::Answer) -> Option<String> {
    match judge(sent) {
        Answer::Failed(why) => Some(why),
        _ => None,
    }
}

/// What an answer asks for, or why it counts as a failure. Twilio reads an answer only when
/// it is a 2xx declared JSON; anything else falls back.
fn judge(sent: &webhook::Answer) -> Answer {
    if let Some(why) = &sent.error {
        return Answer::Failed(why.clone());
    }
    if !sent.succeeded() {
        let status = sent.status.unwrap_or_default();
        return Answer::Failed(format!("answered HTTP {status}"));
    }
    if sent.body.trim().is_empty() {
        return Answer::Nothing;
    }
    if !sent.json {
        return Answer::Failed("the answer is not Content-Type application/json".to_owned());
    }
    match serde_json::from_str::<Value>(&sent.body) {
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
    let primary = (Kind::Assignment, primary.as_str());
    let mut answer = post(&engine, &client, &n, primary, &token, &params, timeout).await;
    if let Answer::Failed(why) = &answer {
        tracing::warn!(url = %primary.1, %why, "assignment callback failed");
        if let Some(fallback) = &workflow.fallback_assignment_callback_url {
            let fallback = (Kind::AssignmentFallback, fallback.as_str());
            answer = post(&engine, &client, &n, fallback, &token, &params, timeout).await;
            if let Answer::Failed(why) = &answer {
                tracing::warn!(url = %fallback.1, %why, "fallback assignment callback failed");
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
        if let Err(e) = (engine)
            .record_callback_answered(&n.workspace.sid, reservation)
            .await
        {
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
pub(crate) fn spawn(
    engine: Engine,
    tokens: Arc<HashMap<AccountSid, String>>,
    timeout: Duration,
    client: Sender,
) -> JoinHandle<()> {
    let mut notifications = engine.subscribe();
    tokio::spawn(async move {
        while let Some(n) = notifications.recv().await {
            let Notification::ReservationCreated(n) = n else {
                continue;
            };
            let token = tokens
                .get(&n.workspace.account_sid)
                .cloned()
                .unwrap_or_default();
            // Every line the delivery logs names the workspace, task and reservation.
            let span = tracing::info_span!(
                "assignment_callback",
                workspace = %n.workspace.sid,
                task = %n.task.sid,
                reservation = %n.reservation.sid,
            );
            // Logged here, not where the engine publishes it: that is the store's writer
            // thread, which a slow stderr must never hold up.
            span.in_scope(|| {
                tracing::info!(
                    worker = %n.worker.sid,
                    worker_name = %n.worker.friendly_name,
                    queue = n.task.task_queue.as_ref().map(|q| q.1.as_str()),
                    "reservation created"
                );
            });
            let delivery = deliver(engine.clone(), client.clone(), token, *n, timeout);
            tokio::spawn(delivery.instrument(span));
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
