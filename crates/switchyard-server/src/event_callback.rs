//! Event callbacks: every event a workspace records is POSTed to its `EventCallbackUrl` (unless
//! `EventsFilter` leaves its type out), signed like every Twilio webhook.
//!
//! Delivery reads the events from the store, after a cursor kept there per workspace, so it is
//! in order per workspace, at least once (a crash between the POST and the cursor's write sends
//! the event again), survives restarts, and holds no memory for a dead receiver. A failed POST
//! (no connection, a non-2xx status, no answer within the timeout) is retried with doubling
//! backoff; after the last attempt the event is given up on and logged. Timeout and backoff run
//! on the engine's clock, so a manual clock governs them. One task per workspace delivers, so a
//! slow receiver delays only its own workspace's events, never routing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchyard_core::event::Event;
use switchyard_core::model::Workspace;
use switchyard_core::sid::{AccountSid, WorkspaceSid};
use switchyard_engine::Engine;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::callback_log::Kind;
use crate::webhook::{self, Attempt, Sender};

/// Attempts per event, the first included.
pub const ATTEMPTS: u32 = 4;
/// Wait before the first retry; each later one doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Events read from the store at a time.
const BATCH: usize = 100;

/// The form fields of an event callback: the base fields, then every field of the event's data
/// in PascalCase (`task_queue_sid` is POSTed as `TaskQueueSid`).
pub fn event_params(ws: &Workspace, e: &Event) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("EventType", e.event_type.clone()),
        ("AccountSid", ws.account_sid.to_string()),
        ("WorkspaceSid", ws.sid.to_string()),
        ("WorkspaceName", ws.friendly_name.clone()),
        ("EventDescription", e.description.clone()),
        ("ResourceType", e.resource_type.clone()),
        ("ResourceSid", e.resource_sid.clone()),
        ("Timestamp", e.date.as_secs().to_string()),
        ("TimestampMs", e.date.as_millis().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in &e.data {
        let name = pascal_case(key);
        if !p.iter().any(|(k, _)| *k == name) {
            p.push((name, value.clone()));
        }
    }
    p
}

fn pascal_case(snake: &str) -> String {
    heck::ToUpperCamelCase::to_upper_camel_case(snake)
}

/// Whether the workspace's `EventsFilter` lets the event type through (all do without one).
fn wanted(ws: &Workspace, event_type: &str) -> bool {
    ws.events_filter
        .as_deref()
        .is_none_or(|f| f.split(',').any(|t| t.trim() == event_type))
}

/// Delivery tasks, aborted with their owner.
struct Deliveries(HashMap<WorkspaceSid, JoinHandle<()>>);

impl Drop for Deliveries {
    fn drop(&mut self) {
        for h in self.0.values() {
            h.abort();
        }
    }
}

