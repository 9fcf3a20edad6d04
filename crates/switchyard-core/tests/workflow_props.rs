//! Property tests for `WorkflowConfig::parse`, which reads untrusted documents from the API: no input
//! makes it panic, every rejection is a user-facing message, and valid documents parse to exactly what
//! they say (and parse again to the same thing when printed back).

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use switchyard_core::expr::Expr;
use switchyard_core::sid::TaskQueueSid;
use switchyard_core::workflow::{
    Filter, KnownWorker, OrderBy, Target, WorkflowConfig, MAX_CONFIGURATION_LEN,
};

const QUEUES: &[&str] = &[
    "WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "WQbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "WQ0123456789ABCDEFabcdef0123456789",
];

const VALID_EXPRESSIONS: &[&str] = &[
    "1==1",
    "type == 'ticket' AND customer_value == 'Gold'",
    "task.requested_agent==worker.agent_id",
    "workers.available == 0",
    "skills HAS 'support' OR level >= 3",
    "task.language IN worker.languages",
    "(a == 1 OR b != 'x') AND c NOT IN [1, 2.5, 'z', null, true]",
    "name CONTAINS \"it's\"",
    "arr[2] <- ['en', 'es']",
];

/// Strings that sit where the parser looks for queues, expressions, orderings and task attributes:
/// valid ones, near misses and junk.
const STRINGS: &[&str] = &[
    "WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "WQgggggggggggggggggggggggggggggggg",
    "WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaéa",
    "WWaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "WQ",
    "W",
    "é",
    "",
    " ",
    "1==1",
    "a ==",
    "a == 'open",
    "first-name == 'x'",
    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a == 1",
    "worker.level DESC, worker.tenure",
    "worker.level desc",
    "worker.level ASC extra",
    "worker.level SIDEWAYS",
    "worker.",
    "worker",
    "level DESC",
    ",",
    "worker.a,,worker.b",
    "task.agent",
    "task.",
    "task",
    "agent",
    "10",
    " 300 ",
    "+5",
    "-1",
    "0",
    "1.5",
    "1e3",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
];

const KEYS: &[&str] = &[
    "task_routing",
    "filters",
    "default_filter",
    "filter_friendly_name",
    "friendly_name",
    "expression",
    "targets",
    "queue",
    "priority",
    "timeout",
    "order_by",
    "skip_if",
    "known_worker_sid",
    "known_worker_friendly_name",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(STRINGS).prop_map(String::from),
        1 => any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..400).prop_map(|i| json!(i)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |x| x.is_finite())
            .prop_map(|x| json!(x)),
        prop::sample::select(vec![
            json!(0),
            json!(-0.0),
            json!(2_147_483_647),
            json!(2_147_483_648_i64),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(10.0),
        ]),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(KEYS).prop_map(String::from),
        1 => "[a-z_]{0,8}",
        1 => any::<String>(),
    ]
}

/// Any JSON value, with object keys mostly drawn from the configuration's own vocabulary.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object holding each of `fields` with its probability (each value from its own strategy), and
/// now and then one stray key.
fn object_of(fields: Vec<(&'static str, f64, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let fields: Vec<_> = fields
        .into_iter()
        .map(|(k, p, v)| prop::option::weighted(p, v.prop_map(move |v| (k.to_owned(), v))))
        .collect();
    let stray = prop::option::weighted(0.03, (key(), json_value()));
    (fields, stray)
        .prop_map(|(fields, stray)| {
            let mut map: Map<String, Value> = fields.into_iter().flatten().collect();
            if let Some((k, v)) = stray {
                map.insert(k, v);
            }
            Value::Object(map)
        })
        .boxed()
}

/// Mostly values of the right kind for the field, sometimes null, sometimes anything at all.
fn field(good: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![16 => good, 1 => Just(Value::Null), 1 => json_value()].boxed()
}

/// A string field: mostly from `likely`, otherwise any of the test strings.
fn string_field(likely: &'static [&'static str]) -> BoxedStrategy<Value> {
    field(prop_oneof![
        3 => prop::sample::select(likely).prop_map(|s| json!(s)),
        1 => text().prop_map(Value::String),
    ])
}

fn integer_field() -> BoxedStrategy<Value> {
    field(prop_oneof![number(), text().prop_map(Value::String)])
}

const ORDER_BYS: &[&str] = &[
    "worker.level DESC, worker.tenure",
    "worker.a asc",
    "worker.x.y",
];
const TASK_ATTRIBUTES: &[&str] = &["task.agent", "task.a.b", "task.é"];

