//! What the browser console reads: its page and assets (behind the same credentials), a
//! workspace at a glance, and the workspace's events as Server-Sent Events.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::*;
use crate::routing::{available_worker, simple_workspace};

#[tokio::test]
async fn the_console_page_and_its_assets_are_served_behind_the_credentials() {
    let s = Server::start().await;
    let client = reqwest::Client::new();
    let anonymous = client.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    for (path, kind, needle) in [
        ("/", "text/html", "/console/console.js"),
        ("/console/console.js", "text/javascript", "EventSource"),
        ("/console/console.css", "text/css", ".badge"),
    ] {
        let res = client
            .get(format!("{}{path}", s.base))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(res.text().await.unwrap().contains(needle), "{path}");
    }
}

#[tokio::test]
async fn the_overview_shows_queues_with_their_waiting_tasks_and_workers_with_their_load() {
    let s = Server::start().await;
    let (ws, queue, _) = simple_workspace(&s, None, "1").await;
    available_worker(&s, &ws, "Alice").await;
    let w = format!("/Workspaces/{ws}");
    let reserved = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    let waiting = sid_of(
        &s.create(
            &format!("{w}/Tasks"),
            &[("Attributes", "{}"), ("Priority", "3")],
        )
        .await,
    );
    let path = format!("/_switchyard/Workspaces/{ws}/Overview");
    let o = s
        .eventually(&path, |o| o["task_queues"][0]["tasks_total"] == 2)
        .await;
    let q = &o["task_queues"][0];
    assert_eq!(q["task_queue_sid"], queue);
    assert_eq!(
        (q["members"].clone(), q["available_members"].clone()),
        (1.into(), 1.into())
    );
    // In offer order: the higher priority first.
    assert_eq!(q["tasks"][0]["task_sid"], waiting);
    assert_eq!(q["tasks"][0]["status"], "pending");
    assert_eq!(q["tasks"][1]["task_sid"], reserved);
    assert_eq!(q["tasks"][1]["status"], "reserved");
    assert_eq!(o["workers_total"], 1);
    let alice = &o["workers"][0];
    assert_eq!(alice["friendly_name"], "Alice");
    let default = (alice["channels"].as_array().unwrap().iter())
        .find(|c| c["unique_name"] == "default")
        .unwrap();
    assert_eq!(
        (default["pending"].clone(), default["capacity"].clone()),
        (1.into(), 1.into())
    );

    let (_, limited) = s.get(&format!("{path}?TasksPerQueue=1&Workers=0")).await;
    assert_eq!(
        limited["task_queues"][0]["tasks"].as_array().unwrap().len(),
        1
    );
    assert_eq!(limited["task_queues"][0]["tasks_total"], 2);
    assert_eq!(limited["workers"].as_array().unwrap().len(), 0);
    let (_, counted) = s.get(&format!("{path}?Tasks=0")).await;
    assert_eq!(counted["task_queues"][0]["tasks"], serde_json::json!([]));
    assert_eq!(counted["task_queues"][0]["tasks_total"], 2, "still counted");
    assert_error(
        &s.get(&format!("{path}?Workers=-1")).await,
        400,
        20001,
        "Workers",
    );
}

#[tokio::test]
async fn the_event_stream_sends_each_event_as_it_commits() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let mut res = reqwest::Client::new()
        .get(format!(
            "{}/_switchyard/Workspaces/{ws}/Events/Stream",
            s.base
        ))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let task = sid_of(
        &s.create(&format!("/Workspaces/{ws}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    while !text.contains("task.created") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, res.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let line = (text.lines())
        .find(|l| l.starts_with("data:") && l.contains("task.created"))
        .unwrap();
    let event: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(event["resource_sid"], task);
    assert_eq!(event["data"]["task_sid"], task);
}
