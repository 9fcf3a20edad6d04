//! Task lifecycles over HTTP against a Switchyard server on a durable SQLite file: tasks created
//! through the API, the callback server answering `accept`, tasks completed through the API and
//! workers set back to Available, as an app would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::Form;
use serde_json::{json, Value};
use switchyard_engine::{Engine, EngineOptions, SystemClock};
use switchyard_server::{AppState, ServerConfig};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::measure::{per_sec, percentiles, settle, Meter};
use crate::{ACCOUNT, TOKEN};

/// A reservation offered through the assignment callback.
pub(crate) struct Offer {
    pub(crate) workspace: String,
    pub(crate) task: String,
    pub(crate) worker: String,
    /// The `n` attribute of the task, which keys its send time.
    pub(crate) n: u64,
    pub(crate) received: Instant,
}

/// A configured workspace on a running server.
#[derive(Clone)]
pub(crate) struct Rig {
    pub(crate) api: String,
    pub(crate) client: reqwest::Client,
    pub(crate) workspace: String,
    pub(crate) available: String,
}

/// The server (and the callback receiver), until stopped.
pub(crate) struct Running {
    stop: Vec<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    engine: Engine,
    _dir: tempfile::TempDir,
}

impl Running {
    pub(crate) async fn stop(self) -> Result<()> {
        for s in self.stop {
            let _ = s.send(());
        }
        self.server.await??;
        self.engine.close().await;
        Ok(())
    }
}

impl Rig {
    /// POSTs a form to the workspace, failing unless the answer is a success.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value> {
        let res = self.request(path, form).await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn request(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(format!("{}{path}", self.api))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .form(form)
            .send()
            .await
    }

    /// Starts a server and a callback receiver, and configures a workspace with `workers`
    /// available workers; offers arrive on the returned channel.
    async fn start(workers: usize) -> Result<(Rig, Running, mpsc::UnboundedReceiver<Offer>)> {
        let (base, mut running) = start_server(|c| c).await?;

        // The app's assignment callback: note the offer, answer accept.
        let (tx, offers) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route("/assignment", axum::routing::post(assignment))
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let callback_url = format!("http://{}/assignment", listener.local_addr()?);
        let (stop_callbacks, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });

        running.stop.push(stop_callbacks);
        let rig = Rig::configure(&base, &callback_url, "bench", workers).await?;
        Ok((rig, running, offers))
    }

    /// Configures a workspace named `name` on the server at `base`, with `workers` available
    /// workers and its assignment callback at `callback_url`.
    pub(crate) async fn configure(
        base: &str,
        callback_url: &str,
        name: &str,
        workers: usize,
    ) -> Result<Rig> {
        let mut rig = Rig {
            api: format!("{base}/v1"),
            client: reqwest::Client::new(),
            workspace: String::new(),
            available: String::new(),
        };
        // Single-tasking: an accepted worker moves to Unavailable until the app frees it.
        let ws = rig
            .post(
                "/Workspaces",
                &[("FriendlyName", name), ("MultiTaskEnabled", "false")],
            )
            .await?;
        rig.api = format!("{base}/v1/Workspaces/{}", sid(&ws)?);
        rig.workspace = sid(&ws)?;
        let activities = rig
            .client
            .get(format!("{}/Activities", rig.api))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .send()
            .await?
            .json::<Value>()
            .await?;
        let activity = |name: &str| -> Result<String> {
            activities["activities"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["friendly_name"] == name))
                .map(|a| a["sid"].as_str().unwrap_or_default().to_owned())
                .with_context(|| format!("no activity {name}"))
        };
        rig.available = activity("Available")?;
        let unavailable = activity("Unavailable")?;
        let queue = rig
            .post(
                "/TaskQueues",
                &[
                    ("FriendlyName", "all"),
                    ("AssignmentActivitySid", &unavailable),
                ],
            )
            .await?;
        let config = json!({ "task_routing": { "default_filter": { "queue": sid(&queue)? } } });
        rig.post(
            "/Workflows",
            &[
                ("FriendlyName", "all"),
                ("Configuration", &config.to_string()),
                ("AssignmentCallbackUrl", callback_url),
            ],
        )
        .await?;
        for i in 0..workers {
            let name = format!("worker-{i}");
            rig.post(
                "/Workers",
                &[("FriendlyName", &name), ("ActivitySid", &rig.available)],
            )
            .await?;
        }
        Ok(rig)
    }
}

