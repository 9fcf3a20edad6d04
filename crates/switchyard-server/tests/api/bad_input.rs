//! Bad input gets a clear Twilio-shaped error: bytes that are not text, paging past any row
//! number, preconditions that cannot hold, paths that name nothing.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn raw_post(s: &Server, path: &str, body: &'static [u8]) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/v1{path}", s.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn text_that_is_not_utf8_or_holds_nul_is_refused_naming_the_parameter() {
    let s = Server::start().await;
    let got = raw_post(&s, "/Workspaces", b"FriendlyName=caf%E9").await;
    assert_error(&got, 400, 20001, "FriendlyName");
    assert!(
        got.1["message"].as_str().unwrap().contains("UTF-8"),
        "{}",
        got.1
    );
    let got = raw_post(&s, "/Workspaces", b"FriendlyName=a%00b").await;
    assert_error(&got, 400, 20001, "FriendlyName");
    assert!(
        got.1["message"].as_str().unwrap().contains("NUL"),
        "{}",
        got.1
    );
    // Nothing was created by either.
    let (_, list) = s.get("/Workspaces").await;
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 0);
    let ok = raw_post(&s, "/Workspaces", b"FriendlyName=caf%C3%A9+%2B1").await;
    assert_eq!(ok.0, StatusCode::CREATED);
    assert_eq!(ok.1["friendly_name"], "café +1");
    s.stop().await;
}

#[tokio::test]
async fn a_page_past_any_row_number_is_a_400_not_page_zero() {
    let s = Server::start().await;
    s.workspace("W").await;
    for query in [
        "Page=9223372036854775807&PageSize=3",
        "Page=4611686018427387904&PageSize=2",
    ] {
        let got = s.get(&format!("/Workspaces?{query}")).await;
        assert_error(&got, 400, 20001, "Page");
    }
    // Far but representable: an empty page with valid neighbour URLs.
    let (st, page) = s.get("/Workspaces?Page=1000000&PageSize=1000").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(page["workspaces"].as_array().unwrap().len(), 0);
    assert!(page["meta"]["previous_page_url"]
        .as_str()
        .unwrap()
        .contains("Page=999999"));
    s.stop().await;
}

