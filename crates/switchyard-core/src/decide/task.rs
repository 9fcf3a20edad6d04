//! A task created, moved through its life on request (cancel, wrap up, complete), deleted.

use serde_json::Value;

use super::{filter_name, place, step_events, workflow_entry};
use super::{Change, Decider, Mint, Refused, Triggers};
use crate::event::build as event;
use crate::lifecycle;
use crate::model::{Reservation, Task};
use crate::routing::{task_state, ReservationStatus, Route, TaskStatus};
use crate::sid::{TaskQueueSid, TaskSid, WorkerSid, WorkflowSid};
use crate::Timestamp;

impl<M: Mint> Decider<'_, M> {
    /// Moves `task` (its row as the caller changed it) to `to`, with the effects on its
    /// reservations and workers; checked against the task's state machine first. Returns the
    /// task as moved and the reservations that followed it.
    pub fn move_task(
        &mut self,
        mut task: Task,
        to: TaskStatus,
        reason: Option<&str>,
        triggers: &mut Triggers,
    ) -> Result<(Task, Vec<Reservation>), Refused> {
        use TaskStatus as S;
        lifecycle::task_request(task.assignment_status, to)
            .map_err(|e| Refused::transition("Task", &task.sid, e))?;
        let now = self.now;
        if to == S::Canceled {
            let workers = (self.model.task(&task.sid))
                .map(|t| t.pending.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let task = self.cancel(task, reason, Vec::new());
            triggers.workers.extend(workers);
            return Ok((task, Vec::new()));
        }
        // Assigned or wrapping: the accepted (or wrapping) reservation follows the task.
        let (from, res_to) = match to {
            S::Wrapping => (
                &[ReservationStatus::Accepted][..],
                ReservationStatus::Wrapping,
            ),
            _ => (
                &[ReservationStatus::Accepted, ReservationStatus::Wrapping][..],
                ReservationStatus::Completed,
            ),
        };
        let mut moved = Vec::new();
        for mut r in self.model.rows.task_reservations(&task.sid) {
            if from.contains(&r.status) {
                let before = r.status;
                r.status = res_to;
                r.version += 1;
                r.date_updated = now;
                moved.push((before, r));
            }
        }
        task.assignment_status = to;
        if to == S::Completed {
            task.reason = reason.map(str::to_owned);
        }
        task.version += 1;
        task.date_updated = now;
        let what = if to == S::Wrapping {
            "wrapup"
        } else {
            "completed"
        };
        let mut events = vec![event::task(
            self.mint.sid(),
            self.workspace,
            &format!("task.{what}"),
            &task,
            now,
        )];
        events.extend(event::reservations(
            self.mint,
            self.workspace,
            &format!("reservation.{what}"),
            moved.iter().map(|(_, r)| r),
            &task,
            now,
        ));
        let mut changes: Vec<Change> = (moved.iter())
            .map(|(_, r)| Change::Reservation(r.clone()))
            .collect();
        changes.push(Change::Task(task.clone()));
        changes.extend(events.into_iter().map(Change::Event));
        // The model first: when a worker became idle goes into the same unit.
        for (before, r) in &moved {
            (self.model).move_load(&r.worker_sid, &r.task_channel_sid, *before, r.status, now);
            if let Some(idle_since) = self.idle_since_changed(&r.worker_sid) {
                changes.push(Change::WorkerIdle {
                    worker: r.worker_sid.clone(),
                    idle_since,
                });
            }
            triggers.workers.push(r.worker_sid.clone());
        }
        self.emit(changes);
        Ok((task, moved.into_iter().map(|(_, r)| r).collect()))
    }

    /// Deletes `task` (its row): pending reservations are canceled, accepted or wrapping work
    /// completed, freeing the workers.
    pub fn delete_task(&mut self, task: &Task, triggers: &mut Triggers) {
        let now = self.now;
        let sid: &TaskSid = &task.sid;
        let ended = self.end_pending(sid, ReservationStatus::Canceled);
        // Accepted or wrapping work ends with the task too, freeing the worker's capacity.
        let mut finished = Vec::new();
        for mut r in self.model.rows.task_reservations(sid) {
            if matches!(
                r.status,
                ReservationStatus::Accepted | ReservationStatus::Wrapping
            ) {
                let before = r.status;
                r.status = ReservationStatus::Completed;
                r.version += 1;
                r.date_updated = now;
                finished.push((before, r));
            }
        }
        let ws = self.workspace;
        let mut events =
            event::reservations(self.mint, ws, "reservation.canceled", &ended, task, now);
        events.extend(event::reservations(
            self.mint,
            ws,
            "reservation.completed",
            finished.iter().map(|(_, r)| r),
            task,
            now,
        ));
        events.push(event::task(self.mint.sid(), ws, "task.deleted", task, now));
        let mut changes: Vec<Change> = ended.iter().cloned().map(Change::Reservation).collect();
        changes.extend(finished.iter().map(|(_, r)| Change::Reservation(r.clone())));
        changes.push(Change::DeleteTask(sid.clone()));
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        self.release(&ended);
        for (before, r) in &finished {
            (self.model).move_load(&r.worker_sid, &r.task_channel_sid, *before, r.status, now);
        }
        self.model.remove_task(sid);
        triggers
            .workers
            .extend(ended.iter().map(|r| r.worker_sid.clone()));
        triggers
            .workers
            .extend(finished.iter().map(|(_, r)| r.worker_sid.clone()));
    }
}

