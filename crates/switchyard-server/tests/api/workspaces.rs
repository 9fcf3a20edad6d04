use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn create_fetch_update_delete() {
    let s = Server::start().await;
    let (status, w) = s
        .post(
            "/Workspaces",
            &[
                ("FriendlyName", "Support"),
                ("EventsFilter", "task.created, worker.activity.update"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = w["sid"].as_str().unwrap();
    assert!(
        sid.starts_with("WS")
            && sid.len() == 34
            && sid[2..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(w["account_sid"], ACCOUNT);
    assert_eq!(w["friendly_name"], "Support");
    assert_eq!(w["multi_task_enabled"], true);
    assert_eq!(w["prioritize_queue_order"], "FIFO");
    assert_eq!(w["default_activity_name"], "Offline");
    assert_eq!(w["timeout_activity_name"], "Offline");
    assert_eq!(w["default_activity_sid"], w["timeout_activity_sid"]);
    assert_eq!(w["event_callback_url"], json!(null));
    assert_eq!(w["events_filter"], "task.created,worker.activity.update");
    assert_eq!(w["date_created"], "2014-05-14T10:50:02Z");
    assert_eq!(w["url"], format!("{}/v1/Workspaces/{sid}", s.base));
    let links = w["links"].as_object().unwrap();
    let mut keys: Vec<&str> = links.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "activities",
            "cumulative_statistics",
            "events",
            "real_time_statistics",
            "statistics",
            "task_channels",
            "task_queues",
            "tasks",
            "workers",
            "workflows"
        ]
    );
    assert_eq!(
        links["task_queues"],
        format!("{}/v1/Workspaces/{sid}/TaskQueues", s.base)
    );

    let (status, fetched) = s.get(&format!("/Workspaces/{sid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, w);

    // Default activities and channels of current Twilio.
    let (_, acts) = s.get(&format!("/Workspaces/{sid}/Activities")).await;
    let acts: Vec<(String, bool)> = acts["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["friendly_name"].as_str().unwrap().to_owned(),
                a["available"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        acts,
        [
            ("Offline".into(), false),
            ("Available".into(), true),
            ("Unavailable".into(), false)
        ]
    );
    let (_, chans) = s.get(&format!("/Workspaces/{sid}/TaskChannels")).await;
    let names: Vec<&str> = chans["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["unique_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "voice", "chat", "sms", "video"]);

    let available = s.activity(sid, "Available").await;
    s.clock
        .advance(switchyard_core::time::Duration::from_secs(60));
    let (status, u) = s
        .post(
            &format!("/Workspaces/{sid}"),
            &[
                ("FriendlyName", "Support 2"),
                ("DefaultActivitySid", &available),
                ("TimeoutActivitySid", &available),
                ("EventCallbackUrl", "http://127.0.0.1:9/events"),
                ("PrioritizeQueueOrder", "LIFO"),
                ("MultiTaskEnabled", "false"),
                ("Unknown", "ignored"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["friendly_name"], "Support 2");
    assert_eq!(u["default_activity_name"], "Available");
    assert_eq!(u["timeout_activity_sid"], available.as_str());
    assert_eq!(u["event_callback_url"], "http://127.0.0.1:9/events");
    assert_eq!(u["prioritize_queue_order"], "LIFO");
    assert_eq!(u["multi_task_enabled"], false);
    assert_eq!(u["date_created"], "2014-05-14T10:50:02Z");
    assert_eq!(u["date_updated"], "2014-05-14T10:51:02Z");

    // Clearing the callback URL with an empty value.
    let (_, u) = s
        .post(&format!("/Workspaces/{sid}"), &[("EventCallbackUrl", "")])
        .await;
    assert_eq!(u["event_callback_url"], json!(null));

    let (status, body) = s.delete(&format!("/Workspaces/{sid}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, json!(null));
    assert_error(
        &s.get(&format!("/Workspaces/{sid}")).await,
        404,
        20404,
        &format!("/Workspaces/{sid}"),
    );
    assert_error(
        &s.get(&format!("/Workspaces/{sid}/Activities")).await,
        404,
        20404,
        "was not found",
    );
    s.stop().await;
}

#[tokio::test]
async fn fifo_template_creates_queue_and_workflow() {
    let s = Server::start().await;
    let (_, w) = s
        .post(
            "/Workspaces",
            &[("FriendlyName", "Fifo"), ("Template", "FIFO")],
        )
        .await;
    let ws = w["sid"].as_str().unwrap();
    let (_, queues) = s.get(&format!("/Workspaces/{ws}/TaskQueues")).await;
    let queue = &queues["task_queues"][0];
    assert_eq!(queue["friendly_name"], "Sample Queue");
    assert_eq!(queue["target_workers"], "1==1");
    let (_, flows) = s.get(&format!("/Workspaces/{ws}/Workflows")).await;
    let flow = &flows["workflows"][0];
    assert_eq!(flow["friendly_name"], "Default Fifo Workflow");
    let config: serde_json::Value =
        serde_json::from_str(flow["configuration"].as_str().unwrap()).unwrap();
    assert_eq!(
        config["task_routing"]["default_filter"]["queue"],
        queue["sid"]
    );
    assert_error(
        &s.post(
            "/Workspaces",
            &[("FriendlyName", "x"), ("Template", "LIFO")],
        )
        .await,
        400,
        20001,
        "Template",
    );
    s.stop().await;
}

#[tokio::test]
async fn legacy_activity_set() {
    let s = Server::start_on(
        &switchyard_engine::testing::database(),
        switchyard_engine::EngineOptions {
            activity_set: switchyard_engine::ActivitySet::Legacy,
            ..Default::default()
        },
    )
    .await;
    let ws = s.workspace("Legacy").await;
    let (_, acts) = s.get(&format!("/Workspaces/{ws}/Activities")).await;
    let names: Vec<&str> = acts["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["friendly_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Offline", "Idle", "Busy", "Reserved"]);
    s.stop().await;
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let s = Server::start().await;
    assert_error(
        &s.post("/Workspaces", &[]).await,
        400,
        20001,
        "FriendlyName",
    );
    let long = "x".repeat(65);
    assert_error(
        &s.post("/Workspaces", &[("FriendlyName", &long)]).await,
        400,
        20001,
        "FriendlyName must be at most 64",
    );
    assert_error(
        &s.post(
            "/Workspaces",
            &[("FriendlyName", "a"), ("EventCallbackUrl", "not a url")],
        )
        .await,
        400,
        20001,
        "EventCallbackUrl",
    );
    assert_error(
        &s.post(
            "/Workspaces",
            &[
                ("FriendlyName", "a"),
                ("EventsFilter", "task.created,task.exploded"),
            ],
        )
        .await,
        400,
        20001,
        "task.exploded",
    );
    assert_error(
        &s.post(
            "/Workspaces",
            &[("FriendlyName", "a"), ("PrioritizeQueueOrder", "RANDOM")],
        )
        .await,
        400,
        20001,
        "PrioritizeQueueOrder",
    );
    let ws = s.workspace("W").await;
    let other = s.workspace("Other").await;
    let foreign = s.activity(&other, "Available").await;
    assert_error(
        &s.post(
            &format!("/Workspaces/{ws}"),
            &[("DefaultActivitySid", &foreign)],
        )
        .await,
        400,
        20001,
        "DefaultActivitySid",
    );
    assert_error(
        &s.post(
            &format!("/Workspaces/{ws}"),
            &[("TimeoutActivitySid", "WA123")],
        )
        .await,
        400,
        20001,
        "TimeoutActivitySid",
    );
    s.stop().await;
}

#[tokio::test]
async fn list_filters_by_friendly_name() {
    let s = Server::start().await;
    s.workspace("A").await;
    s.workspace("B").await;
    let (_, list) = s.get("/Workspaces?FriendlyName=B").await;
    let names: Vec<&str> = list["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["friendly_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["B"]);
    assert_eq!(list["meta"]["key"], "workspaces");
    assert_eq!(
        list["meta"]["url"],
        format!("{}/v1/Workspaces?FriendlyName=B&PageSize=50&Page=0", s.base)
    );
    s.stop().await;
}

#[tokio::test]
async fn delete_removes_everything_inside() {
    let s = Server::start().await;
    let (_, w) = s
        .post(
            "/Workspaces",
            &[("FriendlyName", "Full"), ("Template", "FIFO")],
        )
        .await;
    let ws = w["sid"].as_str().unwrap();
    let (status, worker) = s
        .post(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "alice")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let worker = worker["sid"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/Workspaces/{ws}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.get(&format!("/Workspaces/{ws}/Workers/{worker}")).await,
        404,
        20404,
        "was not found",
    );
    let (_, list) = s.get("/Workspaces").await;
    assert_eq!(list["workspaces"], json!([]));
    s.stop().await;
}
