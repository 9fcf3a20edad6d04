//! Workspaces.

use switchyard_core::decide::{Change, Configure, NewWorkspace};
use switchyard_core::model::{
    Activity, QueueOrder, TaskChannel, TaskQueue, Workflow, Workspace,
    DEFAULT_RESERVATION_TIMEOUT_SECS, DEFAULT_TARGET_WORKERS, DEFAULT_TASK_CHANNELS, EVENT_TYPES,
};
use switchyard_core::sid::{AccountSid, ActivitySid, WorkspaceSid};
use switchyard_store::{Cursor, WorkspaceFilter};

use crate::{
    callback_url, event, friendly_name, mint, new_friendly_name, Engine, Error, Page, PageRequest,
    Result,
};

/// The activities a new workspace starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivitySet {
    /// Today's Twilio: Offline, Available, Unavailable.
    #[default]
    Current,
    /// The older tutorials': Offline, Idle, Busy, Reserved.
    Legacy,
}

impl ActivitySet {
    fn activities(self) -> &'static [(&'static str, bool)] {
        match self {
            ActivitySet::Current => &[
                ("Offline", false),
                ("Available", true),
                ("Unavailable", false),
            ],
            ActivitySet::Legacy => &[
                ("Offline", false),
                ("Idle", true),
                ("Busy", false),
                ("Reserved", false),
            ],
        }
    }
}

/// Parameters of a new workspace.
#[derive(Debug, Clone, Default)]
pub struct CreateWorkspace {
    /// Display name (required).
    pub friendly_name: String,
    /// Where events are POSTed.
    pub event_callback_url: Option<String>,
    /// Comma-separated event types to POST.
    pub events_filter: Option<String>,
    /// Multitasking; defaults to true.
    pub multi_task_enabled: Option<bool>,
    /// `NONE` (default) or `FIFO`: also create a queue and a workflow.
    pub template: Option<String>,
    /// FIFO (default) or LIFO.
    pub prioritize_queue_order: Option<QueueOrder>,
}

/// Changes to a workspace; `None` leaves a field as it is, an empty string clears a URL or filter.
#[derive(Debug, Clone, Default)]
pub struct UpdateWorkspace {
    /// New display name.
    pub friendly_name: Option<String>,
    /// New default activity for new workers.
    pub default_activity_sid: Option<ActivitySid>,
    /// New activity for workers whose reservation timed out.
    pub timeout_activity_sid: Option<ActivitySid>,
    /// New event callback URL.
    pub event_callback_url: Option<String>,
    /// New events filter.
    pub events_filter: Option<String>,
    /// Switch multitasking on or off.
    pub multi_task_enabled: Option<bool>,
    /// New queue-order preference.
    pub prioritize_queue_order: Option<QueueOrder>,
}

fn events_filter(filter: Option<String>) -> Result<Option<String>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let types: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(t)) {
        return Err(Error::field(
            "events_filter",
            format!("names an unknown event type '{bad}'"),
        ));
    }
    Ok((!types.is_empty()).then(|| types.join(",")))
}

