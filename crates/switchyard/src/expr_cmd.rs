//! `switchyard expr`: check and evaluate TaskRouter expressions from the command line.
//! (Placeholder: being written.)

use std::process::ExitCode;

/// `switchyard expr ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ExprCommand {}

pub(crate) fn run(cmd: ExprCommand) -> ExitCode {
    match cmd {}
}
