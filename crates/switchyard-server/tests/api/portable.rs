//! Export and import: a workspace's configuration as one document, and a new workspace made
//! from it that routes the same way.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

async fn import(s: &Server, body: &str, content_type: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/_switchyard/Import", s.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn export(s: &Server, ws: &str) -> Value {
    let (status, doc) = s.get(&format!("/_switchyard/Workspaces/{ws}/Export")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

async fn workspace_count(s: &Server) -> usize {
    let (_, list) = s.get("/Workspaces").await;
    list["workspaces"].as_array().unwrap().len()
}

/// A workspace with something of everything: its own activity and channel, two queues, a
/// workflow with a filter and a default, and a worker with a channel capacity.
async fn rich_workspace(s: &Server) -> String {
    let (_, ws) = s
        .post(
            "/Workspaces",
            &[
                ("FriendlyName", "Support"),
                ("MultiTaskEnabled", "true"),
                ("EventCallbackUrl", "http://127.0.0.1:9/events"),
            ],
        )
        .await;
    let ws = sid_of(&ws);
    let w = format!("/Workspaces/{ws}");
    let brk = sid_of(
        &s.create(
            &format!("{w}/Activities"),
            &[("FriendlyName", "Break"), ("Available", "false")],
        )
        .await,
    );
    s.create(
        &format!("{w}/TaskChannels"),
        &[("FriendlyName", "E-mail"), ("UniqueName", "email")],
    )
    .await;
    let spanish = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Spanish"),
                ("TargetWorkers", "languages HAS 'es'"),
                ("MaxReservedWorkers", "2"),
                ("TaskOrder", "LIFO"),
            ],
        )
        .await,
    );
    let everyone = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Everyone")])
            .await,
    );
    let config = json!({"task_routing": {
        "filters": [{"filter_friendly_name": "Spanish", "expression": "lang == 'es'",
                     "targets": [{"queue": spanish, "timeout": 60}, {"queue": everyone}]}],
        "default_filter": {"queue": everyone}}})
    .to_string();
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "Inbound"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", "http://127.0.0.1:9/assign"),
            ("TaskReservationTimeout", "30"),
        ],
    )
    .await;
    let alice = sid_of(
        &s.create(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "Alice"),
                ("Attributes", r#"{"languages":["en","es"],"level":3}"#),
                ("ActivitySid", &brk),
            ],
        )
        .await,
    );
    s.ok(
        &format!("{w}/Workers/{alice}/Channels/email"),
        &[("Capacity", "3")],
    )
    .await;
    ws
}

#[tokio::test]
async fn an_exported_workspace_imports_as_an_equivalent_one_with_new_sids() {
    let s = Server::start().await;
    let ws = rich_workspace(&s).await;
    let doc = export(&s, &ws).await;
    assert_eq!(doc["format"], "switchyard.workspace.v1");
    let text = doc.to_string();
    assert!(
        !text.contains("WQ") && !text.contains(&ws),
        "no SIDs: {text}"
    );
    let workflow = &doc["workflows"][0];
    assert_eq!(
        workflow["configuration"]["task_routing"]["filters"][0]["targets"][0]["queue"],
        "Spanish"
    );
    assert_eq!(
        workflow["configuration"]["task_routing"]["default_filter"]["queue"],
        "Everyone"
    );
    let alice = &doc["workers"][0];
    assert_eq!(alice["activity"], "Break");
    assert_eq!(alice["attributes"]["languages"], json!(["en", "es"]));
    let email = (alice["channels"].as_array().unwrap().iter())
        .find(|c| c["task_channel"] == "email")
        .unwrap();
    assert_eq!(email["capacity"], 3);

    let mut copy = doc.clone();
    copy["friendly_name"] = json!("Support (copy)");
    let (status, created) = import(&s, &copy.to_string(), "application/json").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let new_ws = sid_of(&created);
    assert_ne!(new_ws, ws);
    assert_eq!(created["friendly_name"], "Support (copy)");
    // Exported again, the copy is the same document.
    assert_eq!(export(&s, &new_ws).await, copy);

    // And it routes the same way: a Spanish task waits in the copy's Spanish queue.
    let task = s
        .create(
            &format!("/Workspaces/{new_ws}/Tasks"),
            &[("Attributes", r#"{"lang":"es"}"#)],
        )
        .await;
    assert_eq!(task["task_queue_friendly_name"], "Spanish");
}

#[tokio::test]
async fn a_bad_document_is_refused_naming_the_field_and_creates_nothing() {
    let s = Server::start().await;
    let ws = rich_workspace(&s).await;
    let doc = export(&s, &ws).await;
    let before = workspace_count(&s).await;

    let mut unknown_queue = doc.clone();
    unknown_queue["workflows"][0]["configuration"]["task_routing"]["filters"][0]["targets"][0]
        ["queue"] = json!("Klingon");
    let got = import(&s, &unknown_queue.to_string(), "application/json").await;
    assert_error(
        &got,
        400,
        20001,
        "workflows[0].configuration.task_routing.filters[0].targets[0].queue",
    );
    assert!(got.1["message"].as_str().unwrap().contains("Klingon"));

    let mut bad_type = doc.clone();
    bad_type["workers"][0]["channels"][0]["capacity"] = json!("lots");
    assert_error(
        &import(&s, &bad_type.to_string(), "application/json").await,
        400,
        20001,
        "workers[0].channels[0].capacity",
    );

    let mut bad_activity = doc.clone();
    bad_activity["task_queues"][0]["reservation_activity"] = json!("Lunch");
    assert_error(
        &import(&s, &bad_activity.to_string(), "application/json").await,
        400,
        20001,
        "task_queues[0].reservation_activity",
    );

    let mut bad_expression = doc.clone();
    bad_expression["task_queues"][1]["target_workers"] = json!("languages HAS");
    assert_error(
        &import(&s, &bad_expression.to_string(), "application/json").await,
        400,
        20001,
        "task_queues[1]",
    );

    let mut wrong_format = doc.clone();
    wrong_format["format"] = json!("something else");
    assert_error(
        &import(&s, &wrong_format.to_string(), "application/json").await,
        400,
        20001,
        "format",
    );
    assert_error(
        &import(&s, "not json", "application/json").await,
        400,
        20001,
        "",
    );
    assert_error(
        &import(&s, &doc.to_string(), "application/x-www-form-urlencoded").await,
        400,
        20001,
        "application/json",
    );
    assert_eq!(workspace_count(&s).await, before, "nothing half-created");

    assert_error(
        &s.get("/_switchyard/Workspaces/WS00000000000000000000000000000000/Export")
            .await,
        404,
        20404,
        "",
    );
}
