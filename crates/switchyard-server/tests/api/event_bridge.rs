//! The Worker SDK's event bridge: `/v1/wschannels` takes an access token, not Basic auth, and
//! opens a WebSocket whose first frame introduces the worker's channel.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use switchyard_server::access_token::{ApiKey, DEV_API_KEY_SECRET, DEV_API_KEY_SID};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::common::*;

async fn server() -> Server {
    Server::start_configured(|mut c| {
        let key = format!("{DEV_API_KEY_SID}:{DEV_API_KEY_SECRET}");
        c.api_keys = vec![ApiKey::parse(&key, ACCOUNT.parse().unwrap()).unwrap()];
        c
    })
    .await
}

/// An access token as Twilio's helper libraries mint one.
fn token(secret: &str, ws: &str, worker: &str, ttl_secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut header = Header::new(Algorithm::HS256);
    header.cty = Some("twilio-fpa;v=1".into());
    let claims = json!({
        "jti": format!("{DEV_API_KEY_SID}-{now}"), "iss": DEV_API_KEY_SID, "sub": ACCOUNT,
        "iat": now, "exp": now + ttl_secs,
        "grants": {"identity": "alice", "task_router": {"workspace_sid": ws, "worker_sid": worker, "role": "worker"}},
    });
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A workspace with one worker, Alice.
async fn workspace_with_worker(s: &Server) -> (String, String) {
    let ws = s.workspace("Bridge").await;
    let w = format!("/Workspaces/{ws}/Workers");
    let worker = sid_of(&s.create(&w, &[("FriendlyName", "Alice")]).await);
    (ws, worker)
}

fn socket_url(s: &Server, token: &str) -> String {
    format!(
        "{}/v1/wschannels?token={token}&closeExistingSessions=false&clientVersion=2.1.1",
        s.base.replacen("http://", "ws://", 1)
    )
}

#[tokio::test]
async fn a_valid_token_opens_the_workers_channel_with_an_init_frame() {
    let s = server().await;
    let (ws, worker) = workspace_with_worker(&s).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(socket_url(
        &s,
        &token(DEV_API_KEY_SECRET, &ws, &worker, 3600),
    ))
    .await
    .expect("the socket opens");
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), futures_next(&mut socket))
        .await
        .expect("a first frame within 5 s");
    let Message::Text(text) = first else {
        panic!("not a text frame: {first:?}")
    };
    let init: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(init["event_type"], "init");
    assert_eq!(init["payload"]["channel_id"], worker);
    assert_eq!(init["payload"]["account_sid"], ACCOUNT);
    assert_eq!(init["payload"]["workspace_sid"], ws);
    let lifetime = init["payload"]["token_lifetime"].as_i64().unwrap();
    assert!((3_500_000..=3_600_000).contains(&lifetime), "{lifetime}");
}

#[tokio::test]
async fn a_bad_token_is_refused_before_the_socket_opens() {
    let s = server().await;
    let (ws, worker) = workspace_with_worker(&s).await;
    let other_ws = s.workspace("Elsewhere").await;
    for (token, code) in [
        (token("wrong secret", &ws, &worker, 3600), 20101),
        (token(DEV_API_KEY_SECRET, &ws, &worker, -10), 20104),
        // A worker that is not in the granted workspace.
        (token(DEV_API_KEY_SECRET, &other_ws, &worker, 3600), 20101),
        ("garbage".to_owned(), 20101),
    ] {
        match tokio_tungstenite::connect_async(socket_url(&s, &token)).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 401);
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
                assert_eq!(body["code"], code, "{body}");
                assert!(
                    body["message"].as_str().unwrap().contains("token"),
                    "{body}"
                );
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }
}

/// The next frame of a socket.
async fn futures_next<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    socket
        .next()
        .await
        .expect("the socket is open")
        .expect("a frame")
}

