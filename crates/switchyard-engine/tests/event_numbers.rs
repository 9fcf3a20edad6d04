//! Events are numbered per workspace in the order they were decided, by routing decisions and
//! configuration changes alike, and event callbacks deliver by that number.

mod common;

use switchyard_engine::{
    CreateActivity, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, PageRequest,
    UpdateWorker,
};

#[tokio::test]
async fn every_event_of_a_workspace_gets_the_next_number_in_the_order_it_was_decided() {
    let f = common::Fixture::new().await;
    let (engine, account, ws) = (&f.engine, &f.account, &f.ws);
    let available = f.activity("Available").await;
    let offline = f.activity("Offline").await;
    // Configuration changes (their own transactions) between routing decisions (the writer's).
    let queue = f
        .queue(CreateTaskQueue {
            friendly_name: "Q".into(),
            ..Default::default()
        })
        .await;
    let workflow = f
        .workflow_to(
            &queue,
            CreateWorkflow {
                friendly_name: "F".into(),
                ..Default::default()
            },
        )
        .await;
    let worker = engine
        .create_worker(
            account,
            ws,
            CreateWorker {
                friendly_name: "Alice".into(),
                activity_sid: Some(available),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    engine
        .create_task(
            account,
            ws,
            CreateTask {
                workflow_sid: Some(workflow),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .create_activity(
            account,
            ws,
            CreateActivity {
                friendly_name: "Lunch".into(),
                available: Some(false),
            },
        )
        .await
        .unwrap();
    engine
        .update_worker(
            account,
            ws,
            &worker,
            UpdateWorker {
                activity_sid: Some(offline),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let (_, owed) = engine.undelivered_events(ws, 10_000).await.unwrap();
    let numbers: Vec<i64> = owed
        .iter()
        .map(|(n, e)| {
            assert_eq!(*n, e.number);
            *n
        })
        .collect();
    let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
    assert_eq!(numbers, expected, "numbered 1, 2, 3, ... without gaps");
    // On one node the writer commits in decision order: numbers follow the stored order.
    let listed = engine
        .list_events(
            account,
            ws,
            Default::default(),
            None,
            PageRequest {
                size: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let by_number: Vec<_> = owed.iter().map(|(_, e)| e.sid.clone()).collect();
    let stored: Vec<_> = listed.items.iter().map(|(_, e)| e.sid.clone()).collect();
    assert_eq!(by_number, stored);
    let types: Vec<&str> = owed.iter().map(|(_, e)| e.event_type.as_str()).collect();
    for wanted in [
        "task-queue.created",
        "workflow.created",
        "worker.created",
        "task.created",
        "reservation.created",
        "activity.created",
        "worker.activity.update",
    ] {
        assert!(types.contains(&wanted), "{wanted} missing from {types:?}");
    }
}
