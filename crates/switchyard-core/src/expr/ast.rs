//! The syntax tree of a parsed expression, and its canonical printing.
//!
//! These are plain, immutable-by-ownership data types. The parser produces them in a *normal form*:
//! an [`Node::Or`] or [`Node::And`] has at least two children, an `Or` never directly contains an
//! `Or`, an `And` never directly contains an `And`, keys are non-empty, strings never contain both
//! quote characters and numbers are finite. Printing a tree in normal form and parsing the text gives
//! the same tree back. Trees built by hand outside that form still print and evaluate without
//! panicking, but their text may not parse back to the same tree.

use std::fmt;

/// A node of the syntax tree: a comparison, or a conjunction / disjunction of nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `a OR b OR ...`: true when any child is true.
    Or(Vec<Node>),
    /// `a AND b AND ...`: true when every child is true.
    And(Vec<Node>),
    /// A single comparison such as `level > 2`.
    Compare(Comparison),
}

/// `left op right`, e.g. `task.language IN worker.languages`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Left operand.
    pub left: Operand,
    /// The comparison operator.
    pub op: Op,
    /// Right operand.
    pub right: Operand,
}

/// Either side of a comparison: a key resolved against the context, or a literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A key such as `worker.channel.voice.assigned_tasks` or `arr[2]`.
    Key(Key),
    /// A literal value such as `'gold'`, `5`, `true`, `null` or `['en', 'es']`.
    Literal(Literal),
}

/// A key: a path into a JSON document, split into segments once, at parse time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The segments in order; `a.b[2]` is `[Field("a"), Field("b"), Index(2)]`.
    pub path: Box<[PathSegment]>,
}

/// One step of a [`Key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// An object member, written `name` (first segment) or `.name`.
    Field(Box<str>),
    /// A 0-based array element, written `[n]`.
    Index(usize),
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or a decimal.
    Number(Number),
    /// A string in single or double quotes.
    String(Box<str>),
    /// A list of scalar literals, e.g. `['en', 'es', 3]`.
    List(Box<[Literal]>),
}

/// A numeric literal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An integer written without a decimal point that fits in an `i64` (`0800` is `Int(800)`).
    Int(i64),
    /// A decimal (`1.5`, `1.0`), or an integer too large for an `i64`.
    Float(f64),
}

/// A comparison operator. Aliases are folded at parse time (`=` is [`Op::Eq`], `>-` is
/// [`Op::Has`], `<-` is [`Op::In`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `==` (alias `=`).
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `<=`.
    Le,
    /// `>=`.
    Ge,
    /// `CONTAINS`: substring test.
    Contains,
    /// `HAS` (alias `>-`): the array on the left has the value on the right.
    Has,
    /// `IN` (alias `<-`): the value on the left is an element of the array on the right.
    In,
    /// `NOT IN`: the value on the left is not an element of the array on the right.
    NotIn,
}

impl Op {
    /// The canonical spelling, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Contains => "CONTAINS",
            Op::Has => "HAS",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Node {
    /// Canonical text: upper-case keywords, single spaces, parentheses only where `OR` sits inside
    /// `AND`, strings in single quotes unless they contain one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Or(children) => write_joined(f, children, " OR ", |c| matches!(c, Node::Or(_))),
            Node::And(children) => {
                write_joined(f, children, " AND ", |c| !matches!(c, Node::Compare(_)))
            }
            Node::Compare(c) => c.fmt(f),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[Node],
    separator: &str,
    needs_parens: impl Fn(&Node) -> bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(child) {
            write!(f, "({child})")?;
        } else {
            write!(f, "{child}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op, self.right)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Key(k) => k.fmt(f),
            Operand::Literal(l) => l.fmt(f),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.path.iter().enumerate() {
            match segment {
                PathSegment::Field(name) if i == 0 => f.write_str(name)?,
                PathSegment::Field(name) => write!(f, ".{name}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Number(n) => n.fmt(f),
            Literal::String(s) if s.contains('\'') => write!(f, "\"{s}\""),
            Literal::String(s) => write!(f, "'{s}'"),
            Literal::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Number {
    /// Integers print as digits; decimals always keep a decimal point (`1.0`), so they parse back as
    /// decimals. Rust's `f64` display never uses exponent notation and round-trips exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) if x.is_finite() && x.fract() == 0.0 => write!(f, "{x:.1}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}
