//! Configuration changes compiled to SQL: the writes behind the API's creates, updates and
//! deletes of workspaces, activities, task channels, queues, workflows and workers. They go
//! through the writer like routing decisions, in the workspace's order.

use switchyard_core::decide::{Configure, NewWorkspace};
use switchyard_core::model::{Activity, TaskChannel, TaskQueue, WorkerChannel, Workflow};

use crate::sql::Sql;

/// Appends the statements of one configuration change.
pub(crate) fn push(b: &mut Sql, change: &Configure) {
    match change {
        Configure::CreateAccount { sid, date_created } => {
            b.statement(
                "INSERT INTO accounts (sid, auth_token, date_created) VALUES (?, '', ?)
                 ON CONFLICT (sid) DO NOTHING",
                vec![sid.as_str().into(), date_created.as_millis().into()],
            );
        }
        Configure::CreateWorkspace(new) => create_workspace(b, new),
        Configure::SkipRecordedEvents(ws) => {
            b.statement(
                "INSERT INTO event_deliveries (workspace_sid, delivered_seq)
                 VALUES (?, COALESCE((SELECT MAX(number) FROM events WHERE workspace_sid = ?), 0))
                 ON CONFLICT (workspace_sid) DO UPDATE SET delivered_seq = excluded.delivered_seq",
                vec![ws.as_str().into(), ws.as_str().into()],
            );
        }
        Configure::UpdateWorkspace(w) => {
            b.statement(
                "UPDATE workspaces SET friendly_name = ?, default_activity_sid = ?,
                    timeout_activity_sid = ?, event_callback_url = ?, events_filter = ?,
                    multi_task_enabled = ?, prioritize_queue_order = ?, date_updated = ?
                 WHERE sid = ?",
                vec![
                    w.friendly_name.as_str().into(),
                    w.default_activity_sid.as_str().into(),
                    w.timeout_activity_sid.as_str().into(),
                    w.event_callback_url.clone().into(),
                    w.events_filter.clone().into(),
                    w.multi_task_enabled.into(),
                    w.prioritize_queue_order.as_str().into(),
                    w.date_updated.as_millis().into(),
                    w.sid.as_str().into(),
                ],
            );
        }
        Configure::DeleteWorkspace(ws) => {
            // Children go first, leaves before the rows they reference, so that no foreign key
            // check depends on the order the database happens to cascade in.
            for table in [
                "event_deliveries",
                "events",
                "reservations",
                "tasks",
                "worker_channels",
                "workers",
                "workflows",
                "task_queues",
                "task_channels",
                "activities",
            ] {
                b.statement(
                    &format!("DELETE FROM {table} WHERE workspace_sid = ?"),
                    vec![ws.as_str().into()],
                );
            }
            b.statement(
                "DELETE FROM workspaces WHERE sid = ?",
                vec![ws.as_str().into()],
            );
        }
        Configure::CreateActivity(a) => insert_activity(b, a),
        Configure::UpdateActivity(a) => {
            b.statement(
                "UPDATE activities SET friendly_name = ?, date_updated = ? WHERE sid = ?",
                vec![
                    a.friendly_name.as_str().into(),
                    a.date_updated.as_millis().into(),
                    a.sid.as_str().into(),
                ],
            );
        }
        Configure::DeleteActivity(a) => {
            b.statement(
                "DELETE FROM activities WHERE sid = ?",
                vec![a.as_str().into()],
            );
        }
        Configure::CreateTaskChannel {
            channel,
            worker_channels,
        } => {
            insert_task_channel(b, channel);
            for c in worker_channels {
                insert_worker_channel(b, c);
            }
        }
        Configure::UpdateTaskChannel(c) => {
            b.statement(
                "UPDATE task_channels SET friendly_name = ?, channel_optimized_routing = ?,
                    date_updated = ?
                 WHERE sid = ?",
                vec![
                    c.friendly_name.as_str().into(),
                    c.channel_optimized_routing.into(),
                    c.date_updated.as_millis().into(),
                    c.sid.as_str().into(),
                ],
            );
        }
        Configure::DeleteTaskChannel(c) => {
            b.statement(
                "DELETE FROM worker_channels WHERE task_channel_sid = ?",
                vec![c.as_str().into()],
            );
            b.statement(
                "DELETE FROM task_channels WHERE sid = ?",
                vec![c.as_str().into()],
            );
        }
        Configure::CreateTaskQueue(q) => insert_task_queue(b, q),
        Configure::UpdateTaskQueue(q) => {
            b.statement(
                "UPDATE task_queues SET friendly_name = ?, target_workers = ?,
                    max_reserved_workers = ?, task_order = ?, reservation_activity_sid = ?,
                    assignment_activity_sid = ?, date_updated = ?
                 WHERE sid = ?",
                vec![
                    q.friendly_name.as_str().into(),
                    q.target_workers.as_str().into(),
                    q.max_reserved_workers.into(),
                    q.task_order.as_str().into(),
                    q.reservation_activity
                        .as_ref()
                        .map(|(s, _)| s.as_str())
                        .into(),
                    q.assignment_activity
                        .as_ref()
                        .map(|(s, _)| s.as_str())
                        .into(),
                    q.date_updated.as_millis().into(),
                    q.sid.as_str().into(),
                ],
            );
        }
        Configure::DeleteTaskQueue(q) => {
            b.statement(
                "DELETE FROM task_queues WHERE sid = ?",
                vec![q.as_str().into()],
            );
        }
        Configure::CreateWorkflow(f) => insert_workflow(b, f),
        Configure::UpdateWorkflow(f) => {
            b.statement(
                "UPDATE workflows SET friendly_name = ?, configuration = ?,
                    assignment_callback_url = ?, fallback_assignment_callback_url = ?,
                    task_reservation_timeout = ?, date_updated = ?
                 WHERE sid = ?",
                vec![
                    f.friendly_name.as_str().into(),
                    f.configuration.as_str().into(),
                    f.assignment_callback_url.clone().into(),
                    f.fallback_assignment_callback_url.clone().into(),
                    f.task_reservation_timeout.into(),
                    f.date_updated.as_millis().into(),
                    f.sid.as_str().into(),
                ],
            );
        }
        Configure::DeleteWorkflow(f) => {
            b.statement(
                "DELETE FROM workflows WHERE sid = ?",
                vec![f.as_str().into()],
            );
        }
        Configure::CreateWorker {
            worker: w,
            channels,
        } => {
            b.statement(
                "INSERT INTO workers (sid, workspace_sid, friendly_name, activity_sid, attributes,
                    date_status_changed, date_created, date_updated, version, idle_since)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    w.sid.as_str().into(),
                    w.workspace_sid.as_str().into(),
                    w.friendly_name.as_str().into(),
                    w.activity_sid.as_str().into(),
                    w.attributes.as_str().into(),
                    w.date_status_changed.as_millis().into(),
                    w.date_created.as_millis().into(),
                    w.date_updated.as_millis().into(),
                    w.version.into(),
                    w.idle_since.as_millis().into(),
                ],
            );
            for c in channels {
                insert_worker_channel(b, c);
            }
        }
        Configure::DeleteWorker(w) => {
            b.statement(
                "DELETE FROM worker_channels WHERE worker_sid = ?",
                vec![w.as_str().into()],
            );
            b.statement("DELETE FROM workers WHERE sid = ?", vec![w.as_str().into()]);
        }
    }
}

