//! Task queues.

use serde_json::Value;
use switchyard_core::model::{QueueOrder, TaskQueue, DEFAULT_TARGET_WORKERS, MAX_RESERVED_WORKERS};
use switchyard_core::sid::{AccountSid, ActivitySid, TaskQueueSid, WorkerSid, WorkspaceSid};
use switchyard_core::workflow::WorkflowConfig;
use switchyard_store::TaskQueueFilter;

use crate::worker::{in_queue, parse_expression};
use crate::{
    event, filtered_page, friendly_name, mint, new_friendly_name, Engine, Error, Page, PageRequest,
    Result,
};
use switchyard_core::decide::{Change, Configure, Triggers};
use switchyard_core::routing::queue_state;

/// Parameters of a new queue.
#[derive(Debug, Clone, Default)]
pub struct CreateTaskQueue {
    /// Display name (required), unique within the workspace.
    pub friendly_name: String,
    /// Expression over worker attributes; `1==1` when absent.
    pub target_workers: Option<String>,
    /// Workers one task may reserve at once, 1 to 50; 1 when absent.
    pub max_reserved_workers: Option<i64>,
    /// FIFO (default) or LIFO.
    pub task_order: Option<QueueOrder>,
    /// Activity of a single-tasking worker while reserved.
    pub reservation_activity_sid: Option<ActivitySid>,
    /// Activity of a single-tasking worker once it accepts.
    pub assignment_activity_sid: Option<ActivitySid>,
}

/// Changes to a queue.
#[derive(Debug, Clone, Default)]
pub struct UpdateTaskQueue {
    /// New display name.
    pub friendly_name: Option<String>,
    /// New worker expression.
    pub target_workers: Option<String>,
    /// New multi-reservation width.
    pub max_reserved_workers: Option<i64>,
    /// New order.
    pub task_order: Option<QueueOrder>,
    /// New reservation activity.
    pub reservation_activity_sid: Option<ActivitySid>,
    /// New assignment activity.
    pub assignment_activity_sid: Option<ActivitySid>,
}

/// Filters of the queue list.
#[derive(Debug, Clone, Default)]
pub struct TaskQueueQuery {
    /// Filters SQL answers.
    pub filter: TaskQueueFilter,
    /// Only queues whose `TargetWorkers` holds for these worker attributes (a JSON object).
    pub evaluate_worker_attributes: Option<String>,
    /// Only queues this worker belongs to.
    pub worker_sid: Option<WorkerSid>,
}

fn max_reserved_workers(n: i64) -> Result<i64> {
    if MAX_RESERVED_WORKERS.contains(&n) {
        Ok(n)
    } else {
        Err(Error::field(
            "max_reserved_workers",
            format!(
                "must be between {} and {}, got {n}",
                MAX_RESERVED_WORKERS.start(),
                MAX_RESERVED_WORKERS.end()
            ),
        ))
    }
}

/// Checks a `TargetWorkers` expression. An empty one is allowed and selects nobody: as Twilio
/// documents, tasks then wait in the queue until they are moved or deleted.
fn target_workers(text: String) -> Result<String> {
    if text.trim().is_empty() {
        return Ok(String::new());
    }
    parse_expression(&text, "target_workers")?;
    Ok(text)
}

impl Engine {
    /// Creates a queue.
    pub async fn create_task_queue(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        p: CreateTaskQueue,
    ) -> Result<TaskQueue> {
        let workspace = self.workspace(account, ws).await?;
        let name = friendly_name(Some(p.friendly_name), "friendly_name")?;
        self.check_queue_name_free(ws, &name, None).await?;
        let target = match p.target_workers {
            Some(t) => target_workers(t)?,
            None => DEFAULT_TARGET_WORKERS.to_owned(),
        };
        let now = self.now();
        let queue = TaskQueue {
            sid: mint(),
            workspace_sid: ws.clone(),
            friendly_name: name,
            target_workers: target,
            max_reserved_workers: max_reserved_workers(p.max_reserved_workers.unwrap_or(1))?,
            task_order: p.task_order.unwrap_or_default(),
            reservation_activity: self
                .queue_activity(ws, p.reservation_activity_sid, "reservation_activity_sid")
                .await?,
            assignment_activity: self
                .queue_activity(ws, p.assignment_activity_sid, "assignment_activity_sid")
                .await?,
            date_created: now,
            date_updated: now,
        };
        let created = event::task_queue(mint(), &workspace, "task-queue.created", &queue, now);
        let mut locked = self.lock(workspace).await?;
        let mut changes = [
            Change::Configure(Configure::CreateTaskQueue(queue.clone())),
            Change::Event(created),
        ];
        self.submit(&mut locked, &mut changes, None);
        locked.model().put_queue(queue_state(&queue));
        // A new queue holds no tasks yet, so it makes no reservation possible.
        self.finish(locked, Triggers::default()).await?;
        Ok(queue)
    }

    /// A queue of the workspace.
    pub async fn task_queue(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskQueueSid,
    ) -> Result<TaskQueue> {
        self.workspace(account, ws).await?;
        self.store
            .get_task_queue(ws, sid)
            .await?
            .ok_or_else(|| Error::not_found("TaskQueue", sid))
    }