fn target_like() -> BoxedStrategy<Value> {
    prop_oneof![
        12 => object_of(vec![
            ("queue", 0.8, string_field(QUEUES)),
            ("expression", 0.4, string_field(VALID_EXPRESSIONS)),
            ("priority", 0.3, integer_field()),
            ("timeout", 0.3, integer_field()),
            ("order_by", 0.3, string_field(ORDER_BYS)),
            ("skip_if", 0.2, string_field(VALID_EXPRESSIONS)),
            ("known_worker_sid", 0.15, string_field(TASK_ATTRIBUTES)),
            ("known_worker_friendly_name", 0.15, string_field(TASK_ATTRIBUTES)),
        ]),
        1 => json_value(),
    ]
    .boxed()
}

fn filter_like() -> BoxedStrategy<Value> {
    let targets = prop::collection::vec(target_like(), 0..4).prop_map(Value::Array);
    prop_oneof![
        12 => object_of(vec![
            ("filter_friendly_name", 0.5, field(any::<String>().prop_map(Value::String))),
            ("friendly_name", 0.2, field(any::<String>().prop_map(Value::String))),
            ("expression", 0.9, string_field(VALID_EXPRESSIONS)),
            ("targets", 0.9, field(targets)),
        ]),
        1 => json_value(),
    ]
    .boxed()
}

/// Documents shaped like configurations, with every field sometimes wrong, missing or extra.
fn config_like() -> BoxedStrategy<Value> {
    let filters = prop::collection::vec(filter_like(), 0..4).prop_map(Value::Array);
    let routing = object_of(vec![
        ("filters", 0.8, field(filters)),
        ("default_filter", 0.7, field(target_like())),
    ]);
    prop_oneof![
        12 => object_of(vec![("task_routing", 0.95, field(routing))]),
        1 => json_value(),
    ]
    .boxed()
}

/// Whatever the input, `parse` returns: a configuration that keeps its invariants, or a message.
fn check_total(text: &str) -> Result<(), TestCaseError> {
    match WorkflowConfig::parse(text) {
        Ok(config) => {
            for filter in &config.filters {
                prop_assert!(!filter.targets.is_empty());
                prop_assert!(filter.targets[0].queue.is_some());
                for target in &filter.targets {
                    check_target(target)?;
                }
            }
            if let Some(target) = &config.default_filter {
                prop_assert!(target.queue.is_some());
                check_target(target)?;
            }
        }
        Err(err) => {
            prop_assert!(!err.0.is_empty());
            prop_assert_eq!(
                err.to_string(),
                format!("Invalid workflow configuration: {}", err.0)
            );
        }
    }
    Ok(())
}

fn check_target(target: &Target) -> Result<(), TestCaseError> {
    prop_assert!(target
        .priority
        .is_none_or(|p| (0..=i64::from(i32::MAX)).contains(&p)));
    prop_assert!(target.timeout.is_none_or(|t| t > 0));
    for clause in &target.order_by {
        prop_assert!(!clause.attribute.is_empty());
    }
    if let Some(KnownWorker::Sid(a) | KnownWorker::FriendlyName(a)) = &target.known_worker {
        prop_assert!(!a.is_empty());
    }
    Ok(())
}

// ---- Valid configurations, generated together with what they must parse to. ----

fn expression() -> impl Strategy<Value = (String, Expr)> {
    prop::sample::select(VALID_EXPRESSIONS).prop_map(|s| {
        let expr = Expr::parse(s).unwrap_or_else(|e| panic!("{s:?} is not valid: {e}"));
        (s.to_owned(), expr)
    })
}

/// Puts `value` under `key`; `None` becomes a missing key or an explicit null.
fn set(map: &mut Map<String, Value>, key: &str, value: Option<Value>, null: bool) {
    match value {
        Some(v) => {
            map.insert(key.to_owned(), v);
        }
        None if null => {
            map.insert(key.to_owned(), Value::Null);
        }
        None => {}
    }
}

/// An integer written as a JSON number, a string, or a string with spaces around it.
fn written_integer(n: i64, style: u8) -> Value {
    match style % 3 {
        0 => json!(n),
        1 => json!(n.to_string()),
        _ => json!(format!(" {n} ")),
    }
}

fn order_by_clause() -> impl Strategy<Value = (String, OrderBy)> {
    (
        "[a-z_][a-z0-9_.]{0,8}",
        prop::sample::select(vec!["", " ASC", " asc", " Desc", " DESC"]),
        prop::sample::select(vec!["", " ", "\t", "  "]),
    )
        .prop_map(|(attribute, dir, pad)| {
            let text = format!("{pad}worker.{attribute}{dir}{pad}");
            let descending = dir.eq_ignore_ascii_case(" desc");
            (
                text,
                OrderBy {
                    attribute,
                    descending,
                },
            )
        })
}

