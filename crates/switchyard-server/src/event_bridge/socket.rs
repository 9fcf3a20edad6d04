//! `GET /v1/wschannels?token=…` upgraded to a WebSocket: the server talks, the client only
//! listens. The first frame introduces the channel (`init`: the worker's SID, its account and
//! workspace, the token's remaining lifetime); then the worker's own events in commit order
//! (its activity, attributes and channels, its reservations with their tasks, those tasks'
//! changes), from the workspace's feed (`hub.rs`), each as `{event_type, payload}`; a
//! whitespace frame every 15 s keeps it alive (the SDK gives up after 30 s of silence). The
//! socket closes when the worker is deleted (at once) or its workspace is (by the next beat).

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_core::event::Event;
use switchyard_core::model::Worker;
use switchyard_core::sid::{ReservationSid, TaskSid};
use switchyard_engine::{PageRequest, ReservationScope, ReservationStatus, UpdateWorker};
use tokio::sync::watch;

use super::hub::Subscription;
use super::payload;
use crate::access_token::{Grant, TokenError};
use crate::error::ApiError;
use crate::AppState;

/// How often the socket beats when it has nothing else to say.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// A socket's read buffer (tungstenite's default is 128 KiB).
const SOCKET_READ_BUFFER: usize = 4 * 1024;
/// The largest message or frame a client may send (it has nothing to say).
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// The socket's query: what the SDK appends to `wsServer`.
#[derive(Debug, Deserialize)]
pub(crate) struct SocketQuery {
    #[serde(default)]
    token: String,
    /// Close the worker's other sockets.
    #[serde(default, rename = "closeExistingSessions")]
    close_existing_sessions: Option<String>,
    /// Move the worker to the workspace's default (offline) activity when its last socket
    /// closes; true unless the SDK says `false`.
    #[serde(default, rename = "setWorkerOfflineIfDisconnected")]
    set_worker_offline_if_disconnected: Option<String>,
}

