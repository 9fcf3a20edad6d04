//! Parsing and canonical printing: every literal kind, key form, operator, alias and keyword case,
//! precedence, and every error kind with its exact message.

use switchyard_core::expr::{
    Comparison, ErrorKind, Expr, Key, Literal, Node, Number, Op, Operand, PathSegment,
};

/// `src` parses, and prints as `canonical`; the canonical text parses to the same expression.
#[track_caller]
fn check(src: &str, canonical: &str) {
    let expr = Expr::parse(src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"));
    assert_eq!(expr.to_string(), canonical, "canonical form of {src:?}");
    let again =
        Expr::parse(canonical).unwrap_or_else(|e| panic!("{canonical:?} should parse: {e}"));
    assert_eq!(
        again, expr,
        "{canonical:?} must parse back to the same tree"
    );
}

/// `src` is rejected with exactly this `Display` text and kind.
#[track_caller]
fn check_err(src: &str, kind: ErrorKind, display: &str) {
    let err = Expr::parse(src).expect_err(src);
    assert_eq!(
        (err.kind, err.to_string().as_str()),
        (kind, display),
        "error for {src:?}"
    );
    assert!(
        err.offset <= src.len() && src.is_char_boundary(err.offset),
        "{err:?}"
    );
}

fn key(path: &[&str]) -> Operand {
    Operand::Key(Key {
        path: path
            .iter()
            .map(|s| match s.parse() {
                Ok(i) => PathSegment::Index(i),
                Err(_) => PathSegment::Field((*s).into()),
            })
            .collect(),
    })
}

fn cmp(left: Operand, op: Op, right: Operand) -> Node {
    Node::Compare(Comparison { left, op, right })
}

fn int(i: i64) -> Operand {
    Operand::Literal(Literal::Number(Number::Int(i)))
}

fn string(s: &str) -> Operand {
    Operand::Literal(Literal::String(s.into()))
}

#[test]
fn literals() {
    for (src, canonical) in [
        ("x == 'gold'", "x == 'gold'"),
        ("x == \"gold\"", "x == 'gold'"),
        ("x == ''", "x == ''"),
        ("x == \"it's\"", "x == \"it's\""),
        ("x == 'say \"hi\"'", "x == 'say \"hi\"'"),
        ("x == 'a\\b'", "x == 'a\\b'"),
        ("x == 'AND or ( ] , ==' ", "x == 'AND or ( ] , =='"),
        ("x == 'é ☎ 中'", "x == 'é ☎ 中'"),
        ("x == 1", "x == 1"),
        ("x == 0800", "x == 800"),
        ("x == -0", "x == 0"),
        ("x == -42", "x == -42"),
        ("x == 3.141529", "x == 3.141529"),
        ("x == 1.0", "x == 1.0"),
        ("x == 1.50", "x == 1.5"),
        ("x == 00.5", "x == 0.5"),
        ("x == -2.25", "x == -2.25"),
        ("x == 9223372036854775807", "x == 9223372036854775807"),
        ("x == -9223372036854775808", "x == -9223372036854775808"),
        ("x == 99999999999999999999", "x == 100000000000000000000.0"),
        ("x == true", "x == true"),
        ("x == FALSE", "x == false"),
        ("x == True", "x == true"),
        ("x == null", "x == null"),
        ("x == NULL", "x == null"),
        ("x IN []", "x IN []"),
        ("x IN [ ]", "x IN []"),
        ("x IN [\"en\", 'es', 3]", "x IN ['en', 'es', 3]"),
        (
            "x IN [1,2.5,-3,'a',\"b'c\",true,false,null]",
            "x IN [1, 2.5, -3, 'a', \"b'c\", true, false, null]",
        ),
        ("'es' IN languages", "'es' IN languages"),
        ("1==1", "1 == 1"),
        ("[1] == [1]", "[1] == [1]"),
    ] {
        check(src, canonical);
    }
}

#[test]
fn literal_values() {
    let e = Expr::parse("x IN [0800, 1.0, 99999999999999999999, 'a', true, null]").unwrap();
    let Node::Compare(Comparison {
        right: Operand::Literal(Literal::List(items)),
        ..
    }) = e.root()
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        &items[..],
        &[
            Literal::Number(Number::Int(800)),
            Literal::Number(Number::Float(1.0)),
            Literal::Number(Number::Float(1e20)),
            Literal::String("a".into()),
            Literal::Bool(true),
            Literal::Null,
        ]
    );
}

