//! The one store interface: what the engine, the CLI and embedders ask of any backend.
//!
//! [`JobStore`] is what every backend does the same way: submit (idempotent on the key), record
//! a step through the core's `Job::apply` fenced by the job's version, read, purge, and make
//! everything durable. [`SharedStore`] is what a backend shared by several processes adds (the
//! PostgreSQL one): claiming due jobs under leases, renewing and releasing them, the next due
//! time, and hints of new work. Both traits are object safe (`async_trait` boxes their
//! futures, which are `Send`): the engine holds an `Arc<dyn JobStore>` and never names a
//! backend.
//!
//! Backends: [`crate::SledStore`] (this crate; a directory, one process) and
//! `reportflow_store_pg::PgStore` (a `postgres://` URL, any number of processes). Errors are
//! one type for both ([`StoreError`]). `docs/store.md` says what each call means on each.

use crate::lease::{Claimed, Lease, Released, Renewed, WorkerId};
use crate::{
    AppliedStep, FlushObserver, Inserted, PurgeReport, Step, StoreError, TransitionRecord,
};
use async_trait::async_trait;
use reportflow_core::{Job, JobId, JobKey, JobSpec, Label, Millis, NewJob, Policies, StateName};
use std::collections::BTreeMap;
use std::time::Duration;

/// One step of a job's history with the lease it was written under, as
/// [`JobStore::history_with_leases`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeasedTransition {
    /// The step, as [`JobStore::history`] returns it.
    pub transition: TransitionRecord,
    /// The worker and lease token it was written under; `None` for the submit, for steps
    /// written without a lease (a user's cancel or retry), and for every step of the sled
    /// store.
    pub lease: Option<(WorkerId, u64)>,
}

/// A job store: the jobs, their histories and their indexes, whatever the backend.
///
/// Every write is atomic (the job's record, its history entry, its indexes and the counts
/// together) and versioned. Reads are not snapshots across calls. Job times (`now`, due times,
/// `updated_at`) are the core's, given by the caller.
#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// The store as messages name it: its directory, or its URL without the password.
    fn describe(&self) -> String;

    /// Stores new jobs in `Requested` with `policies` (each with its label and the origin of its
    /// dates), in order, or finds the job a key already names when its spec is the same
    /// (`created: false`; the rest of a repeated submit is ignored); another spec under a key is
    /// [`StoreError::KeyConflict`], which stops the batch there (the jobs before it stay
    /// stored). Durable when it returns. Ids grow and are never reused; the sled store's are
    /// dense, the PostgreSQL store's may skip numbers.
    async fn insert_many(
        &self,
        jobs: Vec<NewJob>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError>;

    /// [`JobStore::insert_many`] for one job.
    async fn insert(
        &self,
        spec: JobSpec,
        key: JobKey,
        policies: Policies,
        now: Millis,
    ) -> Result<Inserted, StoreError> {
        let job = NewJob::new(spec, Some(key));
        let mut inserted = self.insert_many(vec![job], &policies, now).await?;
        inserted.pop().ok_or_else(|| StoreError::Internal {
            store: self.describe(),
            detail: "a job was neither stored nor refused".to_string(),
        })
    }

    /// Applies `steps` in order (a later step of a job sees the earlier one) through the core's
    /// `Job::apply`, each written only if the job is still at the step's expected version
    /// ([`StoreError::Conflict`]) and, on a shared store, its lease still holds
    /// ([`StoreError::LeaseLost`]). Each step has its own result; a refused step writes nothing
    /// and does not hold up the others. A step is durable when its result is handed back
    /// whenever the design asks it to be (`Job::must_flush`: before a create is sent, when a
    /// Location arrives, when a job ends); others may ride on a background flush (sled).
    /// `Err` is a failure of the whole batch.
    async fn apply_many(
        &self,
        steps: &[Step],
        now: Millis,
    ) -> Result<Vec<Result<AppliedStep, StoreError>>, StoreError>;

    /// [`JobStore::apply_many`] for one step.
    async fn apply(&self, step: Step, now: Millis) -> Result<AppliedStep, StoreError> {
        let id = step.id;
        let mut applied = self.apply_many(std::slice::from_ref(&step), now).await?;
        applied.pop().unwrap_or_else(|| {
            Err(StoreError::Internal {
                store: self.describe(),
                detail: format!("a step of job {id} was neither recorded nor refused"),
            })
        })
    }

    /// The job with this id, if it is stored.
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// The job this key names, if any.
    async fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError>;

    /// Up to `limit` jobs with ids above `after`, in ascending id order; only those in `state`
    /// when one is given. Pass the last id of a page as `after` to get the next page.
    async fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError>;

    /// Up to `limit` live jobs (not ended) with ids above `after`, in id order, read from the
    /// index of live jobs alone: its cost does not grow with the ended jobs kept.
    async fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// The job's transitions in order: seq 0 is the submit, then one per applied input.
    /// [`StoreError::NotFound`] when the job is not stored.
    async fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError>;

    /// [`JobStore::history`] with the worker and lease token each step was written under
    /// (none on a store without leases).
    async fn history_with_leases(&self, id: JobId) -> Result<Vec<LeasedTransition>, StoreError> {
        Ok(self
            .history(id)
            .await?
            .into_iter()
            .map(|transition| LeasedTransition {
                transition,
                lease: None,
            })
            .collect())
    }

    /// How many jobs are in each state; every state is present. Kept by every write, not
    /// counted by a scan.
    async fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError>;

    /// Removes every ended job whose end is before `older_than` (core time), with its history;
    /// its key may then name a new job. Live jobs are never removed. Durable when it returns.
    async fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError>;

    /// Makes every write acknowledged so far durable (sled: a flush of the database; on
    /// PostgreSQL every write is committed when it returns, so nothing is left to do).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Has `observer` hear how long each making-durable takes, for an engine's metrics (sled:
    /// a flush of the database with its `fsync`, once per group of writers; PostgreSQL: the
    /// `COMMIT` of a write). The first observer given stays; by default none is heard.
    fn observe_flushes(&self, observer: FlushObserver) {
        let _ = observer;
    }

    /// The work sharing of a store that several processes share; `None` for a store one
    /// process holds (sled), whose live jobs are all that process's.
    fn shared(&self) -> Option<&dyn SharedStore> {
        None
    }
}

