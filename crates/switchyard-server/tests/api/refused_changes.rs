//! A change that is refused changes nothing, and a change that was stored is never reported as
//! failed: the caller's view, the store and the routing model stay in step.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;
use crate::routing::pending_reservations;

/// A workspace whose workflow sends `type == 'a'` tasks to queue A (workers with skill `a`) and
/// `type == 'b'` tasks to queue B (skill `b`); returns the workspace and queue A.
async fn two_queues(s: &Server) -> (String, String) {
    let ws = s.workspace("W").await;
    let w = format!("/Workspaces/{ws}");
    let mut queues = Vec::new();
    for skill in ["a", "b"] {
        let target = format!("skill == '{skill}'");
        let q = s
            .create(
                &format!("{w}/TaskQueues"),
                &[("FriendlyName", skill), ("TargetWorkers", &target)],
            )
            .await;
        queues.push(sid_of(&q));
    }
    let config = format!(
        r#"{{"task_routing":{{"filters":[
            {{"expression":"type == 'a'","targets":[{{"queue":"{a}"}}]}},
            {{"expression":"type == 'b'","targets":[{{"queue":"{b}"}}]}}]}}}}"#,
        a = queues[0],
        b = queues[1]
    );
    s.create(
        &format!("{w}/Workflows"),
        &[("FriendlyName", "F"), ("Configuration", &config)],
    )
    .await;
    (ws, queues.swap_remove(0))
}

#[tokio::test]
async fn a_refused_task_update_changes_nothing() {
    let s = Server::start().await;
    let (ws, queue_a) = two_queues(&s).await;
    let w = format!("/Workspaces/{ws}");
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"type":"a"}"#)])
            .await,
    );
    let path = format!("{w}/Tasks/{task}");
    let (_, before) = s.get(&path).await;
    assert_eq!(before["task_queue_sid"], queue_a.as_str());

    // New attributes that would move it to queue B, with one parameter that is refused.
    let future = "2100-01-01T00:00:00Z";
    for bad in [
        ("Priority", "-1"),
        ("TaskChannel", "no-such-channel"),
        ("VirtualStartTime", future),
        ("AssignmentStatus", "wrapping"),
    ] {
        let got = s
            .post(&path, &[("Attributes", r#"{"type":"b"}"#), bad])
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{bad:?}: {}", got.1);
        let (_, now) = s.get(&path).await;
        assert_eq!(now, before, "{bad:?} changed the task");
    }
    let (_, events) = s.get(&format!("{w}/Events?TaskSid={task}")).await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(!types.contains(&"task.updated"), "{types:?}");
    assert!(!types.contains(&"task-queue.moved"), "{types:?}");

    // The routing model kept the old attributes too: a worker of queue A gets the task.
    let available = s.activity(&ws, "Available").await;
    let worker = s
        .create(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "alice"),
                ("ActivitySid", &available),
                ("Attributes", r#"{"skill":"a"}"#),
            ],
        )
        .await;
    let reserved = pending_reservations(&s, &ws, &task).await;
    assert_eq!(reserved.len(), 1, "{reserved:?}");
    assert_eq!(reserved[0]["worker_sid"], worker["sid"]);
    s.stop().await;
}

#[tokio::test]
async fn a_worker_whose_routing_fails_is_still_created_and_routed_later() {
    let dir = tempfile::tempdir().unwrap();
    let url = switchyard_engine::testing::database_at(&dir.path().join("switchyard.db"));
    let s = Server::start_on(&url, Default::default()).await;
    let (ws, _) = two_queues(&s).await;
    let w = format!("/Workspaces/{ws}");
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"type":"a"}"#)])
            .await,
    );

    // Reserving fails while this trigger stands, as it would on a full disk.
    refuse_reservations(&url, true).await;
    let available = s.activity(&ws, "Available").await;
    let (status, worker) = s
        .post(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "alice"),
                ("ActivitySid", &available),
                ("Attributes", r#"{"skill":"a"}"#),
            ],
        )
        .await;
    // The worker was stored: it is reported created, not failed (a retry would duplicate it).
    assert_eq!(status, StatusCode::CREATED, "{worker}");
    let (status, fetched) = s.get(&format!("{w}/Workers/{}", sid_of(&worker))).await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert!(pending_reservations(&s, &ws, &task).await.is_empty());

    // Once writes succeed again, the rebuilt model routes the task to the new worker. The
    // clock is manual here: moving it (by nothing) runs the timer pass, which rebuilds.
    refuse_reservations(&url, false).await;
    let (status, body) = s.post("/_switchyard/Clock", &[("Advance", "0")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reserved: Value = s
        .eventually(&format!("{w}/Tasks/{task}"), |t| {
            t["assignment_status"] == "reserved"
        })
        .await;
    assert_eq!(reserved["assignment_status"], "reserved");
    let res = pending_reservations(&s, &ws, &task).await;
    assert_eq!(res[0]["worker_sid"], worker["sid"]);
    s.stop().await;
}

#[tokio::test]
async fn a_deleted_workers_accepted_reservation_is_not_reached_through_it() {
    let s = Server::start().await;
    let (ws, _, _) = crate::routing::simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = crate::routing::available_worker(&s, &ws, "alice").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let reservation = sid_of(&pending_reservations(&s, &ws, &task).await[0]);
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{reservation}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    let (status, body) = s.delete(&format!("{w}/Workers/{worker}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let through_worker = format!("{w}/Workers/{worker}/Reservations/{reservation}");
    let completed = s
        .post(&through_worker, &[("ReservationStatus", "completed")])
        .await;
    assert_error(&completed, 404, 20404, "Worker");
    let (_, still) = s.get(&format!("{w}/Tasks/{task}")).await;
    assert_eq!(still["assignment_status"], "assigned");
}

/// Makes every insert into `reservations` fail (`refuse`), or stops it, on either backend.
async fn refuse_reservations(url: &str, refuse: bool) {
    let statements: &[&str] = match (switchyard_engine::testing::on_postgres(), refuse) {
        (false, true) => &["CREATE TRIGGER refuse BEFORE INSERT ON reservations
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
        (false, false) => &["DROP TRIGGER refuse"],
        (true, true) => &[
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN RAISE EXCEPTION 'refused by the test'
                    USING ERRCODE = 'check_violation'; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON reservations
                FOR EACH ROW EXECUTE FUNCTION refuse()",
        ],
        (true, false) => &["DROP TRIGGER refuse ON reservations"],
    };
    if switchyard_engine::testing::on_postgres() {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for statement in statements {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for statement in statements {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}