#[test]
fn keys() {
    for (src, canonical) in [
        ("object.param != \"apple\"", "object.param != 'apple'"),
        (
            "worker.channel.voice.assigned_tasks == 0",
            "worker.channel.voice.assigned_tasks == 0",
        ),
        ("arr[2] == 1", "arr[2] == 1"),
        ("object.array[2] == 1", "object.array[2] == 1"),
        ("a.b[0][12].c == 1", "a.b[0][12].c == 1"),
        ("a[007] == 1", "a[7] == 1"),
        ("_private == 1", "_private == 1"),
        ("camelCase2 == 1", "camelCase2 == 1"),
        ("idioma_préféré == 'fr'", "idioma_préféré == 'fr'"),
        ("task.in == 1", "task.in == 1"),
        ("task.null == 1", "task.null == 1"),
        ("android == 1", "android == 1"),
        ("order == 1", "order == 1"),
        ("nullable == 1", "nullable == 1"),
        ("notes == 1", "notes == 1"),
        (
            "task.requested_agent == worker.agent_id",
            "task.requested_agent == worker.agent_id",
        ),
        (
            "workers.WA0123456789abcdef0123456789abcdef < 2",
            "workers.WA0123456789abcdef0123456789abcdef < 2",
        ),
    ] {
        check(src, canonical);
    }
    let e = Expr::parse("'es' IN languages").unwrap();
    assert_eq!(e.root(), &cmp(string("es"), Op::In, key(&["languages"])));
    let e = Expr::parse("a.b[2].c == 1").unwrap();
    assert_eq!(e.root(), &cmp(key(&["a", "b", "2", "c"]), Op::Eq, int(1)));
}

#[test]
fn operators_aliases_and_keyword_case() {
    for (src, op) in [
        ("x == 1", Op::Eq),
        ("x = 1", Op::Eq),
        ("x != 1", Op::Ne),
        ("x < 1", Op::Lt),
        ("x > 1", Op::Gt),
        ("x <= 1", Op::Le),
        ("x >= 1", Op::Ge),
        ("x CONTAINS 1", Op::Contains),
        ("x contains 1", Op::Contains),
        ("x Contains 1", Op::Contains),
        ("x HAS 1", Op::Has),
        ("x has 1", Op::Has),
        ("x >- 1", Op::Has),
        ("x>-1", Op::Has),
        ("x IN 1", Op::In),
        ("x in 1", Op::In),
        ("x <- 1", Op::In),
        ("x<-1", Op::In),
        ("x NOT IN 1", Op::NotIn),
        ("x not in 1", Op::NotIn),
        ("x Not\n\tIn 1", Op::NotIn),
    ] {
        let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(e.root(), &cmp(key(&["x"]), op, int(1)), "{src}");
        assert_eq!(e.to_string(), format!("x {} 1", op.as_str()), "{src}");
    }
    check(
        "x>=-1 AND x<=-1 AND x > -1 AND x < -1",
        "x >= -1 AND x <= -1 AND x > -1 AND x < -1",
    );
    check(
        "a=1 and b=2 AnD c=3 or d=4 OR e=5",
        "a == 1 AND b == 2 AND c == 3 OR d == 4 OR e == 5",
    );
}

#[test]
fn whitespace_is_free_between_tokens() {
    check("  a\n==\t1\r\nAND(b\n>-'x')  ", "a == 1 AND b HAS 'x'");
    check("a==1", "a == 1");
    check("'x'IN['a']AND(b<1)", "'x' IN ['a'] AND b < 1");
}

