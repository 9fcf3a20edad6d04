//! Switchyard's store, on SQLite or PostgreSQL, and the only crate that knows SQL.
//!
//! [`Store`] methods take and return core types; row structs stay private to this crate. Reads
//! are methods named for what they answer. Writes have one way in: the core's
//! [`Change`]s, through [`Store::submit`] or [`Store::write`], committed by the one writer in
//! submission order, each submitted write all or nothing.
//!
//! Lists use keyset paging over each table's `seq` insertion counter, so a page is stable while
//! rows are added: see [`Cursor`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use switchyard_core::sid::Sid;

mod activity;
mod callback;
mod checkpoint;
mod configure;
mod db;
mod event;
mod lease;
mod sql;
mod task;
mod task_channel;
mod task_queue;
pub mod testing;
mod worker;
mod workflow;
mod workspace;
mod write;
mod writer;

pub use activity::ActivityFilter;
pub use callback::CallbackFailureCount;
pub use db::Backend;
pub use event::{EventFilter, StatEvent};
pub use lease::{Claim, Fence, NodeRow};
pub use switchyard_core::decide::Change;
pub use task::{ReservationScope, TaskFilter};
pub use task_queue::TaskQueueFilter;
pub use worker::WorkerFilter;
pub use workflow::WorkflowFilter;
pub use workspace::WorkspaceFilter;
pub use write::{Chain, OnCommit, Pending};
pub use writer::{COMMIT_GROUP_WRITES, COMMIT_SECONDS, WRITES_FAILED};

/// Creates the database file readable and writable by its owner only, if it does not exist yet
/// (SQLite gives its WAL and shared-memory files the same mode).
fn create_private(path: &std::path::Path) -> std::result::Result<(), sqlx::Error> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(sqlx::Error::Io(e)),
    }
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or reference rule of the schema refused the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is locked by another writer for longer than the busy timeout.
    #[error("the database is busy")]
    Busy,
    /// A stored value does not parse back (the file was edited by hand or is damaged).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Not committed: an earlier write of the same [`Chain`] failed, or the group commit it
    /// was part of failed as a whole.
    #[error("an earlier write this one builds on failed")]
    Abandoned,
    /// The writer's connection failed to write.
    #[error("database write failed")]
    Write(#[source] rusqlite::Error),
    /// Another process serves this SQLite database (it holds the database's owner lock).
    #[error(
        "another Switchyard process is using this database ({0}); stop it first: one process \
         per SQLite database (several nodes need PostgreSQL)"
    )]
    InUse(String),
    /// Not committed: the workspace's lease passed to another node after this write was
    /// decided (its fence, [`Chain::fenced`], no longer holds).
    #[error("this node no longer decides for workspace {0}")]
    Fenced(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(f, message) = &e {
            let message = message.clone().unwrap_or_default();
            match f.code {
                ErrorCode::ConstraintViolation => return StoreError::Conflict(message),
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => return StoreError::Busy,
                _ => {}
            }
        }
        StoreError::Write(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // Any rule of the schema (on PostgreSQL, SQLSTATE class 23, which a trigger may
            // raise too, as SQLite's `RAISE(ABORT)` is a constraint failure).
            if !matches!(db.kind(), sqlx::error::ErrorKind::Other) {
                return StoreError::Conflict(db.message().to_owned());
            }
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), including their extended codes.
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            if let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok()) {
                if sqlite && (code & 0xff == 5 || code & 0xff == 6) {
                    return StoreError::Busy;
                }
            }
        }
        StoreError::Database(e)
    }
}

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where a page starts, relative to the `seq` of a row on the neighbouring page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cursor {
    /// The first page.
    #[default]
    Start,
    /// Rows after this `seq` (the next page).
    After(i64),
    /// Rows before this `seq` (the previous page).
    Before(i64),
    /// Rows from this position of a list sorted by something other than creation order.
    Offset(usize),
}

/// One page of rows, each with its `seq`, in list order, with where its neighbours start.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<(i64, T)>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
    /// Where the previous page starts, if there is one.
    pub previous: Option<Cursor>,
}

impl<T> Page<T> {
    /// An empty page with no neighbours.
    pub fn empty() -> Page<T> {
        Page {
            items: Vec::new(),
            next: None,
            previous: None,
        }
    }

    /// Builds a page from rows fetched in cursor direction (descending for `Before`) and
    /// already filtered, holding at most `size + 1` rows: the extra one only says "there is more".
    pub fn from_fetched(mut rows: Vec<(i64, T)>, cursor: Cursor, size: usize) -> Page<T> {
        let more = rows.len() > size;
        rows.truncate(size);
        let (has_next, has_previous) = match cursor {
            Cursor::Before(_) => {
                rows.reverse();
                (true, more)
            }
            Cursor::After(_) => (more, true),
            Cursor::Start | Cursor::Offset(_) => (more, false),
        };
        let next = has_next
            .then(|| rows.last().map(|(s, _)| Cursor::After(*s)))
            .flatten();
        let previous = match cursor {
            // Absolute paging (`Page` without a token) steps back by position.
            Cursor::Offset(n) if n > 0 => Some(Cursor::Offset(n.saturating_sub(size))),
            _ => has_previous
                .then(|| rows.first().map(|(s, _)| Cursor::Before(*s)))
                .flatten(),
        };
        Page {
            items: rows,
            next,
            previous,
        }
    }

