use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

fn names(list: &Value) -> Vec<String> {
    list["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["friendly_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn crud_with_activity_and_attributes() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Workers");
    let offline = s.activity(&ws, "Offline").await;
    let available = s.activity(&ws, "Available").await;

    let ((status, w), headers) = s
        .request(
            Method::POST,
            &path,
            &[
                ("FriendlyName", "Alice"),
                ("Attributes", r#"{"languages":["en","es"]}"#),
            ],
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    assert_eq!(headers["etag"], "\"0\"");
    let sid = w["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("WK"));
    assert_eq!(w["attributes"], r#"{"languages":["en","es"]}"#);
    assert_eq!(w["activity_sid"], offline.as_str());
    assert_eq!(w["activity_name"], "Offline");
    assert_eq!(w["available"], false);
    assert_eq!(w["date_status_changed"], "2014-05-14T10:50:02Z");
    for (key, suffix) in [
        ("channels", format!("/Workers/{sid}/Channels")),
        ("worker_channels", format!("/Workers/{sid}/Channels")),
        ("activity", format!("/Activities/{offline}")),
        ("reservations", format!("/Workers/{sid}/Reservations")),
        ("worker_statistics", format!("/Workers/{sid}/Statistics")),
        ("statistics", "/Workers/Statistics".to_owned()),
        (
            "real_time_statistics",
            "/Workers/RealTimeStatistics".to_owned(),
        ),
        (
            "cumulative_statistics",
            "/Workers/CumulativeStatistics".to_owned(),
        ),
        ("workspace", String::new()),
    ] {
        assert_eq!(
            w["links"][key],
            format!("{}/v1/Workspaces/{ws}{suffix}", s.base),
            "{key}"
        );
    }

    let (_, bare) = s
        .post(
            &path,
            &[("FriendlyName", "Bob"), ("ActivitySid", &available)],
        )
        .await;
    assert_eq!(bare["attributes"], "{}");
    assert_eq!(bare["available"], true);

    s.clock
        .advance(switchyard_core::time::Duration::from_secs(30));
    let ((status, u), headers) = s
        .request(
            Method::POST,
            &format!("{path}/{sid}"),
            &[
                ("ActivitySid", &available),
                ("Attributes", r#"{"languages":["en"]}"#),
            ],
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(u["activity_name"], "Available");
    assert_eq!(u["available"], true);
    assert_eq!(u["date_status_changed"], "2014-05-14T10:50:32Z");
    assert_eq!(u["attributes"], r#"{"languages":["en"]}"#);

    // Same activity again: the status date does not move.
    s.clock
        .advance(switchyard_core::time::Duration::from_secs(30));
    let (_, u) = s
        .post(
            &format!("{path}/{sid}"),
            &[("ActivitySid", &available), ("FriendlyName", "Alicia")],
        )
        .await;
    assert_eq!(u["date_status_changed"], "2014-05-14T10:50:32Z");
    assert_eq!(u["friendly_name"], "Alicia");

    let ((status, fetched), headers) = s
        .request(Method::GET, &format!("{path}/{sid}"), &[], &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "\"2\"");
    assert_eq!(fetched, u);

    assert_eq!(
        s.delete(&format!("{path}/{sid}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.get(&format!("{path}/{sid}")).await,
        404,
        20404,
        &format!("/Workspaces/{ws}/Workers/{sid}"),
    );
    s.stop().await;
}

#[tokio::test]
async fn validation() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Workers");
    s.post(&path, &[("FriendlyName", "Alice")]).await;
    assert_error(
        &s.post(&path, &[("FriendlyName", "ALICE")]).await,
        400,
        20001,
        "already exists",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("Attributes", "[1,2]")])
            .await,
        400,
        20001,
        "Attributes must be a JSON object",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("Attributes", "{nope")])
            .await,
        400,
        20001,
        "Attributes is not valid JSON",
    );
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(4090));
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("Attributes", &big)])
            .await,
        400,
        20001,
        "at most 4096",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("ActivitySid", "WAnope")])
            .await,
        400,
        20001,
        "ActivitySid",
    );
    assert_error(
        &s.post(
            &path,
            &[
                ("FriendlyName", "x"),
                ("ActivitySid", "WA00000000000000000000000000000000"),
            ],
        )
        .await,
        400,
        20001,
        "ActivitySid WA00000000000000000000000000000000 is not an activity",
    );
    let (_, list) = s.get(&path).await;
    assert_eq!(
        names(&list),
        ["Alice"],
        "failed creates leave nothing behind"
    );

    let sid = list["workers"][0]["sid"].as_str().unwrap();
    let available = s.activity(&ws, "Available").await;
    assert_error(
        &s.post(
            &format!("{path}/{sid}"),
            &[
                ("ActivitySid", &available),
                ("RejectPendingReservations", "true"),
            ],
        )
        .await,
        400,
        20001,
        "RejectPendingReservations",
    );
    s.stop().await;
}