/// Starts delivering event callbacks: one task per workspace with an `EventCallbackUrl`, each
/// POST given `timeout` (Twilio's is 15 s).
pub(crate) fn spawn(
    engine: Engine,
    tokens: Arc<HashMap<AccountSid, String>>,
    timeout: Duration,
    client: Sender,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut signal = engine.event_signal();
        let mut running = Deliveries(HashMap::new());
        loop {
            signal.borrow_and_update();
            match engine.workspaces_with_event_callbacks().await {
                Ok(list) => {
                    running.0.retain(|_, h| !h.is_finished());
                    // Another node's workspaces are its to deliver.
                    for ws in list.into_iter().filter(|ws| engine.decides_for(ws)) {
                        running.0.entry(ws.clone()).or_insert_with(|| {
                            let span = tracing::info_span!("event_callbacks", workspace = %ws);
                            let delivery = deliver_workspace(
                                engine.clone(),
                                client.clone(),
                                tokens.clone(),
                                ws,
                                timeout,
                            );
                            tokio::spawn(delivery.instrument(span))
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listing workspaces with event callbacks failed")
                }
            }
            // New events wake this up (a workspace given a URL starts delivering with its next
            // event); the tick catches anything else.
            tokio::select! {
                changed = signal.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Delivers one workspace's events until it has no `EventCallbackUrl` any more.
async fn deliver_workspace(
    engine: Engine,
    client: Sender,
    tokens: Arc<HashMap<AccountSid, String>>,
    ws: WorkspaceSid,
    timeout: Duration,
) {
    let mut signal = engine.event_signal();
    loop {
        if !engine.decides_for(&ws) {
            // Handed to another node, which delivers from the recorded cursor on: an event
            // may reach the callback twice, which at-least-once allows.
            return;
        }
        // Marked seen before reading, so events committed after the read wake the wait below.
        signal.borrow_and_update();
        let (workspace, events) = match engine.undelivered_events(&ws, BATCH).await {
            Ok(found) => found,
            Err(switchyard_engine::Error::NotFound { .. }) => return,
            Err(e) => {
                tracing::warn!(workspace = %ws, error = %e, "reading undelivered events failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(url) = workspace.event_callback_url.clone() else {
            return;
        };
        if events.is_empty() {
            // The tick notices a hand-over to another node while nothing happens here.
            tokio::select! {
                changed = signal.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let token = tokens
            .get(&workspace.account_sid)
            .cloned()
            .unwrap_or_default();
        let last = events.last().map(|(seq, _)| *seq);
        for (seq, event) in events {
            // An event the filter leaves out is recorded with the next one sent, or at the end
            // of the batch: a restart before that only looks at it again.
            if !wanted(&workspace, &event.event_type) && Some(seq) != last {
                continue;
            }
            if wanted(&workspace, &event.event_type) {
                let params = event_params(&workspace, &event);
                let target = Target {
                    ws: &ws,
                    url: &url,
                    token: &token,
                };
                if post_with_retries(&engine, &client, &target, &params, timeout).await
                    == Delivery::Stopped
                {
                    return;
                }
            }
            if let Err(e) = engine.mark_events_delivered(&ws, seq).await {
                if matches!(engine.event_callback_url(&ws).await, Ok(None)) {
                    return; // deleted meanwhile: nothing left to deliver
                }
                // Not recorded: the event is sent again, which at-least-once allows.
                tracing::warn!(workspace = %ws, error = %e, "recording an event delivery failed");
            }
        }
    }
}

/// Where one workspace's event callbacks go.
struct Target<'a> {
    ws: &'a WorkspaceSid,
    url: &'a str,
    token: &'a str,
}

/// How posting one event ended.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// Delivered, or given up on after every attempt.
    Done,
    /// The workspace was deleted or its `EventCallbackUrl` changed meanwhile: this delivery
    /// task ends (a new one starts for a new URL).
    Stopped,
}

async fn post_with_retries(
    engine: &Engine,
    client: &Sender,
    target: &Target<'_>,
    params: &[(String, String)],
    timeout: Duration,
) -> Delivery {
    let url = target.url;
    let event_type = params.first().map_or("", |(_, v)| v.as_str());
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        match post(engine, client, target, params, attempt, timeout).await {
            Ok(()) => return Delivery::Done,
            Err(why) if attempt == ATTEMPTS => {
                tracing::warn!(%url, event_type, %why, attempts = ATTEMPTS, "event callback given up");
            }
            Err(why) => {
                tracing::info!(%url, event_type, %why, attempt, "event callback failed; retrying");
                engine
                    .clock()
                    .sleep_until(webhook::after(engine, wait))
                    .await;
                wait *= 2;
                match engine.event_callback_url(target.ws).await {
                    Ok(Some(now)) if now == url => {}
                    Ok(_) => {
                        tracing::info!(%url, event_type, "event callbacks stopped: the workspace was deleted or its EventCallbackUrl changed");
                        return Delivery::Stopped;
                    }
                    Err(e) => tracing::warn!(%url, error = %e, "reading the workspace failed"),
                }
            }
        }
    }
    Delivery::Done
}

/// One POST; any 2xx answer delivers it.
async fn post(
    engine: &Engine,
    client: &Sender,
    target: &Target<'_>,
    params: &[(String, String)],
    number: u32,
    timeout: Duration,
) -> Result<(), String> {
    let attempt = Attempt {
        kind: Kind::Event,
        workspace: target.ws,
        url: target.url,
        token: target.token,
        params,
        number,
        replay_of: None,
    };
    let sent = webhook::send(engine, client, &attempt, timeout, None).await;
    let failure = failure(&sent);
    client.logged(&attempt, &sent, failure.as_deref());
    failure.map_or(Ok(()), Err)
}

/// Why an event callback's answer counts as a failure, if it does: a 2xx status delivers the
/// event, whatever becomes of the body after it (read only for the callback log).
pub(crate) fn failure(sent: &webhook::Answer) -> Option<String> {
    if sent.succeeded() {
        return None;
    }
    match (&sent.error, sent.status) {
        (Some(why), _) => Some(why.clone()),
        (None, Some(status)) => Some(format!("answered HTTP {status}")),
        (None, None) => Some("no answer".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys_become_pascal_case_form_fields() {
        assert_eq!(pascal_case("task_queue_sid"), "TaskQueueSid");
        assert_eq!(
            pascal_case("worker_time_in_previous_activity_ms"),
            "WorkerTimeInPreviousActivityMs"
        );
        assert_eq!(pascal_case("task_age"), "TaskAge");
    }
}
