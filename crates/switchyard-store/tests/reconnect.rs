//! The writer outlives its connection: when PostgreSQL ends the session (a server restart, an
//! administrator's `pg_terminate_backend`), the next write connects again instead of failing,
//! as do the reads. SQLite's writer has no connection to lose: there the writes simply go on.

use sqlx::{Connection, Executor};
use switchyard_core::decide::{Change, Configure};
use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;
use switchyard_store::testing::{self, on_postgres, TEST_DATABASE};
use switchyard_store::{Store, StoreError, WorkspaceFilter};

fn account(n: u8) -> Change {
    let sid: AccountSid = format!("AC{}", format!("{n:02x}").repeat(16))
        .parse()
        .unwrap();
    Change::Configure(Configure::CreateAccount {
        sid,
        date_created: Timestamp::from_secs(1_800_000_000),
    })
}

/// Ends every session on the database but the caller's own.
async fn end_sessions(database: &str) {
    let server = std::env::var(TEST_DATABASE).unwrap();
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    let ended = admin
        .fetch_all(
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            )
            .as_str(),
        )
        .await
        .unwrap();
    assert!(!ended.is_empty(), "the store had sessions to end");
}

#[tokio::test]
async fn writes_and_reads_go_on_after_the_server_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::database_at(&dir.path().join("reconnect.db"));
    let store = Store::open(&url).await.unwrap();
    store.write(&[account(1)]).await.unwrap();
    if on_postgres() {
        let database = url::Url::parse(&url).unwrap().path()[1..].to_owned();
        end_sessions(&database).await;
    }
    store
        .write(&[account(2)])
        .await
        .expect("written on a new connection");
    // Made again, the connection took the owner lock again: what the store's users remember
    // from before may be stale.
    assert_eq!(store.generation(), u64::from(on_postgres()));
    let account: AccountSid = format!("AC{}", "02".repeat(16)).parse().unwrap();
    let listed = store
        .list_workspaces(
            &account,
            &WorkspaceFilter::default(),
            Default::default(),
            10,
        )
        .await
        .expect("read on a new connection");
    assert!(listed.items.is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_store_that_lost_its_session_writes_nothing_while_another_serves_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::database_at(&dir.path().join("handover.db"));
    let first = Store::open(&url).await.unwrap();
    first.write(&[account(1)]).await.unwrap();
    if !on_postgres() {
        // A SQLite store's lock is its process's: it cannot lose it while it runs.
        assert!(matches!(Store::open(&url).await, Err(StoreError::InUse(_))));
        first.close().await;
        return;
    }
    let database = url::Url::parse(&url).unwrap().path()[1..].to_owned();
    end_sessions(&database).await;
    // The first store is idle without its lock: a second one may take the database.
    let second = Store::open(&url).await.expect("the lock was let go");
    second.write(&[account(2)]).await.unwrap();
    match first.write(&[account(3)]).await {
        Err(StoreError::InUse(_)) => {}
        other => panic!("the first store wrote beside the second: {other:?}"),
    }
    assert_eq!(first.generation(), 0, "it never got the lock back");
    second.close().await;
    first
        .write(&[account(3)])
        .await
        .expect("the lock is free again");
    assert_eq!(
        first.generation(),
        1,
        "what it remembers must be read again"
    );
    first.close().await;
}
