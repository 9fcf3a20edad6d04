//! Evaluation of a [`Node`] against a [`Lookup`] context. Allocation-free and total: every
//! combination of operand types has a defined result (see the semantics table in `mod.rs`).

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{Comparison, Key, Literal, Node, Number, Op, Operand, PathSegment};

/// Resolves keys to JSON values. Implemented for [`serde_json::Value`] (walks objects and arrays) and
/// [`Scoped`] (several named documents); implement it to evaluate against other data.
///
/// A key's path is split into [`PathSegment`]s once, when the expression is parsed, so resolving a
/// key does not allocate.
pub trait Lookup {
    /// The value at `path`, or `None` if it is missing (which the expression treats as `null`).
    fn lookup(&self, path: &[PathSegment]) -> Option<&Value>;
}

impl Lookup for Value {
    fn lookup(&self, path: &[PathSegment]) -> Option<&Value> {
        walk(self, path)
    }
}

impl Lookup for serde_json::Map<String, Value> {
    fn lookup(&self, path: &[PathSegment]) -> Option<&Value> {
        match path.split_first() {
            Some((PathSegment::Field(name), rest)) => walk(member(self, name)?, rest),
            _ => None,
        }
    }
}

impl<T: Lookup + ?Sized> Lookup for &T {
    fn lookup(&self, path: &[PathSegment]) -> Option<&Value> {
        (**self).lookup(path)
    }
}

/// Follows `path` from `root`: a field selects an object member, an index an array element. Anything
/// else (a field on an array, an index out of bounds, ...) is `None`. An empty path is `root` itself.
#[inline]
pub fn walk<'v>(root: &'v Value, path: &[PathSegment]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, segment| match segment {
        PathSegment::Field(name) => member(value.as_object()?, name),
        PathSegment::Index(i) => value.as_array()?.get(*i),
    })
}

/// `map.get(name)`, faster for the small objects attributes usually are. `get` walks the sorted keys
/// comparing the bytes of each (a `memcmp` call apiece); a linear scan compares lengths first and
/// bytes only on a length match. Keys are sorted, so names late in the alphabet are scanned for from
/// the end.
#[inline]
fn member<'v>(map: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    const LINEAR_SCAN_MAX: usize = 16;
    if map.len() > LINEAR_SCAN_MAX {
        return map.get(name);
    }
    let hit = |(key, value): (&'v String, &'v Value)| str_eq(key, name).then_some(value);
    if name.as_bytes().first().is_some_and(|&b| b > b'm') {
        map.iter().rev().find_map(hit)
    } else {
        map.iter().find_map(hit)
    }
}

/// Several named documents seen as one context: the first segment of a key picks the document, the
/// rest is walked inside it. This evaluates a workflow target expression (`task.x == worker.y`) per
/// candidate worker without building a combined JSON object:
///
/// ```
/// use serde_json::json;
/// use switchyard_core::expr::{Expr, Scoped};
///
/// let expr = Expr::parse("task.language IN worker.languages").unwrap();
/// let task = json!({"language": "es"});
/// let worker = json!({"languages": ["en", "es"]});
/// assert!(expr.eval(&Scoped::new(&[("task", &task), ("worker", &worker)])));
/// ```
///
/// Keys whose first segment names no document are resolved in the [`fallback`](Scoped::fallback)
/// document if there is one (a workflow filter sees task attributes unprefixed and `taskrouter.*`
/// time variables), and are missing otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Scoped<'a> {
    /// `(name, document)` pairs, searched in order.
    pub scopes: &'a [(&'a str, &'a Value)],
    /// Where keys that start with no scope name are resolved.
    pub fallback: Option<&'a Value>,
}

impl<'a> Scoped<'a> {
    /// A context of named documents and no fallback.
    pub fn new(scopes: &'a [(&'a str, &'a Value)]) -> Self {
        Scoped {
            scopes,
            fallback: None,
        }
    }

    /// The same scopes, resolving other keys in `doc`.
    pub fn with_fallback(self, doc: &'a Value) -> Self {
        Scoped {
            fallback: Some(doc),
            ..self
        }
    }
}

