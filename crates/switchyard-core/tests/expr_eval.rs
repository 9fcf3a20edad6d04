//! Evaluation semantics: every operator against every kind of operand, missing keys, type mismatches,
//! numeric coercion, case-sensitivity, precedence, and the lookup contexts.

use serde_json::{json, Value};
use switchyard_core::expr::{walk, Expr, Lookup, PathSegment, Scoped};

fn doc() -> Value {
    json!({
        "name": "Alice",
        "lang": "en",
        "languages": ["en", "es"],
        "skills": ["caption", "support"],
        "level": 3,
        "level_s": "6",
        "ratio": 1.0,
        "hour": "08",
        "big": 9007199254740993u64,
        "huge": 18446744073709551615u64,
        "neg": -5,
        "vip": true,
        "none": null,
        "obj": {"param": "banana", "nested": {"x": 1}},
        "arr": [10, 20, 30],
        "mixed": [1, "2", true, null, [1], {"a": 1}],
        "empty": [],
        "empty_s": "",
        "text": "Hello World",
        "num_list": [1, 2.5, 3],
        "str_nums": ["1", "2"],
        "date": "2024-05-01",
        "padded": " 7",
        "sci": "1e3"
    })
}

/// Evaluates each `(expression, expected)` against [`doc`], and reports every mismatch at once.
#[track_caller]
fn check_all(cases: &[(&str, bool)]) {
    let doc = doc();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|&(src, expected)| {
            let expr = Expr::parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            let got = expr.eval(&doc);
            // The canonical text evaluates the same way.
            let reparsed = Expr::parse(&expr.to_string()).unwrap().eval(&doc);
            (got != expected || reparsed != expected)
                .then(|| format!("{src:?}: expected {expected}, got {got}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn literals_compare_with_literals() {
    check_all(&[
        ("'a' == 'a'", true),
        ("\"a\" == 'a'", true),
        ("'a' == 'A'", false),
        ("1 == 1", true),
        ("1 == 1.0", true),
        ("0800 == 800", true),
        ("-1 < 0", true),
        ("1.5 > 1", true),
        ("true == true", true),
        ("true == false", false),
        ("null == null", true),
        ("1 IN [1, 2]", true),
        ("'es' IN ['en', \"es\", 3]", true),
        ("3 IN ['en', 'es', 3]", true),
        ("4 IN ['en', 'es', 3]", false),
        ("1==1", true),
    ]);
}

#[test]
fn keys_resolve_nested_fields_and_indexes() {
    check_all(&[
        ("name == 'Alice'", true),
        ("obj.param == 'banana'", true),
        ("obj.nested.x == 1", true),
        ("arr[0] == 10", true),
        ("arr[2] == 30", true),
        ("arr[0] < arr[1]", true),
        ("mixed[4][0] == 1", true),
        ("mixed[5].a == 1", true),
        // Out of bounds, a field of an array, an index into an object, a field of a string: missing.
        ("arr[3] == null", true),
        ("arr.x == null", true),
        ("obj[0] == null", true),
        ("name.first == null", true),
        ("obj.nested.x.y == null", true),
        // Key against key.
        ("lang == languages[0]", true),
        ("lang == languages[1]", false),
        ("lang IN languages", true),
    ]);
}

#[test]
fn equality() {
    check_all(&[
        // Strings are case-sensitive.
        ("name == 'alice'", false),
        ("name != 'alice'", true),
        ("name != 'Alice'", false),
        // Numbers compare numerically; a number equals a numeric string with the same value.
        ("level == 3", true),
        ("level == 3.0", true),
        ("level = 3", true),
        ("level != 3", false),
        ("level != 4", true),
        ("level == '3'", true),
        ("level == '3.0'", true),
        ("level == '03'", true),
        ("level_s == 6", true),
        ("level_s == 6.0", true),
        ("hour == 8", true),
        ("ratio == 1", true),
        // Two strings compare as strings, even numeric ones.
        ("level_s == '6'", true),
        ("level_s == '6.0'", false),
        ("hour == '8'", false),
        // Only number-literal strings coerce.
        ("padded == 7", false),
        ("sci == 1000", false),
        ("name == 0", false),
        // Large integers compare exactly.
        ("big == 9007199254740993", true),
        ("big == 9007199254740992", false),
        ("big != 9007199254740992", true),
        ("huge == 18446744073709551615.0", true),
        // Booleans equal booleans only.
        ("vip == true", true),
        ("vip == TRUE", true),
        ("vip == 'true'", false),
        ("vip == 1", false),
        ("vip != false", true),
        ("vip != 'true'", true),
        // Arrays and objects are not scalars: == and != are both false.
        ("languages == languages", false),
        ("languages != languages", false),
        ("languages == 'en'", false),
        ("languages != 'en'", false),
        ("obj == obj", false),
        ("obj != 1", false),
        ("[1] == [1]", false),
        ("empty_s == ''", true),
    ]);
}

#[test]
fn null_and_missing_keys() {
    check_all(&[
        ("missing == null", true),
        ("null == missing", true),
        ("none == null", true),
        ("name == null", false),
        ("missing != null", false),
        ("none != null", false),
        ("name != null", true),
        ("empty_s != null", true),
        // A present array or object is not null: `preferred_agents != null` works on lists.
        ("languages != null", true),
        ("languages == null", false),
        ("obj != null", true),
        ("empty != null", true),
        // Two missing keys are both null.
        ("missing == other_missing", true),
        ("missing != other_missing", false),
        // A missing key equals no value, so it differs from every value.
        ("missing == 'x'", false),
        ("missing != 'x'", true),
        ("missing == 0", false),
        ("missing == false", false),
        ("missing == ''", false),
        // Relational operators and CONTAINS are false on null.
        ("missing > 1", false),
        ("missing < 1", false),
        ("missing >= 1", false),
        ("missing <= 1", false),
        ("none <= 1", false),
        ("null < 1", false),
        ("missing CONTAINS 'a'", false),
        ("text CONTAINS missing", false),
    ]);
}

#[test]
fn relational_operators() {
    check_all(&[
        ("level > 2", true),
        ("level > 3", false),
        ("level >= 3", true),
        ("level < 3", false),
        ("level <= 3", true),
        ("level < 3.5", true),
        ("ratio >= 1", true),
        ("neg < -4.5", true),
        ("neg > -5", false),
        ("big > 9007199254740992", true),
        ("huge > big", true),
        // Numeric strings coerce (Twilio's `{"tech_support_skill": "6"}` matches `tech_support_skill > 5`).
        ("level_s > 5", true),
        ("level_s < 5", false),
        ("'6' > 5", true),
        ("hour > 7", true),
        ("hour < 9", true),
        ("hour >= '10'", false),
        ("'10' > '9'", true),
        ("'10' > 9", true),
        ("level < level_s", true),
        // Non-numeric strings compare by code point.
        ("'b' > 'a'", true),
        ("'B' < 'a'", true),
        ("date > '2024-01-01'", true),
        ("date < '2024-05-01T00:00:00Z'", true),
        ("name >= 'Alice'", true),
        // A non-numeric string and a number have no order.
        ("name > 5", false),
        ("name < 5", false),
        ("padded > 5", false),
        // Booleans, arrays and objects have no order.
        ("vip > false", false),
        ("vip >= true", false),
        ("languages > 1", false),
        ("arr < 100", false),
        ("obj > 1", false),
    ]);
}

#[test]
fn contains_is_a_case_sensitive_substring_test() {
    check_all(&[
        ("text CONTAINS 'World'", true),
        ("text contains 'lo Wo'", true),
        ("text CONTAINS 'world'", false),
        ("text CONTAINS ''", true),
        ("'abc' CONTAINS 'b'", true),
        ("level_s CONTAINS '6'", true),
        // Non-strings: false.
        ("languages CONTAINS 'en'", false),
        ("level CONTAINS 3", false),
        ("level CONTAINS '3'", false),
        ("text CONTAINS 1", false),
        ("obj CONTAINS 'param'", false),
    ]);
}

#[test]
fn has_tests_array_membership() {
    check_all(&[
        ("skills HAS 'caption'", true),
        ("skills has 'support'", true),
        ("skills >- 'support'", true),
        ("skills HAS 'Caption'", false),
        ("skills HAS 'x'", false),
        ("num_list HAS 2.5", true),
        ("num_list HAS 3.0", true),
        ("num_list HAS '3'", true),
        ("str_nums HAS 1", true),
        ("mixed HAS true", true),
        ("mixed HAS '2'", true),
        ("mixed HAS 2", true),
        ("mixed HAS null", true),
        ("skills HAS lang", false),
        ("languages HAS lang", true),
        // Array operator on a scalar, a missing key or an object: false.
        ("name HAS 'A'", false),
        ("missing HAS 'a'", false),
        ("obj HAS 'param'", false),
        ("empty HAS 'a'", false),
        // The right side must be a scalar.
        ("mixed HAS [1]", false),
        ("skills HAS skills", false),
        ("skills HAS missing", false),
        ("'en' HAS 'en'", false),
    ]);
}

#[test]
fn in_tests_membership_of_the_left_in_the_right() {
    check_all(&[
        ("lang IN languages", true),
        ("lang in ['en']", true),
        ("lang <- ['en']", true),
        ("'es' IN languages", true),
        ("'fr' IN languages", false),
        ("lang IN ['EN']", false),
        ("level IN [1, 2, 3]", true),
        ("level IN ['3']", true),
        ("level_s IN [6]", true),
        ("vip IN [true]", true),
        ("lang IN []", false),
        ("lang IN empty", false),
        // The right side must be an array.
        ("lang IN 'en'", false),
        ("lang IN 'english'", false),
        ("lang IN missing", false),
        ("lang IN obj", false),
        // The left side must be a scalar.
        ("languages IN languages", false),
        ("obj IN [1]", false),
        ("missing IN languages", false),
        ("missing IN [null]", true),
    ]);
}

#[test]
fn not_in_is_the_negation_of_in_for_arrays_and_true_for_a_missing_array() {
    check_all(&[
        ("lang NOT IN ['fr']", true),
        ("lang not in ['en']", false),
        ("lang NOT IN languages", false),
        ("'fr' NOT IN languages", true),
        ("lang NOT IN []", true),
        ("lang NOT IN empty", true),
        ("level NOT IN ['3']", false),
        // A missing or null array contains nothing: `worker.sid NOT IN task.do_not_contact` holds for
        // tasks without a do-not-contact list.
        ("lang NOT IN missing", true),
        ("lang NOT IN none", true),
        ("missing NOT IN missing", true),
        ("missing NOT IN ['a']", true),
        // A present non-array on the right, or a non-scalar on the left: false.
        ("lang NOT IN 'fr'", false),
        ("lang NOT IN obj", false),
        ("languages NOT IN ['x']", false),
        ("obj NOT IN missing", false),
    ]);
}

#[test]
fn and_binds_tighter_than_or() {
    check_all(&[
        // SQL precedence gives T OR (F AND F) = T; left-to-right would give (T OR F) AND F = F.
        ("1==1 OR 1==2 AND 1==2", true),
        ("1==2 AND 1==2 OR 1==1", true),
        ("(1==1 OR 1==2) AND 1==2", false),
        ("1==2 OR 1==2 OR 1==1", true),
        ("1==1 AND 1==1 AND 1==2", false),
        ("1==1 and (1==2 or 1==1)", true),
        ("(lang == 'en' OR lang == 'fr') AND level >= 3", true),
        ("lang == 'fr' OR lang == 'en' AND level > 3", false),
    ]);
}

#[test]
fn the_issue_example() {
    let expr =
        Expr::parse(r#"skills HAS "caption" AND level > 2 AND language IN ["en","es"]"#).unwrap();
    for (worker, expected) in [
        (
            json!({"skills": ["caption"], "level": 3, "language": "en"}),
            true,
        ),
        (
            json!({"skills": ["caption", "x"], "level": "5", "language": "es"}),
            true,
        ),
        (
            json!({"skills": ["captions"], "level": 3, "language": "en"}),
            false,
        ),
        (
            json!({"skills": ["caption"], "level": 2, "language": "en"}),
            false,
        ),
        (
            json!({"skills": ["caption"], "level": 3, "language": "fr"}),
            false,
        ),
        (
            json!({"skills": "caption", "level": 3, "language": "en"}),
            false,
        ),
        (json!({"level": 3, "language": "en"}), false),
        (json!({}), false),
        (json!(null), false),
        (json!([1, 2]), false),
    ] {
        assert_eq!(expr.eval(&worker), expected, "{worker}");
    }
}

#[test]
fn scoped_documents_for_target_expressions() {
    let task = json!({"requested_agent": "alice", "language": "fr", "do_not_contact": ["WKbad"]});
    let alice = json!({"agent_id": "alice", "languages": ["en", "fr"], "sid": "WKok"});
    let bad = json!({"agent_id": "bob", "languages": ["fr"], "sid": "WKbad"});
    let scopes = |worker| [("task", &task), ("worker", worker)];
    for (src, for_alice, for_bad) in [
        ("task.requested_agent == worker.agent_id", true, false),
        ("task.language IN worker.languages", true, true),
        ("worker.sid NOT IN task.do_not_contact", true, false),
        ("worker.sid NOT IN task.missing_list", true, true),
        (
            "task.missing == null AND worker.missing == null",
            true,
            true,
        ),
        // Unprefixed keys and unknown scopes are missing without a fallback.
        ("language == 'fr'", false, false),
        ("language == null AND other.language == null", true, true),
        ("task == null", false, false),
    ] {
        let expr = Expr::parse(src).unwrap();
        assert_eq!(
            expr.eval(&Scoped::new(&scopes(&alice))),
            for_alice,
            "{src} for alice"
        );
        assert_eq!(
            expr.eval(&Scoped::new(&scopes(&bad))),
            for_bad,
            "{src} for bad"
        );
    }
}

#[test]
fn scoped_fallback_for_workflow_filters() {
    let task = json!({"type": "ticket", "taskrouter": "shadowed"});
    let time = json!({"currentTime": 930, "currentHour": "09", "dayOfWeek": "Thu"});
    let scopes = [("taskrouter", &time)];
    let ctx = Scoped::new(&scopes).with_fallback(&task);
    for (src, expected) in [
        ("type == 'ticket'", true),
        (
            "taskrouter.currentTime > 0800 AND taskrouter.currentTime < 1830",
            true,
        ),
        ("taskrouter.currentHour > 8", true),
        ("taskrouter.dayOfWeek IN ['Mon', 'Tue', 'Thu']", true),
        ("taskrouter.dayOfWeek IN ['THU']", false),
        ("taskrouter == 'shadowed'", false),
    ] {
        assert_eq!(Expr::parse(src).unwrap().eval(&ctx), expected, "{src}");
    }
}

#[test]
fn lookup_implementations() {
    let doc = doc();
    let path = [
        PathSegment::Field("obj".into()),
        PathSegment::Field("nested".into()),
        PathSegment::Field("x".into()),
    ];
    assert_eq!(walk(&doc, &path), Some(&json!(1)));
    assert_eq!(doc.lookup(&path), Some(&json!(1)));
    assert_eq!(walk(&doc, &[]), Some(&doc));
    assert_eq!(walk(&doc, &[PathSegment::Index(0)]), None);
    let map = doc.as_object().unwrap();
    assert_eq!(map.lookup(&path), Some(&json!(1)));
    assert_eq!(map.lookup(&[]), None);
    let expr = Expr::parse("obj.nested.x == 1 AND arr[1] == 20").unwrap();
    assert!(expr.eval(map));
    assert!(expr.eval(&&doc));
    let dynamic: &dyn Lookup = &doc;
    assert!(expr.eval(dynamic));
}

/// A hand-written context, as the engine may use for `skip_if` (`workers.available`).
struct Counts {
    available: Value,
}

impl Lookup for Counts {
    fn lookup(&self, path: &[PathSegment]) -> Option<&Value> {
        match path {
            [PathSegment::Field(scope), PathSegment::Field(name)]
                if &**scope == "workers" && &**name == "available" =>
            {
                Some(&self.available)
            }
            _ => None,
        }
    }
}

#[test]
fn custom_lookup() {
    let expr = Expr::parse("workers.available == 0").unwrap();
    assert!(expr.eval(&Counts {
        available: json!(0)
    }));
    assert!(!expr.eval(&Counts {
        available: json!(2)
    }));
    assert!(!Expr::parse("workers.unavailable == 0")
        .unwrap()
        .eval(&Counts {
            available: json!(0)
        }));
}
