//! Timers in manual-clock mode: time moves only through `POST /_switchyard/Clock`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

fn status(v: &Value) -> &str {
    v["assignment_status"].as_str().unwrap_or_default()
}

async fn advance(s: &Server, secs: &str) -> Value {
    let (st, body) = s.post("/_switchyard/Clock", &[("Advance", secs)]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

fn fired(body: &Value) -> Vec<(String, String)> {
    body["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["timer"].as_str().unwrap().to_owned(),
                f["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn workspace_with(
    s: &Server,
    config: impl Fn(&str, &str, &str) -> String,
    timeout: &str,
) -> (String, [String; 3]) {
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let mut queues = Vec::new();
    for name in ["One", "Two", "Three"] {
        let target = format!("tier == '{}'", name.to_lowercase());
        queues.push(sid_of(
            &s.create(
                &format!("{w}/TaskQueues"),
                &[("FriendlyName", name), ("TargetWorkers", &target)],
            )
            .await,
        ));
    }
    let config = config(&queues[0], &queues[1], &queues[2]);
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "F"),
            ("Configuration", &config),
            ("TaskReservationTimeout", timeout),
        ],
    )
    .await;
    (
        ws,
        [queues[0].clone(), queues[1].clone(), queues[2].clone()],
    )
}

async fn worker(s: &Server, ws: &str, name: &str, tier: &str) -> String {
    let available = s.activity(ws, "Available").await;
    let attrs = format!(r#"{{"tier":"{tier}"}}"#);
    sid_of(
        &s.create(
            &format!("/Workspaces/{ws}/Workers"),
            &[
                ("FriendlyName", name),
                ("ActivitySid", &available),
                ("Attributes", &attrs),
            ],
        )
        .await,
    )
}

#[tokio::test]
async fn the_clock_reads_and_only_moves_forward() {
    let s = Server::start().await;
    let (st, clock) = s.get("/_switchyard/Clock").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(clock["now"], "2014-05-14T10:50:02Z");
    assert_eq!(clock["mode"], "manual");
    let body = advance(&s, "60").await;
    assert_eq!(body["now"], "2014-05-14T10:51:02Z");
    assert_eq!(body["fired"], serde_json::json!([]));
    let (st, body) = s
        .post("/_switchyard/Clock", &[("Time", "2014-05-14T12:00:00Z")])
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["now_ms"], 1_400_068_800_000i64);
    assert_error(
        &s.post("/_switchyard/Clock", &[("Time", "2014-05-14T11:00:00Z")])
            .await,
        400,
        20001,
        "only moves forward",
    );
    assert_error(
        &s.post("/_switchyard/Clock", &[("Advance", "-5")]).await,
        400,
        20001,
        "only moves forward",
    );
    assert_error(
        &s.post("/_switchyard/Clock", &[("Advance", "soon")]).await,
        400,
        20001,
        "Advance",
    );
    assert_error(
        &s.post("/_switchyard/Clock", &[]).await,
        400,
        20001,
        "Advance or Time",
    );
    assert_error(
        &s.anonymous().get("/_switchyard/Clock").await,
        401,
        20003,
        "Authenticate",
    );
    // Dates in responses follow the clock.
    let ws = s.workspace("Later").await;
    assert_eq!(
        s.get(&format!("/Workspaces/{ws}")).await.1["date_created"],
        "2014-05-14T12:00:00Z"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_reservation_times_out_the_worker_goes_to_the_timeout_activity_and_the_task_moves_on() {
    let s = Server::start().await;
    let (ws, [one, _, _]) = workspace_with(
        &s,
        |q1, _, _| format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{q1}"}}}}}}"#),
        "30",
    )
    .await;
    let w = format!("/Workspaces/{ws}");
    let first = worker(&s, &ws, "first", "one").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        s.get(&format!("{w}/Tasks/{task}")).await.1["task_queue_sid"],
        one.as_str()
    );
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "reserved"
    );
    assert!(fired(&advance(&s, "29").await).is_empty());
    let second = worker(&s, &ws, "second", "one").await;
    let body = advance(&s, "1").await;
    assert_eq!(
        fired(&body),
        [(
            "reservation.timeout".to_owned(),
            "2014-05-14T10:50:32Z".to_owned()
        )]
    );
    assert_eq!(body["fired"][0]["worker_sid"], first.as_str());
    let (_, r) = s.get(&format!("{w}/Workers/{first}/Reservations")).await;
    assert_eq!(r["reservations"][0]["reservation_status"], "timeout");
    assert_eq!(r["reservations"][0]["date_updated"], "2014-05-14T10:50:32Z");
    assert_eq!(
        s.get(&format!("{w}/Workers/{first}")).await.1["activity_name"],
        "Offline",
        "the workspace's timeout activity"
    );
    // Re-routed to the other worker at once.
    let (_, r) = s
        .get(&format!(
            "{w}/Workers/{second}/Reservations?ReservationStatus=pending"
        ))
        .await;
    assert_eq!(r["reservations"].as_array().unwrap().len(), 1);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "reserved"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_ttl_cancels_an_unassigned_task_and_its_reservations() {
    let s = Server::start().await;
    let (ws, _) = workspace_with(
        &s,
        |q1, _, _| format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{q1}"}}}}}}"#),
        "86400",
    )
    .await;
    let w = format!("/Workspaces/{ws}");
    let reserved = sid_of(&s.create(&format!("{w}/Tasks"), &[("Timeout", "60")]).await);
    worker(&s, &ws, "a", "one").await;
    let waiting = sid_of(&s.create(&format!("{w}/Tasks"), &[("Timeout", "60")]).await);
    let later = sid_of(&s.create(&format!("{w}/Tasks"), &[("Timeout", "61")]).await);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{reserved}")).await.1),
        "reserved"
    );
    let body = advance(&s, "60").await;
    // Equal deadlines fire in creation order.
    let order: Vec<&str> = body["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task_sid"].as_str().unwrap())
        .collect();
    assert_eq!(order, [reserved.as_str(), waiting.as_str()]);
    for t in [&reserved, &waiting] {
        let t = s.get(&format!("{w}/Tasks/{t}")).await.1;
        assert_eq!(status(&t), "canceled");
        assert_eq!(t["reason"], "Task TTL Exceeded");
    }
    let (_, r) = s.get(&format!("{w}/Tasks/{reserved}/Reservations")).await;
    assert_eq!(r["reservations"][0]["reservation_status"], "canceled");
    // The freed worker takes the task that is still alive.
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{later}")).await.1),
        "reserved"
    );
    s.stop().await;
}

