//! `GET /_switchyard/Workspaces/{ws}/Tasks/{sid}/Explain`: why a task is or is not reserved,
//! worker by worker, through the real server.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use crate::routing::{available_worker, pending_reservations, simple_workspace};

async fn explain(s: &Server, ws: &str, task: &str) -> Value {
    let (status, body) = s
        .get(&format!(
            "/_switchyard/Workspaces/{ws}/Tasks/{task}/Explain"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The worker named `name` in an explanation.
fn worker<'a>(e: &'a Value, name: &str) -> &'a Value {
    (e["routing"]["workers"].as_array().unwrap().iter())
        .find(|w| w["friendly_name"] == name)
        .unwrap_or_else(|| panic!("no worker {name} in {e}"))
}

fn reasons(e: &Value, name: &str) -> Vec<String> {
    (worker(e, name)["reasons"].as_array().unwrap().iter())
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn explain_says_which_filter_matched_and_why_each_worker_cannot_take_the_task() {
    let s = Server::start().await;
    // An app that does not answer: reservations stay pending until the REST API decides.
    let app = Receiver::start(Reply::status(200)).await;
    let ws = s.workspace("Explain").await;
    let w = format!("/Workspaces/{ws}");
    let available = s.activity(&ws, "Available").await;
    let offline = s.activity(&ws, "Offline").await;
    let spanish = sid_of(
        &s.create(
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Spanish"),
                ("TargetWorkers", "skills HAS 'es'"),
            ],
        )
        .await,
    );
    let config = json!({"task_routing": {"filters": [
        {"filter_friendly_name": "Spanish speakers", "expression": "lang == 'es'",
         "targets": [{"queue": spanish, "timeout": 300}]}
    ]}})
    .to_string();
    s.create(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "Support"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", &app.url),
        ],
    )
    .await;
    for (name, skills, activity) in [
        ("Alice", r#"{"skills":["es"]}"#, &available),
        ("Bob", r#"{"skills":["en"]}"#, &available),
        ("Carol", r#"{"skills":["es"]}"#, &offline),
    ] {
        s.create(
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", name),
                ("Attributes", skills),
                ("ActivitySid", activity),
            ],
        )
        .await;
    }
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"lang":"es"}"#)])
            .await,
    );
    let reserved = s
        .eventually(&format!("{w}/Tasks/{task}"), |t| {
            t["assignment_status"] == "reserved"
        })
        .await;
    assert_eq!(reserved["assignment_status"], "reserved");

    // Reserved by Alice: the explanation says so.
    let e = explain(&s, &ws, &task).await;
    assert_eq!(e["task_sid"], task);
    assert_eq!(e["assignment_status"], "reserved");
    assert!(e["summary"].as_str().unwrap().contains("reserved"), "{e}");
    let filter = &e["routing"]["filters"][0];
    assert_eq!(filter["filter_friendly_name"], "Spanish speakers");
    assert_eq!(filter["matched"], true);
    assert_eq!(filter["current"], true);
    assert_eq!(e["routing"]["step"]["task_queue_sid"], spanish);
    assert!(e["routing"]["step"]["timeout_date"].is_string(), "{e}");
    assert_eq!(reasons(&e, "Alice"), ["already_reserved"]);

    // Alice rejects: now nobody can take it, each worker for its own reason.
    let pending = pending_reservations(&s, &ws, &task).await;
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{}", sid_of(&pending[0])),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    let e = explain(&s, &ws, &task).await;
    assert_eq!(e["assignment_status"], "pending", "{e}");
    assert_eq!(e["routing"]["eligible_workers"], 0);
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .starts_with("No worker may take the task now"),
        "{e}"
    );
    assert_eq!(reasons(&e, "Alice"), ["refused_before"]);
    let refused = &worker(&e, "Alice")["reasons"][0];
    assert_eq!(refused["reservation_sid"], sid_of(&pending[0]));
    assert!(refused["message"].as_str().unwrap().contains("rejected"));
    assert_eq!(reasons(&e, "Bob"), ["not_in_queue"]);
    let not_in_queue = &worker(&e, "Bob")["reasons"][0];
    assert_eq!(not_in_queue["task_queue_friendly_name"], "Spanish");
    assert_eq!(
        not_in_queue["unmet"],
        json!([{"comparison": "skills HAS 'es'", "values": {"skills": ["en"]}}])
    );
    assert_eq!(reasons(&e, "Carol"), ["activity_unavailable"]);
    assert_eq!(
        worker(&e, "Carol")["reasons"][0]["activity_name"],
        "Offline"
    );
    assert_eq!(e["history"][0]["outcome"], "rejected");

    // Carol comes online: she is reserved, accepts, and the task is assigned to her.
    let carol = worker(&e, "Carol")["worker_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    s.ok(
        &format!("{w}/Workers/{carol}"),
        &[("ActivitySid", &available)],
    )
    .await;
    s.eventually(&format!("{w}/Tasks/{task}"), |t| {
        t["assignment_status"] == "reserved"
    })
    .await;
    let pending = pending_reservations(&s, &ws, &task).await;
    s.ok(
        &format!("{w}/Tasks/{task}/Reservations/{}", sid_of(&pending[0])),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    let e = explain(&s, &ws, &task).await;
    assert_eq!(e["assignment_status"], "assigned");
    assert_eq!(e["routing"], Value::Null);
    assert_eq!(e["reservations"][0]["worker_name"], "Carol");
    assert_eq!(e["summary"], "The task is assigned (Carol).");
}

