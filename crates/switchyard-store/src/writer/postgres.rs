//! The writer's PostgreSQL connection, driven by a runtime of the writer thread's own (a sqlx
//! connection belongs to the runtime it was made on).
//!
//! The connection is made again when it is lost (the server restarted, or ended the session):
//! at the next group's `BEGIN`, so a connection that died while idle costs no write, and a
//! group that was cut off fails as any failed group does (its writes were not acknowledged).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor, PgConnection, Postgres};

use super::batch::{self, Column};
use super::{Committer, WORKER_CHANGED};
use crate::db::{bound, numbered};
use crate::sql::{Arg, Compiled};
use crate::{Result, StoreError};

pub(crate) struct PostgresCommitter {
    runtime: tokio::runtime::Runtime,
    conn: Option<PgConnection>,
    options: PgConnectOptions,
    /// The connection failed in a way that ends it: made again before the next group.
    lost: bool,
}

/// The session-level advisory lock the writer's connection holds on its database: one process
/// serves a database. Advisory locks are the database's own, so one key serves every database.
const OWNER_LOCK: i64 = 0x5357_4954_4348_5944; // "SWITCHYD"

/// Takes the database's owner lock on `conn`, waiting up to [`crate::OWNER_WAIT`] for a
/// process that held it to let go (PostgreSQL frees it as that process's session ends).
async fn lock_owner(conn: &mut PgConnection) -> Result<()> {
    let deadline = std::time::Instant::now() + crate::OWNER_WAIT;
    loop {
        let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(OWNER_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if locked {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(StoreError::InUse(
                "another session holds its owner lock".to_owned(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether `e` means the connection is gone rather than that a statement failed.
fn connection_lost(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(db)) => {
            // Class 08 (connection exception) and 57P (the server shutting down or ending the
            // session: administrator command, crash, not yet accepting connections).
            db.code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
        }
        StoreError::Database(_) => true,
        _ => false,
    }
}

impl PostgresCommitter {
    /// Connects on a thread of its own: the caller may be inside another runtime, where a
    /// runtime cannot be started.
    pub(crate) async fn connect(options: PgConnectOptions) -> Result<Self> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("switchyard-writer-connect".to_owned())
            .spawn(move || {
                let made = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))
                    .and_then(|runtime| {
                        let conn = runtime.block_on(async {
                            let mut conn = options.connect().await?;
                            lock_owner(&mut conn).await?;
                            Ok::<_, StoreError>(conn)
                        })?;
                        Ok(PostgresCommitter {
                            runtime,
                            conn: Some(conn),
                            options,
                            lost: false,
                        })
                    });
                let _ = tx.send(made);
            })
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        rx.await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Runs a statement without parameters (simple query protocol).
    fn run(&mut self, text: &'static str) -> Result<()> {
        let conn = self
            .conn
            .as_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))?;
        let done = self.runtime.block_on(conn.execute(text)).map(drop);
        self.watch(done.map_err(StoreError::from))
    }

    /// Notes a failure that ends the connection, for the next group to connect again.
    fn watch<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            if connection_lost(e) {
                self.lost = true;
            }
        }
        result
    }

    fn reconnect(&mut self) -> Result<()> {
        // Dropped, not closed: there is nobody left to say goodbye to.
        self.conn = None;
        // The lock went with the session: another process may have it now, and then this one
        // must not write again.
        let conn = self.runtime.block_on(async {
            let mut conn = self.options.connect().await?;
            lock_owner(&mut conn).await?;
            Ok::<_, StoreError>(conn)
        })?;
        self.conn = Some(conn);
        self.lost = false;
        tracing::info!("the writer's PostgreSQL connection is made again");
        Ok(())
    }
}

/// Runs one statement, prepared once per connection (sqlx caches it by text).
async fn execute(conn: &mut PgConnection, text: &str, args: &[Arg]) -> Result<u64> {
    let text = numbered(text);
    let done = bound!(sqlx::query::<Postgres>(&text), args)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

impl Committer for PostgresCommitter {
    fn begin(&mut self) -> Result<()> {
        if self.lost {
            self.reconnect()?;
        }
        match self.run("BEGIN") {
            // Died while idle: once more on a new connection, so no write fails for it.
            Err(e) if self.lost => {
                tracing::warn!(error = %e, "the writer's PostgreSQL connection was lost");
                self.reconnect()?;
                self.run("BEGIN")
            }
            begun => begun,
        }
    }

    fn apply(&mut self, write: &Compiled) -> Result<()> {
        let conn = self
            .conn
            .as_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))?;
        let applied = self.runtime.block_on(async {
            for statement in write.sql.statements() {
                let changed = execute(conn, &statement.text, &statement.args).await?;
                if statement.changes_one && changed != 1 {
                    return Err(StoreError::Conflict(WORKER_CHANGED.to_owned()));
                }
            }
            Ok(())
        });
        self.watch(applied)
    }

    fn apply_batched(&mut self, writes: &[&Compiled]) -> Option<Result<()>> {
        let statements = batch::statements(writes)?;
        let Some(conn) = self.conn.as_mut() else {
            return Some(Err(StoreError::Database(sqlx::Error::PoolClosed)));
        };
        let applied = self.runtime.block_on(async {
            for statement in statements {
                let mut query = sqlx::query::<Postgres>(&statement.text);
                for column in statement.columns {
                    query = match column {
                        Column::Text(v) => query.bind(v),
                        Column::Int(v) => query.bind(v),
                        Column::Bool(v) => query.bind(v),
                    };
                }
                let changed = query.execute(&mut *conn).await?.rows_affected();
                if statement.changes.is_some_and(|n| n != changed) {
                    return Err(StoreError::Conflict(WORKER_CHANGED.to_owned()));
                }
            }
            Ok(())
        });
        Some(self.watch(applied))
    }

    fn commit(&mut self) -> Result<()> {
        self.run("COMMIT")
    }

    fn rollback(&mut self) {
        // Without an open transaction, ROLLBACK only warns.
        if let Err(e) = self.run("ROLLBACK") {
            tracing::debug!(error = %e, "rollback after a failed group");
        }
    }

    fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            use sqlx::Connection;
            if let Err(e) = self.runtime.block_on(conn.close()) {
                tracing::warn!(error = %e, "closing the writer connection failed");
            }
        }
    }
}
