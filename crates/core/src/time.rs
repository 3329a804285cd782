//! Points in time as the core sees them: milliseconds since the Unix epoch, given by the caller.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in time in milliseconds since the Unix epoch (UTC). The core never reads a clock:
/// the driver passes the current `Millis` with every input.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct Millis(pub u64);

impl Millis {
    /// This time moved `ms` milliseconds later, saturating at the far future.
    pub fn plus_ms(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
