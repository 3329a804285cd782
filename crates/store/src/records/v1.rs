//! Job records of version 1, frozen as they were written, and their migration.
//!
//! Version 1 had no retry policy and no backoff, and `Requested` counted only `sends` (the
//! creates whose answer was never recorded, reset by a reconciliation that found nothing). The
//! types below are the version-1 shapes field for field and variant for variant (bincode
//! encodes a struct as its fields in order and an enum by its variant's index). The types they
//! hold that kept their encoding (spec, key, poll policy, upstream, file, failure) are the
//! core's; should one of those change, its version-1 shape is frozen here too. The golden test
//! `golden::job_records_of_version_1_keep_their_bytes_and_migrate` checks these types against
//! the bytes. A version-1 record migrates to version 2 ([`super::v2::Job`]), and from there to
//! the current shape.

use super::v2;
use reportflow_core::{
    Failure, JobId, JobKey, JobSpec, Millis, PollPolicy, RetryPolicy, StoredFile, Upstream,
};
use serde::{Deserialize, Serialize};

/// A job record of version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) id: JobId,
    pub(crate) key: JobKey,
    pub(crate) spec: JobSpec,
    pub(crate) policy: PollPolicy,
    pub(crate) state: JobState,
    pub(crate) version: u64,
    pub(crate) attempt: u32,
    pub(crate) attempt_started_at: Millis,
    pub(crate) creations: u32,
    pub(crate) submitted_at: Millis,
    pub(crate) updated_at: Millis,
}

/// A job state of version 1 (the variants in their version-1 order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JobState {
    Requested {
        sends: u32,
    },
    Created {
        upstream: Upstream,
    },
    Polling {
        upstream: Upstream,
        polls: u32,
        next_poll_at: Millis,
        last_status: String,
    },
    Ready {
        upstream: Upstream,
    },
    Completed {
        upstream: Upstream,
    },
    Downloaded {
        upstream: Upstream,
        file: StoredFile,
    },
    Expired {
        reason: String,
    },
    NoData,
    Failed {
        failure: Failure,
    },
    Cancelled,
}

impl From<Job> for v2::Job {
    /// A version-1 job in the version-2 shape: the default retry policy, no backoff; a
    /// `Requested { sends }` keeps its count as creates not confirmed, in doubt when it is not
    /// zero (an account report's listing is then searched first, as version 1 did).
    fn from(v1: Job) -> v2::Job {
        v2::Job {
            id: v1.id,
            key: v1.key,
            spec: v1.spec,
            poll: v1.policy,
            retry: RetryPolicy::default(),
            state: v1.state.into_v2(v1.updated_at),
            backoff: None,
            version: v1.version,
            attempt: v1.attempt,
            attempt_started_at: v1.attempt_started_at,
            creations: v1.creations,
            submitted_at: v1.submitted_at,
            updated_at: v1.updated_at,
        }
    }
}

impl JobState {
    /// The state in the version-2 shape (which the current one kept); a create still to come
    /// is due at `updated_at`.
    fn into_v2(self, updated_at: Millis) -> reportflow_core::JobState {
        use reportflow_core::JobState as Now;
        match self {
            JobState::Requested { sends } => Now::Requested {
                unconfirmed: sends,
                in_doubt: sends > 0,
                next_at: updated_at,
                last_error: None,
            },
            JobState::Created { upstream } => Now::Created { upstream },
            JobState::Polling {
                upstream,
                polls,
                next_poll_at,
                last_status,
            } => Now::Polling {
                upstream,
                polls,
                next_poll_at,
                last_status,
            },
            JobState::Ready { upstream } => Now::Ready { upstream },
            JobState::Completed { upstream } => Now::Completed { upstream },
            JobState::Downloaded { upstream, file } => Now::Downloaded { upstream, file },
            JobState::Expired { reason } => Now::Expired { reason },
            JobState::NoData => Now::NoData,
            JobState::Failed { failure } => Now::Failed { failure },
            JobState::Cancelled => Now::Cancelled,
        }
    }
}
