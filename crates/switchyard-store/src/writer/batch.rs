//! PostgreSQL's fast path: a whole group of writes as one statement per table, each row a
//! position in arrays the statement unnests (`INSERT ... SELECT * FROM UNNEST($1::text[], ...)`),
//! so a group costs a handful of round trips however many writes it holds.
//!
//! A row written twice in the group is written once, as the last write left it: task and
//! reservation rows are whole rows, so that is what writing them in turn would leave (as long as
//! the columns an upsert keeps are the same in both, which is checked). A worker updated twice
//! is checked against the version the first write expected, which holds only if each later
//! write expected the version the one before it wrote, and only if no state in between had a
//! name or an activity of its own, which the schema's rules would have checked; otherwise the
//! group takes the slow path, one write at a time, as it does when any statement here fails.

use std::collections::HashMap;

use switchyard_core::decide::Change;
use switchyard_core::event::Event;
use switchyard_core::model::{Reservation, Task, Worker, WorkerChannel};
use switchyard_core::Timestamp;

use crate::sql::{self, Arg, Compiled};

/// One column of a batch: the values of one parameter position across its rows.
pub(crate) enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl Column {
    fn cast(&self) -> &'static str {
        match self {
            Column::Text(_) => "text[]",
            Column::Int(_) => "bigint[]",
            Column::Bool(_) => "boolean[]",
        }
    }
}

/// A statement over arrays, and how many rows it must change (when it must).
pub(crate) struct Statement {
    pub(crate) text: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) changes: Option<u64>,
}

/// Turns rows (each the same shape) into columns.
fn columns(rows: &[Vec<Arg>]) -> Vec<Column> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| match &first[i] {
            Arg::Text(_) => Column::Text(
                (rows.iter())
                    .map(|r| match &r[i] {
                        Arg::Text(v) => v.clone(),
                        _ => None,
                    })
                    .collect(),
            ),
            Arg::Int(_) => Column::Int(
                (rows.iter())
                    .map(|r| match &r[i] {
                        Arg::Int(v) => *v,
                        _ => None,
                    })
                    .collect(),
            ),
            Arg::Bool(_) => Column::Bool(
                (rows.iter())
                    .map(|r| match &r[i] {
                        Arg::Bool(v) => *v,
                        _ => None,
                    })
                    .collect(),
            ),
        })
        .collect()
}

/// `UNNEST($1::text[], $2::bigint[], ...)` over `columns`.
fn unnest(columns: &[Column]) -> String {
    let arrays: Vec<String> = (columns.iter().enumerate())
        .map(|(i, c)| format!("${}::{}", i + 1, c.cast()))
        .collect();
    format!("UNNEST({})", arrays.join(", "))
}

/// Rows keyed by SID, each kept as the last write left it, in order of first appearance.
struct Latest<T> {
    order: Vec<String>,
    rows: HashMap<String, T>,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Latest {
            order: Vec::new(),
            rows: HashMap::new(),
        }
    }
}

impl<T> Latest<T> {
    fn put(&mut self, sid: &str, row: T) {
        if self.rows.insert(sid.to_owned(), row).is_none() {
            self.order.push(sid.to_owned());
        }
    }

    fn get_mut(&mut self, sid: &str) -> Option<&mut T> {
        self.rows.get_mut(sid)
    }

    fn remove(&mut self, sid: &str) {
        if self.rows.remove(sid).is_some() {
            self.order.retain(|s| s != sid);
        }
    }

