//! The writer's SQLite connection: rusqlite on the same bundled SQLite as sqlx, each statement
//! prepared once and kept, so a write costs no hand-off to another thread; and the background
//! checkpointer beside it.

use rusqlite::Connection;

use super::{Committer, WORKER_CHANGED};
use crate::checkpoint::Checkpointer;
use crate::sql::Compiled;
use crate::{Result, StoreError};

pub(crate) struct SqliteCommitter {
    /// Every write goes through it. SQLite's autocheckpoint stays on here: a checkpoint on the
    /// writer's connection, between its transactions, is what lets the next one start the WAL
    /// over.
    conn: Option<Connection>,
    checkpointer: Option<Checkpointer>,
}

impl SqliteCommitter {
    /// `write` takes the writes, `checkpoint` serves the [`Checkpointer`].
    pub(crate) fn new(write: Connection, checkpoint: Connection) -> std::io::Result<Self> {
        Ok(SqliteCommitter {
            conn: Some(write),
            checkpointer: Some(Checkpointer::start(checkpoint)?),
        })
    }

    fn conn(&self) -> Result<&Connection> {
        self.conn
            .as_ref()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))
    }

    /// Runs a statement without parameters, prepared once.
    fn run(&self, text: &str) -> Result<()> {
        self.conn()?.prepare_cached(text)?.execute([])?;
        Ok(())
    }
}

impl Committer for SqliteCommitter {
    fn begin(&mut self) -> Result<()> {
        self.run("BEGIN")
    }

    fn apply(&mut self, write: &Compiled) -> Result<()> {
        let conn = self.conn()?;
        for statement in write.sql.statements() {
            let changed = conn
                .prepare_cached(&statement.text)?
                .execute(rusqlite::params_from_iter(&statement.args))?;
            if statement.changes_one && changed != 1 {
                return Err(StoreError::Conflict(WORKER_CHANGED.to_owned()));
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.run("COMMIT")
    }

    fn rollback(&mut self) {
        // Without an open transaction, ROLLBACK fails harmlessly.
        if let Ok(conn) = self.conn() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::debug!(error = %e, "rollback after a failed group");
            }
        }
    }

    fn committed(&mut self, writes: usize, backlog: bool) {
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.committed(writes, backlog);
        }
    }

    fn close(&mut self) {
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.close();
        }
        if let Some(conn) = self.conn.take() {
            if let Err((_, e)) = conn.close() {
                tracing::warn!(error = %e, "closing the writer connection failed");
            }
        }
    }
}
