//! What the engine tells its callers while it works (for progress bars and logs).

use reportflow_core::{JobId, StateName};
use serde::Serialize;
use std::time::Duration;
use tokio::sync::broadcast;

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

/// Tells the listeners that `request` failed for `reason` and is tried again after `delay`,
/// and logs it in one line at the default level (warn), so that nobody watches a silent wait.
/// `JobId(0)` is a request outside any job (the catalogue).
pub(crate) fn announce_retry(
    events: &broadcast::Sender<Event>,
    id: JobId,
    request: &str,
    reason: &str,
    delay: Duration,
) {
    let job = if id.0 == 0 {
        String::new()
    } else {
        format!("job {id}: ")
    };
    tracing::warn!("{job}retrying {request} in {}: {reason}", wait_text(delay));
    let _ = events.send(Event::Retrying {
        id,
        reason: reason.to_string(),
        delay_ms: delay.as_millis() as u64,
    });
}

/// A wait as a person reads it: `250 ms`, `1.5 s`.
fn wait_text(delay: Duration) -> String {
    if delay < Duration::from_secs(1) {
        format!("{} ms", delay.as_millis())
    } else {
        format!("{:.1} s", delay.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::wait_text;
    use std::time::Duration;

    #[test]
    fn waits_read_well() {
        assert_eq!(wait_text(Duration::from_millis(250)), "250 ms");
        assert_eq!(wait_text(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(wait_text(Duration::from_secs(90)), "90.0 s");
    }
}
