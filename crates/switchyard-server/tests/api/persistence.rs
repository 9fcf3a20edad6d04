use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn everything_survives_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = switchyard_engine::testing::database_at(&dir.path().join("switchyard.db"));
    let s = Server::start_on(&url, Default::default()).await;
    let (_, w) = s
        .post(
            "/Workspaces",
            &[("FriendlyName", "Durable"), ("Template", "FIFO")],
        )
        .await;
    let ws = w["sid"].as_str().unwrap().to_owned();
    let (_, worker) = s
        .post(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "Alice"), ("Attributes", r#"{"a":1}"#)],
        )
        .await;
    let worker_path = format!(
        "/Workspaces/{ws}/Workers/{}",
        worker["sid"].as_str().unwrap()
    );
    s.post(
        &format!("{worker_path}/Channels/chat"),
        &[("Capacity", "4")],
    )
    .await;
    let (_, before_ws) = s.get(&format!("/Workspaces/{ws}")).await;
    let (_, before_worker) = s.get(&worker_path).await;
    let (_, before_queues) = s.get(&format!("/Workspaces/{ws}/TaskQueues")).await;
    let (_, before_flows) = s.get(&format!("/Workspaces/{ws}/Workflows")).await;
    s.stop().await;

    let s = Server::start_on(&url, Default::default()).await;
    // The base URL (a new port) differs; compare everything but URLs.
    let strip = |mut v: serde_json::Value| {
        let text = v.to_string();
        let port_free = regex_free_replace(&text);
        v = serde_json::from_str(&port_free).unwrap();
        v
    };
    let (status, after_ws) = s.get(&format!("/Workspaces/{ws}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(strip(after_ws), strip(before_ws));
    assert_eq!(strip(s.get(&worker_path).await.1), strip(before_worker));
    assert_eq!(
        strip(s.get(&format!("/Workspaces/{ws}/TaskQueues")).await.1),
        strip(before_queues)
    );
    assert_eq!(
        strip(s.get(&format!("/Workspaces/{ws}/Workflows")).await.1),
        strip(before_flows)
    );
    let (_, chat) = s.get(&format!("{worker_path}/Channels/chat")).await;
    assert_eq!(chat["configured_capacity"], 4);
    s.stop().await;
}

/// Replaces every `http://127.0.0.1:PORT` with `http://host`.
fn regex_free_replace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("http://127.0.0.1:") {
        out.push_str(&rest[..i]);
        out.push_str("http://host");
        rest = &rest[i + "http://127.0.0.1:".len()..];
        rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}
