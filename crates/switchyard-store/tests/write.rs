//! `Store::write` sends a decision as one batch: it must stay all or nothing, and a failed
//! batch must not leave the writer connection inside a transaction. `Store::submit` queues
//! decisions: they commit in order, a failure refuses the rest of its chain, and a query waits
//! for the writes submitted before it.

use std::time::Duration;

use sqlx::Connection;
use switchyard_core::decide::{Configure, NewWorkspace};
use switchyard_core::event::Event;
use switchyard_core::model::{Activity, QueueOrder, Task, Worker, Workspace};
use switchyard_core::routing::TaskStatus;
use switchyard_core::sid::{ActivitySid, EventSid, TaskSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::{Chain, Change, Cursor, EventFilter, Store, StoreError};

fn sid<T: switchyard_core::sid::Sid>(n: u8) -> T {
    T::from_bytes([n; 16])
}

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    store: Store,
    workspace: Workspace,
    worker: Worker,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = Store::open(&url).await.unwrap();
    let account: switchyard_core::sid::AccountSid =
        "AC00000000000000000000000000000000".parse().unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    let create = Configure::CreateAccount {
        sid: account.clone(),
        date_created: now,
    };
    store.write(&[Change::Configure(create)]).await.unwrap();
    let idle: ActivitySid = sid(1);
    let workspace = Workspace {
        sid: sid::<WorkspaceSid>(2),
        account_sid: account,
        friendly_name: "W".into(),
        default_activity_sid: idle.clone(),
        default_activity_name: "Idle".into(),
        timeout_activity_sid: idle.clone(),
        timeout_activity_name: "Idle".into(),
        event_callback_url: None,
        events_filter: None,
        multi_task_enabled: true,
        prioritize_queue_order: QueueOrder::Fifo,
        date_created: now,
        date_updated: now,
    };
    let new = NewWorkspace {
        workspace: workspace.clone(),
        activities: vec![Activity {
            sid: idle.clone(),
            workspace_sid: workspace.sid.clone(),
            friendly_name: "Idle".into(),
            available: true,
            date_created: now,
            date_updated: now,
        }],
        channels: vec![],
        queues: vec![],
        workflows: vec![],
    };
    let create = Configure::CreateWorkspace(Box::new(new));
    store.write(&[Change::Configure(create)]).await.unwrap();
    let worker = Worker {
        sid: sid::<WorkerSid>(3),
        workspace_sid: workspace.sid.clone(),
        friendly_name: "Alice".into(),
        activity_sid: idle,
        activity_name: "Idle".into(),
        available: true,
        attributes: "{}".into(),
        date_status_changed: now,
        date_created: now,
        date_updated: now,
        version: 0,
        idle_since: now,
    };
    let create = Configure::CreateWorker {
        worker: worker.clone(),
        channels: vec![],
    };
    store.write(&[Change::Configure(create)]).await.unwrap();
    Fixture {
        _dir: dir,
        url,
        store,
        workspace,
        worker,
    }
}

/// Event `n`, numbered `n` in its workspace (as the engine would number it).
fn event(f: &Fixture, n: u8) -> Event {
    let mut e = Event::new(
        sid::<EventSid>(n),
        &f.workspace,
        "worker.attributes.update",
        ("worker", f.worker.sid.as_str()),
        "changed".into(),
        Timestamp::from_secs(1_800_000_001),
    );
    e.number = i64::from(n);
    e
}

fn task(f: &Fixture, n: u8) -> Task {
    let now = Timestamp::from_secs(1_800_000_001);
    Task {
        sid: sid::<TaskSid>(n),
        workspace_sid: f.workspace.sid.clone(),
        workflow: None,
        attributes: "{}".into(),
        assignment_status: TaskStatus::Pending,
        priority: 0,
        timeout: 86_400,
        task_channel: (sid(4), "default".into()),
        task_queue: None,
        task_queue_entered_date: None,
        virtual_start_time: now,
        reason: None,
        routing_target: None,
        ignore_capacity: None,
        step: None,
        step_entered: None,
        assignment_count: 0,
        addons: "{}".into(),
        version: 0,
        date_created: now,
        date_updated: now,
    }
}