#[tokio::test]
async fn explain_shows_why_no_filter_matched_and_answers_404_for_an_unknown_task() {
    let s = Server::start().await;
    let ws = s.workspace("Unmatched").await;
    let w = format!("/Workspaces/{ws}");
    let queue = sid_of(
        &s.create(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
            .await,
    );
    let config = json!({"task_routing": {"filters": [
        {"expression": "lang == 'es'", "targets": [{"queue": queue}]}
    ]}})
    .to_string();
    s.create(
        &format!("{w}/Workflows"),
        &[("FriendlyName", "Only Spanish"), ("Configuration", &config)],
    )
    .await;
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", r#"{"lang":"fr"}"#)])
            .await,
    );
    let e = explain(&s, &ws, &task).await;
    assert_eq!(e["routing"]["route"]["type"], "unrouted", "{e}");
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .starts_with("No workflow filter matches"),
        "{e}"
    );
    let filter = &e["routing"]["filters"][0];
    assert_eq!(filter["matched"], false);
    assert_eq!(
        filter["unmet"],
        json!([{"comparison": "lang == 'es'", "values": {"lang": "fr"}}])
    );

    let unknown = "WT00000000000000000000000000000000";
    assert_error(
        &s.get(&format!(
            "/_switchyard/Workspaces/{ws}/Tasks/{unknown}/Explain"
        ))
        .await,
        404,
        20404,
        "",
    );
    assert_error(
        &s.get(&format!(
            "/_switchyard/Workspaces/{ws}/Tasks/nonsense/Explain"
        ))
        .await,
        404,
        20404,
        "",
    );
    // Another account sees nothing of it.
    assert_error(
        &s.as_account(OTHER_ACCOUNT, OTHER_TOKEN)
            .get(&format!(
                "/_switchyard/Workspaces/{ws}/Tasks/{task}/Explain"
            ))
            .await,
        404,
        20404,
        "",
    );
}

#[tokio::test]
async fn explain_names_a_failed_assignment_callback_and_when_the_worker_is_offered_the_task_again()
{
    let s = Server::start().await;
    let mut app = Receiver::start(Reply::status(500)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    available_worker(&s, &ws, "Alice").await;
    let task = sid_of(
        &s.create(&format!("/Workspaces/{ws}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    app.next().await;
    let e = s
        .eventually(
            &format!("/_switchyard/Workspaces/{ws}/Tasks/{task}/Explain"),
            |e| e["routing"]["workers"][0]["reasons"][0]["reason"] == "callback_failed",
        )
        .await;
    let failed = &worker(&e, "Alice")["reasons"][0];
    assert_eq!(failed["failures"], 1);
    assert!(failed["retry_date"].is_string(), "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("500"), "{error}");
    assert_eq!(e["history"][0]["outcome"], "canceled");
}
