//! Tasks, matching, reservations and assignment callbacks, over HTTP with a real app server.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

fn status(v: &Value) -> &str {
    v["assignment_status"].as_str().unwrap_or_default()
}

/// The photo-captioning walk-through: Idle/Busy activities, a caption queue and workflow, an app
/// that accepts in its assignment callback, the worker toggled Busy and back to Idle.
#[tokio::test]
async fn photo_captioning_walkthrough() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::json(r#"{"instruction":"accept"}"#)).await;
    let ws = s.workspace("Photobooth").await;
    let w = format!("/Workspaces/{ws}");
    let idle = sid_of(
        &s.create(
            &format!("{w}/Activities"),
            &[("FriendlyName", "Idle"), ("Available", "true")],
        )
        .await,
    );
    let busy = sid_of(
        &s.create(
            &format!("{w}/Activities"),
            &[("FriendlyName", "Busy"), ("Available", "false")],
        )
        .await,
    );
    s.ok(&w, &[("DefaultActivitySid", &idle)]).await;
    let queue = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Caption Queue"),
                ("TargetWorkers", r#"skill == "caption""#),
            ],
        )
        .await,
    );
    let config = format!(
        r#"{{"task_routing":{{"filters":[{{"expression":"required_skill = \"caption\"","targets":[{{"queue":"{queue}"}}]}}]}}}}"#
    );
    let workflow = sid_of(
        &s.create(
            &format!("{w}/Workflows"),
            &[
                ("FriendlyName", "Photos"),
                ("Configuration", &config),
                ("AssignmentCallbackUrl", &app.url),
            ],
        )
        .await,
    );
    let worker = s
        .create(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "+15555550100"),
                (
                    "Attributes",
                    r#"{"phone_number":"+15555550100","skill":"caption"}"#,
                ),
            ],
        )
        .await;
    assert_eq!(worker["activity_name"], "Idle");
    let worker = sid_of(&worker);

    // A photo arrives: the task is created pending and reserved for the volunteer at once.
    let attrs = r#"{"image_url":"https://example.com/1.jpg","required_skill":"caption"}"#;
    let ((st, task), headers) = s
        .request(
            reqwest::Method::POST,
            &format!("{w}/Tasks"),
            &[("Attributes", attrs)],
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{task}");
    assert_eq!(headers["etag"], "\"0\"");
    assert_eq!(status(&task), "pending");
    assert_eq!(task["workflow_sid"], workflow.as_str());
    assert_eq!(task["workflow_friendly_name"], "Photos");
    assert_eq!(task["task_queue_sid"], queue.as_str());
    assert_eq!(task["task_queue_friendly_name"], "Caption Queue");
    assert_eq!(task["task_queue_entered_date"], "2014-05-14T10:50:02Z");
    assert_eq!(task["task_channel_unique_name"], "default");
    assert_eq!(task["timeout"], 86400);
    assert_eq!(task["age"], 0);
    assert_eq!(
        task["links"]["task_queue"],
        format!("{}/v1{w}/TaskQueues/{queue}", s.base)
    );
    let task = sid_of(&task);

    let cb = app.next().await;
    assert_eq!(cb.params["AccountSid"], ACCOUNT);
    assert_eq!(cb.params["WorkspaceSid"], ws);
    assert_eq!(cb.params["WorkflowSid"], workflow);
    assert_eq!(cb.params["TaskQueueSid"], queue);
    assert_eq!(cb.params["TaskSid"], task);
    assert_eq!(cb.params["TaskAttributes"], attrs);
    assert_eq!(cb.params["TaskPriority"], "0");
    assert_eq!(cb.params["TaskAge"], "0");
    assert_eq!(cb.params["WorkerSid"], worker);
    assert_eq!(cb.params["WorkerName"], "+15555550100");
    assert_eq!(
        cb.params["WorkerAttributes"],
        r#"{"phone_number":"+15555550100","skill":"caption"}"#
    );
    assert!(cb.params["ReservationSid"].starts_with("WR"));
    assert_eq!(cb.params["Timestamp"], "1400064602");
    assert_eq!(
        cb.signature,
        switchyard_server::callback::signature(TOKEN, &cb.url, &cb.pairs),
        "signed with the account's token"
    );

    // The app answered accept: task assigned, reservation accepted.
    let t = s
        .eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "assigned")
        .await;
    assert_eq!(t["assignment_status"], "assigned");
    let (_, res) = s.get(&format!("{w}/Tasks/{task}/Reservations")).await;
    assert_eq!(res["reservations"][0]["reservation_status"], "accepted");
    assert_eq!(res["reservations"][0]["worker_name"], "+15555550100");
    assert_eq!(res["meta"]["key"], "reservations");

    // The app marks the volunteer Busy; a second photo waits.
    s.ok(&format!("{w}/Workers/{worker}"), &[("ActivitySid", &busy)])
        .await;
    let second = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", attrs)])
            .await,
    );
    app.none_within(200).await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{second}")).await.1),
        "pending"
    );

    // The caption comes back: the task is completed and the volunteer goes Idle.
    let done = s
        .ok(
            &format!("{w}/Tasks/{task}"),
            &[
                ("AssignmentStatus", "completed"),
                ("Reason", "caption received"),
            ],
        )
        .await;
    assert_eq!(done["assignment_status"], "completed");
    assert_eq!(done["reason"], "caption received");
    let (_, res) = s.get(&format!("{w}/Tasks/{task}/Reservations")).await;
    assert_eq!(res["reservations"][0]["reservation_status"], "completed");
    s.ok(&format!("{w}/Workers/{worker}"), &[("ActivitySid", &idle)])
        .await;

    // Back to Idle: the waiting photo is offered at once.
    let cb = app.next().await;
    assert_eq!(cb.params["TaskSid"], second);
    s.eventually(&format!("{w}/Tasks/{second}"), |t| status(t) == "assigned")
        .await;
    s.stop().await;
}

