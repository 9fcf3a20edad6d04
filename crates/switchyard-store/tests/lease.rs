//! Several nodes on one PostgreSQL database: a workspace's lease passes to another node only
//! once it ran out, and a write fenced by the old lease commits nothing after that. SQLite has
//! no cluster, and says so.

use std::time::{Duration, Instant};

use sqlx::Connection;
use switchyard_core::decide::{Change, Configure, NewWorkspace};
use switchyard_core::model::{QueueOrder, Workspace};
use switchyard_core::sid::{AccountSid, ActivitySid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::testing::{self, on_postgres};
use switchyard_store::{Chain, Claim, Fence, Store, StoreError};

fn account_sid(n: u8) -> AccountSid {
    format!("AC{}", format!("{n:02x}").repeat(16))
        .parse()
        .unwrap()
}

fn account(n: u8) -> Change {
    Change::Configure(Configure::CreateAccount {
        sid: account_sid(n),
        date_created: Timestamp::from_secs(1_800_000_000),
    })
}

async fn stored(url: &str, n: u8) -> bool {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM accounts WHERE sid = $1")
        .bind(account_sid(n).to_string())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    count == 1
}

/// Stores workspace `ws` (leases are taken only for workspaces that exist).
async fn workspace(store: &Store, ws: &WorkspaceSid) {
    let now = Timestamp::from_secs(1_800_000_000);
    store.write(&[account(9)]).await.unwrap();
    let idle: ActivitySid = format!("WA{}", "09".repeat(16)).parse().unwrap();
    let workspace = Workspace {
        sid: ws.clone(),
        account_sid: account_sid(9),
        friendly_name: ws.to_string(),
        default_activity_sid: idle.clone(),
        default_activity_name: "Idle".into(),
        timeout_activity_sid: idle,
        timeout_activity_name: "Idle".into(),
        event_callback_url: None,
        events_filter: None,
        multi_task_enabled: true,
        prioritize_queue_order: QueueOrder::Fifo,
        date_created: now,
        date_updated: now,
    };
    let new = NewWorkspace {
        workspace,
        activities: vec![],
        channels: vec![],
        queues: vec![],
        workflows: vec![],
    };
    let create = Change::Configure(Configure::CreateWorkspace(Box::new(new)));
    store.write(&[create]).await.unwrap();
}

const TTL: Duration = Duration::from_millis(400);
const WAIT: Duration = Duration::from_millis(200);

#[tokio::test]
async fn a_write_fenced_by_a_lost_lease_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::database_at(&dir.path().join("lease.db"));
    let ws: WorkspaceSid = format!("WS{}", "ab".repeat(16)).parse().unwrap();
    if !on_postgres() {
        let store = Store::open(&url).await.unwrap();
        let claimed = store.claim_lease(&ws, "NOa", TTL, WAIT).await;
        assert!(claimed.is_err(), "SQLite has no cluster: {claimed:?}");
        store.close().await;
        return;
    }
    let (a, b) = (
        Store::open(&url).await.unwrap(),
        Store::open(&url).await.unwrap(),
    );
    let missing: WorkspaceSid = format!("WS{}", "ef".repeat(16)).parse().unwrap();
    assert!(
        matches!(
            a.claim_lease(&missing, "NOa", TTL, WAIT).await.unwrap(),
            Claim::Held { .. }
        ),
        "no lease for a workspace that does not exist"
    );
    workspace(&a, &ws).await;
    a.join_cluster("NOa", "http://a.example").await.unwrap();
    b.join_cluster("NOb", "http://b.example").await.unwrap();

    let Claim::Ours(first) = a.claim_lease(&ws, "NOa", TTL, WAIT).await.unwrap() else {
        panic!("a free lease is taken");
    };
    let held = b.claim_lease(&ws, "NOb", TTL, WAIT).await.unwrap();
    assert_eq!(
        held,
        Claim::Held {
            node_id: "NOa".into(),
            url: "http://a.example".into()
        }
    );
    let old = Chain::fenced(Fence {
        workspace: ws.to_string(),
        epoch: first,
    });
    a.submit(&[account(1)], &old).wait().await.unwrap();

    // Not renewed, the lease runs out and the other node takes it, with the next epoch.
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        match b.claim_lease(&ws, "NOb", TTL, WAIT).await.unwrap() {
            Claim::Ours(epoch) => break epoch,
            Claim::Held { .. } => assert!(Instant::now() < deadline, "never taken over"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(second > first);

    match a.submit(&[account(2)], &old).wait().await {
        Err(StoreError::Fenced(w)) => assert_eq!(w, ws.to_string()),
        other => panic!("a write under the old epoch was not fenced off: {other:?}"),
    }
    // Its chain is broken: whatever it decided after is refused too.
    assert!(old.broken());
    // The old holder learns from its renewal that the lease is gone.
    assert!(a.heartbeat("NOa", TTL).await.unwrap().is_empty());
    let new = Chain::fenced(Fence {
        workspace: ws.to_string(),
        epoch: second,
    });
    b.submit(&[account(3)], &new).wait().await.unwrap();
    assert_eq!(
        b.heartbeat("NOb", TTL).await.unwrap(),
        vec![(ws.clone(), second)]
    );
    assert!(stored(&url, 1).await);
    assert!(!stored(&url, 2).await, "the fenced write committed");
    assert!(stored(&url, 3).await);

    // A clean stop lets go at once: the next claim needs no wait.
    b.leave_cluster("NOb").await.unwrap();
    assert!(matches!(
        a.claim_lease(&ws, "NOa", TTL, WAIT).await.unwrap(),
        Claim::Ours(e) if e > second
    ));
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_node_restarted_at_the_same_address_takes_its_leases_back_at_once() {
    if !on_postgres() {
        return assert!(Store::open("sqlite::memory:")
            .await
            .unwrap()
            .replace_predecessors("NOa", "http://a.example", TTL)
            .await
            .is_err());
    }
    let url = testing::database();
    let ws: WorkspaceSid = format!("WS{}", "cd".repeat(16)).parse().unwrap();
    let store = Store::open(&url).await.unwrap();
    workspace(&store, &ws).await;
    store
        .join_cluster("NOold", "http://a.example")
        .await
        .unwrap();
    let long = Duration::from_secs(600);
    let Claim::Ours(old) = store.claim_lease(&ws, "NOold", long, WAIT).await.unwrap() else {
        panic!("a free lease is taken");
    };
    store
        .join_cluster("NOnew", "http://a.example")
        .await
        .unwrap();
    assert_eq!(
        store
            .replace_predecessors("NOnew", "http://a.example", long)
            .await
            .unwrap(),
        1
    );
    let held = store.heartbeat("NOnew", long).await.unwrap();
    assert!(
        matches!(&held[..], [(w, e)] if *w == ws && *e > old),
        "{held:?}"
    );
    let nodes = store.nodes(long, long).await.unwrap();
    assert_eq!(nodes.len(), 1, "the predecessor is gone: {nodes:?}");
    assert_eq!(nodes[0].workspaces, vec![ws]);
    store.close().await;
}
