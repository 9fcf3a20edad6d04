//! Worker SDK sockets at scale: `--sockets` workers connected to the event bridge
//! (`/v1/wschannels`) with access tokens, speaking the SDK's protocol, each made Available.
//! Tasks are created over HTTP at `--rate`; each is reserved for an idle worker and the latency
//! is from sending the create to that worker's socket receiving `reservation.created`. Also
//! the process's resident memory per open socket.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use futures_util::StreamExt;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use switchyard_server::access_token::{ApiKey, DEV_API_KEY_SECRET, DEV_API_KEY_SID};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::http::{sid, start_server};
use crate::measure::{percentiles, rss_kb};
use crate::{ACCOUNT, TOKEN};

/// Sockets opening at once while connecting.
const CONNECTING: usize = 50;
/// How long the last frames may take to arrive once every task is created.
const DRAIN: Duration = Duration::from_secs(30);

pub(crate) async fn run(sockets: usize, rate: u64) -> Result<Value> {
    ensure!(sockets > 0 && rate > 0, "sockets and rate must be positive");
    let (base, running) = start_server(|mut c| {
        let key = format!("{DEV_API_KEY_SID}:{DEV_API_KEY_SECRET}");
        c.api_keys =
            vec![ApiKey::parse(&key, ACCOUNT.parse().expect("a valid SID")).expect("a valid key")];
        c
    })
    .await?;
    let client = reqwest::Client::new();
    let api = Api {
        client: &client,
        base: format!("{base}/v1"),
    };

    // No assignment callback: reservations stay pending, one per worker, as agents would see
    // them before answering.
    let ws = sid(&api
        .post("/Workspaces", &[("FriendlyName", "sockets")])
        .await?)?;
    let w = format!("/Workspaces/{ws}");
    let queue = sid(&api
        .post(&format!("{w}/TaskQueues"), &[("FriendlyName", "all")])
        .await?)?;
    let routing = json!({ "task_routing": { "default_filter": { "queue": queue } } });
    let workflow = api
        .post(
            &format!("{w}/Workflows"),
            &[
                ("FriendlyName", "all"),
                ("Configuration", &routing.to_string()),
            ],
        )
        .await?;
    let workflow = sid(&workflow)?;
    let available = api
        .get(&format!("{w}/Activities?FriendlyName=Available"))
        .await?["activities"][0]["sid"]
        .as_str()
        .context("no Available activity")?
        .to_owned();
    let mut workers = Vec::with_capacity(sockets);
    for i in 0..sockets {
        let name = format!("agent-{i}");
        let form = [("FriendlyName", name.as_str()), ("ActivitySid", &available)];
        workers.push(sid(&api.post(&format!("{w}/Workers"), &form).await?)?);
    }

    // Connect every socket and wait for its init frame; each then reports the `n` of every
    // reservation offered to it.
    let rss_before = rss_kb();
    let (offers, mut offered) = mpsc::unbounded_channel::<(u64, Instant)>();
    let ws_base = base.replacen("http://", "ws://", 1);
    let permits = Arc::new(Semaphore::new(CONNECTING));
    let mut connecting = Vec::with_capacity(sockets);
    for worker in &workers {
        let url = format!(
            "{ws_base}/v1/wschannels?token={}&closeExistingSessions=false&clientVersion=2.1.1",
            access_token(&ws, worker)?
        );
        let permits = permits.clone();
        let offers = offers.clone();
        connecting.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await?;
            // As small a read buffer as the server's: the frames are small.
            let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
            let (mut socket, _) =
                tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
            match socket.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"init\"") => {}
                other => bail!("no init frame: {other:?}"),
            }
            drop(permit);
            tokio::spawn(async move {
                while let Some(Ok(frame)) = socket.next().await {
                    if let Message::Text(text) = frame {
                        if let Some(n) = offered_n(&text) {
                            let _ = offers.send((n, Instant::now()));
                        }
                    }
                }
            });
            anyhow::Ok(())
        }));
    }
    drop(offers);
    let connect_started = Instant::now();
    for c in connecting {
        c.await??;
    }
    let connect_s = connect_started.elapsed().as_secs_f64();
    let rss_after = rss_kb();

    // Create one task per worker at `rate`; each is offered to an idle worker.
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; sockets]));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut creating = Vec::with_capacity(sockets);
    for n in 0..sockets {
        tick.tick().await;
        let (client, sent) = (client.clone(), sent.clone());
        let url = format!("{base}/v1{w}/Tasks");
        let form = [
            ("Attributes", json!({ "n": n }).to_string()),
            ("WorkflowSid", workflow.clone()),
        ];
        creating.push(tokio::spawn(async move {
            sent.lock().expect("not poisoned")[n] = Some(Instant::now());
            let res = client
                .post(url)
                .basic_auth(ACCOUNT, Some(TOKEN))
                .form(&form)
                .send()
                .await?;
            ensure!(res.status().is_success(), "create: {}", res.status());
            anyhow::Ok(())
        }));
    }
    for c in creating {
        c.await??;
    }
    let mut latencies = Vec::with_capacity(sockets);
    let deadline = tokio::time::Instant::now() + DRAIN;
    while latencies.len() < sockets {
        let Ok(Some((n, at))) = tokio::time::timeout_at(deadline, offered.recv()).await else {
            break;
        };
        let sent_at = sent.lock().expect("not poisoned")[n as usize];
        if let Some(sent_at) = sent_at {
            latencies.push(at.saturating_duration_since(sent_at));
        }
    }
    let received = latencies.len();
    running.stop().await?;
    ensure!(
        received == sockets,
        "only {received} of {sockets} sockets heard of their reservation within {DRAIN:?}"
    );
    let per_socket_kb = match (rss_before, rss_after) {
        // With a few sockets the allocator may hand memory back meanwhile: never below zero.
        (Some(a), Some(b)) => Some((b.saturating_sub(a) as f64 / sockets as f64).round()),
        _ => None,
    };
    Ok(json!({
        "sockets": sockets,
        "rate_per_s": rate,
        "connect_all_s": (connect_s * 100.0).round() / 100.0,
        "create_to_reservation_created_frame_ms": percentiles(latencies),
        "rss_before_sockets_kb": rss_before,
        "rss_with_sockets_kb": rss_after,
        "rss_per_socket_kb": per_socket_kb,
        "note": "both ends of every socket live in this process (4 KiB read buffers each): rss_per_socket_kb counts both",
    }))
}