fn create_workspace(b: &mut Sql, new: &NewWorkspace) {
    let w = &new.workspace;
    b.statement(
        "INSERT INTO workspaces (sid, account_sid, friendly_name, default_activity_sid,
            timeout_activity_sid, event_callback_url, events_filter, multi_task_enabled,
            prioritize_queue_order, date_created, date_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            w.sid.as_str().into(),
            w.account_sid.as_str().into(),
            w.friendly_name.as_str().into(),
            w.default_activity_sid.as_str().into(),
            w.timeout_activity_sid.as_str().into(),
            w.event_callback_url.clone().into(),
            w.events_filter.clone().into(),
            w.multi_task_enabled.into(),
            w.prioritize_queue_order.as_str().into(),
            w.date_created.as_millis().into(),
            w.date_updated.as_millis().into(),
        ],
    );
    // Its event-callback cursor starts before its first event.
    b.statement(
        "INSERT INTO event_deliveries (workspace_sid, delivered_seq) VALUES (?, 0)",
        vec![w.sid.as_str().into()],
    );
    for a in &new.activities {
        insert_activity(b, a);
    }
    for c in &new.channels {
        insert_task_channel(b, c);
    }
    for q in &new.queues {
        insert_task_queue(b, q);
    }
    for f in &new.workflows {
        insert_workflow(b, f);
    }
}

