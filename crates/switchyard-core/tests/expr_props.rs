//! Property tests: print → parse is the identity on random trees, no input (string, bytes, or
//! document) makes the parser or the evaluator panic, and evaluation obeys the boolean laws.

use proptest::prelude::*;
use serde_json::{json, Value};
use switchyard_core::expr::{
    probes, walk, Comparison, Expr, Key, Literal, Node, Number, Op, Operand, PathSegment,
};

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "has", "contains", "true", "false", "null",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        // A small vocabulary, so evaluation tests hit present keys.
        prop::sample::select(vec![
            "a", "b", "lang", "level", "skills", "task", "worker", "x_1"
        ])
        .prop_map(String::from),
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "[éüßΩ_][a-zé0-9]{0,3}",
    ]
}

fn key() -> impl Strategy<Value = Key> {
    let first = name().prop_filter("keywords are not keys", |n| {
        !KEYWORDS.iter().any(|k| n.eq_ignore_ascii_case(k))
    });
    let rest = prop::collection::vec(
        prop_oneof![
            // After a dot, keywords are fine (`task.in`).
            prop_oneof![
                name(),
                prop::sample::select(KEYWORDS.to_vec()).prop_map(String::from)
            ]
            .prop_map(|n| PathSegment::Field(n.into())),
            (0usize..5).prop_map(PathSegment::Index),
            any::<usize>().prop_map(PathSegment::Index),
        ],
        0..4,
    );
    (first, rest).prop_map(|(first, rest)| {
        let mut path = vec![PathSegment::Field(first.into())];
        path.extend(rest);
        Key { path: path.into() }
    })
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-5i64..5).prop_map(Number::Int),
        any::<i64>().prop_map(Number::Int),
        (-100.0f64..100.0).prop_map(Number::Float),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Number::Float),
        Just(Number::Float(1e20)),
        Just(Number::Float(5e-324)),
        Just(Number::Float(-0.0)),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "en",
            "es",
            "",
            "caption",
            "3",
            "08",
            "a b",
            "it's",
            "say \"hi\""
        ])
        .prop_map(String::from),
        any::<String>(),
    ]
    .prop_filter("a string literal cannot hold both quote kinds", |s| {
        !(s.contains('\'') && s.contains('"'))
    })
}

fn scalar() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        number().prop_map(Literal::Number),
        string().prop_map(|s| Literal::String(s.into())),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(|items| Literal::List(items.into())),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        key().prop_map(Operand::Key),
        literal().prop_map(Operand::Literal)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(vec![
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Gt,
        Op::Le,
        Op::Ge,
        Op::Contains,
        Op::Has,
        Op::In,
        Op::NotIn,
    ])
}

fn comparison() -> impl Strategy<Value = Node> {
    (operand(), op(), operand())
        .prop_map(|(left, op, right)| Node::Compare(Comparison { left, op, right }))
}

/// Trees in the parser's normal form: AND/OR have two or more children, never a child of their own kind.
fn node() -> impl Strategy<Value = Node> {
    comparison().prop_recursive(4, 24, 4, |inner| {
        let children = prop::collection::vec(inner, 2..4);
        prop_oneof![
            children.clone().prop_map(|c| flatten(c, true)),
            children.prop_map(|c| flatten(c, false))
        ]
    })
}

fn flatten(children: Vec<Node>, or: bool) -> Node {
    let mut flat = Vec::new();
    for child in children {
        match child {
            Node::Or(inner) if or => flat.extend(inner),
            Node::And(inner) if !or => flat.extend(inner),
            other => flat.push(other),
        }
    }
    if or {
        Node::Or(flat)
    } else {
        Node::And(flat)
    }
}

/// Random attribute documents over the same small vocabulary.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(|i| json!(i)),
        (-5.0f64..5.0).prop_map(|x| json!(x)),
        prop::sample::select(vec!["en", "es", "caption", "3", "08", "", "x"])
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["a", "b", "lang", "level", "skills", "in"])
                    .prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "a", "b", "lang", "level", "skills", "task", "worker", "x_1",
        ])
        .prop_map(String::from),
        json_value(),
        0..8,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Any JSON document, not only objects: extreme numbers, any strings and keys, deeper nesting.
