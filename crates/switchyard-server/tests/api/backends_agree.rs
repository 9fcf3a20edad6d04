//! The API answers the same on either backend: one script of requests, run against a server on
//! SQLite and one on the test database (PostgreSQL on the suite's PostgreSQL pass), gives equal
//! responses, status and body, once SIDs, page tokens and the server's address are replaced by
//! placeholders. Both servers run on a manual clock from the same instant, so times agree too.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// Every response of a script, in order, with the request it answers.
#[derive(Default)]
struct Transcript {
    entries: Vec<(String, StatusCode, Value)>,
}

impl Transcript {
    async fn post(&mut self, s: &Server, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = s.post(path, form).await;
        self.entries
            .push((format!("POST {path} {form:?}"), status, body.clone()));
        body
    }

    async fn get(&mut self, s: &Server, path: &str) -> Value {
        let (status, body) = s.get(path).await;
        self.entries
            .push((format!("GET {path}"), status, body.clone()));
        body
    }

    /// Records `path` once `check` holds (routing acts after the request that caused it).
    async fn eventually(&mut self, s: &Server, path: &str, check: impl Fn(&Value) -> bool) {
        let body = s.eventually(path, check).await;
        self.entries
            .push((format!("GET {path} (settled)"), StatusCode::OK, body));
    }
}