    /// A page of a fully sorted list, `size` rows from `offset`.
    pub fn from_sorted(rows: Vec<(i64, T)>, offset: usize, size: usize) -> Page<T> {
        let total = rows.len();
        let items: Vec<(i64, T)> = rows.into_iter().skip(offset).take(size).collect();
        Page {
            next: (offset + size < total).then_some(Cursor::Offset(offset + size)),
            previous: (offset > 0).then(|| Cursor::Offset(offset.saturating_sub(size))),
            items,
        }
    }
}

/// Appends the keyset condition and order for `cursor` to a query whose WHERE clause is open.
pub(crate) fn push_cursor(qb: &mut db::Query, table: &str, cursor: Cursor, limit: Option<usize>) {
    match cursor {
        Cursor::Start | Cursor::Offset(_) => {
            qb.push(format!(" ORDER BY {table}.seq ASC"));
        }
        Cursor::After(seq) => {
            qb.push(format!(" AND {table}.seq > ")).push_bind(seq);
            qb.push(format!(" ORDER BY {table}.seq ASC"));
        }
        Cursor::Before(seq) => {
            qb.push(format!(" AND {table}.seq < ")).push_bind(seq);
            qb.push(format!(" ORDER BY {table}.seq DESC"));
        }
    }
    if let Some(limit) = limit {
        qb.push(" LIMIT ").push_bind(limit as i64);
        // Without a limit the caller filters in Rust and skips the offset itself.
        if let Cursor::Offset(n) = cursor {
            qb.push(" OFFSET ").push_bind(n as i64);
        }
    }
}

/// Parses a stored SID, reporting damage rather than panicking.
pub(crate) fn sid<T: Sid>(s: &str) -> Result<T> {
    T::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Parses an optional stored SID.
pub(crate) fn opt_sid<T: Sid>(s: Option<&str>) -> Result<Option<T>> {
    s.map(sid).transpose()
}

/// The store, on SQLite or PostgreSQL. Cheap to clone: the pool and the writer are shared.
///
/// One `Store` (with its clones) owns its database: its one writer commits in submission
/// order, and every query waits for the writes submitted before it.
#[derive(Debug, Clone)]
pub struct Store {
    pool: db::Pool,
    /// The writer, on a thread of its own, that commits every write in order: see
    /// [`Store::submit`].
    writer: Arc<writer::Writer>,
    /// Bumped after every committed write that recorded events.
    events_written: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where an "in-memory" database lives, removed once the last clone is dropped.
    _temporary: Option<Arc<tempfile::TempDir>>,
    /// The SQLite database's owner lock, released by [`Store::close`] (PostgreSQL serves
    /// several nodes: `lease.rs`).
    owner: Arc<std::sync::Mutex<Option<std::fs::File>>>,
    /// See [`Store::generation`].
    generation: Arc<std::sync::atomic::AtomicU64>,
}

/// How long opening a database waits for the process that held it to let go (one that has
/// just stopped, or been killed).
pub const OWNER_WAIT: Duration = Duration::from_secs(3);

/// Takes the lock beside a SQLite file that says one process serves it: `PATH.lock`, held
/// (`flock`) until [`Store::close`] or the process ends. Waits up to [`OWNER_WAIT`].
async fn lock_sqlite_owner(path: &std::path::Path) -> Result<std::fs::File> {
    let io = |e| StoreError::Database(sqlx::Error::Io(e));
    // The file itself, whatever link named it, so that two names of one file share a lock.
    let mut lock_path = std::fs::canonicalize(path).map_err(io)?.into_os_string();
    lock_path.push(".lock");
    let mut open = std::fs::OpenOptions::new();
    open.create(true).truncate(false).write(true);
    // Private like the database: another user could hold the lock and keep the server out.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let file = open.open(&lock_path).map_err(io)?;
    let deadline = std::time::Instant::now() + OWNER_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                // Another process's flock sends no word when it goes: look again shortly
                // (a blocking lock could not be given up on at the deadline).
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse(format!(
                    "{} is locked",
                    std::path::Path::new(&lock_path).display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Database(sqlx::Error::Io(e)))
            }
        }
    }
}

/// How long a connection waits for another's lock before reporting the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The WAL pages (4 KiB each, so up to ~1 GiB of WAL file) after which a commit checkpoints on
/// its own connection. Under steady writes only that checkpoint lets the WAL start over (the
/// background [`checkpoint`] never catches up with a writer that keeps appending), and the
/// commit that crosses it stalls every write behind it for two device flushes (the WAL, then the
/// database file: 25-50 ms on the CI machine's disk), which is what a create -> callback p99
/// sees; a larger WAL makes that rarer. At 500 tasks/s (~65 pages each): at 10,000 pages it came
/// every 0.3 s (p90 4-6 ms), at 40,000 every 1.2 s (p99 12-15 ms), at 250,000 every ~8 s (p99
/// 4.7 ms, max 49-57 ms). The background checkpointer does the copying in between, so the stall
/// does not grow with the WAL. Recovering a 953 MiB WAL after a crash (its index rebuilt, cold
/// cache) took 0.78 s.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 250_000;

