//! What the core asks the driver to do next.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// The next thing to do for a job; a pure function of its stored state ([`crate::Job::effect`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Record [`crate::Input::CreateSending`], then send the create request.
    Create,
    /// Look through the account's instance listing for an instance of this job requested at or
    /// after `since` (a create may have reached the upstream before a crash).
    Reconcile {
        /// When this attempt's intent was recorded.
        since: Millis,
    },
    /// Request the status at `location` once `at` has come.
    Poll {
        /// When the poll is due.
        at: Millis,
        /// The status URL.
        location: String,
    },
    /// Fetch `{location}/file` and store it.
    Download {
        /// The report's location.
        location: String,
    },
    /// Nothing: the job has ended.
    None,
}
