//! Event callbacks: POSTed in order, filtered, signed, retried, and owed across a restart.

use crate::common::*;
use crate::routing::simple_workspace;

/// Moves the manual clock a second at a time until a callback arrives (the delivery task sleeps
/// on that clock between attempts), for up to 60 simulated seconds.
async fn advance_until_callback(s: &Server, rx: &mut Receiver) -> Callback {
    for _ in 0..60 {
        if let Some(cb) = rx.within(100).await {
            return cb;
        }
        s.post("/_switchyard/Clock", &[("Advance", "1")]).await;
    }
    panic!("no callback within 60 simulated seconds");
}

fn event_type(cb: &Callback) -> &str {
    &cb.params["EventType"]
}

#[tokio::test]
async fn events_are_posted_in_order_signed_and_filtered() {
    let s = Server::start().await;
    let mut rx = Receiver::start(Reply::status(204)).await;
    let (ws, queue, workflow) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    s.ok(
        &w,
        &[
            ("EventCallbackUrl", rx.url.as_str()),
            (
                "EventsFilter",
                "task.created,task-queue.entered,task.canceled",
            ),
        ],
    )
    .await;
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"x":1}"#)])
            .await,
    );
    let created = rx.next().await;
    assert_eq!(event_type(&created), "task.created");
    let p = &created.params;
    for (field, want) in [
        ("AccountSid", ACCOUNT),
        ("WorkspaceSid", ws.as_str()),
        ("WorkspaceName", "W"),
        ("ResourceType", "task"),
        ("ResourceSid", task.as_str()),
        ("TaskSid", task.as_str()),
        ("TaskAttributes", r#"{"x":1}"#),
        ("TaskAge", "0"),
        ("TaskPriority", "0"),
        ("TaskAssignmentStatus", "pending"),
        ("WorkflowSid", workflow.as_str()),
        ("Timestamp", &START.as_secs().to_string()),
        ("TimestampMs", &START.as_millis().to_string()),
    ] {
        assert_eq!(p.get(field).map(String::as_str), Some(want), "{field}");
    }
    assert!(p["EventDescription"].contains(task.as_str()));
    assert_eq!(
        created.signature,
        switchyard_server::callback::signature(TOKEN, &created.url, &created.pairs)
    );
    let entered = rx.next().await;
    assert_eq!(event_type(&entered), "task-queue.entered");
    assert_eq!(entered.params["TaskQueueSid"], queue);
    assert_eq!(entered.params["TaskQueueName"], "Q");

    s.ok(
        &format!("{w}/Tasks/{task}"),
        &[("AssignmentStatus", "canceled"), ("Reason", "gone")],
    )
    .await;
    let canceled = rx.next().await;
    assert_eq!(event_type(&canceled), "task.canceled");
    assert_eq!(canceled.params["TaskCanceledReason"], "gone");
    // workflow.entered and workflow.target-matched were filtered out.
    rx.none_within(300).await;
    s.stop().await;
}

#[tokio::test]
async fn a_failing_then_stalling_receiver_gets_every_event_in_order_once_it_recovers() {
    let s = Server::start().await;
    let mut rx = Receiver::start(Reply::status(500)).await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    s.ok(&w, &[("EventCallbackUrl", rx.url.as_str())]).await;
    s.create(&format!("{w}/Tasks"), &[]).await;

    // The first event the new URL hears of is its own setting (`workspace.updated`).
    // First attempt: HTTP 500. The retry, a second later on the engine's clock, stalls.
    let first = rx.next().await;
    assert_eq!(event_type(&first), "workspace.updated");
    rx.set_reply(Reply {
        status: 204,
        body: String::new(),
        delay_ms: 600_000,
    });
    let stalled = advance_until_callback(&s, &mut rx).await;
    assert_eq!(event_type(&stalled), "workspace.updated");
    // After 15 s without an answer it is tried again; now the receiver answers at once.
    rx.set_reply(Reply::status(204));
    let third = advance_until_callback(&s, &mut rx).await;
    assert_eq!(event_type(&third), "workspace.updated");
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(event_type(&rx.next().await).to_owned());
    }
    assert_eq!(
        rest,
        [
            "task.created",
            "workflow.entered",
            "workflow.target-matched",
            "task-queue.entered"
        ]
    );
    rx.none_within(300).await;
    s.stop().await;
}

#[tokio::test]
async fn events_owed_at_shutdown_are_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = switchyard_engine::testing::database_at(&dir.path().join("events.db"));
    let mut rx = Receiver::start(Reply::status(503)).await;
    let s = Server::start_on(&url, Default::default()).await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    s.ok(&w, &[("EventCallbackUrl", rx.url.as_str())]).await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(event_type(&rx.next().await), "workspace.updated");
    s.stop().await;

    rx.set_reply(Reply::status(204));
    let s = Server::start_on(&url, Default::default()).await;
    assert_eq!(event_type(&rx.next().await), "workspace.updated");
    let mut got = Vec::new();
    for _ in 0..4 {
        let cb = rx.next().await;
        assert_eq!(cb.params["TaskSid"], task);
        got.push(event_type(&cb).to_owned());
    }
    assert_eq!(
        got,
        [
            "task.created",
            "workflow.entered",
            "workflow.target-matched",
            "task-queue.entered"
        ]
    );
    rx.none_within(300).await;
    s.stop().await;
}
