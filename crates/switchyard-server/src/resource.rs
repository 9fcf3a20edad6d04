//! Wire types: the snake_case JSON of each TaskRouter resource, with absolute `url` and `links`.
//!
//! Field names and shapes follow Twilio's OpenAPI description exactly; core types never derive
//! `Serialize`, so this is the one place the wire format lives.

use std::collections::BTreeMap;

use serde::Serialize;
use switchyard_core::event::Event;
use switchyard_core::model::{
    Activity, Reservation, Task, TaskChannel, TaskQueue, Worker, WorkerChannel, Workflow, Workspace,
};
use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;

/// Formats a time as Twilio does: `YYYY-MM-DDTHH:MM:SSZ`, UTC, no fractions.
pub fn date(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp(t.as_secs(), 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// What every resource needs to render itself: the public base URL and the requesting account.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Public base URL without a trailing slash, e.g. `http://127.0.0.1:7979`.
    pub base: &'a str,
    /// The authenticated account.
    pub account: &'a AccountSid,
}

impl Ctx<'_> {
    /// `{base}/v1/Workspaces/{ws}{rest}`.
    pub fn ws(&self, ws: &impl std::fmt::Display, rest: &str) -> String {
        format!("{}/v1/Workspaces/{ws}{rest}", self.base)
    }
}

type Links = BTreeMap<&'static str, String>;

/// A workspace.
#[derive(Serialize)]
pub struct WorkspaceResource {
    account_sid: String,
    date_created: String,
    date_updated: String,
    default_activity_name: String,
    default_activity_sid: String,
    event_callback_url: Option<String>,
    events_filter: Option<String>,
    friendly_name: String,
    multi_task_enabled: bool,
    sid: String,
    timeout_activity_name: String,
    timeout_activity_sid: String,
    prioritize_queue_order: &'static str,
    url: String,
    links: Links,
}

impl WorkspaceResource {
    /// Renders `w`.
    pub fn new(w: Workspace, ctx: Ctx<'_>) -> Self {
        let link = |rest: &str| ctx.ws(&w.sid, rest);
        let links = Links::from([
            ("activities", link("/Activities")),
            ("statistics", link("/Statistics")),
            ("real_time_statistics", link("/RealTimeStatistics")),
            ("cumulative_statistics", link("/CumulativeStatistics")),
            ("task_queues", link("/TaskQueues")),
            ("tasks", link("/Tasks")),
            ("workers", link("/Workers")),
            ("workflows", link("/Workflows")),
            ("task_channels", link("/TaskChannels")),
            ("events", link("/Events")),
        ]);
        WorkspaceResource {
            url: link(""),
            links,
            account_sid: w.account_sid.to_string(),
            date_created: date(w.date_created),
            date_updated: date(w.date_updated),
            default_activity_name: w.default_activity_name,
            default_activity_sid: w.default_activity_sid.to_string(),
            event_callback_url: w.event_callback_url,
            events_filter: w.events_filter,
            friendly_name: w.friendly_name,
            multi_task_enabled: w.multi_task_enabled,
            sid: w.sid.to_string(),
            timeout_activity_name: w.timeout_activity_name,
            timeout_activity_sid: w.timeout_activity_sid.to_string(),
            prioritize_queue_order: w.prioritize_queue_order.as_str(),
        }
    }
}

/// An activity.
#[derive(Serialize)]
pub struct ActivityResource {
    account_sid: String,
    available: bool,
    date_created: String,
    date_updated: String,
    friendly_name: String,
    sid: String,
    workspace_sid: String,
    url: String,
    links: Links,
}

impl ActivityResource {
    /// Renders `a`.
    pub fn new(a: Activity, ctx: Ctx<'_>) -> Self {
        ActivityResource {
            url: ctx.ws(&a.workspace_sid, &format!("/Activities/{}", a.sid)),
            links: Links::from([("workspace", ctx.ws(&a.workspace_sid, ""))]),
            account_sid: ctx.account.to_string(),
            available: a.available,
            date_created: date(a.date_created),
            date_updated: date(a.date_updated),
            friendly_name: a.friendly_name,
            sid: a.sid.to_string(),
            workspace_sid: a.workspace_sid.to_string(),
        }
    }
}