/// The quickstart: a Spanish task waits for Alice while Bob idles; the callback answers `{}` and
/// the reservation is accepted later over REST.
#[tokio::test]
async fn quickstart_walkthrough() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::json("{}")).await;
    let ws = s.workspace("Quickstart").await;
    let w = format!("/Workspaces/{ws}");
    let available = s.activity(&ws, "Available").await;
    let spanish = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Spanish"),
                ("TargetWorkers", r#"languages HAS "es""#),
            ],
        )
        .await,
    );
    let english = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "English"),
                ("TargetWorkers", r#"languages HAS "en""#),
            ],
        )
        .await,
    );
    let config = format!(
        r#"{{"task_routing":{{"filters":[{{"expression":"selected_language=='es'","targets":[{{"queue":"{spanish}"}}]}},{{"expression":"selected_language=='en'","targets":[{{"queue":"{english}"}}]}}]}}}}"#
    );
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "Incoming"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", &app.url),
        ],
    )
    .await;
    let alice = sid_of(
        &s.create(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "Alice"),
                ("Attributes", r#"{"languages":["en","es"]}"#),
            ],
        )
        .await,
    );
    let bob = sid_of(
        &s.create(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "Bob"),
                ("ActivitySid", &available),
                ("Attributes", r#"{"languages":["en"]}"#),
            ],
        )
        .await,
    );

    let task = sid_of(
        &s.create(
            &format!("{w}/Tasks"),
            &[("Attributes", r#"{"selected_language":"es"}"#)],
        )
        .await,
    );
    app.none_within(200).await;
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(
        status(&t),
        "pending",
        "Bob is idle but does not speak Spanish"
    );
    let (_, bobs) = s.get(&format!("{w}/Workers/{bob}/Reservations")).await;
    assert_eq!(bobs["reservations"].as_array().unwrap().len(), 0);
    assert_eq!(t["task_queue_sid"], spanish.as_str());

    s.ok(
        &format!("{w}/Workers/{alice}"),
        &[("ActivitySid", &available)],
    )
    .await;
    let cb = app.next().await;
    assert_eq!(cb.params["WorkerSid"], alice);
    let reservation = cb.params["ReservationSid"].clone();
    // `{}` leaves the reservation pending for a REST decision.
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(status(&t), "reserved");
    let (_, r) = s
        .get(&format!("{w}/Workers/{alice}/Reservations/{reservation}"))
        .await;
    assert_eq!(r["reservation_status"], "pending");
    assert_eq!(
        r["url"],
        format!(
            "{}/v1{w}/Workers/{alice}/Reservations/{reservation}",
            s.base
        )
    );

    let r = s
        .ok(
            &format!("{w}/Tasks/{task}/Reservations/{reservation}"),
            &[("ReservationStatus", "accepted")],
        )
        .await;
    assert_eq!(r["reservation_status"], "accepted");
    assert_eq!(r["worker_sid"], alice.as_str());
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "assigned"
    );
    let (_, ch) = s
        .get(&format!("{w}/Workers/{alice}/Channels/default"))
        .await;
    assert_eq!(ch["assigned_tasks"], 1);
    assert_eq!(ch["available_capacity_percentage"], 0);

    // Accepting twice is refused and says why.
    assert_error(
        &s.post(
            &format!("{w}/Tasks/{task}/Reservations/{reservation}"),
            &[("ReservationStatus", "accepted")],
        )
        .await,
        400,
        20001,
        "is not pending: it is accepted",
    );
    s.stop().await;
}

