//! Advancing a manual clock 24 hours over 10,000 pending timers, on a SQLite file.
//!
//! 5,000 waiting tasks each have two timers: a workflow step timeout (escalation after one
//! hour) and a TTL spread across the day. Every timer fires, one committed transaction each, in
//! deadline order. Target (issue 5): under one second.
//! Run with `cargo bench -p switchyard-engine --bench timers`.

use std::sync::Arc;
use std::time::Instant;

use switchyard_core::time::Duration;
use switchyard_core::Timestamp;
use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorkflow, CreateWorkspace, Engine, EngineOptions,
    ManualClock, Store,
};

const TASKS: i64 = 5_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // On a runtime worker, as the server's request handlers run.
    tokio::spawn(run()).await?
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    for round in 1..=3 {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000)));
        let store = Store::open(&url).await?;
        let engine = Engine::new(store, clock.clone(), EngineOptions::default());
        let account = engine
            .ensure_account("AC00000000000000000000000000000000".parse()?)
            .await?;
        let ws = engine
            .create_workspace(
                &account,
                CreateWorkspace {
                    friendly_name: "timers".into(),
                    ..Default::default()
                },
            )
            .await?;
        let mut queues = Vec::new();
        for name in ["first line", "second line"] {
            let q = engine
                .create_task_queue(
                    &account,
                    &ws.sid,
                    CreateTaskQueue {
                        friendly_name: name.into(),
                        target_workers: Some("skill == 'none'".into()),
                        ..Default::default()
                    },
                )
                .await?;
            queues.push(q.sid);
        }
        let config = format!(
            r#"{{"task_routing":{{"filters":[{{"filter_friendly_name":"all","expression":"1==1","targets":[{{"queue":"{}","timeout":3600}},{{"queue":"{}"}}]}}]}}}}"#,
            queues[0], queues[1]
        );
        let workflow = engine
            .create_workflow(
                &account,
                &ws.sid,
                CreateWorkflow {
                    friendly_name: "escalate".into(),
                    configuration: config,
                    ..Default::default()
                },
            )
            .await?;
        let setup = Instant::now();
        for i in 0..TASKS {
            engine
                .create_task(
                    &account,
                    &ws.sid,
                    CreateTask {
                        attributes: Some(format!(r#"{{"n":{i}}}"#)),
                        workflow_sid: Some(workflow.sid.clone()),
                        // TTLs from 2 hours to about 22 hours.
                        timeout: Some(7_200 + i * 14),
                        ..Default::default()
                    },
                )
                .await?;
        }
        let setup = setup.elapsed();
        let pending = engine.pending_timers().await;
        let start = Instant::now();
        let fired = engine
            .advance_to(engine.now() + Duration::from_secs(24 * 3600))
            .await?;
        let took = start.elapsed();
        assert_eq!(fired.len(), pending);
        println!(
            "round {round}: created {TASKS} tasks in {:.2?}; advanced 24 h firing {} timers in {:.2?} ({:.1} µs per timer)",
            setup,
            pending,
            took,
            took.as_secs_f64() * 1e6 / fired.len() as f64
        );
        engine.close().await;
    }
    Ok(())
}
