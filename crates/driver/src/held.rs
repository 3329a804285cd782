//! A lease this worker holds on a job of a shared store, as the worker sees it: the lease, and
//! the moment (on this machine's monotonic clock) before which it surely still holds.
//!
//! The store says how long a lease lasts, by the database's clock, measured when it was taken
//! or renewed; the worker counts that from an `Instant` taken *before* the call that returned
//! it, so network latency and a paused process only ever shorten its own view, never lengthen
//! it. The step of a job asks this view before anything it cannot take back: sending a create,
//! placing a downloaded file under its name. Every write is fenced by the store anyway.

use reportflow_store::{Lease, StepLease, WorkerId};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A lease on one job and until when this worker may count on it.
#[derive(Debug)]
pub(crate) struct Held {
    lease: Lease,
    worker: WorkerId,
    until: Mutex<Instant>,
}

impl Held {
    /// `lease` of `worker`, taken by a call made at `asked` that said it lasts `remaining`.
    pub(crate) fn new(
        worker: &WorkerId,
        lease: Lease,
        asked: Instant,
        remaining: Duration,
    ) -> Held {
        Held {
            lease,
            worker: worker.clone(),
            until: Mutex::new(asked + remaining),
        }
    }

    /// The lease.
    pub(crate) fn lease(&self) -> Lease {
        self.lease
    }

    /// The lease a step carries, required to last `must_last` from the step.
    pub(crate) fn step_lease(&self, must_last: Duration) -> StepLease {
        StepLease::new(&self.worker, self.lease).lasting(must_last)
    }

    /// The store renewed the lease by a call made at `asked`: it lasts `remaining` from then.
    pub(crate) fn renewed(&self, asked: Instant, remaining: Duration) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        *until = (*until).max(asked + remaining);
    }

    /// Whether the lease surely holds for `span` from now.
    pub(crate) fn holds_for(&self, span: Duration) -> bool {
        let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
        Instant::now() + span <= until
    }

    /// Whether the lease may have run out already (this worker's view).
    pub(crate) fn ran_out(&self) -> bool {
        !self.holds_for(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_counts_from_before_the_call_and_only_grows() {
        let worker = WorkerId::new("w").expect("a name");
        let lease = Lease {
            job: reportflow_core::JobId(1),
            token: 3,
        };
        let asked = Instant::now();
        let held = Held::new(&worker, lease, asked, Duration::from_secs(10));
        assert!(held.holds_for(Duration::from_secs(5)));
        assert!(!held.holds_for(Duration::from_secs(11)));
        held.renewed(asked, Duration::from_secs(2));
        assert!(
            held.holds_for(Duration::from_secs(5)),
            "a shorter answer never shortens"
        );
        held.renewed(asked, Duration::from_secs(30));
        assert!(held.holds_for(Duration::from_secs(20)));
        let gone = Held::new(&worker, lease, asked, Duration::ZERO);
        assert!(gone.ran_out());
        assert_eq!(held.step_lease(Duration::from_secs(1)).token, 3);
    }
}
