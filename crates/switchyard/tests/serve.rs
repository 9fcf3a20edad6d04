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

fn start(args: &[&str]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("SWITCHYARD_ACCOUNT_SID")
        .env_remove("SWITCHYARD_AUTH_TOKEN")
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