fn wild_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |x| x.is_finite())
            .prop_map(|x| json!(x)),
        prop::sample::select(vec![
            json!(i64::MIN),
            json!(u64::MAX),
            json!(f64::MAX),
            json!(-0.0),
            json!("9223372036854775808"),
            json!("-9223372036854775809"),
            json!("1e400"),
            json!("NaN"),
            json!("inf"),
            json!("08"),
            json!("-"),
            json!("."),
            json!("1."),
            json!(".5"),
        ]),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    3 => prop::sample::select(vec!["a", "b", "lang", "level", "skills", "task", "worker", "in", "0"])
                        .prop_map(String::from),
                    1 => any::<String>(),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Pieces of the language plus garbage, to build inputs that get deep into the grammar.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    "'a'",
    "\"b\"",
    "'",
    "\"",
    "==",
    "=",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    ">-",
    "<-",
    "AND",
    "and",
    "OR",
    "or",
    "IN",
    "in",
    "NOT IN",
    "not",
    "HAS",
    "CONTAINS",
    "-",
    "1",
    "0800",
    "-2.5",
    "1.",
    ".5",
    "true",
    "NULL",
    "x",
    "a.b",
    "arr[2]",
    "[99999999999999999999]",
    "first-name",
    ".",
    " ",
    "\n",
    "\t",
    "é",
    "\u{0}",
    "\u{feff}",
    "&&",
    "!",
];

fn tokens() -> Vec<String> {
    let mut all: Vec<String> = TOKENS.iter().map(|t| t.to_string()).collect();
    all.push("9".repeat(400));
    all.push("(".repeat(70));
    all
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens()), 0..40).prop_map(|tokens| tokens.concat())
}