/// What a store shared by several worker processes adds: leases.
///
/// A worker claims due jobs; each claim takes a lease (owner, a token bumped at every claim,
/// an expiry by the database's clock) that the worker renews while it works on the job. Every
/// step a worker writes carries its lease ([`Step::lease`]) and is refused once the lease is
/// lost (fencing). See `docs/store.md`, *Leases and fencing*.
#[async_trait]
pub trait SharedStore: Send + Sync {
    /// How long a claim, a renewal or a leased step keeps a job the worker's, by the database's
    /// clock.
    fn lease_duration(&self) -> Duration;

    /// Takes up to `limit` live jobs due at `now` (core time) that nobody holds (only those with
    /// `label`, when given), earliest due first, never more of one account's jobs than
    /// `per_account_limit` minus those of that account already leased by anyone (the bound is
    /// global).
    async fn claim(
        &self,
        worker: &WorkerId,
        limit: usize,
        per_account_limit: usize,
        label: Option<&Label>,
        now: Millis,
    ) -> Result<Vec<Claimed>, StoreError>;

    /// Extends the leases `worker` still holds; the others are lost (let those jobs go).
    async fn renew(&self, worker: &WorkerId, leases: &[Lease]) -> Result<Renewed, StoreError>;

    /// Gives back the jobs of leases `worker` still holds (a clean shutdown, a job whose next
    /// step is far away): anyone may claim them once they are due.
    async fn release(&self, worker: &WorkerId, leases: &[Lease]) -> Result<Released, StoreError>;

    /// The earliest due time (core time) of the live jobs nobody holds (only those with `label`,
    /// when given); `None` when there are none. A dead worker's jobs count once its leases
    /// expired: claim periodically as well.
    async fn next_due(&self, label: Option<&Label>) -> Result<Option<Millis>, StoreError>;

    /// Starts listening for hints that new work may be there (new jobs, a retried job,
    /// released leases).
    async fn listen(&self) -> Result<Box<dyn WorkHints>, StoreError>;
}

/// Hints that new work may be there, from a shared store. Hints can be missed: claim
/// periodically as well.
#[async_trait]
pub trait WorkHints: Send + Sync {
    /// Waits for the next hint; hints that came while nobody waited are folded into one,
    /// which the next call returns at once.
    async fn hint(&self);
}
