//! The decider's tests: each transition's units, refusals that change nothing, and the same
//! commands giving the same units.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::*;
use crate::expr::Expr;
use crate::model::{QueueOrder, Reservation, Task, TaskChannel, Worker, WorkerChannel, Workflow};
use crate::routing::Timer;
use crate::routing::{
    task_state, worker_state, ChannelState, QueueState, ReservationStatus, TaskStatus,
};
use crate::sid::{ActivitySid, EventSid, Sid, TaskChannelSid, TaskQueueSid, WorkflowSid};
use crate::workflow::WorkflowConfig;

fn sid<T: Sid>(n: u8) -> T {
    T::from_bytes([n; 16])
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

const AVAILABLE: u8 = 1;
const OFFLINE: u8 = 2;
const BUSY: u8 = 3;

/// A workspace with one queue taking everyone (its assignment activity `Busy` in
/// single-tasking), one workflow into it with a 30 s step timeout then a second step, and
/// `workers` available workers of capacity 1.
struct Fixture {
    model: Model,
    workspace: Workspace,
    mint: Counter,
    now: Timestamp,
    tasks: u8,
}

impl Fixture {
    fn new(workers: u8, multi_task: bool) -> Fixture {
        let workspace = Workspace {
            sid: sid(1),
            account_sid: sid(1),
            friendly_name: "Test".into(),
            default_activity_sid: sid(OFFLINE),
            default_activity_name: "Offline".into(),
            timeout_activity_sid: sid(OFFLINE),
            timeout_activity_name: "Offline".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: multi_task,
            prioritize_queue_order: QueueOrder::Fifo,
            date_created: ts(0),
            date_updated: ts(0),
        };
        let mut model = Model::new(multi_task, QueueOrder::Fifo);
        for (n, name, available) in [
            (AVAILABLE, "Available", true),
            (OFFLINE, "Offline", false),
            (BUSY, "Busy", false),
        ] {
            model.activities.insert(sid(n), (name.into(), available));
        }
        let queue: TaskQueueSid = sid(1);
        model.put_queue(QueueState {
            sid: queue.clone(),
            friendly_name: "Everyone".into(),
            target: Expr::parse("1==1").unwrap(),
            order: QueueOrder::Fifo,
            max_reserved: 1,
            reservation_activity: None,
            assignment_activity: Some(sid(BUSY)),
            members: HashSet::new(),
        });
        let configuration = json!({"task_routing": {"default_filter": {"queue": queue.as_str()},
            "filters": [{"filter_friendly_name": "All", "expression": "1==1", "targets": [
                {"queue": queue.as_str(), "timeout": 30},
                {"queue": queue.as_str(), "priority": 5}]}]}})
        .to_string();
        let workflow = Workflow {
            sid: sid(1),
            workspace_sid: workspace.sid.clone(),
            friendly_name: "Flow".into(),
            configuration: configuration.clone(),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: 120,
            date_created: ts(0),
            date_updated: ts(0),
        };
        let config = WorkflowConfig::parse(&configuration).unwrap();
        model.put_workflow(workflow.sid.clone(), Some(config), 120);
        model.rows.put_workflow(workflow);
        model.rows.put_task_channel(TaskChannel {
            sid: sid(1),
            workspace_sid: workspace.sid.clone(),
            friendly_name: "Default".into(),
            unique_name: "default".into(),
            channel_optimized_routing: false,
            date_created: ts(0),
            date_updated: ts(0),
        });
        let mut f = Fixture {
            model,
            workspace,
            mint: Counter::default(),
            now: ts(1_000),
            tasks: 0,
        };
        for n in 1..=workers {
            f.add_worker(n);
        }
        f
    }

    fn add_worker(&mut self, n: u8) {
        let w = Worker {
            sid: sid(n),
            workspace_sid: self.workspace.sid.clone(),
            friendly_name: format!("w{n}"),
            activity_sid: sid(AVAILABLE),
            activity_name: "Available".into(),
            available: true,
            attributes: "{}".into(),
            date_status_changed: ts(0),
            date_created: ts(0),
            date_updated: ts(0),
            version: 0,
            // The lower the number, the longer idle.
            idle_since: ts(i64::from(n)),
        };
        let channels = HashMap::from([(
            sid::<TaskChannelSid>(1),
            ChannelState {
                unique_name: "default".into(),
                capacity: 1,
                available: true,
                pending: 0,
                assigned: 0,
                wrapping: 0,
            },
        )]);
        let mut state = worker_state(&w, channels);
        state.seq = i64::from(n);
        self.model.put_worker(state);
        self.model.rows.put_worker(w);
    }

    /// A new task in the workflow's first step, not yet routed.
    fn add_task(&mut self) -> Task {
        self.tasks += 1;
        let n = self.tasks;
        let workflow: WorkflowSid = sid(1);
        let at = workflow_entry(&self.model, &workflow, &json!({}), self.now).unwrap();
        let mut task = Task {
            sid: sid(n),
            workspace_sid: self.workspace.sid.clone(),
            workflow: Some((workflow, "Flow".into())),
            attributes: "{}".into(),
            assignment_status: TaskStatus::Pending,
            priority: 0,
            timeout: 600,
            task_channel: (sid(1), "default".into()),
            task_queue: None,
            task_queue_entered_date: None,
            virtual_start_time: self.now,
            reason: None,
            routing_target: None,
            ignore_capacity: None,
            step: Some(at),
            step_entered: Some(self.now),
            assignment_count: 0,
            addons: "{}".into(),
            version: 0,
            date_created: self.now,
            date_updated: self.now,
        };
        place(&self.model, &mut task, Some(&sid(1)), self.now);
        let seq = self.model.rows.take_task_seq();
        self.model.put_task(task_state(&task, seq));
        self.model.rows.put_task(task.clone());
        task
    }

    /// Runs `f` on a decider at the fixture's time, then routes what it triggered.
    fn decide<R>(
        &mut self,
        f: impl FnOnce(&mut Decider<'_, Counter>, &mut Triggers) -> R,
    ) -> (R, Vec<Unit>) {
        let mut d = Decider::new(&mut self.model, &self.workspace, self.now, &mut self.mint);
        let mut triggers = Triggers::default();
        let out = f(&mut d, &mut triggers);
        d.route(triggers);
        (out, d.finish())
    }

    /// Decides `command` through the entry point; its units, or `None` when refused.
    fn command(&mut self, command: Command) -> Option<Vec<Unit>> {
        let decided = decide(
            &mut self.model,
            &self.workspace,
            command,
            self.now,
            &mut self.mint,
        );
        decided.ok().map(|d| d.units)
    }

    fn route_task(&mut self, task: &TaskSid) -> Vec<Unit> {
        let tasks = vec![task.clone()];
        self.decide(|_, t| t.tasks = tasks).1
    }

    fn live_reservations(&self) -> Vec<Reservation> {
        let mut tasks: Vec<&Task> = self.model.rows.tasks().collect();
        tasks.sort_by(|a, b| a.sid.cmp(&b.sid));
        (tasks.iter())
            .flat_map(|t| self.model.rows.task_reservations(&t.sid))
            .collect()
    }

    /// Every live task row, by SID: with the units, what two runs are compared on.
    fn task_rows(&self) -> Vec<Task> {
        let mut tasks: Vec<Task> = self.model.rows.tasks().cloned().collect();
        tasks.sort_by(|a, b| a.sid.cmp(&b.sid));
        tasks
    }
}

fn reservations_in(units: &[Unit]) -> Vec<&Reservation> {
    (units.iter().flat_map(|u| &u.changes))
        .filter_map(|c| match c {
            Change::Reservation(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn event_types(unit: &Unit) -> Vec<&str> {
    (unit.changes.iter())
        .filter_map(|c| match c {
            Change::Event(e) => Some(e.event_type.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_routed_task_is_offered_to_the_longest_idle_worker_in_one_announced_unit() {
    let mut f = Fixture::new(2, false);
    let task = f.add_task();
    let units = f.route_task(&task.sid);
    assert_eq!(units.len(), 1);
    let unit = &units[0];
    let created = unit
        .announce
        .as_ref()
        .expect("the reservation is announced");
    assert_eq!(created.worker.sid, sid(1));
    assert_eq!(created.task.assignment_status, TaskStatus::Reserved);
    assert_eq!(event_types(unit), ["reservation.created"]);
    // The worker's version rises with the reservation, checked against the one it replaces.
    assert!(unit.changes.iter().any(|c| matches!(c,
        Change::Worker { worker, expected_version: 0 } if worker.version == 1)));
    // The rows follow the unit at once.
    let r = &created.reservation;
    assert_eq!(f.model.rows.reservation(&r.sid), Some(r));
    assert_eq!(
        f.model.rows.task(&task.sid).map(|t| t.assignment_status),
        Some(TaskStatus::Reserved)
    );
}

#[test]
fn accepting_assigns_moves_the_worker_to_the_assignment_activity_and_completing_frees_it() {
    let mut f = Fixture::new(1, false);
    let task = f.add_task();
    let units = f.route_task(&task.sid);
    let r = units[0].announce.as_ref().unwrap().reservation.clone();
    let accept = ReservationAction::Accept { instruction: None };
    let (accepted, units) = f.decide(|d, t| d.act(r.clone(), accept, t));
    let accepted = accepted.unwrap();
    assert_eq!(accepted.status, ReservationStatus::Accepted);
    assert_eq!(units.len(), 1);
    assert_eq!(
        event_types(&units[0]),
        ["reservation.accepted", "worker.activity.update"]
    );
    assert_eq!(
        f.model.rows.worker(&sid(1)).unwrap().activity_sid,
        sid(BUSY)
    );

    // A second task waits: the only worker is busy.
    let second = f.add_task();
    assert!(f.route_task(&second.sid).is_empty());

    let (done, units) = f.decide(|d, t| d.act(accepted.clone(), ReservationAction::Complete, t));
    assert_eq!(done.unwrap().status, ReservationStatus::Completed);
    assert_eq!(
        event_types(&units[0]),
        ["task.completed", "reservation.completed"]
    );
    assert!(
        f.model.rows.task(&task.sid).is_none(),
        "a completed task leaves the rows"
    );
    // Busy is not available: completing does not make the worker take the next task.
    assert_eq!(units.len(), 1);
}

#[test]
fn a_refused_request_changes_nothing_and_mints_nothing() {
    let mut f = Fixture::new(1, true);
    let task = f.add_task();
    let units = f.route_task(&task.sid);
    let r = units[0].announce.as_ref().unwrap().reservation.clone();
    let before_rows = f.task_rows();
    let before_mint = f.mint.clone();

    let (result, units) = f.decide(|d, t| d.act(r.clone(), ReservationAction::Complete, t));
    assert!(
        matches!(result, Err(Refused::Transition { .. })),
        "{result:?}"
    );
    assert!(units.is_empty());
    let unknown = ReservationAction::Reject {
        activity: Some(sid::<ActivitySid>(77)),
    };
    let (result, units) = f.decide(|d, t| d.act(r.clone(), unknown, t));
    assert!(
        matches!(
            result,
            Err(Refused::Field {
                field: "worker_activity_sid",
                ..
            })
        ),
        "{result:?}"
    );
    assert!(units.is_empty());
    let row = f.model.rows.task(&task.sid).cloned().unwrap();
    let (result, _) = f.decide(|d, t| d.move_task(row, TaskStatus::Completed, None, t));
    assert!(result.is_err());

    assert_eq!(f.task_rows(), before_rows);
    assert_eq!(f.live_reservations(), vec![r]);
    assert_eq!(
        f.mint.sid::<EventSid>(),
        before_mint.clone().sid::<EventSid>()
    );
}

#[test]
fn a_timed_out_step_moves_the_task_on_and_a_timed_out_reservation_frees_the_worker() {
    let mut f = Fixture::new(1, true);
    let task = f.add_task();
    f.route_task(&task.sid);
    // The step times out after 30 s (reservation timeout: 120 s): the reservation stays, since
    // the next step still admits the worker.
    f.now = ts(1_030);
    let (due_at, timer) = f.model.next_due(f.now).unwrap();
    assert_eq!(
        (due_at, &timer),
        (
            ts(1_030),
            &Timer::Step {
                task: task.sid.clone()
            }
        )
    );
    let (fired, units) = f.decide(|d, t| d.fire(&timer, t));
    fired.unwrap();
    assert_eq!(
        event_types(&units[0]),
        ["task-queue.timeout", "workflow.target-matched"]
    );
    let row = f.model.rows.task(&task.sid).unwrap();
    assert_eq!(
        (row.priority, row.assignment_status),
        (5, TaskStatus::Reserved)
    );

    f.now = ts(1_120);
    let (_, timer) = f.model.next_due(f.now).unwrap();
    assert!(matches!(timer, Timer::Reservation { .. }), "{timer:?}");
    let (fired, units) = f.decide(|d, t| d.fire(&timer, t));
    fired.unwrap();
    assert_eq!(
        event_types(&units[0]),
        ["reservation.timeout", "worker.activity.update"]
    );
    // The worker went to the timeout activity (Offline), so nobody is offered the task.
    assert_eq!(units.len(), 1);
    assert_eq!(
        f.model.rows.worker(&sid(1)).unwrap().activity_sid,
        sid(OFFLINE)
    );
    assert_eq!(
        f.model.rows.task(&task.sid).map(|t| t.assignment_status),
        Some(TaskStatus::Pending)
    );
}

#[test]
fn deleting_a_task_cancels_its_offer_and_the_worker_takes_the_next() {
    let mut f = Fixture::new(1, true);
    let first = f.add_task();
    let second = f.add_task();
    f.route_task(&first.sid);
    f.route_task(&second.sid);
    let row = f.model.rows.task(&first.sid).cloned().unwrap();
    let (_, units) = f.decide(|d, t| d.delete_task(&row, t));
    assert_eq!(units.len(), 2);
    assert_eq!(
        event_types(&units[0]),
        ["reservation.canceled", "task.deleted"]
    );
    assert!(units[0]
        .changes
        .contains(&Change::DeleteTask(first.sid.clone())));
    let offered = reservations_in(&units[1..]);
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].task_sid, second.sid);
}

/// A step of the property test, its targets picked by index among what exists then.
#[derive(Debug, Clone)]
enum Step {
    NewTask,
    Create(u8),
    Update(usize, u8),
    Worker(u8, u8),
    Act(usize, u8),
    Move(usize, u8),
    Delete(usize),
    Advance(i64),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        1 => Just(Step::NewTask),
        2 => (0u8..3).prop_map(Step::Create),
        2 => (0usize..4, 0u8..6).prop_map(|(i, k)| Step::Update(i, k)),
        3 => (1u8..=3, 0u8..7).prop_map(|(w, k)| Step::Worker(w, k)),
        4 => (0usize..4, 0u8..8).prop_map(|(i, a)| Step::Act(i, a)),
        2 => (0usize..4, 0u8..3).prop_map(|(i, s)| Step::Move(i, s)),
        1 => (0usize..4).prop_map(Step::Delete),
        2 => (1i64..200).prop_map(Step::Advance),
    ]
}

/// Runs `step`; the units it decided, or `None` when it was refused.
fn run(f: &mut Fixture, step: &Step) -> Option<Vec<Unit>> {
    match step {
        Step::NewTask => {
            let task = f.add_task();
            Some(f.route_task(&task.sid))
        }
        Step::Create(k) => {
            let new = NewTask {
                attributes: "{}".into(),
                attrs: json!({}),
                priority: i64::from(*k),
                timeout: 600,
                // The third kind names a channel the workspace lacks: refused.
                task_channel: if *k == 2 { "sms" } else { "default" }.into(),
                virtual_start_time: f.now,
                routing_target: None,
                destination: Destination::Workflow,
                workflow_sid: None,
                ignore_capacity: None,
            };
            f.command(Command::CreateTask(new))
        }
        Step::Update(i, k) => {
            let rows = f.task_rows();
            let task = rows.get(i % rows.len().max(1))?.clone();
            let change = match k {
                0 => TaskChange {
                    priority: Some(7),
                    ..Default::default()
                },
                1 => TaskChange {
                    attributes: Some((r#"{"x":1}"#.into(), json!({"x": 1}))),
                    ..Default::default()
                },
                2 => TaskChange {
                    task_channel: Some("sms".into()),
                    priority: Some(3),
                    ..Default::default()
                },
                3 => TaskChange {
                    assignment_status: Some(TaskStatus::Canceled),
                    reason: Some("gone".into()),
                    ..Default::default()
                },
                4 => TaskChange {
                    assignment_status: Some(TaskStatus::Completed),
                    attributes: Some((r#"{"y":2}"#.into(), json!({"y": 2}))),
                    ..Default::default()
                },
                _ => TaskChange {
                    task_channel: Some("default".into()),
                    virtual_start_time: Some(ts(10)),
                    ..Default::default()
                },
            };
            f.command(Command::UpdateTask { task, change })
        }
        Step::Worker(n, k) => {
            let w = f.model.rows.worker(&sid(*n)).cloned()?;
            let activity = |a: u8| Some(sid::<ActivitySid>(a));
            let change = match k {
                0 => WorkerChange {
                    activity_sid: activity(OFFLINE),
                    reject_pending_reservations: true,
                    ..Default::default()
                },
                1 => WorkerChange {
                    activity_sid: activity(AVAILABLE),
                    ..Default::default()
                },
                // Not an activity of the workspace.
                2 => WorkerChange {
                    activity_sid: activity(99),
                    attributes: Some(r#"{"x":1}"#.into()),
                    ..Default::default()
                },
                // Another worker's name, in other letters' case.
                3 => WorkerChange {
                    friendly_name: Some(format!("W{}", n % 3 + 1)),
                    activity_sid: activity(AVAILABLE),
                    ..Default::default()
                },
                // Rejecting pending reservations while becoming available.
                4 => WorkerChange {
                    activity_sid: activity(AVAILABLE),
                    reject_pending_reservations: true,
                    ..Default::default()
                },
                5 => WorkerChange {
                    attributes: Some(r#"{"y":2}"#.into()),
                    ..Default::default()
                },
                _ => {
                    let channel = WorkerChannel {
                        sid: sid(*n),
                        workspace_sid: f.workspace.sid.clone(),
                        worker_sid: w.sid.clone(),
                        task_channel_sid: sid(1),
                        task_channel_unique_name: "default".into(),
                        configured_capacity: 1,
                        available: true,
                        assigned_tasks: 0,
                        active_reservations: 0,
                        date_created: ts(0),
                        date_updated: ts(0),
                    };
                    let change = ChannelChange {
                        capacity: Some(2),
                        available: None,
                    };
                    return f.command(Command::UpdateWorkerChannel {
                        worker: w,
                        channel,
                        change,
                    });
                }
            };
            f.command(Command::UpdateWorker { worker: w, change })
        }
        Step::Act(i, a) => {
            let live = f.live_reservations();
            let r = live.get(i % live.len().max(1))?.clone();
            match a {
                6 => {
                    let error = "connection refused".to_owned();
                    return f.command(Command::CallbackFailed {
                        reservation: r,
                        error,
                    });
                }
                7 => return f.command(Command::ReleaseWorker(r.worker_sid)),
                _ => {}
            }
            let action = match a {
                0 => ReservationAction::Accept { instruction: None },
                1 => ReservationAction::Reject { activity: None },
                2 => ReservationAction::Reject {
                    activity: Some(sid(OFFLINE)),
                },
                // Never an activity of the workspace: always refused.
                3 => ReservationAction::Reject {
                    activity: Some(sid(99)),
                },
                4 => ReservationAction::Wrap,
                _ => ReservationAction::Complete,
            };
            f.command(Command::Reservation {
                reservation: r,
                action,
            })
        }
        Step::Move(i, s) => {
            let rows = f.task_rows();
            let task = rows.get(i % rows.len().max(1))?.clone();
            let to = [
                TaskStatus::Canceled,
                TaskStatus::Wrapping,
                TaskStatus::Completed,
            ][*s as usize];
            let change = TaskChange {
                assignment_status: Some(to),
                reason: Some("done".into()),
                ..Default::default()
            };
            f.command(Command::UpdateTask { task, change })
        }
        Step::Delete(i) => {
            let rows = f.task_rows();
            let task = rows.get(i % rows.len().max(1))?.clone();
            f.command(Command::DeleteTask(task))
        }
        Step::Advance(secs) => {
            f.now = Timestamp::from_secs(f.now.as_secs() + secs);
            let mut units = Vec::new();
            while let Some((_, timer)) = f.model.next_due(f.now) {
                units.extend(f.command(Command::Fire(timer))?);
            }
            Some(units)
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Refused commands leave no trace: running every command, and running only the ones that
    /// were accepted on a fresh workspace, decide the same units (SIDs included) and end with
    /// the same rows. Running the same commands twice decides the same units.
    #[test]
    fn refused_commands_leave_no_trace_and_decisions_are_deterministic(
        steps in proptest::collection::vec(step(), 1..40),
        multi_task in proptest::bool::ANY,
    ) {
        let mut all = Fixture::new(3, multi_task);
        let mut accepted = Vec::new();
        let mut decided = Vec::new();
        for c in &steps {
            if let Some(units) = run(&mut all, c) {
                accepted.push(c.clone());
                decided.push(units);
            }
        }
        let mut replay = Fixture::new(3, multi_task);
        let mut replayed = Vec::new();
        for c in &accepted {
            let units = run(&mut replay, c);
            proptest::prop_assert!(units.is_some(), "{c:?} was refused on replay");
            replayed.push(units.unwrap_or_default());
        }
        proptest::prop_assert_eq!(&decided, &replayed);
        proptest::prop_assert_eq!(all.task_rows(), replay.task_rows());
        proptest::prop_assert_eq!(all.live_reservations(), replay.live_reservations());
    }
}