/// Parsing either succeeds with a round-tripping expression, or fails with a sane position.
fn check_total(src: &str, ctx: &Value) -> Result<(), TestCaseError> {
    match Expr::parse(src) {
        Ok(expr) => {
            let printed = expr.to_string();
            let reparsed = Expr::parse(&printed);
            prop_assert_eq!(reparsed.as_ref(), Ok(&expr), "{}", printed);
            let holds = expr.eval(ctx);
            prop_assert!(
                holds || !expr.is_always_true(),
                "{} is always true",
                printed
            );
            if let (true, Some(required)) = (holds, expr.required_values()) {
                let met = required.iter().any(|(key, probe)| {
                    walk(ctx, &key.path).is_some_and(|v| probes(v).contains(probe))
                });
                prop_assert!(
                    met,
                    "{} holds for {} but no required value is met",
                    printed,
                    ctx
                );
            }
        }
        Err(err) => {
            prop_assert!(
                err.offset <= src.len() && src.is_char_boundary(err.offset),
                "{:?}",
                err
            );
            prop_assert!(err.line >= 1 && err.column >= 1);
            let prefix = format!("at line {}, column {}: ", err.line, err.column);
            prop_assert!(err.to_string().starts_with(&prefix));
            prop_assert!(!err.message.is_empty());
            let _ = err.render(src);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_the_identity(tree in node()) {
        let text = tree.to_string();
        let parsed = Expr::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(parsed.root(), &tree, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>(), ctx in document()) {
        check_total(&src, &ctx)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), ctx in document()) {
        // `any::<String>()` has no control characters (line breaks, tabs, NUL); these bytes do.
        check_total(&String::from_utf8_lossy(&bytes), &ctx)?;
    }

    #[test]
    fn arbitrary_chars_never_panic(chars in prop::collection::vec(any::<char>(), 0..256), ctx in document()) {
        check_total(&chars.into_iter().collect::<String>(), &ctx)?;
    }

    #[test]
    fn evaluation_never_panics_on_arbitrary_documents(tree in node(), ctx in wild_json()) {
        check_total(&tree.to_string(), &ctx)?;
    }

    #[test]
    fn token_soup_never_panics(src in token_soup(), ctx in document()) {
        check_total(&src, &ctx)?;
    }

    #[test]
    fn mangled_valid_expressions_never_panic(tree in node(), cut in any::<prop::sample::Index>(), junk in prop::sample::select(tokens()), ctx in document()) {
        // Insert a token at a random place in a valid expression.
        let text = tree.to_string();
        let at = cut.index(text.len() + 1);
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let src = format!("{}{}{}", &text[..at], junk, &text[at..]);
        check_total(&src, &ctx)?;
    }

    #[test]
    fn and_or_follow_boolean_logic(a in node(), b in node(), ctx in document()) {
        let eval = |text: String| Expr::parse(&text).map(|e| e.eval(&ctx));
        let (ea, eb) = (eval(a.to_string()), eval(b.to_string()));
        let (ea, eb) = (ea.map_err(|e| TestCaseError::fail(e.to_string()))?, eb.map_err(|e| TestCaseError::fail(e.to_string()))?);
        let and_ab = eval(format!("({a}) AND ({b})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let and_ba = eval(format!("({b}) AND ({a})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let or_ab = eval(format!("({a}) OR ({b})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let or_ba = eval(format!("({b}) OR ({a})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(and_ab, ea && eb);
        prop_assert_eq!(and_ab, and_ba);
        prop_assert_eq!(or_ab, ea || eb);
        prop_assert_eq!(or_ab, or_ba);
    }

    #[test]
    fn negated_operators_are_complements_on_their_domain(left in operand(), right in operand(), ctx in document()) {
        let eval = |op: &str| {
            Expr::parse(&format!("{left} {op} {right}")).map(|e| e.eval(&ctx)).map_err(|e| TestCaseError::fail(e.to_string()))
        };
        let (eq, ne) = (eval("==")?, eval("!=")?);
        let (is_in, not_in) = (eval("IN")?, eval("NOT IN")?);
        let (lt, ge, gt, le) = (eval("<")?, eval(">=")?, eval(">")?, eval("<=")?);
        // `==` and `!=` never both hold; `IN` and `NOT IN` never both hold.
        prop_assert!(!(eq && ne));
        prop_assert!(!(is_in && not_in));
        // An order, when there is one, is total and consistent.
        prop_assert!(!(lt && ge));
        prop_assert!(!(gt && le));
        prop_assert!(!(lt && gt));
        prop_assert_eq!(lt || ge, gt || le, "both or neither side is orderable");
        // Two literal scalars are always comparable for equality.
        if let (Operand::Literal(l), Operand::Literal(r)) = (&left, &right) {
            if !matches!(l, Literal::List(_)) && !matches!(r, Literal::List(_)) {
                prop_assert!(eq ^ ne);
            }
        }
    }

    #[test]
    fn in_and_has_are_mirror_images(value in scalar(), list in prop::collection::vec(scalar(), 0..4)) {
        let list = Literal::List(list.into());
        let doc = Value::Null;
        let is_in = Expr::parse(&format!("{value} IN {list}")).unwrap().eval(&doc);
        let has = Expr::parse(&format!("{list} HAS {value}")).unwrap().eval(&doc);
        let not_in = Expr::parse(&format!("{value} NOT IN {list}")).unwrap().eval(&doc);
        prop_assert_eq!(is_in, has);
        prop_assert_eq!(not_in, !is_in);
    }

    #[test]
    fn required_values_hold_whenever_the_expression_does(
        field in prop::sample::select(vec!["a", "lang", "level", "skills"]),
        op in prop::sample::select(vec!["==", "HAS", "IN"]),
        literal in prop_oneof![
            literal().prop_map(|l| l.to_string()),
            // Literals near the documents' values, so that many cases hold.
            prop::sample::select(vec![
                "3", "'3'", "3.0", "8", "'08'", "'es'", "true", "0", "-0.0", "['es', 3]", "[8, 'x']",
            ]).prop_map(String::from),
        ],
        value in prop_oneof![
            json_value(),
            prop::sample::select(vec![
                json!("3"), json!(3), json!(3.0), json!("08"), json!(8), json!(-0.0), json!(0),
                json!(true), json!(["es", "3"]), json!([8.0]),
            ]),
        ],
        other in node(),
        and in any::<bool>(),
        flip in any::<bool>(),
        ctx in document(),
    ) {
        let compare = if flip {
            format!("{literal} {op} {field}")
        } else {
            format!("{field} {op} {literal}")
        };
        let joined = format!("({compare}) {} ({other})", if and { "AND" } else { "OR" });
        let mut ctx = ctx;
        ctx[field] = value;
        for src in [compare, joined] {
            let expr = Expr::parse(&src).unwrap();
            if let (true, Some(required)) = (expr.eval(&ctx), expr.required_values()) {
                let met = required.iter().any(|(key, probe)| {
                    walk(&ctx, &key.path).is_some_and(|v| probes(v).contains(probe))
                });
                prop_assert!(met, "{} holds for {} but no required value is met: {:?}", src, ctx, required);
            }
        }
    }
}