/// The script: a FIFO workspace, workers (one named again in other letter case), JSON
/// attributes of every shape, a task routed, accepted and completed, lists with filters and
/// paging, statistics, the event log, and errors.
async fn script(s: &Server) -> Transcript {
    let mut t = Transcript::default();
    let w = t
        .post(
            s,
            "/Workspaces",
            &[("FriendlyName", "Agree"), ("Template", "FIFO")],
        )
        .await;
    let ws = format!("/Workspaces/{}", sid_of(&w));
    let activities = t.get(s, &format!("{ws}/Activities")).await;
    let available = activities["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["friendly_name"] == "Available")
        .map(sid_of)
        .expect("the FIFO template's Available activity");
    let attributes = r#"{"skills":["caption","ünïcode ✓"],"level":1.50,"exp":1e3,"big":12345678901234567890,"neg":-0,"nested":{"a":[1,{"b":null,"c":true}]},"quote":"say \"hi\"\\n"}"#;
    let alice = t
        .post(
            s,
            &format!("{ws}/Workers"),
            &[("FriendlyName", "Alice"), ("Attributes", attributes)],
        )
        .await;
    t.post(s, &format!("{ws}/Workers"), &[("FriendlyName", "ALICE")])
        .await;
    t.post(
        s,
        &format!("{ws}/Workers"),
        &[("FriendlyName", "Bob"), ("Attributes", "{not json")],
    )
    .await;
    t.post(
        s,
        &format!("{ws}/Workers"),
        &[("FriendlyName", "Bob"), ("Attributes", r#"{"skills":[]}"#)],
    )
    .await;
    let alice = format!("{ws}/Workers/{}", sid_of(&alice));
    t.post(s, &alice, &[("ActivitySid", &available)]).await;
    t.get(s, &format!("{ws}/Workers?FriendlyName=alice")).await;
    t.get(
        s,
        &format!("{ws}/Workers?TargetWorkersExpression=skills%20HAS%20%22caption%22"),
    )
    .await;
    t.get(s, &format!("{ws}/Workers?PageSize=1")).await;

    let task = t
        .post(
            s,
            &format!("{ws}/Tasks"),
            &[
                ("Attributes", r#"{"type":"caption","n":3.25}"#),
                ("Priority", "5"),
            ],
        )
        .await;
    let task = format!("{ws}/Tasks/{}", sid_of(&task));
    let reservations = format!("{task}/Reservations");
    t.eventually(s, &reservations, |b| {
        b["reservations"].as_array().is_some_and(|r| r.len() == 1)
    })
    .await;
    // Milliseconds, stored and shown (`event_date_ms`, statistics' durations).
    s.clock
        .advance(switchyard_core::time::Duration::from_millis(1_234));
    let (_, listed) = s.get(&reservations).await;
    let reservation = format!("{reservations}/{}", sid_of(&listed["reservations"][0]));
    t.post(s, &reservation, &[("ReservationStatus", "accepted")])
        .await;
    t.post(
        s,
        &task,
        &[("AssignmentStatus", "completed"), ("Reason", "done")],
    )
    .await;
    t.get(s, &task).await;
    t.get(s, &reservation).await;
    t.post(s, &task, &[("AssignmentStatus", "canceled")]).await;
    t.post(s, &format!("{ws}/Tasks"), &[("Attributes", "[1,2]")])
        .await;
    t.post(s, &format!("{ws}/Tasks"), &[("Attributes", r#"{"a":1}"#)])
        .await;
    t.get(s, &format!("{ws}/Tasks?PageSize=1")).await;
    t.get(s, &format!("{ws}/Tasks?AssignmentStatus=completed"))
        .await;
    t.get(s, &format!("{ws}/Tasks?EvaluateTaskAttributes=n%20%3E%203"))
        .await;
    t.get(s, &format!("{alice}/Channels")).await;
    t.get(s, &format!("{ws}/CumulativeStatistics")).await;
    t.get(s, &format!("{ws}/RealTimeStatistics")).await;
    t.get(s, &format!("{ws}/Events?PageSize=50")).await;
    t.get(s, &format!("{ws}/Events?EventType=reservation.accepted"))
        .await;
    t.get(s, &format!("{ws}/Workers/Statistics")).await;
    t
}

/// Replaces every SID by `<XXn>` (numbered by first appearance, so equal SIDs stay equal),
/// every page token by `<token>`, and the server's address by `<base>`.
fn normalize(value: &Value, base: &str, sids: &mut HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(normalize_text(s, base, sids)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| normalize(v, base, sids)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalize(v, base, sids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn normalize_text(text: &str, base: &str, sids: &mut HashMap<String, String>) -> String {
    let text = text.replace(base, "<base>");
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        let is_sid = i + 34 <= text.len()
            && bytes[i].is_ascii_uppercase()
            && bytes[i + 1].is_ascii_uppercase()
            && bytes[i + 2..i + 34]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes.get(i + 34).is_none_or(|b| !b.is_ascii_alphanumeric());
        if is_sid {
            let sid = &text[i..i + 34];
            let n = sids.len();
            let name = sids
                .entry(sid.to_owned())
                .or_insert_with(|| format!("<{}{n}>", &sid[..2]));
            out.push_str(name);
            i += 34;
        } else if text[i..].starts_with("PageToken=") {
            out.push_str("PageToken=<token>");
            i += "PageToken=".len();
            while i < text.len() && bytes[i] != b'&' {
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn normalized(t: &Transcript, base: &str) -> Vec<(String, StatusCode, Value)> {
    let mut sids = HashMap::new();
    t.entries
        .iter()
        .map(|(request, status, body)| {
            let request = normalize_text(request, base, &mut sids);
            (request, *status, normalize(body, base, &mut sids))
        })
        .collect()
}

#[tokio::test]
async fn the_api_answers_the_same_on_sqlite_and_on_the_test_database() {
    let sqlite = Server::start_on("sqlite::memory:", Default::default()).await;
    let tested = Server::start().await;
    let (a, b) = (script(&sqlite).await, script(&tested).await);
    let (a, b) = (normalized(&a, &sqlite.base), normalized(&b, &tested.base));
    assert_eq!(a.len(), b.len());
    // The script went where it means to: errors where it provokes them, the task to its end.
    let statuses: Vec<u16> = a.iter().map(|(_, s, _)| s.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s >= 400).count(),
        4,
        "{statuses:?}"
    );
    let read = |(r, _, _): &&(String, StatusCode, Value)| {
        r.starts_with("GET") && r.contains("/Tasks/<WT") && !r.contains("Reservations")
    };
    let (_, _, task) = a.iter().find(read).expect("the task read");
    assert_eq!(task["assignment_status"], "completed");
    for ((request, status_a, body_a), (_, status_b, body_b)) in a.iter().zip(&b) {
        assert_eq!(
            (status_a, body_a),
            (status_b, body_b),
            "{request}: SQLite (left) and the test database (right) differ"
        );
    }
    sqlite.stop().await;
    tested.stop().await;
}
