//! The real binary: start-up output, `/health`, credentials, a restart on the same file, and a
//! clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Process {
    child: Child,
    url: String,
    stdout: Vec<String>,
}

/// `switchyard serve` on a free port with `args`, taking nothing from the environment's
/// account settings.
fn serve(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("SWITCHYARD_ACCOUNT_SID")
        .env_remove("SWITCHYARD_AUTH_TOKEN");
    command
}

/// What a start that must fail printed.
fn refused_start(args: &[&str]) -> std::process::Output {
    let out = serve(args).output().unwrap();
    assert!(!out.status.success(), "the start was not refused");
    out
}

fn start(args: &[&str]) -> Process {
    let mut child = serve(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut stdout = Vec::new();
    let mut url = String::new();
    // The first lines say where it listens and with which credentials.
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "stdout closed early: {stdout:?}"
        );
        let done = line.trim().starts_with("credentials:");
        if let Some(rest) = line.trim().strip_prefix("Switchyard listening on ") {
            url = rest.to_owned();
        }
        stdout.push(line.trim().to_owned());
        if done {
            break;
        }
    }
    assert!(url.starts_with("http://127.0.0.1:"), "{stdout:?}");
    Process { child, url, stdout }
}

fn get(url: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let client = reqwest::blocking::Client::new();
    let mut req = client.get(url);
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let res = req.send().unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

fn post(url: &str, auth: (&str, &str), form: &[(&str, &str)]) -> serde_json::Value {
    let client = reqwest::blocking::Client::new();
    let res = client
        .post(url)
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    res.json().unwrap()
}

fn terminate(mut p: Process) {
    let pid = p.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_with_development_credentials_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    let db = db.to_str().unwrap();
    let p = start(&["--database", db]);
    assert!(
        p.stdout
            .iter()
            .any(|l| l.contains("AC00000000000000000000000000000000 / switchyard-dev-token")),
        "{:?}",
        p.stdout
    );
    assert_eq!(get(&format!("{}/health", p.url), None).0, 200);
    assert_eq!(get(&format!("{}/v1/Workspaces", p.url), None).0, 401);
    let dev = ("AC00000000000000000000000000000000", "switchyard-dev-token");
    let ws = post(
        &format!("{}/v1/Workspaces", p.url),
        dev,
        &[("FriendlyName", "Kept")],
    );
    assert_eq!(
        ws["url"],
        format!("{}/v1/Workspaces/{}", p.url, ws["sid"].as_str().unwrap())
    );
    terminate(p);

    let p = start(&[
        "--database",
        db,
        "--public-url",
        "https://router.example.com/",
    ]);
    assert!(
        p.stdout
            .contains(&"public URL:  https://router.example.com".to_owned()),
        "{:?}",
        p.stdout
    );
    let (status, body) = get(&format!("{}/v1/Workspaces", p.url), Some(dev));
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["workspaces"][0]["friendly_name"], "Kept");
    assert_eq!(
        list["workspaces"][0]["url"],
        format!(
            "https://router.example.com/v1/Workspaces/{}",
            ws["sid"].as_str().unwrap()
        )
    );
    terminate(p);
}

