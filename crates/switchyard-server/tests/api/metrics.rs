//! `GET /metrics`: Prometheus's text format, without credentials, counting what happened.

use reqwest::StatusCode;

use crate::common::*;
use crate::routing::{available_worker, simple_workspace};

/// The metrics page, fetched without credentials.
async fn scrape(s: &Server) -> String {
    let response = reqwest::get(format!("{}/metrics", s.base)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels as rendered), or 0 when absent.
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_metrics_page_counts_requests_tasks_reservations_callbacks_and_commits() {
    let s = Server::start().await;
    // The recorder is the process's: other tests add to the same counters, so compare with a
    // page taken before.
    let before = scrape(&s).await;
    let mut app = Receiver::start(Reply::json(r#"{"instruction":"accept"}"#)).await;
    let (ws, _, _) = simple_workspace(&s, Some(&app.url), "1").await;
    let w = format!("/Workspaces/{ws}");
    available_worker(&s, &ws, "Alice").await;
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    app.next().await;
    s.eventually(&format!("{w}/Tasks/{task}"), |t| {
        t["assignment_status"] == "assigned"
    })
    .await;
    s.ok(
        &format!("{w}/Tasks/{task}"),
        &[("AssignmentStatus", "completed"), ("Reason", "done")],
    )
    .await;
    // A wrong password is counted too, as a 401.
    let (status, _) = s.as_account(ACCOUNT, "wrong").get("/Workspaces").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let after = scrape(&s).await;
    let grew = |series: &str, by: f64| {
        let (was, now) = (sample(&before, series), sample(&after, series));
        assert!(now >= was + by, "{series}: {was} -> {now}\n{after}");
    };
    grew("switchyard_tasks_created_total", 1.0);
    grew("switchyard_tasks_completed_total", 1.0);
    grew(r#"switchyard_reservations_total{outcome="created"}"#, 1.0);
    grew(r#"switchyard_reservations_total{outcome="accepted"}"#, 1.0);
    grew(r#"switchyard_reservations_total{outcome="completed"}"#, 1.0);
    grew(
        r#"switchyard_callback_attempts_total{kind="assignment",outcome="answered"}"#,
        1.0,
    );
    grew(
        r#"switchyard_http_requests_total{method="POST",route="/v1/Workspaces/{ws}/Tasks",status="201"}"#,
        1.0,
    );
    grew(
        r#"switchyard_http_requests_total{method="GET",route="/v1/Workspaces",status="401"}"#,
        1.0,
    );
    grew(
        r#"switchyard_http_request_duration_seconds_count{method="POST",route="/v1/Workspaces/{ws}/Tasks"}"#,
        1.0,
    );
    grew("switchyard_commit_duration_seconds_count", 3.0);
    grew("switchyard_commit_group_writes_count", 3.0);
    assert!(after.contains(r#"switchyard_commit_duration_seconds_bucket{le="0.001"}"#));
    assert!(
        sample(&after, "switchyard_workspaces_loaded") >= 1.0,
        "{after}"
    );
    // No account data in labels: routes are templates, never SIDs.
    for prefix in ["AC", "WS", "WT", "WK", "WR", "WQ", "WW"] {
        let sid_like = after.split(['"', '/']).any(|part| {
            part.len() == 34
                && part.starts_with(prefix)
                && part[2..].bytes().all(|b| b.is_ascii_hexdigit())
        });
        assert!(!sid_like, "a {prefix} SID in the metrics:\n{after}");
    }
}

#[tokio::test]
async fn a_refused_login_asks_the_browser_for_basic_credentials() {
    let s = Server::start().await;
    let response = reqwest::get(format!("{}/v1/Workspaces", s.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Basic realm="Switchyard""#
    );
}
