//! The writer's PostgreSQL connection, driven by a runtime of the writer thread's own (a sqlx
//! connection belongs to the runtime it was made on).
//!
//! The connection is made again when it is lost (the server restarted, or ended the session):
//! at the next group's `BEGIN`, so a connection that died while idle costs no write, and a
//! group that was cut off fails as any failed group does (its writes were not acknowledged,
//! though one cut off during `COMMIT` may have committed: the engine reloads what it decided on).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor, PgConnection, Postgres};

use super::batch::{self, Column};
use super::{Committer, WORKER_CHANGED};
use crate::db::{bound, numbered};
use crate::lease::Fence;
use crate::sql::{Arg, Compiled};
use crate::{Result, StoreError};

pub(crate) struct PostgresCommitter {
    runtime: tokio::runtime::Runtime,
    conn: Option<PgConnection>,
    options: PgConnectOptions,
    /// The connection failed in a way that ends it: made again before the next group.
    lost: bool,
    /// The server process of the connection (its pid and start time, which together name it
    /// even if the pid is used again), to end it if it outlives the connection on our side (a
    /// one-sided reset) and so keeps row locks from its successor.
    backend: Backend,
    /// Bumped each time the connection is made again: a group cut off may or may not have
    /// committed (see [`crate::Store::generation`]).
    generation: Arc<AtomicU64>,
}

/// How long making the writer's connection may take: a server that
/// drops packets would otherwise hold the writer for the kernel's connect timeout.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A server process: its pid and when it started.
type Backend = (i32, String);

/// Connects and ends `predecessor` (this process's own earlier session, if the server still
/// has it, with the row locks of its last group); returns the connection and its server
/// process.
async fn connect_owning(
    options: &PgConnectOptions,
    predecessor: Option<&Backend>,
) -> Result<(PgConnection, Backend)> {
    let connecting = async {
        let mut conn = options.connect().await?;
        if let Some((pid, started)) = predecessor {
            // Ours, and gone on our side: all it can still do is hold locks. Allowed for the
            // same role; otherwise PostgreSQL's own timeouts end it.
            let ended = sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE pid = $1 AND backend_start::text = $2",
            )
            .bind(pid)
            .bind(started)
            .execute(&mut conn)
            .await;
            if let Err(e) = ended {
                tracing::debug!(error = %e, pid, "ending the writer's previous session");
            }
        }
        let idle = format!(
            "SET idle_in_transaction_session_timeout = {}",
            IDLE_IN_TRANSACTION.as_millis()
        );
        conn.execute(idle.as_str()).await?;
        let backend: Backend = sqlx::query_as(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        )
        .fetch_one(&mut conn)
        .await?;
        Ok((conn, backend))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| Err(StoreError::Database(sqlx::Error::PoolTimedOut)))
}

/// How long the writer's session may sit inside a transaction without a statement before
/// PostgreSQL ends it: a writer paused mid-group (SIGSTOP, a frozen VM) would otherwise keep
/// the row locks of its fencing check, and with them a takeover waiting, for ever. A writer
/// that runs never idles inside a transaction.
const IDLE_IN_TRANSACTION: std::time::Duration = std::time::Duration::from_secs(5);

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
    pub(crate) async fn connect(
        options: PgConnectOptions,
        generation: Arc<AtomicU64>,
    ) -> Result<Self> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("switchyard-writer-connect".to_owned())
            .spawn(move || {
                let made = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))
                    .and_then(|runtime| {
                        let (conn, backend) = runtime.block_on(connect_owning(&options, None))?;
                        Ok(PostgresCommitter {
                            runtime,
                            conn: Some(conn),
                            options,
                            lost: false,
                            backend,
                            generation,
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
        let (conn, backend) = self
            .runtime
            .block_on(connect_owning(&self.options, Some(&self.backend)))?;
        self.conn = Some(conn);
        self.backend = backend;
        self.lost = false;
        self.generation.fetch_add(1, Ordering::AcqRel);
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

    fn fences_hold(&mut self, fences: &[&Fence]) -> Result<Vec<bool>> {
        let conn = self
            .conn
            .as_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))?;
        let sids: Vec<&str> = fences.iter().map(|f| f.workspace.as_str()).collect();
        let held = self.runtime.block_on(
            sqlx::query_as::<_, (String, i64)>(
                "SELECT workspace_sid, epoch FROM workspace_leases
                 WHERE workspace_sid = ANY($1) ORDER BY workspace_sid FOR SHARE",
            )
            .bind(&sids)
            .fetch_all(conn),
        );
        let held = self.watch(held.map_err(StoreError::from))?;
        Ok((fences.iter())
            .map(|f| held.contains(&(f.workspace.clone(), f.epoch)))
            .collect())
    }

    fn commit(&mut self) -> Result<()> {
        // In the same round trip: other nodes' event readers wake once it committed
        // (`Store::listen_to_other_nodes`). Delivered only if it commits.
        self.run("NOTIFY switchyard_events; COMMIT")
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