pub(crate) async fn simple_workspace(
    s: &Server,
    callback: Option<&str>,
    max_reserved: &str,
) -> (String, String, String) {
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let queue = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[("FriendlyName", "Q"), ("MaxReservedWorkers", max_reserved)],
        )
        .await,
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let mut form = vec![("FriendlyName", "F"), ("Configuration", config.as_str())];
    if let Some(url) = callback {
        form.push(("AssignmentCallbackUrl", url));
    }
    let workflow = sid_of(&s.create(&format!("{w}/Workflows"), &form).await);
    (ws, queue, workflow)
}

pub(crate) async fn available_worker(s: &Server, ws: &str, name: &str) -> String {
    let available = s.activity(ws, "Available").await;
    sid_of(
        &s.create(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", name), ("ActivitySid", &available)],
        )
        .await,
    )
}

pub(crate) async fn pending_reservations(s: &Server, ws: &str, task: &str) -> Vec<Value> {
    let (_, res) = s
        .get(&format!(
            "/Workspaces/{ws}/Tasks/{task}/Reservations?ReservationStatus=pending"
        ))
        .await;
    res["reservations"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_rejected_task_moves_to_the_next_worker_and_not_back() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let first = available_worker(&s, &ws, "first").await;
    let second = available_worker(&s, &ws, "second").await;
    let unavailable = s.activity(&ws, "Unavailable").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let res = pending_reservations(&s, &ws, &task).await;
    assert_eq!(res.len(), 1);
    assert_eq!(
        res[0]["worker_sid"],
        first.as_str(),
        "the longest idle worker first"
    );
    let r = sid_of(&res[0]);
    let rejected = s
        .ok(
            &format!("{w}/Workers/{first}/Reservations/{r}"),
            &[
                ("ReservationStatus", "rejected"),
                ("WorkerActivitySid", &unavailable),
            ],
        )
        .await;
    assert_eq!(rejected["reservation_status"], "rejected");
    assert_eq!(
        s.get(&format!("{w}/Workers/{first}")).await.1["activity_name"],
        "Unavailable"
    );
    let res = pending_reservations(&s, &ws, &task).await;
    assert_eq!(res.len(), 1);
    assert_eq!(res[0]["worker_sid"], second.as_str());
    // The second rejects too and stays available; nobody is left who has not refused it.
    let r2 = sid_of(&res[0]);
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{r2}"),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    assert!(pending_reservations(&s, &ws, &task).await.is_empty());
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(status(&t), "pending");
    // The worker list filter by reservation status sees the history.
    let (_, all) = s.get(&format!("{w}/Tasks/{task}/Reservations")).await;
    assert_eq!(all["reservations"].as_array().unwrap().len(), 2);
    let (_, mine) = s
        .get(&format!("{w}/Tasks/{task}/Reservations?WorkerSid={second}"))
        .await;
    assert_eq!(mine["reservations"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn multi_reservation_first_accept_wins_and_the_rest_are_rescinded() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "2").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "a").await;
    available_worker(&s, &ws, "b").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let res = pending_reservations(&s, &ws, &task).await;
    assert_eq!(res.len(), 2);
    let (r1, r2) = (sid_of(&res[0]), sid_of(&res[1]));
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{r1}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    let (_, other) = s.get(&format!("{w}/Tasks/{task}/Reservations/{r2}")).await;
    assert_eq!(other["reservation_status"], "rescinded");
    assert_error(
        &s.post(
            &format!("{w}/Tasks/{task}/Reservations/{r2}"),
            &[("ReservationStatus", "accepted")],
        )
        .await,
        410,
        20410,
        "rescinded",
    );
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "assigned"
    );
    s.stop().await;
}

#[tokio::test]
async fn multi_reservation_returns_to_pending_only_when_all_end() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "2").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "a").await;
    available_worker(&s, &ws, "b").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let res = pending_reservations(&s, &ws, &task).await;
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{}", sid_of(&res[0])),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "reserved"
    );
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{}", sid_of(&res[1])),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "pending"
    );
    s.stop().await;
}

#[tokio::test]
async fn failed_callbacks_fall_back_then_cancel_and_route_on() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::status(500)).await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let queue = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
            .await,
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let fallback = app.fallback_url();
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "F"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", &app.url),
            ("FallbackAssignmentCallbackUrl", &fallback),
        ],
    )
    .await;
    let first = available_worker(&s, &ws, "first").await;
    let second = available_worker(&s, &ws, "second").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    // Both URLs answer 500: the reservation is canceled and the task goes to the next worker.
    let a = app.next().await;
    let b = app.next().await;
    assert_eq!(a.url, app.url);
    assert_eq!(b.url, fallback);
    assert_eq!(
        b.signature,
        switchyard_server::callback::signature(TOKEN, &fallback, &b.pairs),
        "signed for the fallback URL"
    );
    assert_eq!(a.params["WorkerSid"], first);
    app.set_reply(Reply {
        status: 200,
        body: "not json".into(),
        delay_ms: 0,
    });
    let c = app.next().await;
    assert_eq!(c.params["WorkerSid"], second);
    let first_res = &s.get(&format!("{w}/Workers/{first}/Reservations")).await.1["reservations"][0];
    assert_eq!(first_res["reservation_status"], "canceled");
    // A body that is not JSON is a failure too: fallback, then cancel; nobody is left.
    let _fallback_again = app.next().await;
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "pending")
        .await;
    s.eventually(&format!("{w}/Workers/{second}/Reservations"), |r| {
        r["reservations"][0]["reservation_status"] == "canceled"
    })
    .await;
    s.stop().await;
}