/// A task channel.
#[derive(Serialize)]
pub struct TaskChannelResource {
    account_sid: String,
    date_created: String,
    date_updated: String,
    friendly_name: String,
    sid: String,
    unique_name: String,
    workspace_sid: String,
    channel_optimized_routing: bool,
    url: String,
    links: Links,
}

impl TaskChannelResource {
    /// Renders `c`.
    pub fn new(c: TaskChannel, ctx: Ctx<'_>) -> Self {
        TaskChannelResource {
            url: ctx.ws(&c.workspace_sid, &format!("/TaskChannels/{}", c.sid)),
            links: Links::from([("workspace", ctx.ws(&c.workspace_sid, ""))]),
            account_sid: ctx.account.to_string(),
            date_created: date(c.date_created),
            date_updated: date(c.date_updated),
            friendly_name: c.friendly_name,
            sid: c.sid.to_string(),
            unique_name: c.unique_name,
            workspace_sid: c.workspace_sid.to_string(),
            channel_optimized_routing: c.channel_optimized_routing,
        }
    }
}

/// A worker.
#[derive(Serialize)]
pub struct WorkerResource {
    account_sid: String,
    activity_name: String,
    activity_sid: String,
    attributes: String,
    available: bool,
    date_created: String,
    date_status_changed: String,
    date_updated: String,
    friendly_name: String,
    sid: String,
    workspace_sid: String,
    url: String,
    links: Links,
}

impl WorkerResource {
    /// Renders `w`.
    pub fn new(w: Worker, ctx: Ctx<'_>) -> Self {
        let ws = &w.workspace_sid;
        let me = format!("/Workers/{}", w.sid);
        let links = Links::from([
            ("channels", ctx.ws(ws, &format!("{me}/Channels"))),
            (
                "activity",
                ctx.ws(ws, &format!("/Activities/{}", w.activity_sid)),
            ),
            ("workspace", ctx.ws(ws, "")),
            ("statistics", ctx.ws(ws, "/Workers/Statistics")),
            (
                "real_time_statistics",
                ctx.ws(ws, "/Workers/RealTimeStatistics"),
            ),
            (
                "cumulative_statistics",
                ctx.ws(ws, "/Workers/CumulativeStatistics"),
            ),
            ("worker_statistics", ctx.ws(ws, &format!("{me}/Statistics"))),
            ("worker_channels", ctx.ws(ws, &format!("{me}/Channels"))),
            ("reservations", ctx.ws(ws, &format!("{me}/Reservations"))),
        ]);
        WorkerResource {
            url: ctx.ws(ws, &me),
            links,
            account_sid: ctx.account.to_string(),
            activity_name: w.activity_name,
            activity_sid: w.activity_sid.to_string(),
            attributes: w.attributes,
            available: w.available,
            date_created: date(w.date_created),
            date_status_changed: date(w.date_status_changed),
            date_updated: date(w.date_updated),
            friendly_name: w.friendly_name,
            sid: w.sid.to_string(),
            workspace_sid: w.workspace_sid.to_string(),
        }
    }
}

/// A worker channel (no `links`, as in Twilio's schema).
#[derive(Serialize)]
pub struct WorkerChannelResource {
    account_sid: String,
    assigned_tasks: i64,
    available: bool,
    available_capacity_percentage: i64,
    configured_capacity: i64,
    date_created: String,
    date_updated: String,
    sid: String,
    task_channel_sid: String,
    task_channel_unique_name: String,
    worker_sid: String,
    workspace_sid: String,
    url: String,
}

