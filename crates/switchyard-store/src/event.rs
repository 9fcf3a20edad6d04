//! Events: written with the change they record (`Change::Event`), read back for `GET /Events`.

use switchyard_core::event::Event;
use switchyard_core::sid::{EventSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{push_cursor, sid, Cursor, Page, Result, Store, StoreError};

/// Which events a list returns. Every field narrows it; dates are inclusive.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Exact event type.
    pub event_type: Option<String>,
    /// Events at or after this time.
    pub start: Option<Timestamp>,
    /// Events at or before this time.
    pub end: Option<Timestamp>,
    /// Of this task.
    pub task_sid: Option<String>,
    /// Of this worker.
    pub worker_sid: Option<String>,
    /// Of this workflow.
    pub workflow_sid: Option<String>,
    /// Of this queue.
    pub task_queue_sid: Option<String>,
    /// Of this reservation.
    pub reservation_sid: Option<String>,
    /// Of this task channel, by SID or unique name.
    pub task_channel: Option<String>,
    /// This one event.
    pub sid: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    event_type: String,
    description: String,
    event_date: i64,
    resource_type: String,
    resource_sid: String,
    actor_type: String,
    actor_sid: String,
    event_data: String,
    number: i64,
}

impl TryFrom<EventRow> for (i64, Event) {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<(i64, Event)> {
        let data: Vec<(String, String)> = serde_json::from_str(&r.event_data)
            .map_err(|e| StoreError::Corrupt(format!("event {} data: {e}", r.sid)))?;
        Ok((
            r.seq,
            Event {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                event_type: r.event_type,
                description: r.description,
                date: Timestamp::from_millis(r.event_date),
                resource_type: r.resource_type,
                resource_sid: r.resource_sid,
                actor_type: r.actor_type,
                actor_sid: r.actor_sid,
                data,
                number: r.number,
            },
        ))
    }
}

const SELECT_EVENT: &str = "SELECT e.seq, e.sid, e.workspace_sid, e.event_type, e.description,
        e.event_date, e.resource_type, e.resource_sid, e.actor_type, e.actor_sid, e.event_data,
        e.number
    FROM events e";

impl Store {
    /// A page of the workspace's events matching `filter`, oldest first.
    pub async fn list_events(
        &self,
        ws: &WorkspaceSid,
        filter: &EventFilter,
        cursor: Cursor,
        size: usize,
    ) -> Result<Page<Event>> {
        let mut qb = Query::new(SELECT_EVENT);
        qb.push(" WHERE e.workspace_sid = ").push_bind(ws.as_str());
        if let Some(t) = &filter.event_type {
            qb.push(" AND e.event_type = ").push_bind(t);
        }
        if let Some(t) = filter.start {
            qb.push(" AND e.event_date >= ").push_bind(t.as_millis());
        }
        if let Some(t) = filter.end {
            qb.push(" AND e.event_date <= ").push_bind(t.as_millis());
        }
        for (column, value) in [
            ("task_sid", &filter.task_sid),
            ("worker_sid", &filter.worker_sid),
            ("workflow_sid", &filter.workflow_sid),
            ("task_queue_sid", &filter.task_queue_sid),
            ("reservation_sid", &filter.reservation_sid),
            ("sid", &filter.sid),
        ] {
            if let Some(v) = value {
                qb.push(format!(" AND e.{column} = ")).push_bind(v);
            }
        }
        if let Some(c) = &filter.task_channel {
            qb.push(" AND (e.task_channel_sid = ")
                .push_bind(c)
                .push(" OR e.task_channel_unique_name = ")
                .push_bind(c)
                .push(")");
        }
        push_cursor(&mut qb, "e", cursor, Some(size + 1));
        let rows: Vec<EventRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        let rows = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_fetched(rows, cursor, size))
    }

    /// The event, if it is in the workspace.
    pub async fn get_event(&self, ws: &WorkspaceSid, sid: &EventSid) -> Result<Option<Event>> {
        let row: Option<EventRow> = query_as(format!(
            "{SELECT_EVENT} WHERE e.sid = ? AND e.workspace_sid = ?"
        ))
        .bind(sid.as_str())
        .bind(ws.as_str())
        .fetch_optional(self.pool().await)
        .await?;
        row.map(|r| <(i64, Event)>::try_from(r).map(|(_, e)| e))
            .transpose()
    }
}

/// What cumulative statistics need of one event.
#[derive(Debug, Clone)]
pub struct StatEvent {
    /// Twilio's event type.
    pub event_type: String,
    /// When it happened.
    pub date: Timestamp,
    /// The task it concerns, if any.
    pub task_sid: Option<String>,
    /// The worker it concerns, if any.
    pub worker_sid: Option<String>,
    /// The workflow it concerns, if any.
    pub workflow_sid: Option<String>,
    /// The queue it concerns, if any.
    pub task_queue_sid: Option<String>,
    /// The task channel's SID, if any.
    pub task_channel_sid: Option<String>,
    /// The task channel's unique name, if any.
    pub task_channel_unique_name: Option<String>,
    /// The task's age in seconds when it happened (`task_age`).
    pub task_age: Option<i64>,
    /// For an activity change: the activity left and the milliseconds spent in it.
    pub previous_activity: Option<(String, i64)>,
}