#[tokio::test]
async fn if_match_star_matches_and_a_tag_naming_no_single_version_fails() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let worker = s
        .create(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "a")],
        )
        .await;
    let path = format!("/Workspaces/{ws}/Workers/{}", sid_of(&worker));
    let ((st, _), headers) = s.request(reqwest::Method::GET, &path, &[], &[]).await;
    assert_eq!(st, StatusCode::OK);
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "quoted: {etag}"
    );
    let update = |tag: &'static [u8]| {
        let url = format!("{}/v1{path}", s.base);
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .basic_auth(ACCOUNT, Some(TOKEN))
                .header(
                    "If-Match",
                    reqwest::header::HeaderValue::from_bytes(tag).unwrap(),
                )
                .form(&[("Attributes", r#"{"x":1}"#)])
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(
        update(b"*").await.0,
        StatusCode::OK,
        "* matches any version"
    );
    let got = update("\"1\u{e9}\"".as_bytes()).await;
    assert_error(&got, 412, 20412, "If-Match");
    let got = update(b"\"999\", \"998\"").await;
    assert_error(&got, 412, 20412, "If-Match");
    // A list naming the current version beside another is refused: the engine compares one
    // version, and Twilio compares the header as one tag.
    let ((_, now), headers) = s.request(reqwest::Method::GET, &path, &[], &[]).await;
    assert_eq!(now["attributes"], r#"{"x":1}"#);
    let current = headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let list: &'static [u8] =
        Box::leak(format!("\"0\", {current}").into_bytes().into_boxed_slice());
    assert_error(&update(list).await, 412, 20412, "If-Match");
    let same: &'static [u8] = Box::leak(
        format!("\"{current}\", W/\"{current}\"")
            .into_bytes()
            .into_boxed_slice(),
    );
    assert_eq!(update(same).await.0, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn the_api_root_is_a_404_naming_its_path() {
    let s = Server::start().await;
    let got = s.get("/v1").await;
    assert_error(&got, 404, 20404, "The requested resource /v1 was not found");
    s.stop().await;
}

#[tokio::test]
async fn an_invalid_instruction_is_a_400_and_the_reservation_stays_pending() {
    use crate::routing::{available_worker, pending_reservations, simple_workspace};
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "a").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let r = sid_of(&pending_reservations(&s, &ws, &task).await[0]);
    let path = format!("{w}/Tasks/{task}/Reservations/{r}");
    // (form, Twilio's error code, what the message names)
    type Case<'a> = (&'a [(&'a str, &'a str)], u64, &'a str);
    let bad: [Case<'_>; 5] = [
        (
            &[
                ("Instruction", "Dequeue"),
                ("DequeueStatusCallbackEvent", "initiated"),
                ("DequeueStatusCallbackEvent", "hung-up"),
            ],
            40134,
            "DequeueStatusCallbackEvent",
        ),
        (
            &[
                ("Instruction", "dequeue"),
                ("DequeueStatusCallbackUrl", "not a url"),
            ],
            40157,
            "DequeueStatusCallbackUrl",
        ),
        (
            &[("Instruction", "conference"), ("Beep", "sometimes")],
            20001,
            "Beep",
        ),
        (
            &[("Instruction", "conference"), ("MaxParticipants", "1")],
            20001,
            "MaxParticipants",
        ),
        (
            &[
                ("Instruction", "conference"),
                ("ConferenceStatusCallbackEvent", "start,explode"),
            ],
            20001,
            "ConferenceStatusCallbackEvent",
        ),
    ];
    for (form, code, names) in bad {
        assert_error(&s.post(&path, form).await, 400, code, names);
        let (_, now) = s.get(&path).await;
        assert_eq!(
            now["reservation_status"], "pending",
            "{form:?} changed nothing"
        );
    }
    let (st, accepted) = s
        .post(
            &path,
            &[
                ("Instruction", "dequeue"),
                ("DequeueFrom", "+15550001"),
                ("DequeueStatusCallbackEvent", "initiated,completed"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["reservation_status"], "accepted");
    s.stop().await;
}

#[tokio::test]
async fn workflow_configurations_are_bounded_with_clear_messages() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let queue = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
            .await,
    );
    let filter = format!(r#"{{"expression":"1==1","targets":[{{"queue":"{queue}"}}]}}"#);
    let config = |n: usize| {
        let filters = vec![filter.as_str(); n].join(",");
        format!(r#"{{"task_routing":{{"filters":[{filters}]}}}}"#)
    };
    let form = |c: &str| {
        vec![
            ("FriendlyName".to_owned(), "F".to_owned()),
            ("Configuration".to_owned(), c.to_owned()),
        ]
    };
    let post = |c: String| {
        let url = format!("{}/v1{w}/Workflows", s.base);
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .basic_auth(ACCOUNT, Some(TOKEN))
                .form(&form(&c))
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let got = post(config(1001)).await;
    assert_error(&got, 400, 20001, "at most 1000 are allowed");
    // Over Twilio's documented size, yet well within what the server reads: the configuration's
    // own limit answers, not a body-size failure.
    let padded = format!("{}{}", " ".repeat(1_100_000), config(1));
    let got = post(padded).await;
    assert_error(&got, 400, 20001, "at most 1038576 bytes are allowed");
    let (st, _) = post(config(1000)).await;
    assert_eq!(st, StatusCode::CREATED);
    s.stop().await;
}

/// Sends `request` as raw bytes and reads the whole answer (the server closes after it).
async fn raw_exchange(s: &Server, request: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await
    .expect("an answer within 10 s")
    .unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn unparseable_requests_get_twilio_shaped_errors() {
    let s = Server::start().await;
    let long = format!(
        "GET /v1/Workspaces?x={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let (status, body) = raw_exchange(&s, long.as_bytes()).await;
    assert_eq!(
        (status, body["status"].as_u64()),
        (414, Some(414)),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("URI"), "{body}");
    let (status, body) = raw_exchange(&s, b"NOT A REQUEST LINE\r\n\r\n").await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (400, Some(20001)),
        "{body}"
    );
    assert!(body["more_info"].as_str().is_some());
    s.stop().await;
}
