//! Advancing the clock fires a workspace's timers in long runs under its lock, but an operation
//! that wants the workspace meanwhile gets its turn instead of waiting for the whole advance.

mod common;

use switchyard_core::routing::TaskStatus;
use switchyard_core::time::Duration;
use switchyard_engine::{CreateTask, CreateTaskQueue, CreateWorkflow};

const TASKS: i64 = 1_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_waiting_for_the_workspace_gets_in_between_timer_runs() {
    let f = common::Fixture::new().await;
    let (engine, account, ws) = (&f.engine, &f.account, &f.ws);
    let queue = f
        .queue(CreateTaskQueue {
            friendly_name: "Nobody".into(),
            target_workers: Some("skill == 'none'".into()),
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
    let mut first = None;
    for i in 0..TASKS {
        let task = engine
            .create_task(
                account,
                ws,
                CreateTask {
                    workflow_sid: Some(workflow.clone()),
                    // One TTL per second, in creation order.
                    timeout: Some(60 + i),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        first.get_or_insert(task.sid);
    }
    let first = first.unwrap();
    assert_eq!(engine.pending_timers().await, TASKS as usize);

    let advance = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let to = engine.now() + Duration::from_secs(3_600);
            engine.advance_to(to).await.unwrap().len()
        })
    };
    // Once the advance is under way, ask for the workspace's timers: that waits for its lock.
    loop {
        let t = engine.task(account, ws, &first).await.unwrap();
        if t.assignment_status == TaskStatus::Canceled {
            break;
        }
        tokio::task::yield_now().await;
    }
    let left = engine.pending_timers().await;
    assert!(
        left > 0 && left < TASKS as usize,
        "the advance let the waiting call in part-way, not after all {TASKS} timers: {left} left"
    );
    assert_eq!(advance.await.unwrap(), TASKS as usize);
    assert_eq!(engine.pending_timers().await, 0);
}