/// Starts a server on a durable SQLite file in a temporary directory, with the bench's account
/// and whatever else `configure` sets; answers its base URL.
pub(crate) async fn start_server(
    configure: impl FnOnce(ServerConfig) -> ServerConfig,
) -> Result<(String, Running)> {
    let dir = tempfile::tempdir()?;
    let url = crate::database::url(dir.path(), "bench.db");
    let engine = Engine::open(&url, SystemClock, EngineOptions::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let config = configure(ServerConfig::new(base.clone()).with_account(ACCOUNT.parse()?, TOKEN));
    let state = AppState::new(engine.clone(), config).await?;
    let (stop_server, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(switchyard_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let running = Running {
        stop: vec![stop_server],
        server,
        engine,
        _dir: dir,
    };
    Ok((base, running))
}

pub(crate) fn sid(v: &Value) -> Result<String> {
    v["sid"]
        .as_str()
        .map(str::to_owned)
        .context("no sid in the response")
}

pub(crate) async fn assignment(
    State(tx): State<mpsc::UnboundedSender<Offer>>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::Json<Value> {
    let received = Instant::now();
    let n = form
        .get("TaskAttributes")
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
        .and_then(|a| a["n"].as_u64())
        .unwrap_or(u64::MAX);
    let _ = tx.send(Offer {
        workspace: form.get("WorkspaceSid").cloned().unwrap_or_default(),
        task: form.get("TaskSid").cloned().unwrap_or_default(),
        worker: form.get("WorkerSid").cloned().unwrap_or_default(),
        n,
        received,
    });
    axum::Json(json!({ "instruction": "accept" }))
}

/// How tasks are started.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// As fast as lifecycles finish, with at most this many under way.
    Closed(usize),
    /// This many per second, whatever happens to them.
    Rate(u64),
}

/// Runs lifecycles for `duration` with `workers` workers and reports throughput and
/// create-sent → callback-received latency.
pub(crate) async fn lifecycles(duration: Duration, workers: usize, pace: Pace) -> Result<Value> {
    let (rig, running, mut offers) = Rig::start(workers).await?;
    let rig = Arc::new(rig);
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (done, retries, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    // Closed loop: a permit per lifecycle under way. At a fixed rate nothing waits for one.
    let permits = Arc::new(Semaphore::new(match pace {
        Pace::Closed(n) => n,
        Pace::Rate(_) => 0,
    }));
    let closed = matches!(pace, Pace::Closed(_));

    // Each offer finishes its lifecycle in a task of its own: complete, then free the worker.
    let finisher = {
        let (rig, sent, latencies) = (rig.clone(), sent.clone(), latencies.clone());
        let (done, retries, errors, permits) = (
            done.clone(),
            retries.clone(),
            errors.clone(),
            permits.clone(),
        );
        tokio::spawn(async move {
            while let Some(offer) = offers.recv().await {
                if let Some(at) = sent.lock().expect("not poisoned").remove(&offer.n) {
                    let latency = offer.received.saturating_duration_since(at);
                    latencies.lock().expect("not poisoned").push(latency);
                }
                let (rig, done, retries, errors, permits) = (
                    rig.clone(),
                    done.clone(),
                    retries.clone(),
                    errors.clone(),
                    permits.clone(),
                );
                tokio::spawn(async move {
                    match finish(&rig, &offer, &retries).await {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    if closed {
                        permits.add_permits(1);
                    }
                });
            }
        })
    };

    let meter = Meter::start();
    let deadline = Instant::now() + duration;
    let mut ticker = match pace {
        Pace::Rate(r) => Some(tokio::time::interval(Duration::from_secs_f64(
            1.0 / r as f64,
        ))),
        Pace::Closed(_) => None,
    };
    let mut n = 0u64;
    while Instant::now() < deadline {
        match &mut ticker {
            Some(t) => {
                t.tick().await;
            }
            None => match tokio::time::timeout_at(deadline.into(), permits.acquire()).await {
                Ok(permit) => permit?.forget(),
                Err(_) => break,
            },
        }
        n += 1;
        let (rig, sent, errors, permits) =
            (rig.clone(), sent.clone(), errors.clone(), permits.clone());
        tokio::spawn(async move {
            let attributes = format!(r#"{{"n":{n}}}"#);
            sent.lock().expect("not poisoned").insert(n, Instant::now());
            if rig
                .post("/Tasks", &[("Attributes", &attributes)])
                .await
                .is_err()
            {
                errors.fetch_add(1, Ordering::Relaxed);
                if closed {
                    permits.add_permits(1);
                }
            }
        });
    }
    let completed_in_window = done.load(Ordering::Relaxed);
    let elapsed = meter.elapsed();
    let resources = meter.report();
    settle(&done, &errors, n).await;
    finisher.abort();
    let latencies = std::mem::take(&mut *latencies.lock().expect("not poisoned"));
    let report = json!({
        "pace": match pace {
            Pace::Closed(k) => format!("closed loop, {k} in flight"),
            Pace::Rate(r) => format!("{r} tasks/s"),
        },
        "workers": workers,
        "tasks_created": n,
        "lifecycles_completed": done.load(Ordering::Relaxed),
        "lifecycles_per_s": per_sec(completed_in_window, elapsed),
        "errors": errors.load(Ordering::Relaxed),
        "completion_retries": retries.load(Ordering::Relaxed),
        "create_to_callback": percentiles(latencies),
        "resources": resources,
    });
    running.stop().await?;
    Ok(report)
}

/// Completes the offered task and sets its worker Available again. The callback's `accept` is
/// applied after the callback returns, so the completion may come first and is retried.
pub(crate) async fn finish(rig: &Rig, offer: &Offer, retries: &AtomicU64) -> Result<()> {
    let task = format!("/Tasks/{}", offer.task);
    let form = [("AssignmentStatus", "completed"), ("Reason", "done")];
    // Backing off as an app would, so that retries do not crowd out the work they wait for.
    let mut wait = Duration::from_millis(1);
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        let res = rig.request(&task, &form).await?;
        if res.status().is_success() {
            let worker = format!("/Workers/{}", offer.worker);
            rig.post(&worker, &[("ActivitySid", &rig.available)])
                .await?;
            return Ok(());
        }
        retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(32));
    }
    bail!(
        "task {} never became assigned in {}",
        offer.task,
        rig.workspace
    )
}
