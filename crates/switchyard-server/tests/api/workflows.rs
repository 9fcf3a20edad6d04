use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn crud_and_configuration_validation() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let (_, q) = s
        .post(
            &format!("/Workspaces/{ws}/TaskQueues"),
            &[
                ("FriendlyName", "Caption Queue"),
                ("TargetWorkers", "skill == \"caption\""),
            ],
        )
        .await;
    let queue = q["sid"].as_str().unwrap();
    let path = format!("/Workspaces/{ws}/Workflows");
    let config = format!(
        r#"{{"task_routing":{{"filters":[{{"filter_friendly_name":"Captions","expression":"required_skill = \"caption\"","targets":[{{"queue":"{queue}","priority":"5","timeout":30}},{{"priority":10}}]}}],"default_filter":{{"queue":"{queue}"}}}}}}"#
    );
    let (status, wf) = s
        .post(
            &path,
            &[
                ("FriendlyName", "Photos"),
                ("Configuration", &config),
                ("AssignmentCallbackUrl", "http://127.0.0.1:9/assignment"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wf}");
    let sid = wf["sid"].as_str().unwrap();
    assert!(sid.starts_with("WW"));
    assert_eq!(
        wf["configuration"],
        config.as_str(),
        "configuration is echoed as sent"
    );
    assert_eq!(wf["task_reservation_timeout"], 120);
    assert_eq!(
        wf["assignment_callback_url"],
        "http://127.0.0.1:9/assignment"
    );
    assert_eq!(wf["fallback_assignment_callback_url"], Value::Null);
    assert_eq!(wf["document_content_type"], "application/json");
    assert_eq!(
        wf["links"]["real_time_statistics"],
        format!(
            "{}/v1/Workspaces/{ws}/Workflows/{sid}/RealTimeStatistics",
            s.base
        )
    );

    let (status, u) = s
        .post(
            &format!("{path}/{sid}"),
            &[
                ("TaskReservationTimeout", "300"),
                (
                    "FallbackAssignmentCallbackUrl",
                    "https://example.com/fallback",
                ),
                ("AssignmentCallbackUrl", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["task_reservation_timeout"], 300);
    assert_eq!(
        u["fallback_assignment_callback_url"],
        "https://example.com/fallback"
    );
    assert_eq!(u["assignment_callback_url"], Value::Null);

    let (_, list) = s.get(&format!("{path}?FriendlyName=Photos")).await;
    assert_eq!(list["workflows"].as_array().unwrap().len(), 1);
    let (_, list) = s.get(&format!("{path}?FriendlyName=Nope")).await;
    assert_eq!(list["workflows"].as_array().unwrap().len(), 0);

    let bad = |c: &str| {
        vec![
            ("FriendlyName".to_owned(), "B".to_owned()),
            ("Configuration".to_owned(), c.to_owned()),
        ]
    };
    for (config, want) in [
        ("{", "not valid JSON"),
        (r#"{"routing":{}}"#, "unknown key 'routing'"),
        (
            r#"{"task_routing":{"filters":[{"expression":"a ==","targets":[{"queue":"WQ00000000000000000000000000000000"}]}]}}"#,
            "task_routing.filters[0].expression",
        ),
        (
            r#"{"task_routing":{"default_filter":{"queue":"WQ00000000000000000000000000000000"}}}"#,
            "TaskQueue WQ00000000000000000000000000000000 is not in workspace",
        ),
        (
            r#"{"task_routing":{"default_filter":{"queue":"WQ1"}}}"#,
            "is not a TaskQueue SID",
        ),
    ] {
        let form = bad(config);
        let form: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_error(&s.post(&path, &form).await, 400, 20001, want);
    }
    assert_error(
        &s.post(&path, &[("FriendlyName", "B")]).await,
        400,
        20001,
        "Configuration",
    );
    assert_error(
        &s.post(
            &format!("{path}/{sid}"),
            &[("TaskReservationTimeout", "86401")],
        )
        .await,
        400,
        20001,
        "TaskReservationTimeout",
    );
    assert_error(
        &s.post(
            &format!("{path}/{sid}"),
            &[("AssignmentCallbackUrl", "ftp://x")],
        )
        .await,
        400,
        20001,
        "AssignmentCallbackUrl",
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
