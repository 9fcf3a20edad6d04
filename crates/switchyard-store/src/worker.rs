//! Workers and their per-channel capacities.

use switchyard_core::model::{Worker, WorkerChannel};
use switchyard_core::sid::{ActivitySid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{push_cursor, sid, Cursor, Page, Result, Store, StoreError};

/// Filters of the worker list that SQL answers (expression filters are the engine's).
#[derive(Debug, Clone, Default)]
pub struct WorkerFilter {
    /// Exact activity name.
    pub activity_name: Option<String>,
    /// Activity SID.
    pub activity_sid: Option<ActivitySid>,
    /// Only workers whose activity is (un)available.
    pub available: Option<bool>,
    /// Friendly name, compared regardless of case.
    pub friendly_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct WorkerRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    friendly_name: String,
    activity_sid: String,
    activity_name: String,
    available: bool,
    attributes: String,
    date_status_changed: i64,
    date_created: i64,
    date_updated: i64,
    version: i64,
    idle_since: i64,
}

const SELECT: &str = "SELECT w.seq, w.sid, w.workspace_sid, w.friendly_name, w.activity_sid,
        a.friendly_name AS activity_name, a.available, w.attributes, w.date_status_changed,
        w.date_created, w.date_updated, w.version, w.idle_since
    FROM workers w JOIN activities a ON a.sid = w.activity_sid";

impl TryFrom<WorkerRow> for (i64, Worker) {
    type Error = StoreError;
    fn try_from(r: WorkerRow) -> Result<Self> {
        Ok((
            r.seq,
            Worker {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                friendly_name: r.friendly_name,
                activity_sid: sid(&r.activity_sid)?,
                activity_name: r.activity_name,
                available: r.available,
                attributes: r.attributes,
                date_status_changed: Timestamp::from_millis(r.date_status_changed),
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
                version: r.version,
                idle_since: Timestamp::from_millis(r.idle_since),
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
struct WorkerChannelRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    worker_sid: String,
    task_channel_sid: String,
    task_channel_unique_name: String,
    capacity: i64,
    available: bool,
    assigned_tasks: i64,
    active_reservations: i64,
    date_created: i64,
    date_updated: i64,
}

const SELECT_CHANNEL: &str =
    "SELECT wc.seq, wc.sid, wc.workspace_sid, wc.worker_sid, wc.task_channel_sid,
        c.unique_name AS task_channel_unique_name, wc.capacity, wc.available,
        (SELECT COUNT(*) FROM reservations r WHERE r.worker_sid = wc.worker_sid
            AND r.task_channel_sid = wc.task_channel_sid AND r.reservation_status = 'accepted')
            AS assigned_tasks,
        (SELECT COUNT(*) FROM reservations r WHERE r.worker_sid = wc.worker_sid
            AND r.task_channel_sid = wc.task_channel_sid
            AND r.reservation_status IN ('pending', 'accepted', 'wrapping')) AS active_reservations,
        wc.date_created, wc.date_updated
    FROM worker_channels wc JOIN task_channels c ON c.sid = wc.task_channel_sid";

impl TryFrom<WorkerChannelRow> for (i64, WorkerChannel) {
    type Error = StoreError;
    fn try_from(r: WorkerChannelRow) -> Result<Self> {
        Ok((
            r.seq,
            WorkerChannel {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                worker_sid: sid(&r.worker_sid)?,
                task_channel_sid: sid(&r.task_channel_sid)?,
                task_channel_unique_name: r.task_channel_unique_name,
                configured_capacity: r.capacity,
                available: r.available,
                assigned_tasks: r.assigned_tasks,
                active_reservations: r.active_reservations,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The worker, if it is in the workspace.
    pub async fn get_worker(&self, ws: &WorkspaceSid, sid: &WorkerSid) -> Result<Option<Worker>> {
        let row: Option<WorkerRow> =
            query_as(format!("{SELECT} WHERE w.sid = ? AND w.workspace_sid = ?"))
                .bind(sid.as_str())
                .bind(ws.as_str())
                .fetch_optional(self.pool().await)
                .await?;
        row.map(|r| <(i64, Worker)>::try_from(r).map(|(_, w)| w))
            .transpose()
    }

    /// Whether another worker of the workspace has this friendly name, regardless of case.
    pub async fn worker_name_taken(
        &self,
        ws: &WorkspaceSid,
        name: &str,
        except: Option<&WorkerSid>,
    ) -> Result<bool> {
        let pool = self.pool().await;
        let (n,): (i64,) = query_as(format!(
            "SELECT COUNT(*) FROM workers WHERE workspace_sid = ? AND {} AND sid != ?",
            pool.nocase_equals("friendly_name")
        ))
        .bind(ws.as_str())
        .bind(name)
        .bind(except.map(WorkerSid::as_str).unwrap_or(""))
        .fetch_one(pool)
        .await?;
        Ok(n > 0)
    }

    /// Workers of the workspace matching `filter`, in cursor direction, at most `limit` of them.
    pub async fn list_workers(
        &self,
        ws: &WorkspaceSid,
        filter: &WorkerFilter,
        cursor: Cursor,
        limit: Option<usize>,
    ) -> Result<Vec<(i64, Worker)>> {
        let mut qb = Query::new(SELECT);
        qb.push(" WHERE w.workspace_sid = ").push_bind(ws.as_str());
        if let Some(name) = &filter.activity_name {
            qb.push(" AND a.friendly_name = ").push_bind(name);
        }
        if let Some(a) = &filter.activity_sid {
            qb.push(" AND w.activity_sid = ").push_bind(a.as_str());
        }
        if let Some(available) = filter.available {
            qb.push(" AND a.available = ").push_bind(available);
        }
        if let Some(name) = &filter.friendly_name {
            let pool = self.pool().await;
            qb.push(" AND ")
                .push_with(&pool.nocase_equals("w.friendly_name"), name);
        }
        push_cursor(&mut qb, "w", cursor, limit);
        let rows: Vec<WorkerRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// A page of the worker's channels.
    pub async fn list_worker_channels(
        &self,
        worker: &WorkerSid,
        cursor: Cursor,
        size: usize,
    ) -> Result<Page<WorkerChannel>> {
        let mut qb = Query::new(SELECT_CHANNEL);
        qb.push(" WHERE wc.worker_sid = ")
            .push_bind(worker.as_str());
        push_cursor(&mut qb, "wc", cursor, Some(size + 1));
        let rows: Vec<WorkerChannelRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        let rows = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_fetched(rows, cursor, size))
    }

    /// Every worker of the workspace, oldest first.
    pub async fn all_workers(&self, ws: &WorkspaceSid) -> Result<Vec<(i64, Worker)>> {
        self.list_workers(ws, &WorkerFilter::default(), Cursor::Start, None)
            .await
    }

    /// The `seq` of a worker, its creation order.
    pub async fn worker_seq(&self, sid: &WorkerSid) -> Result<i64> {
        let (seq,): (i64,) = query_as("SELECT seq FROM workers WHERE sid = ?")
            .bind(sid.as_str())
            .fetch_one(self.pool().await)
            .await?;
        Ok(seq)
    }

    /// Every worker channel of the workspace.
    pub async fn all_worker_channels(&self, ws: &WorkspaceSid) -> Result<Vec<WorkerChannel>> {
        let rows: Vec<WorkerChannelRow> = query_as(format!(
            "{SELECT_CHANNEL} WHERE wc.workspace_sid = ? ORDER BY wc.seq"
        ))
        .bind(ws.as_str())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|r| <(i64, WorkerChannel)>::try_from(r).map(|(_, c)| c))
            .collect()
    }

    /// The worker's channel with this `WC` SID, or for the task channel with this SID or unique name.
    pub async fn get_worker_channel(
        &self,
        worker: &WorkerSid,
        key: &str,
    ) -> Result<Option<WorkerChannel>> {
        let row: Option<WorkerChannelRow> = query_as(format!(
            "{SELECT_CHANNEL} WHERE wc.worker_sid = ?1 AND (wc.sid = ?2 OR c.sid = ?2 OR c.unique_name = ?2)"
        ))
        .bind(worker.as_str())
        .bind(key)
        .fetch_optional(self.pool().await)
        .await?;
        row.map(|r| <(i64, WorkerChannel)>::try_from(r).map(|(_, c)| c))
            .transpose()
    }
}
