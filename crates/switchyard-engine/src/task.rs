//! Tasks.

use serde_json::Value;
use switchyard_core::decide::{filter_name, place, step_events, workflow_entry, Triggers};
use switchyard_core::expr::Expr;
use switchyard_core::lifecycle;
use switchyard_core::model::{
    parse_attributes, Task, DEFAULT_TASK_TIMEOUT_SECS, MAX_PRIORITY, MAX_TASK_TIMEOUT_SECS,
};
use switchyard_core::routing::{Route, TaskStatus};
use switchyard_core::sid::{
    AccountSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid, WorkspaceSid,
};
use switchyard_core::Timestamp;
use switchyard_store::{Cursor, TaskFilter, Write};

use crate::event;
use crate::lock::settle;
use crate::{check_version, filtered_page, mint, Engine, Error, Minter, Page, PageRequest, Result};
use switchyard_core::routing::task_state;

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

fn check_virtual_start_time(t: Timestamp, now: Timestamp) -> Result<Timestamp> {
    // 1900-01-01T00:00:00Z
    const EARLIEST: i64 = -2_208_988_800_000;
    if t > now {
        return Err(Error::field(
            "virtual_start_time",
            "must not be in the future",
        ));
    }
    if t.as_millis() < EARLIEST {
        return Err(Error::field(
            "virtual_start_time",
            "must not be before 1900",
        ));
    }
    Ok(t)
}

