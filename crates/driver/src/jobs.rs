//! The store-only side of the engine: submit, look, retry, cancel, purge. It opens the store
//! and nothing else (no HTTP client; the sled store starts its writer threads only when
//! something is written), so the commands that only record or read jobs cost a store open;
//! [`crate::Engine`] adds the running side on top of it. Every call goes through the store
//! interface ([`JobStore`]), whatever the backend: the store itself, or (through [`Jobs::on`])
//! a store another process holds and answers for, such as a running engine's control socket.

use crate::clock;
use crate::config::EngineConfig;
use crate::error::DriverError;
use reportflow_core::{
    Input, Job, JobId, JobKey, JobSpec, Label, NewJob, Policies, SpecWarning, StateName,
};
use reportflow_store::{
    JobStore, LeasedTransition, PurgeReport, Step, StoreError, TransitionRecord,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Jobs read per page when listing.
const PAGE: usize = 1000;
/// Times an input of the user is applied again when a running step changed the job meanwhile.
const CONFLICT_TRIES: u32 = 10;

/// The result of a submit.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The stored job (the existing one when the key was already known).
    pub job: Job,
    /// False when the key already named this job.
    pub created: bool,
    /// Unusual things about the spec that did not stop it.
    pub warnings: Vec<SpecWarning>,
}

/// The jobs of one store: what every command that records or reads jobs needs. Open it once
/// per process: a sled store allows one process at a time; a PostgreSQL store any number.
pub struct Jobs {
    store: Arc<dyn JobStore>,
    policies: Policies,
    /// Where a running engine of this process hears of jobs to plan (new ones, retried ones).
    running: Mutex<Option<mpsc::UnboundedSender<JobId>>>,
}

impl Jobs {
    /// Checks `config` ([`EngineConfig::validate`]) and opens its store: a sled directory
    /// (created when it does not exist) or a PostgreSQL database (its schema created or
    /// migrated). Nothing is sent; no credentials needed.
    pub async fn open(config: &EngineConfig) -> Result<Jobs, DriverError> {
        config.validate()?;
        let store = config.store.open(config.lease).await?;
        Ok(Jobs::on(store, config.policies()))
    }

    /// The jobs of an open store, submitted with `policies`.
    pub fn on(store: Arc<dyn JobStore>, policies: Policies) -> Jobs {
        Jobs {
            store,
            policies,
            running: Mutex::new(None),
        }
    }

    /// The store, for queries this type does not wrap.
    pub fn store(&self) -> &dyn JobStore {
        self.store.as_ref()
    }

    /// The store, shared with the running side.
    pub(crate) fn shared_store(&self) -> Arc<dyn JobStore> {
        Arc::clone(&self.store)
    }

    /// Tells a running engine of jobs to plan from now on (`None`: no engine runs).
    pub(crate) fn set_running(&self, to: Option<mpsc::UnboundedSender<JobId>>) {
        if let Ok(mut guard) = self.running.lock() {
            *guard = to;
        }
    }

    /// Tells the engine running on these jobs in this process (if any) that job `id` was
    /// recorded or changed, so that it plans the job now; a job it already knows is left as
    /// it has it. For those who write to the store on the engine's behalf (the control socket).
    pub fn wake(&self, id: JobId) {
        if let Ok(guard) = self.running.lock()
            && let Some(tx) = guard.as_ref()
        {
            let _ = tx.send(id);
        }
    }

    /// Validates `spec` and records it as a job under `key` (or the key derived from the spec),
    /// with the configuration's policies. Idempotent on the key. Sends nothing upstream.
    pub async fn submit(
        &self,
        spec: JobSpec,
        key: Option<JobKey>,
    ) -> Result<Submitted, DriverError> {
        let warnings = spec.validate(clock::today())?;
        let key = key.unwrap_or_else(|| JobKey::derived(&spec));
        let inserted = self
            .store
            .insert(spec, key, self.policies.clone(), clock::now())
            .await?;
        if inserted.created {
            self.wake(inserted.job.id);
        }
        Ok(Submitted {
            job: inserted.job,
            created: inserted.created,
            warnings,
        })
    }

    /// [`Jobs::submit`] for many jobs at once (each a [`NewJob`], or a `(spec, key)` pair):
    /// every spec is validated before anything is stored (one invalid spec stores nothing),
    /// then the jobs are recorded and made durable together by one flush. Returns one
    /// [`Submitted`] per job, in order. A key that already names a job with another spec stops
    /// the batch there; the jobs before it stay stored.
    pub async fn submit_many(
        &self,
        jobs: impl IntoIterator<Item = impl Into<NewJob>>,
    ) -> Result<Vec<Submitted>, DriverError> {
        let today = clock::today();
        let mut checked = Vec::new();
        let mut warnings = Vec::new();
        for job in jobs {
            let mut job: NewJob = job.into();
            warnings.push(job.spec.validate(today)?);
            job.key = Some(job.key());
            checked.push(job);
        }
        let keys: Vec<JobKey> = checked.iter().map(NewJob::key).collect();
        let inserted = match self
            .store
            .insert_many(checked, &self.policies, clock::now())
            .await
        {
            Ok(inserted) => inserted,
            Err(e) => {
                // The jobs stored before the failing one stay: a running engine must hear of
                // them (waking a live job it already knows does nothing).
                for key in &keys {
                    if let Ok(Some(job)) = self.store.get_by_key(key).await
                        && !job.state.is_terminal()
                    {
                        self.wake(job.id);
                    }
                }
                return Err(e.into());
            }
        };
        Ok(inserted
            .into_iter()
            .zip(warnings)
            .map(|(inserted, warnings)| {
                if inserted.created {
                    self.wake(inserted.job.id);
                }
                Submitted {
                    job: inserted.job,
                    created: inserted.created,
                    warnings,
                }
            })
            .collect())
    }

