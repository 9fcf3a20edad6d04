//! Activities.

use switchyard_core::model::Activity;
use switchyard_core::sid::{ActivitySid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{push_cursor, sid, Cursor, Page, Result, Store, StoreError};

/// Filters of the activity list.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Exact friendly name.
    pub friendly_name: Option<String>,
    /// Only available (`true`) or only unavailable (`false`) activities.
    pub available: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    friendly_name: String,
    available: bool,
    date_created: i64,
    date_updated: i64,
}

const SELECT: &str = "SELECT a.seq, a.sid, a.workspace_sid, a.friendly_name, a.available,
        a.date_created, a.date_updated FROM activities a";

impl TryFrom<ActivityRow> for (i64, Activity) {
    type Error = StoreError;
    fn try_from(r: ActivityRow) -> Result<Self> {
        Ok((
            r.seq,
            Activity {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                friendly_name: r.friendly_name,
                available: r.available,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The activity, if it is in the workspace.
    pub async fn get_activity(
        &self,
        ws: &WorkspaceSid,
        sid: &ActivitySid,
    ) -> Result<Option<Activity>> {
        let row: Option<ActivityRow> =
            query_as(format!("{SELECT} WHERE a.sid = ? AND a.workspace_sid = ?"))
                .bind(sid.as_str())
                .bind(ws.as_str())
                .fetch_optional(self.pool().await)
                .await?;
        row.map(|r| <(i64, Activity)>::try_from(r).map(|(_, a)| a))
            .transpose()
    }

    /// The activity with this friendly name in the workspace, if any.
    pub async fn find_activity_by_name(
        &self,
        ws: &WorkspaceSid,
        name: &str,
    ) -> Result<Option<Activity>> {
        let row: Option<ActivityRow> = query_as(format!(
            "{SELECT} WHERE a.workspace_sid = ? AND a.friendly_name = ?"
        ))
        .bind(ws.as_str())
        .bind(name)
        .fetch_optional(self.pool().await)
        .await?;
        row.map(|r| <(i64, Activity)>::try_from(r).map(|(_, a)| a))
            .transpose()
    }

    /// A page of the workspace's activities.
    pub async fn list_activities(
        &self,
        ws: &WorkspaceSid,
        filter: &ActivityFilter,
        cursor: Cursor,
        size: usize,
    ) -> Result<Page<Activity>> {
        let mut qb = Query::new(SELECT);
        qb.push(" WHERE a.workspace_sid = ").push_bind(ws.as_str());
        if let Some(name) = &filter.friendly_name {
            qb.push(" AND a.friendly_name = ").push_bind(name);
        }
        if let Some(available) = filter.available {
            qb.push(" AND a.available = ").push_bind(available);
        }
        push_cursor(&mut qb, "a", cursor, Some(size + 1));
        let rows: Vec<ActivityRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        let rows = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_fetched(rows, cursor, size))
    }

    /// What still refers to the activity, in words; `None` when it can be deleted.
    pub async fn activity_usage(
        &self,
        ws: &WorkspaceSid,
        a: &ActivitySid,
    ) -> Result<Option<&'static str>> {
        let (defaults, workers, queues): (i64, i64, i64) = query_as(
            "SELECT
                (SELECT COUNT(*) FROM workspaces WHERE sid = ?1
                    AND (default_activity_sid = ?2 OR timeout_activity_sid = ?2)),
                (SELECT COUNT(*) FROM workers WHERE activity_sid = ?2),
                (SELECT COUNT(*) FROM task_queues WHERE reservation_activity_sid = ?2
                    OR assignment_activity_sid = ?2)",
        )
        .bind(ws.as_str())
        .bind(a.as_str())
        .fetch_one(self.pool().await)
        .await?;
        Ok(if defaults > 0 {
            Some("it is the workspace's default or timeout activity")
        } else if workers > 0 {
            Some("workers are in it")
        } else if queues > 0 {
            Some("a TaskQueue uses it as its reservation or assignment activity")
        } else {
            None
        })
    }
}