/// Fails unless a request may move `task` to `to`.
fn check_move(task: &Task, to: TaskStatus) -> Result<()> {
    lifecycle::task_request(task.assignment_status, to)
        .map_err(|e| Error::invalid(format!("Task {} {e}", task.sid)))
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
        let virtual_start_time =
            check_virtual_start_time(p.virtual_start_time.unwrap_or(now), now)?;

        // Where it goes: a direct target, or a workflow.
        let routing_target = p
            .routing_target
            .filter(|t| !t.is_empty())
            .or(p.task_queue_sid.map(|q| q.to_string()));
        let mut workflow_sid = p.workflow_sid;
        let mut direct_queue = None;
        let mut direct_worker_sid = None;
        if let Some(target) = &routing_target {
            if let Ok(w) = target.parse::<WorkerSid>() {
                direct_worker_sid = Some(w);
            } else if let Ok(q) = target.parse::<TaskQueueSid>() {
                direct_queue = Some(q);
            } else if let Ok(f) = target.parse::<WorkflowSid>() {
                workflow_sid = Some(f);
            } else {
                return Err(Error::field(
                    "routing_target",
                    format!("must be a Worker, TaskQueue or Workflow SID, got '{target}'"),
                ));
            }
        }
        let direct_worker = routing_target
            .as_deref()
            .is_some_and(|t| t.starts_with("WK"));
        if p.ignore_capacity.is_some() && !direct_worker {
            return Err(Error::field(
                "ignore_capacity",
                "is only valid when the routing target is a Worker",
            ));
        }
        // What the task names is looked up in the model, under the lock.
        let mut locked = self.lock(workspace).await?;
        if let Some(w) = &direct_worker_sid {
            locked.model().rows.worker(w).ok_or_else(|| {
                Error::field(
                    "routing_target",
                    format!("{w} is not a Worker of workspace {ws}"),
                )
            })?;
        }
        if let Some(q) = &direct_queue {
            if !locked.model().queues.contains_key(q) {
                return Err(Error::field(
                    "routing_target",
                    format!("{q} is not a TaskQueue of workspace {ws}"),
                ));
            }
        }
        let rows = &locked.model().rows;
        let channel = rows.task_channel(&channel_key).cloned().ok_or_else(|| {
            Error::field(
                "task_channel",
                format!("{channel_key} is not a task channel of workspace {ws}"),
            )
        })?;
        if workflow_sid.is_none() && routing_target.is_none() {
            match locked.model().rows.workflows().as_slice() {
                [only] => workflow_sid = Some(only.sid.clone()),
                [] => {
                    return Err(Error::field(
                        "workflow_sid",
                        "is required: the workspace has no workflow",
                    ))
                }
                _ => {
                    return Err(Error::field(
                        "workflow_sid",
                        "is required when the workspace has more than one workflow",
                    ))
                }
            }
        }
        let workflow = match &workflow_sid {
            Some(f) => Some(locked.model().rows.workflow(f).cloned().ok_or_else(|| {
                Error::field(
                    "workflow_sid",
                    format!("{f} is not a Workflow of workspace {ws}"),
                )
            })?),
            None => None,
        };

        let mut task = Task {
            sid: mint(),
            workspace_sid: ws.clone(),
            workflow: workflow
                .as_ref()
                .map(|f| (f.sid.clone(), f.friendly_name.clone())),
            attributes,
            assignment_status: TaskStatus::Pending,
            priority,
            timeout,
            task_channel: (channel.sid, channel.unique_name),
            task_queue: None,
            task_queue_entered_date: None,
            virtual_start_time,
            reason: None,
            routing_target,
            ignore_capacity: if direct_worker {
                Some(p.ignore_capacity.unwrap_or(true))
            } else {
                None
            },
            step: None,
            step_entered: None,
            assignment_count: 0,
            addons: "{}".to_owned(),
            version: 0,
            date_created: now,
            date_updated: now,
        };
        if let Some(q) = &direct_queue {
            place(locked.model(), &mut task, Some(q), now);
        } else if let (Some(f), false) = (&workflow, direct_worker) {
            if let Some(at) = workflow_entry(locked.model(), &f.sid, &attrs, now) {
                let step = locked
                    .model()
                    .workflow(&f.sid)
                    .and_then(|c| c.step(at))
                    .map(|s| (s.queue.clone(), s.target.priority));
                if let Some((queue, step_priority)) = step {
                    place(locked.model(), &mut task, Some(&queue), now);
                    if let Some(p) = step_priority {
                        task.priority = p;
                    }
                }
                task.step = Some(at);
                task.step_entered = Some(now);
            }
        }
        let label = task
            .step
            .and_then(|at| filter_name(locked.model(), &task, at));
        let events = {
            let ws = &locked.workspace;
            let mut events = vec![event::task(mint(), ws, "task.created", &task, now)];
            let routed_by_workflow =
                task.workflow.is_some() && !direct_worker && direct_queue.is_none();
            if routed_by_workflow {
                events.push(event::workflow(
                    mint(),
                    ws,
                    "workflow.entered",
                    &task,
                    None,
                    now,
                ));
            }
            match (task.step, &task.task_queue) {
                (Some(at), _) if routed_by_workflow => {
                    events.extend(step_events(
                        &mut Minter,
                        ws,
                        &task,
                        None,
                        (at, label.as_deref()),
                        now,
                    ));
                }
                (_, Some(q)) => {
                    events.push(event::queue(
                        mint(),
                        ws,
                        "task-queue.entered",
                        &task,
                        q,
                        now,
                    ));
                }
                _ => {}
            }
            events
        };
        let mut writes = vec![Write::Task(&task)];
        writes.extend(events.iter().map(Write::Event));
        self.commit(&mut locked, &writes);
        // Once its own write commits the task exists: an error after that would have the
        // caller create it again. Whatever fails in routing it drops the workspace's model,
        // and rebuilding it routes the task.
        let own = locked.take_inflight();
        let seq = locked.model().rows.take_task_seq();
        locked.model().put_task(task_state(&task, seq));
        let created = task.clone();
        let triggers = Triggers {
            tasks: vec![task.sid.clone()],
            ..Default::default()
        };
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
        let mut task = self.task_row(&mut locked, sid).await?;
        check_version(p.expected_version, task.version, "Task", sid)?;
        let now = self.now();
        // Everything is checked before anything changes: a refused update leaves the model,
        // the store and the caller's view as they were.
        let attrs = match &p.attributes {
            Some(text) => Some(parse_attributes(text).map_err(|e| Error::field("attributes", e))?),
            None => None,
        };
        let new_priority = p.priority.map(priority).transpose()?;
        let new_channel = match &p.task_channel {
            Some(key) => {
                let channel = self.store.get_task_channel(ws, key).await?.ok_or_else(|| {
                    Error::field(
                        "task_channel",
                        format!("{key} is not a task channel of workspace {ws}"),
                    )
                })?;
                let changes = channel.sid != task.task_channel.0;
                if changes && task.assignment_status != TaskStatus::Pending {
                    return Err(Error::field(
                        "task_channel",
                        format!(
                            "can only change while the task is pending; it is {}",
                            task.assignment_status.as_str()
                        ),
                    ));
                }
                changes.then_some(channel)
            }
            None => None,
        };
        let new_virtual_start_time = p
            .virtual_start_time
            .map(|vst| check_virtual_start_time(vst, now))
            .transpose()?;
        if let Some(to) = p.assignment_status {
            check_move(&task, to)?;
        }

        let mut triggers = Triggers::default();
        let routing = task.assignment_status.is_routing();
        if let (Some(text), Some(attrs)) = (p.attributes, attrs) {
            task.attributes = text;
            locked.model().update_task(sid, |t| {
                t.attributes = attrs.clone();
            });
            // A pending task goes through its workflow again with its new attributes.
            if task.assignment_status == TaskStatus::Pending {
                if let (Some((workflow, _)), None) = (task.workflow.clone(), &task.routing_target) {
                    match workflow_entry(locked.model(), &workflow, &attrs, now) {
                        Some(at) => self.decide(&mut locked, now, |d| {
                            d.enter_step(&mut task, &workflow, at, None)
                        }),
                        None => {
                            place(locked.model(), &mut task, None, now);
                            task.step = None;
                            task.step_entered = None;
                            locked.model().update_task(sid, |t| {
                                t.route = Route::Unrouted;
                                t.queue = None;
                            });
                        }
                    }
                }
                triggers.tasks.push(sid.clone());
            }
        }
        if let Some(pr) = new_priority {
            task.priority = pr;
            locked.model().update_task(sid, |t| {
                t.priority = pr;
            });
            if routing {
                triggers.tasks.push(sid.clone());
            }
        }
        if let Some(channel) = new_channel {
            locked.model().update_task(sid, |t| {
                t.channel = channel.sid.clone();
            });
            task.task_channel = (channel.sid, channel.unique_name);
            triggers.tasks.push(sid.clone());
        }
        if let Some(vst) = new_virtual_start_time {
            task.virtual_start_time = vst;
            locked.model().update_task(sid, |t| {
                t.virtual_start_time = vst;
            });
        }
        if p.reason.is_some() && p.assignment_status.is_none() {
            task.reason = p.reason.clone();
        }

        match p.assignment_status {
            None => {
                task.version += 1;
                task.date_updated = now;
                let updated = event::task(mint(), &locked.workspace, "task.updated", &task, now);
                self.commit(&mut locked, &[Write::Task(&task), Write::Event(&updated)]);
            }
            Some(to) => {
                let reason = p.reason.as_deref();
                let moved = self.decide(&mut locked, now, |d| {
                    d.move_task(task, to, reason, &mut triggers)
                });
                (task, _) = moved?;
            }
        }
        self.finish(locked, triggers).await?;
        Ok(task)
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
