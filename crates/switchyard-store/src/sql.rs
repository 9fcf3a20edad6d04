//! Writes (routing rows, and configuration changes through [`crate::configure`]) compiled to
//! SQL statements with their parameters, ready for the writer.

use switchyard_core::event::Event;
use switchyard_core::model::{Reservation, Task, Worker};
use switchyard_core::Timestamp;

use switchyard_core::decide::Change;

/// One parameter.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

impl From<Option<bool>> for Arg {
    fn from(v: Option<bool>) -> Arg {
        Arg::Bool(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(Some(v))
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_owned))
    }
}

impl From<Option<&String>> for Arg {
    fn from(v: Option<&String>) -> Arg {
        Arg::Text(v.cloned())
    }
}

/// One statement with its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
    /// The write fails (a conflict) unless this statement changes exactly one row: a worker
    /// update whose version check no longer matches.
    pub(crate) changes_one: bool,
}

/// Statements with their parameters, in order. Each statement's text depends only on its
/// shape, so the writer prepares it once and reuses it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    statements: Vec<Statement>,
    /// The statement being written, not yet ended by `;`.
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Appends text; a `;` at its end ends the statement.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        if text.ends_with(';') {
            let text = std::mem::take(&mut self.text);
            let args = std::mem::take(&mut self.args);
            self.statements.push(Statement {
                text,
                args,
                changes_one: false,
            });
        }
        self
    }

    fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.text.push('?');
        self.args.push(arg.into());
        self
    }

    /// One whole statement whose text holds a `?` for each of `args`, in order.
    pub(crate) fn statement(&mut self, text: &str, args: Vec<Arg>) -> &mut Self {
        debug_assert_eq!(text.matches('?').count(), args.len(), "{text}");
        self.text.push_str(text);
        self.args.extend(args);
        self.push(";")
    }

    /// `(?, ?, …)` with `args`.
    fn tuple(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.push("(");
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(arg);
        }
        self.push(")")
    }

    /// The statements, in order.
    pub(crate) fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Marks the last ended statement as one that must change exactly one row.
    fn changing_one(&mut self) -> &mut Self {
        if let Some(last) = self.statements.last_mut() {
            last.changes_one = true;
        }
        self
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Text(v) => v.to_sql(),
            Arg::Int(v) => v.to_sql(),
            Arg::Bool(v) => v.to_sql(),
        }
    }
}

/// One submitted write (a routing decision's unit, or a configuration change), compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub(crate) sql: Sql,
    pub(crate) has_events: bool,
    /// The changes themselves, for a writer that batches a group's changes table by table
    /// (PostgreSQL's); empty otherwise.
    pub(crate) changes: Vec<Change>,
}

/// Compiles one decision's writes, without `BEGIN`/`COMMIT`: the writer wraps them.
pub(crate) fn compile(writes: &[Change]) -> Compiled {
    let mut c = Compiled::default();
    let mut events = Vec::new();
    for w in writes {
        match w {
            Change::Task(t) => {
                push_task(&mut c.sql, t);
            }
            Change::Reservation(r) => {
                push_reservation(&mut c.sql, r);
            }
            Change::Worker {
                worker,
                expected_version,
            } => {
                push_worker(&mut c.sql, worker, *expected_version);
            }
            Change::WorkerIdle { worker, idle_since } => {
                c.sql
                    .push("UPDATE workers SET idle_since = ")
                    .bind(idle_since.as_millis())
                    .push(" WHERE sid = ")
                    .bind(worker.as_str())
                    .push(";");
            }
            Change::WorkerChannel(channel) => {
                c.sql
                    .push("UPDATE worker_channels SET capacity = ")
                    .bind(channel.configured_capacity)
                    .push(", available = ")
                    .bind(Some(channel.available))
                    .push(", date_updated = ")
                    .bind(channel.date_updated.as_millis())
                    .push(" WHERE sid = ")
                    .bind(channel.sid.as_str())
                    .push(";");
            }
            Change::DeleteTask(sid) => {
                c.sql
                    .push("DELETE FROM tasks WHERE sid = ")
                    .bind(sid.as_str())
                    .push(";");
            }
            Change::CallbackAnswered(reservation) => {
                c.sql
                    .push(
                        "UPDATE reservations SET callback_outcome = 'answered',
                            callback_error = NULL WHERE sid = ",
                    )
                    .bind(reservation.as_str())
                    .push(" AND callback_outcome IS NULL;");
            }
            Change::CallbackFailed { reservation, error } => {
                c.sql
                    .push("UPDATE reservations SET callback_outcome = 'failed', callback_error = ")
                    .bind(error.as_str())
                    .push(" WHERE sid = ")
                    .bind(reservation.as_str())
                    .push(";");
            }
            Change::Event(e) => events.push(e),
            Change::EventsDelivered { workspace, through } => {
                c.sql.statement(
                    "INSERT INTO event_deliveries (workspace_sid, delivered_seq) VALUES (?, ?)
                     ON CONFLICT (workspace_sid) DO UPDATE SET delivered_seq = excluded.delivered_seq",
                    vec![workspace.as_str().into(), (*through).into()],
                );
            }
            Change::Configure(change) => crate::configure::push(&mut c.sql, change),
        }
    }
    // All of a change's events go in one statement, in order.
    if !events.is_empty() {
        push_events(&mut c.sql, &events);
        c.has_events = true;
    }
    c
}