impl Lookup for Scoped<'_> {
    fn lookup(&self, path: &[PathSegment]) -> Option<&Value> {
        if let Some((PathSegment::Field(name), rest)) = path.split_first() {
            if let Some((_, doc)) = self.scopes.iter().find(|(scope, _)| str_eq(scope, name)) {
                return walk(doc, rest);
            }
        }
        walk(self.fallback?, path)
    }
}

/// Evaluates `node`; `And`/`Or` short-circuit left to right.
pub(crate) fn eval<L: Lookup + ?Sized>(node: &Node, ctx: &L) -> bool {
    match node {
        Node::Or(children) => children.iter().any(|c| eval(c, ctx)),
        Node::And(children) => children.iter().all(|c| eval(c, ctx)),
        Node::Compare(c) => compare(c, ctx),
    }
}

/// The value of `node` if it does not depend on the context (no keys decide it), e.g. `1==1`.
/// A scalar reduced so that values `equal` treats as equal reduce to the same probe (numbers and
/// numeric strings to the number's bits); values that are not equal may share one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// `true` or `false`.
    Bool(bool),
    /// A number, or a string that is a number literal: the bits of its `f64` value.
    Num(u64),
    /// Any other string.
    Str(Box<str>),
}

impl Probe {
    fn of(v: Val<'_>) -> Option<Probe> {
        let num = |n: Num| {
            let x = match n {
                Num::I(i) => i as f64,
                Num::U(u) => u as f64,
                Num::F(x) => x,
            };
            // `-0.0 + 0.0` is `0.0`: the two zeros compare equal, so they share a probe.
            Probe::Num((x + 0.0).to_bits())
        };
        match v {
            Val::Bool(b) => Some(Probe::Bool(b)),
            Val::Num(n) => Some(num(n)),
            Val::Str(s) => Some(numeric_string(s).map_or_else(|| Probe::Str(s.into()), num)),
            _ => None,
        }
    }
}

/// The probes of a document's value: its own when it is a scalar, its scalar elements' when it is
/// an array (what `==`, `IN` and `HAS` compare with).
pub fn probes(v: &Value) -> Vec<Probe> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|e| Probe::of(Val::of_json(e)))
            .collect(),
        _ => Probe::of(Val::of_json(v)).into_iter().collect(),
    }
}

/// Keys and probes such that the expression can hold for a document only if, for at least one
/// pair, the value at the key (or an element of it) has that probe. `None` when no such list is
/// known: any document might match.
pub(crate) fn required(node: &Node) -> Option<Vec<(Key, Probe)>> {
    match node {
        Node::And(children) => children.iter().find_map(required),
        Node::Or(children) => {
            let mut all = Vec::new();
            for c in children {
                all.extend(required(c)?);
            }
            Some(all)
        }
        Node::Compare(c) => {
            let (key, literal) = match (&c.left, c.op, &c.right) {
                (Operand::Key(k), Op::Eq | Op::Has | Op::In, Operand::Literal(l))
                | (Operand::Literal(l), Op::Eq | Op::In, Operand::Key(k)) => (k, l),
                _ => return None,
            };
            let literals = match literal {
                // `key == [..]` never holds; `key IN [..]` holds for one of the elements.
                Literal::List(items) if c.op == Op::In && matches!(c.left, Operand::Key(_)) => {
                    items.iter().collect()
                }
                Literal::List(_) | Literal::Null => return None,
                l => vec![l],
            };
            literals
                .into_iter()
                .map(|l| Probe::of(Val::of_literal(l)).map(|p| (key.clone(), p)))
                .collect()
        }
    }
}

pub(crate) fn constant(node: &Node) -> Option<bool> {
    match node {
        Node::Or(children) => {
            let mut all_false = true;
            for c in children {
                match constant(c) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => all_false = false,
                }
            }
            all_false.then_some(false)
        }
        Node::And(children) => {
            let mut all_true = true;
            for c in children {
                match constant(c) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => all_true = false,
                }
            }
            all_true.then_some(true)
        }
        Node::Compare(
            c @ Comparison {
                left: Operand::Literal(_),
                right: Operand::Literal(_),
                ..
            },
        ) => Some(compare(c, &Value::Null)),
        Node::Compare(_) => None,
    }
}