fn flag(value: Option<&str>, default: bool) -> bool {
    value.map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

/// Now, in seconds since the epoch, on the wall clock: tokens are minted by apps on real time,
/// so they expire on it, whatever the engine's (possibly manual) clock says.
pub(crate) fn wall_clock_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Refuses a token as Twilio does: 20104 once it expired, 20101 otherwise.
pub(crate) fn refused(e: &TokenError) -> ApiError {
    let code = if matches!(e, TokenError::Expired) {
        20104
    } else {
        20101
    };
    ApiError::AccessToken {
        code,
        message: e.to_string(),
    }
}

/// `GET /v1/wschannels`.
pub(crate) async fn socket(
    State(st): State<AppState>,
    Query(q): Query<SocketQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let grant = match st.api_keys.verify(&q.token, wall_clock_secs()) {
        Ok(g) => g,
        Err(e) => return refused(&e).into_response(),
    };
    // The grant's worker must exist, in that account's workspace.
    if let Err(e) = (st.engine)
        .worker(&grant.account, &grant.workspace, &grant.worker)
        .await
    {
        let message = format!("The access token's worker cannot be used: {e}");
        return ApiError::AccessToken {
            code: 20101,
            message,
        }
        .into_response();
    }
    // Subscribed before the upgrade: nothing that commits once the client is told it is
    // connected is missed.
    let feed = match (st.hub)
        .feed(&st.engine, &grant.account, &grant.workspace)
        .await
    {
        Ok(feed) => feed,
        Err(e) => return ApiError::engine("/v1/wschannels", e).into_response(),
    };
    let events = feed.subscribe(&grant.worker);
    let close_others = flag(q.close_existing_sessions.as_deref(), false);
    let offline_when_gone = flag(q.set_worker_offline_if_disconnected.as_deref(), true);
    // The client never speaks: a small read buffer and a small bound on what it may send keep
    // a thousand idle sockets cheap and a misbehaving client from buffering megabytes.
    let upgrade = upgrade
        .read_buffer_size(SOCKET_READ_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE);
    upgrade.on_upgrade(move |ws| async move {
        let session = st
            .sessions
            .open(&grant.workspace, &grant.worker, close_others);
        let ended = run(ws, &st, &grant, events, session.closed).await;
        let last = st
            .sessions
            .close(&grant.workspace, &grant.worker, session.id);
        if last && offline_when_gone && ended == Ended::Disconnected {
            go_offline(&st, &grant).await;
        }
    })
}

/// Moves the worker to its workspace's default activity (Offline unless changed): its last
/// socket closed and the SDK asked for it.
async fn go_offline(st: &AppState, grant: &Grant) {
    let (account, ws) = (&grant.account, &grant.workspace);
    let Ok(workspace) = st.engine.workspace(account, ws).await else {
        return;
    };
    let update = UpdateWorker {
        activity_sid: Some(workspace.default_activity_sid),
        ..UpdateWorker::default()
    };
    if let Err(e) = st
        .engine
        .update_worker(account, ws, &grant.worker, update)
        .await
    {
        tracing::warn!(workspace = %ws, worker = %grant.worker, error = %e, "setting a disconnected worker offline failed");
    }
}

/// The frame that tells the worker of `e`, if it is about this worker and the SDK handles it.
///
/// `tasks` are the tasks the worker has held reservations of: their `task.*` events are its too
/// (they name no worker).
async fn frame(
    st: &AppState,
    grant: &Grant,
    tasks: &mut HashSet<TaskSid>,
    e: &Event,
) -> Option<Value> {
    let (account, ws) = (&grant.account, &grant.workspace);
    if let Some(kind) = e.event_type.strip_prefix("task.") {
        if !matches!(kind, "updated" | "canceled" | "completed" | "wrapup") {
            return None;
        }
        let sid: TaskSid = e.get("task_sid")?.parse().ok()?;
        if !tasks.contains(&sid) {
            return None;
        }
        let task = st.engine.task(account, ws, &sid).await.ok()?;
        if task.assignment_status.is_final() {
            tasks.remove(&sid);
        }
        let payload = payload::task(account, &task, st.engine.now());
        return Some(json!({ "event_type": e.event_type, "payload": payload }));
    }
    if e.get("worker_sid") != Some(grant.worker.as_str()) {
        return None;
    }
    let payload = match e.event_type.as_str() {
        "worker.activity.update" | "worker.attributes.update" => {
            let now = st.engine.worker(account, ws, &grant.worker).await.ok()?;
            let activity = match e.get("worker_activity_sid") {
                Some(a) if a != now.activity_sid.as_str() => {
                    let a = a.parse().ok()?;
                    st.engine.activity(account, ws, &a).await.ok()
                }
                _ => None,
            };
            payload::worker(account, &as_of(now, e, activity.map(|a| a.available)))
        }
        // The SDK updates the channel the payload names (and bumps the worker's version).
        "worker.capacity.update" | "worker.channel.availability.update" => {
            let channel = e.get("task_channel_sid")?;
            let c = (st.engine)
                .worker_channel(account, ws, &grant.worker, channel)
                .await
                .ok()?;
            payload::channel(account, &c)
        }
        t if t.starts_with("reservation.") => {
            let sid: ReservationSid = e.get("reservation_sid")?.parse().ok()?;
            let scope = ReservationScope::Worker(grant.worker.clone());
            let r = st
                .engine
                .reservation(account, ws, &scope, &sid)
                .await
                .ok()?;
            let task = st.engine.task(account, ws, &r.task_sid).await.ok()?;
            tasks.insert(task.sid.clone());
            let timeout = super::rpc::reservation_timeout(st, grant, &task).await;
            payload::reservation(account, &r, Some(&task), timeout, st.engine.now())
        }
        _ => return None,
    };
    Some(json!({ "event_type": e.event_type, "payload": payload }))
}

/// The worker as `e` saw it, from its row `now` (read later): the event's name, attributes,
/// activity (`available`: that activity's availability, when it is no longer the worker's)
/// and version. A frame must not carry a version from after its event: the SDK bumps its copy
/// on the reservation events that follow, and would run ahead of the server, failing its next
/// `If-Match` with 412.
fn as_of(mut now: Worker, e: &Event, available: Option<bool>) -> Worker {
    if let Some(version) = e.get("worker_version").and_then(|v| v.parse().ok()) {
        now.version = version;
    }
    if let Some(name) = e.get("worker_name") {
        now.friendly_name = name.to_owned();
    }
    if let Some(attributes) = e.get("worker_attributes") {
        now.attributes = attributes.to_owned();
    }
    if let (Some(sid), Some(name)) = (
        e.get("worker_activity_sid").and_then(|s| s.parse().ok()),
        e.get("worker_activity_name"),
    ) {
        if sid != now.activity_sid {
            if let Some(available) = available {
                (now.activity_sid, now.activity_name, now.available) =
                    (sid, name.to_owned(), available);
            }
        }
    }
    now
}

/// The tasks of the worker's live reservations when it connects.
async fn held_tasks(st: &AppState, grant: &Grant) -> HashSet<TaskSid> {
    let scope = ReservationScope::Worker(grant.worker.clone());
    let mut tasks = HashSet::new();
    for status in [
        ReservationStatus::Pending,
        ReservationStatus::Accepted,
        ReservationStatus::Wrapping,
    ] {
        let page = PageRequest {
            size: 1000,
            ..PageRequest::default()
        };
        if let Ok(found) = (st.engine)
            .list_reservations(
                &grant.account,
                &grant.workspace,
                &scope,
                Some(status),
                None,
                page,
            )
            .await
        {
            tasks.extend(found.items.into_iter().map(|(_, r)| r.task_sid));
        }
    }
    tasks
}

/// Why a socket stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The client went, or the server closed it (fell behind, store failure).
    Disconnected,
    /// A newer session of the worker asked for this one to go.
    Replaced,
    /// The worker (or its workspace) was deleted.
    WorkerGone,
}