#[tokio::test]
async fn a_slow_callback_times_out_on_the_engine_clock_and_the_fallback_decides() {
    let s = Server::start().await;
    // The app would answer after a minute of real time; the manual clock decides sooner.
    let mut app = Receiver::start(Reply {
        status: 200,
        body: r#"{"instruction":"accept"}"#.into(),
        delay_ms: 60_000,
    })
    .await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let queue = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
            .await,
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let fallback = app.fallback_url();
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "F"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", &app.url),
            ("FallbackAssignmentCallbackUrl", &fallback),
        ],
    )
    .await;
    available_worker(&s, &ws, "a").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let first = app.next().await;
    assert_eq!(first.url, app.url);
    app.set_reply(Reply::json(r#"{"instruction":"reject"}"#));
    // Time stands still: the callback is still waiting, and 4.9 s is not yet too long.
    let (st, _) = s.post("/_switchyard/Clock", &[("Advance", "4.9")]).await;
    assert_eq!(st, 200);
    app.none_within(200).await;
    let (st, _) = s.post("/_switchyard/Clock", &[("Advance", "0.1")]).await;
    assert_eq!(st, 200);
    let second = app.next().await;
    assert_eq!(second.url, fallback);
    s.eventually(&format!("{w}/Tasks/{task}/Reservations"), |r| {
        r["reservations"][0]["reservation_status"] == "rejected"
    })
    .await;
    s.stop().await;
}

#[tokio::test]
async fn call_control_instructions_accept_and_are_validated() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "a").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let r = sid_of(&pending_reservations(&s, &ws, &task).await[0]);
    let path = format!("{w}/Tasks/{task}/Reservations/{r}");
    assert_error(
        &s.post(&path, &[("Instruction", "call"), ("CallFrom", "+15550001")])
            .await,
        400,
        20001,
        "CallUrl",
    );
    assert_error(
        &s.post(
            &path,
            &[
                ("Instruction", "redirect"),
                ("RedirectUrl", "http://x"),
                ("RedirectCallSid", "nope"),
            ],
        )
        .await,
        400,
        40121,
        "RedirectCallSid",
    );
    assert_error(
        &s.post(
            &path,
            &[("Instruction", "dequeue"), ("DequeueTimeout", "1000")],
        )
        .await,
        400,
        20001,
        "DequeueTimeout",
    );
    assert_error(
        &s.post(&path, &[("Instruction", "teleport")]).await,
        400,
        20001,
        "Instruction",
    );
    assert_error(
        &s.post(&path, &[("ReservationStatus", "timeout")]).await,
        400,
        20001,
        "ReservationStatus",
    );
    assert_error(&s.post(&path, &[]).await, 400, 20001, "ReservationStatus");
    let r = s
        .ok(
            &path,
            &[("Instruction", "Dequeue"), ("DequeueFrom", "+15550001")],
        )
        .await;
    assert_eq!(r["reservation_status"], "accepted");
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "assigned"
    );
    // Wrap-up and completion through the reservation follow the task.
    let r = s.ok(&path, &[("ReservationStatus", "wrapping")]).await;
    assert_eq!(r["reservation_status"], "wrapping");
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "wrapping"
    );
    let r = s.ok(&path, &[("ReservationStatus", "completed")]).await;
    assert_eq!(r["reservation_status"], "completed");
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "completed"
    );
    s.stop().await;
}

