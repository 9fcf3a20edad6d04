//! Opening a database that already exists: on PostgreSQL, with a user that may not connect to
//! the server's maintenance database (`postgres`), as managed servers often set it up; on
//! SQLite, the same file opened again.

use sqlx::{Connection, Executor};
use switchyard_store::testing::{self, on_postgres, TEST_DATABASE};
use switchyard_store::Store;

#[tokio::test]
async fn an_existing_database_opens_with_no_access_to_any_other() {
    if !on_postgres() {
        let dir = tempfile::tempdir().unwrap();
        let url = testing::database_at(&dir.path().join("open.db"));
        Store::open(&url).await.unwrap().close().await;
        Store::open(&url).await.unwrap().close().await;
        return;
    }
    let server = std::env::var(TEST_DATABASE).unwrap();
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    let suffix = std::process::id();
    let (role, db) = (format!("limited_{suffix}"), format!("limited_db_{suffix}"));
    admin
        .execute(format!("CREATE ROLE {role} LOGIN").as_str())
        .await
        .unwrap();
    admin
        .execute(format!("CREATE DATABASE {db} OWNER {role}").as_str())
        .await
        .unwrap();
    // Nobody but superusers may connect to the maintenance database while this runs.
    admin
        .execute("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC")
        .await
        .unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_username(&role).unwrap();
    url.set_path(&db);
    let opened = Store::open(url.as_str()).await;
    admin
        .execute("GRANT CONNECT ON DATABASE postgres TO PUBLIC")
        .await
        .unwrap();
    let store = opened.expect("the database opens: it exists, and it is the user's");
    store.close().await;
    admin
        .execute(format!("DROP DATABASE {db}").as_str())
        .await
        .unwrap();
    admin
        .execute(format!("DROP ROLE {role}").as_str())
        .await
        .unwrap();
}
