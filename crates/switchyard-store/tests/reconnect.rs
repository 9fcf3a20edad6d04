//! The writer outlives its connection: when PostgreSQL ends the session (a server restart, an
//! administrator's `pg_terminate_backend`), the next write connects again instead of failing,
//! as do the reads. SQLite's writer has no connection to lose: there the writes simply go on.

use sqlx::{Connection, Executor};
use switchyard_core::decide::{Change, Configure};
use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;
use switchyard_store::testing::{self, on_postgres, TEST_DATABASE};
use switchyard_store::{Store, WorkspaceFilter};

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
    // Made again: a group cut off may have committed, so what the store's users remember
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
