//! `switchyard expr check|eval`, run as a real process.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

#[track_caller]
fn switchyard(args: &[&str]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the switchyard binary");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs the binary with `stdin` as its standard input.
#[track_caller]
fn switchyard_with_stdin(args: &[&str], stdin: &str) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the switchyard binary");
    let mut pipe = child.stdin.take().expect("piped stdin");
    pipe.write_all(stdin.as_bytes()).expect("write stdin");
    drop(pipe);
    let out = child
        .wait_with_output()
        .expect("wait for the switchyard binary");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

#[track_caller]
fn assert_outcome(args: &[&str], code: i32, stdout: &str, stderr: &str) {
    let out = switchyard(args);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(code), stdout, stderr),
        "switchyard {args:?}"
    );
}

#[test]
fn check_prints_the_canonical_form() {
    assert_outcome(
        &[
            "expr",
            "check",
            "(skills has 'support') and (languages >- \"english\") or level=0800",
        ],
        0,
        "skills HAS 'support' AND languages HAS 'english' OR level == 800\n",
        "",
    );
    assert_outcome(&["expr", "check", "1==1"], 0, "1 == 1\n", "");
}

#[test]
fn check_accepts_an_expression_starting_with_a_hyphen() {
    assert_outcome(&["expr", "check", "-1 < level"], 0, "-1 < level\n", "");
}

#[test]
fn check_reports_a_parse_error_with_its_position() {
    assert_outcome(
        &["expr", "check", "language == "],
        2,
        "",
        "error: at line 1, column 13: expected a quoted string, a number, true, false, null, a list or a key \
         after '==', found the end of the expression\n  |\n1 | language == \n  |             ^\n",
    );
}

#[test]
fn check_rejects_hyphenated_keys() {
    assert_outcome(
        &["expr", "check", "first-name == 'x'"],
        2,
        "",
        "error: at line 1, column 6: hyphens are not allowed in keys ('first-name'); rename the attribute, \
         or quote the text if it is a value\n  |\n1 | first-name == 'x'\n  |      ^\n",
    );
}

#[test]
fn eval_prints_true_or_false() {
    let attributes = r#"{"skills": ["caption", "support"], "level": "3", "language": "es"}"#;
    let expr = "skills HAS 'caption' AND level > 2 AND language IN ['en', 'es']";
    assert_outcome(
        &["expr", "eval", expr, "--attributes", attributes],
        0,
        "true\n",
        "",
    );
    let expr = "skills HAS 'caption' AND level > 3";
    assert_outcome(
        &["expr", "eval", expr, "--attributes", attributes],
        0,
        "false\n",
        "",
    );
}

#[test]
fn eval_resolves_target_expressions_in_task_and_worker_documents() {
    let attributes = r#"{"task": {"requested_agent": "alice", "language": "fr"},
                         "worker": {"agent_id": "alice", "languages": ["en", "fr"]}}"#;
    let expr = "task.requested_agent == worker.agent_id AND task.language IN worker.languages";
    assert_outcome(
        &["expr", "eval", expr, "--attributes", attributes],
        0,
        "true\n",
        "",
    );
    let attributes = r#"{"task": {"requested_agent": "bob"}, "worker": {"agent_id": "alice"}}"#;
    assert_outcome(
        &["expr", "eval", expr, "--attributes", attributes],
        0,
        "false\n",
        "",
    );
}

#[test]
fn eval_without_attributes_uses_an_empty_document() {
    assert_outcome(&["expr", "eval", "1 == 1"], 0, "true\n", "");
    assert_outcome(&["expr", "eval", "missing == null"], 0, "true\n", "");
    assert_outcome(&["expr", "eval", "missing > 1"], 0, "false\n", "");
}

#[test]
fn eval_rejects_an_invalid_expression() {
    assert_outcome(
        &["expr", "eval", "a == 'open", "--attributes", "{}"],
        2,
        "",
        "error: at line 1, column 6: unterminated string: the quote ' is never closed\n  |\n1 | a == 'open\n  |      ^\n",
    );
}