#[tokio::test]
async fn task_status_moves_and_their_errors() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = available_worker(&s, &ws, "a").await;
    let reserved = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let waiting = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{reserved}")).await.1),
        "reserved"
    );
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{waiting}")).await.1),
        "pending"
    );
    assert_error(
        &s.post(
            &format!("{w}/Tasks/{waiting}"),
            &[("AssignmentStatus", "completed"), ("Reason", "done")],
        )
        .await,
        400,
        20001,
        "from pending to completed",
    );
    assert_error(
        &s.post(
            &format!("{w}/Tasks/{waiting}"),
            &[("AssignmentStatus", "canceled")],
        )
        .await,
        400,
        20001,
        "Reason is required",
    );
    assert_error(
        &s.post(
            &format!("{w}/Tasks/{waiting}"),
            &[("AssignmentStatus", "assigned")],
        )
        .await,
        400,
        20001,
        "AssignmentStatus",
    );
    // Canceling the reserved task cancels its reservation, and the worker gets the waiting one.
    let c = s
        .ok(
            &format!("{w}/Tasks/{reserved}"),
            &[
                ("AssignmentStatus", "canceled"),
                ("Reason", "caller hung up"),
            ],
        )
        .await;
    assert_eq!(c["assignment_status"], "canceled");
    assert_eq!(c["reason"], "caller hung up");
    let (_, res) = s.get(&format!("{w}/Tasks/{reserved}/Reservations")).await;
    assert_eq!(res["reservations"][0]["reservation_status"], "canceled");
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{waiting}")).await.1),
        "reserved"
    );
    assert_error(
        &s.post(
            &format!("{w}/Tasks/{reserved}"),
            &[("AssignmentStatus", "canceled"), ("Reason", "again")],
        )
        .await,
        400,
        20001,
        "from canceled to canceled",
    );
    // Deleting the reserved task frees the worker too.
    assert_eq!(
        s.delete(&format!("{w}/Tasks/{waiting}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.get(&format!("{w}/Tasks/{waiting}")).await,
        404,
        20404,
        "was not found",
    );
    let (_, res) = s
        .get(&format!(
            "{w}/Workers/{worker}/Reservations?ReservationStatus=canceled"
        ))
        .await;
    assert_eq!(res["reservations"].as_array().unwrap().len(), 2);
    let third = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{third}")).await.1),
        "reserved"
    );
    s.stop().await;
}

#[tokio::test]
async fn no_worker_is_over_reserved_under_concurrent_requests() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let mut workers = Vec::new();
    for i in 0..4 {
        workers.push(available_worker(&s, &ws, &format!("w{i}")).await);
    }
    let path = format!("{w}/Tasks");
    let creates = (0..24).map(|_| s.post(&path, &[]));
    for (st, body) in futures_join_all(creates).await {
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
    let (_, reserved) = s
        .get(&format!("{path}?AssignmentStatus=reserved&PageSize=100"))
        .await;
    assert_eq!(reserved["tasks"].as_array().unwrap().len(), 4);
    for worker in &workers {
        let (_, res) = s
            .get(&format!(
                "{w}/Workers/{worker}/Reservations?ReservationStatus=pending"
            ))
            .await;
        assert_eq!(
            res["reservations"].as_array().unwrap().len(),
            1,
            "worker {worker}"
        );
    }
    // Concurrent accepts and completions keep the invariant too.
    let (_, pending) = s
        .get(&format!("{path}?AssignmentStatus=pending&PageSize=100"))
        .await;
    assert_eq!(pending["tasks"].as_array().unwrap().len(), 20);
    s.stop().await;
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // Drive them concurrently on this task.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for r in results {
        out.push(r.expect("all ready"));
    }
    out
}

#[tokio::test]
async fn single_tasking_moves_workers_through_queue_activities() {
    let s = Server::start().await;
    let (_, w) = s
        .post(
            "/Workspaces",
            &[("FriendlyName", "Legacy"), ("MultiTaskEnabled", "false")],
        )
        .await;
    let ws = sid_of(&w);
    let w = format!("/Workspaces/{ws}");
    let reserved = sid_of(
        &s.create(&format!("{w}/Activities"), &[("FriendlyName", "Reserved")])
            .await,
    );
    let busy = sid_of(
        &s.create(&format!("{w}/Activities"), &[("FriendlyName", "Busy")])
            .await,
    );
    let queue = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Q"),
                ("ReservationActivitySid", &reserved),
                ("AssignmentActivitySid", &busy),
            ],
        )
        .await,
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    s.create(
        &format!("{w}/Workflows"),
        &[("FriendlyName", "F"), ("Configuration", &config)],
    )
    .await;
    let worker = available_worker(&s, &ws, "a").await;
    let t1 = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        s.get(&format!("{w}/Workers/{worker}")).await.1["activity_name"],
        "Reserved"
    );
    // Reject without an activity: back to where the reservation found the worker.
    let r = sid_of(&pending_reservations(&s, &ws, &t1).await[0]);
    s.ok(
        &format!("{w}/Tasks/{t1}/Reservations/{r}"),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    assert_eq!(
        s.get(&format!("{w}/Workers/{worker}")).await.1["activity_name"],
        "Available"
    );
    let t2 = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let r = sid_of(&pending_reservations(&s, &ws, &t2).await[0]);
    s.ok(
        &format!("{w}/Tasks/{t2}/Reservations/{r}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    assert_eq!(
        s.get(&format!("{w}/Workers/{worker}")).await.1["activity_name"],
        "Busy"
    );
    s.stop().await;
}

#[tokio::test]
async fn reject_pending_reservations_when_going_unavailable() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = available_worker(&s, &ws, "a").await;
    let offline = s.activity(&ws, "Offline").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let u = s
        .ok(
            &format!("{w}/Workers/{worker}"),
            &[
                ("ActivitySid", &offline),
                ("RejectPendingReservations", "true"),
            ],
        )
        .await;
    assert_eq!(u["activity_name"], "Offline");
    let (_, res) = s.get(&format!("{w}/Tasks/{task}/Reservations")).await;
    assert_eq!(res["reservations"][0]["reservation_status"], "rejected");
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "pending"
    );
    s.stop().await;
}

