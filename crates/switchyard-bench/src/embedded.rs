//! The same lifecycle through the embedded engine, with no HTTP: create, accept, complete, set
//! the worker Available again, on a durable SQLite file; in one workspace, or spread over many.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use switchyard_engine::model::Activity;
use switchyard_engine::sid::{AccountSid, ActivitySid, WorkflowSid, WorkspaceSid};
use switchyard_engine::{
    ActivityFilter, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, CreateWorkspace,
    Engine, EngineOptions, Notification, PageRequest, ReservationAction, ReservationScope,
    SystemClock, TaskStatus, UpdateReservation, UpdateTask, UpdateWorker,
};
use tokio::sync::Semaphore;

use crate::measure::{per_sec, settle, Meter};
use crate::ACCOUNT;

/// An engine on a fresh file, the account, and a workspace.
pub(crate) async fn open(
    dir: &std::path::Path,
    multi_task: bool,
) -> Result<(Engine, AccountSid, WorkspaceSid)> {
    let url = crate::database::url(dir, "embedded.db");
    let engine = Engine::open(&url, SystemClock, EngineOptions::default()).await?;
    let account = engine.ensure_account(ACCOUNT.parse()?).await?;
    let ws = engine
        .create_workspace(
            &account,
            CreateWorkspace {
                friendly_name: "bench".into(),
                multi_task_enabled: Some(multi_task),
                ..Default::default()
            },
        )
        .await?
        .sid;
    Ok((engine, account, ws))
}

/// The workspace's activity with this name.
pub(crate) async fn activity(
    engine: &Engine,
    account: &AccountSid,
    ws: &WorkspaceSid,
    name: &str,
) -> Result<Activity> {
    let filter = ActivityFilter {
        friendly_name: Some(name.into()),
        ..Default::default()
    };
    let page = engine
        .list_activities(account, ws, &filter, PageRequest::default())
        .await?;
    Ok(page.items.into_iter().next().context("no such activity")?.1)
}

/// Lifecycles through one workspace, as fast as they complete.
pub(crate) async fn lifecycles(
    duration: Duration,
    workers: usize,
    in_flight: usize,
) -> Result<Value> {
    run(duration, workers, in_flight, 1, false).await
}

/// The same lifecycles spread over each of `counts` workspaces in turn (the workers split
/// between them), with the timer loop running as `serve` runs it: how throughput scales with
/// workspaces.
pub(crate) async fn across_workspaces(
    duration: Duration,
    workers: usize,
    in_flight: usize,
    counts: &[usize],
) -> Result<Value> {
    let mut points = Vec::new();
    for &n in counts {
        points.push(run(duration, workers, in_flight, n, true).await?);
    }
    Ok(Value::Array(points))
}

/// One workspace ready for lifecycles.
struct Space {
    ws: WorkspaceSid,
    workflow: WorkflowSid,
    available: ActivitySid,
}

/// Makes a workspace's queue (taking the worker out of Available on assignment), workflow,
/// and `workers` available workers.
async fn prepare(
    engine: &Engine,
    account: &AccountSid,
    ws: WorkspaceSid,
    workers: usize,
) -> Result<Space> {
    let available = activity(engine, account, &ws, "Available").await?.sid;
    let unavailable = activity(engine, account, &ws, "Unavailable").await?.sid;
    let queue = engine
        .create_task_queue(
            account,
            &ws,
            CreateTaskQueue {
                friendly_name: "all".into(),
                assignment_activity_sid: Some(unavailable),
                ..Default::default()
            },
        )
        .await?;
    let config = json!({ "task_routing": { "default_filter": { "queue": queue.sid.as_str() } } });
    let workflow = engine
        .create_workflow(
            account,
            &ws,
            CreateWorkflow {
                friendly_name: "all".into(),
                configuration: config.to_string(),
                ..Default::default()
            },
        )
        .await?
        .sid;
    for i in 0..workers {
        engine
            .create_worker(
                account,
                &ws,
                CreateWorker {
                    friendly_name: format!("worker-{i}"),
                    activity_sid: Some(available.clone()),
                    attributes: None,
                },
            )
            .await?;
    }
    Ok(Space {
        ws,
        workflow,
        available,
    })
}

