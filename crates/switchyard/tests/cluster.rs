//! A cluster: three real `switchyard serve` processes on one PostgreSQL database (the test's own
//! throwaway server, started with tests/lib/postgres.sh, unless SWITCHYARD_TEST_DATABASE names
//! one; each test gets a fresh database on it).
//!
//! Tasks created through any node are routed exactly once; a workspace whose owner is killed
//! with SIGKILL is taken over within 15 s without losing an acknowledged task or giving a task
//! or a worker two reservations; an owner paused with SIGSTOP is fenced and, resumed, serves as a
//! follower. The tests speak HTTP only: they answer assignment callbacks from a small server of
//! their own (accepting every reservation) and complete tasks as a worker app would.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

const AUTH: (&str, &str) = ("AC00000000000000000000000000000000", "switchyard-dev-token");
const ACCEPT: &str = r#"{"instruction":"accept"}"#;
const NODES: usize = 3;
const WORKERS: usize = 10;
/// A request to a workspace whose owner just died waits for the takeover (up to ~15 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The throwaway server, in a static and so never dropped: the script waits in `read` on a pipe
/// from this process, which sees EOF when this process exits (however it exits); the script then
/// ends and its EXIT trap stops the server and removes its directory.
struct Postgres {
    url: String,
    _script: Child,
    _stdin: ChildStdin,
}

/// The PostgreSQL server the tests run on: SWITCHYARD_TEST_DATABASE, else one of our own.
fn postgres_server() -> String {
    if let Some(url) = std::env::var("SWITCHYARD_TEST_DATABASE")
        .ok()
        .filter(|url| !url.is_empty())
    {
        return url;
    }
    static OWN: OnceLock<Postgres> = OnceLock::new();
    OWN.get_or_init(start_postgres).url.clone()
}

fn start_postgres() -> Postgres {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut script = Command::new("bash")
        .args([
            "-c",
            "set -euo pipefail; source tests/lib/postgres.sh; start_test_postgres; \
             echo \"$SWITCHYARD_TEST_DATABASE\"; read -r _ || true",
        ])
        .current_dir(root)
        .env_remove("SWITCHYARD_TEST_PG_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Its complaints (no PostgreSQL, initdb failed) show in the test's output.
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run bash to start a PostgreSQL server: {e}"));
    let mut lines = BufReader::new(script.stdout.take().expect("piped stdout"));
    let mut seen = Vec::new();
    let url = loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            let status = script.wait();
            panic!(
                "could not start a throwaway PostgreSQL server with tests/lib/postgres.sh \
                 (exit: {status:?}; its stderr is above; stdout: {seen:?}): install PostgreSQL \
                 or set SWITCHYARD_TEST_DATABASE to a server URL"
            );
        }
        let line = line.trim().to_owned();
        if line.starts_with("postgres://") {
            break line;
        }
        seen.push(line);
    };
    thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let stdin = script.stdin.take().expect("piped stdin");
    Postgres {
        url,
        _script: script,
        _stdin: stdin,
    }
}

/// A URL naming a database no test has used yet (the nodes create it).
fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = postgres_server();
    let mut url = url::Url::parse(&server)
        .unwrap_or_else(|e| panic!("the PostgreSQL server URL {server} is not a URL: {e}"));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    url.set_path(&format!(
        "switchyard_cluster_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    url.to_string()
}

// ---------------------------------------------------------------------------------------------
// Processes

/// One `switchyard serve` process, killed with SIGKILL (which ends a stopped one too) and reaped
/// when dropped, also when an assertion failed.
struct Node {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    nodes: Vec<Node>,
    // Declared after `nodes`: the processes are gone before their logs are removed.
    logs: tempfile::TempDir,
}

impl Cluster {
    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url.clone()).collect()
    }

    fn node(&self, url: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.url == url)
            .unwrap_or_else(|| panic!("no node at {url}"))
    }
}

/// `count` nodes on one fresh database, started together (they race to create and migrate it).
fn start_cluster(count: usize) -> Cluster {
    let database = fresh_database();
    let logs = tempfile::tempdir().expect("a directory for the nodes' logs");
    let mut cluster = Cluster {
        nodes: Vec::new(),
        logs,
    };
    let mut banners = Vec::new();
    for i in 0..count {
        let log = cluster.logs.path().join(format!("node-{i}.log"));
        let stderr = std::fs::File::create(&log).expect("a log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--database",
                database.as_str(),
            ])
            // Nothing from the environment that would change credentials, URLs or callbacks.
            .env_remove("SWITCHYARD_ACCOUNT_SID")
            .env_remove("SWITCHYARD_AUTH_TOKEN")
            .env_remove("SWITCHYARD_ACCOUNTS")
            .env_remove("SWITCHYARD_PUBLIC_URL")
            .env_remove("SWITCHYARD_CLOCK")
            .env_remove("SWITCHYARD_ACTIVITY_SET")
            .env_remove("SWITCHYARD_CALLBACK_ALLOW")
            .env_remove("SWITCHYARD_CALLBACK_DENY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        cluster.nodes.push(Node {
            child,
            url: String::new(),
            log,
        });
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || read_banner(stdout, &tx));
        banners.push(rx);
    }
    for (i, rx) in banners.into_iter().enumerate() {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(url)) => cluster.nodes[i].url = url,
            Ok(Err(why)) => panic!(
                "node {i} did not start: {why}\n{}",
                tail(&cluster.nodes[i].log, 40)
            ),
            Err(_) => panic!(
                "node {i} printed no banner within 60 s\n{}",
                tail(&cluster.nodes[i].log, 40)
            ),
        }
    }
    cluster
}

