//! What the driver reports back to the core.

use crate::{Failure, Progress, StoredFile};
use serde::{Deserialize, Serialize};

/// Something that happened to a job, reported by the driver with the current time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Input {
    /// A create request is about to be sent (recorded, durably, before sending it). Past the
    /// create budget the job ends `Failed` instead: send nothing unless it is still `Requested`.
    CreateSending,
    /// The create was sent and no answer came back (the connection broke or timed out after
    /// sending, or the answer was unreadable): it may have been applied.
    CreateUnanswered {
        /// What went wrong (never carries credentials).
        reason: String,
    },
    /// The create was accepted with this `Location` (or reconciliation found the instance).
    CreateAccepted {
        /// The report's location, absolute, as the upstream gave it.
        location: String,
    },
    /// Reconciliation looked through the instance listing and found no instance of this job.
    ReconcileFoundNothing,
    /// The billing create answered 204: no data for the range.
    CreateNoData,
    /// A status request answered this status.
    StatusSeen {
        /// What the status means.
        progress: Progress,
        /// The status literal as received (for people; may be unknown upstream text).
        raw: String,
    },
    /// The file request answered "not ready yet" (202, or a still-constructing code).
    FileNotReady,
    /// The file is stored under its final name.
    FileStored {
        /// The stored file.
        file: StoredFile,
    },
    /// The upstream output is gone (expired, 404 on the instance or file, 19049).
    OutputGone {
        /// What the upstream said.
        reason: String,
    },
    /// The job's current step failed in a way that may pass (a 5xx, a reset, a timeout, a 429,
    /// no connection), after the HTTP layer's own small retry of a GET. The core counts it and
    /// says when to try again, or ends the job once its budget of failed steps is spent.
    StepFailed {
        /// What went wrong (never carries credentials).
        reason: String,
    },
    /// The upstream refused for good.
    PermanentError {
        /// Why.
        failure: Failure,
    },
    /// The poll deadline has passed.
    DeadlinePassed,
    /// The user cancelled the job.
    Cancel,
    /// The user asked for a new attempt of an ended job.
    Retry,
}

impl Input {
    /// A short name of the input, for history records and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateSending => "create-sending",
            Self::CreateUnanswered { .. } => "create-unanswered",
            Self::CreateAccepted { .. } => "create-accepted",
            Self::ReconcileFoundNothing => "reconcile-found-nothing",
            Self::CreateNoData => "create-no-data",
            Self::StatusSeen { .. } => "status-seen",
            Self::FileNotReady => "file-not-ready",
            Self::FileStored { .. } => "file-stored",
            Self::OutputGone { .. } => "output-gone",
            Self::StepFailed { .. } => "step-failed",
            Self::PermanentError { .. } => "permanent-error",
            Self::DeadlinePassed => "deadline-passed",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
        }
    }

    /// A one-line summary of the input with its data, for history records.
    pub fn summary(&self) -> String {
        match self {
            Self::CreateAccepted { location } => format!("create-accepted {location}"),
            Self::CreateUnanswered { reason } => format!("create-unanswered: {reason}"),
            Self::StatusSeen { raw, .. } => format!("status-seen {raw:?}"),
            Self::FileStored { file } => {
                format!(
                    "file-stored {} ({} bytes, sha256 {})",
                    file.path, file.bytes, file.sha256
                )
            }
            Self::OutputGone { reason } => format!("output-gone: {reason}"),
            Self::StepFailed { reason } => format!("step-failed: {reason}"),
            Self::PermanentError { failure } => format!("permanent-error: {failure}"),
            other => other.name().to_string(),
        }
    }
}