#[tokio::test]
async fn workflow_filters_priorities_and_rerouting_on_new_attributes() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let sales = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Sales"),
                ("TargetWorkers", "dept == 'sales'"),
            ],
        )
        .await,
    );
    let support = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Support"),
                ("TargetWorkers", "dept == 'support'"),
            ],
        )
        .await,
    );
    let config = format!(
        r#"{{"task_routing":{{"filters":[{{"filter_friendly_name":"Sales","expression":"type == 'sales'","targets":[{{"queue":"{sales}","priority":7}}]}}],"default_filter":{{"queue":"{support}"}}}}}}"#
    );
    let workflow = sid_of(
        &s.create(
            &format!("{w}/Workflows"),
            &[("FriendlyName", "F"), ("Configuration", &config)],
        )
        .await,
    );
    let t = s
        .create(
            &format!("{w}/Tasks"),
            &[
                ("Attributes", r#"{"type":"support"}"#),
                ("Priority", "3"),
                ("WorkflowSid", &workflow),
            ],
        )
        .await;
    assert_eq!(t["task_queue_sid"], support.as_str());
    assert_eq!(t["priority"], 3);
    let task = sid_of(&t);
    let u = s
        .ok(
            &format!("{w}/Tasks/{task}"),
            &[("Attributes", r#"{"type":"sales"}"#)],
        )
        .await;
    assert_eq!(
        u["task_queue_sid"],
        sales.as_str(),
        "a pending task is re-routed"
    );
    assert_eq!(u["task_queue_friendly_name"], "Sales");
    assert_eq!(u["priority"], 7, "the step's priority applies");
    // Lists filter by status, queue, priority and attributes.
    s.create(
        &format!("{w}/Tasks"),
        &[("Attributes", r#"{"type":"support","vip":true}"#)],
    )
    .await;
    for (query, want) in [
        (format!("TaskQueueSid={sales}"), 1),
        ("TaskQueueName=Support".to_owned(), 1),
        ("Priority=7".to_owned(), 1),
        ("AssignmentStatus=pending".to_owned(), 2),
        ("AssignmentStatus=pending,reserved".to_owned(), 2),
        (
            "AssignmentStatus=assigned&AssignmentStatus=canceled".to_owned(),
            0,
        ),
        ("EvaluateTaskAttributes=vip%20%3D%3D%20true".to_owned(), 1),
        (format!("WorkflowSid={workflow}"), 2),
        ("WorkflowName=F".to_owned(), 2),
    ] {
        let (st, list) = s.get(&format!("{w}/Tasks?{query}")).await;
        assert_eq!(st, StatusCode::OK, "{query}: {list}");
        assert_eq!(list["tasks"].as_array().unwrap().len(), want, "{query}");
    }
    assert_error(
        &s.get(&format!("{w}/Tasks?AssignmentStatus=lost")).await,
        400,
        20001,
        "AssignmentStatus",
    );
    assert_error(
        &s.get(&format!("{w}/Tasks?EvaluateTaskAttributes=vip%20%3D%3D"))
            .await,
        400,
        20001,
        "EvaluateTaskAttributes",
    );
    s.stop().await;
}

#[tokio::test]
async fn task_create_validation_and_etags() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    assert_error(
        &s.post(&format!("{w}/Tasks"), &[]).await,
        400,
        20001,
        "WorkflowSid is required",
    );
    let queue = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
            .await,
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    s.create(
        &format!("{w}/Workflows"),
        &[("FriendlyName", "F"), ("Configuration", &config)],
    )
    .await;
    for (form, want) in [
        (
            vec![("Attributes", "[1]")],
            "Attributes must be a JSON object",
        ),
        (vec![("Priority", "-1")], "Priority"),
        (vec![("Priority", "2147483648")], "Priority"),
        (vec![("Timeout", "0")], "Timeout"),
        (vec![("Timeout", "1209601")], "Timeout"),
        (vec![("TaskChannel", "fax")], "TaskChannel fax"),
        (
            vec![("VirtualStartTime", "2099-01-01T00:00:00Z")],
            "VirtualStartTime must not be in the future",
        ),
        (
            vec![("VirtualStartTime", "yesterday")],
            "VirtualStartTime must be an ISO 8601 date",
        ),
        (
            vec![("RoutingTarget", "WK00000000000000000000000000000000")],
            "RoutingTarget",
        ),
        (vec![("RoutingTarget", "XX1")], "RoutingTarget"),
        (vec![("IgnoreCapacity", "true")], "IgnoreCapacity"),
    ] {
        assert_error(
            &s.post(&format!("{w}/Tasks"), &form).await,
            400,
            20001,
            want,
        );
    }
    let t = s
        .create(
            &format!("{w}/Tasks"),
            &[
                ("TaskChannel", "voice"),
                ("Timeout", "3600"),
                ("VirtualStartTime", "2014-05-14T10:00:00Z"),
                ("Priority", "5"),
            ],
        )
        .await;
    assert_eq!(t["task_channel_unique_name"], "voice");
    assert_eq!(t["timeout"], 3600);
    assert_eq!(t["virtual_start_time"], "2014-05-14T10:00:00Z");
    assert_eq!(t["priority"], 5);
    assert_eq!(t["addons"], "{}");
    assert_eq!(t["reason"], Value::Null);
    let task = sid_of(&t);
    let path = format!("{w}/Tasks/{task}");
    let ((st, _), h) = s
        .request(
            reqwest::Method::POST,
            &path,
            &[("Priority", "6")],
            &[("If-Match", "0")],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["etag"], "\"1\"");
    let (stale, _) = s
        .request(
            reqwest::Method::POST,
            &path,
            &[("Priority", "7")],
            &[("If-Match", "0")],
        )
        .await;
    assert_error(&stale, 412, 20412, "If-Match");
    let (stale, _) = s
        .request(reqwest::Method::DELETE, &path, &[], &[("If-Match", "0")])
        .await;
    assert_error(&stale, 412, 20412, "If-Match");
    let ((st, _), _) = s
        .request(reqwest::Method::DELETE, &path, &[], &[("If-Match", "1")])
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // Age follows the clock.
    let t = s.create(&format!("{w}/Tasks"), &[]).await;
    s.clock
        .advance(switchyard_core::time::Duration::from_secs(90));
    assert_eq!(
        s.get(&format!("{w}/Tasks/{}", sid_of(&t))).await.1["age"],
        90
    );
    s.stop().await;
}

#[tokio::test]
async fn routing_targets_a_worker_or_a_queue_directly() {
    let s = Server::start().await;
    let (ws, queue, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let offline = sid_of(
        &s.create(&format!("{w}/Workers"), &[("FriendlyName", "away")])
            .await,
    );
    // IgnoreCapacity defaults to true: even an offline worker is reserved.
    let t = s
        .create(&format!("{w}/Tasks"), &[("RoutingTarget", &offline)])
        .await;
    assert_eq!(t["routing_target"], offline.as_str());
    assert_eq!(t["ignore_capacity"], true);
    let res = pending_reservations(&s, &ws, &sid_of(&t)).await;
    assert_eq!(res[0]["worker_sid"], offline.as_str());
    let t = s
        .create(
            &format!("{w}/Tasks"),
            &[("RoutingTarget", &offline), ("IgnoreCapacity", "false")],
        )
        .await;
    assert!(pending_reservations(&s, &ws, &sid_of(&t)).await.is_empty());
    let t = s
        .create(&format!("{w}/Tasks"), &[("RoutingTarget", &queue)])
        .await;
    assert_eq!(t["task_queue_sid"], queue.as_str());
    s.stop().await;
}

#[tokio::test]
async fn capacity_and_worker_changes_trigger_routing() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = available_worker(&s, &ws, "a").await;
    let t1 = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let t2 = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{t2}")).await.1),
        "pending"
    );
    let ch = s
        .ok(
            &format!("{w}/Workers/{worker}/Channels/default"),
            &[("Capacity", "2")],
        )
        .await;
    assert_eq!(ch["configured_capacity"], 2);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{t2}")).await.1),
        "reserved",
        "more capacity, one more reservation"
    );
    let (_, ch) = s
        .get(&format!("{w}/Workers/{worker}/Channels/default"))
        .await;
    assert_eq!(ch["available_capacity_percentage"], 0);
    // Deleting the worker cancels its pending reservations; the tasks wait again.
    assert_eq!(
        s.delete(&format!("{w}/Workers/{worker}")).await.0,
        StatusCode::NO_CONTENT
    );
    for t in [&t1, &t2] {
        assert_eq!(status(&s.get(&format!("{w}/Tasks/{t}")).await.1), "pending");
        let (_, res) = s.get(&format!("{w}/Tasks/{t}/Reservations")).await;
        assert_eq!(res["reservations"][0]["reservation_status"], "canceled");
    }
    // A new worker matching the queue picks them up.
    available_worker(&s, &ws, "b").await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{t1}")).await.1),
        "reserved"
    );
    s.stop().await;
}

