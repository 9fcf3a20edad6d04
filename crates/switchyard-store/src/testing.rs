//! Which database a test runs on, so that one suite runs on both backends: SQLite by default,
//! PostgreSQL when `SWITCHYARD_TEST_DATABASE` names a server (`tests/run-all.sh` runs the suite
//! once each way).

use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the PostgreSQL server tests run on, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`. Unset or empty: SQLite.
pub const TEST_DATABASE: &str = "SWITCHYARD_TEST_DATABASE";

/// A private database: `sqlite::memory:`, or a new database on the test PostgreSQL server.
pub fn database() -> String {
    postgres().unwrap_or_else(|| "sqlite::memory:".to_owned())
}

/// A database that outlives the store, to open again: the SQLite file at `path`, or a new
/// database on the test PostgreSQL server.
pub fn database_at(path: &std::path::Path) -> String {
    postgres().unwrap_or_else(|| format!("sqlite://{}", path.display()))
}

/// Whether tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(TEST_DATABASE).is_ok_and(|v| !v.is_empty())
}

/// A URL on the test server naming a database no test has used (created when first opened).
fn postgres() -> Option<String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = std::env::var(TEST_DATABASE)
        .ok()
        .filter(|v| !v.is_empty())?;
    let mut url = url::Url::parse(&server)
        .unwrap_or_else(|e| panic!("{TEST_DATABASE}={server} is not a URL: {e}"));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "switchyard_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    url.set_path(&name);
    Some(url.to_string())
}