fn insert_activity(b: &mut Sql, a: &Activity) {
    b.statement(
        "INSERT INTO activities (sid, workspace_sid, friendly_name, available, date_created,
            date_updated)
         VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            a.sid.as_str().into(),
            a.workspace_sid.as_str().into(),
            a.friendly_name.as_str().into(),
            a.available.into(),
            a.date_created.as_millis().into(),
            a.date_updated.as_millis().into(),
        ],
    );
}

fn insert_task_channel(b: &mut Sql, c: &TaskChannel) {
    b.statement(
        "INSERT INTO task_channels (sid, workspace_sid, friendly_name, unique_name,
            channel_optimized_routing, date_created, date_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            c.sid.as_str().into(),
            c.workspace_sid.as_str().into(),
            c.friendly_name.as_str().into(),
            c.unique_name.as_str().into(),
            c.channel_optimized_routing.into(),
            c.date_created.as_millis().into(),
            c.date_updated.as_millis().into(),
        ],
    );
}

fn insert_worker_channel(b: &mut Sql, c: &WorkerChannel) {
    b.statement(
        "INSERT INTO worker_channels (sid, workspace_sid, worker_sid, task_channel_sid, capacity,
            available, date_created, date_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            c.sid.as_str().into(),
            c.workspace_sid.as_str().into(),
            c.worker_sid.as_str().into(),
            c.task_channel_sid.as_str().into(),
            c.configured_capacity.into(),
            c.available.into(),
            c.date_created.as_millis().into(),
            c.date_updated.as_millis().into(),
        ],
    );
}

fn insert_task_queue(b: &mut Sql, q: &TaskQueue) {
    b.statement(
        "INSERT INTO task_queues (sid, workspace_sid, friendly_name, target_workers,
            max_reserved_workers, task_order, reservation_activity_sid, assignment_activity_sid,
            date_created, date_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            q.sid.as_str().into(),
            q.workspace_sid.as_str().into(),
            q.friendly_name.as_str().into(),
            q.target_workers.as_str().into(),
            q.max_reserved_workers.into(),
            q.task_order.as_str().into(),
            q.reservation_activity
                .as_ref()
                .map(|(s, _)| s.as_str())
                .into(),
            q.assignment_activity
                .as_ref()
                .map(|(s, _)| s.as_str())
                .into(),
            q.date_created.as_millis().into(),
            q.date_updated.as_millis().into(),
        ],
    );
}

fn insert_workflow(b: &mut Sql, f: &Workflow) {
    b.statement(
        "INSERT INTO workflows (sid, workspace_sid, friendly_name, configuration,
            assignment_callback_url, fallback_assignment_callback_url, task_reservation_timeout,
            date_created, date_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            f.sid.as_str().into(),
            f.workspace_sid.as_str().into(),
            f.friendly_name.as_str().into(),
            f.configuration.as_str().into(),
            f.assignment_callback_url.clone().into(),
            f.fallback_assignment_callback_url.clone().into(),
            f.task_reservation_timeout.into(),
            f.date_created.as_millis().into(),
            f.date_updated.as_millis().into(),
        ],
    );
}