/// The head of a task upsert: its rows follow.
pub(crate) const INSERT_TASKS: &str =
    "INSERT INTO tasks (sid, workspace_sid, workflow_sid, workflow_friendly_name, attributes,
        assignment_status, priority, timeout, task_channel_sid, task_channel_unique_name,
        task_queue_sid, task_queue_friendly_name, task_queue_entered_date, virtual_start_time,
        reason, routing_target, ignore_capacity, step_filter, step_index, step_entered_date,
        assignment_count, addons, version, date_created, date_updated) ";

/// What a task upsert changes in a stored row: everything that can change.
pub(crate) const UPSERT_TASKS: &str = " ON CONFLICT (sid) DO UPDATE SET
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
    step_entered_date = excluded.step_entered_date,
    assignment_count = excluded.assignment_count,
    version = excluded.version,
    date_updated = excluded.date_updated";

fn push_task(b: &mut Sql, t: &Task) {
    b.push(INSERT_TASKS).push("VALUES ");
    b.tuple(task_row(t));
    b.push(UPSERT_TASKS).push(";");
}

/// A task's columns, in [`INSERT_TASKS`]'s order.
pub(crate) fn task_row(t: &Task) -> Vec<Arg> {
    let (step_filter, step_index) = match t.step {
        Some(s) => (Some(s.filter.map_or(-1, |f| f as i64)), Some(s.step as i64)),
        None => (None, None),
    };
    vec![
        t.sid.as_str().into(),
        t.workspace_sid.as_str().into(),
        t.workflow
            .as_ref()
            .map(|(s, _)| s.as_str().to_owned())
            .into(),
        t.workflow.as_ref().map(|(_, n)| n.clone()).into(),
        t.attributes.clone().into(),
        t.assignment_status.as_str().into(),
        t.priority.into(),
        t.timeout.into(),
        t.task_channel.0.as_str().into(),
        t.task_channel.1.clone().into(),
        (t.task_queue.as_ref())
            .map(|(s, _)| s.as_str().to_owned())
            .into(),
        t.task_queue.as_ref().map(|(_, n)| n.clone()).into(),
        t.task_queue_entered_date.map(Timestamp::as_millis).into(),
        t.virtual_start_time.as_millis().into(),
        t.reason.clone().into(),
        t.routing_target.clone().into(),
        t.ignore_capacity.into(),
        step_filter.into(),
        step_index.into(),
        t.step_entered.map(Timestamp::as_millis).into(),
        t.assignment_count.into(),
        t.addons.clone().into(),
        t.version.into(),
        t.date_created.as_millis().into(),
        t.date_updated.as_millis().into(),
    ]
}

/// The head of a reservation upsert: its rows follow.
pub(crate) const INSERT_RESERVATIONS: &str =
    "INSERT INTO reservations (sid, workspace_sid, task_sid, worker_sid, worker_name,
        task_queue_sid, task_channel_sid, reservation_status, previous_activity_sid,
        instruction, version, date_created, date_updated) ";