#[test]
fn configured_accounts_replace_the_development_pair() {
    let sid = "AC11111111111111111111111111111111";
    let extra = "AC22222222222222222222222222222222";
    let accounts = format!("{extra}:token-two");
    let p = start(&[
        "--database",
        "sqlite::memory:",
        "--account-sid",
        sid,
        "--auth-token",
        "token-one",
        "--accounts",
        &accounts,
    ]);
    assert!(
        p.stdout
            .iter()
            .any(|l| l.contains(sid) && l.contains(extra)),
        "the banner names every account: {:?}",
        p.stdout
    );
    assert!(!p.stdout.iter().any(|l| l.contains("switchyard-dev-token")));
    assert_eq!(
        get(
            &format!("{}/v1/Workspaces", p.url),
            Some((sid, "token-one"))
        )
        .0,
        200
    );
    assert_eq!(
        get(
            &format!("{}/v1/Workspaces", p.url),
            Some((extra, "token-two"))
        )
        .0,
        200
    );
    assert_eq!(
        get(
            &format!("{}/v1/Workspaces", p.url),
            Some(("AC00000000000000000000000000000000", "switchyard-dev-token"))
        )
        .0,
        401
    );
    terminate(p);
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["migrate", "--database", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
}

#[test]
fn only_the_configured_accounts_sign_in_and_no_token_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("creds.db");
    let db = db.to_str().unwrap();
    let dev = ("AC00000000000000000000000000000000", "switchyard-dev-token");
    let p = start(&["--database", db]);
    post(
        &format!("{}/v1/Workspaces", p.url),
        dev,
        &[("FriendlyName", "A")],
    );
    terminate(p);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database file is the owner's only");
    }

    let one = "AC11111111111111111111111111111111";
    let p = start(&[
        "--database",
        db,
        "--account-sid",
        one,
        "--auth-token",
        "secret-one",
    ]);
    let list = format!("{}/v1/Workspaces", p.url);
    assert_eq!(
        get(&list, Some(dev)).0,
        401,
        "the development pair is revoked"
    );
    assert_eq!(get(&list, Some((one, "secret-one"))).0, 200);
    terminate(p);

    // Only --accounts: neither the development pair nor the account left out works.
    let two = "AC22222222222222222222222222222222";
    let accounts = format!("{two}:secret-two");
    let p = start(&["--database", db, "--accounts", &accounts]);
    assert!(p.stdout.iter().any(|l| l.contains(two)), "{:?}", p.stdout);
    let list = format!("{}/v1/Workspaces", p.url);
    assert_eq!(
        get(&list, Some((one, "secret-one"))).0,
        401,
        "removed from the configuration"
    );
    assert_eq!(get(&list, Some(dev)).0, 401);
    assert_eq!(get(&list, Some((two, "secret-two"))).0, 200);
    terminate(p);

    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        for token in ["secret-one", "secret-two", "switchyard-dev-token"] {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{token} is stored"
            );
        }
    }
}

#[test]
fn half_sent_requests_and_idle_connections_cannot_hold_the_server() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let p = start(&[
        "--database",
        "sqlite::memory:",
        "--header-timeout",
        "1",
        "--max-connections",
        "4",
    ]);
    let addr = p.url.trim_start_matches("http://").to_owned();
    // Four clients take every slot with requests they never finish.
    let mut stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    // The header timeout closes each of them.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 256];
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break true,
                Ok(_) => continue, // a 408 before closing is fine
            }
        };
        assert!(closed && started.elapsed() < Duration::from_secs(5));
    }
    // Slots free again: /health answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ok = reqwest::blocking::Client::new()
            .get(format!("{}/health", p.url))
            .send()
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "/health never answered again");
        std::thread::sleep(Duration::from_millis(50));
    }
    terminate(p);

    // Beyond the limit a connection is closed at once rather than left waiting.
    let p = start(&["--database", "sqlite::memory:", "--max-connections", "2"]);
    let addr = p.url.trim_start_matches("http://").to_owned();
    let served = |s: &mut TcpStream| {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"ok") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed before answering");
            got.extend_from_slice(&buf[..n]);
        }
    };
    // Two keep-alive connections, each served once, so both hold a slot.
    let mut held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    for s in &mut held {
        served(s);
    }
    let mut extra = TcpStream::connect(&addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = extra.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 64];
    let n = extra.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the third connection is closed, not served");
    drop(held);
    let mut again = TcpStream::connect(&addr).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // The server may not have seen the held ones close yet: retry on a closed connection.
        let mut probe = [0u8; 1];
        again
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .ok();
        again
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        if again.peek(&mut probe).is_ok_and(|n| n > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was never reused");
        again = TcpStream::connect(&addr).unwrap();
    }
    terminate(p);
}

