//! The model's unit tests.

use super::*;
use serde_json::{json, Value};

use crate::expr::{Expr, Scoped};

pub(super) fn sid<T: crate::sid::Sid>(n: u8) -> T {
    T::from_bytes([n; 16])
}

pub(super) fn ts(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

const Q1: &str = "WQ01010101010101010101010101010101";
pub(super) const Q2: &str = "WQ02020202020202020202020202020202";

fn config(text: &str) -> WorkflowConfig {
    WorkflowConfig::parse(&text.replace("Q1", Q1).replace("Q2", Q2)).unwrap()
}

#[test]
fn steps_inherit_queues_and_filters_match_top_down() {
    let c = config(
        r#"{"task_routing":{"filters":[
            {"expression":"type == 'sales'","targets":[{"queue":"Q1","timeout":60},{"priority":5,"timeout":120}]},
            {"expression":"type == 'sales' OR vip == true","targets":[{"queue":"Q2"}]}],
          "default_filter":{"queue":"Q2"}}}"#,
    );
    let sales = json!({"type": "sales"});
    let at = c.entry(&sales).unwrap();
    assert_eq!(
        at,
        StepRef {
            filter: Some(0),
            step: 0
        }
    );
    let step1 = c.after_timeout(&sales, at).unwrap();
    assert_eq!(
        step1,
        StepRef {
            filter: Some(0),
            step: 1
        }
    );
    assert_eq!(c.step(step1).unwrap().queue.as_str(), Q1, "queue inherited");
    assert_eq!(c.step(step1).unwrap().target.priority, Some(5));
    // After the last step of filter 0 times out, the next matching filter takes over...
    assert_eq!(
        c.after_timeout(&sales, step1),
        Some(StepRef {
            filter: Some(1),
            step: 0
        })
    );
    // ...but the default filter is no fallback after a timeout.
    assert_eq!(
        c.after_timeout(
            &sales,
            StepRef {
                filter: Some(1),
                step: 0
            }
        ),
        None
    );
    // A skipped last step behaves as no match: the default filter is reachable.
    assert_eq!(
        c.after_skip(
            &sales,
            StepRef {
                filter: Some(1),
                step: 0
            }
        ),
        Some(StepRef {
            filter: None,
            step: 0
        })
    );
    assert_eq!(
        c.entry(&json!({"type": "support"})),
        Some(StepRef {
            filter: None,
            step: 0
        })
    );
    assert_eq!(
        c.step(StepRef {
            filter: None,
            step: 0
        })
        .unwrap()
        .queue
        .as_str(),
        Q2
    );
    // A task waits in each step for that step's own timeout: from its entry into the step,
    // or, with no entry recorded, as if step 0 (60 s) had timed out first.
    assert_eq!(
        c.step_deadline(step1, Some(ts(1070)), ts(1000)),
        Some(ts(1190))
    );
    assert_eq!(c.step_deadline(step1, None, ts(1000)), Some(ts(1180)));
    assert_eq!(c.step_deadline(at, None, ts(1000)), Some(ts(1060)));
    assert_eq!(
        c.step_deadline(
            StepRef {
                filter: Some(1),
                step: 0
            },
            None,
            ts(1000)
        ),
        None
    );
}

#[test]
fn no_default_filter_means_no_entry() {
    let c = config(
        r#"{"task_routing":{"filters":[{"expression":"a == 1","targets":[{"queue":"Q1"}]}]}}"#,
    );
    assert_eq!(c.entry(&json!({"a": 2})), None);
}

#[test]
fn time_of_day_variables() {
    // 2014-05-14T10:50:02Z was a Wednesday.
    let vars = taskrouter_vars(Timestamp::from_millis(1_400_064_602_000));
    assert_eq!(
        vars,
        json!({"currentTime": 1050, "currentHour": "10", "currentMin": "50", "dayOfWeek": "Wed"})
    );
    let filter =
        Expr::parse("taskrouter.currentTime > 0800 AND taskrouter.dayOfWeek IN ['Mon','Wed']")
            .unwrap();
    let task = json!({});
    assert!(filter.eval(&Scoped::new(&[("taskrouter", &vars)]).with_fallback(&task)));
}

fn channel(capacity: i64) -> HashMap<TaskChannelSid, ChannelState> {
    HashMap::from([(
        sid(1),
        ChannelState {
            unique_name: "default".into(),
            capacity,
            available: true,
            pending: 0,
            assigned: 0,
            wrapping: 0,
        },
    )])
}

