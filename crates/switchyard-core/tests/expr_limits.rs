//! Hostile input: however deep or long, parsing returns quickly, without panicking or overflowing the
//! stack.
// Timing a test needs the clock that core itself may not read.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use switchyard_core::expr::{ErrorKind, Expr, MAX_DEPTH, MAX_LENGTH};

/// Generous for a debug build on a loaded CI machine; a release build takes a few milliseconds.
const QUICK: Duration = Duration::from_secs(2);

#[track_caller]
fn parse_quickly(src: &str) -> Result<Expr, switchyard_core::expr::ExprError> {
    let start = Instant::now();
    let result = Expr::parse(src);
    let took = start.elapsed();
    assert!(took < QUICK, "parsing {} bytes took {took:?}", src.len());
    result
}

#[track_caller]
fn kind_of(src: &str) -> ErrorKind {
    parse_quickly(src).expect_err("should be rejected").kind
}

#[test]
fn a_megabyte_of_open_parentheses_or_brackets_is_rejected_quickly() {
    for c in ["(", "[", "([", "'(", "a == ("] {
        let src = c.repeat((1 << 20) / c.len());
        assert_eq!(kind_of(&src), ErrorKind::TooLong, "{c}");
    }
}

#[test]
fn deep_nesting_within_the_length_limit_is_rejected_before_parsing() {
    for c in ["(", "[", "([", "(a == 1 AND "] {
        let src = c.repeat(MAX_LENGTH / c.len());
        assert_eq!(kind_of(&src), ErrorKind::TooDeep, "{c}");
    }
    let src = format!(
        "{}a == 1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(kind_of(&src), ErrorKind::TooDeep);
}

#[test]
fn maximum_nesting_parses_even_on_a_small_stack() {
    let src = format!(
        "{}a IN [1]{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let expr = Expr::parse(&src).map_err(|e| e.to_string())?;
            let broken = format!(
                "{}a IN [1] AND{}",
                "(".repeat(MAX_DEPTH - 1),
                ")".repeat(MAX_DEPTH - 1)
            );
            let err = Expr::parse(&broken).map(|_| ()).expect_err("broken");
            Ok::<_, String>((expr.to_string(), err.kind))
        })
        .unwrap();
    assert_eq!(
        handle.join().unwrap(),
        Ok(("a IN [1]".to_owned(), ErrorKind::Syntax))
    );
}

#[test]
fn inputs_at_the_length_limit_parse_quickly() {
    let n = MAX_LENGTH;
    let ok = [
        "a == 1 AND ".repeat(n / 11 - 1) + "b == 2",
        "a == 1 OR ".repeat(n / 10 - 1) + "b == 2",
        format!("x IN [{}1]", "1, ".repeat(n / 3 - 4)),
        format!("{} == 1", "a".repeat(n - 5)),
        format!("x == '{}'", "a".repeat(n - 7)),
        format!("a{} == 1", ".b".repeat(n / 2 - 5)),
        format!("a{} == 1", "[0]".repeat(n / 3 - 3)),
        "(a == 1) OR ".repeat(n / 12 - 1) + "(b == 2)",
    ];
    for src in &ok {
        assert!(src.len() <= n);
        let expr = parse_quickly(src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Expr::parse(&expr.to_string()).as_ref(), Ok(&expr));
    }
    let bad = [
        "a == 1 OR ".repeat(n / 10 - 1) + "b ==",
        "'".repeat(n),
        "a not in ".repeat(n / 9),
        "(a == 1 OR ".repeat(MAX_DEPTH - 1) + &"b".repeat(n - 11 * (MAX_DEPTH - 1)),
        "x IN [".to_owned() + &"1,".repeat(n / 2 - 4),
        "a".repeat(n),
        "-".repeat(n),
        "a-".repeat(n / 2),
        "é".repeat(n / 2),
    ];
    for src in &bad {
        assert!(src.len() <= n);
        parse_quickly(src).expect_err("should be rejected");
    }
}

#[test]
fn length_limit_is_inclusive() {
    let fits = format!("x == '{}'", "a".repeat(MAX_LENGTH - 7));
    assert_eq!(fits.len(), MAX_LENGTH);
    assert!(parse_quickly(&fits).is_ok());
    let over = format!("x == '{}'", "a".repeat(MAX_LENGTH - 6));
    assert_eq!(kind_of(&over), ErrorKind::TooLong);
}
