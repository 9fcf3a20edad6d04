//! Twilio cancels a task reserved 1,000 times without being accepted. Driven through the engine
//! on a SQLite file, with a manual clock timing out each round of reservations.

mod common;

use switchyard_core::model::MAX_ASSIGNMENT_COUNT;
use switchyard_core::routing::{ReservationStatus, TaskStatus};
use switchyard_core::time::Duration;
use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, PageRequest, ReservationScope,
    MAX_ASSIGNMENTS_EXCEEDED,
};

#[tokio::test]
async fn a_task_reserved_a_thousand_times_without_acceptance_is_canceled() {
    let f = common::Fixture::new().await;
    let (engine, account, ws) = (&f.engine, &f.account, &f.ws);
    let available = f.activity("Available").await;
    // 50 workers reserved at once, so 20 rounds of timeouts reach the cap.
    let queue = f
        .queue(CreateTaskQueue {
            friendly_name: "Q".into(),
            max_reserved_workers: Some(50),
            ..Default::default()
        })
        .await;
    let workflow = f
        .workflow_to(
            &queue,
            CreateWorkflow {
                friendly_name: "F".into(),
                task_reservation_timeout: Some(60),
                ..Default::default()
            },
        )
        .await;
    // One worker more than the cap: the task would find someone for a 1,001st reservation.
    for i in 0..=MAX_ASSIGNMENT_COUNT {
        engine
            .create_worker(
                account,
                ws,
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
            account,
            ws,
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
    let t = engine.task(account, ws, &task).await.unwrap();
    assert_eq!(t.assignment_count, MAX_ASSIGNMENT_COUNT);
    assert_eq!(t.assignment_status, TaskStatus::Canceled);
    assert_eq!(t.reason.as_deref(), Some(MAX_ASSIGNMENTS_EXCEEDED));
    assert_eq!(reservations(ReservationStatus::Timeout).await, 1_000);
    assert_eq!(reservations(ReservationStatus::Pending).await, 0);
    engine.close().await;
}