impl WorkerChannelResource {
    /// Renders `c`.
    pub fn new(c: WorkerChannel, ctx: Ctx<'_>) -> Self {
        WorkerChannelResource {
            url: ctx.ws(
                &c.workspace_sid,
                &format!("/Workers/{}/Channels/{}", c.worker_sid, c.sid),
            ),
            account_sid: ctx.account.to_string(),
            assigned_tasks: c.assigned_tasks,
            available: c.available,
            available_capacity_percentage: c.available_capacity_percentage(),
            configured_capacity: c.configured_capacity,
            date_created: date(c.date_created),
            date_updated: date(c.date_updated),
            sid: c.sid.to_string(),
            task_channel_sid: c.task_channel_sid.to_string(),
            task_channel_unique_name: c.task_channel_unique_name,
            worker_sid: c.worker_sid.to_string(),
            workspace_sid: c.workspace_sid.to_string(),
        }
    }
}

/// A task queue.
#[derive(Serialize)]
pub struct TaskQueueResource {
    account_sid: String,
    assignment_activity_sid: Option<String>,
    assignment_activity_name: Option<String>,
    date_created: String,
    date_updated: String,
    friendly_name: String,
    max_reserved_workers: i64,
    reservation_activity_sid: Option<String>,
    reservation_activity_name: Option<String>,
    sid: String,
    target_workers: String,
    task_order: &'static str,
    url: String,
    workspace_sid: String,
    links: Links,
}

impl TaskQueueResource {
    /// Renders `q`.
    pub fn new(q: TaskQueue, ctx: Ctx<'_>) -> Self {
        let ws = &q.workspace_sid;
        let me = format!("/TaskQueues/{}", q.sid);
        let mut links = Links::from([
            ("workspace", ctx.ws(ws, "")),
            ("statistics", ctx.ws(ws, &format!("{me}/Statistics"))),
            (
                "real_time_statistics",
                ctx.ws(ws, &format!("{me}/RealTimeStatistics")),
            ),
            (
                "cumulative_statistics",
                ctx.ws(ws, &format!("{me}/CumulativeStatistics")),
            ),
            ("list_statistics", ctx.ws(ws, "/TaskQueues/Statistics")),
            (
                "bulk_real_time_statistics",
                ctx.ws(ws, "/TaskQueues/RealTimeStatistics"),
            ),
        ]);
        if let Some((a, _)) = &q.assignment_activity {
            links.insert(
                "assignment_activity",
                ctx.ws(ws, &format!("/Activities/{a}")),
            );
        }
        if let Some((a, _)) = &q.reservation_activity {
            links.insert(
                "reservation_activity",
                ctx.ws(ws, &format!("/Activities/{a}")),
            );
        }
        let (assignment_activity_sid, assignment_activity_name) = split(q.assignment_activity);
        let (reservation_activity_sid, reservation_activity_name) = split(q.reservation_activity);
        TaskQueueResource {
            url: ctx.ws(ws, &me),
            links,
            account_sid: ctx.account.to_string(),
            assignment_activity_sid,
            assignment_activity_name,
            date_created: date(q.date_created),
            date_updated: date(q.date_updated),
            friendly_name: q.friendly_name,
            max_reserved_workers: q.max_reserved_workers,
            reservation_activity_sid,
            reservation_activity_name,
            sid: q.sid.to_string(),
            target_workers: q.target_workers,
            task_order: q.task_order.as_str(),
            workspace_sid: q.workspace_sid.to_string(),
        }
    }
}

fn split<S: std::fmt::Display>(pair: Option<(S, String)>) -> (Option<String>, Option<String>) {
    match pair {
        Some((s, n)) => (Some(s.to_string()), Some(n)),
        None => (None, None),
    }
}

/// A workflow.
#[derive(Serialize)]
pub struct WorkflowResource {
    account_sid: String,
    assignment_callback_url: Option<String>,
    configuration: String,
    date_created: String,
    date_updated: String,
    document_content_type: &'static str,
    fallback_assignment_callback_url: Option<String>,
    friendly_name: String,
    sid: String,
    task_reservation_timeout: i64,
    workspace_sid: String,
    url: String,
    links: Links,
}

