//! The machine's own limits, measured the same way as the scenarios: how fast SQLite commits
//! single-row transactions on this file system (and PostgreSQL, from one connection and from
//! eight, when the run is on PostgreSQL), and how many requests an empty axum handler answers
//! on this loopback.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::measure::{per_sec, Meter};

/// Single-row `BEGIN; INSERT; COMMIT` transactions on one connection, with the store's
/// durability settings (WAL, `synchronous = NORMAL`).
pub(crate) async fn sqlite_commits(dir: &Path, duration: Duration) -> Result<Value> {
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.join("limits.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    let meter = Meter::start();
    let mut n = 0u64;
    while meter.elapsed() < duration {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO rows (payload) VALUES (?)")
            .bind("a task-sized row of about this many bytes, give or take a few")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(json!({
        "commits_per_s": per_sec(n, meter.elapsed()),
        "resources": meter.report(),
    }))
}

/// Single-row `BEGIN; INSERT; COMMIT` transactions on the run's PostgreSQL server, from
/// `connections` connections at once, in a database of their own.
pub(crate) async fn postgres_commits(duration: Duration, connections: usize) -> Result<Value> {
    use sqlx::postgres::PgConnection;
    let url = crate::database::url(Path::new("limits"), &format!("commits-{connections}"));
    if !<sqlx::Postgres as sqlx::migrate::MigrateDatabase>::database_exists(&url).await? {
        <sqlx::Postgres as sqlx::migrate::MigrateDatabase>::create_database(&url).await?;
    }
    let mut setup = PgConnection::connect(&url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS rows (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)",
    )
    .execute(&mut setup)
    .await?;
    setup.close().await?;
    let meter = Meter::start();
    let deadline = Instant::now() + duration;
    let loops: Vec<_> = (0..connections)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut conn = PgConnection::connect(&url).await?;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let mut tx = conn.begin().await?;
                    sqlx::query("INSERT INTO rows (payload) VALUES ($1)")
                        .bind("a task-sized row of about this many bytes, give or take a few")
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    n += 1;
                }
                conn.close().await?;
                Ok::<u64, sqlx::Error>(n)
            })
        })
        .collect();
    let mut n = 0;
    for l in loops {
        n += l.await??;
    }
    Ok(json!({
        "commits_per_s": per_sec(n, meter.elapsed()),
        "connections": connections,
        "resources": meter.report(),
    }))
}

/// Form POSTs to a handler that does nothing, from `clients` concurrent loops sharing one
/// reqwest client (as the lifecycle scenario's are).
pub(crate) async fn empty_axum(duration: Duration, clients: usize) -> Result<Value> {
    let app = axum::Router::new().route("/", axum::routing::post(|| async { "" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let meter = Meter::start();
    let deadline = Instant::now() + duration;
    let loops: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, done) = (client.clone(), url.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let sent = client.post(&url).form(&[("Attributes", "{}")]).send().await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for l in loops {
        l.await?;
    }
    let elapsed = meter.elapsed();
    server.abort();
    Ok(json!({
        "requests_per_s": per_sec(done.load(Ordering::Relaxed), elapsed),
        "clients": clients,
        "resources": meter.report(),
    }))
}