pub(super) fn worker(n: u8, attrs: Value, available: bool, idle_since: i64) -> WorkerState {
    WorkerState::new(
        sid(n),
        format!("w{n}"),
        attrs,
        (
            sid(if available { 1 } else { 2 }),
            if available { "Available" } else { "Offline" }.into(),
            available,
        ),
        channel(1),
        ts(idle_since),
    )
}

pub(super) fn model(workflow: &str) -> Model {
    let mut m = Model::new(true, QueueOrder::Fifo);
    for (q, target, order) in [
        (Q1, "1==1", QueueOrder::Fifo),
        (Q2, "skills HAS 'es'", QueueOrder::Lifo),
    ] {
        m.put_queue(QueueState {
            sid: q.parse().unwrap(),
            friendly_name: q.into(),
            target: Expr::parse(target).unwrap(),
            order,
            max_reserved: 1,
            reservation_activity: None,
            assignment_activity: None,
            members: HashSet::new(),
        });
    }
    m.put_workflow(
        sid(9),
        Some(config(workflow)),
        DEFAULT_RESERVATION_TIMEOUT_SECS,
    );
    m
}

pub(super) fn task(m: &mut Model, n: u8, attrs: Value, priority: i64, start: i64) -> TaskSid {
    let workflow: WorkflowSid = sid(9);
    let config = m.workflow(&workflow).unwrap();
    let step = config.entry(&attrs).unwrap();
    let queue = config.step(step).unwrap().queue.clone();
    let t = TaskState {
        sid: sid(n),
        attributes: attrs,
        priority,
        channel: sid(1),
        route: Route::Workflow { workflow, step },
        queue: Some(queue),
        virtual_start_time: ts(start),
        seq: n as i64,
        pending: HashSet::new(),
        refused_by: HashSet::new(),
        callback_failures: HashMap::new(),
        reserved_at: HashMap::new(),
        date_created: ts(start),
        step_entered: Some(ts(start)),
        ttl_secs: 86_400,
        assignment_count: 0,
    };
    m.put_task(t);
    sid(n)
}

pub(super) const SIMPLE: &str = r#"{"task_routing":{"filters":[{"expression":"lang == 'es'","targets":[{"queue":"Q2"}]}],"default_filter":{"queue":"Q1"}}}"#;

#[test]
fn longest_idle_available_member_with_room_wins() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({"skills": ["es"]}), true, 50));
    m.put_worker(worker(2, json!({"skills": ["es"]}), true, 10));
    m.put_worker(worker(3, json!({"skills": ["es"]}), false, 0));
    m.put_worker(worker(4, json!({"skills": ["en"]}), true, 0));
    let t = task(&mut m, 1, json!({"lang": "es"}), 0, 100);
    assert_eq!(m.workers_for_task(&t, ts(200)), vec![sid::<WorkerSid>(2)]);
    // Once w2 holds it, w2 has no room and the task wants no more workers.
    m.reserve(&t, &sid(2), ts(0));
    assert!(m.workers_for_task(&t, ts(200)).is_empty());
    let t2 = task(&mut m, 2, json!({"lang": "es"}), 0, 100);
    assert_eq!(m.workers_for_task(&t2, ts(200)), vec![sid::<WorkerSid>(1)]);
    // A refusal keeps the worker away from that task.
    m.update_task(&t2, |t| t.refused_by.insert(sid(1)));
    assert!(m.workers_for_task(&t2, ts(200)).is_empty());
}

#[test]
fn a_failed_callback_holds_the_worker_off_the_task_for_a_bounded_backoff() {
    let secs = |n| callback_backoff(n).as_millis() / 1000;
    assert_eq!(
        [1, 2, 3, 4, 5, 6, 1000].map(secs),
        [5, 10, 20, 40, 60, 60, 60]
    );
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({"skills": ["es"]}), true, 10));
    m.put_worker(worker(2, json!({"skills": ["es"]}), true, 50));
    let t = task(&mut m, 1, json!({"lang": "es"}), 0, 100);
    assert_eq!(m.workers_for_task(&t, ts(200)), vec![sid::<WorkerSid>(1)]);
    m.update_task(&t, |t| {
        let f = CallbackFailures::after(None, ts(200));
        t.callback_failures.insert(sid(1), f)
    });
    assert_eq!(
        m.workers_for_task(&t, ts(204)),
        vec![sid::<WorkerSid>(2)],
        "another worker meanwhile"
    );
    assert_eq!(
        m.next_due(ts(205)),
        Some((
            ts(205),
            Timer::CallbackRetry {
                task: t.clone(),
                worker: sid(1)
            }
        ))
    );
    assert_eq!(m.workers_for_task(&t, ts(205)), vec![sid::<WorkerSid>(1)]);
    m.update_task(&t, |t| {
        let f = t.callback_failures.get_mut(&sid(1)).unwrap();
        f.until = None;
    });
    assert_ne!(
        m.next_due(ts(205)).map(|(_, timer)| timer),
        Some(Timer::CallbackRetry {
            task: t.clone(),
            worker: sid(1)
        }),
        "a retry fires once"
    );
}

