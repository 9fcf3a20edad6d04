//! Validate before mutate, as a property over random command sequences: a command the engine
//! refuses leaves every task, worker, reservation and timer exactly as it was, and replaying only
//! the accepted commands on a fresh engine reaches the same state (so decisions depend on nothing
//! but the commands and the clock).
//!
//! Commands name tasks and workers by creation index, so the two runs (whose SIDs differ) are
//! compared index by index.

mod common;

use proptest::prelude::*;
use switchyard_core::model::Task;
use switchyard_core::sid::{ActivitySid, TaskSid, WorkerSid};
use switchyard_core::time::Duration;
use switchyard_engine::{
    CreateTask, CreateTaskQueue, CreateWorker, CreateWorkflow, PageRequest, ReservationAction,
    ReservationScope, ReservationStatus, TaskStatus, UpdateReservation, UpdateTask, UpdateWorker,
    WorkerQuery,
};

/// Attribute texts: routable ones, and ones every parser must refuse.
const ATTRIBUTES: [&str; 4] = [r#"{"skill":"a"}"#, r#"{"skill":"b"}"#, "{broken", "[1]"];

const STATUSES: [TaskStatus; 6] = [
    TaskStatus::Pending,
    TaskStatus::Reserved,
    TaskStatus::Assigned,
    TaskStatus::Wrapping,
    TaskStatus::Completed,
    TaskStatus::Canceled,
];

#[derive(Debug, Clone)]
enum Command {
    CreateTask {
        attributes: usize,
        priority: i64,
        timeout: i64,
        known_channel: bool,
    },
    UpdateTask {
        task: usize,
        attributes: Option<usize>,
        priority: Option<i64>,
        status: Option<usize>,
        future_start: bool,
        stale_version: bool,
    },
    DeleteTask {
        task: usize,
    },
    UpdateWorker {
        worker: usize,
        /// An index into the workspace's activities; one past them is an unknown SID.
        activity: Option<usize>,
        attributes: Option<usize>,
        reject_pending: Option<bool>,
    },
    Reservation {
        /// An index into the reservations holding capacity, in task then worker order; with
        /// `ended`, into every reservation instead.
        pick: usize,
        ended: bool,
        action: usize,
        reject_to: Option<usize>,
        stale_version: bool,
    },
    Advance {
        secs: i64,
    },
}

/// An index into [`ATTRIBUTES`], mostly a valid one.
fn attributes() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![0usize, 0, 0, 1, 1, 1, 2, 3])
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (attributes(), prop::sample::select(vec![-1i64, 0, 0, 0, 7, 7, 7]), prop::sample::select(vec![0i64, 90, 90, 3600, 3600, 3600]), prop::bool::weighted(0.95))
            .prop_map(|(attributes, priority, timeout, known_channel)| Command::CreateTask { attributes, priority, timeout, known_channel }),
        2 => (0..8usize, prop::option::weighted(0.3, attributes()), prop::option::weighted(0.3, prop::sample::select(vec![-5i64, 3])), prop::option::weighted(0.5, 0..6usize), prop::bool::weighted(0.15), prop::bool::weighted(0.15))
            .prop_map(|(task, attributes, priority, status, future_start, stale_version)| Command::UpdateTask { task, attributes, priority, status, future_start, stale_version }),
        1 => (0..8usize).prop_map(|task| Command::DeleteTask { task }),
        2 => (0..3usize, prop::option::weighted(0.7, 0..4usize), prop::option::weighted(0.3, attributes()), prop::option::weighted(0.2, any::<bool>()))
            .prop_map(|(worker, activity, attributes, reject_pending)| Command::UpdateWorker { worker, activity, attributes, reject_pending }),
        4 => (0..8usize, prop::bool::weighted(0.2), 0..4usize, prop::option::weighted(0.2, 0..4usize), prop::bool::weighted(0.15))
            .prop_map(|(pick, ended, action, reject_to, stale_version)| Command::Reservation { pick, ended, action, reject_to, stale_version }),
        1 => (1..200i64).prop_map(|secs| Command::Advance { secs }),
    ]
}

/// One engine with its workspace, and what the commands have created so far.
struct World {
    f: common::Fixture,
    workflow: switchyard_core::sid::WorkflowSid,
    activities: Vec<ActivitySid>,
    workers: Vec<WorkerSid>,
    tasks: Vec<TaskSid>,
}

/// What is compared: every task, its reservations and every worker, by creation index, and the
/// timers.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tasks: Vec<Option<TaskView>>,
    workers: Vec<(String, bool, i64, String)>,
    timers: usize,
    next_deadline: Option<switchyard_core::Timestamp>,
}

#[derive(Debug, PartialEq)]
struct TaskView {
    status: TaskStatus,
    priority: i64,
    attributes: String,
    version: i64,
    assignment_count: i64,
    queue: Option<String>,
    reason: Option<String>,
    /// (worker index, status, version), in worker order then status.
    reservations: Vec<(usize, ReservationStatus, i64)>,
}

