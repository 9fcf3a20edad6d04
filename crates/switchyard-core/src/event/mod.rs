//! Events: the audit record of every routing change, as `GET /Events` lists them and event
//! callbacks POST them.
//!
//! An event's data is one ordered list of snake_case keys with string values, built from the
//! field groups of Twilio's event reference (workspace, task, worker, reservation, queue,
//! workflow). The REST resource shows it as the `event_data` object; event callbacks are meant to
//! send the same fields in PascalCase (`task_queue_sid` → `TaskQueueSid`), so the two cannot
//! disagree.

pub mod build;

use crate::model::{Reservation, Task, Worker, Workspace};
use crate::sid::{EventSid, TaskQueueSid, WorkflowSid};
use crate::Timestamp;

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its SID.
    pub sid: EventSid,
    /// The workspace it happened in (with its account).
    pub workspace_sid: crate::sid::WorkspaceSid,
    /// Twilio's event type, such as `task.created`.
    pub event_type: String,
    /// A sentence for people.
    pub description: String,
    /// When it happened, on the engine's clock.
    pub date: Timestamp,
    /// What it is about: `task`, `reservation`, `worker`, `taskqueue`, `workflow`, ...
    pub resource_type: String,
    /// The SID of what it is about.
    pub resource_sid: String,
    /// Who caused it: `workspace` (routing and the REST API) or `worker`.
    pub actor_type: String,
    /// The actor's SID.
    pub actor_sid: String,
    /// The field groups, snake_case keys with string values, in a stable order.
    pub data: Vec<(String, String)>,
    /// Its place among the workspace's events, in the order they were decided (0 until the
    /// engine numbers it, under the workspace's lock). Event callbacks deliver by it: unlike
    /// a row's insertion order, it cannot be overtaken by a transaction that commits later.
    pub number: i64,
}

impl Event {
    /// An event of `event_type` about a resource, with the workspace group of fields; add the
    /// other groups with the `with_*` methods.
    pub fn new(
        sid: EventSid,
        workspace: &Workspace,
        event_type: &str,
        resource: (&str, &str),
        description: String,
        date: Timestamp,
    ) -> Event {
        Event {
            sid,
            workspace_sid: workspace.sid.clone(),
            event_type: event_type.to_owned(),
            description,
            date,
            resource_type: resource.0.to_owned(),
            resource_sid: resource.1.to_owned(),
            actor_type: "workspace".to_owned(),
            actor_sid: workspace.sid.as_str().to_owned(),
            data: vec![
                ("workspace_sid".into(), workspace.sid.as_str().to_owned()),
                ("workspace_name".into(), workspace.friendly_name.clone()),
            ],
            number: 0,
        }
    }

    fn put(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.data.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.data.push((key.to_owned(), value)),
        }
    }

    /// The task group: `task_sid`, `task_attributes`, `task_age`, `task_priority`, ... as of `now`.
    pub fn with_task(mut self, t: &Task, now: Timestamp) -> Event {
        self.put("task_sid", t.sid.as_str());
        self.put("task_attributes", t.attributes.clone());
        self.put(
            "task_age",
            now.secs_since(t.date_created).max(0).to_string(),
        );
        self.put("task_priority", t.priority.to_string());
        self.put("task_assignment_status", t.assignment_status.as_str());
        self.put("task_channel_sid", t.task_channel.0.as_str());
        self.put("task_channel_unique_name", t.task_channel.1.clone());
        if let Some((q, name)) = &t.task_queue {
            self.put("task_queue_sid", q.as_str());
            self.put("task_queue_name", name.clone());
        }
        if let Some((w, name)) = &t.workflow {
            self.put("workflow_sid", w.as_str());
            self.put("workflow_name", name.clone());
        }
        if let Some(reason) = &t.reason {
            use crate::routing::TaskStatus;
            match t.assignment_status {
                TaskStatus::Canceled => self.put("task_canceled_reason", reason.clone()),
                TaskStatus::Completed => self.put("task_completed_reason", reason.clone()),
                _ => {}
            }
        }
        self
    }

    /// The worker group: `worker_sid`, `worker_name`, `worker_attributes`, activity, version.
    pub fn with_worker(mut self, w: &Worker) -> Event {
        self.put("worker_sid", w.sid.as_str());
        self.put("worker_name", w.friendly_name.clone());
        self.put("worker_attributes", w.attributes.clone());
        self.put("worker_activity_sid", w.activity_sid.as_str());
        self.put("worker_activity_name", w.activity_name.clone());
        self.put("worker_version", w.version.to_string());
        self
    }

    /// What an activity change adds: the previous activity and the time spent in it.
    pub fn with_previous_activity(mut self, before: &Worker, now: Timestamp) -> Event {
        let ms = (now.as_millis() - before.date_status_changed.as_millis()).max(0);
        self.put("worker_previous_activity_sid", before.activity_sid.as_str());
        self.put("worker_time_in_previous_activity", (ms / 1000).to_string());
        self.put("worker_time_in_previous_activity_ms", ms.to_string());
        self
    }

    /// The reservation's own fields (use with the task and worker groups).
    pub fn with_reservation(mut self, r: &Reservation) -> Event {
        self.put("reservation_sid", r.sid.as_str());
        if let Some(q) = &r.task_queue_sid {
            self.put("task_queue_sid", q.as_str());
        }
        self
    }

    /// The queue group: `task_queue_sid`, `task_queue_name`.
    pub fn with_queue(mut self, sid: &TaskQueueSid, name: &str) -> Event {
        self.put("task_queue_sid", sid.as_str());
        self.put("task_queue_name", name);
        self
    }

    /// The workflow group: `workflow_sid`, `workflow_name`.
    pub fn with_workflow(mut self, sid: &WorkflowSid, name: &str) -> Event {
        self.put("workflow_sid", sid.as_str());
        self.put("workflow_name", name);
        self
    }

    /// Any other field.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.put(key, value);
        self
    }

    /// A data field, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
