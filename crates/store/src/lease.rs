//! Sharing work between processes: who holds a job (a worker, under a lease), and the leases a
//! shared backend hands out ([`crate::SharedStore`]) and every step of a worker carries.
//!
//! These types belong to the interface, not to a backend: the engine speaks them to any shared
//! store. The sled store is one process's and has no leases.

use crate::StoreError;
use reportflow_core::{Job, JobId};
use std::fmt;
use std::time::Duration;

/// The longest worker name accepted, in bytes.
const MAX_WORKER_LEN: usize = 200;

/// The name of a worker process, stored as the owner of the leases it holds and with every
/// step it writes. Two live workers must not share a name: a lease is the worker's by name and
/// token. A good name says where the worker runs, e.g. `host-4711-1733040000` (host, process
/// id, start time).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(String);

impl WorkerId {
    /// A worker name: 1 to 200 bytes of printable characters.
    pub fn new(name: impl Into<String>) -> Result<WorkerId, StoreError> {
        let name = name.into();
        let invalid = |reason| StoreError::InvalidWorker {
            shown: name.clone(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid(
                "it is empty; name the worker, e.g. after its host and process id",
            ));
        }
        if name.len() > MAX_WORKER_LEN {
            return Err(invalid("it is longer than 200 bytes; use a shorter name"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid(
                "it contains control characters; use printable characters",
            ));
        }
        Ok(WorkerId(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lease on one job: the job is the holder's to step while the lease has not expired by the
/// database's clock and nobody claimed the job since (which bumps its token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job.
    pub job: JobId,
    /// The lease token: grows by one at every claim of the job.
    pub token: u64,
}

/// A job taken by a claim ([`crate::SharedStore::claim`]).
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
    /// than this is refused ([`StoreError::LeaseTooShort`]). For a create intent
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

/// What a renewal did ([`crate::SharedStore::renew`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Renewed {
    /// The leases still held, renewed, each with how long it lasts now (database clock).
    pub kept: Vec<(Lease, Duration)>,
    /// The leases lost: expired, taken over, released, or their job ended. Let those jobs go.
    pub lost: Vec<Lease>,
}

/// What a release did ([`crate::SharedStore::release`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// The jobs given back: any worker may claim them once they are due.
    pub released: Vec<JobId>,
    /// The leases that were no longer this worker's (nothing was changed for them).
    pub not_held: Vec<Lease>,
}

/// How a lease was found lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseLoss {
    /// It expired by the database's clock (renew sooner, or lengthen the lease).
    Expired,
    /// Another worker claimed the job since (the lease token or the owner differs).
    TakenOver,
    /// Nobody holds a lease on the job (it was released, or the job ended).
    NotLeased,
}

impl fmt::Display for LeaseLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Expired => "it expired by the database's clock",
            Self::TakenOver => "another worker claimed the job since",
            Self::NotLeased => "nobody holds a lease on the job any more",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(WorkerId::new("host-1").expect("valid").as_str(), "host-1");
        assert!(WorkerId::new("").is_err());
        assert!(WorkerId::new("a\nb").is_err());
        assert!(WorkerId::new("x".repeat(201)).is_err());
        assert!(WorkerId::new("x".repeat(200)).is_ok());
    }
}