#[test]
fn and_binds_tighter_than_or() {
    let a = || cmp(key(&["a"]), Op::Eq, int(1));
    let b = || cmp(key(&["b"]), Op::Eq, int(2));
    let c = || cmp(key(&["c"]), Op::Eq, int(3));
    let parse = |s: &str| Expr::parse(s).unwrap().root().clone();
    assert_eq!(
        parse("a == 1 OR b == 2 AND c == 3"),
        Node::Or(vec![a(), Node::And(vec![b(), c()])])
    );
    assert_eq!(
        parse("a == 1 AND b == 2 OR c == 3"),
        Node::Or(vec![Node::And(vec![a(), b()]), c()])
    );
    assert_eq!(
        parse("(a == 1 OR b == 2) AND c == 3"),
        Node::And(vec![Node::Or(vec![a(), b()]), c()])
    );
    assert_eq!(
        parse("a == 1 AND (b == 2 OR c == 3)"),
        Node::And(vec![a(), Node::Or(vec![b(), c()])])
    );
    // Chains and redundant parentheses flatten.
    assert_eq!(
        parse("a == 1 OR b == 2 OR c == 3"),
        Node::Or(vec![a(), b(), c()])
    );
    assert_eq!(
        parse("(a == 1 OR (b == 2)) OR ((c == 3))"),
        Node::Or(vec![a(), b(), c()])
    );
    assert_eq!(
        parse("a == 1 AND (b == 2 AND c == 3)"),
        Node::And(vec![a(), b(), c()])
    );
    assert_eq!(parse("((((a == 1))))"), a());
}

#[test]
fn printing_keeps_only_needed_parentheses() {
    check(
        "(a == 1 OR b == 2) AND c == 3",
        "(a == 1 OR b == 2) AND c == 3",
    );
    check(
        "a == 1 OR (b == 2 AND c == 3)",
        "a == 1 OR b == 2 AND c == 3",
    );
    check(
        "((a == 1)) AND ((b == 2) OR (c == 3 AND (d == 4 OR e == 5)))",
        "a == 1 AND (b == 2 OR c == 3 AND (d == 4 OR e == 5))",
    );
    check(
        "(skills HAS 'support') AND (languages HAS 'english')",
        "skills HAS 'support' AND languages HAS 'english'",
    );
}

#[test]
fn examples_from_the_twilio_docs_parse() {
    for (src, canonical) in [
        (
            "(skills HAS 'support') AND (languages HAS 'english')",
            "skills HAS 'support' AND languages HAS 'english'",
        ),
        (
            "customer_value == 'Gold' AND type == 'ticket'",
            "customer_value == 'Gold' AND type == 'ticket'",
        ),
        ("language IN [\"en\", \"es\"]", "language IN ['en', 'es']"),
        (
            "(language == \"en\" OR language == \"fr\") AND skill_rating >= 5.1",
            "(language == 'en' OR language == 'fr') AND skill_rating >= 5.1",
        ),
        ("object.param != \"apple\"", "object.param != 'apple'"),
        ("tech_support_skill < 5", "tech_support_skill < 5"),
        (
            "task.required_language IN worker.spoken_languages",
            "task.required_language IN worker.spoken_languages",
        ),
        (
            "task.subSection = worker.specializedSubField",
            "task.subSection == worker.specializedSubField",
        ),
        (
            "worker.channel.chat.available_capacity_percentage < 75",
            "worker.channel.chat.available_capacity_percentage < 75",
        ),
        (
            "taskrouter.currentTime > 0800 AND taskrouter.currentTime < 1830",
            "taskrouter.currentTime > 800 AND taskrouter.currentTime < 1830",
        ),
        ("preferred_agents != null", "preferred_agents != null"),
        (
            "worker.activity_name in ['Generally Available', 'High Value Tasks']",
            "worker.activity_name IN ['Generally Available', 'High Value Tasks']",
        ),
        (
            "worker.sid NOT IN task.do_not_contact",
            "worker.sid NOT IN task.do_not_contact",
        ),
        (
            "taskrouter.dayOfWeek IN ['Mon','Tue','THU']",
            "taskrouter.dayOfWeek IN ['Mon', 'Tue', 'THU']",
        ),
        ("workers.available == 0", "workers.available == 0"),
        ("1==1", "1 == 1"),
    ] {
        check(src, canonical);
    }
}

#[test]
fn is_always_true() {
    for (src, expected) in [
        ("1==1", true),
        ("1=1", true),
        ("'a' == \"a\"", true),
        ("null == null", true),
        ("1 IN [1, 2]", true),
        ("(1==1)", true),
        ("1 == 1 AND 2 > 1", true),
        ("1 == 2 OR 1 == 1", true),
        ("x == 1 OR 1 == 1", true),
        ("1 == 2", false),
        ("1 == 1 AND x == 1", false),
        ("x == x", false),
        ("x == null", false),
        ("1 == 2 OR x == 1", false),
    ] {
        assert_eq!(
            Expr::parse(src).unwrap().is_always_true(),
            expected,
            "{src}"
        );
    }
}

