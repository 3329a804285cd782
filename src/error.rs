//! The CLI's one error type and how every error maps to an exit code.

use reportflow_driver::DriverError;
use reportflow_sim::SimError;
use reportflow_store::{PgError, StoreError};
use thiserror::Error;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a runtime error (store locked, no credentials, upstream unreachable, disk).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code: a usage or input error (clap's own errors use it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: some job of the run ended failed, expired or cancelled.
pub const EXIT_JOBS: u8 = 3;

/// How a command that did not fail ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went as asked.
    Success,
    /// The run finished, but some job ended `Failed`, `Expired` or `Cancelled`.
    JobsUnsuccessful,
}

impl Outcome {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => EXIT_OK,
            Outcome::JobsUnsuccessful => EXIT_JOBS,
        }
    }
}

/// Everything a command can fail with. Each message names the problem and the fix.
#[derive(Debug, Error)]
pub enum CliError {
    /// The user asked for something that cannot be done as given (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The environment stopped the command (exit 1).
    #[error("{0}")]
    Runtime(String),
    /// A batch file has problems, one `FILE:LINE: message` each (exit 2).
    #[error("{}", .0.join("\n"))]
    Batch(Vec<String>),
    /// The engine refused or failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The simulator could not start.
    #[error(transparent)]
    Sim(#[from] SimError),
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Driver(DriverError::Store(e))
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Batch(_) => EXIT_USAGE,
            CliError::Runtime(_) => EXIT_RUNTIME,
            CliError::Sim(SimError::Config(_)) => EXIT_USAGE,
            CliError::Sim(_) => EXIT_RUNTIME,
            CliError::Driver(e) => driver_exit_code(e),
        }
    }

    /// The lines to print after `error: ` (a batch file has one per problem).
    pub fn lines(&self) -> Vec<String> {
        match self {
            CliError::Batch(problems) => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// Input the user can fix by asking differently is a usage error; everything else is runtime.
fn driver_exit_code(error: &DriverError) -> u8 {
    match error {
        DriverError::Invalid(_) | DriverError::UnknownJob(_) | DriverError::Config(_) => EXIT_USAGE,
        DriverError::Store(
            StoreError::KeyConflict { .. }
            | StoreError::NotFound { .. }
            | StoreError::Rejected(_)
            | StoreError::InvalidWorker { .. }
            | StoreError::Answered { refusal: true, .. }
            | StoreError::Postgres(PgError::InvalidUrl { .. } | PgError::InvalidOptions { .. }),
        ) => EXIT_USAGE,
        // Locked, corrupt, unwritable or unreachable store, no credentials, upstream, disk,
        // shut down.
        _ => EXIT_RUNTIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reportflow_core::CoreError;
    use std::path::PathBuf;

    #[test]
    fn driver_errors_map_to_the_documented_codes() {
        let locked = CliError::from(StoreError::Locked {
            dir: PathBuf::from("s"),
        });
        assert_eq!(locked.exit_code(), EXIT_RUNTIME);
        let invalid = CliError::Driver(DriverError::Invalid(CoreError::InvalidSpec {
            problems: vec![],
        }));
        assert_eq!(invalid.exit_code(), EXIT_USAGE);
        assert_eq!(
            CliError::Driver(DriverError::UnknownJob("x".into())).exit_code(),
            EXIT_USAGE
        );
        assert_eq!(
            CliError::Driver(DriverError::NoCredentials).exit_code(),
            EXIT_RUNTIME
        );
        assert_eq!(Outcome::JobsUnsuccessful.code(), EXIT_JOBS);
    }
}
