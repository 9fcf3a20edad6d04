//! Task queues.

use switchyard_core::model::TaskQueue;
use switchyard_core::sid::{TaskQueueSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{opt_sid, push_cursor, sid, Cursor, Result, Store, StoreError};

/// Filters of the queue list that SQL answers (expression filters are the engine's).
#[derive(Debug, Clone, Default)]
pub struct TaskQueueFilter {
    /// Exact friendly name.
    pub friendly_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TaskQueueRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    friendly_name: String,
    target_workers: String,
    max_reserved_workers: i64,
    task_order: String,
    reservation_activity_sid: Option<String>,
    reservation_activity_name: Option<String>,
    assignment_activity_sid: Option<String>,
    assignment_activity_name: Option<String>,
    date_created: i64,
    date_updated: i64,
}

const SELECT: &str = "SELECT q.seq, q.sid, q.workspace_sid, q.friendly_name, q.target_workers,
        q.max_reserved_workers, q.task_order,
        q.reservation_activity_sid, ra.friendly_name AS reservation_activity_name,
        q.assignment_activity_sid, aa.friendly_name AS assignment_activity_name,
        q.date_created, q.date_updated
    FROM task_queues q
    LEFT JOIN activities ra ON ra.sid = q.reservation_activity_sid
    LEFT JOIN activities aa ON aa.sid = q.assignment_activity_sid";

impl TryFrom<TaskQueueRow> for (i64, TaskQueue) {
    type Error = StoreError;
    fn try_from(r: TaskQueueRow) -> Result<Self> {
        let reservation = opt_sid(r.reservation_activity_sid.as_deref())?;
        let assignment = opt_sid(r.assignment_activity_sid.as_deref())?;
        Ok((
            r.seq,
            TaskQueue {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                friendly_name: r.friendly_name,
                target_workers: r.target_workers,
                max_reserved_workers: r.max_reserved_workers,
                task_order: r
                    .task_order
                    .parse()
                    .map_err(|()| StoreError::Corrupt(r.task_order.clone()))?,
                reservation_activity: reservation
                    .map(|s| (s, r.reservation_activity_name.unwrap_or_default())),
                assignment_activity: assignment
                    .map(|s| (s, r.assignment_activity_name.unwrap_or_default())),
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The queue, if it is in the workspace.
    pub async fn get_task_queue(
        &self,
        ws: &WorkspaceSid,
        sid: &TaskQueueSid,
    ) -> Result<Option<TaskQueue>> {
        let row: Option<TaskQueueRow> =
            query_as(format!("{SELECT} WHERE q.sid = ? AND q.workspace_sid = ?"))
                .bind(sid.as_str())
                .bind(ws.as_str())
                .fetch_optional(self.pool().await)
                .await?;
        row.map(|r| <(i64, TaskQueue)>::try_from(r).map(|(_, q)| q))
            .transpose()
    }

    /// Whether another queue of the workspace has this friendly name.
    pub async fn task_queue_name_taken(
        &self,
        ws: &WorkspaceSid,
        name: &str,
        except: Option<&TaskQueueSid>,
    ) -> Result<bool> {
        let (n,): (i64,) = query_as(
            "SELECT COUNT(*) FROM task_queues WHERE workspace_sid = ? AND friendly_name = ? AND sid != ?",
        )
        .bind(ws.as_str())
        .bind(name)
        .bind(except.map(TaskQueueSid::as_str).unwrap_or(""))
        .fetch_one(self.pool().await)
        .await?;
        Ok(n > 0)
    }

    /// Queues of the workspace matching `filter`, in cursor direction, at most `limit` of them.
    pub async fn list_task_queues(
        &self,
        ws: &WorkspaceSid,
        filter: &TaskQueueFilter,
        cursor: Cursor,
        limit: Option<usize>,
    ) -> Result<Vec<(i64, TaskQueue)>> {
        let mut qb = Query::new(SELECT);
        qb.push(" WHERE q.workspace_sid = ").push_bind(ws.as_str());
        if let Some(name) = &filter.friendly_name {
            qb.push(" AND q.friendly_name = ").push_bind(name);
        }
        push_cursor(&mut qb, "q", cursor, limit);
        let rows: Vec<TaskQueueRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