impl WorkflowResource {
    /// Renders `f`.
    pub fn new(f: Workflow, ctx: Ctx<'_>) -> Self {
        let ws = &f.workspace_sid;
        let me = format!("/Workflows/{}", f.sid);
        let links = Links::from([
            ("statistics", ctx.ws(ws, &format!("{me}/Statistics"))),
            (
                "real_time_statistics",
                ctx.ws(ws, &format!("{me}/RealTimeStatistics")),
            ),
            (
                "cumulative_statistics",
                ctx.ws(ws, &format!("{me}/CumulativeStatistics")),
            ),
        ]);
        WorkflowResource {
            url: ctx.ws(ws, &me),
            links,
            account_sid: ctx.account.to_string(),
            assignment_callback_url: f.assignment_callback_url,
            configuration: f.configuration,
            date_created: date(f.date_created),
            date_updated: date(f.date_updated),
            document_content_type: "application/json",
            fallback_assignment_callback_url: f.fallback_assignment_callback_url,
            friendly_name: f.friendly_name,
            sid: f.sid.to_string(),
            task_reservation_timeout: f.task_reservation_timeout,
            workspace_sid: f.workspace_sid.to_string(),
        }
    }
}

/// An event. `event_data` is an object of the event's fields (snake_case keys, string values).
#[derive(Serialize)]
pub struct EventResource {
    account_sid: String,
    actor_sid: String,
    actor_type: String,
    actor_url: String,
    description: String,
    event_data: serde_json::Map<String, serde_json::Value>,
    event_date: String,
    event_date_ms: i64,
    event_type: String,
    resource_sid: String,
    resource_type: String,
    resource_url: String,
    sid: String,
    source: &'static str,
    source_ip_address: Option<String>,
    workspace_sid: String,
    url: String,
}