impl Engine {
    /// Creates a workspace with the default activities and task channels, and with `Template=FIFO`
    /// a queue and a workflow routing every task to it.
    pub async fn create_workspace(
        &self,
        account: &AccountSid,
        p: CreateWorkspace,
    ) -> Result<Workspace> {
        let name = friendly_name(Some(p.friendly_name), "friendly_name")?;
        let fifo = match p.template.as_deref() {
            None | Some("") | Some("NONE") => false,
            Some("FIFO") => true,
            Some(other) => {
                return Err(Error::field(
                    "template",
                    format!("must be NONE or FIFO, got '{other}'"),
                ))
            }
        };
        let now = self.now();
        let sid: WorkspaceSid = mint();
        let activities: Vec<Activity> = self
            .options
            .activity_set
            .activities()
            .iter()
            .map(|&(name, available)| Activity {
                sid: mint(),
                workspace_sid: sid.clone(),
                friendly_name: name.to_owned(),
                available,
                date_created: now,
                date_updated: now,
            })
            .collect();
        let offline = activities[0].clone();
        let channels: Vec<TaskChannel> = DEFAULT_TASK_CHANNELS
            .iter()
            .map(|&(friendly, unique)| TaskChannel {
                sid: mint(),
                workspace_sid: sid.clone(),
                friendly_name: friendly.to_owned(),
                unique_name: unique.to_owned(),
                channel_optimized_routing: false,
                date_created: now,
                date_updated: now,
            })
            .collect();
        let workspace = Workspace {
            sid: sid.clone(),
            account_sid: account.clone(),
            friendly_name: name,
            default_activity_sid: offline.sid.clone(),
            default_activity_name: offline.friendly_name.clone(),
            timeout_activity_sid: offline.sid.clone(),
            timeout_activity_name: offline.friendly_name.clone(),
            event_callback_url: callback_url(p.event_callback_url, "event_callback_url")?,
            events_filter: events_filter(p.events_filter)?,
            multi_task_enabled: p.multi_task_enabled.unwrap_or(true),
            prioritize_queue_order: p.prioritize_queue_order.unwrap_or_default(),
            date_created: now,
            date_updated: now,
        };
        let (mut queues, mut workflows) = (Vec::new(), Vec::new());
        if fifo {
            let by_name = |n: &str| {
                activities
                    .iter()
                    .find(|a| a.friendly_name == n)
                    .map(|a| (a.sid.clone(), a.friendly_name.clone()))
            };
            let queue = TaskQueue {
                sid: mint(),
                workspace_sid: sid.clone(),
                friendly_name: "Sample Queue".to_owned(),
                target_workers: DEFAULT_TARGET_WORKERS.to_owned(),
                max_reserved_workers: 1,
                task_order: QueueOrder::Fifo,
                reservation_activity: by_name("Reserved"),
                assignment_activity: by_name("Busy"),
                date_created: now,
                date_updated: now,
            };
            workflows.push(Workflow {
                sid: mint(),
                workspace_sid: sid.clone(),
                friendly_name: "Default Fifo Workflow".to_owned(),
                configuration: format!(
                    r#"{{"task_routing":{{"filters":[],"default_filter":{{"queue":"{}"}}}}}}"#,
                    queue.sid
                ),
                assignment_callback_url: None,
                fallback_assignment_callback_url: None,
                task_reservation_timeout: DEFAULT_RESERVATION_TIMEOUT_SECS,
                date_created: now,
                date_updated: now,
            });
            queues.push(queue);
        }
        // The workspace's event log starts with its creation and that of what it comes with.
        let mut events = vec![event::workspace(
            mint(),
            &workspace,
            "workspace.created",
            now,
        )];
        events.extend(
            activities
                .iter()
                .map(|a| event::activity(mint(), &workspace, "activity.created", a, now)),
        );
        events.extend(
            channels
                .iter()
                .map(|c| event::task_channel(mint(), &workspace, "task-channel.created", c, now)),
        );
        events.extend(
            queues
                .iter()
                .map(|q| event::task_queue(mint(), &workspace, "task-queue.created", q, now)),
        );
        events.extend(workflows.iter().map(|f| {
            event::workflow_configuration(mint(), &workspace, "workflow.created", f, now)
        }));
        let new = NewWorkspace {
            workspace: workspace.clone(),
            activities,
            channels,
            queues,
            workflows,
        };
        // Nobody else can reach the workspace before it commits: its events are the first.
        for (number, event) in (1..).zip(events.iter_mut()) {
            event.number = number;
        }
        let changes: Vec<_> =
            std::iter::once(Change::Configure(Configure::CreateWorkspace(Box::new(new))))
                .chain(events.into_iter().map(Change::Event))
                .collect();
        self.store.write(&changes).await?;
        Ok(workspace)
    }