#[test]
fn from_str_matches_parse() {
    let a: Expr = "a == 1".parse().unwrap();
    assert_eq!(a, Expr::parse("a == 1").unwrap());
    assert_eq!(
        "a ==".parse::<Expr>().unwrap_err(),
        Expr::parse("a ==").unwrap_err()
    );
}

const VALUE: &str = "a quoted string, a number, true, false, null, a list or a key";
const TERM: &str = "'(', a quoted string, a number, true, false, null, a list or a key";
const OPS: &str = "a comparison operator (==, !=, <, >, <=, >=, CONTAINS, HAS, IN or NOT IN)";

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    use ErrorKind::*;
    let huge_number = format!("x == {}", "9".repeat(400));
    let cases: Vec<(&str, ErrorKind, String)> = vec![
        ("", Empty, "at line 1, column 1: the expression is empty".into()),
        (" \n\t", Empty, "at line 1, column 1: the expression is empty".into()),
        ("language == ", Syntax, format!("at line 1, column 13: expected {VALUE} after '==', found the end of the expression")),
        ("skills HAS", Syntax, format!("at line 1, column 11: expected {VALUE} after 'HAS', found the end of the expression")),
        ("x not in", Syntax, format!("at line 1, column 9: expected {VALUE} after 'in', found the end of the expression")),
        ("a", Syntax, format!("at line 1, column 2: expected {OPS} after 'a', found the end of the expression")),
        ("a 1", Syntax, format!("at line 1, column 3: expected {OPS} after 'a', found '1'")),
        ("a !== 1", Syntax, format!("at line 1, column 5: expected {VALUE} after '!=', found '='")),
        ("a == b == c", Syntax, "at line 1, column 8: expected AND, OR or the end of the expression after 'b', found '=='".into()),
        ("a == 1 b == 2", Syntax, "at line 1, column 8: expected AND, OR or the end of the expression after '1', found 'b'".into()),
        ("a == 'x' && b == 1", Syntax, "at line 1, column 10: expected AND, OR or the end of the expression after \"'x'\", found '&'".into()),
        ("a == 1 ANDb == 2", Syntax, "at line 1, column 8: expected AND, OR or the end of the expression after '1', found 'ANDb'".into()),
        ("a == 1 AND", Syntax, format!("at line 1, column 11: expected {TERM} after 'AND', found the end of the expression")),
        ("a == 1 or ()", Syntax, format!("at line 1, column 12: expected {TERM} after '(', found ')'")),
        ("AND == 1", Syntax, format!("at line 1, column 1: expected {TERM}, found 'AND'")),
        ("(a == 1", Syntax, "at line 1, column 8: expected AND, OR or ')' after '1', found the end of the expression".into()),
        ("a == 1)", Syntax, "at line 1, column 7: expected AND, OR or the end of the expression after '1', found ')'".into()),
        ("x IN [1 2]", Syntax, "at line 1, column 9: expected ',' or ']' after '1', found '2'".into()),
        ("x IN [1,]", Syntax, "at line 1, column 9: expected a quoted string, a number, true, false or null after ',', found ']'".into()),
        ("x IN [y]", Syntax, "at line 1, column 7: expected a quoted string, a number, true, false, null or ']' after '[', found 'y'".into()),
        ("x IN [[1]]", Syntax, "at line 1, column 7: expected a quoted string, a number, true, false, null or ']' after '[', found '['".into()),
        ("a. == 1", Syntax, "at line 1, column 3: expected a name (letters, digits and underscores) after 'a.', found whitespace".into()),
        ("a[x] == 1", Syntax, "at line 1, column 3: expected an array index (digits) after '[', found 'x'".into()),
        ("x == 1e5", Syntax, format!("at line 1, column 6: expected {VALUE} after '==', found '1e5'")),
        ("x == .5", Syntax, format!("at line 1, column 6: expected {VALUE} after '==', found '.5'")),
        ("first-name == 'x'", HyphenInKey, "at line 1, column 6: hyphens are not allowed in keys ('first-name'); rename the attribute, or quote the text if it is a value".into()),
        ("task.first-name == 'x'", HyphenInKey, "at line 1, column 11: hyphens are not allowed in keys ('task.first-name'); rename the attribute, or quote the text if it is a value".into()),
        ("worker.sid == WK-123", HyphenInKey, "at line 1, column 17: hyphens are not allowed in keys ('WK-123'); rename the attribute, or quote the text if it is a value".into()),
        ("a == 'x' OR\n  b-c == 1", HyphenInKey, "at line 2, column 4: hyphens are not allowed in keys ('b-c'); rename the attribute, or quote the text if it is a value".into()),
        ("a == 'abc", UnterminatedString, "at line 1, column 6: unterminated string: the quote ' is never closed".into()),
        ("a == \"it's", UnterminatedString, "at line 1, column 6: unterminated string: the quote \" is never closed".into()),
        (
            "a == 'it's'",
            Syntax,
            "at line 1, column 10: expected AND, OR or the end of the expression after \"'it'\", found 's' \
             (note: a string cannot contain the quote character that encloses it)"
                .into(),
        ),
        ("x[99999999999999999999999] == 1", IndexOutOfRange, "at line 1, column 3: the array index 99999999999999999999999 is too large".into()),
        (&huge_number, NumberOutOfRange, "at line 1, column 6: the number '999999999999999999999999999999…' is too large".into()),
        ("a == 1 AND\n  b == \n", Syntax, format!("at line 3, column 1: expected {VALUE} after '==', found the end of the expression")),
        ("é == 1 AND ü", Syntax, format!("at line 1, column 13: expected {OPS} after 'ü', found the end of the expression")),
    ];
    for (src, kind, display) in &cases {
        check_err(src, *kind, display);
    }
}

