//! Task channels.

use switchyard_core::event::Event;
use switchyard_core::model::TaskChannel;
use switchyard_core::sid::{TaskChannelSid, WorkerChannelSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query, query_as, Query, Tx};
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

pub(crate) async fn insert(conn: &mut Tx, c: &TaskChannel) -> Result<()> {
    query(
        "INSERT INTO task_channels (sid, workspace_sid, friendly_name, unique_name,
            channel_optimized_routing, date_created, date_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.sid.as_str())
    .bind(c.workspace_sid.as_str())
    .bind(&c.friendly_name)
    .bind(&c.unique_name)
    .bind(c.channel_optimized_routing)
    .bind(c.date_created.as_millis())
    .bind(c.date_updated.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a task channel, and a worker channel of capacity `capacity` for every worker of the
    /// workspace, with SIDs from `mint`.
    pub async fn create_task_channel(
        &self,
        c: &TaskChannel,
        capacity: i64,
        mint: &mut (dyn FnMut() -> WorkerChannelSid + Send),
        events: &[Event],
    ) -> Result<()> {
        let mut tx = self.pool().await.begin().await?;
        insert(&mut tx, c).await?;
        let workers: Vec<(String,)> =
            query_as("SELECT sid FROM workers WHERE workspace_sid = ? ORDER BY seq")
                .bind(c.workspace_sid.as_str())
                .fetch_all(&mut tx)
                .await?;
        for (worker,) in workers {
            crate::worker::insert_channel(
                &mut tx,
                &mint(),
                &c.workspace_sid,
                &worker,
                c.sid.as_str(),
                capacity,
                c.date_created,
            )
            .await?;
        }
        self.commit_with_events(tx, events).await
    }

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

    /// Writes the channel's mutable fields.
    pub async fn update_task_channel(&self, c: &TaskChannel, events: &[Event]) -> Result<()> {
        let mut tx = self.pool().await.begin().await?;
        query(
            "UPDATE task_channels SET friendly_name = ?, channel_optimized_routing = ?, date_updated = ?
             WHERE sid = ?",
        )
        .bind(&c.friendly_name)
        .bind(c.channel_optimized_routing)
        .bind(c.date_updated.as_millis())
        .bind(c.sid.as_str())
        .execute(&mut tx)
        .await?;
        self.commit_with_events(tx, events).await
    }

    /// Deletes the channel and its worker channels.
    pub async fn delete_task_channel(&self, c: &TaskChannelSid, events: &[Event]) -> Result<()> {
        let mut tx = self.pool().await.begin().await?;
        query("DELETE FROM worker_channels WHERE task_channel_sid = ?")
            .bind(c.as_str())
            .execute(&mut tx)
            .await?;
        query("DELETE FROM task_channels WHERE sid = ?")
            .bind(c.as_str())
            .execute(&mut tx)
            .await?;
        self.commit_with_events(tx, events).await
    }
}
