//! Task channels.

use switchyard_core::decide::{Change, Configure};
use switchyard_core::model::{is_valid_unique_name, TaskChannel, WorkerChannel};
use switchyard_core::sid::{AccountSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::{
    event, friendly_name, mint, new_friendly_name, Engine, Error, Page, PageRequest, Result,
};

/// Most task channels a workspace may have, the default ones included.
pub(crate) const MAX_TASK_CHANNELS: i64 = 15;

/// A page size that holds every task channel of a workspace, whatever made it.
pub(crate) const ALL_TASK_CHANNELS: usize = 10_000;

/// Parameters of a new task channel.
#[derive(Debug, Clone, Default)]
pub struct CreateTaskChannel {
    /// Display name (required).
    pub friendly_name: String,
    /// Unique name (required): letters, digits, `_`, `$`, not starting with a digit.
    pub unique_name: String,
    /// Prefer the workers idle longest.
    pub channel_optimized_routing: Option<bool>,
}

/// Changes to a task channel.
#[derive(Debug, Clone, Default)]
pub struct UpdateTaskChannel {
    /// New display name.
    pub friendly_name: Option<String>,
    /// New routing preference.
    pub channel_optimized_routing: Option<bool>,
}

impl Engine {
    /// Creates a task channel, and a channel for it on every worker.
    pub async fn create_task_channel(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: CreateTaskChannel,
    ) -> Result<TaskChannel> {
        let workspace = self.workspace(account, ws).await?;
        let name = friendly_name(Some(p.friendly_name), "friendly_name")?;
        if p.unique_name.is_empty() {
            return Err(Error::MissingField {
                field: "unique_name",
            });
        }
        if !is_valid_unique_name(&p.unique_name) || p.unique_name.len() > 64 {
            return Err(Error::field(
                "unique_name",
                format!(
                    "'{}' is invalid: use letters, digits, '_' and '$', not starting with a digit",
                    p.unique_name
                ),
            ));
        }
        let now = self.now();
        let channel = TaskChannel {
            sid: mint(),
            workspace_sid: ws.clone(),
            friendly_name: name,
            unique_name: p.unique_name,
            channel_optimized_routing: p.channel_optimized_routing.unwrap_or(false),
            date_created: now,
            date_updated: now,
        };
        let created =
            event::task_channel(mint(), &workspace, "task-channel.created", &channel, now);
        // Checked and written under the workspace's lock: two channels created at once cannot
        // both take the last place or the same name, and a worker created meanwhile either is
        // listed here or lists this channel.
        let locked = self.lock(workspace.clone()).await?;
        if let Err(e) = self.check_task_channel_fits(ws, &channel.unique_name).await {
            self.release_lock(locked, Ok(())).await?;
            return Err(e);
        }
        let capacity = self.options.default_channel_capacity;
        let worker_channels = (self.store.all_workers(ws).await?)
            .into_iter()
            .map(|(_, w)| new_worker_channel(&w.sid, &channel, capacity, now))
            .collect();
        let changes = vec![
            Change::Configure(Configure::CreateTaskChannel {
                channel: channel.clone(),
                worker_channels,
            }),
            Change::Event(created),
        ];
        self.configure_locked(locked, changes).await?;
        self.reload(workspace).await?;
        Ok(channel)
    }

    /// Whether the workspace can take another task channel named `unique_name`.
    async fn check_task_channel_fits(&self, ws: &WorkspaceSid, unique_name: &str) -> Result<()> {
        if (self.store.get_task_channel(ws, unique_name).await?).is_some() {
            return Err(Error::field(
                "unique_name",
                format!("{unique_name} already exists for workspace {ws}"),
            ));
        }
        if self.store.count_task_channels(ws).await? >= MAX_TASK_CHANNELS {
            return Err(Error::invalid(format!(
                "Workspace {ws} already has the maximum of {MAX_TASK_CHANNELS} TaskChannels"
            )));
        }
        Ok(())
    }

    /// A task channel, by SID or unique name.
    pub async fn task_channel(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        key: &str,
    ) -> Result<TaskChannel> {
        self.workspace(account, ws).await?;
        self.store
            .get_task_channel(ws, key)
            .await?
            .ok_or_else(|| Error::not_found("TaskChannel", key))
    }

    /// A page of the workspace's task channels.
    pub async fn list_task_channels(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        page: PageRequest,
    ) -> Result<Page<TaskChannel>> {
        self.workspace(account, ws).await?;
        Ok(self
            .store
            .list_task_channels(ws, page.cursor, page.size)
            .await?)
    }

    /// Changes a task channel.
    pub async fn update_task_channel(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        key: &str,
        p: UpdateTaskChannel,
    ) -> Result<TaskChannel> {
        let mut c = self.task_channel(account, ws, key).await?;
        if let Some(name) = new_friendly_name(p.friendly_name, "friendly_name")? {
            c.friendly_name = name;
        }
        if let Some(r) = p.channel_optimized_routing {
            c.channel_optimized_routing = r;
        }
        c.date_updated = self.now();
        let workspace = self.workspace(account, ws).await?;
        let updated = event::task_channel(
            mint(),
            &workspace,
            "task-channel.updated",
            &c,
            c.date_updated,
        );
        let changes = vec![
            Change::Configure(Configure::UpdateTaskChannel(c.clone())),
            Change::Event(updated),
        ];
        self.configure(workspace.clone(), changes).await?;
        Ok(c)
    }

    /// Deletes a task channel and the workers' channels for it.
    pub async fn delete_task_channel(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        key: &str,
    ) -> Result<()> {
        let c = self.task_channel(account, ws, key).await?;
        let workspace = self.workspace(account, ws).await?;
        let deleted =
            event::task_channel(mint(), &workspace, "task-channel.deleted", &c, self.now());
        let changes = vec![
            Change::Configure(Configure::DeleteTaskChannel(c.sid.clone())),
            Change::Event(deleted),
        ];
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await
    }
}

/// A worker's channel for a task channel, as a worker or a task channel created at `now`
/// starts with it.
pub(crate) fn new_worker_channel(
    worker: &WorkerSid,
    channel: &TaskChannel,
    capacity: i64,
    now: Timestamp,
) -> WorkerChannel {
    WorkerChannel {
        sid: mint(),
        workspace_sid: channel.workspace_sid.clone(),
        worker_sid: worker.clone(),
        task_channel_sid: channel.sid.clone(),
        task_channel_unique_name: channel.unique_name.clone(),
        configured_capacity: capacity,
        available: true,
        assigned_tasks: 0,
        active_reservations: 0,
        date_created: now,
        date_updated: now,
    }
}