/// Another connection holding SQLite's write lock, so that the writer waits for it and the
/// writes submitted meanwhile queue up; `COMMIT` on it lets them through.
async fn hold_write_lock(f: &Fixture) -> sqlx::SqliteConnection {
    let mut blocker = sqlx::SqliteConnection::connect(&f.url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    blocker
}

async fn stored_worker(f: &Fixture) -> Worker {
    f.store
        .get_worker(&f.workspace.sid, &f.worker.sid)
        .await
        .unwrap()
        .unwrap()
}

async fn events(f: &Fixture) -> Vec<String> {
    let page = f
        .store
        .list_events(&f.workspace.sid, &EventFilter::default(), Cursor::Start, 50)
        .await
        .unwrap();
    page.items
        .into_iter()
        .map(|(_, e)| e.sid.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn a_stale_worker_version_writes_nothing_and_the_next_write_goes_through() {
    let f = fixture().await;
    let mut changed = f.worker.clone();
    changed.attributes = r#"{"x":1}"#.into();
    changed.version = 1;
    let stale = event(&f, 10);
    let err = f
        .store
        .write(&[
            Change::Worker {
                worker: changed.clone(),
                expected_version: 7,
            },
            Change::Event(stale.clone()),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(events(&f).await.is_empty());
    let stored = stored_worker(&f).await;
    assert_eq!((stored.version, stored.attributes.as_str()), (0, "{}"));

    let fresh = event(&f, 11);
    f.store
        .write(&[
            Change::Worker {
                worker: changed.clone(),
                expected_version: 0,
            },
            Change::Event(fresh.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(events(&f).await, vec![fresh.sid.as_str().to_owned()]);
    let stored = stored_worker(&f).await;
    assert_eq!(
        (stored.version, stored.attributes.as_str()),
        (1, r#"{"x":1}"#)
    );
}

#[tokio::test]
async fn a_statement_failing_mid_batch_rolls_back_the_statements_before_it() {
    let f = fixture().await;
    let first = event(&f, 20);
    // The same SID twice: the second INSERT breaks the events' unique index.
    let again = event(&f, 20);
    let mut changed = f.worker.clone();
    changed.version = 1;
    let err = f
        .store
        .write(&[Change::Event(first.clone()), Change::Event(again.clone())])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = f
        .store
        .write(&[
            Change::Worker {
                worker: changed.clone(),
                expected_version: 0,
            },
            Change::Event(first.clone()),
            Change::Event(again.clone()),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(events(&f).await.is_empty());
    let stored = stored_worker(&f).await;
    assert_eq!(stored.version, 0, "the worker update was rolled back");

    // Had the failed batch left its transaction open, this BEGIN would fail.
    f.store
        .write(&[
            Change::Worker {
                worker: changed.clone(),
                expected_version: 0,
            },
            Change::Event(first.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(events(&f).await.len(), 1);
}

#[tokio::test]
async fn a_submitted_task_is_seen_by_queries_once_committed() {
    let f = fixture().await;
    // Another connection holds the write lock, so the writer has to wait for it.
    let mut blocker = hold_write_lock(&f).await;
    let t = task(&f, 40);
    let pending = f
        .store
        .submit(&[Change::Task(t.clone())], &Chain::default());

    // A query waits for the writes submitted before it.
    let store = f.store.clone();
    let (ws, sid) = (f.workspace.sid.clone(), t.sid.clone());
    let mut read = tokio::spawn(async move { store.get_task(&ws, &sid).await });
    let early = tokio::time::timeout(Duration::from_millis(200), &mut read).await;
    assert!(
        early.is_err(),
        "the read did not wait for the write: {early:?}"
    );

    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    pending.wait().await.unwrap();
    let read = read.await.unwrap().unwrap();
    assert_eq!(read.map(|t| t.sid), Some(t.sid));
}

#[tokio::test]
async fn a_failed_write_refuses_the_rest_of_its_chain_and_nothing_else() {
    let f = fixture().await;
    let (chain, other) = (Chain::default(), Chain::default());
    let t = task(&f, 41);
    let (e30, e31, e32, e33) = (event(&f, 30), event(&f, 31), event(&f, 32), event(&f, 33));
    let mut canceled = t.clone();
    canceled.assignment_status = TaskStatus::Canceled;
    canceled.version = 1;
    let t2 = task(&f, 42);
    // Submitted back to back, these go to SQLite in one round trip, each its own transaction.
    let first = f.store.submit(
        &[Change::Task(t.clone()), Change::Event(e30.clone())],
        &chain,
    );
    // The same event twice breaks the unique index, after the task is written.
    let failing = f.store.submit(
        &[
            Change::Task(t2.clone()),
            Change::Event(e31.clone()),
            Change::Event(e31.clone()),
        ],
        &chain,
    );
    let after = f.store.submit(
        &[Change::Task(canceled.clone()), Change::Event(e32.clone())],
        &chain,
    );
    let unrelated = f.store.submit(&[Change::Event(e33.clone())], &other);
    assert!(first.wait().await.is_ok());
    let err = failing.wait().await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = after.wait().await.unwrap_err();
    assert!(matches!(err, StoreError::Abandoned), "{err:?}");
    assert!(unrelated.wait().await.is_ok());

    assert_eq!(
        events(&f).await,
        vec![e30.sid.as_str().to_owned(), e33.sid.as_str().to_owned()]
    );
    // The refused write's task change is not there: the committed one is.
    let ws = &f.workspace.sid;
    let committed = f.store.get_task(ws, &t.sid).await.unwrap().unwrap();
    assert_eq!(committed.assignment_status, TaskStatus::Pending);
    // The failed write's own task was rolled back with it.
    assert!(f.store.get_task(ws, &t2.sid).await.unwrap().is_none());
}

#[tokio::test]
async fn committed_pages_reach_the_database_file_before_the_wal_fills_up() {
    let f = fixture().await;
    let db = std::path::PathBuf::from(f.url.trim_start_matches("sqlite://"));
    let size = || std::fs::metadata(&db).unwrap().len();
    let before = size();
    // Submitted without waiting, so they queue up: the writer asks for checkpoints sooner when
    // it has a backlog.
    let chain = Chain::default();
    let mut pending = Vec::new();
    for i in 0..600u16 {
        let mut bytes = [0xee; 16];
        bytes[..2].copy_from_slice(&i.to_be_bytes());
        let mut e = event(&f, 0);
        e.sid = EventSid::from_bytes(bytes);
        e.number = 1000 + i64::from(i);
        pending.push(f.store.submit(&[Change::Event(e.clone())], &chain));
    }
    for p in pending {
        p.wait().await.unwrap();
    }
    // These writes fill a few thousand WAL pages, far fewer than the writer's own checkpoint
    // waits for: only the background checkpoints copy them into the file meanwhile.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {before} bytes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f.store.close().await;
}

#[tokio::test]
async fn a_group_commit_rolls_back_a_failing_write_alone_and_commits_its_neighbours() {
    let f = fixture().await;
    // Another connection holds the write lock, so every write below queues up behind the
    // first and they are committed as one group.
    let mut blocker = hold_write_lock(&f).await;
    let (a, b, c) = (Chain::default(), Chain::default(), Chain::default());
    let (e50, e51, e52, e53, e54, e55) = (
        event(&f, 50),
        event(&f, 51),
        event(&f, 52),
        event(&f, 53),
        event(&f, 54),
        event(&f, 55),
    );
    let t = task(&f, 60);
    let mut stale = f.worker.clone();
    stale.version = 5;
    let mut moved = f.worker.clone();
    moved.attributes = r#"{"moved":true}"#.into();
    moved.version = 1;
    let ahead = f.store.submit(&[Change::Event(e50.clone())], &a);
    let grouped = [
        // Chain a: commits.
        f.store
            .submit(&[Change::Task(t.clone()), Change::Event(e51.clone())], &a),
        // Chain b: a stale worker update, then a write that builds on it.
        f.store.submit(
            &[
                Change::Worker {
                    worker: stale.clone(),
                    expected_version: 4,
                },
                Change::Event(e52.clone()),
            ],
            &b,
        ),
        f.store.submit(&[Change::Event(e53.clone())], &b),
        // Chain c: a worker update that matches, after the failure in the same transaction.
        f.store.submit(
            &[
                Change::Worker {
                    worker: moved.clone(),
                    expected_version: 0,
                },
                Change::Event(e54.clone()),
            ],
            &c,
        ),
        // Chain a again: unaffected by b.
        f.store.submit(&[Change::Event(e55.clone())], &a),
    ];
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    ahead.wait().await.unwrap();
    let mut outcomes = Vec::new();
    for p in grouped {
        outcomes.push(p.wait().await);
    }
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(StoreError::Conflict(_))),
        "{:?}",
        outcomes[1]
    );
    assert!(
        matches!(outcomes[2], Err(StoreError::Abandoned)),
        "{:?}",
        outcomes[2]
    );
    assert!(outcomes[3].is_ok(), "{:?}", outcomes[3]);
    assert!(outcomes[4].is_ok(), "{:?}", outcomes[4]);
    assert!(b.broken() && !a.broken() && !c.broken());

    let sids =
        |es: &[&Event]| -> Vec<String> { es.iter().map(|e| e.sid.as_str().to_owned()).collect() };
    assert_eq!(events(&f).await, sids(&[&e50, &e51, &e54, &e55]));
    let stored = stored_worker(&f).await;
    assert_eq!(
        (stored.version, stored.attributes.as_str()),
        (1, r#"{"moved":true}"#)
    );
    let ws = &f.workspace.sid;
    assert!(f.store.get_task(ws, &t.sid).await.unwrap().is_some());
}
