//! Tasks and reservations, and the atomic write of one routing decision.

use switchyard_core::model::{Reservation, Task};
use switchyard_core::routing::{ReservationStatus, StepRef, TaskStatus};
use switchyard_core::sid::{ReservationSid, TaskSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{opt_sid, push_cursor, sid, Cursor, Result, Store, StoreError};

/// Filters of the task list that SQL answers (`EvaluateTaskAttributes` is the engine's).
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Any of these statuses; all when empty.
    pub statuses: Vec<TaskStatus>,
    /// Routed by this workflow.
    pub workflow_sid: Option<String>,
    /// Routed by the workflow of this name.
    pub workflow_name: Option<String>,
    /// In this queue.
    pub task_queue_sid: Option<String>,
    /// In the queue of this name.
    pub task_queue_name: Option<String>,
    /// With this priority.
    pub priority: Option<i64>,
    /// Created with this `RoutingTarget`.
    pub routing_target: Option<String>,
}

/// Which reservations to list.
#[derive(Debug, Clone)]
pub enum ReservationScope {
    /// A task's reservations.
    Task(TaskSid),
    /// A worker's reservations.
    Worker(WorkerSid),
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    workflow_sid: Option<String>,
    workflow_friendly_name: Option<String>,
    attributes: String,
    assignment_status: String,
    priority: i64,
    timeout: i64,
    task_channel_sid: String,
    task_channel_unique_name: String,
    task_queue_sid: Option<String>,
    task_queue_friendly_name: Option<String>,
    task_queue_entered_date: Option<i64>,
    virtual_start_time: i64,
    reason: Option<String>,
    routing_target: Option<String>,
    ignore_capacity: Option<bool>,
    step_filter: Option<i64>,
    step_index: Option<i64>,
    step_entered_date: Option<i64>,
    assignment_count: i64,
    addons: String,
    version: i64,
    date_created: i64,
    date_updated: i64,
}

const SELECT_TASK: &str =
    "SELECT t.seq, t.sid, t.workspace_sid, t.workflow_sid, t.workflow_friendly_name,
        t.attributes, t.assignment_status, t.priority, t.timeout, t.task_channel_sid,
        t.task_channel_unique_name, t.task_queue_sid, t.task_queue_friendly_name,
        t.task_queue_entered_date, t.virtual_start_time, t.reason, t.routing_target,
        t.ignore_capacity, t.step_filter, t.step_index, t.step_entered_date, t.assignment_count, t.addons, t.version,
        t.date_created, t.date_updated
    FROM tasks t";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

