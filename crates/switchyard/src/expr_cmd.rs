//! `switchyard expr`: check and evaluate TaskRouter expressions from the command line.
//!
//! The expression `-` is read from standard input; `--attributes @path` reads the JSON from a file
//! (curl's convention). Exit codes: 0 on success (including an expression that evaluates to `false`),
//! 2 when the expression or the attributes are invalid or cannot be read.

use std::io::Read as _;
use std::process::ExitCode;

use serde_json::Value;
use switchyard_core::expr::Expr;

/// `switchyard expr ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ExprCommand {
    /// Parse an expression; print its canonical form, or the parse error.
    Check {
        /// The expression, e.g. "skills HAS 'support' AND level > 2"; `-` reads it from stdin.
        #[arg(allow_hyphen_values = true)]
        expr: String,
    },
    /// Evaluate an expression against JSON attributes; print `true` or `false`.
    ///
    /// For a workflow target expression, nest the documents:
    /// --attributes '{"task": {...}, "worker": {...}}'.
    Eval {
        /// The expression, e.g. "task.language IN worker.languages"; `-` reads it from stdin.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The evaluation context: a JSON object, or `@path` to read it from a file.
        #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
        attributes: String,
    },
}

pub(crate) fn run(cmd: ExprCommand) -> ExitCode {
    match run_inner(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(cmd: ExprCommand) -> Result<(), String> {
    match cmd {
        ExprCommand::Check { expr } => {
            let expr = expression_text(expr)?;
            let parsed = Expr::parse(&expr).map_err(|err| err.render(&expr))?;
            println!("{parsed}");
        }
        ExprCommand::Eval { expr, attributes } => {
            let expr = expression_text(expr)?;
            let parsed = Expr::parse(&expr).map_err(|err| err.render(&expr))?;
            let context = attributes_document(&attributes)?;
            println!("{}", parsed.eval(&context));
        }
    }
    Ok(())
}

/// The expression argument, or standard input when it is `-` (without its final line break).
fn expression_text(arg: String) -> Result<String, String> {
    if arg != "-" {
        return Ok(arg);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|err| format!("cannot read the expression from stdin: {err}"))?;
    let end = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(end);
    Ok(text)
}

/// The `--attributes` document: inline JSON, or `@path` for a file; it must be a JSON object.
fn attributes_document(arg: &str) -> Result<Value, String> {
    let (text, source) = match arg.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read --attributes file '{path}': {err}"))?;
            (text, format!(" in '{path}'"))
        }
        None => (arg.to_owned(), String::new()),
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|err| format!("invalid --attributes JSON{source}: {err}"))?;
    if !value.is_object() {
        return Err(format!(
            "--attributes{source} must be a JSON object, found {}",
            kind(&value)
        ));
    }
    Ok(value)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
