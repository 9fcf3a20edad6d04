//! A full session against a running app: two volunteers text in, three photos arrive, each
//! volunteer captions what they are sent, and then every photo has a caption and both
//! volunteers are Idle again in TaskRouter.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use serde_json::Value;

use crate::{Config, Sms};

const VOLUNTEERS: [&str; 2] = ["+15550100001", "+15550100002"];
const PHOTOS: [&str; 3] = ["beach.jpg", "cake.png", "dog.jpg"];

/// Drives the session against the app at `app_url`; `config` is the app's.
pub async fn run(app_url: &str, config: &Config) -> Result<()> {
    let http = reqwest::Client::new();
    let text = |from: &'static str, body: String| {
        let http = http.clone();
        let url = format!("{app_url}/sms");
        async move {
            let reply = http
                .post(url)
                .form(&[("From", from), ("Body", body.as_str())])
                .send()
                .await?;
            ensure!(reply.status().is_success(), "POST /sms: {}", reply.status());
            let reply = reply.text().await?;
            println!("{from} texted {body:?}, got back: {reply}");
            Ok::<_, anyhow::Error>(())
        }
    };
    for v in VOLUNTEERS {
        text(v, "I'd like to help caption photos".into()).await?;
    }
    for photo in PHOTOS {
        // Any bytes do: the app only passes the photo's URL on.
        std::fs::write(config.photos.join(photo), photo.as_bytes())?;
        println!("photo {photo} dropped in {}", config.photos.display());
    }

    // Answer each request for a caption as it is sent, until every photo has one.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answered = 0;
    while answered < PHOTOS.len() {
        if Instant::now() > deadline {
            bail!(
                "only {answered} of {} photos were offered within 30 s",
                PHOTOS.len()
            );
        }
        let outbox: Vec<Sms> = http
            .get(format!("{app_url}/outbox"))
            .send()
            .await?
            .json()
            .await?;
        for sms in outbox.iter().skip(answered) {
            println!("app texted {}: {}", sms.to, sms.body);
            let photo = sms.body.rsplit('/').next().unwrap_or_default().to_owned();
            let from = VOLUNTEERS.into_iter().find(|v| *v == sms.to);
            let Some(from) = from else {
                bail!("a text to a stranger: {}", sms.to)
            };
            text(
                from,
                format!("A lovely {}", photo.split('.').next().unwrap_or("photo")),
            )
            .await?;
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    check(&http, config).await
}

/// Every photo has a caption, every task is completed, and both volunteers are Idle.
async fn check(http: &reqwest::Client, config: &Config) -> Result<()> {
    for photo in PHOTOS {
        let caption = std::fs::read_to_string(config.captions.join(format!("{photo}.txt")));
        ensure!(caption.is_ok(), "{photo} has no caption");
        println!("{photo}: {:?}", caption?);
    }
    let (sid, token) = &config.account;
    let get = |path: String| async move {
        let url = format!("{}/v1{path}", config.taskrouter.trim_end_matches('/'));
        Ok::<Value, anyhow::Error>(
            http.get(url)
                .basic_auth(sid, Some(token))
                .send()
                .await?
                .json()
                .await?,
        )
    };
    let workspaces = get("/Workspaces?FriendlyName=Photobooth".into()).await?;
    let ws = workspaces["workspaces"]
        .as_array()
        .and_then(|a| a.last())
        .map(|w| w["sid"].clone());
    let Some(Value::String(ws)) = ws else {
        bail!("no Photobooth workspace")
    };
    let tasks = get(format!("/Workspaces/{ws}/Tasks?AssignmentStatus=completed")).await?;
    let completed = tasks["tasks"].as_array().map_or(0, Vec::len);
    ensure!(
        completed == PHOTOS.len(),
        "{completed} tasks completed, not {}",
        PHOTOS.len()
    );
    // The last caption's worker goes back to Idle just after the reply; give it a moment.
    for _ in 0..50 {
        let workers = get(format!("/Workspaces/{ws}/Workers")).await?;
        let activities: Vec<&str> = workers["workers"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(|w| w["activity_name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if activities.len() == VOLUNTEERS.len() && activities.iter().all(|a| *a == "Idle") {
            println!(
                "session complete: {} photos captioned, both volunteers Idle",
                PHOTOS.len()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the volunteers did not end Idle")
}
