//! The one error type of the engine.

use reportflow_core::CoreError;
use reportflow_store::StoreError;
use std::path::PathBuf;
use thiserror::Error;

/// What stops the engine (as opposed to what ends a job, which is recorded with the job).
#[derive(Debug, Error)]
pub enum DriverError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request is not valid (bad spec, bad key, an input the job cannot take).
    #[error(transparent)]
    Invalid(#[from] CoreError),
    /// The configuration cannot be used.
    #[error("{0}")]
    Config(String),
    /// `run` needs credentials and has none.
    #[error(
        "no credentials: set BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (OAuth2), or the legacy BANDWIDTH_USERNAME and BANDWIDTH_PASSWORD (Basic)"
    )]
    NoCredentials,
    /// An upstream request outside of any job could not reach the upstream or the proxy in
    /// front of it (connection refused, DNS, connect timeout, a refused tunnel); the detail says
    /// what happened.
    #[error("cannot reach the upstream: {0}; check the base URL and the network, then try again")]
    Unreachable(String),
    /// An upstream request outside of any job failed (the catalogue); the failure carries the
    /// HTTP status and upstream code when there were any.
    #[error("the upstream request failed: {0}")]
    Upstream(reportflow_core::Failure),
    /// No job has this id or key.
    #[error("no job {0:?} in the store; list jobs with `reportflow status`")]
    UnknownJob(String),
    /// A local file operation failed; the job is left as it was and resumes on the next run.
    #[error(
        "could not {action} {path}: {source}; check the disk space and permissions, then run again"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A server's TLS certificate was refused (untrusted issuer, wrong name, expired): the
    /// message says which and what to do. Nothing was sent on that connection; the job is left
    /// as it was and resumes once the trust settings are fixed.
    #[error("{0}")]
    Certificate(String),
    /// The engine was shut down while working; every job is resumable.
    #[error("the engine was shut down; run again to continue")]
    ShutDown,
    /// On a shared store: this worker's lease on the job would not surely outlast what the
    /// step was about to do (send a create, place a file), so it did nothing; the job is left
    /// to whoever holds it next.
    #[error(
        "job {id}: this worker's lease on it would not outlast the step, so nothing was sent or placed; another worker (or this one, later) takes the job from its stored state"
    )]
    LeaseEnding {
        /// The job.
        id: reportflow_core::JobId,
    },
}

impl DriverError {
    /// Wraps an I/O error with what was being done and where.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        DriverError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