impl World {
    async fn new() -> World {
        let f = common::Fixture::new().await;
        let (engine, account, ws) = (&f.engine, &f.account, &f.ws);
        let mut activities = Vec::new();
        for name in ["Available", "Offline", "Unavailable"] {
            activities.push(f.activity(name).await);
        }
        let a = f
            .queue(CreateTaskQueue {
                friendly_name: "A".into(),
                target_workers: Some(r#"skill == "a""#.into()),
                assignment_activity_sid: Some(activities[2].clone()),
                ..Default::default()
            })
            .await;
        let b = f
            .queue(CreateTaskQueue {
                friendly_name: "B".into(),
                max_reserved_workers: Some(2),
                ..Default::default()
            })
            .await;
        let configuration = format!(
            r#"{{"task_routing":{{"filters":[{{"filter_friendly_name":"A","expression":"skill == 'a'","targets":[{{"queue":"{a}","timeout":60}},{{"queue":"{b}"}}]}}],"default_filter":{{"queue":"{b}"}}}}}}"#
        );
        let workflow = engine
            .create_workflow(
                account,
                ws,
                CreateWorkflow {
                    friendly_name: "F".into(),
                    configuration,
                    task_reservation_timeout: Some(30),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .sid;
        let mut workers = Vec::new();
        for (name, attributes) in [
            ("Ann", ATTRIBUTES[0]),
            ("Bob", ATTRIBUTES[1]),
            ("Cy", ATTRIBUTES[0]),
        ] {
            let w = engine
                .create_worker(
                    account,
                    ws,
                    CreateWorker {
                        friendly_name: name.into(),
                        activity_sid: Some(activities[0].clone()),
                        attributes: Some(attributes.into()),
                    },
                )
                .await
                .unwrap();
            workers.push(w.sid);
        }
        World {
            f,
            workflow,
            activities,
            workers,
            tasks: Vec::new(),
        }
    }

    fn activity(&self, i: usize) -> ActivitySid {
        self.activities.get(i).cloned().unwrap_or_else(|| {
            // An activity of no workspace.
            "WA00000000000000000000000000000000".parse().unwrap()
        })
    }

    async fn task_row(&self, sid: &TaskSid) -> Option<Task> {
        self.f
            .engine
            .task(&self.f.account, &self.f.ws, sid)
            .await
            .ok()
    }

    /// Every reservation (only those holding capacity, unless `ended`), in task then worker
    /// order, then by status and version.
    async fn reservations(&self, ended: bool) -> Vec<(usize, switchyard_core::model::Reservation)> {
        let mut out = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let Ok(page) = self
                .f
                .engine
                .list_reservations(
                    &self.f.account,
                    &self.f.ws,
                    &ReservationScope::Task(t.clone()),
                    None,
                    None,
                    PageRequest::default(),
                )
                .await
            else {
                continue;
            };
            let mut rs: Vec<_> = page
                .items
                .into_iter()
                .map(|(_, r)| r)
                .filter(|r| ended || r.status.holds_capacity())
                .collect();
            rs.sort_by_key(|r| {
                let w = self.workers.iter().position(|w| *w == r.worker_sid);
                (w, r.status.as_str(), r.version)
            });
            out.extend(rs.into_iter().map(|r| (i, r)));
        }
        out
    }

    /// Runs one command: `None` when it names nothing that exists (skipped in both runs),
    /// else whether the engine accepted it.
    async fn run(&mut self, c: &Command) -> Option<bool> {
        let (engine, account, ws) = (&self.f.engine, &self.f.account, &self.f.ws);
        let pick = |list: &Vec<TaskSid>, i: usize| {
            (!list.is_empty()).then(|| list[i % list.len()].clone())
        };
        let accepted = match c {
            Command::CreateTask {
                attributes,
                priority,
                timeout,
                known_channel,
            } => {
                let created = engine
                    .create_task(
                        account,
                        ws,
                        CreateTask {
                            attributes: Some(ATTRIBUTES[*attributes].into()),
                            workflow_sid: Some(self.workflow.clone()),
                            priority: Some(*priority),
                            timeout: Some(*timeout),
                            task_channel: (!known_channel).then(|| "carrier-pigeon".into()),
                            ..Default::default()
                        },
                    )
                    .await;
                if let Ok(t) = &created {
                    self.tasks.push(t.sid.clone());
                }
                created.is_ok()
            }
            Command::UpdateTask {
                task,
                attributes,
                priority,
                status,
                future_start,
                stale_version,
            } => {
                let sid = pick(&self.tasks, *task)?;
                let version = self.task_row(&sid).await?.version;
                let now = engine.now();
                engine
                    .update_task(
                        account,
                        ws,
                        &sid,
                        UpdateTask {
                            attributes: attributes.map(|a| ATTRIBUTES[a].into()),
                            priority: *priority,
                            assignment_status: status.map(|s| STATUSES[s]),
                            virtual_start_time: future_start.then(|| now + Duration::from_secs(60)),
                            expected_version: stale_version.then_some(version + 1),
                            ..Default::default()
                        },
                    )
                    .await
                    .is_ok()
            }
            Command::DeleteTask { task } => {
                let sid = pick(&self.tasks, *task)?;
                self.task_row(&sid).await?;
                engine.delete_task(account, ws, &sid, None).await.is_ok()
            }
            Command::UpdateWorker {
                worker,
                activity,
                attributes,
                reject_pending,
            } => {
                let sid = self.workers[*worker].clone();
                engine
                    .update_worker(
                        account,
                        ws,
                        &sid,
                        UpdateWorker {
                            activity_sid: activity.map(|a| self.activity(a)),
                            attributes: attributes.map(|a| ATTRIBUTES[a].into()),
                            reject_pending_reservations: *reject_pending,
                            ..Default::default()
                        },
                    )
                    .await
                    .is_ok()
            }
            Command::Reservation {
                pick,
                ended,
                action,
                reject_to,
                stale_version,
            } => {
                let all = self.reservations(*ended).await;
                let (_, r) = (!all.is_empty()).then(|| all[pick % all.len()].clone())?;
                let action = match action {
                    0 => ReservationAction::Accept { instruction: None },
                    1 => ReservationAction::Reject {
                        activity: reject_to.map(|a| self.activity(a)),
                    },
                    2 => ReservationAction::Wrap,
                    _ => ReservationAction::Complete,
                };
                engine
                    .update_reservation(
                        account,
                        ws,
                        &ReservationScope::Task(r.task_sid.clone()),
                        &r.sid,
                        UpdateReservation {
                            action,
                            expected_version: stale_version.then_some(r.version + 1),
                        },
                    )
                    .await
                    .is_ok()
            }
            Command::Advance { secs } => {
                let to = engine.now() + Duration::from_secs(*secs);
                engine.advance_to(to).await.is_ok()
            }
        };
        Some(accepted)
    }

    async fn snapshot(&self) -> Snapshot {
        let (engine, account, ws) = (&self.f.engine, &self.f.account, &self.f.ws);
        let mut tasks = Vec::new();
        for sid in &self.tasks {
            let Some(t) = self.task_row(sid).await else {
                tasks.push(None);
                continue;
            };
            let page = engine
                .list_reservations(
                    account,
                    ws,
                    &ReservationScope::Task(sid.clone()),
                    None,
                    None,
                    PageRequest::default(),
                )
                .await
                .unwrap();
            let mut reservations: Vec<(usize, ReservationStatus, i64)> = page
                .items
                .into_iter()
                .map(|(_, r)| {
                    let w = self
                        .workers
                        .iter()
                        .position(|w| *w == r.worker_sid)
                        .unwrap();
                    (w, r.status, r.version)
                })
                .collect();
            reservations.sort_by_key(|(w, s, v)| (*w, s.as_str(), *v));
            tasks.push(Some(TaskView {
                status: t.assignment_status,
                priority: t.priority,
                attributes: t.attributes,
                version: t.version,
                assignment_count: t.assignment_count,
                queue: t.task_queue.map(|(_, name)| name),
                reason: t.reason,
                reservations,
            }));
        }
        let page = engine
            .list_workers(account, ws, &WorkerQuery::default(), PageRequest::default())
            .await
            .unwrap();
        let mut workers = Vec::new();
        for sid in &self.workers {
            let (_, w) = page.items.iter().find(|(_, w)| w.sid == *sid).unwrap();
            workers.push((
                w.activity_name.clone(),
                w.available,
                w.version,
                w.attributes.clone(),
            ));
        }
        Snapshot {
            tasks,
            workers,
            timers: engine.pending_timers().await,
            next_deadline: engine.next_deadline().await,
        }
    }
}

/// Runs `commands`, checking that each refused one changed nothing; returns the accepted ones
/// and the final state.
async fn run_checking_refusals(
    commands: &[Command],
) -> Result<(Vec<Command>, Snapshot), TestCaseError> {
    let mut world = World::new().await;
    let mut accepted = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        let before = world.snapshot().await;
        match world.run(c).await {
            Some(true) => accepted.push(c.clone()),
            Some(false) => {
                let after = world.snapshot().await;
                prop_assert_eq!(
                    &before,
                    &after,
                    "command {} ({:?}) was refused but changed the state",
                    i,
                    c
                );
            }
            None => {}
        }
    }
    Ok((accepted, world.snapshot().await))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_refused_command_changes_nothing_and_the_accepted_ones_replay_to_the_same_state(
        commands in prop::collection::vec(command(), 1..60)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (accepted, end) = run_checking_refusals(&commands).await?;
            let mut replay = World::new().await;
            for c in &accepted {
                prop_assert_eq!(replay.run(c).await, Some(true), "accepted command {:?} was refused on replay", c);
            }
            prop_assert_eq!(replay.snapshot().await, end);
            Ok(())
        })?;
    }
}