#[test]
fn capacity_and_channel_availability() {
    let mut m = model(SIMPLE);
    let mut w = worker(1, json!({}), true, 0);
    w.channels.get_mut(&sid(1)).unwrap().capacity = 2;
    m.put_worker(w);
    let a = task(&mut m, 1, json!({}), 0, 1);
    let b = task(&mut m, 2, json!({}), 0, 2);
    let c = task(&mut m, 3, json!({}), 0, 3);
    m.reserve(&a, &sid(1), ts(0));
    assert_eq!(m.workers_for_task(&b, ts(10)), vec![sid::<WorkerSid>(1)]);
    m.reserve(&b, &sid(1), ts(0));
    assert!(
        m.workers_for_task(&c, ts(10)).is_empty(),
        "capacity 2 reached"
    );
    m.move_load(
        &sid(1),
        &sid(1),
        ReservationStatus::Pending,
        ReservationStatus::Completed,
        ts(11),
    );
    assert_eq!(m.workers_for_task(&c, ts(10)), vec![sid::<WorkerSid>(1)]);
    m.workers
        .get_mut(&sid(1))
        .unwrap()
        .channels
        .get_mut(&sid(1))
        .unwrap()
        .available = false;
    assert!(
        m.workers_for_task(&c, ts(10)).is_empty(),
        "channel unavailable"
    );
}

#[test]
fn single_tasking_ignores_channel_capacity() {
    let mut m = model(SIMPLE);
    m.multi_task = false;
    let mut w = worker(1, json!({}), true, 0);
    w.channels.get_mut(&sid(1)).unwrap().capacity = 5;
    m.put_worker(w);
    let a = task(&mut m, 1, json!({}), 0, 1);
    let b = task(&mut m, 2, json!({}), 0, 2);
    m.reserve(&a, &sid(1), ts(0));
    assert!(m.workers_for_task(&b, ts(10)).is_empty());
}

#[test]
fn target_expressions_known_workers_and_order_by() {
    let wf = r#"{"task_routing":{"filters":[
        {"expression":"kind == 'expr'","targets":[{"queue":"Q1","expression":"task.lang IN worker.langs AND worker.channel.default.assigned_tasks == 0"}]},
        {"expression":"kind == 'known'","targets":[{"queue":"Q1","known_worker_friendly_name":"task.agent"}]},
        {"expression":"kind == 'order'","targets":[{"queue":"Q1","order_by":"worker.level DESC"}]}]}}"#;
    let mut m = model(wf);
    m.put_worker(worker(1, json!({"langs": ["en"], "level": 1}), true, 0));
    m.put_worker(worker(2, json!({"langs": ["fr"], "level": 7}), true, 5));
    m.put_worker(worker(3, json!({"langs": ["fr"]}), true, 1));
    let t = task(&mut m, 1, json!({"kind": "expr", "lang": "fr"}), 0, 1);
    assert_eq!(
        m.workers_for_task(&t, ts(10)),
        vec![sid::<WorkerSid>(3)],
        "w3 idles longer than w2"
    );
    let t = task(&mut m, 2, json!({"kind": "known", "agent": "w2"}), 0, 1);
    assert_eq!(m.workers_for_task(&t, ts(10)), vec![sid::<WorkerSid>(2)]);
    let t = task(&mut m, 3, json!({"kind": "order"}), 0, 1);
    // Highest level first; w3 lacks the attribute and sorts last.
    m.queues
        .get_mut(&Q1.parse::<TaskQueueSid>().unwrap())
        .unwrap()
        .max_reserved = 3;
    assert_eq!(
        m.workers_for_task(&t, ts(10)),
        vec![sid::<WorkerSid>(2), sid(1), sid(3)]
    );
}

