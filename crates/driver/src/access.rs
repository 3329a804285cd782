//! What [`crate::Jobs`] asks of the store it works on: the store itself ([`Store`]), or a store
//! another process holds and answers for (the engine's control socket, in the CLI). Every
//! method means what the [`Store`] method of the same name means: the same results, the same
//! errors ([`StoreError`]), the same durability.
//!
//! (With the one store interface of `reportflow_store` — `JobStore`, issue 13 part B — this
//! trait goes: the control socket's client becomes one more implementation of that interface.)

use reportflow_core::{Input, Job, JobId, JobKey, Millis, NewJob, Policies, StateName};
use reportflow_store::{Inserted, PurgeReport, Store, StoreError, TransitionRecord};
use std::collections::BTreeMap;

/// The store operations of [`crate::Jobs`]; `Send + Sync`, shared through an `Arc`.
pub trait StoreAccess: Send + Sync {
    /// [`Store::insert_many`]: new jobs in order, idempotent on their keys, durable on return.
    fn insert_many(
        &self,
        jobs: Vec<NewJob>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError>;

    /// [`Store::get`]: the job with this id, if stored.
    fn get(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// [`Store::get_by_key`]: the job this key names, if any.
    fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError>;

    /// [`Store::list`]: up to `limit` jobs with ids above `after` (in `state`, if given).
    fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError>;

    /// [`Store::live_page`]: up to `limit` live jobs with ids above `after`.
    fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// [`Store::counts`]: jobs per state.
    fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError>;

    /// [`Store::history`]: a job's transitions, oldest first.
    fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError>;

    /// [`Store::apply`]: `input` applied to job `id` if it is still at `expected_version`.
    fn apply(
        &self,
        id: JobId,
        expected_version: u64,
        input: Input,
        now: Millis,
    ) -> Result<Job, StoreError>;

    /// [`Store::purge`]: ended jobs last changed before `older_than` removed.
    fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError>;
}

impl StoreAccess for Store {
    fn insert_many(
        &self,
        jobs: Vec<NewJob>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        Store::insert_many(self, jobs, policies, now)
    }

    fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        Store::get(self, id)
    }

    fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError> {
        Store::get_by_key(self, key)
    }

    fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        Store::list(self, state, after, limit)
    }

    fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError> {
        Store::live_page(self, after, limit)
    }

    fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError> {
        Store::counts(self)
    }

    fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError> {
        Store::history(self, id)
    }

    fn apply(
        &self,
        id: JobId,
        expected_version: u64,
        input: Input,
        now: Millis,
    ) -> Result<Job, StoreError> {
        Store::apply(self, id, expected_version, input, now)
    }

    fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError> {
        Store::purge(self, older_than)
    }
}