    /// A page of the workspace's queues.
    pub async fn list_task_queues(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        query: &TaskQueueQuery,
        page: PageRequest,
    ) -> Result<Page<TaskQueue>> {
        self.workspace(account, ws).await?;
        let attributes: Option<Value> = match &query.evaluate_worker_attributes {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                Error::field(
                    "evaluate_worker_attributes",
                    format!("is not valid JSON: {e}"),
                )
            })?),
            None => None,
        };
        let worker = match &query.worker_sid {
            Some(w) => Some(self.store.get_worker(ws, w).await?.ok_or_else(|| {
                Error::field(
                    "worker_sid",
                    format!("{w} is not a Worker of workspace {ws}"),
                )
            })?),
            None => None,
        };
        // A stored expression always parses (it was checked on write); one that somehow does not
        // matches nobody rather than failing the list.
        let keep = |q: &TaskQueue| {
            let Ok(target) = switchyard_core::expr::Expr::parse(&q.target_workers) else {
                return false;
            };
            attributes.as_ref().is_none_or(|a| target.eval(a))
                && worker.as_ref().is_none_or(|w| in_queue(&target, w))
        };
        let needs_keep = attributes.is_some() || worker.is_some();
        filtered_page(page, needs_keep.then_some(&keep as _), |limit| {
            self.store
                .list_task_queues(ws, &query.filter, page.cursor, limit)
        })
        .await
    }

    /// Changes a queue.
    pub async fn update_task_queue(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskQueueSid,
        p: UpdateTaskQueue,
    ) -> Result<TaskQueue> {
        let mut q = self.task_queue(account, ws, sid).await?;
        if let Some(name) = new_friendly_name(p.friendly_name, "friendly_name")? {
            self.check_queue_name_free(ws, &name, Some(sid)).await?;
            q.friendly_name = name;
        }
        let mut expression_changed = false;
        if let Some(t) = p.target_workers {
            let t = target_workers(t)?;
            expression_changed = t != q.target_workers;
            q.target_workers = t;
        }
        if let Some(n) = p.max_reserved_workers {
            q.max_reserved_workers = max_reserved_workers(n)?;
        }
        if let Some(o) = p.task_order {
            q.task_order = o;
        }
        if p.reservation_activity_sid.is_some() {
            q.reservation_activity = self
                .queue_activity(ws, p.reservation_activity_sid, "reservation_activity_sid")
                .await?;
        }
        if p.assignment_activity_sid.is_some() {
            q.assignment_activity = self
                .queue_activity(ws, p.assignment_activity_sid, "assignment_activity_sid")
                .await?;
        }
        q.date_updated = self.now();
        let workspace = self.workspace(account, ws).await?;
        // Twilio has no `task-queue.updated`: only a new expression is an event.
        let events: Vec<_> = expression_changed
            .then(|| {
                let kind = "task-queue.expression.updated";
                event::task_queue(mint(), &workspace, kind, &q, q.date_updated)
            })
            .into_iter()
            .collect();
        let changes = std::iter::once(Change::Configure(Configure::UpdateTaskQueue(q.clone())))
            .chain(events.into_iter().map(Change::Event))
            .collect();
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await?;
        Ok(q)
    }

    /// Deletes a queue no workflow routes to.
    pub async fn delete_task_queue(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskQueueSid,
    ) -> Result<()> {
        let q = self.task_queue(account, ws, sid).await?;
        for wf in self.store.all_workflows(ws).await? {
            let routes_here = WorkflowConfig::parse(&wf.configuration)
                .map(|c| c.queue_sids().contains(&sid))
                .unwrap_or(false);
            if routes_here {
                return Err(Error::invalid(format!(
                    "TaskQueue {sid} cannot be deleted: Workflow {} ({}) routes tasks to it",
                    wf.sid, wf.friendly_name
                )));
            }
        }
        let workspace = self.workspace(account, ws).await?;
        let deleted = event::task_queue(mint(), &workspace, "task-queue.deleted", &q, self.now());
        let changes = vec![
            Change::Configure(Configure::DeleteTaskQueue(sid.clone())),
            Change::Event(deleted),
        ];
        self.configure(workspace.clone(), changes).await?;
        self.reload(workspace).await
    }

    async fn queue_activity(
        &self,
        ws: &WorkspaceSid,
        sid: Option<ActivitySid>,
        field: &'static str,
    ) -> Result<Option<(ActivitySid, String)>> {
        match sid {
            Some(a) => {
                let a = self.activity_param(ws, &a, field).await?;
                Ok(Some((a.sid, a.friendly_name)))
            }
            None => Ok(None),
        }
    }

    async fn check_queue_name_free(
        &self,
        ws: &WorkspaceSid,
        name: &str,
        except: Option<&TaskQueueSid>,
    ) -> Result<()> {
        if self.store.task_queue_name_taken(ws, name, except).await? {
            return Err(Error::invalid(format!(
                "Queue named {name} already exists for workspace {ws}"
            )));
        }
        Ok(())
    }
}