#[test]
fn a_stalled_request_body_gets_a_twilio_shaped_408() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let p = start(&["--database", "sqlite::memory:", "--idle-timeout", "1"]);
    let addr = p.url.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // base64 of the development pair, `AC000…:switchyard-dev-token`.
    let auth = "QUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDpzd2l0Y2h5YXJkLWRldi10b2tlbg==";
    let head = format!(
        "POST /v1/Workspaces HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nFriendly"
    );
    s.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") || !answer.ends_with(b"}") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body: serde_json::Value =
        serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["status"], 408);
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, list) = get(
        &format!("{}/v1/Workspaces", p.url),
        Some(("AC00000000000000000000000000000000", "switchyard-dev-token")),
    );
    assert_eq!(status, 200);
    assert!(
        list.contains("\"workspaces\":[]"),
        "nothing was created: {list}"
    );
    terminate(p);
}

#[test]
fn seeds_are_imported_at_start_up_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    let db = db.to_str().unwrap();
    let seed = dir.path().join("support.json");
    let doc = serde_json::json!({
        "format": "switchyard.workspace.v1",
        "friendly_name": "Seeded support",
        "task_queues": [{"friendly_name": "Everyone"}],
        "workflows": [{"friendly_name": "All", "configuration":
            {"task_routing": {"default_filter": {"queue": "Everyone"}}}}],
        "workers": [{"friendly_name": "Alice", "attributes": {"level": 2}, "activity": "Available"}]
    });
    std::fs::write(&seed, doc.to_string()).unwrap();
    let seed = seed.to_str().unwrap();
    let dev = ("AC00000000000000000000000000000000", "switchyard-dev-token");

    let p = start(&["--database", db, "--seed", seed]);
    assert!(
        p.stdout
            .iter()
            .any(|l| l.starts_with("seeded:") && l.contains("Seeded support")),
        "{:?}",
        p.stdout
    );
    let (status, body) = get(&format!("{}/v1/Workspaces", p.url), Some(dev));
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 1);
    let ws = list["workspaces"][0]["sid"].as_str().unwrap().to_owned();
    let (_, workers) = get(&format!("{}/v1/Workspaces/{ws}/Workers", p.url), Some(dev));
    let workers: serde_json::Value = serde_json::from_str(&workers).unwrap();
    assert_eq!(workers["workers"][0]["friendly_name"], "Alice");
    assert_eq!(workers["workers"][0]["activity_name"], "Available");
    terminate(p);

    // Started again with the same seed: the workspace exists, nothing is added.
    let p = start(&["--database", db, "--seed", seed]);
    assert!(
        p.stdout.iter().any(|l| l.contains("exists already")),
        "{:?}",
        p.stdout
    );
    let (_, body) = get(&format!("{}/v1/Workspaces", p.url), Some(dev));
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 1);
    terminate(p);
}

#[test]
fn a_bad_seed_stops_the_start_naming_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("bad.json");
    std::fs::write(
        &seed,
        r#"{"format": "switchyard.workspace.v1", "friendly_name": "Bad", "workers": [{"friendly_name": "A", "activity": "Lunch"}]}"#,
    )
    .unwrap();
    let out = refused_start(&[
        "--database",
        "sqlite::memory:",
        "--seed",
        seed.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.json") && stderr.contains("workers[0].activity"),
        "{stderr}"
    );
}