    /// A page of the account's workspaces.
    pub async fn list_workspaces(
        &self,
        account: &AccountSid,
        filter: &WorkspaceFilter,
        page: PageRequest,
    ) -> Result<Page<Workspace>> {
        Ok(self
            .store
            .list_workspaces(account, filter, page.cursor, page.size)
            .await?)
    }

    /// Changes a workspace.
    pub async fn update_workspace(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: UpdateWorkspace,
    ) -> Result<Workspace> {
        let mut w = self.workspace(account, ws).await?;
        if let Some(name) = new_friendly_name(p.friendly_name, "friendly_name")? {
            w.friendly_name = name;
        }
        if let Some(a) = p.default_activity_sid {
            let a = self.activity_param(ws, &a, "default_activity_sid").await?;
            (w.default_activity_sid, w.default_activity_name) = (a.sid, a.friendly_name);
        }
        if let Some(a) = p.timeout_activity_sid {
            let a = self.activity_param(ws, &a, "timeout_activity_sid").await?;
            (w.timeout_activity_sid, w.timeout_activity_name) = (a.sid, a.friendly_name);
        }
        let old_callback = w.event_callback_url.clone();
        if p.event_callback_url.is_some() {
            w.event_callback_url = callback_url(p.event_callback_url, "event_callback_url")?;
        }
        if p.events_filter.is_some() {
            w.events_filter = events_filter(p.events_filter)?;
        }
        if let Some(m) = p.multi_task_enabled {
            w.multi_task_enabled = m;
        }
        if let Some(o) = p.prioritize_queue_order {
            w.prioritize_queue_order = o;
        }
        w.date_updated = self.now();
        let mut changes = Vec::new();
        if w.event_callback_url.is_some() && w.event_callback_url != old_callback {
            // A new URL hears of what happens from now on, not of the past.
            changes.push(Change::Configure(Configure::SkipRecordedEvents(ws.clone())));
        }
        changes.push(Change::Configure(Configure::UpdateWorkspace(w.clone())));
        let updated = event::workspace(mint(), &w, "workspace.updated", w.date_updated);
        changes.push(Change::Event(updated));
        self.configure(w.clone(), changes).await?;
        self.reload(w.clone()).await?;
        Ok(w)
    }

    /// Deletes a workspace and everything in it.
    pub async fn delete_workspace(&self, account: &AccountSid, ws: &WorkspaceSid) -> Result<()> {
        self.workspace(account, ws).await?;
        self.store
            .write(&[Change::Configure(Configure::DeleteWorkspace(ws.clone()))])
            .await?;
        self.forget(ws);
        self.workspace_deleted(ws).await?;
        Ok(())
    }

    /// Deletes every workspace of `account`, oldest first, and returns their SIDs; other accounts'
    /// workspaces are untouched. Each workspace goes in its own transaction: if one fails, those
    /// before it stay deleted and calling again finishes the job.
    pub async fn delete_all_workspaces(&self, account: &AccountSid) -> Result<Vec<WorkspaceSid>> {
        const BATCH: usize = 100;
        let all = WorkspaceFilter::default();
        let mut deleted = Vec::new();
        loop {
            // Always the first page: what was deleted is no longer in it.
            let page = (self.store)
                .list_workspaces(account, &all, Cursor::Start, BATCH)
                .await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            for (_, w) in page.items {
                let delete = Change::Configure(Configure::DeleteWorkspace(w.sid.clone()));
                self.store.write(&[delete]).await?;
                self.forget(&w.sid);
                self.workspace_deleted(&w.sid).await?;
                deleted.push(w.sid);
            }
        }
    }

    /// Looks up an activity named by a request parameter: a missing one is the parameter's fault (400).
    pub(crate) async fn activity_param(
        &self,
        ws: &WorkspaceSid,
        a: &ActivitySid,
        field: &'static str,
    ) -> Result<Activity> {
        self.store
            .get_activity(ws, a)
            .await?
            .ok_or_else(|| Error::field(field, format!("{a} is not an activity of workspace {ws}")))
    }
}