    /// A job by id (digits) or key.
    pub async fn job(&self, id_or_key: &str) -> Result<Job, DriverError> {
        let by_id = match id_or_key.parse::<u64>() {
            Ok(n) => self.store.get(JobId(n)).await?,
            Err(_) => None,
        };
        let found = match by_id {
            Some(job) => Some(job),
            None => match JobKey::user(id_or_key) {
                Ok(key) => self.store.get_by_key(&key).await?,
                Err(_) => None,
            },
        };
        found.ok_or_else(|| DriverError::UnknownJob(id_or_key.to_string()))
    }

    /// Every job (optionally only those in `state`), by id.
    pub async fn jobs(&self, state: Option<StateName>) -> Result<Vec<Job>, DriverError> {
        self.jobs_where(state, |_| true).await
    }

    /// Every job with `label`, by id.
    pub async fn labelled(&self, label: &Label) -> Result<Vec<Job>, DriverError> {
        self.jobs_where(None, |job| job.has_label(label)).await
    }

    /// Every live job (only those with `label`, when given), by id.
    pub async fn live(&self, label: Option<&Label>) -> Result<Vec<Job>, DriverError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.live_page(after, PAGE).await?;
            let done = page.len() < PAGE;
            after = page.last().map(|j| j.id);
            all.extend(
                page.into_iter()
                    .filter(|job| label.is_none_or(|label| job.has_label(label))),
            );
            if done {
                return Ok(all);
            }
        }
    }

    /// The jobs (in `state`, if given) that `keep` keeps, by id, read a page at a time.
    async fn jobs_where(
        &self,
        state: Option<StateName>,
        keep: impl Fn(&Job) -> bool,
    ) -> Result<Vec<Job>, DriverError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list(state, after, PAGE).await?;
            let done = page.len() < PAGE;
            after = page.last().map(|j| j.id);
            all.extend(page.into_iter().filter(|job| keep(job)));
            if done {
                return Ok(all);
            }
        }
    }

    /// Jobs per state.
    pub async fn counts(&self) -> Result<BTreeMap<StateName, u64>, DriverError> {
        Ok(self.store.counts().await?)
    }

    /// How many jobs have not ended.
    pub(crate) async fn live_count(&self) -> Result<u64, DriverError> {
        Ok(live_in(&self.counts().await?))
    }

    /// A job's transitions, oldest first.
    pub async fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, DriverError> {
        Ok(self.store.history(id).await?)
    }

    /// A job's transitions, oldest first, each with the worker (and lease token) that wrote it
    /// on a shared store; on the sled store no step names a worker.
    pub async fn history_with_leases(
        &self,
        id: JobId,
    ) -> Result<Vec<LeasedTransition>, DriverError> {
        Ok(self.store.history_with_leases(id).await?)
    }

    /// Starts a new attempt of a `Failed`, `Expired`, `Cancelled` or `NoData` job.
    pub async fn retry(&self, id: JobId) -> Result<Job, DriverError> {
        self.apply_now(id, Input::Retry).await
    }

    /// Cancels a job that has not ended.
    pub async fn cancel(&self, id: JobId) -> Result<Job, DriverError> {
        self.apply_now(id, Input::Cancel).await
    }

    /// Applies `input` to the job as it is now; a step of a running engine that changed the job
    /// meanwhile is not lost: the input is applied again to the newer job. On a shared store
    /// the user's step carries no lease (it is checked by version alone): a worker holding the
    /// job finds its next step refused and lets the job go.
    async fn apply_now(&self, id: JobId, input: Input) -> Result<Job, DriverError> {
        let mut tries = 0;
        loop {
            let job = self
                .store
                .get(id)
                .await?
                .ok_or_else(|| DriverError::UnknownJob(id.to_string()))?;
            let step = Step::new(id, job.version, input.clone());
            match self.store.apply(step, clock::now()).await.map(|a| a.job) {
                Err(StoreError::Conflict { .. }) if tries < CONFLICT_TRIES => tries += 1,
                Err(e) => return Err(e.into()),
                Ok(next) => {
                    tracing::info!(job = %id, from = %job.state.name(), to = %next.state.name(), "job changed");
                    self.wake(id);
                    return Ok(next);
                }
            }
        }
    }

    /// Removes ended jobs (with their history and keys) last changed more than `age` ago.
    pub async fn purge(&self, age: Duration) -> Result<PurgeReport, DriverError> {
        let cutoff = reportflow_core::Millis(clock::now().0.saturating_sub(age.as_millis() as u64));
        Ok(self.store.purge(cutoff).await?)
    }
}

/// The jobs not ended in a count per state.
pub(crate) fn live_in(counts: &BTreeMap<StateName, u64>) -> u64 {
    counts
        .iter()
        .filter(|(state, _)| !state.is_terminal())
        .map(|(_, n)| n)
        .sum()
}
