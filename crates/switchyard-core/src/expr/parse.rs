//! Text → [`Node`]: a cheap pre-scan for limits and lexical mistakes, the pest grammar, and a thin
//! Pair → AST layer.
//!
//! Every shape the grammar guarantees is still checked; the "cannot happen" cases all go through
//! [`shape_error`] instead of `unwrap()` or `unreachable!()`.

use pest::Parser as _;

use super::ast::{Comparison, Key, Literal, Node, Number, Op, Operand, PathSegment};
use super::error::{ErrorKind, ExprError};
use super::{MAX_DEPTH, MAX_LENGTH};

// Edits to the grammar must trigger a rebuild even though only the derive reads the file.
const _: &str = include_str!("grammar.pest");

mod grammar {
    #![allow(unreachable_pub, missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "expr/grammar.pest"]
    pub(super) struct ExprParser;
}

use grammar::{ExprParser, Rule};

type Pair<'i> = pest::iterators::Pair<'i, Rule>;

/// Parses `src` into a normalised tree (see [`super::ast`]).
pub(crate) fn parse(src: &str) -> Result<Node, ExprError> {
    if src.len() > MAX_LENGTH {
        return Err(ExprError::at(
            src,
            MAX_LENGTH,
            ErrorKind::TooLong,
            format!(
                "the expression is too long ({} bytes; the limit is {MAX_LENGTH})",
                src.len()
            ),
        ));
    }
    if src.trim().is_empty() {
        return Err(ExprError::at(
            src,
            0,
            ErrorKind::Empty,
            "the expression is empty",
        ));
    }
    let scan = prescan(src)?;
    match ExprParser::parse(Rule::expression, src) {
        Ok(mut pairs) => {
            let expression = pairs
                .next()
                .ok_or_else(|| shape_error(src, 0, "no expression"))?;
            let or_expr = expression
                .into_inner()
                .find(|p| p.as_rule() == Rule::or_expr)
                .ok_or_else(|| shape_error(src, 0, "no top-level expression"))?;
            build_or(src, or_expr)
        }
        Err(err) => Err(scan
            .first_before(src, pest_position(&err))
            .unwrap_or_else(|| {
                let mut err = syntax_error(src, err);
                if scan.unterminated.is_some() {
                    // Most likely `'it's'`: say why the string ended early.
                    err.message.push_str(
                        " (note: a string cannot contain the quote character that encloses it)",
                    );
                }
                err
            })),
    }
}

// ---------------------------------------------------------------------------------------------------
// Pre-scan: limits and lexical diagnostics that pest cannot phrase well.

/// What the pre-scan noticed without failing outright.
struct Scan {
    /// Offset of the first `-` joining two key characters (`first-name`).
    hyphen: Option<usize>,
    /// Offset of an opening quote that is never closed.
    unterminated: Option<usize>,
}

/// One linear pass, outside quotes: nesting depth of `(` and `[` (checked *before* pest runs, since
/// pest recurses per level), hyphenated keys and unterminated strings.
fn prescan(src: &str) -> Result<Scan, ExprError> {
    let mut depth = 0usize;
    let mut quote: Option<(char, usize)> = None;
    let mut hyphen = None;
    let mut prev: Option<char> = None;
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some((q, _)) = quote {
            if c == q {
                quote = None;
            }
        } else {
            match c {
                '\'' | '"' => quote = Some((c, i)),
                '(' | '[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(ExprError::at(
                            src,
                            i,
                            ErrorKind::TooDeep,
                            format!("parentheses and brackets are nested too deeply (the limit is {MAX_DEPTH} levels)"),
                        ));
                    }
                }
                ')' | ']' => depth = depth.saturating_sub(1),
                '-' if hyphen.is_none()
                    && prev.is_some_and(|p| is_key_char(p) || p == ']')
                    && chars.peek().is_some_and(|&(_, n)| is_key_char(n)) =>
                {
                    hyphen = Some(i);
                }
                _ => {}
            }
        }
        prev = Some(c);
    }
    Ok(Scan {
        hyphen,
        unterminated: quote.map(|(_, i)| i),
    })
}

