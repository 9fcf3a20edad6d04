//! The callback log: `GET /_switchyard/Workspaces/{ws}/Callbacks` lists every assignment and
//! event callback attempt, newest first; `POST …/Callbacks/{id}/Replay` sends one again.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;
use crate::routing::{available_worker, simple_workspace};

fn callbacks_path(ws: &str) -> String {
    format!("/_switchyard/Workspaces/{ws}/Callbacks")
}

/// The workspace's logged attempts, newest first, once `check` holds on them.
async fn logged(s: &Server, ws: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let page = s
        .eventually(&format!("{}?PageSize=1000", callbacks_path(ws)), |b| {
            b["callbacks"].as_array().is_some_and(|c| check(c))
        })
        .await;
    page["callbacks"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_callback_attempt_is_logged_with_what_was_sent_and_answered() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::json(r#"{"instruction":"accept"}"#)).await;
    let mut events = Receiver::start(Reply::status(500)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "Alice").await;
    s.ok(
        &w,
        &[
            ("EventCallbackUrl", events.url.as_str()),
            ("EventsFilter", "task.created"),
        ],
    )
    .await;
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    let sent = app.next().await;
    events.next().await;
    let entries = logged(&s, &ws, |c| {
        c.iter().any(|e| e["kind"] == "assignment") && c.iter().any(|e| e["kind"] == "event")
    })
    .await;

    let assignment = entries.iter().find(|e| e["kind"] == "assignment").unwrap();
    assert_eq!(assignment["url"], app.url);
    assert_eq!(assignment["task_sid"], task);
    assert_eq!(assignment["reservation_sid"], sent.params["ReservationSid"]);
    assert_eq!(assignment["params"]["TaskSid"], task);
    assert_eq!(assignment["signature"], sent.signature);
    assert_eq!(assignment["outcome"], "answered");
    assert_eq!(assignment["response_status"], 200);
    assert_eq!(assignment["response_body"], r#"{"instruction":"accept"}"#);
    assert_eq!(assignment["attempt"], 1);
    assert!(assignment["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(assignment["sid"].as_str().unwrap().starts_with("CL"));

    let event = entries.iter().find(|e| e["kind"] == "event").unwrap();
    assert_eq!(event["event_type"], "task.created");
    assert_eq!(event["outcome"], "failed");
    assert_eq!(event["error"], "answered HTTP 500");
    assert_eq!(event["response_status"], 500);

    // Newest first.
    let ms: Vec<i64> = (entries.iter())
        .map(|e| e["date_created_ms"].as_i64().unwrap())
        .collect();
    assert!(ms.windows(2).all(|w| w[0] >= w[1]), "{ms:?}");
    let sids: Vec<&str> = entries.iter().map(|e| e["sid"].as_str().unwrap()).collect();
    assert!(sids.windows(2).all(|w| w[0] > w[1]), "{sids:?}");

    // Paged like Twilio's lists.
    let (_, first) = s.get(&format!("{}?PageSize=1", callbacks_path(&ws))).await;
    assert_eq!(first["callbacks"].as_array().unwrap().len(), 1);
    assert_eq!(first["meta"]["key"], "callbacks");
    let next = first["meta"]["next_page_url"].as_str().unwrap().to_owned();
    let (_, second) = s.get(&next).await;
    assert_eq!(
        second["callbacks"][0]["sid"], entries[1]["sid"],
        "{first} {second}"
    );
}

#[tokio::test]
async fn a_replay_sends_the_same_request_freshly_signed_and_logs_it() {
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::status(200)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    available_worker(&s, &ws, "Alice").await;
    s.create(&format!("/Workspaces/{ws}/Tasks"), &[("Attributes", "{}")])
        .await;
    let first = app.next().await;
    let entries = logged(&s, &ws, |c| !c.is_empty()).await;
    let original = entries[0]["sid"].as_str().unwrap().to_owned();

    app.set_reply(Reply::json(r#"{"instruction":"accept"}"#));
    let (status, replayed) = s
        .post(&format!("{}/{original}/Replay", callbacks_path(&ws)), &[])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{replayed}");
    let again = app.next().await;
    assert_eq!(again.pairs, first.pairs, "the same form");
    assert_eq!(
        again.signature,
        switchyard_server::callback::signature(TOKEN, &again.url, &again.pairs)
    );
    assert_eq!(replayed["replay_of"], original);
    assert_eq!(replayed["kind"], "assignment");
    assert_eq!(replayed["outcome"], "answered");
    assert_eq!(replayed["response_status"], 200);
    let entries = logged(&s, &ws, |c| c.len() == 2).await;
    assert_eq!(entries[0]["sid"], replayed["sid"]);

    // The replay's answer is logged, not acted on: the reservation is still pending.
    let (_, reservation) = s
        .get(&format!(
            "/Workspaces/{ws}/Tasks/{}/Reservations/{}",
            first.params["TaskSid"], first.params["ReservationSid"]
        ))
        .await;
    assert_eq!(
        reservation["reservation_status"], "pending",
        "{reservation}"
    );

    let unknown = "CL00000000000000000000000000000fff";
    assert_error(
        &s.post(&format!("{}/{unknown}/Replay", callbacks_path(&ws)), &[])
            .await,
        404,
        20404,
        "",
    );
    assert_error(
        &s.as_account(OTHER_ACCOUNT, OTHER_TOKEN)
            .get(&callbacks_path(&ws))
            .await,
        404,
        20404,
        "",
    );
    assert_error(
        &s.as_account(OTHER_ACCOUNT, OTHER_TOKEN)
            .post(&format!("{}/{original}/Replay", callbacks_path(&ws)), &[])
            .await,
        404,
        20404,
        "",
    );
}

#[tokio::test]
async fn the_log_keeps_only_the_newest_attempts_of_each_workspace() {
    let s = Server::start_configured(|mut c| {
        c.callback_log_size = 2;
        c
    })
    .await;
    let mut events = Receiver::start(Reply::status(204)).await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    s.ok(
        &w,
        &[
            ("EventCallbackUrl", events.url.as_str()),
            ("EventsFilter", "task.created"),
        ],
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(sid_of(
            &s.create(&format!("{w}/Tasks"), &[("Attributes", "{}")])
                .await,
        ));
        events.next().await;
    }
    let entries = logged(&s, &ws, |c| {
        c.first().is_some_and(|e| e["task_sid"] == tasks[3])
    })
    .await;
    let kept: Vec<&Value> = entries.iter().map(|e| &e["task_sid"]).collect();
    assert_eq!(
        kept,
        [&tasks[3], &tasks[2]]
            .map(|t| Value::from(t.as_str()))
            .iter()
            .collect::<Vec<_>>()
    );

    // Deleting the workspace forgets its log.
    s.delete(&w).await;
    assert_error(&s.get(&callbacks_path(&ws)).await, 404, 20404, "");
}
