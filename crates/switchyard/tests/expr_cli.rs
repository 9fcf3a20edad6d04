//! `switchyard expr check|eval`, run as a real process.

use std::process::Command;

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

#[track_caller]
fn switchyard(args: &[&str]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .output()
        .expect("run the switchyard binary");
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
