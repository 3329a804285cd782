//! What the core asks the driver to do next, and when.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// The next thing to do for a job and the time it is due; a pure function of its stored state
/// ([`crate::Job::effect`]). The driver acts at `at` (at once when it has passed) and never
/// decides a wait of its own, as str0m's `Output::Timeout` tells its caller when to come back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Record [`crate::Input::CreateSending`], then send the create request if the job is
    /// still `Requested` (past its create budget it has failed instead).
    Create {
        /// When the create is due.
        at: Millis,
    },
    /// Look through the account's instance listing for an instance of this job requested at or
    /// after `since` (a create whose answer is unknown may have reached the upstream).
    Reconcile {
        /// When this attempt's intent was recorded.
        since: Millis,
        /// When the search is due.
        at: Millis,
    },
    /// Request the status at `location`.
    Poll {
        /// When the poll is due.
        at: Millis,
        /// The status URL.
        location: String,
    },
    /// Fetch `{location}/file` and store it.
    Download {
        /// When the download is due.
        at: Millis,
        /// The report's location.
        location: String,
    },
    /// Nothing: the job has ended.
    None,
}

impl Effect {
    /// When the effect is due; `None` for [`Effect::None`].
    pub fn due(&self) -> Option<Millis> {
        match self {
            Self::Create { at }
            | Self::Reconcile { at, .. }
            | Self::Poll { at, .. }
            | Self::Download { at, .. } => Some(*at),
            Self::None => None,
        }
    }
}