#[derive(sqlx::FromRow)]
struct StatEventRow {
    sid: String,
    event_type: String,
    event_date: i64,
    task_sid: Option<String>,
    worker_sid: Option<String>,
    workflow_sid: Option<String>,
    task_queue_sid: Option<String>,
    task_channel_sid: Option<String>,
    task_channel_unique_name: Option<String>,
    event_data: String,
}

impl Store {
    /// The workspace's events of `types` between `start` and `end` (inclusive), oldest first.
    pub async fn stat_events(
        &self,
        ws: &WorkspaceSid,
        start: Timestamp,
        end: Timestamp,
        types: &[&str],
    ) -> Result<Vec<StatEvent>> {
        let mut qb = Query::new(
            "SELECT sid, event_type, event_date, task_sid, worker_sid, workflow_sid,
                task_queue_sid, task_channel_sid, task_channel_unique_name, event_data
             FROM events WHERE workspace_sid = ",
        );
        qb.push_bind(ws.as_str())
            .push(" AND event_date >= ")
            .push_bind(start.as_millis())
            .push(" AND event_date <= ")
            .push_bind(end.as_millis())
            .push(" AND event_type IN (");
        let mut sep = qb.separated(", ");
        for t in types {
            sep.push_bind(*t);
        }
        qb.push(") ORDER BY seq");
        let rows: Vec<StatEventRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        rows.into_iter()
            .map(|r| {
                let data: Vec<(String, String)> = serde_json::from_str(&r.event_data)
                    .map_err(|e| StoreError::Corrupt(format!("event {} data: {e}", r.sid)))?;
                let get = |key: &str| data.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
                let task_age = get("task_age").and_then(|v| v.parse().ok());
                let previous_activity = get("worker_previous_activity_sid")
                    .zip(get("worker_time_in_previous_activity_ms").and_then(|v| v.parse().ok()));
                Ok(StatEvent {
                    previous_activity: previous_activity.map(|(a, ms)| (a.to_owned(), ms)),
                    event_type: r.event_type,
                    date: Timestamp::from_millis(r.event_date),
                    task_sid: r.task_sid,
                    worker_sid: r.worker_sid,
                    workflow_sid: r.workflow_sid,
                    task_queue_sid: r.task_queue_sid,
                    task_channel_sid: r.task_channel_sid,
                    task_channel_unique_name: r.task_channel_unique_name,
                    task_age,
                })
            })
            .collect()
    }
}

impl Store {
    /// Up to `limit` of the workspace's events numbered after `number`, in number order, each
    /// with its number.
    pub async fn events_after(
        &self,
        ws: &WorkspaceSid,
        number: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>> {
        let rows: Vec<EventRow> = query_as(format!(
            "{SELECT_EVENT} WHERE e.workspace_sid = ? AND e.number > ? ORDER BY e.number LIMIT ?"
        ))
        .bind(ws.as_str())
        .bind(number)
        .bind(limit as i64)
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|r| <(i64, Event)>::try_from(r).map(|(_, e)| (e.number, e)))
            .collect()
    }

    /// The number of the workspace's last event handled by event callbacks (0 when none).
    pub async fn event_cursor(&self, ws: &WorkspaceSid) -> Result<i64> {
        let row: Option<(i64,)> =
            query_as("SELECT delivered_seq FROM event_deliveries WHERE workspace_sid = ?")
                .bind(ws.as_str())
                .fetch_optional(self.pool().await)
                .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    /// The number of the workspace's latest event (0 when it has none).
    pub async fn last_event_number(&self, ws: &WorkspaceSid) -> Result<i64> {
        let (seq,): (i64,) =
            query_as("SELECT COALESCE(MAX(number), 0) FROM events WHERE workspace_sid = ?")
                .bind(ws.as_str())
                .fetch_one(self.pool().await)
                .await?;
        Ok(seq)
    }

    /// Workspaces with an `EventCallbackUrl`.
    pub async fn workspaces_with_event_callbacks(&self) -> Result<Vec<WorkspaceSid>> {
        let rows: Vec<(String,)> =
            query_as("SELECT sid FROM workspaces WHERE event_callback_url IS NOT NULL")
                .fetch_all(self.pool().await)
                .await?;
        rows.into_iter().map(|(s,)| sid(&s)).collect()
    }

    /// Changes whenever a write records events; event delivery waits on it.
    pub fn event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events_written.subscribe()
    }
}