    fn values(&self) -> impl Iterator<Item = &T> {
        self.order.iter().filter_map(|s| self.rows.get(s))
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The group's writes as statements over arrays, in an order that leaves what writing them in
/// turn would; `None` when they cannot be batched.
pub(crate) fn statements(writes: &[&Compiled]) -> Option<Vec<Statement>> {
    let mut tasks: Latest<&Task> = Latest::default();
    let mut reservations: Latest<&Reservation> = Latest::default();
    // A worker's whole row, with the version the first write of it expected.
    let mut workers: Latest<(Worker, i64)> = Latest::default();
    let mut idle: Latest<Timestamp> = Latest::default();
    let mut channels: Latest<&WorkerChannel> = Latest::default();
    let mut deleted: Vec<String> = Vec::new();
    let mut answered: Vec<String> = Vec::new();
    let mut failed: Latest<&str> = Latest::default();
    let mut events: Vec<&Event> = Vec::new();
    // The event-callback cursor of each workspace, as the last write set it.
    let mut delivered: Latest<i64> = Latest::default();
    for write in writes {
        if write.changes.is_empty() && !write.sql.statements().is_empty() {
            return None;
        }
        for change in &write.changes {
            match change {
                Change::Task(t) => {
                    if let Some(before) = tasks.get_mut(t.sid.as_str()) {
                        let kept = (
                            &before.workspace_sid,
                            &before.routing_target,
                            before.ignore_capacity,
                            &before.addons,
                            before.date_created,
                        );
                        let now = (
                            &t.workspace_sid,
                            &t.routing_target,
                            t.ignore_capacity,
                            &t.addons,
                            t.date_created,
                        );
                        if kept != now {
                            return None;
                        }
                    }
                    tasks.put(t.sid.as_str(), t)
                }
                Change::Reservation(r) => {
                    if let Some(before) = reservations.get_mut(r.sid.as_str()) {
                        let kept = (
                            &before.task_sid,
                            &before.worker_sid,
                            &before.worker_name,
                            &before.task_queue_sid,
                            &before.task_channel_sid,
                            &before.previous_activity_sid,
                            before.date_created,
                        );
                        let now = (
                            &r.task_sid,
                            &r.worker_sid,
                            &r.worker_name,
                            &r.task_queue_sid,
                            &r.task_channel_sid,
                            &r.previous_activity_sid,
                            r.date_created,
                        );
                        if kept != now {
                            return None;
                        }
                    }
                    reservations.put(r.sid.as_str(), r)
                }
                Change::Worker {
                    worker,
                    expected_version,
                } => {
                    let sid = worker.sid.as_str();
                    let mut row = (worker.clone(), *expected_version);
                    if let Some((before, first_expected)) = workers.get_mut(sid) {
                        let unchecked = before.friendly_name != worker.friendly_name
                            || before.activity_sid != worker.activity_sid;
                        if before.version != *expected_version || unchecked {
                            return None;
                        }
                        row.1 = *first_expected;
                    }
                    // The whole row carries its idle time: an earlier idle change is spent.
                    idle.remove(sid);
                    workers.put(sid, row);
                }
                Change::WorkerIdle { worker, idle_since } => {
                    match workers.get_mut(worker.as_str()) {
                        Some((row, _)) => row.idle_since = *idle_since,
                        None => idle.put(worker.as_str(), *idle_since),
                    }
                }
                Change::WorkerChannel(c) => channels.put(c.sid.as_str(), c),
                Change::DeleteTask(sid) => deleted.push(sid.as_str().to_owned()),
                Change::CallbackAnswered(r) => answered.push(r.as_str().to_owned()),
                Change::CallbackFailed { reservation, error } => {
                    failed.put(reservation.as_str(), error.as_str())
                }
                Change::Event(e) => events.push(e),
                // Rare, and many tables: the group goes one write at a time.
                Change::EventsDelivered { workspace, through } => {
                    delivered.put(workspace.as_str(), *through)
                }
                Change::Configure(_) => return None,
            }
        }
    }
    // A task is deleted for good: none is written again after its deletion.
    if deleted.iter().any(|d| {
        writes
            .iter()
            .flat_map(|w| &w.changes)
            .skip_while(|c| !matches!(c, Change::DeleteTask(s) if s.as_str() == d))
            .any(|c| matches!(c, Change::Task(t) if t.sid.as_str() == d))
    }) {
        return None;
    }

    let mut out = Vec::new();
    if !tasks.is_empty() {
        let rows: Vec<Vec<Arg>> = tasks.values().map(|t| sql::task_row(t)).collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "{}SELECT * FROM {}{}",
                sql::INSERT_TASKS,
                unnest(&columns),
                sql::UPSERT_TASKS
            ),
            columns,
            changes: None,
        });
    }
    if !reservations.is_empty() {
        let rows: Vec<Vec<Arg>> = (reservations.values())
            .map(|r| sql::reservation_row(r))
            .collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "{}SELECT * FROM {}{}",
                sql::INSERT_RESERVATIONS,
                unnest(&columns),
                sql::UPSERT_RESERVATIONS
            ),
            columns,
            changes: None,
        });
    }
    if !workers.is_empty() {
        let rows: Vec<Vec<Arg>> = (workers.values())
            .map(|(w, expected)| {
                vec![
                    w.sid.as_str().into(),
                    (*expected).into(),
                    w.friendly_name.clone().into(),
                    w.activity_sid.as_str().into(),
                    w.attributes.clone().into(),
                    w.date_status_changed.as_millis().into(),
                    w.date_updated.as_millis().into(),
                    w.version.into(),
                    w.idle_since.as_millis().into(),
                ]
            })
            .collect();
        let count = rows.len() as u64;
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "UPDATE workers w SET friendly_name = v.friendly_name,
                    activity_sid = v.activity_sid, attributes = v.attributes,
                    date_status_changed = v.date_status_changed, date_updated = v.date_updated,
                    version = v.version, idle_since = v.idle_since
                 FROM {} AS v(sid, expected, friendly_name, activity_sid, attributes,
                    date_status_changed, date_updated, version, idle_since)
                 WHERE w.sid = v.sid AND w.version = v.expected",
                unnest(&columns)
            ),
            columns,
            changes: Some(count),
        });
    }
    if !idle.is_empty() {
        let rows: Vec<Vec<Arg>> = (idle.order.iter())
            .filter_map(|sid| idle.rows.get(sid).map(|t| (sid, t)))
            .map(|(sid, t)| vec![sid.as_str().into(), t.as_millis().into()])
            .collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "UPDATE workers w SET idle_since = v.idle_since FROM {} AS v(sid, idle_since)
                 WHERE w.sid = v.sid",
                unnest(&columns)
            ),
            columns,
            changes: None,
        });
    }
    if !channels.is_empty() {
        let rows: Vec<Vec<Arg>> = (channels.values())
            .map(|c| {
                vec![
                    c.sid.as_str().into(),
                    c.configured_capacity.into(),
                    Some(c.available).into(),
                    c.date_updated.as_millis().into(),
                ]
            })
            .collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "UPDATE worker_channels wc SET capacity = v.capacity, available = v.available,
                    date_updated = v.date_updated
                 FROM {} AS v(sid, capacity, available, date_updated) WHERE wc.sid = v.sid",
                unnest(&columns)
            ),
            columns,
            changes: None,
        });
    }
    if !answered.is_empty() {
        out.push(Statement {
            text: "UPDATE reservations SET callback_outcome = 'answered', callback_error = NULL
                   WHERE sid = ANY($1::text[]) AND callback_outcome IS NULL"
                .to_owned(),
            columns: vec![Column::Text(answered.into_iter().map(Some).collect())],
            changes: None,
        });
    }
    if !failed.is_empty() {
        let rows: Vec<Vec<Arg>> = (failed.order.iter())
            .filter_map(|sid| failed.rows.get(sid).map(|e| (sid, e)))
            .map(|(sid, e)| vec![sid.as_str().into(), (*e).into()])
            .collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "UPDATE reservations r SET callback_outcome = 'failed', callback_error = v.error
                 FROM {} AS v(sid, error) WHERE r.sid = v.sid",
                unnest(&columns)
            ),
            columns,
            changes: None,
        });
    }
    if !deleted.is_empty() {
        out.push(Statement {
            text: "DELETE FROM tasks WHERE sid = ANY($1::text[])".to_owned(),
            columns: vec![Column::Text(deleted.into_iter().map(Some).collect())],
            changes: None,
        });
    }
    if !delivered.is_empty() {
        let rows: Vec<Vec<Arg>> = (delivered.order.iter())
            .filter_map(|ws| delivered.rows.get(ws).map(|n| (ws, n)))
            .map(|(ws, n)| vec![ws.as_str().into(), (*n).into()])
            .collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!(
                "INSERT INTO event_deliveries (workspace_sid, delivered_seq) SELECT * FROM {}
                 ON CONFLICT (workspace_sid) DO UPDATE SET delivered_seq = excluded.delivered_seq",
                unnest(&columns)
            ),
            columns,
            changes: None,
        });
    }
    if !events.is_empty() {
        let rows: Vec<Vec<Arg>> = events.iter().map(|e| sql::event_row(e)).collect();
        let columns = columns(&rows);
        out.push(Statement {
            text: format!("{}SELECT * FROM {}", sql::INSERT_EVENTS, unnest(&columns)),
            columns,
            changes: None,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use switchyard_core::decide::{Change, Configure};
    use switchyard_core::model::{Task, Worker};
    use switchyard_core::routing::TaskStatus;
    use switchyard_core::sid::{ActivitySid, TaskChannelSid, TaskSid, WorkerSid, WorkspaceSid};
    use switchyard_core::Timestamp;

    use super::statements;
    use crate::sql::Compiled;

    fn worker(version: i64, name: &str) -> Worker {
        Worker {
            sid: WorkerSid::from_bytes([1; 16]),
            workspace_sid: WorkspaceSid::from_bytes([2; 16]),
            friendly_name: name.to_owned(),
            activity_sid: ActivitySid::from_bytes([3; 16]),
            activity_name: "Available".to_owned(),
            available: true,
            attributes: "{}".to_owned(),
            date_status_changed: Timestamp::from_millis(0),
            date_created: Timestamp::from_millis(0),
            date_updated: Timestamp::from_millis(version),
            version,
            idle_since: Timestamp::from_millis(0),
        }
    }

    fn task(version: i64) -> Task {
        Task {
            sid: TaskSid::from_bytes([4; 16]),
            workspace_sid: WorkspaceSid::from_bytes([2; 16]),
            workflow: None,
            attributes: "{}".into(),
            assignment_status: TaskStatus::Pending,
            priority: 0,
            timeout: 60,
            task_channel: (TaskChannelSid::from_bytes([5; 16]), "default".into()),
            task_queue: None,
            task_queue_entered_date: None,
            virtual_start_time: Timestamp::from_millis(0),
            reason: None,
            routing_target: None,
            ignore_capacity: None,
            step: None,
            step_entered: None,
            assignment_count: 0,
            addons: "{}".into(),
            version,
            date_created: Timestamp::from_millis(0),
            date_updated: Timestamp::from_millis(version),
        }
    }

    fn write(changes: Vec<Change>) -> Compiled {
        Compiled {
            changes,
            ..Default::default()
        }
    }

    fn update(version: i64, name: &str) -> Change {
        Change::Worker {
            worker: worker(version, name),
            expected_version: version - 1,
        }
    }

    #[test]
    fn a_worker_updated_in_turn_is_written_once_checked_against_the_first_version() {
        let idle = Change::WorkerIdle {
            worker: WorkerSid::from_bytes([1; 16]),
            idle_since: Timestamp::from_millis(42),
        };
        let (a, b) = (
            write(vec![update(1, "w")]),
            write(vec![update(2, "w"), idle]),
        );
        let out = statements(&[&a, &b]).expect("batched");
        assert_eq!(
            out.len(),
            1,
            "one worker statement; the idle time folded into it"
        );
        assert_eq!(out[0].changes, Some(1));
        let super::Column::Int(expected) = &out[0].columns[1] else {
            panic!("the expected versions")
        };
        assert_eq!(expected, &[Some(0)]);
        let super::Column::Int(idle) = &out[0].columns[8] else {
            panic!("the idle times")
        };
        assert_eq!(idle, &[Some(42)]);
    }

    #[test]
    fn what_only_writes_in_turn_would_check_takes_the_slow_path() {
        // A later write that expected another version than the one before it wrote.
        let stale = Change::Worker {
            worker: worker(5, "w"),
            expected_version: 3,
        };
        let (a, b) = (write(vec![update(1, "w")]), write(vec![stale]));
        assert!(statements(&[&a, &b]).is_none());
        // A name in between, which the unique index would have checked.
        let (a, b) = (write(vec![update(1, "x")]), write(vec![update(2, "w")]));
        assert!(statements(&[&a, &b]).is_none());
    }

    #[test]
    fn a_task_written_in_turn_is_written_once_as_it_ends() {
        let (a, b) = (
            write(vec![Change::Task(task(0))]),
            write(vec![Change::Task(task(1))]),
        );
        let out = statements(&[&a, &b]).expect("batched");
        assert_eq!(out.len(), 1, "one task statement");
        let super::Column::Int(versions) = &out[0].columns[22] else {
            panic!("the versions")
        };
        assert_eq!(versions, &[Some(1)], "one row, at its last version");
    }

    #[test]
    fn what_the_upsert_would_not_write_again_takes_the_slow_path() {
        // A column the upsert keeps (set at creation) differs between two writes of a task.
        let mut retargeted = task(1);
        retargeted.routing_target = Some("WK".to_owned());
        let (a, b) = (
            write(vec![Change::Task(task(0))]),
            write(vec![Change::Task(retargeted)]),
        );
        assert!(statements(&[&a, &b]).is_none());
        // A task deleted, then written again.
        let sid = TaskSid::from_bytes([4; 16]);
        let (a, b) = (
            write(vec![Change::Task(task(0)), Change::DeleteTask(sid)]),
            write(vec![Change::Task(task(1))]),
        );
        assert!(statements(&[&a, &b]).is_none());
        // A configuration change, written row by row.
        let delete = Configure::DeleteWorker(WorkerSid::from_bytes([1; 16]));
        let a = write(vec![Change::Configure(delete)]);
        assert!(statements(&[&a]).is_none());
    }

    #[test]
    fn the_event_cursor_is_written_once_per_workspace_as_last_set() {
        let ws = WorkspaceSid::from_bytes([2; 16]);
        let at = |through| {
            write(vec![Change::EventsDelivered {
                workspace: ws.clone(),
                through,
            }])
        };
        let (a, b) = (at(7), at(9));
        let out = statements(&[&a, &b]).expect("batched");
        assert_eq!(out.len(), 1);
        let super::Column::Int(through) = &out[0].columns[1] else {
            panic!("the cursors")
        };
        assert_eq!(through, &[Some(9)]);
    }
}
