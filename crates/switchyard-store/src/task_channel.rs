//! Task channels.

use switchyard_core::model::TaskChannel;
use switchyard_core::sid::WorkspaceSid;
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{push_cursor, sid, Cursor, Page, Result, Store, StoreError};

#[derive(sqlx::FromRow)]
struct TaskChannelRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    friendly_name: String,
    unique_name: String,
    channel_optimized_routing: bool,
    date_created: i64,
    date_updated: i64,
}

const SELECT: &str = "SELECT c.seq, c.sid, c.workspace_sid, c.friendly_name, c.unique_name,
        c.channel_optimized_routing, c.date_created, c.date_updated FROM task_channels c";

impl TryFrom<TaskChannelRow> for (i64, TaskChannel) {
    type Error = StoreError;
    fn try_from(r: TaskChannelRow) -> Result<Self> {
        Ok((
            r.seq,
            TaskChannel {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                friendly_name: r.friendly_name,
                unique_name: r.unique_name,
                channel_optimized_routing: r.channel_optimized_routing,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The task channel with this SID or unique name, if it is in the workspace.
    pub async fn get_task_channel(
        &self,
        ws: &WorkspaceSid,
        sid_or_name: &str,
    ) -> Result<Option<TaskChannel>> {
        let row: Option<TaskChannelRow> = query_as(format!(
            "{SELECT} WHERE c.workspace_sid = ? AND (c.sid = ?2 OR c.unique_name = ?2)"
        ))
        .bind(ws.as_str())
        .bind(sid_or_name)
        .fetch_optional(self.pool().await)
        .await?;
        row.map(|r| <(i64, TaskChannel)>::try_from(r).map(|(_, c)| c))
            .transpose()
    }

    /// A page of the workspace's task channels.
    pub async fn list_task_channels(
        &self,
        ws: &WorkspaceSid,
        cursor: Cursor,
        size: usize,
    ) -> Result<Page<TaskChannel>> {
        let mut qb = Query::new(SELECT);
        qb.push(" WHERE c.workspace_sid = ").push_bind(ws.as_str());
        push_cursor(&mut qb, "c", cursor, Some(size + 1));
        let rows: Vec<TaskChannelRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        let rows = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_fetched(rows, cursor, size))
    }

    /// How many task channels the workspace has.
    pub async fn count_task_channels(&self, ws: &WorkspaceSid) -> Result<i64> {
        let (n,): (i64,) = query_as("SELECT COUNT(*) FROM task_channels WHERE workspace_sid = ?")
            .bind(ws.as_str())
            .fetch_one(self.pool().await)
            .await?;
        Ok(n)
    }
}
