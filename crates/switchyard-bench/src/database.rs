//! Which database the scenarios run on: a SQLite file in each scenario's temporary directory,
//! or, with `--database postgres://...`, a database of its own on that PostgreSQL server
//! (created by the store, dropped when the run ends).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use anyhow::Result;
use sqlx::migrate::MigrateDatabase;

/// The PostgreSQL server of this run, if any.
static POSTGRES: OnceLock<String> = OnceLock::new();
/// The databases this run made there.
static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs the scenarios on the PostgreSQL server `url` names.
pub(crate) fn use_postgres(url: String) {
    let _ = POSTGRES.set(url);
}

/// The PostgreSQL server of this run, if any.
pub(crate) fn postgres() -> Option<&'static str> {
    POSTGRES.get().map(String::as_str)
}

/// The store URL of the database named `file` in `dir`: the same for the same pair, so a
/// scenario can open it again after a restart.
pub(crate) fn url(dir: &Path, file: &str) -> String {
    let Some(server) = postgres() else {
        return format!("sqlite://{}", dir.join(file).display());
    };
    let mut hasher = DefaultHasher::new();
    (dir, file).hash(&mut hasher);
    let mut url = url::Url::parse(server).expect("checked when parsed");
    url.set_path(&format!("switchyard_bench_{:016x}", hasher.finish()));
    let url = url.to_string();
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.contains(&url) {
        made.push(url.clone());
    }
    url
}

/// Drops the databases this run made on the PostgreSQL server.
pub(crate) async fn drop_made() -> Result<()> {
    let made = std::mem::take(&mut *MADE.lock().unwrap_or_else(|e| e.into_inner()));
    for url in made {
        if sqlx::Postgres::database_exists(&url).await? {
            sqlx::Postgres::force_drop_database(&url).await?;
        }
    }
    Ok(())
}
