use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn crud_by_sid_and_unique_name() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/TaskChannels");
    let (status, c) = s
        .post(
            &path,
            &[
                ("FriendlyName", "Email"),
                ("UniqueName", "email"),
                ("ChannelOptimizedRouting", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert!(c["sid"].as_str().unwrap().starts_with("TC"));
    assert_eq!(c["unique_name"], "email");
    assert_eq!(c["channel_optimized_routing"], true);
    let sid = c["sid"].as_str().unwrap();

    let (_, by_name) = s.get(&format!("{path}/email")).await;
    assert_eq!(by_name["sid"], sid);
    let (_, by_sid) = s.get(&format!("{path}/{sid}")).await;
    assert_eq!(by_sid, by_name);
    let (_, voice) = s.get(&format!("{path}/voice")).await;
    assert_eq!(voice["friendly_name"], "Voice");

    let (status, u) = s
        .post(
            &format!("{path}/email"),
            &[
                ("FriendlyName", "E-mail"),
                ("ChannelOptimizedRouting", "false"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(u["friendly_name"], "E-mail");
    assert_eq!(u["channel_optimized_routing"], false);

    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("UniqueName", "email")])
            .await,
        400,
        20001,
        "already exists",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("UniqueName", "1abc")])
            .await,
        400,
        20001,
        "UniqueName",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("UniqueName", "a-b")])
            .await,
        400,
        20001,
        "UniqueName",
    );
    assert_error(
        &s.post(&path, &[("FriendlyName", "x")]).await,
        400,
        20001,
        "UniqueName",
    );

    assert_eq!(
        s.delete(&format!("{path}/email")).await.0,
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
async fn at_most_fifteen_channels() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let path = format!("/Workspaces/{ws}/TaskChannels");
    for i in 0..10 {
        let name = format!("c{i}");
        assert_eq!(
            s.post(&path, &[("FriendlyName", &name), ("UniqueName", &name)])
                .await
                .0,
            StatusCode::CREATED
        );
    }
    assert_error(
        &s.post(&path, &[("FriendlyName", "x"), ("UniqueName", "x")])
            .await,
        400,
        20001,
        "maximum of 15",
    );
    s.stop().await;
}