#[test]
fn json_logs_name_the_workspace_task_and_reservation_of_each_routing_event() {
    let mut child = serve(&["--database", "sqlite::memory:", "--log-format", "json"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    while url.is_empty() {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no banner");
        if let Some(rest) = line.trim().strip_prefix("Switchyard listening on ") {
            url = rest.to_owned();
        }
    }
    // stderr is read on its own thread, so the server never blocks writing it.
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let dev = ("AC00000000000000000000000000000000", "switchyard-dev-token");
    let ws = post(
        &format!("{url}/v1/Workspaces"),
        dev,
        &[("FriendlyName", "Logs")],
    );
    let ws = ws["sid"].as_str().unwrap().to_owned();
    let w = format!("{url}/v1/Workspaces/{ws}");
    let queue = post(&format!("{w}/TaskQueues"), dev, &[("FriendlyName", "Q")]);
    let config = format!(
        r#"{{"task_routing":{{"default_filter":{{"queue":"{}"}}}}}}"#,
        queue["sid"].as_str().unwrap()
    );
    post(
        &format!("{w}/Workflows"),
        dev,
        &[("FriendlyName", "F"), ("Configuration", &config)],
    );
    let (_, activities) = get(&format!("{w}/Activities?FriendlyName=Available"), Some(dev));
    let activities: serde_json::Value = serde_json::from_str(&activities).unwrap();
    let available = activities["activities"][0]["sid"].as_str().unwrap();
    post(
        &format!("{w}/Workers"),
        dev,
        &[("FriendlyName", "Alice"), ("ActivitySid", available)],
    );
    let task = post(&format!("{w}/Tasks"), dev, &[("Attributes", "{}")]);
    let task = task["sid"].as_str().unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let created = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .expect("a 'reservation created' line within 10 s");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        if v["fields"]["message"] == "reservation created" {
            break v;
        }
    };
    assert_eq!(created["level"], "INFO");
    // The SIDs come with the span the line was logged in.
    let span = &created["span"];
    assert_eq!(span["workspace"], ws, "{created}");
    assert_eq!(span["task"], task);
    assert!(created["fields"]["worker_name"] == "Alice", "{created}");
    assert!(
        span["reservation"].as_str().unwrap().starts_with("WR"),
        "{created}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_development_api_key_comes_only_with_the_development_credentials() {
    let p = start(&["--database", "sqlite::memory:"]);
    assert!(
        (p.stdout.iter())
            .any(|l| l.starts_with("API key:") && l.contains("SK00000000000000000000000000000000")),
        "{:?}",
        p.stdout
    );
    assert_eq!(get(&format!("{}/health", p.url), None).0, 200);
    terminate(p);
    let sid = "AC11111111111111111111111111111111";
    let p = start(&[
        "--database",
        "sqlite::memory:",
        "--account-sid",
        sid,
        "--auth-token",
        "t",
    ]);
    assert!(
        !p.stdout.iter().any(|l| l.starts_with("API key:")),
        "{:?}",
        p.stdout
    );
    assert_eq!(get(&format!("{}/health", p.url), None).0, 200);
    terminate(p);
    let out = refused_start(&[
        "--database",
        "sqlite::memory:",
        "--api-keys",
        "SK123:secret",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--api-keys"));
}

/// One server per SQLite file; on PostgreSQL a second server joins the first as a node of the
/// database's cluster (`tests/cluster.rs` routes through three).
#[test]
fn a_second_server_is_refused_on_sqlite_and_joins_as_a_node_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let db = switchyard_engine::testing::database_at(&dir.path().join("one.db"));
    let first = start(&["--database", &db]);
    if switchyard_engine::testing::on_postgres() {
        let second = start(&["--database", &db]);
        assert!(
            second.stdout.iter().any(|l| l.starts_with("node:")),
            "{:?}",
            second.stdout
        );
        let (status, body) = get(
            &format!("{}/_switchyard/Nodes", second.url),
            Some(("AC00000000000000000000000000000000", "switchyard-dev-token")),
        );
        assert_eq!(status, 200, "{body}");
        let nodes: serde_json::Value = serde_json::from_str(&body).unwrap();
        let urls: Vec<&str> = (nodes["nodes"].as_array().unwrap().iter())
            .filter_map(|n| n["url"].as_str())
            .collect();
        assert!(urls.contains(&first.url.as_str()) && urls.contains(&second.url.as_str()));
        terminate(second);
        terminate(first);
        return;
    }
    let out = refused_start(&["--database", &db]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another Switchyard process is using this database"),
        "{stderr}"
    );
    terminate(first);
    let again = start(&["--database", &db]);
    terminate(again);
}
