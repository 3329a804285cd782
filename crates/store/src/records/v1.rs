//! Job records of version 1, as builds before labels and relative dates wrote them: the
//! core's `Job` without `label` and `origin`. Kept to decode stores written by those builds;
//! never written any more.

use reportflow_core::{Job, JobId, JobKey, JobSpec, JobState, Millis, PollPolicy};
use serde::{Deserialize, Serialize};

/// A version-1 job record (field for field, in order, what bincode read and wrote then).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobV1 {
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

impl From<JobV1> for Job {
    /// A version-1 job as today's: no label, its dates as given.
    fn from(v1: JobV1) -> Job {
        Job {
            id: v1.id,
            key: v1.key,
            spec: v1.spec,
            policy: v1.policy,
            state: v1.state,
            version: v1.version,
            attempt: v1.attempt,
            attempt_started_at: v1.attempt_started_at,
            creations: v1.creations,
            submitted_at: v1.submitted_at,
            updated_at: v1.updated_at,
            label: None,
            origin: None,
        }
    }
}
