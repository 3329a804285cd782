//! The PostgreSQL store as the store interface: [`JobStore`] (what every backend does) and
//! [`SharedStore`] (leases), each call the store's own.

use crate::{PgStore, WorkListener};
use reportflow_core::{Job, JobId, JobKey, Label, Millis, NewJob, Policies, StateName};
use reportflow_store::{
    AppliedStep, Claimed, FlushObserver, Inserted, JobStore, Lease, LeasedTransition, PurgeReport,
    Released, Renewed, SharedStore, Step, StoreError, TransitionRecord, WorkHints, WorkerId,
    async_trait,
};
use std::collections::BTreeMap;
use std::time::Duration;

#[async_trait]
impl JobStore for PgStore {
    fn describe(&self) -> String {
        self.url().to_string()
    }

    async fn insert_many(
        &self,
        jobs: Vec<NewJob>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        PgStore::insert_many(self, jobs, policies, now).await
    }

    async fn apply_many(
        &self,
        steps: &[Step],
        now: Millis,
    ) -> Result<Vec<Result<AppliedStep, StoreError>>, StoreError> {
        PgStore::apply_many(self, steps, now).await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        PgStore::get(self, id).await
    }

    async fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError> {
        PgStore::get_by_key(self, key).await
    }

    async fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        PgStore::list(self, state, after, limit).await
    }

    async fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError> {
        PgStore::live_page(self, after, limit).await
    }

    async fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError> {
        PgStore::history(self, id).await
    }

    async fn history_with_leases(&self, id: JobId) -> Result<Vec<LeasedTransition>, StoreError> {
        PgStore::history_with_leases(self, id).await
    }

    async fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError> {
        PgStore::counts(self).await
    }

    async fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError> {
        PgStore::purge(self, older_than).await
    }

    /// Nothing to do: every write was committed (durably) before it returned.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn observe_flushes(&self, observer: FlushObserver) {
        let _ = self.inner.flush_observer.set(observer);
    }

    fn shared(&self) -> Option<&dyn SharedStore> {
        Some(self)
    }
}

#[async_trait]
impl SharedStore for PgStore {
    fn lease_duration(&self) -> Duration {
        self.options().lease
    }

    async fn claim(
        &self,
        worker: &WorkerId,
        limit: usize,
        per_account_limit: usize,
        label: Option<&Label>,
        now: Millis,
    ) -> Result<Vec<Claimed>, StoreError> {
        PgStore::claim_labelled(self, worker, limit, per_account_limit, label, now).await
    }

    async fn renew(&self, worker: &WorkerId, leases: &[Lease]) -> Result<Renewed, StoreError> {
        PgStore::renew(self, worker, leases).await
    }

    async fn release(&self, worker: &WorkerId, leases: &[Lease]) -> Result<Released, StoreError> {
        PgStore::release(self, worker, leases).await
    }

    async fn next_due(&self, label: Option<&Label>) -> Result<Option<Millis>, StoreError> {
        PgStore::next_due_labelled(self, label).await
    }

    async fn listen(&self) -> Result<Box<dyn WorkHints>, StoreError> {
        Ok(Box::new(PgStore::listen(self).await?))
    }
}

#[async_trait]
impl WorkHints for WorkListener {
    async fn hint(&self) {
        WorkListener::hint(self).await
    }
}
