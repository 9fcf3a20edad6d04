//! Activities.

use switchyard_core::decide::{Change, Configure};
use switchyard_core::model::Activity;
use switchyard_core::sid::{AccountSid, ActivitySid, WorkspaceSid};
use switchyard_store::ActivityFilter;

use crate::{
    event, friendly_name, mint, new_friendly_name, Engine, Error, Page, PageRequest, Result,
};

/// Parameters of a new activity.
#[derive(Debug, Clone, Default)]
pub struct CreateActivity {
    /// Display name (required), unique within the workspace.
    pub friendly_name: String,
    /// Whether workers in it can be reserved; false when absent, fixed afterwards.
    pub available: Option<bool>,
}

/// Changes to an activity: only the name can change.
#[derive(Debug, Clone, Default)]
pub struct UpdateActivity {
    /// New display name.
    pub friendly_name: Option<String>,
}

impl Engine {
    /// Creates an activity.
    pub async fn create_activity(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: CreateActivity,
    ) -> Result<Activity> {
        let workspace = self.workspace(account, ws).await?;
        let name = friendly_name(Some(p.friendly_name), "friendly_name")?;
        self.check_activity_name_free(ws, &name, None).await?;
        let now = self.now();
        let activity = Activity {
            sid: mint(),
            workspace_sid: ws.clone(),
            friendly_name: name,
            available: p.available.unwrap_or(false),
            date_created: now,
            date_updated: now,
        };
        let created = event::activity(mint(), &workspace, "activity.created", &activity, now);
        let changes = vec![
            Change::Configure(Configure::CreateActivity(activity.clone())),
            Change::Event(created),
        ];
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await?;
        Ok(activity)
    }

    /// An activity of the workspace.
    pub async fn activity(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &ActivitySid,
    ) -> Result<Activity> {
        self.workspace(account, ws).await?;
        self.store
            .get_activity(ws, sid)
            .await?
            .ok_or_else(|| Error::not_found("Activity", sid))
    }

    /// A page of the workspace's activities.
    pub async fn list_activities(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        filter: &ActivityFilter,
        page: PageRequest,
    ) -> Result<Page<Activity>> {
        self.workspace(account, ws).await?;
        Ok(self
            .store
            .list_activities(ws, filter, page.cursor, page.size)
            .await?)
    }

    /// Renames an activity.
    pub async fn update_activity(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &ActivitySid,
        p: UpdateActivity,
    ) -> Result<Activity> {
        let mut a = self.activity(account, ws, sid).await?;
        if let Some(name) = new_friendly_name(p.friendly_name, "friendly_name")? {
            self.check_activity_name_free(ws, &name, Some(sid)).await?;
            a.friendly_name = name;
        }
        a.date_updated = self.now();
        let workspace = self.workspace(account, ws).await?;
        let updated = event::activity(mint(), &workspace, "activity.updated", &a, a.date_updated);
        let changes = vec![
            Change::Configure(Configure::UpdateActivity(a.clone())),
            Change::Event(updated),
        ];
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await?;
        Ok(a)
    }

    /// Deletes an activity nothing refers to.
    pub async fn delete_activity(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &ActivitySid,
    ) -> Result<()> {
        let a = self.activity(account, ws, sid).await?;
        if let Some(why) = self.store.activity_usage(ws, sid).await? {
            return Err(Error::invalid(format!(
                "Activity {sid} cannot be deleted: {why}"
            )));
        }
        let workspace = self.workspace(account, ws).await?;
        let deleted = event::activity(mint(), &workspace, "activity.deleted", &a, self.now());
        let changes = vec![
            Change::Configure(Configure::DeleteActivity(sid.clone())),
            Change::Event(deleted),
        ];
        self.configure(workspace, changes).await
    }

    async fn check_activity_name_free(
        &self,
        ws: &WorkspaceSid,
        name: &str,
        except: Option<&ActivitySid>,
    ) -> Result<()> {
        match self.store.find_activity_by_name(ws, name).await? {
            Some(a) if Some(&a.sid) != except => Err(Error::invalid(format!(
                "Activity named {name} already exists for workspace {ws}"
            ))),
            _ => Ok(()),
        }
    }
}
