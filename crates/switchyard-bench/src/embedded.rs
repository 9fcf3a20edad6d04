//! The same lifecycle through the embedded engine, with no HTTP: create, accept, complete, set
//! the worker Available again, on a durable SQLite file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use switchyard_engine::model::Activity;
use switchyard_engine::sid::{AccountSid, WorkspaceSid};
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
    let url = format!("sqlite://{}", dir.join("embedded.db").display());
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

pub(crate) async fn lifecycles(
    duration: Duration,
    workers: usize,
    in_flight: usize,
) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let (engine, account, ws) = open(dir.path(), false).await?;
    let available = activity(&engine, &account, &ws, "Available").await?.sid;
    let unavailable = activity(&engine, &account, &ws, "Unavailable").await?.sid;
    let queue = engine
        .create_task_queue(
            &account,
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
            &account,
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
                &account,
                &ws,
                CreateWorker {
                    friendly_name: format!("worker-{i}"),
                    activity_sid: Some(available.clone()),
                    attributes: None,
                },
            )
            .await?;
    }

    let permits = Arc::new(Semaphore::new(in_flight));
    let (done, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut offers = engine.subscribe();
    let finisher = {
        let (engine, account, ws, available) = (
            engine.clone(),
            account.clone(),
            ws.clone(),
            available.clone(),
        );
        let (done, errors, permits) = (done.clone(), errors.clone(), permits.clone());
        tokio::spawn(async move {
            while let Some(Notification::ReservationCreated(offer)) = offers.recv().await {
                let (engine, account, ws, available) = (
                    engine.clone(),
                    account.clone(),
                    ws.clone(),
                    available.clone(),
                );
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
        n += 1;
        let task = CreateTask {
            workflow_sid: Some(workflow.clone()),
            ..Default::default()
        };
        if engine.create_task(&account, &ws, task).await.is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
            permits.add_permits(1);
        }
    }
    let completed = done.load(Ordering::Relaxed);
    let elapsed = meter.elapsed();
    let resources = meter.report();
    settle(&done, &errors, n).await;
    finisher.abort();
    engine.close().await;
    Ok(json!({
        "workers": workers,
        "in_flight": in_flight,
        "tasks_created": n,
        "lifecycles_completed": done.load(Ordering::Relaxed),
        "lifecycles_per_s": per_sec(completed, elapsed),
        "errors": errors.load(Ordering::Relaxed),
        "resources": resources,
    }))
}