impl Scan {
    /// The earliest pre-scan diagnostic at or before `pos` (where pest gave up), if any: it explains
    /// the failure better than pest's "expected ..." would.
    fn first_before(&self, src: &str, pos: usize) -> Option<ExprError> {
        let hyphen = self.hyphen.filter(|&h| h <= pos);
        let quote = self.unterminated.filter(|&q| q <= pos);
        match (hyphen, quote) {
            (Some(h), q) if q.is_none_or(|q| h < q) => Some(hyphen_error(src, h)),
            (_, Some(q)) => {
                let mark = if src.get(q..).is_some_and(|s| s.starts_with('"')) {
                    '"'
                } else {
                    '\''
                };
                Some(ExprError::at(
                    src,
                    q,
                    ErrorKind::UnterminatedString,
                    format!("unterminated string: the quote {mark} is never closed"),
                ))
            }
            _ => None,
        }
    }
}

fn hyphen_error(src: &str, at: usize) -> ExprError {
    let is_part = |c: char| is_key_char(c) || matches!(c, '.' | '-' | '[' | ']');
    let start = src[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_part(c))
        .last()
        .map_or(at, |(i, _)| i);
    let end = src[at..]
        .char_indices()
        .find(|&(_, c)| !is_part(c))
        .map_or(src.len(), |(i, _)| at + i);
    ExprError::at(
        src,
        at,
        ErrorKind::HyphenInKey,
        format!(
            "hyphens are not allowed in keys ({}); rename the attribute, or quote the text if it is a value",
            quoted(&src[start..end])
        ),
    )
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

// ---------------------------------------------------------------------------------------------------
// pest errors → messages for people.

fn pest_position(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    }
}

fn syntax_error(src: &str, err: pest::error::Error<Rule>) -> ExprError {
    let pos = pest_position(&err);
    let positives = match err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives,
        // pest's own call / stack budget; unreachable within MAX_LENGTH and MAX_DEPTH, but harmless.
        pest::error::ErrorVariant::CustomError { message } => {
            return ExprError::at(
                src,
                pos,
                ErrorKind::TooComplex,
                format!("the expression is too complex ({message})"),
            );
        }
    };
    // pest reports the innermost rules it tried, which depends on how far each alternative got;
    // normalise to what is valid at this point of the grammar.
    let after_dot = src.get(..pos).is_some_and(|s| s.ends_with('.'));
    let term_start = positives.iter().any(|r| {
        matches!(
            r,
            Rule::open_paren | Rule::comparison | Rule::and_expr | Rule::or_expr
        )
    });
    let operand = term_start
        || positives
            .iter()
            .any(|r| matches!(r, Rule::key | Rule::list | Rule::open_bracket))
        || (positives.contains(&Rule::field) && !after_dot);
    let mut phrases: Vec<(u8, &'static str)> = positives
        .iter()
        .flat_map(|r| phrases(*r, after_dot))
        .copied()
        .collect();
    if term_start {
        phrases.push(PAREN);
    }
    if operand {
        phrases.extend_from_slice(OPERAND);
    }
    phrases.sort_unstable();
    phrases.dedup();
    let expected = join_or(phrases.iter().map(|(_, p)| *p));
    let expected = if expected.is_empty() {
        "something else".to_owned()
    } else {
        expected
    };
    let after = previous_token(src, pos)
        .map(|t| format!(" after {}", quoted(t)))
        .unwrap_or_default();
    let found = match token_at(src, pos) {
        Some(t) if t.starts_with(char::is_whitespace) => "whitespace".to_owned(),
        Some(t) => quoted(t),
        None => "the end of the expression".to_owned(),
    };
    ExprError::at(
        src,
        pos,
        ErrorKind::Syntax,
        format!("expected {expected}{after}, found {found}"),
    )
}

const OPERATORS: &str = "a comparison operator (==, !=, <, >, <=, >=, CONTAINS, HAS, IN or NOT IN)";

const PAREN: (u8, &str) = (0, "'('");
const OPERAND: &[(u8, &str)] = &[
    (1, "a quoted string"),
    (2, "a number"),
    (3, "true"),
    (4, "false"),
    (5, "null"),
    (6, "a list"),
    (7, "a key"),
];

