//! With the real clock, the timer loop learns each workspace's next deadline as its lock is
//! released (not by locking every loaded workspace): a deadline that comes sooner than the one
//! the loop sleeps towards wakes it, in whichever of many workspaces it is set.

use std::time::{Duration, Instant};

use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorkspace, Engine, EngineOptions, SystemClock, TaskStatus,
    TTL_EXCEEDED,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sooner_deadline_in_any_workspace_wakes_the_timer_loop() {
    let engine = Engine::open(
        &switchyard_engine::testing::database(),
        SystemClock,
        EngineOptions::default(),
    )
    .await
    .unwrap();
    let account = engine
        .ensure_account("AC00000000000000000000000000000000".parse().unwrap())
        .await
        .unwrap();
    // Twenty workspaces, each with a task nobody can take that may wait an hour.
    let mut spaces = Vec::new();
    for n in 0..20 {
        let new = CreateWorkspace {
            friendly_name: format!("W{n}"),
            ..Default::default()
        };
        let ws = engine.create_workspace(&account, new).await.unwrap().sid;
        let queue = CreateTaskQueue {
            friendly_name: "Nobody".into(),
            ..Default::default()
        };
        let queue = engine
            .create_task_queue(&account, &ws, queue)
            .await
            .unwrap()
            .sid;
        let task = CreateTask {
            task_queue_sid: Some(queue.clone()),
            timeout: Some(3600),
            ..Default::default()
        };
        engine.create_task(&account, &ws, task).await.unwrap();
        spaces.push((ws, queue));
    }
    let timers = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run_timers().await }
    });
    // The loop now sleeps towards an hour from now; a task that may wait one second, in the
    // last workspace loaded, must wake it.
    let (ws, queue) = spaces.last().unwrap();
    let task = CreateTask {
        task_queue_sid: Some(queue.clone()),
        timeout: Some(1),
        ..Default::default()
    };
    let sid = engine.create_task(&account, ws, task).await.unwrap().sid;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let task = engine.task(&account, ws, &sid).await.unwrap();
        if task.assignment_status == TaskStatus::Canceled {
            assert_eq!(task.reason.as_deref(), Some(TTL_EXCEEDED));
            break;
        }
        assert!(Instant::now() < deadline, "the task's TTL never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    timers.abort();
}
