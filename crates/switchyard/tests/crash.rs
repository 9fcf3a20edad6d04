//! Kill -9 at random moments under load loses nothing that was acknowledged.
//!
//! A server process on a real SQLite file takes tasks, worker toggles, accepts and completions
//! from a load loop; it is killed with SIGKILL at a random point, restarted on the same file, and
//! the invariants are checked over the API; three rounds.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const AUTH: (&str, &str) = ("AC00000000000000000000000000000000", "switchyard-dev-token");

struct Server {
    child: Child,
    url: String,
}

/// Starts the server on `bind` (`127.0.0.1:0` for any free port).
fn start(db: &str, bind: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "serve",
            "--bind",
            bind,
            "--database",
            db,
            "--clock",
            "manual",
        ])
        .env_remove("SWITCHYARD_ACCOUNT_SID")
        .env_remove("SWITCHYARD_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    // Keep draining stdout, as a terminal would.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("Switchyard listening on ")
        .expect("a listening line")
        .to_owned();
    Server { child, url }
}

/// A small deterministic generator: the kill points vary by seed, and a failure names its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

struct Client {
    http: reqwest::blocking::Client,
    base: String,
}

impl Client {
    fn new(url: &str) -> Client {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Client {
            http,
            base: format!("{url}/v1"),
        }
    }
    fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .send()
            .unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().unwrap()
    }
    /// POSTs and returns the body when the server acknowledged it; `None` if it died mid-way.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Option<(u16, Value)> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .form(form)
            .send()
            .ok()?;
        let status = res.status().as_u16();
        Some((status, res.json().ok()?))
    }
    fn all(&self, path: &str, key: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut url = format!(
            "{}{path}{}PageSize=1000",
            self.base,
            if path.contains('?') { "&" } else { "?" }
        );
        loop {
            let res = self
                .http
                .get(&url)
                .basic_auth(AUTH.0, Some(AUTH.1))
                .send()
                .unwrap();
            let page: Value = res.json().unwrap();
            out.extend(page[key].as_array().unwrap().iter().cloned());
            match page["meta"]["next_page_url"].as_str() {
                Some(next) => url = next.to_owned(),
                None => return out,
            }
        }
    }
}

fn pending_reservations(c: &Client, w: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for worker in c.all(&format!("{w}/Workers"), "workers") {
        let sid = worker["sid"].as_str().unwrap();
        for r in c.all(
            &format!("{w}/Workers/{sid}/Reservations?ReservationStatus=pending"),
            "reservations",
        ) {
            out.insert(r["sid"].as_str().unwrap().to_owned());
        }
    }
    out
}