/// Serves the socket until it closes; says why it stopped.
async fn run(
    mut ws: WebSocket,
    st: &AppState,
    grant: &Grant,
    mut events: Subscription,
    mut closed: watch::Receiver<bool>,
) -> Ended {
    let lifetime_ms = (grant.expires_at - wall_clock_secs()).max(0) * 1000;
    let init = json!({
        "event_type": "init",
        "payload": {
            "channel_id": grant.worker.to_string(),
            "account_sid": grant.account.to_string(),
            "workspace_sid": grant.workspace.to_string(),
            "token_lifetime": lifetime_ms,
        },
    });
    if ws
        .send(Message::Text(init.to_string().into()))
        .await
        .is_err()
    {
        return Ended::Disconnected;
    }
    tracing::info!(workspace = %grant.workspace, worker = %grant.worker, "worker connected");
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut tasks = held_tasks(st, grant).await;
    let mut ended = Ended::Disconnected;
    loop {
        tokio::select! {
            _ = closed.changed() => {
                ended = Ended::Replaced;
                let _ = ws.send(Message::Close(None)).await;
                break;
            }
            _ = beat.tick() => {
                // The worker (or its workspace) deleted: closing makes the SDK reconnect, and
                // its token is refused from then on.
                if st.engine.worker(&grant.account, &grant.workspace, &grant.worker).await.is_err() {
                    ended = Ended::WorkerGone;
                    let _ = ws.send(Message::Close(None)).await;
                    break;
                }
                if ws.send(Message::Text(" ".into())).await.is_err() {
                    break;
                }
            }
            next = events.recv() => match next {
                Some(e) if e.event_type == "worker.deleted" => {
                    ended = Ended::WorkerGone;
                    let _ = ws.send(Message::Close(None)).await;
                    break;
                }
                Some(e) => {
                    if let Some(frame) = frame(st, grant, &mut tasks, &e).await {
                        if ws.send(Message::Text(frame.to_string().into())).await.is_err() {
                            break;
                        }
                    }
                }
                // Fell behind (events were missed) or the feed ended (the store failed):
                // closing makes the SDK reconnect and fetch its state afresh.
                None => {
                    let _ = ws.send(Message::Close(None)).await;
                    break;
                }
            },
            incoming = ws.recv() => match incoming {
                // The client never speaks; whatever it sends is ignored, until it goes.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    tracing::info!(workspace = %grant.workspace, worker = %grant.worker, ?ended, "worker disconnected");
    ended
}

#[cfg(test)]
mod tests {
    use switchyard_core::event::build;
    use switchyard_core::model::{QueueOrder, Worker, Workspace};
    use switchyard_core::sid::Sid;
    use switchyard_core::Timestamp;

    use super::as_of;

    fn sid<T: Sid>(n: u8) -> T {
        T::from_bytes([n; 16])
    }

    #[test]
    fn a_worker_frame_carries_the_worker_as_its_event_saw_it() {
        let now = Timestamp::from_secs(1_800_000_000);
        let workspace = Workspace {
            sid: sid(1),
            account_sid: sid(2),
            friendly_name: "W".into(),
            default_activity_sid: sid(3),
            default_activity_name: "Offline".into(),
            timeout_activity_sid: sid(3),
            timeout_activity_name: "Offline".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: true,
            prioritize_queue_order: QueueOrder::Fifo,
            date_created: now,
            date_updated: now,
        };
        let then = Worker {
            sid: sid(4),
            workspace_sid: sid(1),
            friendly_name: "Dan".into(),
            activity_sid: sid(5),
            activity_name: "Available".into(),
            available: true,
            attributes: "{}".into(),
            date_status_changed: now,
            date_created: now,
            date_updated: now,
            version: 1,
            idle_since: now,
        };
        let event = build::worker(sid(6), &workspace, "worker.activity.update", &then, now);
        // Read later: reserved since (version 2), then moved to an unavailable activity.
        let mut later = then.clone();
        later.version = 3;
        (later.activity_sid, later.activity_name, later.available) =
            (sid(7), "Unavailable".into(), false);
        assert_eq!(as_of(later.clone(), &event, Some(true)), then);
        // The event's activity is gone: the row's stays, the version is still the event's.
        let seen = as_of(later.clone(), &event, None);
        assert_eq!((seen.version, seen.activity_sid), (1, later.activity_sid));
    }
}
