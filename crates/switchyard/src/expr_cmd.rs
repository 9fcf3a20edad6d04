//! `switchyard expr`: check and evaluate TaskRouter expressions from the command line.
//!
//! Exit codes: 0 on success (including an expression that evaluates to `false`), 2 when the expression
//! or the JSON is invalid.

use std::process::ExitCode;

use switchyard_core::expr::Expr;

/// `switchyard expr ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ExprCommand {
    /// Parse an expression; print its canonical form, or the parse error.
    Check {
        /// The expression, e.g. "skills HAS 'support' AND level > 2".
        #[arg(allow_hyphen_values = true)]
        expr: String,
    },
    /// Evaluate an expression against JSON attributes; print `true` or `false`.
    ///
    /// For a workflow target expression, nest the documents:
    /// --attributes '{"task": {...}, "worker": {...}}'.
    Eval {
        /// The expression, e.g. "task.language IN worker.languages".
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The evaluation context as a JSON document.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        attributes: String,
    },
}

pub(crate) fn run(cmd: ExprCommand) -> ExitCode {
    match cmd {
        ExprCommand::Check { expr } => match Expr::parse(&expr) {
            Ok(parsed) => {
                println!("{parsed}");
                ExitCode::SUCCESS
            }
            Err(err) => invalid(&err.render(&expr)),
        },
        ExprCommand::Eval { expr, attributes } => {
            let parsed = match Expr::parse(&expr) {
                Ok(parsed) => parsed,
                Err(err) => return invalid(&err.render(&expr)),
            };
            let context: serde_json::Value = match serde_json::from_str(&attributes) {
                Ok(context) => context,
                Err(err) => return invalid(&format!("invalid --attributes JSON: {err}")),
            };
            println!("{}", parsed.eval(&context));
            ExitCode::SUCCESS
        }
    }
}

fn invalid(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