/// An operand after resolution: a view over either a JSON value or a literal.
#[derive(Clone, Copy)]
enum Val<'a> {
    Null,
    Bool(bool),
    Num(Num),
    Str(&'a str),
    Array(&'a [Value]),
    LitList(&'a [Literal]),
    Object,
}

/// A number as JSON or a literal holds it; integers compare exactly.
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

impl<'a> Val<'a> {
    fn of_json(v: &'a Value) -> Self {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(if let Some(i) = n.as_i64() {
                Num::I(i)
            } else if let Some(u) = n.as_u64() {
                Num::U(u)
            } else {
                Num::F(n.as_f64().unwrap_or(f64::NAN))
            }),
            Value::String(s) => Val::Str(s),
            Value::Array(a) => Val::Array(a),
            Value::Object(_) => Val::Object,
        }
    }

    fn of_literal(l: &'a Literal) -> Self {
        match l {
            Literal::Null => Val::Null,
            Literal::Bool(b) => Val::Bool(*b),
            Literal::Number(Number::Int(i)) => Val::Num(Num::I(*i)),
            Literal::Number(Number::Float(x)) => Val::Num(Num::F(*x)),
            Literal::String(s) => Val::Str(s),
            Literal::List(items) => Val::LitList(items),
        }
    }

    fn resolve<L: Lookup + ?Sized>(operand: &'a Operand, ctx: &'a L) -> Self {
        match operand {
            Operand::Literal(l) => Val::of_literal(l),
            Operand::Key(k) => ctx.lookup(&k.path).map_or(Val::Null, Val::of_json),
        }
    }

    fn is_null(self) -> bool {
        matches!(self, Val::Null)
    }

    /// Null, boolean, number or string (not an array or object).
    fn is_scalar(self) -> bool {
        !matches!(self, Val::Array(_) | Val::LitList(_) | Val::Object)
    }

    /// Does any element of this list equal `needle`? `None` if this is not a list.
    fn list_has(self, needle: Val<'_>) -> Option<bool> {
        match self {
            Val::Array(items) => Some(items.iter().any(|e| equal(Val::of_json(e), needle))),
            Val::LitList(items) => Some(items.iter().any(|e| equal(Val::of_literal(e), needle))),
            _ => None,
        }
    }

    /// The value as a number: numbers, and strings that are number literals (`"6"`, `"0800"`, `"-1.5"`).
    fn as_num(self) -> Option<Num> {
        match self {
            Val::Num(n) => Some(n),
            Val::Str(s) => numeric_string(s),
            _ => None,
        }
    }
}

fn compare<L: Lookup + ?Sized>(c: &Comparison, ctx: &L) -> bool {
    let left = Val::resolve(&c.left, ctx);
    let right = Val::resolve(&c.right, ctx);
    match c.op {
        // With null on either side, `==`/`!=` test presence, whatever the other side's type.
        Op::Eq if left.is_null() || right.is_null() => left.is_null() && right.is_null(),
        Op::Ne if left.is_null() || right.is_null() => !(left.is_null() && right.is_null()),
        Op::Eq => left.is_scalar() && right.is_scalar() && equal(left, right),
        Op::Ne => left.is_scalar() && right.is_scalar() && !equal(left, right),
        Op::Lt => order(left, right).is_some_and(Ordering::is_lt),
        Op::Gt => order(left, right).is_some_and(Ordering::is_gt),
        Op::Le => order(left, right).is_some_and(Ordering::is_le),
        Op::Ge => order(left, right).is_some_and(Ordering::is_ge),
        Op::Contains => match (left, right) {
            (Val::Str(haystack), Val::Str(needle)) => haystack.contains(needle),
            _ => false,
        },
        Op::Has => right.is_scalar() && left.list_has(right).unwrap_or(false),
        Op::In => left.is_scalar() && right.list_has(left).unwrap_or(false),
        // A missing (or null) list contains nothing, so anything is NOT IN it.
        Op::NotIn if right.is_null() => left.is_scalar(),
        Op::NotIn => left.is_scalar() && right.list_has(left).is_some_and(|found| !found),
    }
}

