//! The photo-captioning app of Twilio's TaskRouter walk-through, as the app server: photos become
//! tasks, volunteers who text in become workers, TaskRouter offers each photo to an idle
//! volunteer, and the caption they text back completes the task.
//!
//! Stand-ins for the outside world: a folder watcher for the Dropbox webhook (every image dropped
//! in the folder becomes a task), `POST /sms` for incoming texts (Twilio's SMS webhook form:
//! `From`, `Body`), and an outbox (`GET /outbox`, and the log) for the texts the app sends.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod session;

/// Where the app finds TaskRouter and its folders.
#[derive(Debug, Clone)]
pub struct Config {
    /// TaskRouter's base URL (Switchyard's), without `/v1`.
    pub taskrouter: String,
    /// Account SID and auth token for TaskRouter.
    pub account: (String, String),
    /// The app's own base URL, for the assignment callback and the photos' URLs.
    pub public_url: String,
    /// The watched folder: every image put here becomes a task.
    pub photos: PathBuf,
    /// Where captions are saved, one `<photo>.txt` each.
    pub captions: PathBuf,
}

/// A text message the app sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sms {
    /// The volunteer's phone number.
    pub to: String,
    /// What it says.
    pub body: String,
}

/// The app: its TaskRouter workspace and what it remembers between requests.
pub struct App {
    config: Config,
    http: reqwest::Client,
    /// `…/v1/Workspaces/WS…`
    workspace: String,
    idle: String,
    state: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    /// Volunteers by phone number: their worker SID.
    volunteers: HashMap<String, String>,
    /// Photo being captioned, by worker SID: (task SID, photo file name).
    assignments: HashMap<String, (String, String)>,
    outbox: Vec<Sms>,
    photos_seen: HashSet<String>,
}