/// Sends the listening URL once the banner's credentials line is out, then drains stdout to its
/// end so that the node never blocks on a full pipe.
fn read_banner(stdout: ChildStdout, banner: &mpsc::Sender<Result<String, String>>) {
    let mut reader = BufReader::new(stdout);
    let mut seen = Vec::new();
    let mut url = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = banner.send(Err(format!(
                "stdout closed before the credentials line: {seen:?}"
            )));
            return;
        }
        let line = line.trim().to_owned();
        if let Some(rest) = line.strip_prefix("Switchyard listening on ") {
            url = Some(rest.trim_end_matches('/').to_owned());
        }
        let done = line.starts_with("credentials:");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = banner.send(url.ok_or_else(|| format!("no listening line in {seen:?}")));
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}

fn signal(node: &Node, sig: &str) {
    let pid = node.child.id().to_string();
    let status = Command::new("kill")
        .args([sig, pid.as_str()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {sig} {pid}: {status}");
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// The test's side: HTTP, the callback server, the completer, and what they saw

type Reply = Result<(u16, Value), String>;

#[derive(Clone, Debug)]
struct Callback {
    workspace: String,
    task: String,
    reservation: String,
    worker: String,
}

#[derive(Clone, Default)]
struct Ledger {
    /// Every assignment callback, repeats included.
    callbacks: Vec<Callback>,
    /// The first callback of each reservation.
    reservations: HashMap<String, Callback>,
    /// Worker → the reservation it holds, as far as the callbacks and completions tell.
    busy: HashMap<String, String>,
    /// Outside strict mode: a callback for a worker that held another reservation (the second
    /// field), judged at the end against the server's record of that other reservation.
    overlaps: Vec<(Callback, String)>,
    /// Tasks the completer completed (answered 200), or found completed.
    completed: HashSet<String>,
    /// Broken invariants seen off the test's thread (servers and completers never panic).
    failures: Vec<String>,
}

struct Harness {
    http: reqwest::blocking::Client,
    /// The nodes the callback handling may send requests to (not a killed or paused one).
    live: Mutex<Vec<String>>,
    next: AtomicUsize,
    /// No failover while tasks are in flight: a worker offered a second reservation, or a
    /// completion that fails, is a failure at once.
    strict: bool,
    stop: AtomicBool,
    ledger: Mutex<Ledger>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn send(request: reqwest::blocking::RequestBuilder) -> Reply {
    let response = request
        .basic_auth(AUTH.0, Some(AUTH.1))
        .send()
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let text = response.text().map_err(|e| format!("{e:?}"))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

impl Harness {
    fn new(urls: &[String], strict: bool) -> Arc<Harness> {
        Arc::new(Harness {
            http: reqwest::blocking::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            live: Mutex::new(urls.to_vec()),
            next: AtomicUsize::new(0),
            strict,
            stop: AtomicBool::new(false),
            ledger: Mutex::new(Ledger::default()),
        })
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    fn snapshot(&self) -> Ledger {
        Ledger::clone(&self.ledger())
    }

    fn fail(&self, why: String) {
        self.ledger().failures.push(why);
    }

    fn set_live(&self, urls: &[String]) {
        *lock(&self.live) = urls.to_vec();
    }

    /// The next live node, round-robin.
    fn pick(&self) -> String {
        let live = lock(&self.live);
        live[self.next.fetch_add(1, Ordering::Relaxed) % live.len()].clone()
    }

    fn get(&self, base: &str, path: &str) -> Reply {
        self.get_url(&format!("{base}{path}"))
    }

    fn get_url(&self, url: &str) -> Reply {
        send(self.http.get(url))
    }

    fn post(&self, base: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        send(self.http.post(format!("{base}{path}")).form(form))
    }

    /// The worker no longer holds `reservation` (if it still did).
    fn release(&self, worker: &str, reservation: &str) {
        let mut ledger = self.ledger();
        if ledger.busy.get(worker).is_some_and(|r| r == reservation) {
            ledger.busy.remove(worker);
        }
    }
}

/// The assignment callback server: a thread per connection, HTTP/1.1 with keep-alive. Returns
/// the callback URL.
fn start_callback_server(h: &Arc<Harness>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the callback server");
    let url = format!(
        "http://{}/assign",
        listener.local_addr().expect("its address")
    );
    let (tx, rx) = mpsc::channel();
    let completer = Arc::clone(h);
    thread::spawn(move || dispatch_completions(&completer, &rx));
    let h = Arc::clone(h);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (h, tx) = (Arc::clone(&h), tx.clone());
            thread::spawn(move || serve_connection(&h, stream, &tx));
        }
    });
    url
}

fn serve_connection(h: &Harness, stream: TcpStream, tx: &mpsc::Sender<Callback>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((target, body, close)) = read_request(&mut reader) {
        let (head, answer) = if target.starts_with("/assign") {
            ("200 OK", answer_callback(h, &body, tx))
        } else if target.starts_with("/silent") {
            // No instruction: the reservation stays pending until it times out.
            ("200 OK", "{}".to_owned())
        } else {
            ("404 Not Found", "{}".to_owned())
        };
        let response = format!(
            "HTTP/1.1 {head}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{answer}",
            answer.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if writer.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// One request: its target, its body (by Content-Length) and whether the client closes after it.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>, bool)> {
    let mut line = String::new();
    while line.trim().is_empty() {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    let target = line.split_whitespace().nth(1)?.to_owned();
    let (mut length, mut close) = (0usize, false);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((target, body, close))
}

/// Records the callback, checks the worker is free, and accepts. A repeated callback for a
/// reservation already seen (delivery is at-least-once across a failover) is accepted again and
/// counts once.
fn answer_callback(h: &Harness, body: &[u8], tx: &mpsc::Sender<Callback>) -> String {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let cb = Callback {
        workspace: field("WorkspaceSid"),
        task: field("TaskSid"),
        reservation: field("ReservationSid"),
        worker: field("WorkerSid"),
    };
    if [&cb.workspace, &cb.task, &cb.reservation, &cb.worker]
        .iter()
        .any(|s| s.is_empty())
    {
        h.fail(format!("an assignment callback without its SIDs: {form:?}"));
        return ACCEPT.to_owned();
    }
    let mut ledger = h.ledger();
    ledger.callbacks.push(cb.clone());
    if let Some(first) = ledger.reservations.get(&cb.reservation).cloned() {
        if first.task != cb.task || first.worker != cb.worker {
            ledger.failures.push(format!(
                "reservation {} came for task {} / worker {}, then for task {} / worker {}",
                cb.reservation, first.task, first.worker, cb.task, cb.worker
            ));
        }
        return ACCEPT.to_owned();
    }
    ledger
        .reservations
        .insert(cb.reservation.clone(), cb.clone());
    if let Some(previous) = ledger
        .busy
        .insert(cb.worker.clone(), cb.reservation.clone())
    {
        if h.strict {
            let why = format!(
                "worker {} (capacity 1) was offered reservation {} (task {}) while holding {previous}",
                cb.worker, cb.reservation, cb.task
            );
            ledger.failures.push(why);
        } else {
            // Across a failover the held reservation's accept may have died with the owner, so
            // that it was never accepted: judged at the end, by its status on the server.
            ledger.overlaps.push((cb.clone(), previous));
        }
    }
    drop(ledger);
    let _ = tx.send(cb);
    ACCEPT.to_owned()
}

/// Completes each accepted task on a thread of its own, so that a slow one (waiting for a
/// takeover) holds up no other.
fn dispatch_completions(h: &Arc<Harness>, rx: &mpsc::Receiver<Callback>) {
    while !h.stop.load(Ordering::SeqCst) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(cb) => {
                let h = Arc::clone(h);
                thread::spawn(move || complete(&h, &cb));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Waits until the reservation reads accepted, frees the worker, then completes the task.
fn complete(h: &Harness, cb: &Callback) {
    let ws = &cb.workspace;
    let reservation = format!(
        "/v1/Workspaces/{ws}/Tasks/{}/Reservations/{}",
        cb.task, cb.reservation
    );
    let task = format!("/v1/Workspaces/{ws}/Tasks/{}", cb.task);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !h.stop.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            h.fail(format!(
                "reservation {} of task {} (worker {}) was neither accepted nor ended within 60 s \
                 of its callback",
                cb.reservation, cb.task, cb.worker
            ));
            return;
        }
        // Not readable yet, or asked through a node on its way out: asked again.
        let status = match h.get(&h.pick(), &reservation) {
            Ok((200, r)) => r["reservation_status"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        match status.as_str() {
            "" | "pending" => {}
            "accepted" | "wrapping" => {
                // Freed before the completion is sent: once it commits, the worker may be
                // offered its next task at once.
                h.release(&cb.worker, &cb.reservation);
                let done = [("AssignmentStatus", "completed"), ("Reason", "done")];
                match h.post(&h.pick(), &task, &done) {
                    Ok((200, _)) => {
                        h.ledger().completed.insert(cb.task.clone());
                        return;
                    }
                    other if h.strict => {
                        h.fail(format!("completing task {}: {other:?}", cb.task));
                        return;
                    }
                    // Across a failover: the reservation is read again (completed, if the
                    // completion went through after all).
                    _ => {}
                }
            }
            "completed" => {
                h.release(&cb.worker, &cb.reservation);
                h.ledger().completed.insert(cb.task.clone());
                return;
            }
            other => {
                // Never accepted (timed out, canceled, rescinded): another reservation carries
                // the task, if anything does.
                if h.strict {
                    h.fail(format!(
                        "reservation {} of task {} ended {other} instead of being accepted",
                        cb.reservation, cb.task
                    ));
                }
                h.release(&cb.worker, &cb.reservation);
                return;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up and checks

/// A test's cluster, harness and workspace. Dropping it stops the harness's threads and kills
/// the nodes; after a failed assertion it first prints what the harness saw and the nodes' logs.
struct Env {
    h: Arc<Harness>,
    cluster: Cluster,
    ws: String,
    workflow: String,
    /// The assignment callback URL of `workflow`.
    callback: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.h.stop.store(true, Ordering::SeqCst);
        if thread::panicking() {
            let ledger = self.h.snapshot();
            eprintln!(
                "{} callbacks, {} reservations, {} tasks completed; failures: {:#?}",
                ledger.callbacks.len(),
                ledger.reservations.len(),
                ledger.completed.len(),
                ledger.failures
            );
            for (i, node) in self.cluster.nodes.iter().enumerate() {
                eprintln!(
                    "--- node {i} ({}), the end of its stderr:\n{}",
                    node.url,
                    tail(&node.log, 40)
                );
            }
        }
    }
}

/// The cluster cannot take every test's three nodes at once on a small machine, and the
/// takeover timings are measured: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    lock(&SERIAL)
}

/// The SID of what a POST created (201).
fn created(h: &Harness, base: &str, path: &str, form: &[(&str, &str)]) -> String {
    match h.post(base, path, form) {
        Ok((201, body)) => body["sid"]
            .as_str()
            .unwrap_or_else(|| panic!("POST {path}: no sid in {body}"))
            .to_owned(),
        other => panic!("POST {base}{path}: {other:?}"),
    }
}

/// Three nodes; a workspace (created through node 0) with one queue over every worker, a
/// workflow calling back to the test, and ten Available workers created across the nodes.
fn setup(strict: bool) -> Env {
    let cluster = start_cluster(NODES);
    let urls = cluster.urls();
    let h = Harness::new(&urls, strict);
    let callback = start_callback_server(&h);
    let mut env = Env {
        h: Arc::clone(&h),
        cluster,
        ws: String::new(),
        workflow: String::new(),
        callback: callback.clone(),
    };
    let ws = created(
        &h,
        &urls[0],
        "/v1/Workspaces",
        &[("FriendlyName", "cluster")],
    );
    env.ws = ws.clone();
    let activities = h.get(
        &urls[1],
        &format!("/v1/Workspaces/{ws}/Activities?FriendlyName=Available"),
    );
    let available = match &activities {
        Ok((200, body)) => body["activities"][0]["sid"].as_str().map(str::to_owned),
        _ => None,
    }
    .unwrap_or_else(|| panic!("the Available activity: {activities:?}"));
    let queue = created(
        &h,
        &urls[2],
        &format!("/v1/Workspaces/{ws}/TaskQueues"),
        &[("FriendlyName", "everyone"), ("TargetWorkers", "1==1")],
    );
    let configuration = json!({"task_routing": {"default_filter": {"queue": queue}}}).to_string();
    env.workflow = created(
        &h,
        &urls[0],
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[
            ("FriendlyName", "to everyone"),
            ("Configuration", configuration.as_str()),
            ("AssignmentCallbackUrl", callback.as_str()),
            ("TaskReservationTimeout", "120"),
        ],
    );
    for i in 0..WORKERS {
        let name = format!("worker-{i}");
        created(
            &h,
            &urls[i % urls.len()],
            &format!("/v1/Workspaces/{ws}/Workers"),
            &[
                ("FriendlyName", name.as_str()),
                ("ActivitySid", available.as_str()),
            ],
        );
    }
    env
}

/// Creates `count` tasks from `threads` threads, round-robin over `bases`; every create must
/// answer 201. Returns their SIDs.
fn create_tasks(
    h: &Harness,
    ws: &str,
    workflow: &str,
    bases: &[String],
    count: usize,
    threads: usize,
) -> Vec<String> {
    let path = format!("/v1/Workspaces/{ws}/Tasks");
    let sids = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    thread::scope(|s| {
        for t in 0..threads {
            let (path, sids, failures) = (&path, &sids, &failures);
            s.spawn(move || {
                for i in (t..count).step_by(threads) {
                    let base = &bases[i % bases.len()];
                    let attributes = format!(r#"{{"n":{i}}}"#);
                    let form = [
                        ("WorkflowSid", workflow),
                        ("Attributes", attributes.as_str()),
                    ];
                    match h.post(base, path, &form) {
                        Ok((201, body)) if body["sid"].is_string() => {
                            lock(sids).push(body["sid"].as_str().unwrap_or_default().to_owned());
                        }
                        other => lock(failures).push(format!("task {i} through {base}: {other:?}")),
                    }
                }
            });
        }
    });
    let failures = failures
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    assert!(
        failures.is_empty(),
        "every create answers 201: {failures:#?}"
    );
    sids.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// Waits until the completer has completed every one of `tasks`; fails at once when the harness
/// recorded a broken invariant.
fn wait_completed(h: &Harness, tasks: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (failures, missing) = {
            let ledger = h.ledger();
            let missing: Vec<String> = tasks
                .iter()
                .filter(|t| !ledger.completed.contains(*t))
                .cloned()
                .collect();
            (ledger.failures.clone(), missing)
        };
        assert!(failures.is_empty(), "broken invariants: {failures:#?}");
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} tasks not completed within {within:?}, e.g. {:?}",
            missing.len(),
            tasks.len(),
            &missing[..missing.len().min(5)]
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `f` every 75 ms until it answers, failing (naming `what`) after `within`.
fn eventually<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        thread::sleep(Duration::from_millis(75));
    }
}

/// Sets its flag when dropped: a failing assertion then stops a load thread too, instead of
/// leaving its scope waiting for it.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `GET /_switchyard/Nodes` through the next of `bases`: its `nodes`, if it answered 200.
fn nodes_via(h: &Harness, bases: &[String]) -> Option<Vec<Value>> {
    let base = &bases[h.next.fetch_add(1, Ordering::Relaxed) % bases.len()];
    match h.get(base, "/_switchyard/Nodes") {
        Ok((200, body)) => body["nodes"].as_array().cloned(),
        _ => None,
    }
}

fn url_of(node: &Value) -> String {
    node["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned()
}

fn is_live(node: &Value) -> bool {
    node["live"].as_bool() == Some(true)
}

fn holds(node: &Value, ws: &str) -> bool {
    node["workspaces"]
        .as_array()
        .is_some_and(|w| w.iter().any(|s| s == ws))
}

/// The URLs of the nodes listing `ws` among the workspaces they hold.
fn holders(nodes: &[Value], ws: &str) -> Vec<String> {
    nodes.iter().filter(|n| holds(n, ws)).map(url_of).collect()
}

/// The owner of `ws`, when exactly one node holds it.
fn owner_via(h: &Harness, bases: &[String], ws: &str) -> Option<String> {
    match holders(&nodes_via(h, bases)?, ws).as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Checks that exactly one node holds `ws` and that it is live; returns the nodes and its URL.
fn single_live_owner(h: &Harness, bases: &[String], ws: &str) -> (Vec<Value>, String) {
    let nodes = eventually(
        "GET /_switchyard/Nodes answering 200",
        Duration::from_secs(10),
        || nodes_via(h, bases),
    );
    let holding: Vec<&Value> = nodes.iter().filter(|n| holds(n, ws)).collect();
    assert_eq!(holding.len(), 1, "exactly one node holds {ws}: {nodes:#?}");
    assert!(is_live(holding[0]), "the owner of {ws} is live: {nodes:#?}");
    let owner = url_of(holding[0]);
    (nodes, owner)
}

/// The reservations of `task` its worker took (accepted, wrapping or completed).
fn taken_reservations(h: &Harness, ws: &str, task: &str) -> Vec<String> {
    let base = h.pick();
    match h.get(
        &base,
        &format!("/v1/Workspaces/{ws}/Tasks/{task}/Reservations"),
    ) {
        Ok((200, body)) => body["reservations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["reservation_status"].as_str().is_some_and(is_taken))
            .filter_map(|r| r["sid"].as_str().map(str::to_owned))
            .collect(),
        other => panic!("the reservations of task {task} through {base}: {other:?}"),
    }
}

/// Whether a reservation in `status` is one its worker took.
fn is_taken(status: &str) -> bool {
    matches!(status, "accepted" | "wrapping" | "completed")
}

fn reservation_status(h: &Harness, ws: &str, task: &str, reservation: &str) -> String {
    let base = h.pick();
    let path = format!("/v1/Workspaces/{ws}/Tasks/{task}/Reservations/{reservation}");
    match h.get(&base, &path) {
        Ok((200, body)) => body["reservation_status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        other => panic!("GET {path} through {base}: {other:?}"),
    }
}

/// How many `task.completed` events each task has, over every page of the workspace's events.
fn completed_events(h: &Harness, ws: &str) -> HashMap<String, usize> {
    let base = h.pick();
    let mut url = format!("{base}/v1/Workspaces/{ws}/Events?PageSize=1000");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..100 {
        let page = match h.get_url(&url) {
            Ok((200, page)) => page,
            other => panic!("GET {url}: {other:?}"),
        };
        for event in page["events"].as_array().into_iter().flatten() {
            if event["event_type"] == "task.completed" {
                let task = event["resource_sid"].as_str().unwrap_or_default();
                *counts.entry(task.to_owned()).or_default() += 1;
            }
        }
        match page["meta"]["next_page_url"].as_str() {
            Some(next) if !next.is_empty() => url = rebase(next, &base),
            _ => return counts,
        }
    }
    panic!("more than 100 pages of events");
}

/// A next-page URL as the same path on `base` (the node that built it may be another).
fn rebase(next: &str, base: &str) -> String {
    match next.find("/v1/") {
        Some(at) => format!("{base}{}", &next[at..]),
        None => next.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn three_nodes_route_every_task_exactly_once() {
    let _serial = serial();
    let env = setup(true);
    let urls = env.cluster.urls();

    let tasks = create_tasks(&env.h, &env.ws, &env.workflow, &urls, 200, 8);
    assert_eq!(tasks.len(), 200);
    wait_completed(&env.h, &tasks, Duration::from_secs(60));

    let ledger = env.h.snapshot();
    assert!(ledger.failures.is_empty(), "{:#?}", ledger.failures);
    assert_eq!(
        ledger.callbacks.len(),
        200,
        "one assignment callback per task, none repeated"
    );
    let called: HashSet<&str> = ledger.callbacks.iter().map(|c| c.task.as_str()).collect();
    let made: HashSet<&str> = tasks.iter().map(String::as_str).collect();
    assert_eq!(called, made, "every task, and only those, had a callback");
    assert_eq!(
        ledger.reservations.len(),
        200,
        "no reservation delivered twice"
    );

    // Every node reads the same task, as its owner wrote it.
    for task in tasks.iter().step_by(10) {
        let path = format!("/v1/Workspaces/{}/Tasks/{task}", env.ws);
        let views: Vec<Value> = urls
            .iter()
            .map(|base| match env.h.get(base, &path) {
                Ok((200, body)) => body,
                other => panic!("GET {path} through {base}: {other:?}"),
            })
            .collect();
        for (base, view) in urls.iter().zip(&views) {
            assert_eq!(
                view["assignment_status"], "completed",
                "through {base}: {view}"
            );
            for field in ["sid", "assignment_status", "attributes", "date_updated"] {
                assert_eq!(
                    view[field], views[0][field],
                    "task {task}: {field} through {base} and through {}",
                    urls[0]
                );
            }
        }
    }

    let (nodes, owner) = single_live_owner(&env.h, &urls, &env.ws);
    assert_eq!(nodes.len(), NODES, "{nodes:#?}");
    assert!(nodes.iter().all(is_live), "{nodes:#?}");
    let mut listed: Vec<String> = nodes.iter().map(url_of).collect();
    listed.sort();
    let mut ours = urls.clone();
    ours.sort();
    assert_eq!(listed, ours, "the nodes list names our three processes");
    assert!(urls.contains(&owner));
}

#[test]
fn a_killed_owner_is_replaced_within_15_s_and_nothing_is_routed_twice() {
    let _serial = serial();
    let env = setup(false);
    let urls = env.cluster.urls();
    let owner = eventually(
        "exactly one node holding the workspace",
        Duration::from_secs(15),
        || owner_via(&env.h, &urls, &env.ws),
    );
    let survivors: Vec<String> = urls.iter().filter(|u| **u != owner).cloned().collect();
    assert_eq!(survivors.len(), NODES - 1, "{owner} is one of {urls:?}");

    let (h, ws, workflow) = (&*env.h, env.ws.as_str(), env.workflow.as_str());
    let acked = Mutex::new(Vec::<String>::new());
    let errors = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (takeover, at_takeover) = thread::scope(|s| {
        let _stop_load = StopOnDrop(&stop);
        // ~20 creates a second through the nodes that survive, alternating.
        s.spawn(|| {
            let path = format!("/v1/Workspaces/{ws}/Tasks");
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let base = &survivors[i % survivors.len()];
                let attributes = format!(r#"{{"n":{i}}}"#);
                let form = [
                    ("WorkflowSid", workflow),
                    ("Attributes", attributes.as_str()),
                ];
                match h.post(base, &path, &form) {
                    Ok((201, body)) if body["sid"].is_string() => {
                        lock(&acked).push(body["sid"].as_str().unwrap_or_default().to_owned());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
                i += 1;
                thread::sleep(Duration::from_millis(50));
            }
        });

        eventually(
            "40 tasks acknowledged before the kill",
            Duration::from_secs(30),
            || (lock(&acked).len() >= 40).then_some(()),
        );
        h.set_live(&survivors);
        signal(env.cluster.node(&owner), "-9");
        let killed = Instant::now();
        eventually(
            "a surviving node holding the workspace",
            Duration::from_secs(20),
            || {
                let nodes = nodes_via(h, &survivors)?;
                holders(&nodes, ws)
                    .iter()
                    .any(|u| survivors.contains(u))
                    .then_some(())
            },
        );
        let takeover = killed.elapsed();
        // The survivors keep taking tasks: 60 more, or for 10 s.
        let at_takeover = lock(&acked).len();
        let until = Instant::now() + Duration::from_secs(10);
        while lock(&acked).len() < at_takeover + 60 && Instant::now() < until {
            thread::sleep(Duration::from_millis(100));
        }
        (takeover, at_takeover)
    });
    let acked = acked.into_inner().unwrap_or_else(PoisonError::into_inner);
    let errors = errors.into_inner();

    assert!(
        takeover <= Duration::from_secs(16),
        "the workspace was taken over {takeover:?} after its owner was killed (15 s allowed, 1 s slack)"
    );
    assert!(
        acked.len() >= at_takeover + 10,
        "the survivors take tasks after the takeover: {at_takeover} acknowledged by then, {} in \
         all ({errors} creates failed)",
        acked.len()
    );

    // No acknowledged task lost: each is found, through the survivors, completed.
    wait_completed(h, &acked, Duration::from_secs(60));
    for task in &acked {
        let base = h.pick();
        match h.get(&base, &format!("/v1/Workspaces/{ws}/Tasks/{task}")) {
            Ok((200, body)) => assert_eq!(
                body["assignment_status"], "completed",
                "acknowledged task {task} through {base}: {body}"
            ),
            other => panic!("acknowledged task {task} through {base}: {other:?}"),
        }
    }

    // No task taken under two reservations; no worker offered a task while it held an accepted one.
    let ledger = env.h.snapshot();
    assert!(ledger.failures.is_empty(), "{:#?}", ledger.failures);
    let acknowledged: HashSet<&str> = acked.iter().map(String::as_str).collect();
    let mut tasks: Vec<&str> = ledger
        .reservations
        .values()
        .map(|c| c.task.as_str())
        .collect();
    tasks.sort_unstable();
    tasks.dedup();
    for task in tasks {
        let taken = taken_reservations(h, ws, task);
        if acknowledged.contains(task) || ledger.completed.contains(task) {
            assert_eq!(taken.len(), 1, "task {task} was taken under {taken:?}");
        } else {
            assert!(taken.len() <= 1, "task {task} was taken under {taken:?}");
        }
    }
    for (cb, previous) in &ledger.overlaps {
        let held = &ledger.reservations[previous];
        let status = reservation_status(h, ws, &held.task, previous);
        assert!(
            !is_taken(&status),
            "worker {} was offered reservation {} (task {}) while holding reservation {previous} \
             (task {}), which it accepted ({status})",
            cb.worker,
            cb.reservation,
            cb.task,
            held.task
        );
    }

    let (_, new_owner) = single_live_owner(h, &survivors, ws);
    assert!(survivors.contains(&new_owner), "{new_owner} owns {ws}");
    eventually(
        "the killed node no longer listed live",
        Duration::from_secs(15),
        || {
            let nodes = nodes_via(h, &survivors)?;
            (!nodes.iter().any(|n| url_of(n) == owner && is_live(n))).then_some(())
        },
    );
}

#[test]
fn a_paused_owner_is_fenced_and_rejoins_as_a_follower() {
    let _serial = serial();
    let env = setup(true);
    let urls = env.cluster.urls();
    let (h, ws, workflow) = (&*env.h, env.ws.as_str(), env.workflow.as_str());
    let owner = eventually(
        "exactly one node holding the workspace",
        Duration::from_secs(15),
        || owner_via(h, &urls, ws),
    );
    let survivors: Vec<String> = urls.iter().filter(|u| **u != owner).cloned().collect();
    assert_eq!(survivors.len(), NODES - 1, "{owner} is one of {urls:?}");

    h.set_live(&survivors);
    let paused = env.cluster.node(&owner);
    signal(paused, "-STOP");
    eventually(
        "a node other than the paused owner holding the workspace",
        Duration::from_secs(20),
        || {
            let nodes = nodes_via(h, &survivors)?;
            holders(&nodes, ws)
                .iter()
                .any(|u| survivors.contains(u))
                .then_some(())
        },
    );
    let first = create_tasks(h, ws, workflow, &survivors, 30, 3);
    wait_completed(h, &first, Duration::from_secs(60));

    signal(paused, "-CONT");
    eventually(
        "the resumed node listed live again",
        Duration::from_secs(15),
        || {
            let nodes = nodes_via(h, &survivors)?;
            nodes
                .iter()
                .any(|n| url_of(n) == owner && is_live(n))
                .then_some(())
        },
    );
    // The resumed node takes requests again, as a follower (or, handed the workspace anew, as
    // its owner under a new epoch).
    h.set_live(&urls);
    let second = create_tasks(h, ws, workflow, &urls, 30, 3);
    wait_completed(h, &second, Duration::from_secs(60));

    let ledger = env.h.snapshot();
    assert!(ledger.failures.is_empty(), "{:#?}", ledger.failures);
    let all: Vec<&String> = first.iter().chain(&second).collect();
    let mut per_task: HashMap<&str, Vec<&str>> = HashMap::new();
    for cb in ledger.reservations.values() {
        per_task
            .entry(cb.task.as_str())
            .or_default()
            .push(cb.reservation.as_str());
    }
    for task in &all {
        let reservations = per_task.get(task.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            reservations.len(),
            1,
            "task {task} had one reservation: {reservations:?}"
        );
    }
    assert_eq!(
        ledger.reservations.len(),
        all.len(),
        "reservations only for our tasks"
    );

    // A fenced node committed nothing: no task completed twice in the event log.
    let events = completed_events(h, ws);
    let twice: Vec<(&String, &usize)> = events.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "task.completed more than once: {twice:?}");
    for task in &all {
        assert_eq!(
            events.get(task.as_str()),
            Some(&1),
            "one task.completed event for {task}"
        );
    }

    let (nodes, _) = single_live_owner(h, &urls, ws);
    assert_eq!(nodes.len(), NODES, "{nodes:#?}");
    assert!(nodes.iter().all(is_live), "{nodes:#?}");
}

#[test]
fn a_node_stopped_cleanly_hands_its_workspaces_over_at_once() {
    let _serial = serial();
    let mut env = setup(true);
    let urls = env.cluster.urls();
    let h = Arc::clone(&env.h);
    let (ws, workflow) = (env.ws.clone(), env.workflow.clone());
    let owner = eventually(
        "exactly one node holding the workspace",
        Duration::from_secs(15),
        || owner_via(&h, &urls, &ws),
    );
    let survivors: Vec<String> = urls.iter().filter(|u| **u != owner).cloned().collect();
    h.set_live(&survivors);
    let stopping = env.cluster.node(&owner);
    signal(stopping, "-TERM");
    let stopped = Instant::now();
    eventually(
        "a survivor holding the workspace",
        Duration::from_secs(20),
        || {
            let nodes = nodes_via(&h, &survivors)?;
            holders(&nodes, &ws)
                .iter()
                .any(|u| survivors.contains(u))
                .then_some(())
        },
    );
    // Handed over, not left to run out: well within the 10 s lease.
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(5), "taken over after {took:?}");
    let node = (env.cluster.nodes.iter_mut())
        .find(|n| n.url == owner)
        .expect("the stopped node");
    let status = eventually("the stopped node's exit", Duration::from_secs(15), || {
        node.child.try_wait().ok().flatten()
    });
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let tasks = create_tasks(&h, &ws, &workflow, &survivors, 20, 2);
    wait_completed(&h, &tasks, Duration::from_secs(60));
    let ledger = h.snapshot();
    assert!(ledger.failures.is_empty(), "{:#?}", ledger.failures);
    assert_eq!(
        ledger.reservations.len(),
        tasks.len(),
        "one reservation per task"
    );
}

#[test]
fn a_reservation_timeout_due_while_its_node_was_dead_fires_after_the_takeover() {
    let _serial = serial();
    let env = setup(true);
    let urls = env.cluster.urls();
    let h = Arc::clone(&env.h);
    let ws = env.ws.clone();
    // Callbacks answered without an instruction: the reservation waits for its 4 s timeout.
    let silent = env.callback.replace("/assign", "/silent");
    let queue = created(
        &h,
        &urls[0],
        &format!("/v1/Workspaces/{ws}/TaskQueues"),
        &[("FriendlyName", "silent"), ("TargetWorkers", "1==1")],
    );
    let configuration = json!({"task_routing": {"default_filter": {"queue": queue}}}).to_string();
    let workflow = created(
        &h,
        &urls[0],
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[
            ("FriendlyName", "silent"),
            ("Configuration", configuration.as_str()),
            ("AssignmentCallbackUrl", silent.as_str()),
            ("TaskReservationTimeout", "4"),
        ],
    );
    let owner = eventually(
        "exactly one node holding the workspace",
        Duration::from_secs(15),
        || owner_via(&h, &urls, &ws),
    );
    let survivors: Vec<String> = urls.iter().filter(|u| **u != owner).cloned().collect();
    h.set_live(&survivors);
    let task = created(
        &h,
        &survivors[0],
        &format!("/v1/Workspaces/{ws}/Tasks"),
        &[("WorkflowSid", workflow.as_str()), ("Attributes", "{}")],
    );
    let reservations = format!("/v1/Workspaces/{ws}/Tasks/{task}/Reservations");
    let pending = |except: &str| -> Option<String> {
        match h.get(&survivors[0], &reservations) {
            Ok((200, body)) => (body["reservations"].as_array()?.iter())
                .filter(|r| r["reservation_status"] == "pending")
                .filter_map(|r| r["sid"].as_str())
                .find(|sid| *sid != except)
                .map(str::to_owned),
            _ => None,
        }
    };
    let first = eventually("the task reserved", Duration::from_secs(10), || pending(""));

    signal(env.cluster.node(&owner), "-9");
    let killed = Instant::now();
    // Its timeout falls due while nobody decides for the workspace; the node that takes it
    // over fires it, and offers the task again.
    eventually(
        "the first reservation timed out",
        Duration::from_secs(30),
        || (reservation_status(&h, &ws, &task, &first) == "timeout").then_some(()),
    );
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(16),
        "the timeout fired {took:?} after the kill"
    );
    eventually("the task offered again", Duration::from_secs(10), || {
        pending(&first)
    });
    let ledger = h.snapshot();
    assert!(ledger.failures.is_empty(), "{:#?}", ledger.failures);
}
