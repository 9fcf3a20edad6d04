//! `POST /_switchyard/Reset`: deletes the caller's workspaces, and only the caller's.

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn reset_deletes_every_workspace_of_the_callers_account_and_no_other() {
    let s = Server::start().await;
    let mine = [s.workspace("One").await, s.workspace("Two").await];
    let w = format!("/Workspaces/{}", mine[0]);
    let available = s.activity(&mine[0], "Available").await;
    s.create(
        &format!("{w}/Workers"),
        &[("FriendlyName", "Alice"), ("ActivitySid", &available)],
    )
    .await;
    let other = s.as_account(OTHER_ACCOUNT, OTHER_TOKEN);
    let (status, theirs) = other
        .post("/Workspaces", &[("FriendlyName", "Theirs")])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");

    let (status, body) = s.post("/_switchyard/Reset", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account_sid"], ACCOUNT);
    let mut deleted: Vec<&str> = (body["deleted_workspace_sids"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap())
        .collect();
    deleted.sort_unstable();
    let mut expected: Vec<&str> = mine.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(deleted, expected);

    let (_, list) = s.get("/Workspaces").await;
    assert_eq!(list["workspaces"], serde_json::json!([]), "{list}");
    assert_error(&s.get(&format!("{w}/Workers")).await, 404, 20404, "");
    let (status, _) = other.get(&format!("/Workspaces/{}", sid_of(&theirs))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another account's workspace survives"
    );

    // A second reset has nothing left to delete, and the account starts again from nothing.
    let (status, body) = s.post("/_switchyard/Reset", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deleted_workspace_sids"], serde_json::json!([]));
    s.workspace("One").await;
}

#[tokio::test]
async fn reset_needs_the_accounts_credentials() {
    let s = Server::start().await;
    let ws = s.workspace("Kept").await;
    assert_error(
        &s.anonymous().post("/_switchyard/Reset", &[]).await,
        401,
        20003,
        "",
    );
    assert_error(
        &s.as_account(ACCOUNT, "wrong")
            .post("/_switchyard/Reset", &[])
            .await,
        401,
        20003,
        "",
    );
    let (status, _) = s.get(&format!("/Workspaces/{ws}")).await;
    assert_eq!(status, StatusCode::OK);
}

/// A browser signed in to the console sends its credentials with any request to this origin:
/// a change another site's page submits is refused; the SDKs (no such headers) are not.
#[tokio::test]
async fn a_change_submitted_from_another_site_is_refused() {
    use reqwest::Method;
    let s = Server::start().await;
    let ws = s.workspace("Kept").await;
    let host = s.base.trim_start_matches("http://").to_owned();
    for headers in [
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[("Origin", "http://evil.example")][..],
        &[("Origin", "http://127.0.0.1:1")][..],
    ] {
        let ((status, body), _) = s
            .request(Method::POST, "/_switchyard/Reset", &[], headers)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {body}");
        assert_eq!(body["code"], 20403);
    }
    let ((status, _), _) = s
        .request(
            Method::POST,
            &format!("/Workspaces/{ws}"),
            &[("FriendlyName", "x")],
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the REST API too");
    let (status, _) = s.get(&format!("/Workspaces/{ws}")).await;
    assert_eq!(status, StatusCode::OK, "nothing was deleted");

    // The console's own page (same origin), and clients that send no such header, may.
    let origin = format!("http://{host}");
    let ((status, body), _) = s
        .request(
            Method::POST,
            "/_switchyard/Reset",
            &[],
            &[
                ("Origin", origin.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
