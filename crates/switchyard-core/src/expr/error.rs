//! [`ExprError`]: a parse error with a position and a message written for end users.

use std::fmt::Write as _;

/// Why an expression was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is empty or only whitespace.
    Empty,
    /// A token was not what the grammar allows at that point.
    Syntax,
    /// A quote is never closed.
    UnterminatedString,
    /// A key contains a hyphen (`first-name`), which TaskRouter does not support.
    HyphenInKey,
    /// A number literal does not fit in a 64-bit float.
    NumberOutOfRange,
    /// An `[n]` index does not fit in memory addressing.
    IndexOutOfRange,
    /// The input is longer than [`MAX_LENGTH`](super::MAX_LENGTH) bytes.
    TooLong,
    /// Parentheses and brackets nest deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    TooDeep,
    /// The parser ran out of its resource budget (should not happen within the limits above).
    TooComplex,
}

/// A rejected expression: what is wrong and where.
///
/// `Display` is the user-facing text, e.g.
/// `at line 1, column 6: expected a quoted string, a number, true, false, null, a list or a key after '==', found the end of the expression`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at line {line}, column {column}: {message}")]
#[non_exhaustive]
pub struct ExprError {
    /// The category of the problem, for programs; `message` is for people.
    pub kind: ErrorKind,
    /// What is wrong, in words (without the position).
    pub message: String,
    /// Byte offset of the problem in the input (0-based).
    pub offset: usize,
    /// Line of the problem (1-based).
    pub line: usize,
    /// Column of the problem (1-based, counted in characters).
    pub column: usize,
}

impl ExprError {
    /// Builds an error at byte `offset` of `src`, computing the line and column.
    pub(crate) fn at(
        src: &str,
        offset: usize,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        let offset = floor_char_boundary(src, offset);
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ExprError {
            kind,
            message: message.into(),
            offset,
            line,
            column,
        }
    }

    /// Renders the error with the offending line and a caret under the position:
    ///
    /// ```
    /// use switchyard_core::expr::Expr;
    ///
    /// let src = "x === 1";
    /// let err = Expr::parse(src).unwrap_err();
    /// assert_eq!(
    ///     err.render(src),
    ///     "at line 1, column 5: expected a quoted string, a number, true, false, null, a list or a key \
    ///      after '==', found '='\n  |\n1 | x === 1\n  |     ^"
    /// );
    /// ```
    ///
    /// `src` must be the text that was parsed. Lines over 100 characters are shown as a window around
    /// the position.
    pub fn render(&self, src: &str) -> String {
        const WIDTH: usize = 100;
        let line_text = src
            .split('\n')
            .nth(self.line.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r');
        let col = self.column.saturating_sub(1);
        let len = line_text.chars().count();
        // Short lines are shown whole; long ones as a window with the position in the middle.
        let start = if len <= WIDTH {
            0
        } else {
            col.saturating_sub(WIDTH / 2)
        };
        let shown: String = line_text.chars().skip(start).take(WIDTH).collect();
        let truncated_end = len > start + WIDTH;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let mut out = String::new();
        let lead = if start > 0 { "…" } else { "" };
        let tail = if truncated_end { "…" } else { "" };
        let caret_at = col - start + usize::from(start > 0);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{self}\n{pad} |\n{number} | {lead}{shown}{tail}\n{pad} | {}^",
            " ".repeat(caret_at)
        );
        out
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