#[test]
fn a_free_worker_gets_the_best_waiting_task() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({"skills": ["es"]}), true, 0));
    let old_low = task(&mut m, 1, json!({}), 1, 10);
    let new_high = task(&mut m, 2, json!({}), 5, 20);
    let _older_high = task(&mut m, 3, json!({}), 5, 30);
    assert_eq!(m.task_for_worker(&sid(1), ts(40)), Some(new_high.clone()));
    m.remove_task(&new_high);
    assert_eq!(m.task_for_worker(&sid(1), ts(40)), Some(sid(3)));
    m.remove_task(&sid(3));
    assert_eq!(m.task_for_worker(&sid(1), ts(40)), Some(old_low));
    // LIFO queue (Q2): newest first regardless of priority; FIFO queues win by default.
    let lifo_old = task(&mut m, 4, json!({"lang": "es"}), 9, 50);
    let lifo_new = task(&mut m, 5, json!({"lang": "es"}), 0, 60);
    assert_eq!(
        m.task_for_worker(&sid(1), ts(70)),
        Some(sid(1)),
        "FIFO first"
    );
    m.prioritize = QueueOrder::Lifo;
    assert_eq!(m.task_for_worker(&sid(1), ts(70)), Some(lifo_new));
    m.remove_task(&sid(5));
    assert_eq!(m.task_for_worker(&sid(1), ts(70)), Some(lifo_old));
}

#[test]
fn multi_reservation_reserves_several_workers() {
    let mut m = model(SIMPLE);
    m.queues
        .get_mut(&Q1.parse::<TaskQueueSid>().unwrap())
        .unwrap()
        .max_reserved = 2;
    for n in 1..=3 {
        m.put_worker(worker(n, json!({}), true, n as i64));
    }
    let t = task(&mut m, 1, json!({}), 0, 0);
    assert_eq!(
        m.workers_for_task(&t, ts(10)),
        vec![sid::<WorkerSid>(1), sid(2)]
    );
    m.reserve(&t, &sid(1), ts(0));
    assert_eq!(m.workers_for_task(&t, ts(10)), vec![sid::<WorkerSid>(2)]);
}

#[test]
fn skip_if_counts_the_step_queue_workers() {
    let wf = r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q2","skip_if":"workers.available == 0"},{"queue":"Q1"}]}]}}"#;
    let mut m = model(wf);
    m.put_worker(worker(1, json!({"skills": ["es"]}), false, 0));
    let t = task(&mut m, 1, json!({}), 0, 0);
    assert!(m.should_skip(m.task(&t).unwrap()));
    m.put_worker(worker(2, json!({"skills": ["es"]}), true, 0));
    assert!(!m.should_skip(m.task(&t).unwrap()));
}

#[test]
fn queue_membership_follows_attributes() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({"skills": ["en"]}), true, 0));
    let q2: TaskQueueSid = Q2.parse().unwrap();
    assert!(!m.queues[&q2].members.contains(&sid(1)));
    m.put_worker(worker(1, json!({"skills": ["es"]}), true, 0));
    assert!(m.queues[&q2].members.contains(&sid(1)));
    m.remove_worker(&sid(1));
    assert!(m.queues[&q2].members.is_empty());
}

#[test]
fn direct_worker_routing_can_ignore_capacity() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({}), false, 0));
    let t = task(&mut m, 1, json!({}), 0, 0);
    m.update_task(&t, |t| {
        t.route = Route::Worker {
            worker: sid(1),
            ignore_capacity: true,
        }
    });
    assert_eq!(m.workers_for_task(&t, ts(1)), vec![sid::<WorkerSid>(1)]);
    m.update_task(&t, |t| {
        t.route = Route::Worker {
            worker: sid(1),
            ignore_capacity: false,
        }
    });
    assert!(m.workers_for_task(&t, ts(1)).is_empty());
}