impl EventResource {
    /// Renders `e`.
    pub fn new(e: Event, ctx: Ctx<'_>) -> Self {
        let ws = &e.workspace_sid;
        let resource_url = match e.resource_type.as_str() {
            "task" => ctx.ws(ws, &format!("/Tasks/{}", e.resource_sid)),
            "worker" => ctx.ws(ws, &format!("/Workers/{}", e.resource_sid)),
            "taskqueue" => ctx.ws(ws, &format!("/TaskQueues/{}", e.resource_sid)),
            "workflow" => ctx.ws(ws, &format!("/Workflows/{}", e.resource_sid)),
            "activity" => ctx.ws(ws, &format!("/Activities/{}", e.resource_sid)),
            "taskchannel" => ctx.ws(ws, &format!("/TaskChannels/{}", e.resource_sid)),
            "reservation" => match e.get("task_sid") {
                Some(t) => ctx.ws(ws, &format!("/Tasks/{t}/Reservations/{}", e.resource_sid)),
                None => ctx.ws(ws, ""),
            },
            _ => ctx.ws(ws, ""),
        };
        let actor_url = match e.actor_type.as_str() {
            "worker" => ctx.ws(ws, &format!("/Workers/{}", e.actor_sid)),
            _ => ctx.ws(ws, ""),
        };
        EventResource {
            url: ctx.ws(ws, &format!("/Events/{}", e.sid)),
            account_sid: ctx.account.to_string(),
            actor_sid: e.actor_sid,
            actor_type: e.actor_type,
            actor_url,
            description: e.description,
            event_data: e
                .data
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            event_date: date(e.date),
            event_date_ms: e.date.as_millis(),
            event_type: e.event_type,
            resource_sid: e.resource_sid,
            resource_type: e.resource_type,
            resource_url,
            sid: e.sid.to_string(),
            source: "switchyard",
            source_ip_address: None,
            workspace_sid: e.workspace_sid.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_twilio_shaped() {
        assert_eq!(
            date(Timestamp::from_millis(1_400_064_602_999)),
            "2014-05-14T10:50:02Z"
        );
    }
}

/// A task.
#[derive(Serialize)]
pub struct TaskResource {
    account_sid: String,
    addons: String,
    age: i64,
    assignment_status: &'static str,
    attributes: String,
    date_created: String,
    date_updated: String,
    ignore_capacity: Option<bool>,
    priority: i64,
    reason: Option<String>,
    routing_target: Option<String>,
    sid: String,
    task_channel_sid: String,
    task_channel_unique_name: String,
    task_queue_entered_date: Option<String>,
    task_queue_friendly_name: Option<String>,
    task_queue_sid: Option<String>,
    timeout: i64,
    url: String,
    virtual_start_time: String,
    workflow_friendly_name: Option<String>,
    workflow_sid: Option<String>,
    workspace_sid: String,
    links: Links,
}

impl TaskResource {
    /// Renders `t` as seen at `now` (for `age`).
    pub fn new(t: Task, now: Timestamp, ctx: Ctx<'_>) -> Self {
        let ws = &t.workspace_sid;
        let me = format!("/Tasks/{}", t.sid);
        let mut links = Links::from([
            ("workspace", ctx.ws(ws, "")),
            ("reservations", ctx.ws(ws, &format!("{me}/Reservations"))),
        ]);
        if let Some((q, _)) = &t.task_queue {
            links.insert("task_queue", ctx.ws(ws, &format!("/TaskQueues/{q}")));
        }
        if let Some((w, _)) = &t.workflow {
            links.insert("workflow", ctx.ws(ws, &format!("/Workflows/{w}")));
        }
        let (task_queue_sid, task_queue_friendly_name) = split(t.task_queue);
        let (workflow_sid, workflow_friendly_name) = split(t.workflow);
        TaskResource {
            url: ctx.ws(ws, &me),
            links,
            account_sid: ctx.account.to_string(),
            addons: t.addons,
            age: now.secs_since(t.date_created),
            assignment_status: t.assignment_status.as_str(),
            attributes: t.attributes,
            date_created: date(t.date_created),
            date_updated: date(t.date_updated),
            ignore_capacity: t.ignore_capacity,
            priority: t.priority,
            reason: t.reason,
            routing_target: t.routing_target,
            sid: t.sid.to_string(),
            task_channel_sid: t.task_channel.0.to_string(),
            task_channel_unique_name: t.task_channel.1,
            task_queue_entered_date: t.task_queue_entered_date.map(date),
            task_queue_friendly_name,
            task_queue_sid,
            timeout: t.timeout,
            virtual_start_time: date(t.virtual_start_time),
            workflow_friendly_name,
            workflow_sid,
            workspace_sid: t.workspace_sid.to_string(),
        }
    }
}

/// A reservation, seen from its task or from its worker (only `url` differs).
#[derive(Serialize)]
pub struct ReservationResource {
    account_sid: String,
    date_created: String,
    date_updated: String,
    reservation_status: &'static str,
    sid: String,
    task_sid: String,
    worker_name: String,
    worker_sid: String,
    workspace_sid: String,
    url: String,
    links: Links,
}

impl ReservationResource {
    /// Renders `r`; `by_worker` picks the worker-scoped URL.
    pub fn new(r: Reservation, by_worker: bool, ctx: Ctx<'_>) -> Self {
        let ws = &r.workspace_sid;
        let url = if by_worker {
            ctx.ws(
                ws,
                &format!("/Workers/{}/Reservations/{}", r.worker_sid, r.sid),
            )
        } else {
            ctx.ws(ws, &format!("/Tasks/{}/Reservations/{}", r.task_sid, r.sid))
        };
        ReservationResource {
            url,
            links: Links::from([
                ("task", ctx.ws(ws, &format!("/Tasks/{}", r.task_sid))),
                ("worker", ctx.ws(ws, &format!("/Workers/{}", r.worker_sid))),
                ("workspace", ctx.ws(ws, "")),
            ]),
            account_sid: ctx.account.to_string(),
            date_created: date(r.date_created),
            date_updated: date(r.date_updated),
            reservation_status: r.status.as_str(),
            sid: r.sid.to_string(),
            task_sid: r.task_sid.to_string(),
            worker_name: r.worker_name,
            worker_sid: r.worker_sid.to_string(),
            workspace_sid: r.workspace_sid.to_string(),
        }
    }
}
