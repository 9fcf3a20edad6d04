//! The atomic write of one routing decision.
//!
//! Each statement sent through sqlx is a round trip to the connection's worker thread, and
//! `BEGIN`/`COMMIT` are two more; a firing timer or an accepted reservation writes a task, its
//! reservations and their events. So a decision is compiled into one multi-statement query
//! (`BEGIN; …; COMMIT`) whose parameters sqlx binds statement by statement: one round trip.
//! (sqlx 0.8 runs such queries on SQLite only and means to drop them in a later version; this
//! module is the one place that relies on them.)

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use switchyard_core::event::Event;
use switchyard_core::model::{Reservation, Task, Worker};
use switchyard_core::sid::{TaskSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::{Result, Store, StoreError};

/// One change of a routing decision; [`Store::write`] applies a batch in one transaction.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// Insert or replace a task.
    Task(&'a Task),
    /// Insert or replace a reservation.
    Reservation(&'a Reservation),
    /// Update a worker whose stored version is `expected_version`.
    Worker {
        /// The new state.
        worker: &'a Worker,
        /// The version it replaces.
        expected_version: i64,
    },
    /// Delete a task.
    DeleteTask(&'a TaskSid),
    /// Record an event.
    Event(&'a Event),
}

/// Statements with their parameters, owned so the batch can outlive the caller.
type Batch = QueryBuilder<'static, Sqlite>;

/// What a committed write changes in the store's memory of live tasks.
enum Remember {
    Put(Box<Task>),
    Forget(TaskSid),
}

impl Store {
    /// Applies every change of one decision in one transaction: all or nothing.
    ///
    /// Once begun, the write runs to its commit or rollback even if the caller's future is
    /// dropped: a request cancelled half-way must not leave the connection inside a transaction.
    pub async fn write(&self, writes: &[Write<'_>]) -> Result<()> {
        let workers = writes
            .iter()
            .filter(|w| matches!(w, Write::Worker { .. }))
            .count();
        let events: Vec<&Event> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Event(e) => Some(*e),
                _ => None,
            })
            .collect();
        let rows = writes.len() - workers - events.len();
        // SQLite commits a lone statement atomically: BEGIN and COMMIT would add nothing.
        let lone = workers == 0 && rows + usize::from(!events.is_empty()) == 1;
        // Version-checked worker updates go first, in a round trip of their own that reports
        // each statement's changes, so a conflict is seen before anything commits.
        let mut checks = (workers > 0).then(|| Batch::new("BEGIN;"));
        let mut batch = Batch::new(if lone || workers > 0 { "" } else { "BEGIN;" });
        let mut remember = Vec::new();
        for w in writes {
            match *w {
                Write::Task(t) => {
                    push_task(&mut batch, t);
                    remember.push(if t.assignment_status.is_final() {
                        Remember::Forget(t.sid.clone())
                    } else {
                        Remember::Put(Box::new(t.clone()))
                    });
                }
                Write::Reservation(r) => push_reservation(&mut batch, r),
                Write::Worker {
                    worker,
                    expected_version,
                } => {
                    if let Some(checks) = &mut checks {
                        push_worker(checks, worker, expected_version);
                    }
                }
                Write::DeleteTask(sid) => {
                    batch
                        .push("DELETE FROM tasks WHERE sid = ")
                        .push_bind(sid.as_str().to_owned())
                        .push(";");
                    remember.push(Remember::Forget(sid.clone()));
                }
                Write::Event(_) => {}
            }
        }
        // All of a change's events go in one statement, in order.
        push_events(&mut batch, &events);
        if !lone {
            batch.push("COMMIT;");
        }
        let checks = checks.map(|c| (c, workers));
        let has_events = !events.is_empty();
        let store = self.clone();
        tokio::spawn(async move {
            match &store.writer {
                Some(writer) => match writer.lock().await.as_mut() {
                    Some(conn) => commit(conn, checks, batch, lone).await?,
                    None => return Err(sqlx::Error::PoolClosed.into()),
                },
                None => commit(&mut *store.pool.acquire().await?, checks, batch, lone).await?,
            }
            store.remember(remember);
            if has_events {
                store.announce_events();
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "a store write panicked");
            Err(sqlx::Error::WorkerCrashed.into())
        })
    }

    /// Keeps the committed tasks still in play for `get_task`; a write that lost a race to a
    /// newer version of the same task does not replace it.
    fn remember(&self, changes: Vec<Remember>) {
        let mut live = self.live_tasks.lock().unwrap_or_else(|e| e.into_inner());
        for change in changes {
            match change {
                Remember::Put(t) => {
                    if live.get(&t.sid).is_none_or(|old| old.version <= t.version) {
                        live.insert(t.sid.clone(), *t);
                    }
                }
                Remember::Forget(sid) => {
                    live.remove(&sid);
                }
            }
        }
    }

    /// Records `events` in `tx`, commits it, and tells event listeners: a configuration change
    /// and its events are one transaction, like a routing decision.
    pub(crate) async fn commit_with_events(
        &self,
        mut tx: sqlx::Transaction<'static, Sqlite>,
        events: &[Event],
    ) -> Result<()> {
        if !events.is_empty() {
            let mut batch = Batch::new("");
            push_events(&mut batch, &events.iter().collect::<Vec<_>>());
            batch.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.announce_events();
        }
        Ok(())
    }

    /// Wakes whoever waits for committed events (event callbacks, event streams).
    fn announce_events(&self) {
        self.events_written.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Forgets the remembered tasks of a deleted workspace.
    pub(crate) fn forget_tasks(&self, ws: &WorkspaceSid) {
        self.live_tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, t| t.workspace_sid != *ws);
    }
}

/// Runs `checks` (`BEGIN` and the worker updates, each of which must change one row) when
/// there are any, then `batch`; rolls back on failure.
async fn commit(
    conn: &mut SqliteConnection,
    checks: Option<(Batch, usize)>,
    mut batch: Batch,
    lone: bool,
) -> Result<()> {
    let result = async {
        if let Some((mut checks, workers)) = checks {
            // Each update returns its row only if the version matched.
            let changed = checks.build().fetch_all(&mut *conn).await?.len();
            if changed != workers {
                return Err(StoreError::Conflict(
                    "a worker changed concurrently".to_owned(),
                ));
            }
        }
        batch.build().execute(&mut *conn).await?;
        Ok(())
    }
    .await;
    if result.is_err() && !lone {
        // A batch stops at its first failing statement, which may leave it inside the
        // transaction; without one open, ROLLBACK fails harmlessly.
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            tracing::debug!(error = %e, "rollback after a failed write");
        }
    }
    result
}

fn push_task(b: &mut Batch, t: &Task) {
    let (step_filter, step_index) = match t.step {
        Some(s) => (Some(s.filter.map_or(-1, |f| f as i64)), Some(s.step as i64)),
        None => (None, None),
    };
    b.push(
        "INSERT INTO tasks (sid, workspace_sid, workflow_sid, workflow_friendly_name, attributes,
            assignment_status, priority, timeout, task_channel_sid, task_channel_unique_name,
            task_queue_sid, task_queue_friendly_name, task_queue_entered_date, virtual_start_time,
            reason, routing_target, ignore_capacity, step_filter, step_index, assignment_count,
            addons, version, date_created, date_updated) VALUES (",
    );
    let mut v = b.separated(", ");
    v.push_bind(t.sid.as_str().to_owned())
        .push_bind(t.workspace_sid.as_str().to_owned())
        .push_bind(t.workflow.as_ref().map(|(s, _)| s.as_str().to_owned()))
        .push_bind(t.workflow.as_ref().map(|(_, n)| n.clone()))
        .push_bind(t.attributes.clone())
        .push_bind(t.assignment_status.as_str())
        .push_bind(t.priority)
        .push_bind(t.timeout)
        .push_bind(t.task_channel.0.as_str().to_owned())
        .push_bind(t.task_channel.1.clone())
        .push_bind(t.task_queue.as_ref().map(|(s, _)| s.as_str().to_owned()))
        .push_bind(t.task_queue.as_ref().map(|(_, n)| n.clone()))
        .push_bind(t.task_queue_entered_date.map(Timestamp::as_millis))
        .push_bind(t.virtual_start_time.as_millis())
        .push_bind(t.reason.clone())
        .push_bind(t.routing_target.clone())
        .push_bind(t.ignore_capacity)
        .push_bind(step_filter)
        .push_bind(step_index)
        .push_bind(t.assignment_count)
        .push_bind(t.addons.clone())
        .push_bind(t.version)
        .push_bind(t.date_created.as_millis())
        .push_bind(t.date_updated.as_millis());
    b.push(
        ") ON CONFLICT (sid) DO UPDATE SET
            workflow_sid = excluded.workflow_sid,
            workflow_friendly_name = excluded.workflow_friendly_name,
            attributes = excluded.attributes,
            assignment_status = excluded.assignment_status,
            priority = excluded.priority,
            timeout = excluded.timeout,
            task_channel_sid = excluded.task_channel_sid,
            task_channel_unique_name = excluded.task_channel_unique_name,
            task_queue_sid = excluded.task_queue_sid,
            task_queue_friendly_name = excluded.task_queue_friendly_name,
            task_queue_entered_date = excluded.task_queue_entered_date,
            virtual_start_time = excluded.virtual_start_time,
            reason = excluded.reason,
            step_filter = excluded.step_filter,
            step_index = excluded.step_index,
            assignment_count = excluded.assignment_count,
            version = excluded.version,
            date_updated = excluded.date_updated;",
    );
}

fn push_reservation(b: &mut Batch, r: &Reservation) {
    b.push(
        "INSERT INTO reservations (sid, workspace_sid, task_sid, worker_sid, worker_name,
            task_queue_sid, task_channel_sid, reservation_status, previous_activity_sid,
            instruction, version, date_created, date_updated) VALUES (",
    );
    let mut v = b.separated(", ");
    v.push_bind(r.sid.as_str().to_owned())
        .push_bind(r.workspace_sid.as_str().to_owned())
        .push_bind(r.task_sid.as_str().to_owned())
        .push_bind(r.worker_sid.as_str().to_owned())
        .push_bind(r.worker_name.clone())
        .push_bind(r.task_queue_sid.as_ref().map(|s| s.as_str().to_owned()))
        .push_bind(r.task_channel_sid.as_str().to_owned())
        .push_bind(r.status.as_str())
        .push_bind(
            r.previous_activity_sid
                .as_ref()
                .map(|s| s.as_str().to_owned()),
        )
        .push_bind(r.instruction.clone())
        .push_bind(r.version)
        .push_bind(r.date_created.as_millis())
        .push_bind(r.date_updated.as_millis());
    b.push(
        ") ON CONFLICT (sid) DO UPDATE SET
            reservation_status = excluded.reservation_status,
            instruction = excluded.instruction,
            version = excluded.version,
            date_updated = excluded.date_updated;",
    );
}

/// Writes a worker's mutable fields if its version is still `expected_version`.
fn push_worker(b: &mut Batch, w: &Worker, expected_version: i64) {
    b.push("UPDATE workers SET friendly_name = ")
        .push_bind(w.friendly_name.clone())
        .push(", activity_sid = ")
        .push_bind(w.activity_sid.as_str().to_owned())
        .push(", attributes = ")
        .push_bind(w.attributes.clone())
        .push(", date_status_changed = ")
        .push_bind(w.date_status_changed.as_millis())
        .push(", date_updated = ")
        .push_bind(w.date_updated.as_millis())
        .push(", version = ")
        .push_bind(w.version)
        .push(", idle_since = ")
        .push_bind(w.idle_since.as_millis())
        .push(" WHERE sid = ")
        .push_bind(w.sid.as_str().to_owned())
        .push(" AND version = ")
        .push_bind(expected_version)
        .push(" RETURNING sid;");
}

/// Inserts events in one statement, in order (their `seq` follows it).
fn push_events(b: &mut Batch, events: &[&Event]) {
    if events.is_empty() {
        return;
    }
    b.push(
        "INSERT INTO events (sid, workspace_sid, event_type, description, event_date,
            resource_type, resource_sid, actor_type, actor_sid, event_data, task_sid, worker_sid,
            workflow_sid, task_queue_sid, reservation_sid, task_channel_sid,
            task_channel_unique_name) ",
    );
    b.push_values(events, |mut row, e| {
        let data = serde_json::to_string(&e.data).expect("pairs of strings serialize");
        row.push_bind(e.sid.as_str().to_owned())
            .push_bind(e.workspace_sid.as_str().to_owned())
            .push_bind(e.event_type.clone())
            .push_bind(e.description.clone())
            .push_bind(e.date.as_millis())
            .push_bind(e.resource_type.clone())
            .push_bind(e.resource_sid.clone())
            .push_bind(e.actor_type.clone())
            .push_bind(e.actor_sid.clone())
            .push_bind(data);
        for key in [
            "task_sid",
            "worker_sid",
            "workflow_sid",
            "task_queue_sid",
            "reservation_sid",
            "task_channel_sid",
            "task_channel_unique_name",
        ] {
            row.push_bind(e.get(key).map(str::to_owned));
        }
    });
    b.push(";");
}
