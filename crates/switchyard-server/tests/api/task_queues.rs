use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

fn names(list: &Value) -> Vec<String> {
    list["task_queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["friendly_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn crud_defaults_and_validation() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/TaskQueues");
    let (status, q) = s.post(&path, &[("FriendlyName", "Support")]).await;
    assert_eq!(status, StatusCode::CREATED, "{q}");
    let sid = q["sid"].as_str().unwrap();
    assert!(sid.starts_with("WQ"));
    assert_eq!(q["target_workers"], "1==1");
    assert_eq!(q["max_reserved_workers"], 1);
    assert_eq!(q["task_order"], "FIFO");
    assert_eq!(q["reservation_activity_sid"], Value::Null);
    assert_eq!(q["assignment_activity_name"], Value::Null);
    assert_eq!(
        q["links"]["list_statistics"],
        format!("{}/v1/Workspaces/{ws}/TaskQueues/Statistics", s.base)
    );
    assert_eq!(
        q["links"]["statistics"],
        format!("{}/v1/Workspaces/{ws}/TaskQueues/{sid}/Statistics", s.base)
    );

    let unavailable = s.activity(&ws, "Unavailable").await;
    let (status, u) = s
        .post(
            &format!("{path}/{sid}"),
            &[
                ("TargetWorkers", "skills HAS \"caption\""),
                ("MaxReservedWorkers", "5"),
                ("TaskOrder", "LIFO"),
                ("ReservationActivitySid", &unavailable),
                ("AssignmentActivitySid", &unavailable),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["target_workers"], "skills HAS \"caption\"");
    assert_eq!(u["max_reserved_workers"], 5);
    assert_eq!(u["task_order"], "LIFO");
    assert_eq!(u["reservation_activity_name"], "Unavailable");
    assert_eq!(u["assignment_activity_sid"], unavailable.as_str());
    assert_eq!(
        u["links"]["assignment_activity"],
        format!("{}/v1/Workspaces/{ws}/Activities/{unavailable}", s.base)
    );

    assert_error(
        &s.post(&path, &[("FriendlyName", "Support")]).await,
        400,
        20001,
        "Queue named Support already exists",
    );
    assert_error(
        &s.post(
            &path,
            &[("FriendlyName", "B"), ("TargetWorkers", "skills HAS")],
        )
        .await,
        400,
        20001,
        "TargetWorkers is not a valid expression",
    );
    assert_error(
        &s.post(
            &path,
            &[
                ("FriendlyName", "B"),
                ("TargetWorkers", "first-name == 'x'"),
            ],
        )
        .await,
        400,
        20001,
        "TargetWorkers",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "B"), ("MaxReservedWorkers", "0")])
            .await,
        400,
        20001,
        "MaxReservedWorkers",
    );
    assert_error(
        &s.post(
            &path,
            &[("FriendlyName", "B"), ("MaxReservedWorkers", "51")],
        )
        .await,
        400,
        20001,
        "MaxReservedWorkers",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "B"), ("TaskOrder", "RANDOM")])
            .await,
        400,
        20001,
        "TaskOrder",
    );
    assert_error(
        &s.post(
            &path,
            &[
                ("FriendlyName", "B"),
                (
                    "ReservationActivitySid",
                    "WA00000000000000000000000000000000",
                ),
            ],
        )
        .await,
        400,
        20001,
        "ReservationActivitySid",
    );

    assert_eq!(
        s.delete(&format!("{path}/{sid}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.get(&format!("{path}/{sid}")).await,
        404,
        20404,
        "was not found",
    );
    s.stop().await;
}

#[tokio::test]
async fn list_filters() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/TaskQueues");
    s.post(
        &path,
        &[
            ("FriendlyName", "Tier 1"),
            ("TargetWorkers", "tech_support_skill < 5"),
        ],
    )
    .await;
    s.post(
        &path,
        &[
            ("FriendlyName", "Tier 2"),
            ("TargetWorkers", "tech_support_skill > 5"),
        ],
    )
    .await;
    s.post(&path, &[("FriendlyName", "Everyone")]).await;
    let (_, w) = s
        .post(
            &format!("/Workspaces/{ws}/Workers"),
            &[
                ("FriendlyName", "A"),
                ("Attributes", r#"{"tech_support_skill":2}"#),
            ],
        )
        .await;
    let worker = w["sid"].as_str().unwrap();

    let (_, list) = s
        .get(&format!(
            "{path}?EvaluateWorkerAttributes=%7B%22tech_support_skill%22%3A%20%226%22%7D"
        ))
        .await;
    assert_eq!(names(&list), ["Tier 2", "Everyone"]);
    let (_, list) = s.get(&format!("{path}?WorkerSid={worker}")).await;
    assert_eq!(names(&list), ["Tier 1", "Everyone"]);
    let (_, list) = s.get(&format!("{path}?FriendlyName=Tier%202")).await;
    assert_eq!(names(&list), ["Tier 2"]);
    assert_error(
        &s.get(&format!("{path}?EvaluateWorkerAttributes=%7Bnope"))
            .await,
        400,
        20001,
        "EvaluateWorkerAttributes",
    );
    s.stop().await;
}

#[tokio::test]
async fn a_queue_a_workflow_routes_to_cannot_be_deleted() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let (_, q) = s
        .post(
            &format!("/Workspaces/{ws}/TaskQueues"),
            &[("FriendlyName", "Q")],
        )
        .await;
    let queue = q["sid"].as_str().unwrap();
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let (_, wf) = s
        .post(
            &format!("/Workspaces/{ws}/Workflows"),
            &[("FriendlyName", "F"), ("Configuration", &config)],
        )
        .await;
    assert_error(
        &s.delete(&format!("/Workspaces/{ws}/TaskQueues/{queue}"))
            .await,
        400,
        20001,
        "routes tasks to it",
    );
    let wf = wf["sid"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/Workspaces/{ws}/Workflows/{wf}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("/Workspaces/{ws}/TaskQueues/{queue}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    s.stop().await;
}

#[tokio::test]
async fn an_empty_target_workers_selects_nobody() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    s.post(
        &format!("/Workspaces/{ws}/Workers"),
        &[("FriendlyName", "A")],
    )
    .await;
    let (status, q) = s
        .post(
            &format!("/Workspaces/{ws}/TaskQueues"),
            &[("FriendlyName", "Parked"), ("TargetWorkers", "")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{q}");
    assert_eq!(q["target_workers"], "");
    let queue = q["sid"].as_str().unwrap();
    let (_, workers) = s
        .get(&format!("/Workspaces/{ws}/Workers?TaskQueueSid={queue}"))
        .await;
    assert_eq!(workers["workers"].as_array().unwrap().len(), 0);
    let (_, queues) = s
        .get(&format!(
            "/Workspaces/{ws}/TaskQueues?EvaluateWorkerAttributes=%7B%7D"
        ))
        .await;
    assert_eq!(names(&queues), Vec::<String>::new());
    let (_, q) = s
        .post(
            &format!("/Workspaces/{ws}/TaskQueues/{queue}"),
            &[("TargetWorkers", "1==1")],
        )
        .await;
    assert_eq!(q["target_workers"], "1==1");
    let (_, workers) = s
        .get(&format!("/Workspaces/{ws}/Workers?TaskQueueSid={queue}"))
        .await;
    assert_eq!(workers["workers"].as_array().unwrap().len(), 1);
    s.stop().await;
}
