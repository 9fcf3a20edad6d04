//! Assignment callbacks are never lost and tasks never stranded: failed callbacks back off and
//! retry, restarts re-send what was left unanswered, and recovery's own reservations are heard of.

use crate::common::*;
use crate::routing::{available_worker, simple_workspace};

fn status(v: &serde_json::Value) -> &str {
    v["assignment_status"].as_str().unwrap_or_default()
}

async fn advance(s: &Server, secs: &str) {
    let (st, body) = s.post("/_switchyard/Clock", &[("Advance", secs)]).await;
    assert_eq!(st, 200, "{body}");
}

/// The reason the workspace's first `reservation.canceled` event gives, once there is one.
async fn first_canceled_reason(s: &Server, w: &str) -> String {
    let canceled = s
        .eventually(&format!("{w}/Events?EventType=reservation.canceled"), |e| {
            e["events"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    canceled["events"][0]["event_data"]["reservation_canceled_reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn file_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = switchyard_engine::testing::database_at(&dir.path().join("switchyard.db"));
    (dir, url)
}

#[tokio::test]
async fn a_failed_callback_offers_the_task_to_the_same_worker_again_after_a_backoff() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::status(500)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = available_worker(&s, &ws, "only").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let first = app.next().await;
    assert_eq!(first.params["WorkerSid"], worker);
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "pending")
        .await;
    let why = first_canceled_reason(&s, &w).await;
    assert!(
        why.starts_with("Assignment callback failed: answered HTTP 500"),
        "the event says why: {why}"
    );
    // 5 s of backoff: nothing before, the same worker offered it again after.
    advance(&s, "4.9").await;
    app.none_within(200).await;
    app.set_reply(Reply::json(r#"{"instruction":"accept"}"#));
    advance(&s, "0.1").await;
    let again = app.next().await;
    assert_eq!(again.params["WorkerSid"], worker);
    assert_eq!(again.params["TaskSid"], task);
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "assigned")
        .await;
    s.stop().await;
}

#[tokio::test]
async fn the_backoff_doubles_and_holds_across_a_restart() {
    let (_dir, url) = file_db();
    let s = Server::start_on(&url, Default::default()).await;
    let mut app = Receiver::start(Reply::status(503)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = available_worker(&s, &ws, "only").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    app.next().await;
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "pending")
        .await;
    advance(&s, "5").await;
    app.next().await; // the second failure: 10 s now
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "pending")
        .await;
    s.stop().await;

    let s = Server::start_on(&url, Default::default()).await;
    app.none_within(300).await;
    advance(&s, "9.9").await;
    app.none_within(200).await;
    app.set_reply(Reply::json("{}"));
    advance(&s, "0.1").await;
    let again = app.next().await;
    assert_eq!(again.params["WorkerSid"], worker);
    s.stop().await;
}

#[tokio::test]
async fn an_unanswered_reservation_is_posted_again_after_a_restart_and_an_answered_one_is_not() {
    let (_dir, url) = file_db();
    let s = Server::start_on(&url, Default::default()).await;
    // The app holds the request: the process stops before it answers.
    let mut app = Receiver::start(Reply {
        status: 200,
        body: "{}".into(),
        delay_ms: 600_000,
    })
    .await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "only").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let first = app.next().await;
    s.stop().await;

    app.set_reply(Reply::json("{}"));
    let s = Server::start_on(&url, Default::default()).await;
    let again = app.next().await;
    assert_eq!(
        again.params["ReservationSid"],
        first.params["ReservationSid"]
    );
    assert_eq!(again.params["TaskSid"], task);
    // Answered `{}` (left pending for a REST call): recorded, so not sent a third time.
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "reserved")
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut s = s;
    loop {
        // The answer is recorded after it arrives: restart until it has been.
        s.stop().await;
        s = Server::start_on(&url, Default::default()).await;
        match app.within(300).await {
            None => break,
            Some(_) => assert!(std::time::Instant::now() < deadline, "re-sent every time"),
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn a_reservation_made_by_start_up_recovery_gets_its_callback() {
    let (_dir, url) = file_db();
    let s = Server::start_on(&url, Default::default()).await;
    let mut app = Receiver::start(Reply::json(r#"{"instruction":"accept"}"#)).await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let mut queues = Vec::new();
    for (name, target) in [("Nobody", "team == 'none'"), ("Everyone", "1 == 1")] {
        let form = [("FriendlyName", name), ("TargetWorkers", target)];
        queues.push(sid_of(&s.create(&format!("{w}/TaskQueues"), &form).await));
    }
    let config = format!(
        r#"{{"task_routing":{{"filters":[{{"expression":"1==1","targets":[{{"queue":"{}","timeout":10}},{{"queue":"{}"}}]}}]}}}}"#,
        queues[0], queues[1]
    );
    let form = [
        ("FriendlyName", "F"),
        ("Configuration", config.as_str()),
        ("AssignmentCallbackUrl", app.url.as_str()),
    ];
    s.create(&format!("{w}/Workflows"), &form).await;
    let worker = available_worker(&s, &ws, "a").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    app.none_within(200).await;
    s.stop().await;

    // The step timeout fell due while the server was down: recovery reserves the worker.
    let later = switchyard_engine::Timestamp::from_millis(START.as_millis() + 30_000);
    let s = Server::start_at(&url, Default::default(), later).await;
    let cb = app.next().await;
    assert_eq!(
        (
            cb.params["TaskSid"].as_str(),
            cb.params["WorkerSid"].as_str()
        ),
        (task.as_str(), worker.as_str())
    );
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "assigned")
        .await;
    s.stop().await;
}

#[tokio::test]
async fn event_callbacks_stop_when_their_workspace_is_deleted() {
    let s = Server::start().await;
    let mut rx = Receiver::start(Reply::status(500)).await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    s.ok(&w, &[("EventCallbackUrl", rx.url.as_str())]).await;
    let first = rx.next().await;
    assert_eq!(first.params["EventType"], "workspace.updated");
    let (st, _) = s.delete(&w).await;
    assert_eq!(st, 204);
    // Retries would come 1, 2 and 4 s later on the engine's clock.
    advance(&s, "10").await;
    rx.none_within(300).await;
    s.stop().await;
}

#[tokio::test]
async fn the_callback_policy_refuses_denied_addresses_and_says_why() {
    let s = Server::start_configured(|mut c| {
        c.callback_policy.deny = vec!["127.0.0.0/8".parse().unwrap()];
        c
    })
    .await;
    let mut app = Receiver::start(Reply::json(r#"{"instruction":"accept"}"#)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "only").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let why = first_canceled_reason(&s, &w).await;
    assert!(why.contains("denied by --callback-deny"), "{why}");
    app.none_within(200).await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "pending"
    );
    s.stop().await;

    // Allowed by name only: a name that resolves to a loopback address is refused too.
    let s = Server::start_configured(|mut c| {
        c.callback_policy.allow = vec![".example.com".parse().unwrap()];
        c
    })
    .await;
    let local_name = app.url.replace("127.0.0.1", "localhost");
    let (ws, _, _) = simple_workspace(&s, Some(&local_name), "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "only").await;
    s.create(&format!("{w}/Tasks"), &[]).await;
    let why = first_canceled_reason(&s, &w).await;
    assert!(why.contains("not allowed by --callback-allow"), "{why}");
    app.none_within(200).await;
    s.stop().await;
}