/// What a rule is called in a message, with a rank that fixes the order of the phrases. Rules that
/// stand for an operand or a term are expanded by the caller.
fn phrases(rule: Rule, after_dot: bool) -> &'static [(u8, &'static str)] {
    match rule {
        Rule::string => &OPERAND[0..1],
        Rule::number => &OPERAND[1..2],
        Rule::boolean => &OPERAND[2..4],
        Rule::null => &OPERAND[4..5],
        Rule::field if after_dot => &[(8, "a name (letters, digits and underscores)")],
        Rule::index => &[(9, "an array index (digits)")],
        Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_has
        | Rule::op_in
        | Rule::op_not_in
        | Rule::op_contains => &[(10, OPERATORS)],
        Rule::and_op => &[(11, "AND")],
        Rule::or_op => &[(12, "OR")],
        Rule::comma => &[(13, "','")],
        Rule::close_bracket => &[(14, "']'")],
        Rule::close_paren => &[(15, "')'")],
        Rule::EOI => &[(16, "the end of the expression")],
        _ => &[],
    }
}

/// `a`, `a or b`, `a, b or c`.
fn join_or<'a>(items: impl ExactSizeIterator<Item = &'a str>) -> String {
    let n = items.len();
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == n { " or " } else { ", " });
        }
        out.push_str(item);
    }
    out
}

/// Shows a piece of the input in a message: in single quotes, or double quotes if it has a single
/// quote; shortened to 30 characters.
fn quoted(text: &str) -> String {
    const MAX: usize = 30;
    let mut shown: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        shown.push('…');
    }
    if shown.contains('\'') {
        format!("\"{shown}\"")
    } else {
        format!("'{shown}'")
    }
}

#[derive(PartialEq)]
enum Class {
    Word,
    Symbol,
    Other,
}

fn class(c: char) -> Class {
    if c.is_alphanumeric() || matches!(c, '_' | '.') {
        Class::Word
    } else if matches!(c, '=' | '!' | '<' | '>' | '-') {
        Class::Symbol
    } else {
        Class::Other
    }
}

/// The token starting at `pos` (a whole string literal, a word, an operator, or one character).
fn token_at(src: &str, pos: usize) -> Option<&str> {
    let rest = src.get(pos..)?;
    let first = rest.chars().next()?;
    let len = match first {
        '\'' | '"' => rest[1..].find(first).map_or(rest.len(), |i| i + 2),
        c if class(c) == Class::Other => c.len_utf8(),
        c => {
            let k = class(c);
            rest.char_indices()
                .find(|&(_, d)| class(d) != k)
                .map_or(rest.len(), |(i, _)| i)
        }
    };
    rest.get(..len)
}

/// The token that ends just before `pos` (skipping whitespace), if any.
fn previous_token(src: &str, pos: usize) -> Option<&str> {
    let before = src.get(..pos)?.trim_end();
    let last = before.chars().next_back()?;
    let start = match last {
        '\'' | '"' => {
            let body = &before[..before.len() - 1];
            body.rfind(last).unwrap_or(0)
        }
        c if class(c) == Class::Other => before.len() - c.len_utf8(),
        c => {
            let k = class(c);
            before
                .char_indices()
                .rev()
                .take_while(|&(_, d)| class(d) == k)
                .last()
                .map_or(0, |(i, _)| i)
        }
    };
    before.get(start..)
}

// ---------------------------------------------------------------------------------------------------
// Pair → AST. Flattens nested AND/AND and OR/OR so printing is canonical.

/// The single funnel for shapes the grammar rules out. Reaching it is a bug in this file.
fn shape_error(src: &str, offset: usize, what: &str) -> ExprError {
    ExprError::at(
        src,
        offset,
        ErrorKind::Syntax,
        format!("internal error: the parser produced an unexpected shape ({what}); please report this expression"),
    )
}

fn unexpected(src: &str, pair: &Pair<'_>) -> ExprError {
    shape_error(
        src,
        pair.as_span().start(),
        &format!("{:?}", pair.as_rule()),
    )
}

fn build_or(src: &str, pair: Pair<'_>) -> Result<Node, ExprError> {
    let start = pair.as_span().start();
    let mut children = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::and_expr => match build_and(src, p)? {
                Node::Or(inner) => children.extend(inner),
                node => children.push(node),
            },
            Rule::or_op => {}
            _ => return Err(unexpected(src, &p)),
        }
    }
    collapse(src, start, children, Node::Or)
}

