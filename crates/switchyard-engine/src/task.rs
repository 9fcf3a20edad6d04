//! Tasks.

use serde_json::Value;
use switchyard_core::decide::{
    check_virtual_start_time, Destination, NewTask, TaskChange, Triggers,
};
use switchyard_core::expr::Expr;
use switchyard_core::model::{
    parse_attributes, Task, DEFAULT_TASK_TIMEOUT_SECS, MAX_PRIORITY, MAX_TASK_TIMEOUT_SECS,
};
use switchyard_core::routing::TaskStatus;
use switchyard_core::sid::{
    AccountSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid, WorkspaceSid,
};
use switchyard_core::Timestamp;
use switchyard_store::{Cursor, TaskFilter};

use crate::lock::settle;
use crate::{check_version, filtered_page, Engine, Error, Page, PageRequest, Result};

/// Parameters of a new task.
#[derive(Debug, Clone, Default)]
pub struct CreateTask {
    /// Attributes JSON object; `{}` when absent.
    pub attributes: Option<String>,
    /// The workflow; optional when the workspace has exactly one.
    pub workflow_sid: Option<WorkflowSid>,
    /// Priority, 0 to 2,147,483,647; 0 when absent.
    pub priority: Option<i64>,
    /// Seconds it may wait for assignment; 86,400 when absent, at most 1,209,600.
    pub timeout: Option<i64>,
    /// Task channel SID or unique name; `default` when absent.
    pub task_channel: Option<String>,
    /// Ordering time; the creation time when absent.
    pub virtual_start_time: Option<Timestamp>,
    /// A worker, queue or workflow SID to route to directly.
    pub routing_target: Option<String>,
    /// With a worker routing target: reserve even without capacity (default true).
    pub ignore_capacity: Option<bool>,
    /// A queue to route to directly (as `RoutingTarget=WQ…`).
    pub task_queue_sid: Option<TaskQueueSid>,
}

/// Changes to a task.
#[derive(Debug, Clone, Default)]
pub struct UpdateTask {
    /// New attributes; a pending task is re-routed through its workflow.
    pub attributes: Option<String>,
    /// New priority.
    pub priority: Option<i64>,
    /// New task channel (SID or unique name).
    pub task_channel: Option<String>,
    /// New status: `canceled`, `wrapping` or `completed`.
    pub assignment_status: Option<TaskStatus>,
    /// Why it was canceled or completed.
    pub reason: Option<String>,
    /// New ordering time.
    pub virtual_start_time: Option<Timestamp>,
    /// Apply only if the task's version (its ETag) is this one.
    pub expected_version: Option<i64>,
}

/// Filters of the task list.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Filters SQL answers.
    pub filter: TaskFilter,
    /// Expression over task attributes.
    pub evaluate_task_attributes: Option<String>,
    /// Sort keys, each descending or not; creation order when empty.
    pub ordering: Vec<(TaskOrder, bool)>,
}

/// What a task list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOrder {
    /// Creation time.
    DateCreated,
    /// Priority.
    Priority,
    /// Ordering time.
    VirtualStartTime,
}

fn priority(p: i64) -> Result<i64> {
    if (0..=MAX_PRIORITY).contains(&p) {
        Ok(p)
    } else {
        Err(Error::field(
            "priority",
            format!("must be between 0 and {MAX_PRIORITY}, got {p}"),
        ))
    }
}

impl Engine {
    /// Creates a task and routes it. Returns the task as created (routing follows at once).
    pub async fn create_task(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: CreateTask,
    ) -> Result<Task> {
        let workspace = self.workspace(account, ws).await?;
        let now = self.now();
        let attributes = p.attributes.unwrap_or_else(|| "{}".to_owned());
        let attrs = parse_attributes(&attributes).map_err(|e| Error::field("attributes", e))?;
        let priority = priority(p.priority.unwrap_or(0))?;
        let timeout = p.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT_SECS);
        if !(1..=MAX_TASK_TIMEOUT_SECS).contains(&timeout) {
            return Err(Error::field(
                "timeout",
                format!("must be between 1 and {MAX_TASK_TIMEOUT_SECS} seconds, got {timeout}"),
            ));
        }
        let channel_key = p.task_channel.unwrap_or_else(|| "default".to_owned());
        let virtual_start_time = check_virtual_start_time(p.virtual_start_time.unwrap_or(now), now)
            .map_err(Error::from)?;

