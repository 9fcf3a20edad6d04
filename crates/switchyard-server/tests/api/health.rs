//! `GET /health` is a readiness probe: 200 while the database answers, 503 once it does not.

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn health_says_whether_the_database_answers() {
    let url = switchyard_engine::testing::database();
    let s = Server::start_on(&url, Default::default()).await;
    let (status, _) = s.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::OK);
    if !switchyard_engine::testing::on_postgres() {
        // A SQLite file cannot go away under open connections the way a server can.
        s.stop().await;
        return;
    }
    let server = std::env::var(switchyard_engine::testing::TEST_DATABASE).unwrap();
    let database = url::Url::parse(&url).unwrap().path()[1..].to_owned();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .unwrap();
    sqlx::Executor::execute(
        &mut admin,
        format!("DROP DATABASE {database} WITH (FORCE)").as_str(),
    )
    .await
    .unwrap();
    let (status, _) = s.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    s.stop().await;
}
