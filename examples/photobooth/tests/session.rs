//! The whole walk-through against a real Switchyard server on 127.0.0.1: two volunteers, three
//! photos, three captions, both volunteers Idle at the end.

use std::sync::Arc;

use switchyard_engine::{ActivitySet, Engine, EngineOptions, SystemClock};
use switchyard_example_photobooth::{session, App, Config};
use switchyard_server::{AppState, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_captions_every_photo() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("switchyard.db").display());
    let options = EngineOptions {
        activity_set: ActivitySet::Legacy,
        ..EngineOptions::default()
    };
    let engine = Engine::open(&url, SystemClock, options).await.unwrap();
    let account = ("AC00000000000000000000000000000000", "photobooth-test");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taskrouter = format!("http://{}", listener.local_addr().unwrap());
    let config =
        ServerConfig::new(taskrouter.clone()).with_account(account.0.parse().unwrap(), account.1);
    let state = AppState::new(engine, config).await.unwrap();
    tokio::spawn(switchyard_server::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        taskrouter,
        account: (account.0.into(), account.1.into()),
        public_url: public_url.clone(),
        photos: dir.path().join("photos"),
        captions: dir.path().join("captions"),
    };
    let app: Arc<App> = App::setup(config.clone()).await.unwrap();
    tokio::spawn(app.clone().watch_photos());
    tokio::spawn(async move { axum::serve(listener, app.router()).await });

    session::run(&public_url, &config).await.unwrap();
}
