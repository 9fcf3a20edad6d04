//! Events: recorded with each change, listed and filtered through `/Events`.

use serde_json::Value;

use crate::common::*;
use crate::routing::{available_worker, pending_reservations, simple_workspace};

/// Whether an event type records a change of configuration rather than routing.
fn is_configuration(kind: &str) -> bool {
    ["workspace.", "activity.", "task-channel."]
        .iter()
        .any(|p| kind.starts_with(p))
        || ["worker.created", "task-queue.created", "workflow.created"].contains(&kind)
}

fn types(list: &Value) -> Vec<String> {
    list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_routed_task_records_twilio_events_in_order() {
    let s = Server::start().await;
    let (ws, queue, workflow) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let alice = available_worker(&s, &ws, "alice").await;
    let bob = available_worker(&s, &ws, "bob").await;
    let task = sid_of(
        &s.create(
            &format!("{w}/Tasks"),
            &[("Attributes", r#"{"type":"support"}"#)],
        )
        .await,
    );
    // Alice is offered it first (she has been idle longest) and rejects; Bob accepts.
    let first = pending_reservations(&s, &ws, &task).await;
    assert_eq!(first[0]["worker_sid"], alice.as_str());
    let r1 = sid_of(&first[0]);
    s.post(
        &format!("{w}/Tasks/{task}/Reservations/{r1}"),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    let second = pending_reservations(&s, &ws, &task).await;
    assert_eq!(second[0]["worker_sid"], bob.as_str());
    let r2 = sid_of(&second[0]);
    s.post(
        &format!("{w}/Tasks/{task}/Reservations/{r2}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    s.post(
        &format!("{w}/Tasks/{task}"),
        &[("AssignmentStatus", "wrapping")],
    )
    .await;
    s.post(
        &format!("{w}/Tasks/{task}"),
        &[("AssignmentStatus", "completed"), ("Reason", "done")],
    )
    .await;

    let (st, list) = s.get(&format!("{w}/Events?TaskSid={task}")).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(
        types(&list),
        [
            "task.created",
            "workflow.entered",
            "workflow.target-matched",
            "task-queue.entered",
            "reservation.created",
            "reservation.rejected",
            "reservation.created",
            "reservation.accepted",
            "task.wrapup",
            "reservation.wrapup",
            "task.completed",
            "reservation.completed",
        ]
    );
    assert_eq!(list["meta"]["key"], "events");

    let accepted = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "reservation.accepted")
        .unwrap()
        .clone();
    let ws_url = format!("{}/v1/Workspaces/{ws}", s.base);
    assert_eq!(accepted["account_sid"], ACCOUNT);
    assert_eq!(accepted["workspace_sid"], ws.as_str());
    assert_eq!(accepted["resource_type"], "reservation");
    assert_eq!(accepted["resource_sid"], r2.as_str());
    assert_eq!(
        accepted["resource_url"],
        format!("{ws_url}/Tasks/{task}/Reservations/{r2}")
    );
    assert_eq!(accepted["actor_type"], "workspace");
    assert_eq!(accepted["actor_sid"], ws.as_str());
    assert_eq!(accepted["actor_url"], ws_url);
    assert_eq!(accepted["event_date"], "2014-05-14T10:50:02Z");
    assert_eq!(accepted["event_date_ms"], START.as_millis());
    let ev = sid_of(&accepted);
    assert!(ev.starts_with("EV"));
    assert_eq!(accepted["url"], format!("{ws_url}/Events/{ev}"));
    let data = &accepted["event_data"];
    assert!(data.is_object(), "event_data is a JSON object");
    for (key, want) in [
        ("task_sid", task.as_str()),
        ("reservation_sid", r2.as_str()),
        ("worker_sid", bob.as_str()),
        ("worker_name", "bob"),
        ("task_queue_sid", queue.as_str()),
        ("task_queue_name", "Q"),
        ("workflow_sid", workflow.as_str()),
        ("workflow_name", "F"),
        ("workspace_sid", ws.as_str()),
        ("workspace_name", "W"),
        ("task_assignment_status", "assigned"),
        ("task_attributes", r#"{"type":"support"}"#),
        ("task_channel_unique_name", "default"),
        ("task_age", "0"),
    ] {
        assert_eq!(data[key], want, "event_data.{key}");
    }
    let completed = &list["events"][10];
    assert_eq!(completed["event_data"]["task_completed_reason"], "done");

    // Fetch one, and the filters.
    let (st, one) = s.get(&format!("{w}/Events/{ev}")).await;
    assert_eq!(st, 200);
    assert_eq!(one, accepted);
    let (st, _) = s
        .get(&format!("{w}/Events/EV00000000000000000000000000000000"))
        .await;
    assert_eq!(st, 404);
    let count = |v: &Value| v["events"].as_array().unwrap().len();
    let (_, created) = s
        .get(&format!("{w}/Events?EventType=reservation.created"))
        .await;
    assert_eq!(count(&created), 2);
    let (_, of_bob) = s.get(&format!("{w}/Events?WorkerSid={bob}")).await;
    assert_eq!(
        types(&of_bob),
        [
            "worker.created",
            "reservation.created",
            "reservation.accepted",
            "reservation.wrapup",
            "reservation.completed"
        ]
    );
    let (_, of_r1) = s.get(&format!("{w}/Events?ReservationSid={r1}")).await;
    assert_eq!(
        types(&of_r1),
        ["reservation.created", "reservation.rejected"]
    );
    let (_, of_queue) = s
        .get(&format!(
            "{w}/Events?TaskQueueSid={queue}&EventType=task-queue.entered"
        ))
        .await;
    assert_eq!(count(&of_queue), 1);
    let (_, by_channel) = s
        .get(&format!(
            "{w}/Events?TaskChannel=default&EventType=task.created"
        ))
        .await;
    assert_eq!(count(&by_channel), 1);
    let (_, by_sid) = s.get(&format!("{w}/Events?Sid={ev}")).await;
    assert_eq!(count(&by_sid), 1);

    // The default window is the last 15 minutes of the (manual) clock.
    s.post("/_switchyard/Clock", &[("Advance", "1200")]).await;
    let (_, recent) = s.get(&format!("{w}/Events?TaskSid={task}")).await;
    assert_eq!(count(&recent), 0);
    let (_, wider) = s
        .get(&format!("{w}/Events?TaskSid={task}&Minutes=30"))
        .await;
    assert_eq!(count(&wider), 12);
    let (_, since) = s
        .get(&format!(
            "{w}/Events?TaskSid={task}&StartDate=2014-05-14T10:00:00Z&EndDate=2014-05-14T11:00:00Z"
        ))
        .await;
    assert_eq!(count(&since), 12);
    let (_, paged) = s
        .get(&format!("{w}/Events?TaskSid={task}&Minutes=30&PageSize=5"))
        .await;
    assert_eq!(count(&paged), 5);
    let next = paged["meta"]["next_page_url"].as_str().unwrap().to_owned();
    let (_, page2) = s.get(next.split("/v1").nth(1).unwrap()).await;
    assert_eq!(types(&page2)[0], "reservation.rejected");
    s.stop().await;
}

#[tokio::test]
async fn timers_and_worker_changes_record_their_events() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let alice = available_worker(&s, &ws, "alice").await;
    let task = sid_of(&s.create(&format!("{w}/Tasks"), &[("Timeout", "600")]).await);
    // The reservation times out after the workflow's 120 s: Alice goes to the timeout
    // activity (Offline) and the task waits until its TTL cancels it.
    s.post("/_switchyard/Clock", &[("Advance", "120")]).await;
    s.post("/_switchyard/Clock", &[("Advance", "480")]).await;
    let (_, list) = s.get(&format!("{w}/Events?Minutes=60")).await;
    let got: Vec<String> = types(&list)
        .into_iter()
        .filter(|t| !is_configuration(t))
        .filter(|t| !t.starts_with("workflow.") && t != "task-queue.entered")
        .collect();
    assert_eq!(
        got,
        [
            "task.created",
            "reservation.created",
            "reservation.timeout",
            "worker.activity.update",
            "task.canceled",
        ]
    );
    let events = list["events"].as_array().unwrap();
    let moved = events
        .iter()
        .find(|e| e["event_type"] == "worker.activity.update")
        .unwrap();
    assert_eq!(moved["resource_type"], "worker");
    assert_eq!(moved["resource_sid"], alice.as_str());
    assert_eq!(moved["event_data"]["worker_activity_name"], "Offline");
    assert_eq!(
        moved["event_data"]["worker_time_in_previous_activity"],
        "120"
    );
    assert_eq!(
        moved["event_data"]["worker_time_in_previous_activity_ms"],
        "120000"
    );
    assert_eq!(
        moved["description"],
        "Worker alice updated to Offline Activity"
    );
    let canceled = events.last().unwrap();
    assert_eq!(canceled["event_data"]["task_sid"], task.as_str());
    assert_eq!(
        canceled["event_data"]["task_canceled_reason"],
        "Task TTL Exceeded"
    );
    assert_eq!(canceled["event_data"]["task_age"], "600");

    // A worker's own change over REST.
    let available = s.activity(&ws, "Available").await;
    s.post(
        &format!("{w}/Workers/{alice}"),
        &[("ActivitySid", &available), ("Attributes", r#"{"x":1}"#)],
    )
    .await;
    let (_, of_alice) = s
        .get(&format!("{w}/Events?WorkerSid={alice}&Minutes=1"))
        .await;
    assert_eq!(
        types(&of_alice),
        ["worker.activity.update", "worker.attributes.update"]
    );
    assert_eq!(
        of_alice["events"][1]["event_data"]["worker_attributes"],
        r#"{"x":1}"#
    );
    s.stop().await;
}

#[tokio::test]
async fn configuration_changes_record_their_events() {
    let s = Server::start().await;
    let ws = s.workspace("Config").await;
    let w = format!("/Workspaces/{ws}");
    // A new workspace's log starts with its creation and what it comes with.
    let (_, list) = s.get(&format!("{w}/Events")).await;
    let created = types(&list);
    assert_eq!(created[0], "workspace.created");
    assert_eq!(
        created.iter().filter(|t| *t == "activity.created").count(),
        3,
        "{created:?}"
    );
    assert_eq!(
        created
            .iter()
            .filter(|t| *t == "task-channel.created")
            .count(),
        5,
        "{created:?}"
    );
    let start = list["events"].as_array().unwrap().len();

    let activity = sid_of(
        &s.create(
            &format!("{w}/Activities"),
            &[("FriendlyName", "Lunch"), ("Available", "false")],
        )
        .await,
    );
    s.ok(
        &format!("{w}/Activities/{activity}"),
        &[("FriendlyName", "Long lunch")],
    )
    .await;
    let queue = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[("FriendlyName", "Support"), ("TargetWorkers", "1==1")],
        )
        .await,
    );
    // Renaming a queue is no event; a new expression is.
    s.ok(
        &format!("{w}/TaskQueues/{queue}"),
        &[("FriendlyName", "Help")],
    )
    .await;
    s.ok(
        &format!("{w}/TaskQueues/{queue}"),
        &[("TargetWorkers", "skills HAS 'help'")],
    )
    .await;
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let workflow = sid_of(
        &s.create(
            &format!("{w}/Workflows"),
            &[("FriendlyName", "Main"), ("Configuration", &config)],
        )
        .await,
    );
    s.ok(
        &format!("{w}/Workflows/{workflow}"),
        &[("TaskReservationTimeout", "60")],
    )
    .await;
    let channel = sid_of(
        &s.create(
            &format!("{w}/TaskChannels"),
            &[("FriendlyName", "Fax"), ("UniqueName", "fax")],
        )
        .await,
    );
    s.ok(
        &format!("{w}/TaskChannels/{channel}"),
        &[("ChannelOptimizedRouting", "true")],
    )
    .await;
    let worker = sid_of(
        &s.create(&format!("{w}/Workers"), &[("FriendlyName", "alice")])
            .await,
    );
    s.ok(
        &format!("{w}/Workers/{worker}/Channels/fax"),
        &[("Capacity", "3"), ("Available", "false")],
    )
    .await;
    s.ok(&w, &[("FriendlyName", "Config 2")]).await;
    for path in [
        format!("{w}/Workers/{worker}"),
        format!("{w}/TaskChannels/{channel}"),
        format!("{w}/Workflows/{workflow}"),
        format!("{w}/TaskQueues/{queue}"),
        format!("{w}/Activities/{activity}"),
    ] {
        let (st, body) = s.delete(&path).await;
        assert_eq!(st, 204, "{path}: {body}");
    }

    let (_, list) = s.get(&format!("{w}/Events?PageSize=100")).await;
    let events = &list["events"].as_array().unwrap()[start..];
    let got: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "activity.created",
            "activity.updated",
            "task-queue.created",
            "task-queue.expression.updated",
            "workflow.created",
            "workflow.updated",
            "task-channel.created",
            "task-channel.updated",
            "worker.created",
            "worker.capacity.update",
            "worker.channel.availability.update",
            "workspace.updated",
            "worker.deleted",
            "task-channel.deleted",
            "workflow.deleted",
            "task-queue.deleted",
            "activity.deleted",
        ]
    );
    let of = |kind: &str| events.iter().find(|e| e["event_type"] == kind).unwrap();

    let a = of("activity.updated");
    assert_eq!(a["resource_type"], "activity");
    assert_eq!(a["resource_sid"], activity.as_str());
    assert_eq!(a["event_data"]["activity_name"], "Long lunch");
    assert_eq!(a["event_data"]["activity_available"], "false");

    let q = of("task-queue.expression.updated");
    assert_eq!(q["resource_type"], "taskqueue");
    assert_eq!(q["event_data"]["task_queue_sid"], queue.as_str());
    assert_eq!(q["event_data"]["task_queue_name"], "Help");
    assert_eq!(
        q["event_data"]["task_queue_target_expression"],
        "skills HAS 'help'"
    );

    let f = of("workflow.created");
    assert_eq!(f["resource_sid"], workflow.as_str());
    assert_eq!(f["event_data"]["workflow_name"], "Main");

    let c = of("task-channel.updated");
    assert_eq!(c["resource_type"], "taskchannel");
    assert_eq!(c["event_data"]["task_channel_unique_name"], "fax");
    assert_eq!(c["event_data"]["task_channel_optimized_routing"], "true");

    let cap = of("worker.capacity.update");
    assert_eq!(cap["resource_sid"], worker.as_str());
    assert_eq!(cap["event_data"]["worker_name"], "alice");
    assert_eq!(cap["event_data"]["task_channel_unique_name"], "fax");
    assert_eq!(cap["event_data"]["worker_channel_available_capacity"], "3");
    assert_eq!(cap["event_data"]["worker_channel_previous_capacity"], "1");
    assert_eq!(cap["event_data"]["worker_channel_available"], "false");

    // The workspace group of every event follows the workspace's name.
    assert_eq!(
        of("workspace.updated")["event_data"]["workspace_name"],
        "Config 2"
    );
    assert_eq!(
        of("worker.deleted")["event_data"]["workspace_name"],
        "Config 2"
    );
    assert_eq!(
        of("worker.created")["event_data"]["workspace_name"],
        "Config"
    );

    // Filters see them too.
    let (_, of_worker) = s.get(&format!("{w}/Events?WorkerSid={worker}")).await;
    assert_eq!(
        types(&of_worker),
        [
            "worker.created",
            "worker.capacity.update",
            "worker.channel.availability.update",
            "worker.deleted",
        ]
    );
    let (_, of_queue) = s.get(&format!("{w}/Events?TaskQueueSid={queue}")).await;
    assert_eq!(
        types(&of_queue),
        [
            "task-queue.created",
            "task-queue.expression.updated",
            "task-queue.deleted",
        ]
    );
    s.stop().await;
}
