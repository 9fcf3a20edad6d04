use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn credentials_are_required_and_accounts_are_isolated() {
    let s = Server::start().await;
    assert_error(
        &s.anonymous().get("/Workspaces").await,
        401,
        20003,
        "Authenticate",
    );
    assert_error(
        &s.as_account(ACCOUNT, "wrong").get("/Workspaces").await,
        401,
        20003,
        "Authenticate",
    );
    assert_error(
        &s.as_account("ACnot-a-sid", TOKEN).get("/Workspaces").await,
        401,
        20003,
        "Authenticate",
    );
    assert_error(
        &s.as_account(OTHER_ACCOUNT, TOKEN).get("/Workspaces").await,
        401,
        20003,
        "Authenticate",
    );

    let ws = s.workspace("Mine").await;
    let other = s.as_account(OTHER_ACCOUNT, OTHER_TOKEN);
    assert_error(
        &other.get(&format!("/Workspaces/{ws}")).await,
        404,
        20404,
        &format!("/Workspaces/{ws}"),
    );
    assert_error(
        &other.get(&format!("/Workspaces/{ws}/Workers")).await,
        404,
        20404,
        "was not found",
    );
    assert_error(
        &other
            .post(
                &format!("/Workspaces/{ws}/Workers"),
                &[("FriendlyName", "x")],
            )
            .await,
        404,
        20404,
        "was not found",
    );
    let (_, list) = other.get("/Workspaces").await;
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 0);
    let (status, theirs) = other
        .post("/Workspaces", &[("FriendlyName", "Theirs")])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(theirs["account_sid"], OTHER_ACCOUNT);

    // Health needs no credentials.
    let (status, _) = s.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn not_found_and_method_not_allowed_are_twilio_shaped() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    assert_error(
        &s.get("/Workspaces/WS00000000000000000000000000000000")
            .await,
        404,
        20404,
        "The requested resource /Workspaces/WS00000000000000000000000000000000 was not found",
    );
    assert_error(
        &s.get("/Workspaces/not-a-sid").await,
        404,
        20404,
        "/Workspaces/not-a-sid",
    );
    assert_error(
        &s.get(&format!(
            "/Workspaces/{ws}/Workers/WK00000000000000000000000000000000"
        ))
        .await,
        404,
        20404,
        "/Workers/WK00000000000000000000000000000000",
    );
    assert_error(
        &s.get(&format!("/Workspaces/{ws}/Nothing")).await,
        404,
        20404,
        "was not found",
    );
    let (res, _) = s
        .request(reqwest::Method::PUT, &format!("/Workspaces/{ws}"), &[], &[])
        .await;
    assert_error(&res, 405, 20004, "Method not allowed");
    let (res, _) = s
        .request(reqwest::Method::DELETE, "/Workspaces", &[], &[])
        .await;
    assert_error(&res, 405, 20004, "Method not allowed");
    s.stop().await;
}