#[tokio::test]
async fn routing_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = switchyard_engine::testing::database_at(&dir.path().join("r.db"));
    let s = Server::start_on(&url, Default::default()).await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"n":1}"#)])
            .await,
    );
    let waiting = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let worker = sid_of(
        &s.create(&format!("{w}/Workers"), &[("FriendlyName", "late")])
            .await,
    );
    s.stop().await;

    let s = Server::start_on(&url, Default::default()).await;
    let available = s.activity(&ws, "Available").await;
    s.ok(
        &format!("{w}/Workers/{worker}"),
        &[("ActivitySid", &available)],
    )
    .await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "reserved",
        "the oldest task first"
    );
    let r = sid_of(&pending_reservations(&s, &ws, &task).await[0]);
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{r}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    s.ok(
        &format!("{w}/Tasks/{task}"),
        &[("AssignmentStatus", "completed"), ("Reason", "done")],
    )
    .await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{waiting}")).await.1),
        "reserved"
    );
    s.stop().await;
}

#[tokio::test]
async fn task_lists_can_be_ordered_and_paged() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    for (p, vst) in [
        ("1", "2014-05-14T10:00:03Z"),
        ("9", "2014-05-14T10:00:01Z"),
        ("5", "2014-05-14T10:00:02Z"),
        ("9", "2014-05-14T10:00:00Z"),
    ] {
        s.create(
            &format!("{w}/Tasks"),
            &[("Priority", p), ("VirtualStartTime", vst)],
        )
        .await;
    }
    let order = |list: &Value| -> Vec<(i64, String)> {
        list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["priority"].as_i64().unwrap(),
                    t["virtual_start_time"].as_str().unwrap()[17..19].to_owned(),
                )
            })
            .collect()
    };
    let (_, list) = s
        .get(&format!(
            "{w}/Tasks?Ordering=Priority:desc,VirtualStartTime:asc&PageSize=3"
        ))
        .await;
    assert_eq!(
        order(&list),
        [(9, "00".into()), (9, "01".into()), (5, "02".into())]
    );
    let next = list["meta"]["next_page_url"].as_str().unwrap();
    assert!(
        next.contains("Ordering=Priority%3Adesc%2CVirtualStartTime%3Aasc"),
        "{next}"
    );
    let (_, rest) = s.get(next).await;
    assert_eq!(order(&rest), [(1, "03".into())]);
    assert_eq!(rest["meta"]["next_page_url"], Value::Null);
    let (_, back) = s
        .get(rest["meta"]["previous_page_url"].as_str().unwrap())
        .await;
    assert_eq!(order(&back).len(), 3);
    let (_, list) = s.get(&format!("{w}/Tasks?Ordering=DateCreated:desc")).await;
    assert_eq!(
        order(&list),
        [
            (9, "00".into()),
            (5, "02".into()),
            (9, "01".into()),
            (1, "03".into())
        ]
    );
    assert_error(
        &s.get(&format!("{w}/Tasks?Ordering=Age:asc")).await,
        400,
        20001,
        "Ordering",
    );
    assert_error(
        &s.get(&format!(
            "{w}/Tasks?Ordering=DateCreated:asc,VirtualStartTime:desc"
        ))
        .await,
        400,
        20001,
        "together",
    );
    s.stop().await;
}

