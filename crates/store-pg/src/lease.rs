//! What a worker holds: leases on jobs, as `claim` hands them out and steps carry them.

use crate::WorkerId;
use reportflow_core::{Job, JobId};
use std::time::Duration;

/// A lease on one job: the job is the holder's to step while the lease has not expired by the
/// database's clock and nobody claimed the job since (which bumps its token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job.
    pub job: JobId,
    /// The lease token: grows by one at every claim of the job.
    pub token: u64,
}

/// A job taken by [`crate::PgStore::claim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The job as stored.
    pub job: Job,
    /// The lease the claim took.
    pub lease: Lease,
    /// How long the lease lasts, by the database's clock, measured when it was taken. Count
    /// it from before the call was made: the lease ends no sooner than that.
    pub remaining: Duration,
}

/// The lease a step is written under: the step is refused (and nothing written) unless the
/// job's lease is still `worker`'s, under `token`, unexpired by the database's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepLease {
    /// The worker that holds the lease.
    pub worker: WorkerId,
    /// Its token, from [`Claimed::lease`].
    pub token: u64,
    /// How long the lease must last from this step, at the least: a step written under a
    /// lease renews it for the store's lease duration, and one whose lease duration is shorter
    /// than this is refused ([`crate::PgStoreError::LeaseTooShort`]). For a create intent
    /// ([`reportflow_core::Input::CreateSending`]): the longest the create request may take.
    pub must_last: Duration,
}

impl StepLease {
    /// The lease `lease` of `worker`, with no minimum length.
    pub fn new(worker: &WorkerId, lease: Lease) -> StepLease {
        StepLease {
            worker: worker.clone(),
            token: lease.token,
            must_last: Duration::ZERO,
        }
    }

    /// This lease, required to last at least `must_last` from the step.
    pub fn lasting(self, must_last: Duration) -> StepLease {
        StepLease { must_last, ..self }
    }
}

/// What [`crate::PgStore::renew`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Renewed {
    /// The leases still held, renewed, each with how long it lasts now (database clock).
    pub kept: Vec<(Lease, Duration)>,
    /// The leases lost: expired, taken over, released, or their job ended. Let those jobs go.
    pub lost: Vec<Lease>,
}

/// What [`crate::PgStore::release`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// The jobs given back: any worker may claim them once they are due.
    pub released: Vec<JobId>,
    /// The leases that were no longer this worker's (nothing was changed for them).
    pub not_held: Vec<Lease>,
}
