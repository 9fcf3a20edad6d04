//! Expression benchmarks: parsing, and evaluating one TaskQueue expression against a full workspace
//! of workers (Twilio's cap is 15,000 per workspace). Target: the 15,000 evaluations in under 2 ms.
//!
//! `cargo bench -p switchyard-core --bench expr -- --measurement-time 3 --warm-up-time 1`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use switchyard_core::expr::{Expr, Scoped};

const WORKERS: usize = 15_000;
const ISSUE_EXPR: &str = r#"skills HAS "caption" AND level > 2 AND language IN ["en","es"]"#;

/// 15,000 varied worker attribute documents, deterministic (no RNG): a mix of matching and
/// non-matching skills, numeric and numeric-string levels, languages, missing keys and extra
/// attributes.
fn workers() -> Vec<Value> {
    const SKILLS: [&str; 6] = ["caption", "support", "billing", "sales", "voice", "chat"];
    const LANGUAGES: [&str; 5] = ["en", "es", "fr", "de", "pt"];
    (0..WORKERS)
        .map(|i| {
            let skills: Vec<&str> = (0..1 + i % 4)
                .map(|k| SKILLS[(i * 7 + k * 3) % SKILLS.len()])
                .collect();
            let level = if i % 5 == 0 {
                json!(format!("{}", i % 6))
            } else {
                json!(i % 6)
            };
            let mut doc = json!({
                "skills": skills,
                "level": level,
                "language": LANGUAGES[(i * 11) % LANGUAGES.len()],
                "agent_id": format!("agent{i}"),
                "team": format!("team{}", i % 40),
                "region": if i % 2 == 0 { "emea" } else { "amer" },
                "capacity": {"voice": i % 2, "chat": i % 3},
                "certifications": ["gdpr", "pci"],
                "tenure_months": i % 120,
            });
            if i % 13 == 0 {
                if let Some(obj) = doc.as_object_mut() {
                    obj.remove("language");
                }
            }
            doc
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let long = (0..20)
        .map(|i| format!("(skills HAS 'skill{i}' AND level >= {i})"))
        .collect::<Vec<_>>()
        .join(" OR ");
    for (name, src) in [
        ("always_true", "1==1"),
        ("issue_expression", ISSUE_EXPR),
        (
            "target_expression",
            "task.requested_agent == worker.agent_id AND worker.channel.voice.assigned_tasks == 0",
        ),
        ("twenty_clauses", long.as_str()),
    ] {
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_function(name, |b| b.iter(|| Expr::parse(black_box(src))));
    }
    group.finish();
}

fn eval(c: &mut Criterion) {
    let workers = workers();
    let expr = Expr::parse(ISSUE_EXPR).expect("valid expression");
    let matching = workers.iter().filter(|w| expr.eval(*w)).count();
    assert!(
        (500..WORKERS - 500).contains(&matching),
        "the documents should be varied ({matching} match)"
    );

    let mut group = c.benchmark_group("eval_15000_workers");
    group.throughput(Throughput::Elements(WORKERS as u64));
    group.bench_function("issue_expression", |b| {
        b.iter(|| black_box(&workers).iter().filter(|w| expr.eval(*w)).count())
    });

    // The same test written by hand against `serde_json`, for scale: the evaluator should cost about
    // as much as code that knows the expression in advance.
    group.bench_function("handwritten_baseline", |b| {
        b.iter(|| {
            black_box(&workers)
                .iter()
                .filter(|w| {
                    w.get("skills")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|s| s == "caption"))
                        && w.get("level").is_some_and(|l| match l {
                            Value::Number(n) => n.as_f64().is_some_and(|x| x > 2.0),
                            Value::String(s) => s.parse::<f64>().is_ok_and(|x| x > 2.0),
                            _ => false,
                        })
                        && w.get("language").is_some_and(|l| l == "en" || l == "es")
                })
                .count()
        })
    });

    let task = json!({"requested_agent": "agent7", "language": "es", "required_skill": "caption"});
    let target = Expr::parse("task.language == worker.language AND task.required_skill IN worker.skills AND worker.level > 2")
        .expect("valid expression");
    group.bench_function("target_expression_scoped", |b| {
        b.iter(|| {
            black_box(&workers)
                .iter()
                .filter(|w| target.eval(&Scoped::new(&[("task", &task), ("worker", *w)])))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, parse, eval);
criterion_main!(benches);
