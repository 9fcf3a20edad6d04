//! Workflows.

use switchyard_core::model::Workflow;
use switchyard_core::sid::{WorkflowSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::{query_as, Query};
use crate::{push_cursor, sid, Cursor, Page, Result, Store, StoreError};

/// Filters of the workflow list.
#[derive(Debug, Clone, Default)]
pub struct WorkflowFilter {
    /// Exact friendly name.
    pub friendly_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct WorkflowRow {
    seq: i64,
    sid: String,
    workspace_sid: String,
    friendly_name: String,
    configuration: String,
    assignment_callback_url: Option<String>,
    fallback_assignment_callback_url: Option<String>,
    task_reservation_timeout: i64,
    date_created: i64,
    date_updated: i64,
}

const SELECT: &str = "SELECT f.seq, f.sid, f.workspace_sid, f.friendly_name, f.configuration,
        f.assignment_callback_url, f.fallback_assignment_callback_url, f.task_reservation_timeout,
        f.date_created, f.date_updated FROM workflows f";

impl TryFrom<WorkflowRow> for (i64, Workflow) {
    type Error = StoreError;
    fn try_from(r: WorkflowRow) -> Result<Self> {
        Ok((
            r.seq,
            Workflow {
                sid: sid(&r.sid)?,
                workspace_sid: sid(&r.workspace_sid)?,
                friendly_name: r.friendly_name,
                configuration: r.configuration,
                assignment_callback_url: r.assignment_callback_url,
                fallback_assignment_callback_url: r.fallback_assignment_callback_url,
                task_reservation_timeout: r.task_reservation_timeout,
                date_created: Timestamp::from_millis(r.date_created),
                date_updated: Timestamp::from_millis(r.date_updated),
            },
        ))
    }
}

impl Store {
    /// The workflow, if it is in the workspace.
    pub async fn get_workflow(
        &self,
        ws: &WorkspaceSid,
        sid: &WorkflowSid,
    ) -> Result<Option<Workflow>> {
        let row: Option<WorkflowRow> =
            query_as(format!("{SELECT} WHERE f.sid = ? AND f.workspace_sid = ?"))
                .bind(sid.as_str())
                .bind(ws.as_str())
                .fetch_optional(self.pool().await)
                .await?;
        row.map(|r| <(i64, Workflow)>::try_from(r).map(|(_, f)| f))
            .transpose()
    }

    /// A page of the workspace's workflows.
    pub async fn list_workflows(
        &self,
        ws: &WorkspaceSid,
        filter: &WorkflowFilter,
        cursor: Cursor,
        size: usize,
    ) -> Result<Page<Workflow>> {
        let mut qb = Query::new(SELECT);
        qb.push(" WHERE f.workspace_sid = ").push_bind(ws.as_str());
        if let Some(name) = &filter.friendly_name {
            qb.push(" AND f.friendly_name = ").push_bind(name);
        }
        push_cursor(&mut qb, "f", cursor, Some(size + 1));
        let rows: Vec<WorkflowRow> = qb.build_query_as().fetch_all(self.pool().await).await?;
        let rows = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_fetched(rows, cursor, size))
    }

    /// Every workflow of the workspace, oldest first.
    pub async fn all_workflows(&self, ws: &WorkspaceSid) -> Result<Vec<Workflow>> {
        let rows: Vec<WorkflowRow> =
            query_as(format!("{SELECT} WHERE f.workspace_sid = ? ORDER BY f.seq"))
                .bind(ws.as_str())
                .fetch_all(self.pool().await)
                .await?;
        rows.into_iter()
            .map(|r| <(i64, Workflow)>::try_from(r).map(|(_, f)| f))
            .collect()
    }
}