/// Checks a task's ordering time: not after `now`, not before 1900.
pub fn check_virtual_start_time(t: Timestamp, now: Timestamp) -> Result<Timestamp, Refused> {
    // 1900-01-01T00:00:00Z
    const EARLIEST: i64 = -2_208_988_800_000;
    if t > now {
        return Err(Refused::field(
            "virtual_start_time",
            "must not be in the future",
        ));
    }
    if t.as_millis() < EARLIEST {
        return Err(Refused::field(
            "virtual_start_time",
            "must not be before 1900",
        ));
    }
    Ok(t)
}

/// Where a new task goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Through its workflow: the one named, or else the workspace's only one.
    Workflow,
    /// Straight into a queue.
    Queue(TaskQueueSid),
    /// Straight to a worker (`RoutingTarget`), even when unavailable unless `ignore_capacity` is
    /// false.
    Worker(WorkerSid),
}

/// A task to create, its fields checked one by one already (by the caller); what they name is
/// looked up in the model.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The attributes as the client sent them.
    pub attributes: String,
    /// The same, parsed (a JSON object).
    pub attrs: Value,
    /// Its priority.
    pub priority: i64,
    /// Seconds it may wait for assignment (its TTL).
    pub timeout: i64,
    /// Its channel, by SID or unique name.
    pub task_channel: String,
    /// Its ordering time.
    pub virtual_start_time: Timestamp,
    /// `RoutingTarget` (or `TaskQueueSid`) as given, recorded on the task.
    pub routing_target: Option<String>,
    /// Where it goes.
    pub destination: Destination,
    /// Its workflow, if named (recorded on the task even when it goes straight to a queue or
    /// worker).
    pub workflow_sid: Option<WorkflowSid>,
    /// `IgnoreCapacity`, for a worker destination.
    pub ignore_capacity: Option<bool>,
}

