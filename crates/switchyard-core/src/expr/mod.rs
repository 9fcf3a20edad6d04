//! The TaskRouter expression language: parse, print, evaluate.
//!
//! Expressions select workers for a TaskQueue (`skills HAS 'support'`), tasks for a workflow filter
//! (`type == 'ticket'`) and (task, worker) pairs for a workflow target
//! (`task.language IN worker.languages`). [`Expr::parse`] compiles the text once into plain data;
//! [`Expr::eval`] then runs against any [`Lookup`] context (a [`serde_json::Value`], or [`Scoped`]
//! named documents) without re-parsing or allocating. `docs/expressions.md` is the user-facing
//! reference and mirrors this summary.
//!
//! ```
//! use serde_json::json;
//! use switchyard_core::expr::Expr;
//!
//! let expr: Expr = "skills has 'caption' and level > 2 and language in ['en', 'es']".parse().unwrap();
//! assert_eq!(expr.to_string(), "skills HAS 'caption' AND level > 2 AND language IN ['en', 'es']");
//! assert!(expr.eval(&json!({"skills": ["caption"], "level": "3", "language": "es"})));
//! ```
//!
//! # Grammar
//!
//! Keywords are case-insensitive; whitespace (space, tab, CR, LF) may separate any two tokens.
//! `grammar.pest` is the source of truth.
//!
//! ```text
//! expression  = or_expr ;
//! or_expr     = and_expr , { "OR" , and_expr } ;
//! and_expr    = term , { "AND" , term } ;
//! term        = "(" , or_expr , ")" | comparison ;
//! comparison  = operand , operator , operand ;
//! operator    = "==" | "=" | "!=" | "<" | ">" | "<=" | ">="
//!             | "CONTAINS" | "HAS" | ">-" | "IN" | "<-" | "NOT" , "IN" ;
//! operand     = literal | key ;
//! literal     = string | number | "true" | "false" | "null" | list ;
//! list        = "[" , [ scalar , { "," , scalar } ] , "]" ;
//! scalar      = string | number | "true" | "false" | "null" ;
//! string      = "'" , { any character but "'" } , "'"
//!             | '"' , { any character but '"' } , '"' ;         (* no escapes *)
//! number      = [ "-" ] , digit , { digit } , [ "." , digit , { digit } ] ;   (* 0800 is 800 *)
//! key         = name , { "." , name | "[" , digit , { digit } , "]" } ;  (* first name not a keyword *)
//! name        = ( letter | "_" ) , { letter | digit | "_" } ;    (* no hyphens *)
//! ```
//!
//! # Precedence
//!
//! | Level | Operators | Associativity |
//! |---|---|---|
//! | 1 (tightest) | `( )` | |
//! | 2 | `==` `=` `!=` `<` `>` `<=` `>=` `CONTAINS` `HAS` `>-` `IN` `<-` `NOT IN` | none (`a == b == c` is an error) |
//! | 3 | `AND` | left, short-circuit |
//! | 4 (loosest) | `OR` | left, short-circuit |
//!
//! `a OR b AND c` is `a OR (b AND c)`, as in SQL. `>-` and `<-` are single tokens, so `a>-1` means
//! `a HAS 1`; write `a > -1` to compare with a negative number.
//!
//! # Semantics
//!
//! Operands are resolved first: a key names a value in the context, and a **missing key is `null`**.
//! Then, with arrays and objects called *non-scalars*:
//!
//! | Operator | Result |
//! |---|---|
//! | `x == null`, `x != null` | presence test: `==` is true iff both sides are null/missing, `!=` iff exactly one is (any type on the other side) |
//! | `==` | both scalars and equal: numbers numerically (`1 == 1.0`), a number and a numeric string by value (`5 == "5"`), strings exactly (case-sensitive), booleans as booleans; otherwise false |
//! | `!=` | both scalars and not equal (`missing != 'a'` is true); false if either side is a non-scalar |
//! | `<` `>` `<=` `>=` | numerically if both sides are numbers or numeric strings (`"6" > 5`); by code point if both are strings; otherwise false (null, booleans, non-scalars) |
//! | `CONTAINS` | both strings and the left contains the right (substring, case-sensitive); otherwise false |
//! | `HAS` | left is an array and right is a scalar equal (as `==`, null only to null) to some element |
//! | `IN` | left is a scalar equal to some element of the array on the right |
//! | `NOT IN` | left is a scalar and the right is an array with no equal element, **or the right is missing/null**; false if the right is any other scalar or the left a non-scalar |
//!
//! A *numeric string* is written like a number literal: `-?[0-9]+(\.[0-9]+)?` (`"08"`, `"-1.5"`; not
//! `" 8"`, `"1e3"`, `"+1"`). Evaluation never fails: any type mismatch is `false`.
//!
//! # Limits
//!
//! Input longer than [`MAX_LENGTH`] bytes, or nesting `(` / `[` deeper than [`MAX_DEPTH`], is rejected
//! by a linear pre-scan before the (recursive) pest parser sees it.