impl App {
    /// Creates the workspace: volunteers with the `caption` skill, one queue, and a workflow
    /// sending `required_skill == "caption"` tasks to it, with this app as assignment callback.
    /// TaskRouter must give new workspaces the tutorial's activities (Idle, Busy, Reserved).
    pub async fn setup(config: Config) -> Result<Arc<App>> {
        let mut app = App {
            workspace: format!("{}/v1", config.taskrouter.trim_end_matches('/')),
            http: reqwest::Client::new(),
            idle: String::new(),
            state: Mutex::default(),
            config,
        };
        let ws = app
            .post(
                "/Workspaces",
                &[
                    ("FriendlyName", "Photobooth"),
                    ("MultiTaskEnabled", "false"),
                ],
            )
            .await?;
        app.workspace = format!(
            "{}/Workspaces/{}",
            app.workspace,
            ws["sid"].as_str().unwrap_or_default()
        );
        let activities = app.get("/Activities").await?;
        let activity = |name: &str| {
            activities["activities"]
                .as_array()
                .and_then(|all| all.iter().find(|a| a["friendly_name"] == name))
                .and_then(|a| a["sid"].as_str())
                .map(str::to_owned)
                .with_context(|| {
                    format!(
                        "TaskRouter has no {name} activity (run it with the legacy activity set)"
                    )
                })
        };
        app.idle = activity("Idle")?;
        let queue = app
            .post(
                "/TaskQueues",
                &[
                    ("FriendlyName", "Captioners"),
                    ("TargetWorkers", r#"skills HAS "caption""#),
                    ("ReservationActivitySid", &activity("Reserved")?),
                    ("AssignmentActivitySid", &activity("Busy")?),
                ],
            )
            .await?;
        let routing = json!({ "task_routing": { "filters": [{
            "filter_friendly_name": "Captioning",
            "expression": r#"required_skill == "caption""#,
            "targets": [{ "queue": queue["sid"] }],
        }]}});
        let callback = format!("{}/assignment", app.config.public_url);
        app.post(
            "/Workflows",
            &[
                ("FriendlyName", "Photo captioning"),
                ("Configuration", &routing.to_string()),
                ("AssignmentCallbackUrl", &callback),
            ],
        )
        .await?;
        std::fs::create_dir_all(&app.config.photos)?;
        std::fs::create_dir_all(&app.config.captions)?;
        Ok(Arc::new(app))
    }

    /// The app's HTTP endpoints.
    pub fn router(self: &Arc<App>) -> Router {
        Router::new()
            .route("/sms", post(sms))
            .route("/assignment", post(assignment))
            .route("/outbox", get(outbox))
            .route("/photos/{name}", get(photo))
            .with_state(self.clone())
    }

    /// Watches the photos folder: each new image becomes a task. (The walk-through's Dropbox
    /// webhook also only says "something changed"; the app lists the folder either way.)
    pub async fn watch_photos(self: Arc<App>) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if let Err(e) = self.new_photos().await {
                tracing::warn!(error = %e, "looking for new photos failed");
            }
        }
    }

    async fn new_photos(&self) -> Result<()> {
        let mut names: Vec<String> = std::fs::read_dir(&self.config.photos)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| {
                [".jpg", ".jpeg", ".png", ".gif"]
                    .iter()
                    .any(|x| n.to_lowercase().ends_with(x))
            })
            .collect();
        names.sort();
        for name in names {
            if !self.memory().photos_seen.insert(name.clone()) {
                continue;
            }
            let attributes = json!({
                "image_url": format!("{}/photos/{name}", self.config.public_url),
                "photo": name,
                "required_skill": "caption",
            });
            let task = self
                .post("/Tasks", &[("Attributes", &attributes.to_string())])
                .await?;
            tracing::info!(photo = %name, task = %task["sid"], "new photo: task created");
        }
        Ok(())
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, to: &str, body: String) {
        tracing::info!(%to, %body, "SMS out");
        self.memory().outbox.push(Sms {
            to: to.to_owned(),
            body,
        });
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value> {
        let res = self.request(path, form).await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("TaskRouter POST {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn request(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        let (sid, token) = &self.config.account;
        let url = format!("{}{path}", self.workspace);
        self.http
            .post(url)
            .basic_auth(sid, Some(token))
            .form(form)
            .send()
            .await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let (sid, token) = &self.config.account;
        let url = format!("{}{path}", self.workspace);
        Ok(self
            .http
            .get(url)
            .basic_auth(sid, Some(token))
            .send()
            .await?
            .json()
            .await?)
    }

    /// A text from a volunteer: the first one signs them up, a later one is a caption.
    async fn text_received(&self, from: &str, body: &str) -> Result<String> {
        let known = self.memory().volunteers.get(from).cloned();
        let Some(worker) = known else {
            let attributes = json!({ "phone": from, "skills": ["caption"] }).to_string();
            let w = self
                .post(
                    "/Workers",
                    &[
                        ("FriendlyName", from),
                        ("Attributes", &attributes),
                        ("ActivitySid", &self.idle),
                    ],
                )
                .await?;
            let sid = w["sid"].as_str().unwrap_or_default().to_owned();
            self.memory().volunteers.insert(from.to_owned(), sid);
            return Ok("Thanks for volunteering! We'll text you photos to caption.".into());
        };
        let assignment = self.memory().assignments.get(&worker).cloned();
        let Some((task, photo)) = assignment else {
            return Ok(
                "Nothing to caption right now; we'll text you when a photo comes in.".into(),
            );
        };
        std::fs::write(self.config.captions.join(format!("{photo}.txt")), body)?;
        // TaskRouter applies the callback's `accept` just after the callback answers; a caption
        // can only beat it by milliseconds.
        let completed = [("AssignmentStatus", "completed"), ("Reason", "captioned")];
        let mut tries = 0;
        while !self
            .request(&format!("/Tasks/{task}"), &completed)
            .await?
            .status()
            .is_success()
        {
            tries += 1;
            if tries == 100 {
                bail!("task {task} could not be completed");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Forget this photo before the volunteer is Idle again: their next offer can arrive
        // (and be remembered) before the update returns.
        self.memory().assignments.remove(&worker);
        self.post(
            &format!("/Workers/{worker}"),
            &[("ActivitySid", &self.idle)],
        )
        .await?;
        Ok(format!("Thanks! Your caption for {photo} is saved."))
    }
}

#[derive(Deserialize)]
struct IncomingSms {
    #[serde(rename = "From")]
    from: String,
    #[serde(rename = "Body", default)]
    body: String,
}

/// Twilio's SMS webhook: answered with TwiML.
async fn sms(State(app): State<Arc<App>>, Form(sms): Form<IncomingSms>) -> impl IntoResponse {
    let reply = match app.text_received(&sms.from, &sms.body).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, from = %sms.from, "handling a text failed");
            "Sorry, something went wrong; please try again.".to_owned()
        }
    };
    let twiml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
        xml_escape(&reply)
    );
    ([(header::CONTENT_TYPE, "application/xml")], twiml)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// TaskRouter's assignment callback: accept, and text the photo to the volunteer.
async fn assignment(
    State(app): State<Arc<App>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let field = |k: &str| -> Value {
        form.get(k)
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or(Value::Null)
    };
    let (task, worker) = (field("TaskAttributes"), field("WorkerAttributes"));
    let phone = worker["phone"].as_str().unwrap_or_default().to_owned();
    let photo = task["photo"].as_str().unwrap_or_default().to_owned();
    let (task_sid, worker_sid) = (
        form.get("TaskSid").cloned().unwrap_or_default(),
        form.get("WorkerSid").cloned().unwrap_or_default(),
    );
    app.memory()
        .assignments
        .insert(worker_sid, (task_sid, photo));
    app.send(
        &phone,
        format!(
            "Please reply with a caption for this photo: {}",
            task["image_url"].as_str().unwrap_or_default()
        ),
    );
    Json(json!({ "instruction": "accept" }))
}

/// The texts sent so far.
async fn outbox(State(app): State<Arc<App>>) -> Json<Vec<Sms>> {
    Json(app.memory().outbox.clone())
}

/// A photo of the folder, for the `image_url` of its task.
async fn photo(State(app): State<Arc<App>>, Path(name): Path<String>) -> impl IntoResponse {
    if name.contains('/') || name.contains("..") {
        return Err(StatusCode::NOT_FOUND);
    }
    let bytes = std::fs::read(app.config.photos.join(&name)).map_err(|_| StatusCode::NOT_FOUND)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}