#[tokio::test]
async fn each_step_waits_its_own_timeout_then_escalates_then_cancels() {
    let s = Server::start().await;
    let (ws, [one, two, three]) = workspace_with(
        &s,
        |q1, q2, q3| {
            format!(
                r#"{{"task_routing":{{"filters":[
                    {{"expression":"kind == 'x'","targets":[{{"queue":"{q1}","timeout":300}},{{"queue":"{q2}","priority":10,"timeout":600}}]}},
                    {{"expression":"kind == 'x'","targets":[{{"queue":"{q3}","timeout":900}}]}}],
                  "default_filter":{{"queue":"{q1}"}}}}}}"#
            )
        },
        "86400",
    )
    .await;
    let w = format!("/Workspaces/{ws}");
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"kind":"x"}"#)])
            .await,
    );
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(
        (
            t["task_queue_sid"].as_str().unwrap(),
            t["priority"].as_i64().unwrap()
        ),
        (one.as_str(), 0)
    );
    assert!(fired(&advance(&s, "299").await).is_empty());
    assert_eq!(
        fired(&advance(&s, "1").await),
        [(
            "workflow.step-timeout".to_owned(),
            "2014-05-14T10:55:02Z".to_owned()
        )]
    );
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(t["task_queue_sid"], two.as_str());
    assert_eq!(t["priority"], 10);
    assert_eq!(t["task_queue_entered_date"], "2014-05-14T10:55:02Z");
    // The second step waits its own 600 s from its entry: it ends at age 900, not 600.
    assert!(fired(&advance(&s, "599").await).is_empty());
    assert_eq!(
        fired(&advance(&s, "1").await),
        [(
            "workflow.step-timeout".to_owned(),
            "2014-05-14T11:05:02Z".to_owned()
        )],
        "step 2 ends 600 s after it began and the next matching filter applies"
    );
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(
        (status(&t), t["task_queue_sid"].as_str()),
        ("pending", Some(three.as_str()))
    );
    assert!(fired(&advance(&s, "899").await).is_empty());
    assert_eq!(
        fired(&advance(&s, "1").await),
        [(
            "workflow.step-timeout".to_owned(),
            "2014-05-14T11:20:02Z".to_owned()
        )],
        "the next filter's step waits its 900 s too; then the workflow is exhausted"
    );
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(
        status(&t),
        "canceled",
        "the default filter is no fallback after a timeout"
    );
    assert_eq!(t["reason"], "Workflow Timeout");
    assert_eq!(t["task_queue_sid"], three.as_str());
    s.stop().await;
}