impl TryFrom<TaskRow> for (i64, Task) {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> Result<Self> {
        let step = match (r.step_filter, r.step_index) {
            (Some(f), Some(s)) => Some(StepRef {
                filter: usize::try_from(f).ok(),
                step: usize::try_from(s).map_err(|_| corrupt("step_index"))?,
            }),
            _ => None,
        };
        let workflow = match (
            opt_sid(r.workflow_sid.as_deref())?,
            r.workflow_friendly_name,
        ) {
            (Some(s), name) => Some((s, name.unwrap_or_default())),
            (None, _) => None,
        };
        let task_queue = match (
            opt_sid(r.task_queue_sid.as_deref())?,
            r.task_queue_friendly_name,
        ) {
            (Some(s), name) => Some((s, name.unwrap_or_default())),
            (None, _) => None,
        };
        Ok((
            r.seq,
            Task {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                workflow,
                attributes: r.attributes,
                assignment_status: TaskStatus::parse(&r.assignment_status)
                    .ok_or_else(|| corrupt(&r.assignment_status))?,
                priority: r.priority,
                timeout: r.timeout,
                task_channel: (sid(&r.task_channel_sid)?, r.task_channel_unique_name),
                task_queue,
                task_queue_entered_date: r.task_queue_entered_date.map(Timestamp::from_millis),
                virtual_start_time: Timestamp::from_millis(r.virtual_start_time),
                reason: r.reason,
                routing_target: r.routing_target,
                ignore_capacity: r.ignore_capacity,
                step,
                step_entered: r.step_entered_date.map(Timestamp::from_millis),
                assignment_count: r.assignment_count,
                addons: r.addons,
                version: r.version,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReservationRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    task_sid: String,
    worker_sid: String,
    worker_name: String,
    task_queue_sid: Option<String>,
    task_channel_sid: String,
    reservation_status: String,
    previous_activity_sid: Option<String>,
    instruction: Option<String>,
    version: i64,
    date_created: i64,
    date_updated: i64,
}

pub(crate) const SELECT_RESERVATION: &str =
    "SELECT r.seq, r.sid, r.workspace_sid, r.task_sid, r.worker_sid,
        r.worker_name, r.task_queue_sid, r.task_channel_sid, r.reservation_status,
        r.previous_activity_sid, r.instruction, r.version, r.date_created, r.date_updated
    FROM reservations r";

impl TryFrom<ReservationRow> for (i64, Reservation) {
    type Error = StoreError;
    fn try_from(r: ReservationRow) -> Result<Self> {
        Ok((
            r.seq,
            Reservation {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                task_sid: sid(&r.task_sid)?,
                worker_sid: sid(&r.worker_sid)?,
                worker_name: r.worker_name,
                task_queue_sid: opt_sid(r.task_queue_sid.as_deref())?,
                task_channel_sid: sid(&r.task_channel_sid)?,
                status: ReservationStatus::parse(&r.reservation_status)
                    .ok_or_else(|| corrupt(&r.reservation_status))?,
                previous_activity_sid: opt_sid(r.previous_activity_sid.as_deref())?,
                instruction: r.instruction,
                version: r.version,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The task as committed, if it is in the workspace.
    pub async fn get_task(&self, ws: &WorkspaceSid, sid: &TaskSid) -> Result<Option<Task>> {
        let row: Option<TaskRow> = query_as(format!(
            "{SELECT_TASK} WHERE t.sid = ? AND t.workspace_sid = ?"
        ))
        .bind(sid.as_str())
        .bind(ws.as_str())
        .fetch_optional(self.pool().await)
        .await?;
        row.map(|r| <(i64, Task)>::try_from(r).map(|(_, t)| t))
            .transpose()
    }

    /// How many workflows the workspace has (a task may omit `WorkflowSid` when it is one).
    pub async fn count_workflows(&self, ws: &WorkspaceSid) -> Result<i64> {
        let (n,): (i64,) = query_as("SELECT COUNT(*) FROM workflows WHERE workspace_sid = ?")
            .bind(ws.as_str())
            .fetch_one(self.pool().await)
            .await?;
        Ok(n)
    }

    /// Tasks of the workspace matching `filter`, in cursor direction, at most `limit` of them;
    /// newest first when `descending`.
    pub async fn list_tasks(
        &self,
        ws: &WorkspaceSid,
        filter: &TaskFilter,
        cursor: Cursor,
        limit: Option<usize>,
    ) -> Result<Vec<(i64, Task)>> {
        let mut qb = Query::new(SELECT_TASK);
        qb.push(" WHERE t.workspace_sid = ").push_bind(ws.as_str());
        if !filter.statuses.is_empty() {
            qb.push(" AND t.assignment_status IN (");
            let mut sep = qb.separated(", ");
            for s in &filter.statuses {
                sep.push_bind(s.as_str());
            }
            qb.push(")");
        }
        if let Some(w) = &filter.workflow_sid {
            qb.push(" AND t.workflow_sid = ").push_bind(w);
        }
        if let Some(w) = &filter.workflow_name {
            qb.push(" AND t.workflow_friendly_name = ").push_bind(w);
        }
        if let Some(q) = &filter.task_queue_sid {
            qb.push(" AND t.task_queue_sid = ").push_bind(q);
        }
        if let Some(q) = &filter.task_queue_name {
            qb.push(" AND t.task_queue_friendly_name = ").push_bind(q);
        }
        if let Some(p) = filter.priority {
            qb.push(" AND t.priority = ").push_bind(p);
        }
        if let Some(r) = &filter.routing_target {
            qb.push(" AND t.routing_target = ").push_bind(r);
        }
        push_cursor(&mut qb, "t", cursor, limit);
        let rows: Vec<TaskRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Every task of the workspace still being routed or worked on (not completed or canceled).
    pub async fn active_tasks(&self, ws: &WorkspaceSid) -> Result<Vec<(i64, Task)>> {
        let rows: Vec<TaskRow> = query_as(format!(
            "{SELECT_TASK} WHERE t.workspace_sid = ? AND t.assignment_status NOT IN ('completed', 'canceled') ORDER BY t.seq"
        ))
        .bind(ws.as_str())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// When each of `tasks` entered its current (or last) queue, for those that have one.
    pub async fn queue_entered_dates(
        &self,
        tasks: &[&str],
    ) -> Result<std::collections::HashMap<String, Timestamp>> {
        let mut out = std::collections::HashMap::new();
        // SQLite caps a statement's parameters; 500 at a time stays far below.
        for chunk in tasks.chunks(500) {
            let mut qb = Query::new(
                "SELECT sid, task_queue_entered_date FROM tasks
                 WHERE task_queue_entered_date IS NOT NULL AND sid IN (",
            );
            let mut sep = qb.separated(", ");
            for t in chunk {
                sep.push_bind(*t);
            }
            qb.push(")");
            let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(self.pool().await).await?;
            out.extend(
                rows.into_iter()
                    .map(|(s, d)| (s, Timestamp::from_millis(d))),
            );
        }
        Ok(out)
    }

    /// The `seq` of a task, for routing tie-breaks.
    pub async fn task_seq(&self, sid: &TaskSid) -> Result<i64> {
        let (seq,): (i64,) = query_as("SELECT seq FROM tasks WHERE sid = ?")
            .bind(sid.as_str())
            .fetch_one(self.pool().await)
            .await?;
        Ok(seq)
    }

    /// Reservations of the workspace holding capacity (pending, accepted or wrapping).
    pub async fn live_reservations(&self, ws: &WorkspaceSid) -> Result<Vec<Reservation>> {
        let rows: Vec<ReservationRow> = query_as(format!(
            "{SELECT_RESERVATION} WHERE r.workspace_sid = ?
                AND r.reservation_status IN ('pending', 'accepted', 'wrapping') ORDER BY r.seq"
        ))
        .bind(ws.as_str())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|r| <(i64, Reservation)>::try_from(r).map(|(_, r)| r))
            .collect()
    }

    /// A task's refusals: workers whose reservation for it was rejected or timed out.
    pub async fn refusals(&self, ws: &WorkspaceSid) -> Result<Vec<(TaskSid, WorkerSid)>> {
        let rows: Vec<(String, String)> = query_as(
            "SELECT r.task_sid, r.worker_sid FROM reservations r JOIN tasks t ON t.sid = r.task_sid
             WHERE r.workspace_sid = ? AND r.reservation_status IN ('rejected', 'timeout')
                AND t.assignment_status IN ('pending', 'reserved')",
        )
        .bind(ws.as_str())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|(t, w)| Ok((sid(&t)?, sid(&w)?)))
            .collect()
    }

    /// The reservation, if it belongs to the task or worker of `scope` in the workspace.
    pub async fn get_reservation(
        &self,
        ws: &WorkspaceSid,
        scope: &ReservationScope,
        sid: &ReservationSid,
    ) -> Result<Option<Reservation>> {
        let (column, owner) = match scope {
            ReservationScope::Task(t) => ("task_sid", t.as_str()),
            ReservationScope::Worker(w) => ("worker_sid", w.as_str()),
        };
        let row: Option<ReservationRow> = query_as(format!(
            "{SELECT_RESERVATION} WHERE r.sid = ? AND r.workspace_sid = ? AND r.{column} = ?"
        ))
        .bind(sid.as_str())
        .bind(ws.as_str())
        .bind(owner)
        .fetch_optional(self.pool().await)
        .await?;
        row.map(|r| <(i64, Reservation)>::try_from(r).map(|(_, r)| r))
            .transpose()
    }

    /// Reservations of a task or worker, optionally of one status and worker, in cursor direction.
    pub async fn list_reservations(
        &self,
        ws: &WorkspaceSid,
        scope: &ReservationScope,
        status: Option<ReservationStatus>,
        worker: Option<&WorkerSid>,
        cursor: Cursor,
        limit: Option<usize>,
    ) -> Result<Vec<(i64, Reservation)>> {
        let mut qb = Query::new(SELECT_RESERVATION);
        qb.push(" WHERE r.workspace_sid = ").push_bind(ws.as_str());
        match scope {
            ReservationScope::Task(t) => qb.push(" AND r.task_sid = ").push_bind(t.as_str()),
            ReservationScope::Worker(w) => qb.push(" AND r.worker_sid = ").push_bind(w.as_str()),
        };
        if let Some(s) = status {
            qb.push(" AND r.reservation_status = ")
                .push_bind(s.as_str());
        }
        if let Some(w) = worker {
            qb.push(" AND r.worker_sid = ").push_bind(w.as_str());
        }
        push_cursor(&mut qb, "r", cursor, limit);
        let rows: Vec<ReservationRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// A task's reservations still holding a worker (pending, accepted or wrapping), oldest
    /// first. A task offered many times keeps many ended ones, which this leaves unread.
    pub async fn live_task_reservations(
        &self,
        ws: &WorkspaceSid,
        task: &TaskSid,
    ) -> Result<Vec<Reservation>> {
        let rows: Vec<ReservationRow> = query_as(format!(
            "{SELECT_RESERVATION} WHERE r.workspace_sid = ? AND r.task_sid = ?
                AND r.reservation_status IN ('pending', 'accepted', 'wrapping') ORDER BY r.seq"
        ))
        .bind(ws.as_str())
        .bind(task.as_str())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|r| <(i64, Reservation)>::try_from(r).map(|(_, r)| r))
            .collect()
    }

    /// Reservations of a worker in one status, oldest first.
    pub async fn worker_reservations(
        &self,
        ws: &WorkspaceSid,
        worker: &WorkerSid,
        status: ReservationStatus,
    ) -> Result<Vec<Reservation>> {
        Ok(self
            .list_reservations(
                ws,
                &ReservationScope::Worker(worker.clone()),
                Some(status),
                None,
                Cursor::Start,
                None,
            )
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }
}

impl Store {
    /// Workspaces with tasks still being routed (pending or reserved).
    pub async fn workspaces_with_routing_tasks(&self) -> Result<Vec<WorkspaceSid>> {
        let rows: Vec<(String,)> = query_as(
            "SELECT DISTINCT workspace_sid FROM tasks WHERE assignment_status IN ('pending', 'reserved')",
        )
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter().map(|(s,)| sid(&s)).collect()
    }
}

impl Store {
    /// The latest time any stored change carries (0 for an empty store).
    pub async fn latest_time(&self) -> Result<Timestamp> {
        let (ms,): (Option<i64>,) = query_as(
            "SELECT MAX(m) FROM (
                SELECT MAX(date_updated) AS m FROM tasks
                UNION ALL SELECT MAX(date_updated) FROM reservations
                UNION ALL SELECT MAX(date_updated) FROM workers
                UNION ALL SELECT MAX(date_updated) FROM workspaces) AS latest",
        )
        .fetch_one(self.pool().await)
        .await?;
        Ok(Timestamp::from_millis(ms.unwrap_or(0)))
    }
}
