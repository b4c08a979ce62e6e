//! Exit codes and the top-level error that carries one.

use std::process::ExitCode;

/// How the program ended; the numbers are part of the CLI contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The race ran and every SLO held (or none was set); for `compare`,
    /// every gate held (or none was set).
    Success = 0,
    /// The race ran and at least one SLO failed; for `compare`, a gated
    /// metric (`--max-regression`) got worse than it allows. Either way:
    /// the engines missed a bar they were set.
    SloFailed = 1,
    /// Bad input: unreadable or invalid race file, bad flag, missing key;
    /// for `compare`, a damaged or unknown input file or a bad gate.
    BadInput = 2,
    /// No engine could be reached at all.
    Unreachable = 3,
    /// The tool itself failed (a result that could not be written, the
    /// runtime or the terminal failing, an internal error): not a verdict on
    /// the engines, so a CI gate can tell it from a regression.
    Failure = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct AppError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl AppError {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        AppError {
            exit: Exit::BadInput,
            error: error.into(),
        }
    }

    /// A failure that is not the user's input (I/O, internal): exit 4.
    pub fn failure(error: impl Into<anyhow::Error>) -> Self {
        AppError {
            exit: Exit::Failure,
            error: error.into(),
        }
    }
}

/// An error with its causes on one line, e.g. "error sending request:
/// connection refused" (reqwest's own message is terse). A cause already
/// contained in the text so far is not repeated.
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}
