//! A migration that rebuilds a table must keep what it held: here `events`, rebuilt without
//! `AUTOINCREMENT` and with a partial index on `worker_sid`, on a file written by the schema
//! before it.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use switchyard_core::event::Event;
use switchyard_core::sid::{EventSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::{Change, Cursor, EventFilter, Store};

/// The first migration of the rebuilt `events`.
const REBUILD: i64 = 20261121000005;

const WS: &str = "WS02020202020202020202020202020202";
const WORKER: &str = "WK03030303030303030303030303030303";
const TASK: &str = "WT04040404040404040404040404040404";

#[tokio::test]
async fn events_keep_their_seq_and_filters_across_the_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    {
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let mut before = sqlx::migrate!("../../migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < REBUILD)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&pool).await.unwrap();
        sqlx::raw_sql(&format!(
            "INSERT INTO accounts VALUES ('AC00000000000000000000000000000000', 't', 0);
             INSERT INTO workspaces (sid, account_sid, friendly_name, default_activity_sid,
                 timeout_activity_sid, multi_task_enabled, prioritize_queue_order,
                 date_created, date_updated)
             VALUES ('{WS}', 'AC00000000000000000000000000000000', 'W',
                 'WA01010101010101010101010101010101', 'WA01010101010101010101010101010101',
                 1, 'FIFO', 0, 0);
             INSERT INTO events (seq, sid, workspace_sid, event_type, description, event_date,
                 resource_type, resource_sid, actor_type, actor_sid, event_data, worker_sid)
             VALUES (7, 'EV07070707070707070707070707070707', '{WS}', 'worker.activity.update',
                 'w', 1000, 'worker', '{WORKER}', 'worker', '{WORKER}',
                 '[[\"worker_sid\",\"{WORKER}\"]]', '{WORKER}');
             INSERT INTO events (seq, sid, workspace_sid, event_type, description, event_date,
                 resource_type, resource_sid, actor_type, actor_sid, event_data, task_sid)
             VALUES (9, 'EV09090909090909090909090909090909', '{WS}', 'task.created',
                 't', 2000, 'task', '{TASK}', 'workspace', '{WS}',
                 '[[\"task_sid\",\"{TASK}\"]]', '{TASK}');
             INSERT INTO event_deliveries VALUES ('{WS}', 9);"
        ))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    let store = Store::open(&url).await.unwrap();
    let ws: WorkspaceSid = WS.parse().unwrap();
    let kept: Vec<(i64, String, String)> = store
        .events_after(&ws, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, e)| (seq, e.sid.as_str().to_owned(), e.event_type))
        .collect();
    assert_eq!(
        kept,
        [
            (
                7,
                "EV07070707070707070707070707070707".to_owned(),
                "worker.activity.update".to_owned()
            ),
            (
                9,
                "EV09090909090909090909090909090909".to_owned(),
                "task.created".to_owned()
            ),
        ]
    );
    let by_worker = EventFilter {
        worker_sid: Some(WORKER.to_owned()),
        ..Default::default()
    };
    let page = store
        .list_events(&ws, &by_worker, Cursor::default(), 10)
        .await
        .unwrap();
    let found: Vec<i64> = page.items.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(found, [7]);

    // A new event goes after the delivery cursor, so event callbacks still send it.
    assert_eq!(store.event_cursor(&ws).await.unwrap(), 9);
    let workspace = store.find_workspace(&ws).await.unwrap().unwrap();
    let mut new = Event::new(
        EventSid::from_bytes([10; 16]),
        &workspace,
        "task.updated",
        ("task", TASK),
        "u".into(),
        Timestamp::from_secs(3),
    );
    // Numbered as the engine numbers it: after the workspace's last event, whose `seq` became
    // its number when events were first numbered.
    new.number = store.last_event_number(&ws).await.unwrap() + 1;
    store.write(&[Change::Event(new.clone())]).await.unwrap();
    let after: Vec<i64> = store
        .events_after(&ws, 9, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(after, [10]);
    store.close().await;

    // A worker filter still reads the partial index rather than scanning the workspace.
    let pool = SqlitePool::connect(&url).await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE workspace_sid = ? AND worker_sid = ?",
    )
    .bind(WS)
    .bind(WORKER)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        plan.iter()
            .any(|(.., detail)| detail.contains("events_worker")),
        "{plan:?}"
    );
}