/// One RPC call as the SDK makes it: a JSON body whatever the Content-Type.
async fn rpc(s: &Server, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/v1/wschannels", s.base))
        .header("Content-Type", "text/plain;charset=UTF-8")
        .header("apiVersion", "v1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn the_rpc_channel_serves_a_worker_only_its_own_and_answers_preflights() {
    let s = server().await;
    let ws = s.workspace("Bridge").await;
    let w = format!("/Workspaces/{ws}/Workers");
    let alice = sid_of(&s.create(&w, &[("FriendlyName", "Alice")]).await);
    let bob = sid_of(&s.create(&w, &[("FriendlyName", "Bob")]).await);
    let token = token(DEV_API_KEY_SECRET, &ws, &alice, 3600);

    let (status, own) = rpc(
        &s,
        &json!({"url": format!("Workspaces/{ws}/Workers/{alice}"), "method": "GET", "params": {}, "token": token}),
    )
    .await;
    assert_eq!(status, 200, "{own}");
    let worker = &own["payload"];
    for field in [
        "account_sid",
        "activity_name",
        "activity_sid",
        "attributes",
        "available",
        "date_created",
        "date_status_changed",
        "date_updated",
        "friendly_name",
        "sid",
        "workspace_sid",
        "version",
    ] {
        assert!(
            worker.get(field).is_some(),
            "the SDK requires {field}: {worker}"
        );
    }
    assert_eq!(worker["account_sid"], ACCOUNT);
    assert!(
        worker["attributes"].is_string(),
        "attributes as a JSON string"
    );
    assert!(worker["date_created"].is_i64(), "dates in Unix seconds");

    let (status, other) = rpc(
        &s,
        &json!({"url": format!("Workspaces/{ws}/Workers/{bob}"), "method": "GET", "params": {}, "token": token}),
    )
    .await;
    assert_eq!(status, 403, "{other}");
    assert!(other["message"].as_str().unwrap().contains(&alice));

    let (status, refused) = rpc(
        &s,
        &json!({"url": format!("Workspaces/{ws}/Workers/{alice}"), "method": "GET", "params": {},
                "token": token_with("wrong", &ws, &alice)}),
    )
    .await;
    assert_eq!(status, 401, "{refused}");

    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/wschannels", s.base),
        )
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "apiversion,clientversion,if-match",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("apiversion") && allowed.contains("if-match"),
        "{allowed}"
    );
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}

fn token_with(secret: &str, ws: &str, worker: &str) -> String {
    token(secret, ws, worker, 3600)
}

#[tokio::test]
async fn a_new_session_may_close_the_others_and_the_last_to_go_sets_the_worker_offline() {
    use futures_util::StreamExt;
    let s = server().await;
    let ws = s.workspace("Sessions").await;
    let available = s.activity(&ws, "Available").await;
    let worker = sid_of(
        &s.create(
            &format!("/Workspaces/{ws}/Workers"),
            &[("FriendlyName", "Alice"), ("ActivitySid", &available)],
        )
        .await,
    );
    let token = token(DEV_API_KEY_SECRET, &ws, &worker, 3600);
    let url = socket_url(&s, &token);
    let (mut first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    futures_next(&mut first).await; // init
    let (mut second, _) = tokio_tungstenite::connect_async(
        url.replace("closeExistingSessions=false", "closeExistingSessions=true"),
    )
    .await
    .unwrap();
    futures_next(&mut second).await; // init
                                     // The first is closed by the server; the worker stays as it was, the second being open.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match first.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the older session was closed");
    let (_, alice) = s.get(&format!("/Workspaces/{ws}/Workers/{worker}")).await;
    assert_eq!(alice["activity_name"], "Available");

    // The last session goes: the worker goes to the workspace's default activity.
    second.close(None).await.unwrap();
    let alice = s
        .eventually(&format!("/Workspaces/{ws}/Workers/{worker}"), |w| {
            w["activity_name"] == "Offline"
        })
        .await;
    assert_eq!(alice["available"], false);
}

/// The next frame with an event, skipping heartbeats, within 5 s.
async fn next_event<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Message::Text(text) = futures_next(socket).await {
                if !text.trim().is_empty() {
                    return serde_json::from_str::<Value>(&text).unwrap();
                }
            }
        }
    })
    .await
    .expect("an event within 5 s")
}

#[tokio::test]
async fn the_sockets_of_one_workspace_each_get_their_own_workers_events() {
    let s = server().await;
    let ws = s.workspace("Shared feed").await;
    let available = s.activity(&ws, "Available").await;
    let w = format!("/Workspaces/{ws}/Workers");
    let alice = sid_of(&s.create(&w, &[("FriendlyName", "Alice")]).await);
    let bob = sid_of(&s.create(&w, &[("FriendlyName", "Bob")]).await);
    let mut sockets = Vec::new();
    for worker in [&alice, &bob] {
        let url = socket_url(&s, &token(DEV_API_KEY_SECRET, &ws, worker, 3600));
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(next_event(&mut socket).await["event_type"], "init");
        sockets.push(socket);
    }
    // Bob changes first: only his socket hears of it; then Alice, only hers.
    s.ok(&format!("{w}/{bob}"), &[("ActivitySid", &available)])
        .await;
    s.ok(&format!("{w}/{alice}"), &[("ActivitySid", &available)])
        .await;
    for (socket, worker) in sockets.iter_mut().zip([&alice, &bob]) {
        let e = next_event(socket).await;
        assert_eq!(e["event_type"], "worker.activity.update");
        assert_eq!(
            e["payload"]["sid"], *worker,
            "each socket hears its own worker first"
        );
        assert_eq!(e["payload"]["activity_name"], "Available");
    }
}
