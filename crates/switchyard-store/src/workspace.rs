//! Workspaces, created together with their default activities, channels and template resources.

use switchyard_core::model::Workspace;
use switchyard_core::sid::{AccountSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{push_cursor, sid, Cursor, Page, Result, Store, StoreError};

/// Filters of the workspace list.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceFilter {
    /// Exact friendly name.
    pub friendly_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    seq: i64,
    sid: String,
    account_sid: String,
    friendly_name: String,
    default_activity_sid: String,
    default_activity_name: Option<String>,
    timeout_activity_sid: String,
    timeout_activity_name: Option<String>,
    event_callback_url: Option<String>,
    events_filter: Option<String>,
    multi_task_enabled: bool,
    prioritize_queue_order: String,
    date_created: i64,
    date_updated: i64,
}

const SELECT: &str = "SELECT w.seq, w.sid, w.account_sid, w.friendly_name,
        w.default_activity_sid, da.friendly_name AS default_activity_name,
        w.timeout_activity_sid, ta.friendly_name AS timeout_activity_name,
        w.event_callback_url, w.events_filter, w.multi_task_enabled, w.prioritize_queue_order,
        w.date_created, w.date_updated
    FROM workspaces w
    LEFT JOIN activities da ON da.sid = w.default_activity_sid
    LEFT JOIN activities ta ON ta.sid = w.timeout_activity_sid";

impl TryFrom<WorkspaceRow> for (i64, Workspace) {
    type Error = StoreError;
    fn try_from(r: WorkspaceRow) -> Result<Self> {
        Ok((
            r.seq,
            Workspace {
                sid: sid(&r.sid)?,
                account_sid: sid(&r.account_sid)?,
                friendly_name: r.friendly_name,
                default_activity_sid: sid(&r.default_activity_sid)?,
                default_activity_name: r.default_activity_name.unwrap_or_default(),
                timeout_activity_sid: sid(&r.timeout_activity_sid)?,
                timeout_activity_name: r.timeout_activity_name.unwrap_or_default(),
                event_callback_url: r.event_callback_url,
                events_filter: r.events_filter,
                multi_task_enabled: r.multi_task_enabled,
                prioritize_queue_order: r
                    .prioritize_queue_order
                    .parse()
                    .map_err(|()| StoreError::Corrupt(r.prioritize_queue_order.clone()))?,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The workspace, if it exists and belongs to `account`.
    pub async fn get_workspace(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
    ) -> Result<Option<Workspace>> {
        let row: Option<WorkspaceRow> =
            query_as(format!("{SELECT} WHERE w.sid = ? AND w.account_sid = ?"))
                .bind(ws.as_str())
                .bind(account.as_str())
                .fetch_optional(self.pool().await)
                .await?;
        row.map(|r| <(i64, Workspace)>::try_from(r).map(|(_, w)| w))
            .transpose()
    }

    /// The workspace, whoever owns it (for work the engine does on its own, like callbacks).
    pub async fn find_workspace(&self, ws: &WorkspaceSid) -> Result<Option<Workspace>> {
        let row: Option<WorkspaceRow> = query_as(format!("{SELECT} WHERE w.sid = ?"))
            .bind(ws.as_str())
            .fetch_optional(self.pool().await)
            .await?;
        row.map(|r| <(i64, Workspace)>::try_from(r).map(|(_, w)| w))
            .transpose()
    }

    /// A page of the account's workspaces.
    pub async fn list_workspaces(
        &self,
        account: &AccountSid,
        filter: &WorkspaceFilter,
        cursor: Cursor,
        size: usize,
    ) -> Result<Page<Workspace>> {
        let mut qb = Query::new(SELECT);
        qb.push(" WHERE w.account_sid = ")
            .push_bind(account.as_str());
        if let Some(name) = &filter.friendly_name {
            qb.push(" AND w.friendly_name = ").push_bind(name);
        }
        push_cursor(&mut qb, "w", cursor, Some(size + 1));
        let rows: Vec<WorkspaceRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        let rows = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_fetched(rows, cursor, size))
    }
}
