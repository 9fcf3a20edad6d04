use std::time::Instant;
use switchyard_core::expr::Expr;
#[test]
fn timing() {
    let n = 64 * 1024;
    let cases: Vec<(&str, String)> = vec![
        ("1MB parens", "(".repeat(1 << 20)),
        ("1MB brackets", "[".repeat(1 << 20)),
        ("64K parens", "(".repeat(n)),
        (
            "63 parens ok",
            format!("{}a == 1{}", "(".repeat(63), ")".repeat(63)),
        ),
        (
            "64 parens ok",
            format!("{}a == 1{}", "(".repeat(64), ")".repeat(64)),
        ),
        (
            "64 parens garbage",
            format!("{}a == 1 AND{}", "(".repeat(64), ")".repeat(64)),
        ),
        ("flat AND", "a == 1 AND ".repeat(n / 11) + "b == 2"),
        ("flat OR bad end", "a == 1 OR ".repeat(n / 10 - 1) + "b =="),
        ("long list", format!("x IN [{}1]", "1, ".repeat(n / 3 - 4))),
        ("long key", format!("{} == 1", "a".repeat(n - 5))),
        ("long string", format!("x == '{}'", "a".repeat(n - 7))),
        ("quotes", "'".repeat(n)),
        ("alt", "('a' == ".repeat(n / 9)),
        ("alt2", "(a == 1 OR ".repeat(60) + &"b".repeat(n - 700)),
        ("dots", format!("a{} == 1", ".b".repeat(n / 2 - 5))),
        ("idx", format!("a{} == 1", "[0]".repeat(n / 3 - 3))),
        ("not", "a not in ".repeat(n / 9)),
    ];
    for (name, src) in cases {
        let t = Instant::now();
        let r = Expr::parse(&src);
        let dt = t.elapsed();
        let msg = match &r {
            Ok(e) => format!("OK {}", e.to_string().chars().take(60).collect::<String>()),
            Err(e) => e.to_string().chars().take(150).collect(),
        };
        println!(
            "{name:20} {:>8.3} ms  len={} {msg}",
            dt.as_secs_f64() * 1e3,
            src.len()
        );
    }
}
