//! What a configuration change writes: the resources the API creates, changes and deletes
//! (workspaces, activities, task channels, queues, workflows, workers' creation and
//! deletion). The engine validates them and hands them to the store as [`Change::Configure`],
//! behind the workspace's earlier writes, like a routing decision's rows.
//!
//! [`Change::Configure`]: super::Change::Configure

use crate::model::{Activity, TaskChannel, TaskQueue, Worker, WorkerChannel, Workflow, Workspace};
use crate::sid::{
    AccountSid, ActivitySid, TaskChannelSid, TaskQueueSid, WorkerSid, WorkflowSid, WorkspaceSid,
};
use crate::Timestamp;

/// A new workspace with what it starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkspace {
    /// The workspace.
    pub workspace: Workspace,
    /// Its initial activities.
    pub activities: Vec<Activity>,
    /// Its initial task channels.
    pub channels: Vec<TaskChannel>,
    /// Queues created from a template.
    pub queues: Vec<TaskQueue>,
    /// Workflows created from a template.
    pub workflows: Vec<Workflow>,
}

/// One configuration change.
#[derive(Debug, Clone, PartialEq)]
pub enum Configure {
    /// Record an account, if it is not yet (the accounts that may sign in are the server's
    /// configuration; the row only anchors their workspaces).
    CreateAccount {
        /// The account.
        sid: AccountSid,
        /// When it was first seen.
        date_created: Timestamp,
    },
    /// Create a workspace with its initial resources.
    CreateWorkspace(Box<NewWorkspace>),
    /// Write a workspace's mutable fields.
    UpdateWorkspace(Workspace),
    /// Delete a workspace and everything in it.
    DeleteWorkspace(WorkspaceSid),
    /// Mark every event the workspace has recorded so far as handled by event callbacks: a
    /// new `EventCallbackUrl` hears only of what happens from then on.
    SkipRecordedEvents(WorkspaceSid),
    /// Create an activity.
    CreateActivity(Activity),
    /// Write an activity's name.
    UpdateActivity(Activity),
    /// Delete an activity.
    DeleteActivity(ActivitySid),
    /// Create a task channel, with a worker channel for each worker of the workspace.
    CreateTaskChannel {
        /// The channel.
        channel: TaskChannel,
        /// One per worker of the workspace.
        worker_channels: Vec<WorkerChannel>,
    },
    /// Write a task channel's mutable fields.
    UpdateTaskChannel(TaskChannel),
    /// Delete a task channel and its worker channels.
    DeleteTaskChannel(TaskChannelSid),
    /// Create a queue.
    CreateTaskQueue(TaskQueue),
    /// Write a queue's mutable fields.
    UpdateTaskQueue(TaskQueue),
    /// Delete a queue.
    DeleteTaskQueue(TaskQueueSid),
    /// Create a workflow.
    CreateWorkflow(Workflow),
    /// Write a workflow's mutable fields.
    UpdateWorkflow(Workflow),
    /// Delete a workflow.
    DeleteWorkflow(WorkflowSid),
    /// Create a worker, with a worker channel for each task channel of the workspace.
    CreateWorker {
        /// The worker.
        worker: Worker,
        /// One per task channel of the workspace.
        channels: Vec<WorkerChannel>,
    },
    /// Delete a worker and its channels.
    DeleteWorker(WorkerSid),
}
