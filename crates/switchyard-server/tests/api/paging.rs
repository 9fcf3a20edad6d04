use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn token_paging_is_complete_and_stable_while_rows_are_added() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Workers");
    for i in 0..7 {
        s.post(&path, &[("FriendlyName", &format!("w{i}"))]).await;
    }
    let (status, first) = s.get(&format!("{path}?PageSize=3")).await;
    assert_eq!(status, StatusCode::OK);
    let meta = &first["meta"];
    assert_eq!(meta["page"], 0);
    assert_eq!(meta["page_size"], 3);
    assert_eq!(meta["previous_page_url"], Value::Null);
    assert_eq!(
        meta["first_page_url"],
        format!("{}/v1{path}?PageSize=3&Page=0", s.base)
    );

    // A row added mid-walk shows up at the end, and nothing repeats or goes missing.
    s.post(&path, &[("FriendlyName", "late")]).await;
    let mut seen = Vec::new();
    let mut page = first;
    loop {
        for w in page["workers"].as_array().unwrap() {
            seen.push(w["friendly_name"].as_str().unwrap().to_owned());
        }
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => {
                assert!(next.contains("PageToken="));
                page = s.get(next).await.1;
            }
            None => break,
        }
    }
    assert_eq!(seen, ["w0", "w1", "w2", "w3", "w4", "w5", "w6", "late"]);
    assert_eq!(page["meta"]["page"], 2);

    // previous_page_url walks back to the same rows.
    let prev = page["meta"]["previous_page_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, back) = s.get(&prev).await;
    let names: Vec<&str> = back["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["friendly_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["w3", "w4", "w5"]);
    assert_eq!(back["meta"]["page"], 1);

    // Filters are echoed in page URLs and keep applying.
    let (_, filtered) = s
        .get(&format!(
            "{path}?PageSize=2&TargetWorkersExpression=1%3D%3D1"
        ))
        .await;
    let next = filtered["meta"]["next_page_url"].as_str().unwrap();
    assert!(next.contains("TargetWorkersExpression=1%3D%3D1"), "{next}");
    let mut all = HashSet::new();
    let mut page = filtered;
    loop {
        for w in page["workers"].as_array().unwrap() {
            assert!(all.insert(w["sid"].as_str().unwrap().to_owned()));
        }
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => page = s.get(next).await.1,
            None => break,
        }
    }
    assert_eq!(all.len(), 8);
    s.stop().await;
}

#[tokio::test]
async fn page_size_and_token_are_validated() {
    let s = Server::start().await;
    assert_error(
        &s.get("/Workspaces?PageSize=0").await,
        400,
        20001,
        "PageSize",
    );
    assert_error(
        &s.get("/Workspaces?PageSize=1001").await,
        400,
        20001,
        "PageSize",
    );
    assert_error(
        &s.get("/Workspaces?PageSize=ten").await,
        400,
        20001,
        "PageSize",
    );
    assert_error(
        &s.get("/Workspaces?PageToken=garbage").await,
        400,
        20001,
        "PageToken",
    );
    let (status, list) = s.get("/Workspaces?PageSize=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["meta"]["page_size"], 1000);
    s.stop().await;
}

#[tokio::test]
async fn a_page_number_without_a_token_returns_that_page() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/Workers");
    for i in 0..5 {
        s.post(&path, &[("FriendlyName", &format!("w{i}"))]).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["friendly_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, page1) = s.get(&format!("{path}?PageSize=2&Page=1")).await;
    assert_eq!(names(&page1), ["w2", "w3"]);
    assert_eq!(page1["meta"]["page"], 1);
    let (_, prev) = s
        .get(page1["meta"]["previous_page_url"].as_str().unwrap())
        .await;
    assert_eq!(names(&prev), ["w0", "w1"]);
    let (_, next) = s
        .get(page1["meta"]["next_page_url"].as_str().unwrap())
        .await;
    assert_eq!(names(&next), ["w4"]);
    assert_eq!(next["meta"]["next_page_url"], Value::Null);
    // With a filter evaluated in Rust too.
    let (_, filtered) = s
        .get(&format!(
            "{path}?PageSize=2&Page=2&TargetWorkersExpression=1%3D%3D1"
        ))
        .await;
    assert_eq!(names(&filtered), ["w4"]);
    s.stop().await;
}