fn valid_target(needs_queue: bool) -> impl Strategy<Value = (Value, Target)> {
    let queue = if needs_queue {
        prop::sample::select(QUEUES).prop_map(Some).boxed()
    } else {
        prop::option::of(prop::sample::select(QUEUES)).boxed()
    };
    (
        (
            queue,
            prop::option::of(expression()),
            prop::option::of((0..=i64::from(i32::MAX), any::<u8>())),
            prop::option::of((1..=i64::MAX, any::<u8>())),
        ),
        (
            prop::collection::vec(order_by_clause(), 0..4),
            prop::option::of(expression()),
            prop::option::of((
                any::<bool>(),
                any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
            )),
            any::<[bool; 7]>(),
        ),
    )
        .prop_map(
            |((queue, expr, priority, timeout), (order_by, skip_if, known, nulls))| {
                let mut map = Map::new();
                set(&mut map, "queue", queue.map(|q| json!(q)), nulls[0]);
                set(
                    &mut map,
                    "expression",
                    expr.as_ref().map(|(s, _)| json!(s)),
                    nulls[1],
                );
                set(
                    &mut map,
                    "priority",
                    priority.map(|(p, style)| written_integer(p, style)),
                    nulls[2],
                );
                set(
                    &mut map,
                    "timeout",
                    timeout.map(|(t, style)| written_integer(t, style)),
                    nulls[3],
                );
                let order_text: Vec<&str> = order_by.iter().map(|(t, _)| t.as_str()).collect();
                let order_text = (!order_text.is_empty()).then(|| json!(order_text.join(",")));
                set(&mut map, "order_by", order_text, nulls[4]);
                set(
                    &mut map,
                    "skip_if",
                    skip_if.as_ref().map(|(s, _)| json!(s)),
                    nulls[5],
                );
                let known_worker = known.map(|(by_sid, attribute)| {
                    let key = if by_sid {
                        "known_worker_sid"
                    } else {
                        "known_worker_friendly_name"
                    };
                    map.insert(key.to_owned(), json!(format!("task.{attribute}")));
                    if by_sid {
                        KnownWorker::Sid(attribute)
                    } else {
                        KnownWorker::FriendlyName(attribute)
                    }
                });
                if known_worker.is_none() && nulls[6] {
                    map.insert("known_worker_sid".to_owned(), Value::Null);
                }
                let target = Target {
                    queue: queue.map(|q| q.parse::<TaskQueueSid>().unwrap()),
                    expression: expr.map(|(_, e)| e),
                    priority: priority.map(|(p, _)| p),
                    timeout: timeout.map(|(t, _)| t),
                    order_by: order_by.into_iter().map(|(_, o)| o).collect(),
                    skip_if: skip_if.map(|(_, e)| e),
                    known_worker,
                };
                (Value::Object(map), target)
            },
        )
}

fn valid_filter() -> impl Strategy<Value = (Value, Filter)> {
    (
        prop::option::of(any::<String>()),
        0u8..4,
        expression(),
        valid_target(true),
        prop::collection::vec(valid_target(false), 0..3),
    )
        .prop_map(|(name, label_style, (expr_text, expr), first, rest)| {
            let mut map = Map::new();
            // Both labels may be present; `filter_friendly_name` wins over the legacy `friendly_name`.
            match (&name, label_style) {
                (Some(n), 0) => {
                    map.insert("filter_friendly_name".into(), json!(n));
                }
                (Some(n), 1) => {
                    map.insert("friendly_name".into(), json!(n));
                }
                (Some(n), 2) => {
                    map.insert("filter_friendly_name".into(), json!(n));
                    map.insert("friendly_name".into(), json!("ignored"));
                }
                (Some(n), _) => {
                    map.insert("filter_friendly_name".into(), Value::Null);
                    map.insert("friendly_name".into(), json!(n));
                }
                (None, _) => {}
            }
            map.insert("expression".into(), json!(expr_text));
            let (docs, targets): (Vec<Value>, Vec<Target>) =
                std::iter::once(first).chain(rest).unzip();
            map.insert("targets".into(), Value::Array(docs));
            let filter = Filter {
                friendly_name: name,
                expression: expr,
                targets,
            };
            (Value::Object(map), filter)
        })
}

fn valid_config() -> impl Strategy<Value = (Value, WorkflowConfig)> {
    (
        prop::collection::vec(valid_filter(), 0..4),
        prop::option::of(valid_target(true)),
        any::<[bool; 2]>(),
    )
        .prop_map(|(filters, default_filter, nulls)| {
            let (docs, filters): (Vec<Value>, Vec<Filter>) = filters.into_iter().unzip();
            let mut routing = Map::new();
            let docs = (!docs.is_empty() || nulls[0]).then_some(Value::Array(docs));
            set(&mut routing, "filters", docs, false);
            let (default_doc, default_filter) = default_filter.unzip();
            set(&mut routing, "default_filter", default_doc, nulls[1]);
            let doc = json!({ "task_routing": routing });
            let config = WorkflowConfig {
                filters,
                default_filter,
            };
            (doc, config)
        })
}