/// A connection of the writer's, set up like the pool's.
fn writer_connection(path: &std::path::Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}; PRAGMA temp_store = MEMORY;",
    ))?;
    // Each shape of write is one statement text, prepared once and kept.
    conn.set_prepared_statement_cache_capacity(1024);
    Ok(conn)
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Store {
    /// Opens (creating if missing) the database at `url` and applies pending migrations.
    ///
    /// `url` is a sqlx SQLite URL (`sqlite://switchyard.db`, `sqlite:path/to/file.db`),
    /// `sqlite::memory:` for a private in-memory database, or a PostgreSQL URL
    /// (`postgres://user:password@host:port/database`); a missing PostgreSQL database is
    /// created, as a missing SQLite file is.
    pub async fn open(url: &str) -> Result<Store> {
        if is_postgres_url(url) {
            Store::open_postgres(url).await
        } else {
            Store::open_sqlite(url).await
        }
    }

    /// Which database the store runs on.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    async fn open_postgres(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::Database)?;
        let connect = || {
            PgPoolOptions::new()
                .max_connections(16)
                .min_connections(0)
                .connect_with(options.clone())
        };
        // The database itself first: a user that may not connect to the server's maintenance
        // database still opens one that exists. Only a missing one (3D000) is created.
        let pool = match connect().await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                match sqlx::Postgres::create_database(url).await {
                    Ok(()) => {}
                    // Another process created it first: 42P04 once it exists, 23505 (the
                    // catalog's unique index) when both creates ran at once.
                    Err(sqlx::Error::Database(e))
                        if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {}
                    Err(e) => return Err(e.into()),
                }
                connect().await?
            }
            connected => connected?,
        };
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        // On a connection of its own, closed once done: one the pool took back late would
        // outlive `Store::close` (and keep the database from being dropped).
        let mut migrating = sqlx::ConnectOptions::connect(&options).await?;
        let migrated = sqlx::migrate!("../../migrations/postgres")
            .run_direct(&mut migrating)
            .await
            .map_err(StoreError::Migrate);
        sqlx::Connection::close(migrating).await?;
        migrated?;
        let committer =
            writer::PostgresCommitter::connect(options, Arc::clone(&generation)).await?;
        let events_written = Arc::new(tokio::sync::watch::channel(0).0);
        let writer = writer::Writer::start(Box::new(committer), Arc::clone(&events_written))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Store {
            pool: db::Pool::Postgres(pool),
            writer,
            events_written,
            _temporary: None,
            owner: Arc::default(),
            generation,
        })
    }

    async fn open_sqlite(url: &str) -> Result<Store> {
        // The writer has a connection of its own, which an in-memory database (one per
        // connection) cannot give it: such a database is a file in a private temporary
        // directory instead, removed with the store.
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let (url, temporary) = if memory {
            let dir = tempfile::Builder::new()
                .prefix("switchyard-")
                .tempdir()
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            let url = format!("sqlite://{}", dir.path().join("switchyard.db").display());
            (url, Some(Arc::new(dir)))
        } else {
            (url.to_owned(), None)
        };
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let path = options.get_filename().to_owned();
        create_private(&path).map_err(StoreError::Database)?;
        let owner = lock_sqlite_owner(&path).await?;
        // WAL lets readers run beside the writer; NORMAL sync is durable across process
        // crashes in WAL mode (only an OS crash can lose the last commits).
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .idle_timeout(None)
            // A ping before every query doubles the round trips to SQLite's worker thread, and
            // a local file cannot drop the connection the way a network database can.
            .test_before_acquire(false)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::migrate!("../../migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        let committer =
            writer::SqliteCommitter::new(writer_connection(&path)?, writer_connection(&path)?)
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        let events_written = Arc::new(tokio::sync::watch::channel(0).0);
        let writer = writer::Writer::start(Box::new(committer), Arc::clone(&events_written))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Store {
            pool: db::Pool::Sqlite(pool),
            writer,
            events_written,
            _temporary: temporary,
            owner: Arc::new(std::sync::Mutex::new(Some(owner))),
            generation: Arc::default(),
        })
    }

    /// Changes each time the writer's PostgreSQL session is made again after it was lost: a
    /// group cut off may or may not have committed, so whatever was remembered from before
    /// (the engine's models and cached workspaces) must be read again. Never changes on
    /// SQLite.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the database answers a query now (a readiness probe's question): without
    /// waiting for the writes in flight.
    pub async fn ping(&self) -> Result<()> {
        let _: (i64,) = db::query_as("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes every connection, waiting for the writes and queries in flight.
    pub async fn close(&self) {
        self.close_writer().await;
        self.pool.close().await;
        // Another process may open the database from here on.
        drop(self.owner.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}
