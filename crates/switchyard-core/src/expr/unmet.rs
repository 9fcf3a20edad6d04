//! Why an expression is false: the comparisons that fail, with the values their keys had, so
//! that a person can see which part of `skills HAS 'es' AND level > 2` kept a worker out.

use serde_json::Value;

use super::ast::{Node, Operand};
use super::eval::{eval, Lookup};

/// A comparison that does not hold, and what its keys resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmet {
    /// The comparison, printed canonically (`skills HAS 'es'`).
    pub comparison: String,
    /// Each key of the comparison with its value; `None` when it is missing (seen as `null`).
    pub values: Vec<(String, Option<Value>)>,
}

/// The comparisons that make `node` false, left to right; none when it holds. Every failing
/// comparison of a false `AND` is listed (not only the first), and every one of a false `OR`.
pub(crate) fn unmet<L: Lookup + ?Sized>(node: &Node, ctx: &L, out: &mut Vec<Unmet>) {
    if eval(node, ctx) {
        return;
    }
    match node {
        Node::Compare(c) => {
            let values = [&c.left, &c.right]
                .into_iter()
                .filter_map(|side| match side {
                    Operand::Key(k) => Some((k.to_string(), ctx.lookup(&k.path).cloned())),
                    Operand::Literal(_) => None,
                })
                .collect();
            out.push(Unmet {
                comparison: c.to_string(),
                values,
            });
        }
        Node::And(children) | Node::Or(children) => {
            for child in children {
                unmet(child, ctx, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::expr::{Expr, Unmet};

    #[test]
    fn lists_every_failing_comparison_with_its_keys_values() {
        let e = Expr::parse("skills HAS 'es' AND level > 2 AND team == 'a'").unwrap();
        let doc = json!({"skills": ["en"], "level": 3});
        assert_eq!(
            e.unmet(&doc),
            [
                Unmet {
                    comparison: "skills HAS 'es'".into(),
                    values: vec![("skills".into(), Some(json!(["en"])))],
                },
                Unmet {
                    comparison: "team == 'a'".into(),
                    values: vec![("team".into(), None)],
                },
            ]
        );
    }

    #[test]
    fn a_false_or_lists_each_alternative_and_a_true_expression_nothing() {
        let e = Expr::parse("a == 1 OR (b == 2 AND c == 3)").unwrap();
        let unmet = e.unmet(&json!({"a": 0, "b": 2, "c": 0}));
        let comparisons: Vec<&str> = unmet.iter().map(|u| u.comparison.as_str()).collect();
        assert_eq!(comparisons, ["a == 1", "c == 3"]);
        assert!(e.unmet(&json!({"a": 1})).is_empty());
    }
}
