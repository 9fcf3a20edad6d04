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

#[tokio::test]
async fn channels_and_workers_created_at_once_keep_the_limit_and_meet() {
    let s = Server::start().await;
    let ws = s.workspace("W").await;
    let channels = format!("/Workspaces/{ws}/TaskChannels");
    let workers = format!("/Workspaces/{ws}/Workers");
    // Twenty new channels (the workspace has five: ten more fit), one name asked for twice,
    // and workers, all at once.
    let names: Vec<String> = (0..20).map(|i| format!("c{}", i.min(18))).collect();
    let channel_posts = names.iter().map(|n| {
        let (channels, s) = (&channels, &s);
        async move {
            s.post(channels, &[("FriendlyName", n), ("UniqueName", n)])
                .await
        }
    });
    let worker_names: Vec<String> = (0..5).map(|i| format!("w{i}")).collect();
    let worker_posts = worker_names.iter().map(|n| {
        let (workers, s) = (&workers, &s);
        async move { s.post(workers, &[("FriendlyName", n)]).await }
    });
    let (made, hired) = tokio::join!(
        futures_util::future::join_all(channel_posts),
        futures_util::future::join_all(worker_posts)
    );
    let created = made
        .iter()
        .filter(|(st, _)| *st == StatusCode::CREATED)
        .count();
    let statuses: Vec<u16> = made.iter().map(|(st, _)| st.as_u16()).collect();
    assert_eq!(created, 10, "{statuses:?}");
    for (status, body) in &made {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
    let (_, listed) = s.get(&format!("{channels}?PageSize=50")).await;
    assert_eq!(listed["channels"].as_array().unwrap().len(), 15);
    // Every worker has a channel for every task channel, whichever was created first.
    for (status, worker) in hired {
        assert_eq!(status, StatusCode::CREATED, "{worker}");
        let (_, own) = s
            .get(&format!(
                "{workers}/{}/Channels?PageSize=50",
                sid_of(&worker)
            ))
            .await;
        assert_eq!(own["channels"].as_array().unwrap().len(), 15, "{own}");
    }
    s.stop().await;
}
