//! Real-time statistics of a queue with 5,000 waiting tasks and 15,000 eligible workers, on a
//! SQLite file. Target (issue 6): milliseconds, without reading the event log.
//! Run with `cargo bench -p switchyard-engine --bench statistics`.

use std::sync::Arc;
use std::time::Instant;

use switchyard_core::Timestamp;
use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, CreateWorkspace, Engine,
    EngineOptions, ManualClock, StatsScope, Store,
};

const WORKERS: usize = 15_000;
const TASKS: usize = 5_000;
const SAMPLES: usize = 200;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tokio::spawn(run()).await?
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let engine = Engine::new(Store::open(&url).await?, clock, EngineOptions::default());
    let account = engine
        .ensure_account("AC00000000000000000000000000000000".parse()?)
        .await?;
    let ws = engine
        .create_workspace(
            &account,
            CreateWorkspace {
                friendly_name: "stats".into(),
                ..Default::default()
            },
        )
        .await?
        .sid;
    let queue = engine
        .create_task_queue(
            &account,
            &ws,
            CreateTaskQueue {
                friendly_name: "everyone".into(),
                target_workers: Some("skill == 'caption'".into()),
                ..Default::default()
            },
        )
        .await?
        .sid;
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let workflow = engine
        .create_workflow(
            &account,
            &ws,
            CreateWorkflow {
                friendly_name: "all".into(),
                configuration: config,
                ..Default::default()
            },
        )
        .await?
        .sid;
    let setup = Instant::now();
    // Workers start in the default activity (Offline), so every task keeps waiting.
    for i in 0..WORKERS {
        engine
            .create_worker(
                &account,
                &ws,
                CreateWorker {
                    friendly_name: format!("worker {i}"),
                    attributes: Some(r#"{"skill":"caption"}"#.into()),
                    ..Default::default()
                },
            )
            .await?;
    }
    for i in 0..TASKS {
        engine
            .create_task(
                &account,
                &ws,
                CreateTask {
                    attributes: Some(format!(r#"{{"n":{i}}}"#)),
                    workflow_sid: Some(workflow.clone()),
                    priority: Some((i % 10) as i64),
                    ..Default::default()
                },
            )
            .await?;
    }
    println!(
        "set up {WORKERS} workers and {TASKS} tasks in {:.2?}",
        setup.elapsed()
    );
    let scope = [StatsScope::Queue(queue)];
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let stats = engine
            .realtime_statistics(&account, &ws, &scope, None)
            .await?;
        times.push(start.elapsed());
        assert_eq!(stats[0].total_tasks, TASKS as i64);
        assert_eq!(stats[0].total_workers, WORKERS as i64);
    }
    times.sort();
    println!(
        "queue real-time statistics over {SAMPLES} calls: p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        times[SAMPLES / 2],
        times[SAMPLES * 99 / 100],
        times[SAMPLES - 1]
    );
    engine.close().await;
    Ok(())
}
