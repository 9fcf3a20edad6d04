use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn crud_and_filters() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Activities");
    let (status, a) = s
        .post(&path, &[("FriendlyName", "Lunch"), ("Available", "yes")])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(a["sid"].as_str().unwrap().starts_with("WA"));
    assert_eq!(a["available"], true);
    assert_eq!(a["workspace_sid"], ws.as_str());
    assert_eq!(
        a["links"]["workspace"],
        format!("{}/v1/Workspaces/{ws}", s.base)
    );
    let sid = a["sid"].as_str().unwrap();
    let (_, b) = s.post(&path, &[("FriendlyName", "Break")]).await;
    assert_eq!(b["available"], false, "available defaults to false");
    let (_, c) = s
        .post(&path, &[("FriendlyName", "On call"), ("Available", "1")])
        .await;
    assert_eq!(c["available"], true);

    let (_, list) = s.get(&format!("{path}?Available=true")).await;
    let names: Vec<&str> = list["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["friendly_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Available", "Lunch", "On call"]);
    let (_, list) = s.get(&format!("{path}?Available=false")).await;
    let names: Vec<&str> = list["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["friendly_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Offline", "Unavailable", "Break"]);
    let (_, list) = s.get(&format!("{path}?FriendlyName=Lunch")).await;
    assert_eq!(list["activities"].as_array().unwrap().len(), 1);

    // Available is immutable: an update only renames.
    let (status, u) = s
        .post(
            &format!("{path}/{sid}"),
            &[("FriendlyName", "Long lunch"), ("Available", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(u["friendly_name"], "Long lunch");
    assert_eq!(u["available"], true);

    assert_error(
        &s.post(&path, &[("FriendlyName", "Break")]).await,
        400,
        20001,
        "already exists",
    );
    assert_error(
        &s.post(&format!("{path}/{sid}"), &[("FriendlyName", "Break")])
            .await,
        400,
        20001,
        "already exists",
    );
    assert_error(&s.post(&path, &[]).await, 400, 20001, "FriendlyName");

    assert_eq!(
        s.delete(&format!("{path}/{sid}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.get(&format!("{path}/{sid}")).await,
        404,
        20404,
        &format!("/Workspaces/{ws}/Activities/{sid}"),
    );
    s.stop().await;
}

#[tokio::test]
async fn activities_in_use_cannot_be_deleted() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Activities");
    let offline = s.activity(&ws, "Offline").await;
    assert_error(
        &s.delete(&format!("{path}/{offline}")).await,
        400,
        20001,
        "default or timeout activity",
    );

    let (_, busy) = s.post(&path, &[("FriendlyName", "Busy")]).await;
    let busy = busy["sid"].as_str().unwrap();
    let (_, w) = s
        .post(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "bob"), ("ActivitySid", busy)],
        )
        .await;
    assert_error(
        &s.delete(&format!("{path}/{busy}")).await,
        400,
        20001,
        "workers are in it",
    );
    let worker = w["sid"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/Workspaces/{ws}/Workers/{worker}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );

    let (_, q) = s
        .post(
            &format!("/Workspaces/{ws}/TaskQueues"),
            &[("FriendlyName", "Q"), ("AssignmentActivitySid", busy)],
        )
        .await;
    assert_eq!(q["assignment_activity_name"], "Busy");
    assert_error(
        &s.delete(&format!("{path}/{busy}")).await,
        400,
        20001,
        "TaskQueue",
    );
    s.stop().await;
}