async fn run(
    duration: Duration,
    workers: usize,
    in_flight: usize,
    workspaces: usize,
    timers: bool,
) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let (engine, account, first) = open(dir.path(), false).await?;
    let per_workspace = (workers / workspaces).max(1);
    let mut spaces = vec![prepare(&engine, &account, first, per_workspace).await?];
    for n in 1..workspaces {
        let new = CreateWorkspace {
            friendly_name: format!("bench-{n}"),
            multi_task_enabled: Some(false),
            ..Default::default()
        };
        let ws = engine.create_workspace(&account, new).await?.sid;
        spaces.push(prepare(&engine, &account, ws, per_workspace).await?);
    }
    let timer_loop = timers.then(|| {
        let engine = engine.clone();
        tokio::spawn(async move { engine.run_timers().await })
    });
    let available: Arc<HashMap<WorkspaceSid, ActivitySid>> = Arc::new(
        spaces
            .iter()
            .map(|s| (s.ws.clone(), s.available.clone()))
            .collect(),
    );

    let permits = Arc::new(Semaphore::new(in_flight));
    let (done, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut offers = engine.subscribe();
    let finisher = {
        let (engine, account, available) = (engine.clone(), account.clone(), available.clone());
        let (done, errors, permits) = (done.clone(), errors.clone(), permits.clone());
        tokio::spawn(async move {
            while let Some(Notification::ReservationCreated(offer)) = offers.recv().await {
                let (engine, account) = (engine.clone(), account.clone());
                let ws = offer.workspace.sid.clone();
                let Some(available) = available.get(&ws).cloned() else {
                    continue;
                };
                let (done, errors, permits) = (done.clone(), errors.clone(), permits.clone());
                tokio::spawn(async move {
                    let lifecycle = async {
                        let scope = ReservationScope::Task(offer.task.sid.clone());
                        let accept = UpdateReservation {
                            action: ReservationAction::Accept { instruction: None },
                            expected_version: None,
                        };
                        engine
                            .update_reservation(
                                &account,
                                &ws,
                                &scope,
                                &offer.reservation.sid,
                                accept,
                            )
                            .await?;
                        let complete = UpdateTask {
                            assignment_status: Some(TaskStatus::Completed),
                            reason: Some("done".into()),
                            ..Default::default()
                        };
                        engine
                            .update_task(&account, &ws, &offer.task.sid, complete)
                            .await?;
                        let free = UpdateWorker {
                            activity_sid: Some(available),
                            ..Default::default()
                        };
                        engine
                            .update_worker(&account, &ws, &offer.worker.sid, free)
                            .await?;
                        Ok::<_, switchyard_engine::Error>(())
                    };
                    match lifecycle.await {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    permits.add_permits(1);
                });
            }
        })
    };

    let meter = Meter::start();
    let deadline = Instant::now() + duration;
    let mut n = 0u64;
    // `timeout_at` hands out a ready permit even past the deadline, so check it first.
    while Instant::now() < deadline {
        let Ok(permit) = tokio::time::timeout_at(deadline.into(), permits.acquire()).await else {
            break;
        };
        permit?.forget();
        let space = &spaces[n as usize % spaces.len()];
        n += 1;
        let task = CreateTask {
            workflow_sid: Some(space.workflow.clone()),
            ..Default::default()
        };
        // Each lifecycle in flight creates its task on its own, as concurrent callers would:
        // a create waits for its commit, and the engine decides others meanwhile.
        let (engine, account, ws) = (engine.clone(), account.clone(), space.ws.clone());
        let (errors, permits) = (errors.clone(), permits.clone());
        tokio::spawn(async move {
            if engine.create_task(&account, &ws, task).await.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
                permits.add_permits(1);
            }
        });
    }
    let completed = done.load(Ordering::Relaxed);
    let elapsed = meter.elapsed();
    let resources = meter.report();
    settle(&done, &errors, n).await;
    finisher.abort();
    if let Some(t) = timer_loop {
        t.abort();
    }
    engine.close().await;
    Ok(json!({
        "workspaces": workspaces,
        "timer_loop": timers,
        "workers": per_workspace * workspaces,
        "in_flight": in_flight,
        "tasks_created": n,
        "lifecycles_completed": done.load(Ordering::Relaxed),
        "lifecycles_per_s": per_sec(completed, elapsed),
        "errors": errors.load(Ordering::Relaxed),
        "resources": resources,
    }))
}
