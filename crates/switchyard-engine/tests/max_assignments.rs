//! Twilio cancels a task reserved 1,000 times without being accepted. Driven through the engine
//! on a SQLite file, with a manual clock timing out each round of reservations.

use std::sync::Arc;

use switchyard_core::model::MAX_ASSIGNMENT_COUNT;
use switchyard_core::routing::{ReservationStatus, TaskStatus};
use switchyard_core::time::Duration;
use switchyard_core::Timestamp;
use switchyard_engine::{
    ActivityFilter, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, CreateWorkspace,
    Engine, EngineOptions, ManualClock, PageRequest, ReservationScope, Store,
    MAX_ASSIGNMENTS_EXCEEDED,
};

#[tokio::test]
async fn a_task_reserved_a_thousand_times_without_acceptance_is_canceled() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_800_000_000)));
    let engine = Engine::new(
        Store::open(&url).await.unwrap(),
        clock.clone(),
        EngineOptions::default(),
    );
    let account = engine
        .ensure_account("AC00000000000000000000000000000000".parse().unwrap(), "t")
        .await
        .unwrap();
    let ws = engine
        .create_workspace(
            &account,
            CreateWorkspace {
                friendly_name: "W".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    let available = engine
        .list_activities(
            &account,
            &ws,
            &ActivityFilter {
                friendly_name: Some("Available".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items[0]
        .1
        .sid
        .clone();
    // 50 workers reserved at once, so 20 rounds of timeouts reach the cap.
    let queue = engine
        .create_task_queue(
            &account,
            &ws,
            CreateTaskQueue {
                friendly_name: "Q".into(),
                max_reserved_workers: Some(50),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    let workflow = engine
        .create_workflow(
            &account,
            &ws,
            CreateWorkflow {
                friendly_name: "F".into(),
                configuration: format!(
                    r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#
                ),
                task_reservation_timeout: Some(60),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    // One worker more than the cap: the task would find someone for a 1,001st reservation.
    for i in 0..=MAX_ASSIGNMENT_COUNT {
        engine
            .create_worker(
                &account,
                &ws,
                CreateWorker {
                    friendly_name: format!("w{i}"),
                    activity_sid: Some(available.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let task = engine
        .create_task(
            &account,
            &ws,
            CreateTask {
                workflow_sid: Some(workflow),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    let reservations = |status| {
        let engine = engine.clone();
        let (account, ws, task) = (account.clone(), ws.clone(), task.clone());
        async move {
            let mut n = 0;
            let mut page = PageRequest {
                size: 1000,
                ..Default::default()
            };
            loop {
                let p = engine
                    .list_reservations(
                        &account,
                        &ws,
                        &ReservationScope::Task(task.clone()),
                        Some(status),
                        None,
                        page,
                    )
                    .await
                    .unwrap();
                n += p.items.len();
                match p.next {
                    Some(cursor) => page.cursor = cursor,
                    None => return n,
                }
            }
        }
    };
    for round in 1..=20 {
        assert_eq!(
            reservations(ReservationStatus::Pending).await,
            50,
            "round {round}"
        );
        engine
            .advance_to(engine.now() + Duration::from_secs(60))
            .await
            .unwrap();
    }
    let t = engine.task(&account, &ws, &task).await.unwrap();
    assert_eq!(t.assignment_count, MAX_ASSIGNMENT_COUNT);
    assert_eq!(t.assignment_status, TaskStatus::Canceled);
    assert_eq!(t.reason.as_deref(), Some(MAX_ASSIGNMENTS_EXCEEDED));
    assert_eq!(reservations(ReservationStatus::Timeout).await, 1_000);
    assert_eq!(reservations(ReservationStatus::Pending).await, 0);
    engine.close().await;
}
