//! One process serves a SQLite database: a second store on it is refused while the first is
//! open (it would route the same workspaces from another model), and opens once the first
//! closes. A PostgreSQL database takes several stores, one per node: its leases decide which
//! node routes which workspace (`lease.rs`).

use switchyard_store::testing::{self, on_postgres};
use switchyard_store::{Store, StoreError};

#[tokio::test]
async fn a_second_store_waits_for_the_first_to_close_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::database_at(&dir.path().join("owned.db"));
    let first = Store::open(&url).await.unwrap();
    match Store::open(&url).await {
        Ok(second) if on_postgres() => second.close().await,
        Err(StoreError::InUse(why)) if !on_postgres() => assert!(!why.is_empty()),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a second store opened a SQLite database in use"),
    }
    first.close().await;
    let second = Store::open(&url).await.expect("free once the first closed");
    second.close().await;
}