fn build_and(src: &str, pair: Pair<'_>) -> Result<Node, ExprError> {
    let start = pair.as_span().start();
    let mut children = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::comparison => children.push(Node::Compare(build_comparison(src, p)?)),
            Rule::or_expr => match build_or(src, p)? {
                Node::And(inner) => children.extend(inner),
                node => children.push(node),
            },
            Rule::and_op | Rule::open_paren | Rule::close_paren => {}
            _ => return Err(unexpected(src, &p)),
        }
    }
    collapse(src, start, children, Node::And)
}

fn collapse(
    src: &str,
    start: usize,
    children: Vec<Node>,
    make: fn(Vec<Node>) -> Node,
) -> Result<Node, ExprError> {
    if children.len() > 1 {
        return Ok(make(children));
    }
    children
        .into_iter()
        .next()
        .ok_or_else(|| shape_error(src, start, "empty group"))
}

fn build_comparison(src: &str, pair: Pair<'_>) -> Result<Comparison, ExprError> {
    let start = pair.as_span().start();
    let mut inner = pair.into_inner();
    let (Some(left), Some(op), Some(right), None) =
        (inner.next(), inner.next(), inner.next(), inner.next())
    else {
        return Err(shape_error(src, start, "comparison"));
    };
    Ok(Comparison {
        left: build_operand(src, left)?,
        op: build_op(src, &op)?,
        right: build_operand(src, right)?,
    })
}

fn build_op(src: &str, pair: &Pair<'_>) -> Result<Op, ExprError> {
    Ok(match pair.as_rule() {
        Rule::op_eq => Op::Eq,
        Rule::op_ne => Op::Ne,
        Rule::op_lt => Op::Lt,
        Rule::op_gt => Op::Gt,
        Rule::op_le => Op::Le,
        Rule::op_ge => Op::Ge,
        Rule::op_contains => Op::Contains,
        Rule::op_has => Op::Has,
        Rule::op_in => Op::In,
        Rule::op_not_in => Op::NotIn,
        _ => return Err(unexpected(src, pair)),
    })
}

fn build_operand(src: &str, pair: Pair<'_>) -> Result<Operand, ExprError> {
    if pair.as_rule() == Rule::key {
        return Ok(Operand::Key(build_key(src, pair)?));
    }
    Ok(Operand::Literal(build_literal(src, pair)?))
}

fn build_key(src: &str, pair: Pair<'_>) -> Result<Key, ExprError> {
    let path = pair
        .into_inner()
        .map(|p| match p.as_rule() {
            Rule::field => Ok(PathSegment::Field(p.as_str().into())),
            Rule::index => p.as_str().parse().map(PathSegment::Index).map_err(|_| {
                ExprError::at(
                    src,
                    p.as_span().start(),
                    ErrorKind::IndexOutOfRange,
                    format!("the array index {} is too large", p.as_str()),
                )
            }),
            _ => Err(unexpected(src, &p)),
        })
        .collect::<Result<Box<[_]>, _>>()?;
    Ok(Key { path })
}

fn build_literal(src: &str, pair: Pair<'_>) -> Result<Literal, ExprError> {
    let text = pair.as_str();
    Ok(match pair.as_rule() {
        Rule::null => Literal::Null,
        Rule::boolean => Literal::Bool(text.eq_ignore_ascii_case("true")),
        Rule::number => Literal::Number(build_number(src, &pair)?),
        // The grammar guarantees an ASCII quote at each end.
        Rule::string => Literal::String(
            text.get(1..text.len().saturating_sub(1))
                .ok_or_else(|| unexpected(src, &pair))?
                .into(),
        ),
        Rule::list => Literal::List(
            pair.into_inner()
                .filter(|p| {
                    !matches!(
                        p.as_rule(),
                        Rule::open_bracket | Rule::close_bracket | Rule::comma
                    )
                })
                .map(|p| build_literal(src, p))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(unexpected(src, &pair)),
    })
}

fn build_number(src: &str, pair: &Pair<'_>) -> Result<Number, ExprError> {
    let text = pair.as_str();
    if !text.contains('.') {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Number::Int(i));
        }
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Number::Float(x)),
        _ => Err(ExprError::at(
            src,
            pair.as_span().start(),
            ErrorKind::NumberOutOfRange,
            format!("the number {} is too large", quoted(text)),
        )),
    }
}