/// What a reservation upsert changes in a stored row.
pub(crate) const UPSERT_RESERVATIONS: &str = " ON CONFLICT (sid) DO UPDATE SET
    reservation_status = excluded.reservation_status,
    instruction = excluded.instruction,
    version = excluded.version,
    date_updated = excluded.date_updated";

fn push_reservation(b: &mut Sql, r: &Reservation) {
    b.push(INSERT_RESERVATIONS).push("VALUES ");
    b.tuple(reservation_row(r));
    b.push(UPSERT_RESERVATIONS).push(";");
}

/// A reservation's columns, in [`INSERT_RESERVATIONS`]'s order.
pub(crate) fn reservation_row(r: &Reservation) -> Vec<Arg> {
    vec![
        r.sid.as_str().into(),
        r.workspace_sid.as_str().into(),
        r.task_sid.as_str().into(),
        r.worker_sid.as_str().into(),
        r.worker_name.clone().into(),
        (r.task_queue_sid.as_ref())
            .map(|s| s.as_str().to_owned())
            .into(),
        r.task_channel_sid.as_str().into(),
        r.status.as_str().into(),
        (r.previous_activity_sid.as_ref())
            .map(|s| s.as_str().to_owned())
            .into(),
        r.instruction.clone().into(),
        r.version.into(),
        r.date_created.as_millis().into(),
        r.date_updated.as_millis().into(),
    ]
}

/// Writes a worker's mutable fields if its version is still `expected_version`; the write fails
/// when no row matched.
fn push_worker(b: &mut Sql, w: &Worker, expected_version: i64) {
    b.push("UPDATE workers SET friendly_name = ")
        .bind(w.friendly_name.clone())
        .push(", activity_sid = ")
        .bind(w.activity_sid.as_str())
        .push(", attributes = ")
        .bind(w.attributes.clone())
        .push(", date_status_changed = ")
        .bind(w.date_status_changed.as_millis())
        .push(", date_updated = ")
        .bind(w.date_updated.as_millis())
        .push(", version = ")
        .bind(w.version)
        .push(", idle_since = ")
        .bind(w.idle_since.as_millis())
        .push(" WHERE sid = ")
        .bind(w.sid.as_str())
        .push(" AND version = ")
        .bind(expected_version)
        .push(";")
        .changing_one();
}

/// Inserts events in one statement, in order (their `seq` follows it), with the numbers the
/// engine gave them.
pub(crate) fn push_events(b: &mut Sql, events: &[&Event]) {
    if events.is_empty() {
        return;
    }
    b.push(INSERT_EVENTS).push("VALUES ");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.tuple(event_row(e));
    }
    b.push(";");
}

/// The head of an events insert: its rows follow.
pub(crate) const INSERT_EVENTS: &str =
    "INSERT INTO events (sid, workspace_sid, event_type, description, event_date,
        resource_type, resource_sid, actor_type, actor_sid, event_data, task_sid, worker_sid,
        workflow_sid, task_queue_sid, reservation_sid, task_channel_sid,
        task_channel_unique_name, number) ";

/// An event's columns, in [`INSERT_EVENTS`]'s order.
pub(crate) fn event_row(e: &Event) -> Vec<Arg> {
    {
        let data = serde_json::to_string(&e.data).expect("pairs of strings serialize");
        let mut row: Vec<Arg> = vec![
            e.sid.as_str().into(),
            e.workspace_sid.as_str().into(),
            e.event_type.clone().into(),
            e.description.clone().into(),
            e.date.as_millis().into(),
            e.resource_type.clone().into(),
            e.resource_sid.clone().into(),
            e.actor_type.clone().into(),
            e.actor_sid.clone().into(),
            data.into(),
        ];
        for key in [
            "task_sid",
            "worker_sid",
            "workflow_sid",
            "task_queue_sid",
            "reservation_sid",
            "task_channel_sid",
            "task_channel_unique_name",
        ] {
            row.push(e.get(key).map(str::to_owned).into());
        }
        row.push(e.number.into());
        row
    }
}
