//! Workflows.

use switchyard_core::decide::{Change, Configure};
use switchyard_core::model::{
    Workflow, DEFAULT_RESERVATION_TIMEOUT_SECS, MAX_RESERVATION_TIMEOUT_SECS,
};
use switchyard_core::sid::{AccountSid, WorkflowSid, WorkspaceSid};
use switchyard_core::workflow::WorkflowConfig;
use switchyard_store::WorkflowFilter;

use crate::{
    callback_url, event, friendly_name, mint, new_friendly_name, Engine, Error, Page, PageRequest,
    Result,
};

/// Parameters of a new workflow.
#[derive(Debug, Clone, Default)]
pub struct CreateWorkflow {
    /// Display name (required).
    pub friendly_name: String,
    /// The configuration JSON (required).
    pub configuration: String,
    /// Where assignment callbacks go.
    pub assignment_callback_url: Option<String>,
    /// Where they go when the first URL fails.
    pub fallback_assignment_callback_url: Option<String>,
    /// Seconds a reservation may stay pending; 120 when absent, at most 86,400.
    pub task_reservation_timeout: Option<i64>,
}

/// Changes to a workflow.
#[derive(Debug, Clone, Default)]
pub struct UpdateWorkflow {
    /// New display name.
    pub friendly_name: Option<String>,
    /// New configuration JSON.
    pub configuration: Option<String>,
    /// New assignment callback URL; empty clears it.
    pub assignment_callback_url: Option<String>,
    /// New fallback URL; empty clears it.
    pub fallback_assignment_callback_url: Option<String>,
    /// New reservation timeout.
    pub task_reservation_timeout: Option<i64>,
    /// Re-route the workflow's pending tasks through the new configuration.
    pub re_evaluate_tasks: Option<bool>,
}

fn reservation_timeout(secs: i64) -> Result<i64> {
    if (1..=MAX_RESERVATION_TIMEOUT_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(Error::field(
            "task_reservation_timeout",
            format!("must be between 1 and {MAX_RESERVATION_TIMEOUT_SECS} seconds, got {secs}"),
        ))
    }
}

impl Engine {
    /// Checks a configuration document and that every queue it names is in the workspace.
    async fn check_configuration(&self, ws: &WorkspaceSid, text: &str) -> Result<WorkflowConfig> {
        let config = WorkflowConfig::parse(text).map_err(|e| Error::invalid(e.to_string()))?;
        for q in config.queue_sids() {
            if self.store.get_task_queue(ws, q).await?.is_none() {
                return Err(Error::invalid(format!(
                    "Invalid workflow configuration: TaskQueue {q} is not in workspace {ws}"
                )));
            }
        }
        Ok(config)
    }

    /// Creates a workflow.
    pub async fn create_workflow(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: CreateWorkflow,
    ) -> Result<Workflow> {
        let workspace = self.workspace(account, ws).await?;
        let name = friendly_name(Some(p.friendly_name), "friendly_name")?;
        if p.configuration.trim().is_empty() {
            return Err(Error::MissingField {
                field: "configuration",
            });
        }
        self.check_configuration(ws, &p.configuration).await?;
        let now = self.now();
        let workflow = Workflow {
            sid: mint(),
            workspace_sid: ws.clone(),
            friendly_name: name,
            configuration: p.configuration,
            assignment_callback_url: callback_url(
                p.assignment_callback_url,
                "assignment_callback_url",
            )?,
            fallback_assignment_callback_url: callback_url(
                p.fallback_assignment_callback_url,
                "fallback_assignment_callback_url",
            )?,
            task_reservation_timeout: reservation_timeout(
                p.task_reservation_timeout
                    .unwrap_or(DEFAULT_RESERVATION_TIMEOUT_SECS),
            )?,
            date_created: now,
            date_updated: now,
        };
        let created =
            event::workflow_configuration(mint(), &workspace, "workflow.created", &workflow, now);
        let changes = vec![
            Change::Configure(Configure::CreateWorkflow(workflow.clone())),
            Change::Event(created),
        ];
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await?;
        Ok(workflow)
    }

    /// A workflow of the workspace.
    pub async fn workflow(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &WorkflowSid,
    ) -> Result<Workflow> {
        self.workspace(account, ws).await?;
        self.store
            .get_workflow(ws, sid)
            .await?
            .ok_or_else(|| Error::not_found("Workflow", sid))
    }

    /// A page of the workspace's workflows.
    pub async fn list_workflows(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        filter: &WorkflowFilter,
        page: PageRequest,
    ) -> Result<Page<Workflow>> {
        self.workspace(account, ws).await?;
        Ok(self
            .store
            .list_workflows(ws, filter, page.cursor, page.size)
            .await?)
    }

    /// Changes a workflow.
    pub async fn update_workflow(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &WorkflowSid,
        p: UpdateWorkflow,
    ) -> Result<Workflow> {
        let mut f = self.workflow(account, ws, sid).await?;
        if let Some(name) = new_friendly_name(p.friendly_name, "friendly_name")? {
            f.friendly_name = name;
        }
        if let Some(c) = p.configuration {
            self.check_configuration(ws, &c).await?;
            f.configuration = c;
        }
        if p.assignment_callback_url.is_some() {
            f.assignment_callback_url =
                callback_url(p.assignment_callback_url, "assignment_callback_url")?;
        }
        if p.fallback_assignment_callback_url.is_some() {
            f.fallback_assignment_callback_url = callback_url(
                p.fallback_assignment_callback_url,
                "fallback_assignment_callback_url",
            )?;
        }
        if let Some(t) = p.task_reservation_timeout {
            f.task_reservation_timeout = reservation_timeout(t)?;
        }
        f.date_updated = self.now();
        let workspace = self.workspace(account, ws).await?;
        let updated = event::workflow_configuration(
            mint(),
            &workspace,
            "workflow.updated",
            &f,
            f.date_updated,
        );
        let changes = vec![
            Change::Configure(Configure::UpdateWorkflow(f.clone())),
            Change::Event(updated),
        ];
        self.configure(workspace.clone(), changes).await?;
        let all = p.re_evaluate_tasks == Some(true);
        self.reevaluate(workspace, sid, all).await?;
        Ok(f)
    }

    /// Deletes a workflow.
    pub async fn delete_workflow(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &WorkflowSid,
    ) -> Result<()> {
        let f = self.workflow(account, ws, sid).await?;
        let workspace = self.workspace(account, ws).await?;
        let deleted =
            event::workflow_configuration(mint(), &workspace, "workflow.deleted", &f, self.now());
        let changes = vec![
            Change::Configure(Configure::DeleteWorkflow(sid.clone())),
            Change::Event(deleted),
        ];
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await
    }
}