#[test]
fn the_earliest_problem_is_reported() {
    // A syntax error before a hyphenated key wins; a hyphen before a syntax error wins.
    check_err(
        "a == == b-c",
        ErrorKind::Syntax,
        &format!("at line 1, column 6: expected {VALUE} after '==', found '=='"),
    );
    check_err("b-c == ==", ErrorKind::HyphenInKey, "at line 1, column 2: hyphens are not allowed in keys ('b-c'); rename the attribute, or quote the text if it is a value");
    // Hyphens inside strings and in operators or negative numbers are fine.
    check(
        "a == 'first-name' AND b >- -1 AND c <- [-2]",
        "a == 'first-name' AND b HAS -1 AND c IN [-2]",
    );
}

#[test]
fn limits() {
    let too_long = format!("a == '{}'", "x".repeat(70_000));
    check_err(
        &too_long,
        ErrorKind::TooLong,
        "at line 1, column 65537: the expression is too long (70007 bytes; the limit is 65536)",
    );
    let deep = format!("{}a == 1{}", "(".repeat(65), ")".repeat(65));
    check_err(&deep, ErrorKind::TooDeep, "at line 1, column 65: parentheses and brackets are nested too deeply (the limit is 64 levels)");
    let ok = format!("{}a == 1{}", "(".repeat(64), ")".repeat(64));
    check(&ok, "a == 1");
    // Brackets count too, and brackets inside strings do not.
    let deep = format!("{}x IN [1]{}", "(".repeat(64), ")".repeat(64));
    check_err(&deep, ErrorKind::TooDeep, "at line 1, column 70: parentheses and brackets are nested too deeply (the limit is 64 levels)");
    check(
        &format!("x == '{}'", "(".repeat(1000)),
        &format!("x == '{}'", "(".repeat(1000)),
    );
}

#[test]
fn render_shows_the_line_and_a_caret() {
    let src = "a == 1 AND\n  first-name == 'x'";
    let err = Expr::parse(src).unwrap_err();
    assert_eq!(
        err.render(src),
        "at line 2, column 8: hyphens are not allowed in keys ('first-name'); rename the attribute, or quote the text if it is a value\n  |\n2 |   first-name == 'x'\n  |        ^"
    );
    // Long lines are windowed around the position.
    let src = format!("{} == 1 AND b ==", "a".repeat(200));
    let err = Expr::parse(&src).unwrap_err();
    let rendered = err.render(&src);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[2], format!("1 | …{} == 1 AND b ==", "a".repeat(36)));
    assert_eq!(lines[3], format!("  | {}^", " ".repeat(51)));
}
