//! A routing write that SQLite refuses (here a trigger planted behind the engine's back) must
//! not be announced, must leave the store as it was, and must not strand the task: once the
//! store accepts writes again, the rebuilt model routes it.

use std::sync::Arc;

use switchyard_core::routing::TaskStatus;
use switchyard_core::Timestamp;
use switchyard_engine::{
    ActivityFilter, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, CreateWorkspace,
    Engine, EngineOptions, ManualClock, Notification, PageRequest, ReservationScope, Store,
};

#[tokio::test]
async fn a_refused_reservation_is_not_announced_and_the_task_is_routed_once_writes_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_800_000_000)));
    let engine = Engine::new(
        Store::open(&url).await.unwrap(),
        clock,
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
    let queue = engine
        .create_task_queue(
            &account,
            &ws,
            CreateTaskQueue {
                friendly_name: "Q".into(),
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
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    let worker = engine
        .create_worker(
            &account,
            &ws,
            CreateWorker {
                friendly_name: "Alice".into(),
                activity_sid: Some(available),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid;
    let mut announced = engine.subscribe();

    let sql = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON reservations
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&sql)
    .await
    .unwrap();
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
        .expect("the task itself is stored, so creating it succeeds")
        .sid;
    assert!(
        announced.try_recv().is_err(),
        "a reservation that was not stored was announced"
    );
    let stored = engine.task(&account, &ws, &task).await.unwrap();
    assert_eq!(stored.assignment_status, TaskStatus::Pending);
    assert_eq!(stored.assignment_count, 0);
    let reservations = engine
        .list_reservations(
            &account,
            &ws,
            &ReservationScope::Task(task.clone()),
            None,
            None,
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(reservations.items.is_empty());

    sqlx::query("DROP TRIGGER refuse")
        .execute(&sql)
        .await
        .unwrap();
    // No clock moves and no call touches the workspace: the timer pass rebuilds it anyway.
    engine.fire_due().await.unwrap();
    let Ok(Notification::ReservationCreated(created)) = announced.try_recv() else {
        panic!("the rebuilt model did not route the waiting task");
    };
    assert_eq!((&created.task.sid, &created.worker.sid), (&task, &worker));
    let stored = engine.task(&account, &ws, &task).await.unwrap();
    assert_eq!(stored.assignment_status, TaskStatus::Reserved);
}