/// The `n` attribute of the task of a `reservation.created` frame.
fn offered_n(frame: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(frame).ok()?;
    if v["event_type"] != "reservation.created" {
        return None;
    }
    let attributes: Value =
        serde_json::from_str(v["payload"]["task"]["attributes"].as_str()?).ok()?;
    attributes["n"].as_u64()
}

/// An access token for `worker`, as Twilio's helper libraries mint one with the development key.
fn access_token(workspace: &str, worker: &str) -> Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(Algorithm::HS256);
    header.cty = Some("twilio-fpa;v=1".into());
    let claims = json!({
        "jti": format!("{DEV_API_KEY_SID}-{now}"), "iss": DEV_API_KEY_SID, "sub": ACCOUNT,
        "iat": now, "exp": now + 3600,
        "grants": { "identity": worker, "task_router": {
            "workspace_sid": workspace, "worker_sid": worker, "role": "worker" } },
    });
    Ok(encode(
        &header,
        &claims,
        &EncodingKey::from_secret(DEV_API_KEY_SECRET.as_bytes()),
    )?)
}

/// REST calls as the bench's account.
struct Api<'a> {
    client: &'a reqwest::Client,
    base: String,
}

impl Api<'_> {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value> {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        answer(req, path).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        answer(self.client.get(format!("{}{path}", self.base)), path).await
    }
}

async fn answer(req: reqwest::RequestBuilder, path: &str) -> Result<Value> {
    let res = req.basic_auth(ACCOUNT, Some(TOKEN)).send().await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    ensure!(status.is_success(), "{path}: {status} {body}");
    Ok(body)
}