mod ast;
mod error;
mod eval;
mod parse;
mod unmet;

use std::fmt;
use std::str::FromStr;

pub use ast::{Comparison, Key, Literal, Node, Number, Op, Operand, PathSegment};
pub use error::{ErrorKind, ExprError};
pub use eval::{probes, walk, Lookup, Probe, Scoped};
pub use unmet::Unmet;

/// The longest accepted expression, in bytes (64 KiB).
pub const MAX_LENGTH: usize = 64 * 1024;

/// The deepest accepted nesting of parentheses and brackets together.
pub const MAX_DEPTH: usize = 64;

/// A parsed expression: immutable plain data, cheap to evaluate many times, safe to share between
/// threads.
///
/// `Display` prints the canonical text (upper-case keywords, aliases replaced by their canonical
/// operator, minimal parentheses); parsing that text gives back an equal `Expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    root: Node,
}

impl Expr {
    /// Parses `src`, or says where and why it is malformed.
    ///
    /// ```
    /// use switchyard_core::expr::Expr;
    ///
    /// let err = Expr::parse("language == ").unwrap_err();
    /// assert_eq!((err.line, err.column, err.offset), (1, 13, 12));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "at line 1, column 13: expected a quoted string, a number, true, false, null, a list or a key \
    ///      after '==', found the end of the expression"
    /// );
    /// ```
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        parse::parse(src).map(|root| Expr { root })
    }

    /// Evaluates the expression against `ctx`. Never panics: missing keys are `null` and type
    /// mismatches are `false` (see the module docs for the rules).
    pub fn eval<L: Lookup + ?Sized>(&self, ctx: &L) -> bool {
        eval::eval(&self.root, ctx)
    }

    /// True if the expression holds whatever the context, like the idiom `1==1`. Conservative: it
    /// folds comparisons between two literals, and `AND`/`OR` of those, and returns false for anything
    /// that depends on a key.
    pub fn is_always_true(&self) -> bool {
        eval::constant(&self.root) == Some(true)
    }

    /// Keys and probes at least one of which a document must match for the expression to hold:
    /// the value at the key, or an element of it, has the probe (see [`probes`]). `None` when the
    /// expression gives no such condition. Lets a caller holding many expressions index them by
    /// probe and evaluate only those a document could satisfy.
    ///
    /// ```
    /// use serde_json::json;
    /// use switchyard_core::expr::{probes, Expr};
    ///
    /// let expr = Expr::parse("skills HAS 'es' AND level > 2").unwrap();
    /// let required = expr.required_values().unwrap();
    /// let (key, probe) = &required[0];
    /// let worker = json!({"skills": ["en", "es"], "level": 3});
    /// let value = switchyard_core::expr::walk(&worker, &key.path).unwrap();
    /// assert!(probes(value).contains(probe));
    /// assert_eq!(Expr::parse("level > 2").unwrap().required_values(), None);
    /// ```
    pub fn required_values(&self) -> Option<Vec<(Key, Probe)>> {
        eval::required(&self.root)
    }

    /// Why the expression is false against `ctx`: the comparisons that fail, with their keys'
    /// values; empty when it holds.
    ///
    /// ```
    /// use serde_json::json;
    /// use switchyard_core::expr::Expr;
    ///
    /// let expr = Expr::parse("skills HAS 'es' AND level > 2").unwrap();
    /// let unmet = expr.unmet(&json!({"skills": ["en"], "level": 3}));
    /// assert_eq!(unmet[0].comparison, "skills HAS 'es'");
    /// assert_eq!(unmet[0].values, [("skills".to_owned(), Some(json!(["en"])))]);
    /// ```
    pub fn unmet<L: Lookup + ?Sized>(&self, ctx: &L) -> Vec<Unmet> {
        let mut out = Vec::new();
        unmet::unmet(&self.root, ctx, &mut out);
        out
    }

    /// The syntax tree, for callers that inspect expressions (e.g. to find the keys they use).
    pub fn root(&self) -> &Node {
        &self.root
    }
}

impl FromStr for Expr {
    type Err = ExprError;

    fn from_str(src: &str) -> Result<Self, Self::Err> {
        Expr::parse(src)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + fmt::Debug + PartialEq>() {}

    #[test]
    fn public_types_are_shareable_data() {
        assert_send_sync::<Expr>();
        assert_send_sync::<Node>();
        assert_send_sync::<ExprError>();
    }
}