impl<M: Mint> Decider<'_, M> {
    /// Creates a task: what it names must exist in the workspace (else refused, naming the
    /// field); it enters its queue or its workflow's first matching step, as one unit. The task
    /// is added to `triggers` for routing.
    pub fn create_task(&mut self, new: NewTask, triggers: &mut Triggers) -> Result<Task, Refused> {
        let now = self.now;
        let ws = &self.workspace.sid;
        let rows = &self.model.rows;
        match &new.destination {
            Destination::Worker(w) => {
                rows.worker(w).ok_or_else(|| {
                    Refused::field(
                        "routing_target",
                        format!("{w} is not a Worker of workspace {ws}"),
                    )
                })?;
            }
            Destination::Queue(q) => {
                if !self.model.queues.contains_key(q) {
                    let problem = format!("{q} is not a TaskQueue of workspace {ws}");
                    return Err(Refused::field("routing_target", problem));
                }
            }
            Destination::Workflow => {}
        }
        let channel = (rows.task_channel(&new.task_channel).cloned()).ok_or_else(|| {
            let key = &new.task_channel;
            Refused::field(
                "task_channel",
                format!("{key} is not a task channel of workspace {ws}"),
            )
        })?;
        let mut workflow_sid = new.workflow_sid;
        if workflow_sid.is_none() && new.destination == Destination::Workflow {
            match rows.workflows().as_slice() {
                [only] => workflow_sid = Some(only.sid.clone()),
                [] => {
                    let problem = "is required: the workspace has no workflow";
                    return Err(Refused::field("workflow_sid", problem));
                }
                _ => {
                    let problem = "is required when the workspace has more than one workflow";
                    return Err(Refused::field("workflow_sid", problem));
                }
            }
        }
        let workflow = match &workflow_sid {
            Some(f) => Some(rows.workflow(f).cloned().ok_or_else(|| {
                Refused::field(
                    "workflow_sid",
                    format!("{f} is not a Workflow of workspace {ws}"),
                )
            })?),
            None => None,
        };
        let direct_worker = matches!(new.destination, Destination::Worker(_));
        let routed_by_workflow = workflow.is_some() && new.destination == Destination::Workflow;
        let mut task = Task {
            sid: self.mint.sid(),
            workspace_sid: ws.clone(),
            workflow: (workflow.as_ref()).map(|f| (f.sid.clone(), f.friendly_name.clone())),
            attributes: new.attributes,
            assignment_status: TaskStatus::Pending,
            priority: new.priority,
            timeout: new.timeout,
            task_channel: (channel.sid, channel.unique_name),
            task_queue: None,
            task_queue_entered_date: None,
            virtual_start_time: new.virtual_start_time,
            reason: None,
            routing_target: new.routing_target,
            ignore_capacity: if direct_worker {
                Some(new.ignore_capacity.unwrap_or(true))
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
        if let Destination::Queue(q) = &new.destination {
            place(self.model, &mut task, Some(q), now);
        } else if let (Some(f), true) = (&workflow, routed_by_workflow) {
            if let Some(at) = workflow_entry(self.model, &f.sid, &new.attrs, now) {
                let step = (self.model.workflow(&f.sid))
                    .and_then(|c| c.step(at))
                    .map(|s| (s.queue.clone(), s.target.priority));
                if let Some((queue, step_priority)) = step {
                    place(self.model, &mut task, Some(&queue), now);
                    if let Some(p) = step_priority {
                        task.priority = p;
                    }
                }
                task.step = Some(at);
                task.step_entered = Some(now);
            }
        }
        let label = (task.step).and_then(|at| filter_name(self.model, &task, at));
        let ws = self.workspace;
        let mut events = vec![event::task(self.mint.sid(), ws, "task.created", &task, now)];
        if routed_by_workflow {
            let sid = self.mint.sid();
            events.push(event::workflow(
                sid,
                ws,
                "workflow.entered",
                &task,
                None,
                now,
            ));
        }
        match (task.step, &task.task_queue) {
            (Some(at), _) if routed_by_workflow => {
                let at = (at, label.as_deref());
                events.extend(step_events(self.mint, ws, &task, None, at, now));
            }
            (_, Some(q)) => {
                let sid = self.mint.sid();
                events.push(event::queue(sid, ws, "task-queue.entered", &task, q, now));
            }
            _ => {}
        }
        let mut changes = vec![Change::Task(task.clone())];
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        let seq = self.model.rows.take_task_seq();
        self.model.put_task(task_state(&task, seq));
        triggers.tasks.push(task.sid.clone());
        Ok(task)
    }
}

/// Changes to a task, each field checked on its own already (by the caller).
#[derive(Debug, Clone, Default)]
pub struct TaskChange {
    /// New attributes, as sent and parsed; a pending task goes through its workflow again.
    pub attributes: Option<(String, Value)>,
    /// New priority.
    pub priority: Option<i64>,
    /// New channel, by SID or unique name (only while the task is pending).
    pub task_channel: Option<String>,
    /// New ordering time (checked here: not in the future, not before 1900).
    pub virtual_start_time: Option<Timestamp>,
    /// New status: canceled, wrapping or completed.
    pub assignment_status: Option<TaskStatus>,
    /// Why it was canceled or completed.
    pub reason: Option<String>,
}

impl<M: Mint> Decider<'_, M> {
    /// Updates `task` (its row): everything is checked before anything changes, so a refused
    /// update leaves the model as it was.
    pub fn update_task(
        &mut self,
        mut task: Task,
        change: TaskChange,
        triggers: &mut Triggers,
    ) -> Result<Task, Refused> {
        let now = self.now;
        let sid = task.sid.clone();
        let new_channel = match &change.task_channel {
            Some(key) => {
                let channel = (self.model.rows.task_channel(key).cloned()).ok_or_else(|| {
                    let ws = &self.workspace.sid;
                    let problem = format!("{key} is not a task channel of workspace {ws}");
                    Refused::field("task_channel", problem)
                })?;
                let changes = channel.sid != task.task_channel.0;
                if changes && task.assignment_status != TaskStatus::Pending {
                    let status = task.assignment_status.as_str();
                    let problem =
                        format!("can only change while the task is pending; it is {status}");
                    return Err(Refused::field("task_channel", problem));
                }
                changes.then_some(channel)
            }
            None => None,
        };
        if let Some(vst) = change.virtual_start_time {
            check_virtual_start_time(vst, now)?;
        }
        if let Some(to) = change.assignment_status {
            lifecycle::task_request(task.assignment_status, to)
                .map_err(|e| Refused::transition("Task", &sid, e))?;
        }

        let routing = task.assignment_status.is_routing();
        if let Some((text, attrs)) = change.attributes {
            task.attributes = text;
            self.model
                .update_task(&sid, |t| t.attributes = attrs.clone());
            // A pending task goes through its workflow again with its new attributes.
            if task.assignment_status == TaskStatus::Pending {
                if let (Some((workflow, _)), None) = (task.workflow.clone(), &task.routing_target) {
                    match workflow_entry(self.model, &workflow, &attrs, now) {
                        Some(at) => self.enter_step(&mut task, &workflow, at, None),
                        None => {
                            place(self.model, &mut task, None, now);
                            task.step = None;
                            task.step_entered = None;
                            self.model.update_task(&sid, |t| {
                                t.route = Route::Unrouted;
                                t.queue = None;
                            });
                        }
                    }
                }
                triggers.tasks.push(sid.clone());
            }
        }
        if let Some(priority) = change.priority {
            task.priority = priority;
            self.model.update_task(&sid, |t| t.priority = priority);
            if routing {
                triggers.tasks.push(sid.clone());
            }
        }
        if let Some(channel) = new_channel {
            self.model
                .update_task(&sid, |t| t.channel = channel.sid.clone());
            task.task_channel = (channel.sid, channel.unique_name);
            triggers.tasks.push(sid.clone());
        }
        if let Some(vst) = change.virtual_start_time {
            task.virtual_start_time = vst;
            self.model.update_task(&sid, |t| t.virtual_start_time = vst);
        }
        match change.assignment_status {
            None => {
                if change.reason.is_some() {
                    task.reason = change.reason;
                }
                task.version += 1;
                task.date_updated = now;
                let sid = self.mint.sid();
                let updated = event::task(sid, self.workspace, "task.updated", &task, now);
                self.emit(vec![Change::Task(task.clone()), Change::Event(updated)]);
                Ok(task)
            }
            Some(to) => {
                let reason = change.reason.as_deref();
                self.move_task(task, to, reason, triggers)
                    .map(|(task, _)| task)
            }
        }
    }
}