        // Where it goes: a direct target, or a workflow.
        let routing_target = p
            .routing_target
            .filter(|t| !t.is_empty())
            .or(p.task_queue_sid.map(|q| q.to_string()));
        let (destination, workflow_sid) = match &routing_target {
            None => (Destination::Workflow, p.workflow_sid),
            Some(target) => {
                if let Ok(w) = target.parse::<WorkerSid>() {
                    (Destination::Worker(w), p.workflow_sid)
                } else if let Ok(q) = target.parse::<TaskQueueSid>() {
                    (Destination::Queue(q), p.workflow_sid)
                } else if let Ok(f) = target.parse::<WorkflowSid>() {
                    (Destination::Workflow, Some(f))
                } else {
                    return Err(Error::field(
                        "routing_target",
                        format!("must be a Worker, TaskQueue or Workflow SID, got '{target}'"),
                    ));
                }
            }
        };
        if p.ignore_capacity.is_some() && !matches!(destination, Destination::Worker(_)) {
            return Err(Error::field(
                "ignore_capacity",
                "is only valid when the routing target is a Worker",
            ));
        }
        let new = NewTask {
            attributes,
            attrs,
            priority,
            timeout,
            task_channel: channel_key,
            virtual_start_time,
            routing_target,
            destination,
            workflow_sid,
            ignore_capacity: p.ignore_capacity,
        };
        // What the task names is looked up in the model, under the lock.
        let mut locked = self.lock(workspace).await?;
        let mut triggers = Triggers::default();
        let created = self.decide(&mut locked, now, |d| d.create_task(new, &mut triggers))?;
        // Once its own write commits the task exists: an error after that would have the
        // caller create it again. Whatever fails in routing it drops the workspace's model,
        // and rebuilding it routes the task.
        let own = locked.take_inflight();
        let routed = self.finish(locked, triggers).await;
        settle(own).await?;
        if let Err(e) = routed {
            tracing::warn!(task = %created.sid, error = %e, "routing a new task failed");
        }
        Ok(created)
    }

    /// A task of the workspace.
    pub async fn task(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskSid,
    ) -> Result<Task> {
        self.workspace(account, ws).await?;
        self.committed_task(ws, sid).await
    }

    /// A page of the workspace's tasks.
    pub async fn list_tasks(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        query: &TaskQuery,
        page: PageRequest,
    ) -> Result<Page<Task>> {
        self.workspace(account, ws).await?;
        let expression = query
            .evaluate_task_attributes
            .as_deref()
            .map(|e| {
                Expr::parse(e).map_err(|err| {
                    Error::field(
                        "evaluate_task_attributes",
                        format!("is not a valid expression: {err}"),
                    )
                })
            })
            .transpose()?;
        let keep = |t: &Task| {
            expression.as_ref().is_none_or(|e| {
                serde_json::from_str::<Value>(&t.attributes).is_ok_and(|a| e.eval(&a))
            })
        };
        if query.ordering.is_empty() || query.ordering == [(TaskOrder::DateCreated, false)] {
            return filtered_page(page, expression.is_some().then_some(&keep as _), |limit| {
                self.store.list_tasks(ws, &query.filter, page.cursor, limit)
            })
            .await;
        }
        // Any other order: sort the whole filtered list and page through it by position.
        let mut rows = self
            .store
            .list_tasks(ws, &query.filter, Cursor::Start, None)
            .await?;
        rows.retain(|(_, t)| keep(t));
        rows.sort_by(|(a_seq, a), (b_seq, b)| {
            query
                .ordering
                .iter()
                .map(|(key, desc)| {
                    let ord = match key {
                        TaskOrder::DateCreated => a_seq.cmp(b_seq),
                        TaskOrder::Priority => a.priority.cmp(&b.priority),
                        TaskOrder::VirtualStartTime => {
                            a.virtual_start_time.cmp(&b.virtual_start_time)
                        }
                    };
                    if *desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or(a_seq.cmp(b_seq))
        });
        let offset = match page.cursor {
            Cursor::Offset(n) => n,
            _ => 0,
        };
        Ok(Page::from_sorted(rows, offset, page.size))
    }

    /// Changes a task: attributes, priority, channel, ordering time, or its status.
    pub async fn update_task(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskSid,
        p: UpdateTask,
    ) -> Result<Task> {
        let workspace = self.workspace(account, ws).await?;
        let mut locked = self.lock(workspace).await?;
        let task = self.task_row(&mut locked, sid).await?;
        check_version(p.expected_version, task.version, "Task", sid)?;
        let now = self.now();
        // Everything is checked before anything changes (the core's `update_task`): a refused
        // update leaves the model, the store and the caller's view as they were.
        let attributes = match p.attributes {
            Some(text) => {
                let parsed = parse_attributes(&text).map_err(|e| Error::field("attributes", e))?;
                Some((text, parsed))
            }
            None => None,
        };
        let change = TaskChange {
            attributes,
            priority: p.priority.map(priority).transpose()?,
            task_channel: p.task_channel,
            virtual_start_time: p.virtual_start_time,
            assignment_status: p.assignment_status,
            reason: p.reason,
        };
        let mut triggers = Triggers::default();
        let updated = self.decide(&mut locked, now, |d| {
            d.update_task(task, change, &mut triggers)
        });
        self.finish(locked, triggers).await?;
        Ok(updated?)
    }

    /// Deletes a task; its pending reservations are canceled first.
    pub async fn delete_task(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskSid,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let workspace = self.workspace(account, ws).await?;
        let mut locked = self.lock(workspace).await?;
        let task = self.task_row(&mut locked, sid).await?;
        check_version(expected_version, task.version, "Task", sid)?;
        let now = self.now();
        let mut triggers = Triggers::default();
        self.decide(&mut locked, now, |d| d.delete_task(&task, &mut triggers));
        self.finish(locked, triggers).await
    }
}
