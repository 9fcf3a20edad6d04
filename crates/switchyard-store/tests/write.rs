//! `Store::write` sends a decision as one batch: it must stay all or nothing, and a failed
//! batch must not leave the writer connection inside a transaction.

use switchyard_core::event::Event;
use switchyard_core::model::{Activity, QueueOrder, Worker, Workspace};
use switchyard_core::sid::{ActivitySid, EventSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::{Cursor, EventFilter, NewWorkspace, Store, StoreError, Write};

fn sid<T: switchyard_core::sid::Sid>(n: u8) -> T {
    T::from_bytes([n; 16])
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    workspace: Workspace,
    worker: Worker,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = Store::open(&url).await.unwrap();
    let account = "AC00000000000000000000000000000000".parse().unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    store.upsert_account(&account, "token", now).await.unwrap();
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
    store
        .create_workspace(
            &NewWorkspace {
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
            },
            &[],
        )
        .await
        .unwrap();
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
    store
        .create_worker(&worker, 1, &mut || unreachable!("no task channels"), &[])
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        workspace,
        worker,
    }
}

fn event(f: &Fixture, n: u8) -> Event {
    Event::new(
        sid::<EventSid>(n),
        &f.workspace,
        "worker.attributes.update",
        ("worker", f.worker.sid.as_str()),
        "changed".into(),
        Timestamp::from_secs(1_800_000_001),
    )
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
            Write::Worker {
                worker: &changed,
                expected_version: 7,
            },
            Write::Event(&stale),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(events(&f).await.is_empty());
    let stored = f
        .store
        .get_worker(&f.workspace.sid, &f.worker.sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.version, stored.attributes.as_str()), (0, "{}"));

    let fresh = event(&f, 11);
    f.store
        .write(&[
            Write::Worker {
                worker: &changed,
                expected_version: 0,
            },
            Write::Event(&fresh),
        ])
        .await
        .unwrap();
    assert_eq!(events(&f).await, vec![fresh.sid.as_str().to_owned()]);
    let stored = f
        .store
        .get_worker(&f.workspace.sid, &f.worker.sid)
        .await
        .unwrap()
        .unwrap();
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
        .write(&[Write::Event(&first), Write::Event(&again)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = f
        .store
        .write(&[
            Write::Worker {
                worker: &changed,
                expected_version: 0,
            },
            Write::Event(&first),
            Write::Event(&again),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(events(&f).await.is_empty());
    let stored = f
        .store
        .get_worker(&f.workspace.sid, &f.worker.sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 0, "the worker update was rolled back");

    // Had the failed batch left its transaction open, this BEGIN would fail.
    f.store
        .write(&[
            Write::Worker {
                worker: &changed,
                expected_version: 0,
            },
            Write::Event(&first),
        ])
        .await
        .unwrap();
    assert_eq!(events(&f).await.len(), 1);
}
