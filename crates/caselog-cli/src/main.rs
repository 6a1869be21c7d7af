//! `caselog`: the command-line tool of the caselog case store.
//!
//! Errors go to standard error with their whole chain and a non-zero exit;
//! a closed standard output (`caselog search ... | head`) ends the command
//! quietly with success.

mod cli;
mod commands;
mod demo;
mod destination;
mod export;
mod import;
mod input;
mod progress;
mod render;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Exit status of an import that finished but rejected some lines.
pub const EXIT_REJECTED: u8 = 3;

/// A command's outcome when it did not fail.
pub enum Outcome {
    /// Everything worked.
    Success,
    /// The command finished, with the given exit status (e.g. rejected import lines).
    Status(u8),
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let pipe = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(pipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if pipe(io)))
    })
}

/// The error and its causes as one line, `outer: inner: innermost`. The
/// store's errors show their cause rather than return it, so no cause is
/// printed twice.
fn error_line(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = commands::run(cli, &mut out).and_then(|outcome| {
        out.flush()?;
        Ok(outcome)
    });
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Status(code)) => ExitCode::from(code),
        // The reader went away (`| head`): what it wanted it got.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Whatever was printed so far still goes out before the error.
            let _ = out.flush();
            let _ = writeln!(std::io::stderr(), "error: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_does_not_repeat_quoted_causes() {
        // The store's errors show their cause and do not return it, so the
        // chain has each text once.
        let query = caselog_core::parse("\"a", &caselog_core::QueryLimits::default()).unwrap_err();
        let err = anyhow::Error::new(caselog_store::StoreError::from(query.clone())).context("searching for \"a\"");
        let line = error_line(&err);
        assert_eq!(line, format!("searching for \"a\": invalid query: {query}"));
        assert_eq!(line.matches(&query.to_string()).count(), 1, "{line}");
        let plain = anyhow::Error::new(std::io::Error::other("disk full")).context("writing");
        assert_eq!(error_line(&plain), "writing: disk full");
    }

    #[test]
    fn broken_pipes_are_recognised_through_context() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
