//! What the engine tells its callers while it works (for progress bars and logs).

use reportflow_core::{JobId, StateName};
use serde::Serialize;

/// One thing that happened. Slow receivers may miss events (they are for display).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run started with this many live jobs.
    RunStarted {
        /// Jobs not yet in a terminal state.
        live: usize,
    },
    /// A job moved from one state to another.
    Changed {
        /// The job.
        id: JobId,
        /// Its key.
        key: String,
        /// The state it left.
        from: StateName,
        /// The state it entered.
        to: StateName,
    },
    /// Bytes of a download arrived.
    Progress {
        /// The job.
        id: JobId,
        /// Bytes written so far.
        bytes: u64,
        /// The expected size, when the upstream said.
        total: Option<u64>,
    },
    /// A request failed transiently and will be tried again.
    Retrying {
        /// The job.
        id: JobId,
        /// What failed (never carries credentials).
        reason: String,
        /// The wait before the next try, in milliseconds.
        delay_ms: u64,
    },
}
