//! A routing write that SQLite refuses (here a trigger planted behind the engine's back) must
//! not be announced, must leave the store as it was, and must not strand the task: once the
//! store accepts writes again, the rebuilt model routes it.

mod common;

use switchyard_core::routing::TaskStatus;
use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, Notification, PageRequest,
    ReservationScope,
};

#[tokio::test]
async fn a_refused_reservation_is_not_announced_and_the_task_is_routed_once_writes_succeed() {
    let f = common::Fixture::new().await;
    let (engine, account, ws) = (&f.engine, &f.account, &f.ws);
    let available = f.activity("Available").await;
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
    let mut announced = engine.subscribe();

    let sql = sqlx::SqlitePool::connect(&f.url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON reservations
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&sql)
    .await
    .unwrap();
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
        .expect("the task itself is stored, so creating it succeeds")
        .sid;
    assert!(
        announced.try_recv().is_err(),
        "a reservation that was not stored was announced"
    );
    let stored = engine.task(account, ws, &task).await.unwrap();
    assert_eq!(stored.assignment_status, TaskStatus::Pending);
    assert_eq!(stored.assignment_count, 0);
    let reservations = engine
        .list_reservations(
            account,
            ws,
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
    let stored = engine.task(account, ws, &task).await.unwrap();
    assert_eq!(stored.assignment_status, TaskStatus::Reserved);
}
