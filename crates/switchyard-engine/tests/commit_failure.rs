//! A routing write that the database refuses (here a trigger planted behind the engine's back) must
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

    let faults = common::Faults::connect(&f.url).await;
    faults.refuse_inserts("refuse", "reservations", None).await;
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

    faults.allow_inserts("refuse", "reservations").await;
    // No clock moves and no call touches the workspace: the timer pass rebuilds it anyway.
    engine.fire_due().await.unwrap();
    let Ok(Notification::ReservationCreated(created)) = announced.try_recv() else {
        panic!("the rebuilt model did not route the waiting task");
    };
    assert_eq!((&created.task.sid, &created.worker.sid), (&task, &worker));
    let stored = engine.task(account, ws, &task).await.unwrap();
    assert_eq!(stored.assignment_status, TaskStatus::Reserved);
}

/// The lock is released once a decision's writes are queued, so the next operation decides on
/// top of writes not yet committed. When one of those fails, every operation decided after it
/// fails too (none of them was acknowledged) and the next one starts from the store again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_fails_what_was_decided_on_top_of_it_and_the_model_starts_over() {
    let f = common::Fixture::new().await;
    let (engine, account, ws) = (&f.engine, &f.account, &f.ws);
    let queue = f
        .queue(CreateTaskQueue {
            friendly_name: "Nobody".into(),
            target_workers: Some("1 == 2".into()),
            ..Default::default()
        })
        .await;
    let faults = common::Faults::connect(&f.url).await;
    faults
        .refuse_inserts("explode", "tasks", Some("explode"))
        .await;
    // Holding the write lock keeps both writes queued, so the second is decided while the
    // first is still in flight.
    let blocker = faults.block_writes(&f.url).await;
    let before = engine.pending_timers().await;
    let create = |attributes: &str| {
        let (engine, account, ws) = (engine.clone(), account.clone(), ws.clone());
        let task = CreateTask {
            task_queue_sid: Some(queue.clone()),
            attributes: Some(attributes.to_owned()),
            ..Default::default()
        };
        tokio::spawn(async move { engine.create_task(&account, &ws, task).await })
    };
    let doomed = create(r#"{"explode":true}"#);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while engine.pending_timers().await < before + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first task was not decided"
        );
        tokio::task::yield_now().await;
    }
    let on_top = create(r#"{"fine":true}"#);
    while engine.pending_timers().await < before + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second task was not decided"
        );
        tokio::task::yield_now().await;
    }
    blocker.release().await;
    assert!(
        doomed.await.unwrap().is_err(),
        "the refused task was reported created"
    );
    let refused = on_top.await.unwrap();
    assert!(
        refused.is_err(),
        "a task decided on a failed write was reported created"
    );

    // Nothing of either is stored, and the model, rebuilt, no longer holds their timers.
    let stored = engine
        .list_tasks(account, ws, &Default::default(), PageRequest::default())
        .await
        .unwrap();
    assert!(stored.items.is_empty(), "{:?}", stored.items);
    let next = create(r#"{"fine":true}"#).await.unwrap().unwrap();
    assert_eq!(engine.pending_timers().await, before + 1);
    let stored = engine
        .list_tasks(account, ws, &Default::default(), PageRequest::default())
        .await
        .unwrap();
    let sids: Vec<_> = stored.items.iter().map(|(_, t)| t.sid.clone()).collect();
    assert_eq!(sids, vec![next.sid]);
}

/// A fault that persists (here every reservation write is refused, as on a full disk) does not
/// make the timer loop spin: the first rebuild is tried at once, the next ones after a wait
/// that doubles, and routing resumes on the first try after the fault clears.
#[tokio::test]
async fn a_persistent_write_fault_is_retried_with_backoff_and_routing_resumes_after_it() {
    use switchyard_core::time::Duration;
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
    engine
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
        .unwrap();
    let mut announced = engine.subscribe();
    let faults = common::Faults::connect(&f.url).await;
    faults.refuse_inserts("refuse", "reservations", None).await;
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

    // First failure: retried at once, and that retry fails too.
    let start = engine.now();
    assert_eq!(engine.next_deadline().await, Some(start));
    engine.fire_due().await.unwrap();
    let mut wait = Duration::from_millis(200);
    let mut retry_at = start + wait;
    assert_eq!(engine.next_deadline().await, Some(retry_at));
    // Nothing is tried before the backoff has passed, however often the loop comes round.
    for _ in 0..3 {
        engine.fire_due().await.unwrap();
        assert_eq!(engine.next_deadline().await, Some(retry_at));
    }
    for _ in 0..3 {
        engine.advance_to(retry_at).await.unwrap();
        wait = Duration::from_millis(wait.as_millis() * 2);
        retry_at = retry_at + wait;
        assert_eq!(engine.next_deadline().await, Some(retry_at));
    }
    assert!(announced.try_recv().is_err());

    faults.allow_inserts("refuse", "reservations").await;
    engine.advance_to(retry_at).await.unwrap();
    let Ok(Notification::ReservationCreated(created)) = announced.try_recv() else {
        panic!("routing did not resume once the fault cleared");
    };
    assert_eq!(created.task.sid, task);
    // Recovered: the next deadline is the reservation's timeout again, not a rebuild.
    assert!(engine.next_deadline().await.unwrap() > retry_at + Duration::from_secs(1));
}