#[test]
fn timers_fall_due_by_deadline_then_creation_order() {
    let wf = r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q1","timeout":300},{"priority":5}]}]}}"#;
    let mut m = model(wf);
    m.put_worker(worker(1, json!({}), true, 0));
    let t = task(&mut m, 1, json!({}), 0, 0);
    m.update_task(&t, |t| t.ttl_secs = 1000);
    // Created at 0: the step ends at 300 (task age), the TTL at 1000.
    assert_eq!(m.next_deadline(), Some(ts(300)));
    assert_eq!(m.next_due(ts(299)), None);
    assert_eq!(
        m.next_due(ts(300)),
        Some((ts(300), Timer::Step { task: t.clone() }))
    );
    // A reservation made at 250 times out at 370, after the step.
    m.reserve(&t, &sid(1), ts(250));
    assert_eq!(
        m.next_due(ts(400)),
        Some((ts(300), Timer::Step { task: t.clone() }))
    );
    m.update_task(&t, |t| {
        t.route = Route::Workflow {
            workflow: sid(9),
            step: StepRef {
                filter: Some(0),
                step: 1,
            },
        }
    });
    assert_eq!(
        m.next_due(ts(400)),
        Some((
            ts(370),
            Timer::Reservation {
                task: t.clone(),
                worker: sid(1)
            }
        ))
    );
    m.end_pending(&t, &sid(1));
    // The last step has no timeout: only the TTL is left.
    assert_eq!(m.next_deadline(), Some(ts(1000)));
    assert_eq!(
        m.next_due(ts(1000)),
        Some((ts(1000), Timer::Ttl { task: t.clone() }))
    );
    // Ties: the older task first.
    let u = task(&mut m, 2, json!({}), 0, 0);
    m.update_task(&u, |t| t.ttl_secs = 1000);
    m.update_task(&u, |t| {
        t.route = Route::Workflow {
            workflow: sid(9),
            step: StepRef {
                filter: Some(0),
                step: 1,
            },
        }
    });
    assert_eq!(
        m.next_due(ts(1000)),
        Some((ts(1000), Timer::Ttl { task: t.clone() }))
    );
    // A task that leaves routing takes its timers with it.
    m.remove_task(&t);
    assert_eq!(
        m.next_due(ts(1000)),
        Some((ts(1000), Timer::Ttl { task: u.clone() }))
    );
    assert_eq!(m.timer_count(), 1);
    m.remove_task(&u);
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn direct_routes_use_the_default_reservation_timeout() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({}), false, 0));
    let t = task(&mut m, 1, json!({}), 0, 0);
    m.update_task(&t, |t| {
        t.route = Route::Worker {
            worker: sid(1),
            ignore_capacity: true,
        }
    });
    m.reserve(&t, &sid(1), ts(10));
    assert_eq!(m.next_deadline(), Some(ts(130)));
}

/// What `task_for_worker` answered before the waiting sets: every task, scanned.
fn task_for_worker_by_scan(m: &Model, sid: &WorkerSid, now: Timestamp) -> Option<TaskSid> {
    let w = m.workers.get(sid)?;
    let mut best: Option<(&TaskState, QueueOrder)> = None;
    for t in m.tasks.values() {
        if m.wanted(t) == 0 || !m.eligible(t, w, now) {
            continue;
        }
        let order = m.order_of(t);
        best = match best {
            Some((b, bo)) if !m.prefer(t, order, b, bo) => Some((b, bo)),
            _ => Some((t, order)),
        };
    }
    best.map(|(t, _)| t.sid.clone())
}

/// (available, speaks es, capacity on channels 1 and 2, channel 2 available, idle since)
type WorkerSpec = (bool, bool, i64, i64, bool, i64);
/// (route kind, speaks es, priority, start, channel, reserved by, refused by)
type TaskSpec = (u8, bool, i64, i64, u8, Option<u8>, Option<u8>);

