//! Explain's unit tests: its reasons, and its agreement with routing's own eligibility.

use serde_json::json;

use super::tests::{model, sid, task, ts, worker, Q2, SIMPLE};
use super::*;

#[test]
fn explain_names_the_filters_the_step_and_each_workers_reasons() {
    let mut m = model(SIMPLE);
    m.put_worker(worker(1, json!({"skills": ["es"]}), true, 0));
    m.put_worker(worker(2, json!({"skills": ["en"]}), true, 0));
    m.put_worker(worker(3, json!({"skills": ["es"]}), false, 0));
    m.put_worker(worker(4, json!({"skills": ["es"]}), true, 0));
    let other = task(&mut m, 7, json!({"lang": "es"}), 0, 1);
    m.reserve(&other, &sid(4), ts(5));
    let t = task(&mut m, 1, json!({"lang": "es"}), 0, 2);
    m.update_task(&t, |t| {
        t.refused_by.insert(sid(1));
    });
    let e = m.explain(&t, None, ts(10)).unwrap();
    assert_eq!(e.filters.len(), 1);
    assert!(e.filters[0].matched);
    let step = e.step.as_ref().unwrap();
    assert_eq!(step.queue.as_str(), Q2);
    assert_eq!(step.at.filter, Some(0));
    assert_eq!(e.wanted, 1);
    let reasons: Vec<&[Reason]> = e.workers.iter().map(|w| w.reasons.as_slice()).collect();
    assert_eq!(reasons[0], [Reason::RefusedBefore]);
    match &reasons[1] {
        [Reason::NotInQueue {
            target_workers,
            unmet,
            ..
        }] => {
            assert_eq!(target_workers, "skills HAS 'es'");
            assert_eq!(unmet[0].values, [("skills".into(), Some(json!(["en"])))]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &reasons[2],
        [Reason::ActivityUnavailable { activity_name, .. }] if activity_name == "Offline"
    ));
    assert!(matches!(
        &reasons[3],
        [Reason::NoCapacity {
            load: 1,
            capacity: 1,
            ..
        }]
    ));

    // A filter that does not match says which comparison failed.
    let en = task(&mut m, 2, json!({"lang": "en"}), 0, 3);
    let e = m.explain(&en, None, ts(10)).unwrap();
    assert!(!e.filters[0].matched);
    assert_eq!(e.filters[0].unmet[0].comparison, "lang == 'es'");
    assert_eq!(e.step.unwrap().at.filter, None, "on the default filter");
    assert!(e.workers.iter().any(WorkerCheck::eligible));
}

/// Explain's verdict and routing's agree for every combination of the states that decide
/// eligibility.
#[test]
fn a_worker_explain_finds_no_reason_against_is_one_routing_may_reserve() {
    let now = ts(100);
    let mut checked = 0;
    for bits in 0u32..(1 << 10) {
        let bit = |n: u32| bits & (1 << n) != 0;
        let mut m = model(SIMPLE);
        m.multi_task = bit(0);
        let skills = if bit(1) { "es" } else { "en" };
        let mut w = worker(1, json!({ "skills": [skills] }), bit(2), 0);
        let ch = w.channels.get_mut(&sid(1)).unwrap();
        ch.capacity = i64::from(bit(3));
        ch.available = bit(4);
        m.put_worker(w);
        m.put_worker(worker(2, json!({"skills": ["es"]}), true, 0));
        let t = task(&mut m, 1, json!({"lang": "es"}), 0, 1);
        let route = match bits >> 8 {
            0 => None,
            1 => Some(Route::Queue(Q2.parse().unwrap())),
            2 => Some(Route::Worker {
                worker: sid(1),
                ignore_capacity: bit(5),
            }),
            _ => Some(Route::Worker {
                worker: sid(2),
                ignore_capacity: false,
            }),
        };
        m.update_task(&t, |t| {
            if let Some(route) = route {
                t.route = route;
            }
            if bit(5) && bits >> 8 != 2 {
                t.pending.insert(sid(1));
            }
            if bit(6) {
                t.refused_by.insert(sid(1));
            }
            if bit(7) {
                t.callback_failures.insert(
                    sid(1),
                    CallbackFailures {
                        count: 1,
                        until: Some(ts(if bit(3) { 50 } else { 150 })),
                    },
                );
            }
        });
        let e = m.explain(&t, None, now).unwrap();
        let task = m.task(&t).unwrap();
        for check in &e.workers {
            let w = &m.workers[&check.sid];
            assert_eq!(
                check.eligible(),
                m.eligible(task, w, now),
                "bits {bits:#b}, worker {}: {:?}",
                check.friendly_name,
                check.reasons
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 << 10);
}
