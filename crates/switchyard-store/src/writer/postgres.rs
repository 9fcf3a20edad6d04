//! The writer's PostgreSQL connection, driven by a runtime of the writer thread's own (a sqlx
//! connection belongs to the runtime it was made on).

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
                        let conn = runtime.block_on(options.connect())?;
                        Ok(PostgresCommitter {
                            runtime,
                            conn: Some(conn),
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
        self.runtime.block_on(conn.execute(text))?;
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
        self.run("BEGIN")
    }

    fn apply(&mut self, write: &Compiled) -> Result<()> {
        let conn = self
            .conn
            .as_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))?;
        self.runtime.block_on(async {
            for statement in write.sql.statements() {
                let changed = execute(conn, &statement.text, &statement.args).await?;
                if statement.changes_one && changed != 1 {
                    return Err(StoreError::Conflict(WORKER_CHANGED.to_owned()));
                }
            }
            Ok(())
        })
    }

    fn apply_batched(&mut self, writes: &[&Compiled]) -> Option<Result<()>> {
        let statements = batch::statements(writes)?;
        let Some(conn) = self.conn.as_mut() else {
            return Some(Err(StoreError::Database(sqlx::Error::PoolClosed)));
        };
        Some(self.runtime.block_on(async {
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
        }))
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
