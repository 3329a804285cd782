//! Job records of version 2, frozen as they were written, and their migration.
//!
//! Version 2 (issue 12: the retry policy, the backoff of a failed step, the create count of
//! `Requested`) had no label and no origin of the dates. The type below is the version-2 shape
//! field for field (bincode encodes a struct as its fields in order). The types it holds kept
//! their encoding in version 3 (spec, key, policies, state, backoff), so they are the core's;
//! should one of those change, its version-2 shape is frozen here too. The golden test
//! `golden::job_records_of_version_2_keep_their_bytes_and_migrate` checks this type against the
//! bytes.

use reportflow_core::{Backoff, JobId, JobKey, JobSpec, JobState, Millis, PollPolicy, RetryPolicy};
use serde::{Deserialize, Serialize};

/// A job record of version 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) id: JobId,
    pub(crate) key: JobKey,
    pub(crate) spec: JobSpec,
    pub(crate) poll: PollPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) state: JobState,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) version: u64,
    pub(crate) attempt: u32,
    pub(crate) attempt_started_at: Millis,
    pub(crate) creations: u32,
    pub(crate) submitted_at: Millis,
    pub(crate) updated_at: Millis,
}

impl From<Job> for reportflow_core::Job {
    /// A version-2 job in the current shape: no label, its dates as they were given.
    fn from(v2: Job) -> reportflow_core::Job {
        reportflow_core::Job {
            id: v2.id,
            key: v2.key,
            spec: v2.spec,
            poll: v2.poll,
            retry: v2.retry,
            state: v2.state,
            backoff: v2.backoff,
            version: v2.version,
            attempt: v2.attempt,
            attempt_started_at: v2.attempt_started_at,
            creations: v2.creations,
            submitted_at: v2.submitted_at,
            updated_at: v2.updated_at,
            label: None,
            origin: None,
        }
    }
}