/// Equality of two scalars: null only equals null, numbers compare numerically (`1 == 1.0`), a number
/// equals a numeric string with the same value (`5 == "5"`), strings compare exactly (case-sensitive),
/// booleans equal booleans. Anything else, including arrays and objects, is unequal.
fn equal(a: Val<'_>, b: Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => str_eq(x, y),
        (Val::Num(x), Val::Num(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        (Val::Num(x), Val::Str(s)) | (Val::Str(s), Val::Num(x)) => {
            numeric_string(s).is_some_and(|y| num_cmp(x, y) == Some(Ordering::Equal))
        }
        _ => false,
    }
}

/// `a == b`, without a call into `bcmp` for the short strings that keys and attribute values usually
/// are: the call dominated evaluation time in profiles (LLVM turns a plain byte loop into one, so
/// short strings are compared as two overlapping machine words instead).
#[inline]
fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a.first() == b.first() && a.get(n / 2) == b.get(n / 2) && a.last() == b.last(),
        4..=7 => match (
            word::<4>(a, 0),
            word::<4>(b, 0),
            word::<4>(a, n - 4),
            word::<4>(b, n - 4),
        ) {
            (Some(w), Some(x), Some(y), Some(z)) => w == x && y == z,
            _ => a == b,
        },
        8..=16 => match (
            word::<8>(a, 0),
            word::<8>(b, 0),
            word::<8>(a, n - 8),
            word::<8>(b, n - 8),
        ) {
            (Some(w), Some(x), Some(y), Some(z)) => w == x && y == z,
            _ => a == b,
        },
        _ => a == b,
    }
}

/// The `N` bytes of `s` at `at`, if they exist.
#[inline]
fn word<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
    s.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Ordering for `<`, `>`, `<=`, `>=`: numerically when both sides are numbers or numeric strings,
/// otherwise by code point when both are strings; no ordering (so `false`) for anything else.
fn order(a: Val<'_>, b: Val<'_>) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return num_cmp(x, y);
    }
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    let int = |n: Num| match n {
        Num::I(i) => Some(i128::from(i)),
        Num::U(u) => Some(i128::from(u)),
        Num::F(_) => None,
    };
    if let (Some(x), Some(y)) = (int(a), int(b)) {
        return Some(x.cmp(&y));
    }
    let float = |n: Num| match n {
        Num::I(i) => i as f64,
        Num::U(u) => u as f64,
        Num::F(x) => x,
    };
    float(a).partial_cmp(&float(b))
}

/// A string that is written like a number literal: `-?[0-9]+(\.[0-9]+)?`, no spaces, no exponent.
fn numeric_string(s: &str) -> Option<Num> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(all_digits) {
        return None;
    }
    if frac.is_none() {
        if let Ok(i) = s.parse::<i64>() {
            return Some(Num::I(i));
        }
    }
    s.parse::<f64>().ok().map(Num::F)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn str_eq_is_string_equality(a in "[ab]{0,20}", b in "[ab]{0,20}") {
            prop_assert_eq!(str_eq(&a, &b), a == b);
        }

        #[test]
        fn str_eq_notices_any_differing_byte(s in ".{0,24}", at in any::<prop::sample::Index>()) {
            prop_assert!(str_eq(&s, &s.clone()));
            if !s.is_empty() {
                let mut bytes = s.clone().into_bytes();
                let i = at.index(bytes.len());
                bytes[i] ^= 0x01;
                let other = String::from_utf8_lossy(&bytes).into_owned();
                prop_assert_eq!(str_eq(&s, &other), s == other);
            }
        }

        #[test]
        fn member_is_map_get(keys in prop::collection::btree_set("[a-z_A-Z]{0,10}", 0..40), probe in "[a-z_A-Z]{0,10}") {
            let map: serde_json::Map<String, Value> = keys.iter().map(|k| (k.clone(), Value::String(k.clone()))).collect();
            for key in keys.iter().chain([&probe]) {
                prop_assert_eq!(member(&map, key), map.get(key.as_str()));
            }
        }
    }
}