proptest::proptest! {
    #[test]
    fn waiting_sets_pick_what_a_full_scan_picks(
        multi_task: bool,
        lifo_first: bool,
        max_reserved in 1i64..=2,
        reorder: bool,
        workers in proptest::collection::vec(
            (proptest::bool::ANY, proptest::bool::ANY, 0i64..=2, 0i64..=2, proptest::bool::ANY, 0i64..3),
            4,
        ),
        tasks in proptest::collection::vec(
            (0u8..4, proptest::bool::ANY, 0i64..3, 0i64..4, 1u8..=2,
             proptest::option::of(1u8..=4), proptest::option::of(1u8..=4)),
            0..14,
        ),
        removed in proptest::collection::vec(1u8..=14, 0..3),
    ) {
        let workers: Vec<WorkerSpec> = workers;
        let tasks: Vec<TaskSpec> = tasks;
        let mut m = model(SIMPLE);
        m.multi_task = multi_task;
        m.prioritize = if lifo_first { QueueOrder::Lifo } else { QueueOrder::Fifo };
        for (i, (available, es, cap1, cap2, ch2, idle)) in workers.iter().enumerate() {
            let skills = if *es { json!({"skills": ["es"]}) } else { json!({}) };
            let mut w = worker(i as u8 + 1, skills, *available, *idle);
            w.channels.get_mut(&sid(1)).unwrap().capacity = *cap1;
            let mut second = w.channels[&sid(1)].clone();
            second.unique_name = "chat".into();
            (second.capacity, second.available) = (*cap2, *ch2);
            w.channels.insert(sid(2), second);
            m.put_worker(w);
        }
        for (i, (kind, es, priority, start, channel, reserved, refused)) in
            tasks.iter().enumerate()
        {
            let lang = if *es { "es" } else { "en" };
            let t = task(&mut m, i as u8 + 1, json!({ "lang": lang }), *priority, *start);
            m.update_task(&t, |t| {
                t.channel = sid(*channel);
                match kind {
                    1 => t.route = Route::Queue(t.queue.clone().unwrap()),
                    2 => {
                        t.route = Route::Worker { worker: sid(refused.unwrap_or(1)), ignore_capacity: *es };
                        t.queue = None;
                    }
                    3 => t.route = Route::Unrouted,
                    _ => {}
                }
                if let Some(r) = refused {
                    t.refused_by.insert(sid(*r));
                }
            });
            if let Some(r) = reserved {
                m.reserve(&t, &sid(*r), ts(0));
            }
        }
        // A queue change re-sorts and re-limits its waiting tasks.
        let mut q1 = m.queues[&Q1.parse::<TaskQueueSid>().unwrap()].clone();
        q1.max_reserved = max_reserved;
        if reorder {
            q1.order = QueueOrder::Lifo;
        }
        m.put_queue(q1);
        for n in removed {
            m.remove_task(&sid(n));
        }
        for n in 1..=4u8 {
            let w: WorkerSid = sid(n);
            proptest::prop_assert_eq!(
                m.task_for_worker(&w, ts(10)),
                task_for_worker_by_scan(&m, &w, ts(10)),
                "worker {}", n
            );
        }
    }
}

proptest::proptest! {
    #[test]
    fn queue_members_are_the_workers_their_expression_selects(
        steps in proptest::collection::vec((proptest::bool::ANY, 0usize..6, 0usize..7), 1..30),
    ) {
        const TARGETS: [&str; 6] = [
            "skills HAS 'es'",
            "team == 3",
            "team IN [1, '2'] AND level > 1",
            "level > 2",
            "team == '3' OR skills HAS 'en'",
            "1 == 1",
        ];
        let attrs = [
            json!({}),
            json!({"skills": ["es", "en"], "team": 3}),
            json!({"skills": ["en"], "team": "3", "level": 3}),
            json!({"team": 1, "level": 2}),
            json!({"team": "2", "level": 1}),
            json!({"team": 3.0}),
            json!({"skills": "es", "team": [3]}),
        ];
        let mut m = Model::new(true, QueueOrder::Fifo);
        // Each step puts queue `i` with target `j`, or worker `i` with attributes `j`.
        for (is_queue, i, j) in steps {
            if is_queue {
                m.put_queue(QueueState {
                    sid: sid(i as u8 + 1),
                    friendly_name: format!("q{i}"),
                    target: Expr::parse(TARGETS[j % TARGETS.len()]).unwrap(),
                    order: QueueOrder::Fifo,
                    max_reserved: 1,
                    reservation_activity: None,
                    assignment_activity: None,
                    members: HashSet::new(),
                });
            } else {
                m.put_worker(worker(i as u8 + 1, attrs[j].clone(), true, 0));
            }
        }
        for q in m.queues.values() {
            let expected: HashSet<WorkerSid> = m
                .workers
                .values()
                .filter(|w| q.target.eval(&w.attributes))
                .map(|w| w.sid.clone())
                .collect();
            proptest::prop_assert_eq!(&q.members, &expected, "{}", q.target);
            for w in &expected {
                proptest::prop_assert!(m.member_of[w].contains(&q.sid));
            }
        }
        for (w, queues) in &m.member_of {
            for q in queues {
                proptest::prop_assert!(m.queues[q].members.contains(w));
            }
        }
    }
}

#[test]
fn a_free_worker_passes_over_a_task_at_its_reservation_cap() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({}), true, 0));
    let capped = task(&mut m, 1, json!({}), 0, 100);
    m.update_task(&capped, |t| {
        t.assignment_count = crate::model::MAX_ASSIGNMENT_COUNT;
    });
    let next = task(&mut m, 2, json!({}), 0, 200);
    assert_eq!(m.task_for_worker(&sid(1), ts(300)), Some(next));
}