#[test]
fn eval_rejects_invalid_json() {
    assert_outcome(
        &["expr", "eval", "a == 1", "--attributes", "{\"a\": }"],
        2,
        "",
        "error: invalid --attributes JSON: expected value at line 1 column 7\n",
    );
}

/// Writes `contents` to `name` in `dir` and returns `@<path>`, the `--attributes` form for a file.
fn attributes_file(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write the attributes file");
    format!("@{}", path.display())
}

#[test]
fn eval_reads_attributes_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = attributes_file(
        dir.path(),
        "task.json",
        "{\"task\": {\"language\": \"es\"},\n \"worker\": {\"languages\": [\"en\", \"es\"]}}\n",
    );
    let expr = "task.language IN worker.languages";
    assert_outcome(
        &["expr", "eval", expr, "--attributes", &file],
        0,
        "true\n",
        "",
    );
    assert_outcome(
        &[
            "expr",
            "eval",
            "task.language == 'fr'",
            "--attributes",
            &file,
        ],
        0,
        "false\n",
        "",
    );
}

#[test]
fn eval_reports_a_missing_attributes_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.json");
    let arg = format!("@{}", path.display());
    let out = switchyard(&["expr", "eval", "a == 1", "--attributes", &arg]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(2), ""));
    let want = format!(
        "error: cannot read --attributes file '{}': ",
        path.display()
    );
    assert!(out.stderr.starts_with(&want), "{}", out.stderr);
    assert!(out.stderr.ends_with("(os error 2)\n"), "{}", out.stderr);
}

#[test]
fn eval_reports_invalid_json_in_a_file_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = attributes_file(dir.path(), "broken.json", "{\n  \"a\": 1,\n  \"b\": }\n");
    assert_outcome(
        &["expr", "eval", "a == 1", "--attributes", &file],
        2,
        "",
        &format!(
            "error: invalid --attributes JSON in '{}': expected value at line 3 column 8\n",
            &file[1..]
        ),
    );
}

#[test]
fn eval_rejects_attributes_that_are_not_an_object() {
    for (json, found) in [
        ("[1, 2]", "an array"),
        ("42", "a number"),
        ("\"a\"", "a string"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        assert_outcome(
            &["expr", "eval", "a == 1", "--attributes", json],
            2,
            "",
            &format!("error: --attributes must be a JSON object, found {found}\n"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = attributes_file(dir.path(), "list.json", "[{\"a\": 1}]");
    assert_outcome(
        &["expr", "eval", "a == 1", "--attributes", &file],
        2,
        "",
        &format!(
            "error: --attributes in '{}' must be a JSON object, found an array\n",
            &file[1..]
        ),
    );
}

#[test]
fn check_reads_the_expression_from_stdin() {
    let out = switchyard_with_stdin(
        &["expr", "check", "-"],
        "skills has 'support'\n  and level>2\n",
    );
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "skills HAS 'support' AND level > 2\n", "")
    );
}

#[test]
fn check_reports_a_parse_error_in_stdin_with_its_position() {
    let out = switchyard_with_stdin(&["expr", "check", "-"], "a == 1 AND\nb == \n");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            Some(2),
            "",
            "error: at line 2, column 6: expected a quoted string, a number, true, false, null, a list or a key \
             after '==', found the end of the expression\n  |\n2 | b == \n  |      ^\n"
        )
    );
}

#[test]
fn eval_reads_the_expression_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let file = attributes_file(dir.path(), "a.json", r#"{"level": 3}"#);
    let out = switchyard_with_stdin(&["expr", "eval", "-", "--attributes", &file], "level > 2\n");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "true\n", "")
    );
}

#[test]
fn usage_errors_come_from_clap() {
    let out = switchyard(&["expr", "check"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("error: the following required arguments were not provided:"),
        "{}",
        out.stderr
    );
}