#[tokio::test]
async fn re_evaluate_tasks_sends_pending_tasks_through_the_new_configuration() {
    let s = Server::start().await;
    let (ws, first, workflow) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let second = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Second")])
            .await,
    );
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        s.get(&format!("{w}/Tasks/{task}")).await.1["task_queue_sid"],
        first.as_str()
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{second}"}}}}}}"#);
    s.ok(
        &format!("{w}/Workflows/{workflow}"),
        &[("Configuration", &config)],
    )
    .await;
    assert_eq!(
        s.get(&format!("{w}/Tasks/{task}")).await.1["task_queue_sid"],
        first.as_str(),
        "without ReEvaluateTasks the task stays"
    );
    s.ok(
        &format!("{w}/Workflows/{workflow}"),
        &[("Configuration", &config), ("ReEvaluateTasks", "true")],
    )
    .await;
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(t["task_queue_sid"], second.as_str());
    assert_eq!(t["task_queue_friendly_name"], "Second");
    // A worker for the new queue gets it.
    available_worker(&s, &ws, "a").await;
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "reserved"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_answer_not_declared_json_falls_back() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::json(r#"{"instruction":"accept"}"#)).await;
    app.set_reply(Reply::json(r#"{"instruction":"accept"}"#));
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let queue = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
            .await,
    );
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    // The primary URL answers JSON as text/plain (the receiver's /plain route).
    let plain = app.url.replace("/assignment", "/plain");
    let fallback = app.fallback_url();
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "F"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", &plain),
            ("FallbackAssignmentCallbackUrl", &fallback),
        ],
    )
    .await;
    available_worker(&s, &ws, "a").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(app.next().await.url, plain);
    assert_eq!(
        app.next().await.url,
        fallback,
        "the text/plain answer was ignored"
    );
    s.eventually(&format!("{w}/Tasks/{task}"), |t| status(t) == "assigned")
        .await;
    s.stop().await;
}