/// The canonical document for a configuration (the core has no printer of its own).
fn print(config: &WorkflowConfig) -> Value {
    let target = |t: &Target| {
        let mut map = Map::new();
        if let Some(q) = &t.queue {
            map.insert("queue".into(), json!(q.to_string()));
        }
        if let Some(e) = &t.expression {
            map.insert("expression".into(), json!(e.to_string()));
        }
        if let Some(p) = t.priority {
            map.insert("priority".into(), json!(p));
        }
        if let Some(s) = t.timeout {
            map.insert("timeout".into(), json!(s));
        }
        if !t.order_by.is_empty() {
            let clauses: Vec<String> = t
                .order_by
                .iter()
                .map(|o| {
                    let dir = if o.descending { "DESC" } else { "ASC" };
                    format!("worker.{} {dir}", o.attribute)
                })
                .collect();
            map.insert("order_by".into(), json!(clauses.join(", ")));
        }
        if let Some(e) = &t.skip_if {
            map.insert("skip_if".into(), json!(e.to_string()));
        }
        match &t.known_worker {
            Some(KnownWorker::Sid(a)) => {
                map.insert("known_worker_sid".into(), json!(format!("task.{a}")));
            }
            Some(KnownWorker::FriendlyName(a)) => {
                map.insert(
                    "known_worker_friendly_name".into(),
                    json!(format!("task.{a}")),
                );
            }
            None => {}
        }
        Value::Object(map)
    };
    let filters: Vec<Value> = config
        .filters
        .iter()
        .map(|f| {
            let mut map = Map::new();
            if let Some(n) = &f.friendly_name {
                map.insert("filter_friendly_name".into(), json!(n));
            }
            map.insert("expression".into(), json!(f.expression.to_string()));
            map.insert(
                "targets".into(),
                Value::Array(f.targets.iter().map(target).collect()),
            );
            Value::Object(map)
        })
        .collect();
    let mut routing = Map::new();
    routing.insert("filters".into(), Value::Array(filters));
    if let Some(t) = &config.default_filter {
        routing.insert("default_filter".into(), target(t));
    }
    json!({ "task_routing": routing })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check_total(&text)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_total(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_json_never_panics(doc in json_value()) {
        check_total(&doc.to_string())?;
        check_total(&json!({ "task_routing": doc }).to_string())?;
    }

    #[test]
    fn configuration_shaped_json_never_panics(doc in config_like()) {
        check_total(&doc.to_string())?;
    }

    #[test]
    fn mangled_valid_documents_never_panic(
        (doc, _) in valid_config(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..4,
        junk in prop::sample::select(vec!["", "{", "}", "[", "]", ",", ":", "\"", "null", "\\", "1e999", "é"]),
    ) {
        let text = doc.to_string();
        let at = at.index(text.len() + 1);
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let end = (at..=text.len()).find(|&i| i >= at + cut && text.is_char_boundary(i)).unwrap_or(text.len());
        check_total(&format!("{}{}{}", &text[..at], junk, &text[end..]))?;
    }

    #[test]
    fn valid_documents_parse_to_what_they_say((doc, want) in valid_config(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&doc).unwrap() } else { doc.to_string() };
        let got = WorkflowConfig::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&got, &want, "{}", text);

        let mut queues: Vec<&TaskQueueSid> = Vec::new();
        let targets = want.filters.iter().flat_map(|f| &f.targets).chain(&want.default_filter);
        for q in targets.filter_map(|t| t.queue.as_ref()) {
            if !queues.contains(&q) {
                queues.push(q);
            }
        }
        prop_assert_eq!(got.queue_sids(), queues);
    }

    #[test]
    fn printed_configurations_parse_back_to_themselves((doc, _) in valid_config()) {
        let config = WorkflowConfig::parse(&doc.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let printed = print(&config).to_string();
        let reparsed = WorkflowConfig::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(reparsed, config, "{}", printed);
    }
}

#[test]
fn documents_over_the_size_limit_are_rejected_before_parsing() {
    let padding = " ".repeat(MAX_CONFIGURATION_LEN);
    let doc = format!(r#"{{"task_routing":{{}}}}{padding}"#);
    let err = WorkflowConfig::parse(&doc).unwrap_err();
    assert!(err.0.contains("bytes are allowed"), "{err}");
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{\"task_routing\":"] {
        let doc = open.repeat(50_000);
        let err = WorkflowConfig::parse(&doc).unwrap_err();
        assert!(err.0.starts_with("not valid JSON"), "{err}");
    }
}
