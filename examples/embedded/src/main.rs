//! Routes support requests between two in-process workers with Switchyard's engine: no HTTP
//! server, no callback URL. Run it with `cargo run -p switchyard-example-embedded [TASKS]`.

use std::collections::BTreeMap;
use std::error::Error;

use switchyard_engine::{
    ActivityFilter, CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, CreateWorkspace,
    Engine, EngineOptions, Notification, PageRequest, ReservationAction, ReservationScope,
    StreamStart, SystemClock, UpdateReservation,
};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result<()> {
    let tasks = std::env::args().nth(1).map_or(Ok(20), |n| n.parse())?;
    for (worker, done) in run(tasks).await? {
        println!("{worker} completed {done} tasks");
    }
    Ok(())
}

/// Routes `tasks` requests, half of them in Spanish, and returns how many each worker completed.
async fn run(tasks: usize) -> Result<BTreeMap<String, usize>> {
    // A file path (`sqlite://router.db`) would make the routing survive a restart.
    let engine = Engine::open("sqlite::memory:", SystemClock, EngineOptions::default()).await?;
    tokio::spawn({
        let engine = engine.clone();
        async move { engine.run_timers().await }
    });
    let account = engine
        .ensure_account("AC00000000000000000000000000000000".parse()?)
        .await?;
    let ws = engine
        .create_workspace(
            &account,
            CreateWorkspace {
                friendly_name: "Embedded".into(),
                ..Default::default()
            },
        )
        .await?
        .sid;

    // Two queues chosen by the workers' languages, and a workflow that sends Spanish
    // requests to the Spanish queue and everything else to English.
    let queue = |name: &str, lang: &str| {
        engine.create_task_queue(
            &account,
            &ws,
            CreateTaskQueue {
                friendly_name: name.into(),
                target_workers: Some(format!("languages HAS \"{lang}\"")),
                ..Default::default()
            },
        )
    };
    let english = queue("English", "en").await?.sid;
    let spanish = queue("Spanish", "es").await?.sid;
    let config = format!(
        r#"{{"task_routing":{{"filters":[{{"expression":"language == 'es'",
            "targets":[{{"queue":"{spanish}"}}]}}],"default_filter":{{"queue":"{english}"}}}}}}"#
    );
    let workflow = engine
        .create_workflow(
            &account,
            &ws,
            CreateWorkflow {
                friendly_name: "By language".into(),
                configuration: config,
                ..Default::default()
            },
        )
        .await?
        .sid;

    // Each worker is a tokio task that takes the offers made to it, as reservations are created.
    let available = ActivityFilter {
        friendly_name: Some("Available".into()),
        ..Default::default()
    };
    let page = engine
        .list_activities(&account, &ws, &available, PageRequest::default())
        .await?;
    for (name, languages) in [("alice", r#"["en"]"#), ("bob", r#"["en","es"]"#)] {
        let worker = engine
            .create_worker(
                &account,
                &ws,
                CreateWorker {
                    friendly_name: name.into(),
                    activity_sid: Some(page.items[0].1.sid.clone()),
                    attributes: Some(format!(r#"{{"languages":{languages}}}"#)),
                },
            )
            .await?;
        let mut offers = engine.subscribe();
        let (engine, account, ws) = (engine.clone(), account.clone(), ws.clone());
        tokio::spawn(async move {
            while let Some(Notification::ReservationCreated(offer)) = offers.recv().await {
                if offer.worker.sid != worker.sid {
                    continue;
                }
                let scope = ReservationScope::Task(offer.task.sid);
                for action in [
                    ReservationAction::Accept { instruction: None },
                    ReservationAction::Complete,
                ] {
                    let change = UpdateReservation {
                        action,
                        expected_version: None,
                    };
                    if let Err(e) = engine
                        .update_reservation(&account, &ws, &scope, &offer.reservation.sid, change)
                        .await
                    {
                        eprintln!("{name}: {e}");
                    }
                }
            }
        });
    }

    // Watch the events, as an event callback would, until every task is completed.
    let mut events = engine.event_stream(&account, &ws, StreamStart::Now).await?;
    for i in 0..tasks {
        let language = if i % 2 == 0 { "en" } else { "es" };
        engine
            .create_task(
                &account,
                &ws,
                CreateTask {
                    attributes: Some(format!(r#"{{"language":"{language}","ticket":{i}}}"#)),
                    workflow_sid: Some(workflow.clone()),
                    ..Default::default()
                },
            )
            .await?;
    }
    let mut completed = BTreeMap::new();
    while completed.values().sum::<usize>() < tasks {
        let event = events.next().await?;
        if event.event_type == "reservation.completed" {
            let worker = event.get("worker_name").unwrap_or("?").to_owned();
            *completed.entry(worker).or_default() += 1;
        }
    }
    engine.close().await;
    Ok(completed)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_task_is_completed_and_spanish_goes_to_bob() {
        let done = super::run(10).await.unwrap();
        assert_eq!(done.values().sum::<usize>(), 10);
        // Five Spanish tasks only Bob can take; English ones go to whoever is free.
        assert!(done["bob"] >= 5, "{done:?}");
    }
}