#[tokio::test]
async fn three_steps_of_thirty_seconds_move_at_30_and_60_and_cancel_at_90() {
    let s = Server::start().await;
    let (ws, [one, two, three]) = workspace_with(
        &s,
        |q1, q2, q3| {
            format!(
                r#"{{"task_routing":{{"filters":[{{"expression":"1==1","targets":[
                    {{"queue":"{q1}","timeout":30}},{{"queue":"{q2}","timeout":30}},{{"queue":"{q3}","timeout":30}}]}}]}}}}"#
            )
        },
        "86400",
    )
    .await;
    let w = format!("/Workspaces/{ws}");
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    for (queue, secs) in [(&one, "29"), (&two, "30"), (&three, "30")] {
        let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
        assert_eq!(
            (status(&t), t["task_queue_sid"].as_str()),
            ("pending", Some(queue.as_str()))
        );
        advance(&s, secs).await;
        if secs == "29" {
            advance(&s, "1").await;
        }
    }
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(status(&t), "canceled");
    assert_eq!(t["reason"], "Workflow Timeout");
    assert_eq!(
        t["age"].as_i64(),
        Some(90),
        "canceled when the last of three 30 s steps ended, at age 90"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_step_change_rescinds_reservations_the_new_step_does_not_allow() {
    let s = Server::start().await;
    let (ws, [_, two, _]) = workspace_with(
        &s,
        |q1, q2, _| format!(r#"{{"task_routing":{{"filters":[{{"expression":"1==1","targets":[{{"queue":"{q1}","timeout":60}},{{"queue":"{q2}"}}]}}]}}}}"#),
        "86400",
    )
    .await;
    let w = format!("/Workspaces/{ws}");
    let junior = worker(&s, &ws, "junior", "one").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{task}")).await.1),
        "reserved"
    );
    let senior = worker(&s, &ws, "senior", "two").await;
    advance(&s, "60").await;
    let (_, r) = s.get(&format!("{w}/Workers/{junior}/Reservations")).await;
    assert_eq!(r["reservations"][0]["reservation_status"], "rescinded");
    let t = s.get(&format!("{w}/Tasks/{task}")).await.1;
    assert_eq!(t["task_queue_sid"], two.as_str());
    let (_, r) = s
        .get(&format!(
            "{w}/Workers/{senior}/Reservations?ReservationStatus=pending"
        ))
        .await;
    assert_eq!(r["reservations"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn timers_that_fell_due_while_down_fire_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let url = switchyard_engine::testing::database_at(&dir.path().join("t.db"));
    let s = Server::start_on(&url, Default::default()).await;
    let (ws, _) = workspace_with(
        &s,
        |q1, _, _| format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{q1}"}}}}}}"#),
        "30",
    )
    .await;
    let w = format!("/Workspaces/{ws}");
    let a = worker(&s, &ws, "a", "one").await;
    let expired = sid_of(&s.create(&format!("{w}/Tasks"), &[("Timeout", "100")]).await);
    let alive = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Timeout", "1000")])
            .await,
    );
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{expired}")).await.1),
        "reserved"
    );
    s.stop().await;

    // Back 200 s later: the reservation timed out at 30 s (re-routed to nobody: a went
    // Offline), and the first task's TTL passed at 100 s.
    let later = switchyard_core::Timestamp::from_millis(START.as_millis() + 200_000);
    let s = Server::start_at(&url, Default::default(), later).await;
    let (_, r) = s.get(&format!("{w}/Workers/{a}/Reservations")).await;
    assert_eq!(r["reservations"][0]["reservation_status"], "timeout");
    assert_eq!(
        r["reservations"][0]["date_updated"], "2014-05-14T10:53:22Z",
        "fired at startup with the clock as found"
    );
    let t = s.get(&format!("{w}/Tasks/{expired}")).await.1;
    assert_eq!(
        (status(&t), t["reason"].as_str()),
        ("canceled", Some("Task TTL Exceeded"))
    );
    assert_eq!(
        status(&s.get(&format!("{w}/Tasks/{alive}")).await.1),
        "pending"
    );
    s.stop().await;
}
