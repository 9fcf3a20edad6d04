//! Statistics: a scripted lifecycle on the manual clock, checked figure by figure against values
//! worked out by hand.

use serde_json::{json, Value};

use crate::common::*;
use crate::routing::{available_worker, pending_reservations, simple_workspace};

async fn advance(s: &Server, secs: &str) {
    let (st, body) = s.post("/_switchyard/Clock", &[("Advance", secs)]).await;
    assert_eq!(st, 200, "{body}");
}

fn workers_in(stats: &Value, activity: &str) -> i64 {
    stats["activity_statistics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["friendly_name"] == activity)
        .unwrap_or_else(|| panic!("no {activity} in {stats}"))["workers"]
        .as_i64()
        .unwrap()
}

/// t=0: T1 is offered to Alice, who rejects at t=10; Bob accepts at t=30. T2 (created at t=30)
/// is offered to Alice, whose reservation times out at t=150 (she goes to the timeout
/// activity); T2 is canceled at t=160, and T3 (priority 7) created then waits. Read at t=165.
#[tokio::test]
async fn statistics_follow_a_scripted_lifecycle() {
    let s = Server::start().await;
    let (ws, queue, workflow) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let alice = available_worker(&s, &ws, "alice").await;
    let bob = available_worker(&s, &ws, "bob").await;

    let t1 = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    let r = pending_reservations(&s, &ws, &t1).await;
    assert_eq!(r[0]["worker_sid"], alice.as_str());
    advance(&s, "10").await;
    s.ok(
        &format!("{w}/Tasks/{t1}/Reservations/{}", sid_of(&r[0])),
        &[("ReservationStatus", "rejected")],
    )
    .await;
    let r = pending_reservations(&s, &ws, &t1).await;
    assert_eq!(r[0]["worker_sid"], bob.as_str());
    advance(&s, "20").await;
    s.ok(
        &format!("{w}/Tasks/{t1}/Reservations/{}", sid_of(&r[0])),
        &[("ReservationStatus", "accepted")],
    )
    .await;

    let t2 = sid_of(&s.create(&format!("{w}/Tasks"), &[]).await);
    assert_eq!(
        pending_reservations(&s, &ws, &t2).await[0]["worker_sid"],
        alice.as_str()
    );
    advance(&s, "120").await;
    assert!(pending_reservations(&s, &ws, &t2).await.is_empty());
    let (_, alice_now) = s.get(&format!("{w}/Workers/{alice}")).await;
    let timeout_activity = alice_now["activity_name"].as_str().unwrap().to_owned();
    advance(&s, "10").await;
    s.ok(
        &format!("{w}/Tasks/{t2}"),
        &[
            ("AssignmentStatus", "canceled"),
            ("Reason", "no longer needed"),
        ],
    )
    .await;
    let t3 = sid_of(&s.create(&format!("{w}/Tasks"), &[("Priority", "7")]).await);
    advance(&s, "5").await;

    // Real time: T1 assigned to Bob, T3 pending for 5 s; Alice in the timeout activity.
    let (st, rt) = s.get(&format!("{w}/RealTimeStatistics")).await;
    assert_eq!(st, 200, "{rt}");
    assert_eq!(rt["account_sid"], ACCOUNT);
    assert_eq!(rt["workspace_sid"], ws.as_str());
    assert_eq!(rt["url"], format!("{}/v1{w}/RealTimeStatistics", s.base));
    assert_eq!(
        rt["tasks_by_status"],
        json!({"pending": 1, "reserved": 0, "assigned": 1, "wrapping": 0})
    );
    assert_eq!(rt["tasks_by_priority"], json!({"0": 1, "7": 1}));
    assert_eq!(rt["total_tasks"], 2);
    assert_eq!(rt["total_workers"], 2);
    assert_eq!(rt["longest_task_waiting_age"], 5);
    assert_eq!(rt["longest_task_waiting_sid"], t3.as_str());
    assert_eq!(workers_in(&rt, &timeout_activity), 1);
    assert_eq!(workers_in(&rt, "Available"), 1);

    let (st, qrt) = s
        .get(&format!("{w}/TaskQueues/{queue}/RealTimeStatistics"))
        .await;
    assert_eq!(st, 200, "{qrt}");
    assert_eq!(qrt["task_queue_sid"], queue.as_str());
    assert_eq!(qrt["total_eligible_workers"], 2);
    assert_eq!(qrt["total_available_workers"], 1);
    assert_eq!(qrt["total_tasks"], 2);
    assert_eq!(qrt["longest_relative_task_age_in_queue"], 5);
    assert_eq!(qrt["longest_relative_task_sid_in_queue"], t3.as_str());

    let (_, wfrt) = s
        .get(&format!("{w}/Workflows/{workflow}/RealTimeStatistics"))
        .await;
    assert_eq!(wfrt["workflow_sid"], workflow.as_str());
    assert_eq!(wfrt["total_tasks"], 2);
    assert!(wfrt.get("activity_statistics").is_none());

    // Cumulative, over the default 15 minutes: everything above.
    let (st, cum) = s
        .get(&format!("{w}/CumulativeStatistics?SplitByWaitTime=60"))
        .await;
    assert_eq!(st, 200, "{cum}");
    for (field, want) in [
        ("reservations_created", 3),
        ("reservations_accepted", 1),
        ("reservations_rejected", 1),
        ("reservations_timed_out", 1),
        ("reservations_canceled", 0),
        ("reservations_rescinded", 0),
        ("tasks_created", 3),
        ("tasks_canceled", 1),
        ("tasks_completed", 0),
        ("tasks_deleted", 0),
        ("tasks_moved", 0),
        ("tasks_timed_out_in_workflow", 0),
        ("avg_task_acceptance_time", 30),
    ] {
        assert_eq!(cum[field], want, "{field}");
    }
    assert_eq!(
        cum["wait_duration_until_accepted"],
        json!({"avg": 30, "min": 30, "max": 30, "total": 30})
    );
    assert_eq!(
        cum["wait_duration_until_canceled"],
        json!({"avg": 130, "min": 130, "max": 130, "total": 130})
    );
    assert_eq!(
        cum["split_by_wait_time"],
        json!({"60": {
            "below": {"tasks_canceled": 0, "reservations_accepted": 1},
            "above": {"tasks_canceled": 1, "reservations_accepted": 0},
        }})
    );
    assert_eq!(cum["end_time"], "2014-05-14T10:52:47Z");
    assert_eq!(cum["start_time"], "2014-05-14T10:37:47Z");

    let (_, qcum) = s
        .get(&format!("{w}/TaskQueues/{queue}/CumulativeStatistics"))
        .await;
    assert_eq!(qcum["tasks_entered"], 3);
    assert_eq!(
        qcum["wait_duration_in_queue_until_accepted"],
        json!({"avg": 30, "min": 30, "max": 30, "total": 30})
    );
    assert_eq!(qcum["split_by_wait_time"], Value::Null);

    let (_, wfcum) = s
        .get(&format!("{w}/Workflows/{workflow}/CumulativeStatistics"))
        .await;
    assert_eq!(wfcum["tasks_entered"], 3);
    assert_eq!(wfcum["reservations_created"], 3);

    // Workers: Alice spent 150 s Available before her reservation timed out, then 15 s so far
    // in the timeout activity; Bob has been Available for 165 s.
    let (_, wcum) = s.get(&format!("{w}/Workers/CumulativeStatistics")).await;
    let stays = |name: &str| {
        let a = wcum["activity_durations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["friendly_name"] == name)
            .unwrap()
            .clone();
        [&a["avg"], &a["min"], &a["max"], &a["total"]].map(|v| v.as_i64().unwrap())
    };
    assert_eq!(stays("Available"), [158, 150, 165, 315]);
    assert_eq!(stays(&timeout_activity), [15, 15, 15, 15]);
    assert_eq!(wcum["reservations_created"], 3);
    let (st, one) = s.get(&format!("{w}/Workers/{alice}/Statistics")).await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["worker_sid"], alice.as_str());
    assert_eq!(one["cumulative"]["reservations_created"], 2);
    assert_eq!(one["cumulative"]["reservations_rejected"], 1);
    assert_eq!(one["cumulative"]["reservations_timed_out"], 1);
    assert_eq!(one["cumulative"]["reservations_accepted"], 0);
    let (_, bob_only) = s
        .get(&format!("{w}/Workers/Statistics?FriendlyName=bob"))
        .await;
    assert_eq!(bob_only["realtime"]["total_workers"], 1);
    assert_eq!(bob_only["cumulative"]["reservations_accepted"], 1);
    assert_eq!(bob_only["cumulative"]["reservations_created"], 1);
    let (_, wrt) = s.get(&format!("{w}/Workers/RealTimeStatistics")).await;
    assert_eq!(wrt["total_workers"], 2);

    // The combined resources carry both halves.
    let (_, both) = s.get(&format!("{w}/Statistics")).await;
    assert_eq!(both["realtime"]["total_tasks"], 2);
    assert_eq!(both["cumulative"]["tasks_created"], 3);
    let (_, qboth) = s.get(&format!("{w}/TaskQueues/{queue}/Statistics")).await;
    assert_eq!(qboth["task_queue_sid"], queue.as_str());
    assert_eq!(qboth["realtime"]["total_eligible_workers"], 2);
    assert_eq!(qboth["cumulative"]["tasks_entered"], 3);
    let (_, wfboth) = s.get(&format!("{w}/Workflows/{workflow}/Statistics")).await;
    assert_eq!(wfboth["realtime"]["total_tasks"], 2);
    assert_eq!(wfboth["cumulative"]["tasks_entered"], 3);

    // Two minutes before an EndDate: t=30..150 holds T2's creation, not T1's.
    let (st, ended) = s
        .get(&format!(
            "{w}/CumulativeStatistics?Minutes=2&EndDate=2014-05-14T10:52:32Z"
        ))
        .await;
    assert_eq!(st, 200, "{ended}");
    assert_eq!(ended["start_time"], "2014-05-14T10:50:32Z");
    assert_eq!(ended["tasks_created"], 1);

    // A window that ends before anything happened counts nothing.
    let (_, early) = s
        .get(&format!(
            "{w}/CumulativeStatistics?StartDate=2014-05-14T10:00:00Z&EndDate=2014-05-14T10:10:00Z"
        ))
        .await;
    assert_eq!(early["tasks_created"], 0);
    assert_eq!(early["start_time"], "2014-05-14T10:00:00Z");
    s.stop().await;
}

#[tokio::test]
async fn queue_statistics_list_and_bulk() {
    let s = Server::start().await;
    let (ws, queue, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    s.create(&format!("{w}/Tasks"), &[]).await;

    let (st, list) = s.get(&format!("{w}/TaskQueues/Statistics")).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["meta"]["key"], "task_queues_statistics");
    let items = list["task_queues_statistics"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["task_queue_sid"], queue.as_str());
    assert_eq!(items[0]["realtime"]["total_tasks"], 1);
    assert_eq!(items[0]["cumulative"]["tasks_entered"], 1);
    let (_, none) = s
        .get(&format!("{w}/TaskQueues/Statistics?FriendlyName=other"))
        .await;
    assert_eq!(none["task_queues_statistics"], json!([]));

    let unknown = "WQ00000000000000000000000000000000";
    let bulk_url = format!("{w}/TaskQueues/RealTimeStatistics");
    let (st, bulk) = s
        .post_json(&bulk_url, &json!({"QueueSids": [queue, unknown]}))
        .await;
    assert_eq!(st, 200, "{bulk}");
    assert_eq!(bulk["task_queue_response_count"], 2);
    let data = bulk["task_queue_data"].as_array().unwrap();
    assert_eq!(data[0]["task_queue_sid"], queue.as_str());
    assert_eq!(data[0]["total_tasks"], 1);
    assert_eq!(data[0]["tasks_by_status"]["pending"], 1);
    assert_eq!(data[1]["task_queue_sid"], unknown);
    assert_eq!(data[1]["total_tasks"], 0);

    let (st, _) = s.post_json(&bulk_url, &json!({"queueSids": [queue]})).await;
    assert_eq!(st, 200);
    for bad in [json!({"QueueSids": []}), json!({"QueueSids": ["nope"]})] {
        let got = s.post_json(&bulk_url, &bad).await;
        assert_error(&got, 400, 20001, "QueueSids");
    }
    s.stop().await;
}

#[tokio::test]
async fn statistics_refuse_bad_parameters() {
    let s = Server::start().await;
    let (ws, _, _) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    assert_error(
        &s.get(&format!("{w}/CumulativeStatistics?Minutes=-1")).await,
        400,
        20001,
        "Minutes",
    );
    assert_error(
        &s.get(&format!(
            "{w}/CumulativeStatistics?StartDate=2014-01-01T00:00:00Z"
        ))
        .await,
        400,
        20001,
        "30 days",
    );
    assert_error(
        &s.get(&format!("{w}/Statistics?SplitByWaitTime=5,x")).await,
        400,
        20001,
        "SplitByWaitTime",
    );
    let (st, _) = s
        .get(&format!(
            "{w}/TaskQueues/WQ00000000000000000000000000000000/RealTimeStatistics"
        ))
        .await;
    assert_eq!(st, 404);
    let (st, _) = s
        .get(&format!(
            "{w}/Workflows/WW00000000000000000000000000000000/Statistics"
        ))
        .await;
    assert_eq!(st, 404);
    for path in [
        "Workers/WK00000000000000000000000000000000/Statistics",
        "Workflows/WW00000000000000000000000000000000/CumulativeStatistics",
    ] {
        let (st, _) = s.get(&format!("{w}/{path}")).await;
        assert_eq!(st, 404, "{path}");
    }
    s.stop().await;
}