#[tokio::test]
async fn if_match_guards_update_and_delete() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let (_, w) = s
        .post(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "A")],
        )
        .await;
    let path = format!("/Workspaces/{ws}/Workers/{}", w["sid"].as_str().unwrap());
    let ((status, _), _) = s
        .request(
            Method::POST,
            &path,
            &[("FriendlyName", "B")],
            &[("If-Match", "0")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (stale, _) = s
        .request(
            Method::POST,
            &path,
            &[("FriendlyName", "C")],
            &[("If-Match", "0")],
        )
        .await;
    assert_error(&stale, 412, 20412, "If-Match");
    let ((status, body), _) = s
        .request(
            Method::POST,
            &path,
            &[("FriendlyName", "C")],
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (stale, _) = s
        .request(Method::DELETE, &path, &[], &[("If-Match", "1")])
        .await;
    assert_error(&stale, 412, 20412, "If-Match");
    let ((status, _), _) = s
        .request(Method::DELETE, &path, &[], &[("If-Match", "2")])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    s.stop().await;
}

#[tokio::test]
async fn list_filters() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Workers");
    let available = s.activity(&ws, "Available").await;
    s.post(
        &path,
        &[
            ("FriendlyName", "Alice"),
            ("ActivitySid", &available),
            ("Attributes", r#"{"languages":["en","es"],"level":3}"#),
        ],
    )
    .await;
    s.post(
        &path,
        &[
            ("FriendlyName", "Bob"),
            ("Attributes", r#"{"languages":["en"],"level":1}"#),
        ],
    )
    .await;
    s.post(
        &path,
        &[
            ("FriendlyName", "Carol"),
            ("ActivitySid", &available),
            ("Attributes", r#"{"languages":["fr"],"level":"5"}"#),
        ],
    )
    .await;
    let (_, q) = s
        .post(
            &format!("/Workspaces/{ws}/TaskQueues"),
            &[
                ("FriendlyName", "Spanish"),
                ("TargetWorkers", "languages HAS 'es'"),
            ],
        )
        .await;
    let queue = q["sid"].as_str().unwrap();

    let cases = [
        ("ActivityName=Available", vec!["Alice", "Carol"]),
        (
            &format!("ActivitySid={available}") as &str,
            vec!["Alice", "Carol"],
        ),
        ("Available=true", vec!["Alice", "Carol"]),
        ("Available=false", vec!["Bob"]),
        ("FriendlyName=bob", vec!["Bob"]),
        (
            "TargetWorkersExpression=level%20%3E%202",
            vec!["Alice", "Carol"],
        ),
        (
            "TargetWorkersExpression=friendly_name%20IN%20%5B'Bob'%2C'Carol'%5D",
            vec!["Bob", "Carol"],
        ),
        (
            "TargetWorkersExpression=activity_name%20%3D%3D%20'Offline'",
            vec!["Bob"],
        ),
        (&format!("TaskQueueSid={queue}"), vec!["Alice"]),
        ("TaskQueueName=Spanish", vec!["Alice"]),
        ("TaskQueueName=Nope", vec![]),
        (
            "Available=true&TargetWorkersExpression=languages%20HAS%20'en'",
            vec!["Alice"],
        ),
    ];
    for (query, want) in cases {
        let (status, list) = s.get(&format!("{path}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(names(&list), want, "{query}");
    }
    assert_error(
        &s.get(&format!("{path}?TargetWorkersExpression=level%20%3E"))
            .await,
        400,
        20001,
        "TargetWorkersExpression",
    );

    // Queue membership follows attribute changes.
    let bob = s.get(&format!("{path}?FriendlyName=Bob")).await.1["workers"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        &format!("{path}/{bob}"),
        &[("Attributes", r#"{"languages":["es"]}"#)],
    )
    .await;
    let (_, list) = s.get(&format!("{path}?TaskQueueSid={queue}")).await;
    assert_eq!(names(&list), ["Alice", "Bob"]);
    s.stop().await;
}

#[tokio::test]
async fn worker_channels() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let (_, w) = s
        .post(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "A")],
        )
        .await;
    let worker = w["sid"].as_str().unwrap();
    let path = format!("/Workspaces/{ws}/Workers/{worker}/Channels");
    let (status, list) = s.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["meta"]["key"], "channels");
    let channels = list["channels"].as_array().unwrap();
    let names: Vec<&str> = channels
        .iter()
        .map(|c| c["task_channel_unique_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "voice", "chat", "sms", "video"]);
    let chat = channels
        .iter()
        .find(|c| c["task_channel_unique_name"] == "chat")
        .unwrap();
    assert_eq!(chat["configured_capacity"], 1);
    assert_eq!(chat["available"], true);
    assert_eq!(chat["assigned_tasks"], 0);
    assert_eq!(chat["available_capacity_percentage"], 100);
    assert_eq!(chat["worker_sid"], worker);
    assert!(chat["sid"].as_str().unwrap().starts_with("WC"));
    assert!(chat.get("links").is_none());
    let chat_sid = chat["sid"].as_str().unwrap();
    assert_eq!(chat["url"], format!("{}/v1{path}/{chat_sid}", s.base));

    let (status, u) = s
        .post(
            &format!("{path}/{chat_sid}"),
            &[("Capacity", "3"), ("Available", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["configured_capacity"], 3);
    assert_eq!(u["available"], false);
    let (_, fetched) = s.get(&format!("{path}/{chat_sid}")).await;
    assert_eq!(fetched, u);
    let (_, by_name) = s.get(&format!("{path}/chat")).await;
    assert_eq!(by_name, u);
    assert_error(
        &s.post(&format!("{path}/{chat_sid}"), &[("Capacity", "51")])
            .await,
        400,
        20001,
        "Capacity",
    );
    assert_error(
        &s.post(&format!("{path}/{chat_sid}"), &[("Capacity", "-1")])
            .await,
        400,
        20001,
        "Capacity",
    );
    assert_error(
        &s.post(&format!("{path}/{chat_sid}"), &[("Capacity", "two")])
            .await,
        400,
        20001,
        "Capacity must be an integer",
    );

    // A channel added later appears on existing workers.
    s.post(
        &format!("/Workspaces/{ws}/TaskChannels"),
        &[("FriendlyName", "Email"), ("UniqueName", "email")],
    )
    .await;
    let (_, list) = s.get(&path).await;
    assert_eq!(list["channels"].as_array().unwrap().len(), 6);
    assert_eq!(
        list["channels"][5]["task_channel_unique_name"],
        json!("email")
    );
    s.stop().await;
}
