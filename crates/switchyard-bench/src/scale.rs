//! A workspace at Twilio's caps: thousands of workers and queues and a backlog of waiting tasks.
//! Measures how long a worker becoming available waits for its reservation to be decided, the
//! memory the workspace takes, how long a restart takes to rebuild the routing model, and how long
//! explaining a task (every worker's reasons) and the console's Overview take.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use serde_json::{json, Value};
use switchyard_engine::sid::WorkerSid;
use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorker, Engine, EngineOptions, Notification, OverviewSize,
    SystemClock, UpdateWorker,
};

use crate::embedded::{activity, open};
use crate::measure::{ms, peak_rss_mb, percentiles, rss_mb, Meter};

/// Waiting tasks whose explanation is timed.
const EXPLAINED: usize = 50;

pub(crate) struct Size {
    pub(crate) workers: usize,
    pub(crate) queues: usize,
    pub(crate) tasks: usize,
    /// Workers made available one at a time, each a latency sample.
    pub(crate) samples: usize,
}

pub(crate) async fn run(size: Size) -> Result<Value> {
    ensure!(size.samples <= size.workers, "more samples than workers");
    let dir = tempfile::tempdir()?;
    let setup = Meter::start();
    let (engine, account, ws) = open(dir.path(), true).await?;
    let available = activity(&engine, &account, &ws, "Available").await?.sid;

    // Queue i takes the workers whose `team` is i; every worker starts Offline.
    let mut queues = Vec::with_capacity(size.queues);
    for i in 0..size.queues {
        let q = CreateTaskQueue {
            friendly_name: format!("team-{i}"),
            target_workers: Some(format!("team == {i}")),
            ..Default::default()
        };
        queues.push(engine.create_task_queue(&account, &ws, q).await?.sid);
    }
    let queues_s = setup.elapsed();
    let mut workers: Vec<WorkerSid> = Vec::with_capacity(size.workers);
    for i in 0..size.workers {
        let w = CreateWorker {
            friendly_name: format!("worker-{i}"),
            activity_sid: None,
            attributes: Some(format!(r#"{{"team":{}}}"#, i % size.queues)),
        };
        workers.push(engine.create_worker(&account, &ws, w).await?.sid);
    }
    let workers_s = setup.elapsed() - queues_s;
    // Tasks go straight to their queue (`TaskQueueSid`): a workflow of 5,000 filters would
    // measure the workflow, not the backlog.
    let mut explained = Vec::with_capacity(EXPLAINED);
    for i in 0..size.tasks {
        let t = CreateTask {
            attributes: Some(format!(r#"{{"team":{}}}"#, i % size.queues)),
            task_queue_sid: Some(queues[i % size.queues].clone()),
            ..Default::default()
        };
        let task = engine.create_task(&account, &ws, t).await?;
        if explained.len() < EXPLAINED {
            explained.push(task.sid);
        }
    }
    let tasks_s = setup.elapsed() - queues_s - workers_s;
    let rss_loaded = rss_mb();

    // Each sample: one Offline worker goes Available; its reservation is decided and committed
    // before the call returns.
    let mut offers = engine.subscribe();
    let mut latencies = Vec::with_capacity(size.samples);
    let step = (size.workers / size.samples.max(1)).max(1);
    for worker in workers.iter().step_by(step).take(size.samples) {
        let change = UpdateWorker {
            activity_sid: Some(available.clone()),
            ..Default::default()
        };
        let started = Instant::now();
        engine.update_worker(&account, &ws, worker, change).await?;
        latencies.push(started.elapsed());
    }
    let mut reserved = 0;
    while let Ok(Notification::ReservationCreated(_)) = offers.try_recv() {
        reserved += 1;
    }
    // Explain looks at every worker of the workspace for the task: it must stay cheap to ask.
    let mut explain_latencies = Vec::with_capacity(explained.len());
    let mut workers_explained = 0;
    for task in &explained {
        let started = Instant::now();
        let e = engine.explain_task(&account, &ws, task).await?;
        explain_latencies.push(started.elapsed());
        workers_explained = e.routing.map_or(0, |r| r.workers.len());
    }
    // The console's Overview reads every task and worker of the workspace for its bounded lists.
    let mut overview_latencies = Vec::with_capacity(EXPLAINED);
    for _ in 0..EXPLAINED {
        let started = Instant::now();
        engine
            .overview(&account, &ws, OverviewSize::default())
            .await?;
        overview_latencies.push(started.elapsed());
    }
    let url = crate::database::url(dir.path(), "embedded.db");
    engine.close().await;
    drop(engine);

    // Restart: open the file again and rebuild the routing model from it.
    let restart = Instant::now();
    let engine = Engine::open(&url, SystemClock, EngineOptions::default()).await?;
    engine.start().await?;
    let restart_s = restart.elapsed();
    let rss_restarted = rss_mb();
    engine.close().await;

    Ok(json!({
        "workers": size.workers,
        "queues": size.queues,
        "waiting_tasks": size.tasks,
        "setup_s": {
            "queues": secs(queues_s),
            "workers": secs(workers_s),
            "tasks": secs(tasks_s),
        },
        "worker_available_to_reservation_decided": percentiles(latencies),
        "reservations_created": reserved,
        "overview": percentiles(overview_latencies),
        "explain": {
            "workers_per_explanation": workers_explained,
            "latency": percentiles(explain_latencies),
        },
        "rss_mb_loaded": rss_loaded,
        "rss_mb_restarted": rss_restarted,
        "peak_rss_mb": peak_rss_mb(),
        "restart_ms": ms(restart_s),
    }))
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}