fn check_invariants(c: &Client, ws: &str, acknowledged: &HashSet<String>) {
    let w = format!("/Workspaces/{ws}");
    let tasks = c.all(&format!("{w}/Tasks"), "tasks");
    let present: HashSet<String> = tasks
        .iter()
        .map(|t| t["sid"].as_str().unwrap().to_owned())
        .collect();
    for sid in acknowledged {
        assert!(present.contains(sid), "acknowledged task {sid} was lost");
    }
    for t in &tasks {
        let sid = t["sid"].as_str().unwrap();
        let res = c.all(&format!("{w}/Tasks/{sid}/Reservations"), "reservations");
        let taken = res
            .iter()
            .filter(|r| {
                matches!(
                    r["reservation_status"].as_str(),
                    Some("accepted" | "wrapping" | "completed")
                )
            })
            .count();
        assert!(taken <= 1, "task {sid} has {taken} accepted reservations");
        let pending = res
            .iter()
            .filter(|r| r["reservation_status"] == "pending")
            .count();
        if t["assignment_status"] == "reserved" {
            assert!(
                pending >= 1,
                "task {sid} is reserved without a pending reservation"
            );
        }
        if t["assignment_status"] == "pending" {
            assert_eq!(
                pending, 0,
                "task {sid} is pending with a pending reservation"
            );
        }
    }
    for worker in c.all(&format!("{w}/Workers"), "workers") {
        let sid = worker["sid"].as_str().unwrap();
        let res = c.all(&format!("{w}/Workers/{sid}/Reservations"), "reservations");
        let held = res
            .iter()
            .filter(|r| {
                matches!(
                    r["reservation_status"].as_str(),
                    Some("pending" | "accepted" | "wrapping")
                )
            })
            .count();
        let capacity = c.get(&format!("{w}/Workers/{sid}/Channels/default"))["configured_capacity"]
            .as_u64()
            .unwrap() as usize;
        assert!(
            held <= capacity,
            "worker {sid} holds {held} reservations, capacity {capacity}"
        );
    }
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // A file, or a database on the PostgreSQL server of the run on that backend.
    let db = switchyard_engine::testing::database_at(&dir.path().join("crash.db"));
    let db = db.as_str();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Lcg(seed);

    let mut server = start(db, "127.0.0.1:0");
    let c = Client::new(&server.url);
    let (_, ws) = c.post("/Workspaces", &[("FriendlyName", "Crash")]).unwrap();
    let ws = ws["sid"].as_str().unwrap().to_owned();
    let w = format!("/Workspaces/{ws}");
    let available = c.all(
        &format!("{w}/Activities?FriendlyName=Available"),
        "activities",
    )[0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let offline = c.all(
        &format!("{w}/Activities?FriendlyName=Offline"),
        "activities",
    )[0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, q) = c
        .post(&format!("{w}/TaskQueues"), &[("FriendlyName", "Q")])
        .unwrap();
    let config = format!(
        r#"{{"task_routing":{{"default_filter":{{"queue":"{}"}}}}}}"#,
        q["sid"].as_str().unwrap()
    );
    c.post(
        &format!("{w}/Workflows"),
        &[
            ("FriendlyName", "F"),
            ("Configuration", &config),
            ("TaskReservationTimeout", "30"),
        ],
    )
    .unwrap();
    let mut workers = Vec::new();
    for i in 0..4 {
        let (_, wk) = c
            .post(
                &format!("{w}/Workers"),
                &[
                    ("FriendlyName", &format!("w{i}")),
                    ("ActivitySid", &available),
                ],
            )
            .unwrap();
        workers.push(wk["sid"].as_str().unwrap().to_owned());
    }

    let mut acknowledged = HashSet::new();
    for round in 0..3 {
        // The load runs on its own thread; the main thread kills the server after a random delay.
        let kill_after = Duration::from_millis(50 + rng.next(250));
        let (w2, workers2, avail2, off2, url2) = (
            w.clone(),
            workers.clone(),
            available.clone(),
            offline.clone(),
            server.url.clone(),
        );
        let load = std::thread::spawn(move || {
            let c = Client::new(&url2);
            let mut acked = Vec::new();
            for i in 0..400u32 {
                match c.post(
                    &format!("{w2}/Tasks"),
                    &[("Attributes", &format!(r#"{{"i":{i}}}"#))],
                ) {
                    Some((201, t)) => acked.push(t["sid"].as_str().unwrap().to_owned()),
                    Some(_) => {}
                    None => break,
                }
                let worker = &workers2[i as usize % workers2.len()];
                // Accept what this worker has pending, complete what it holds, toggle it.
                let Ok(res) = c
                    .http
                    .get(format!(
                        "{}{w2}/Workers/{worker}/Reservations?ReservationStatus=pending",
                        c.base
                    ))
                    .basic_auth(AUTH.0, Some(AUTH.1))
                    .send()
                else {
                    break;
                };
                let Ok(res) = res.json::<Value>() else { break };
                for r in res["reservations"].as_array().cloned().unwrap_or_default() {
                    let rsid = r["sid"].as_str().unwrap();
                    let task = r["task_sid"].as_str().unwrap();
                    if c.post(
                        &format!("{w2}/Workers/{worker}/Reservations/{rsid}"),
                        &[("ReservationStatus", "accepted")],
                    )
                    .is_none()
                    {
                        return acked;
                    }
                    if i % 3 != 0
                        && c.post(
                            &format!("{w2}/Tasks/{task}"),
                            &[("AssignmentStatus", "completed"), ("Reason", "done")],
                        )
                        .is_none()
                    {
                        return acked;
                    }
                }
                let activity = if i % 5 == 0 { &off2 } else { &avail2 };
                if c.post(
                    &format!("{w2}/Workers/{worker}"),
                    &[("ActivitySid", activity)],
                )
                .is_none()
                {
                    break;
                }
            }
            acked
        });
        std::thread::sleep(kill_after);
        server.child.kill().expect("SIGKILL");
        server.child.wait().unwrap();
        acknowledged.extend(load.join().unwrap());

        // At the same address, as a restarted server is: on PostgreSQL it takes over the
        // leases of the node that had the address, without waiting for them to run out.
        let address = server.url.trim_start_matches("http://").to_owned();
        server = start(db, &address);
        let c2 = Client::new(&server.url);
        check_invariants(&c2, &ws, &acknowledged);
        // Every pending reservation has a live timer: once the reservation timeout has passed,
        // none of those pending before is still pending.
        let before: HashSet<String> = pending_reservations(&c2, &w);
        let res = c2
            .http
            .post(format!("{}/_switchyard/Clock", server.url))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .form(&[("Advance", "31")])
            .send()
            .unwrap();
        assert!(res.status().is_success());
        let after = pending_reservations(&c2, &w);
        assert!(
            before.is_disjoint(&after),
            "round {round} (seed {seed}): reservations without a live timer: {:?}",
            before.intersection(&after).collect::<Vec<_>>()
        );
        check_invariants(&c2, &ws, &acknowledged);
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(
        !acknowledged.is_empty(),
        "the load made progress (seed {seed})"
    );
}
