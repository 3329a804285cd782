//! The engine's public face: open, submit, run, inspect, retry, cancel, shut down.

use crate::api::Api;
use crate::clock;
use crate::config::EngineConfig;
use crate::error::DriverError;
use crate::events::Event;
use crate::runner::{RunSummary, Runner};
use crate::step::Ctx;
use crate::url::checked;
use crate::writer::Writer;
use reportflow_core::{Input, Job, JobId, JobKey, JobSpec, Label, NewJob, SpecWarning, StateName};
use reportflow_store::{PurgeReport, Store, TransitionRecord};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// Events buffered for slow listeners before they start missing some.
const EVENT_BUFFER: usize = 4096;
/// Jobs read per page when listing.
const PAGE: usize = 1000;

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

/// The engine. Open it once per process: the store allows one process at a time.
pub struct Engine {
    ctx: Arc<Ctx>,
    config: EngineConfig,
    shutdown: watch::Sender<bool>,
    running: Mutex<Option<mpsc::UnboundedSender<JobId>>>,
}

impl Engine {
    /// Opens the store and prepares the HTTP client. Nothing is sent; no credentials needed yet.
    pub fn open(config: EngineConfig) -> Result<Engine, DriverError> {
        let base_uri = checked(&config.base_url, config.allow_insecure_http)
            .map_err(|e| DriverError::Config(format!("bad base URL: {e}")))?;
        if let Some(crate::Credentials::OAuth2 { token_url, .. }) = &config.credentials {
            checked(token_url, config.allow_insecure_http)
                .map_err(|e| DriverError::Config(format!("bad OAuth2 token URL: {e}")))?;
        }
        if config.concurrency == 0 || config.per_account_concurrency == 0 {
            return Err(DriverError::Config(
                "the concurrency must be at least 1".to_string(),
            ));
        }
        config.poll.validate()?;
        let store = Arc::new(Store::open(&config.store_dir)?);
        let writer = Writer::start(Arc::clone(&store))?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let api = Api::new(&config, base_uri.clone(), events.clone())?;
        if let Some(why) = api.http.refused_route(&base_uri) {
            return Err(DriverError::Config(format!("bad base URL: {why}")));
        }
        if let Some(crate::Credentials::OAuth2 { token_url, .. }) = &config.credentials
            && let Ok(uri) = token_url.parse()
            && let Some(why) = api.http.refused_route(&uri)
        {
            return Err(DriverError::Config(format!("bad OAuth2 token URL: {why}")));
        }
        let ctx = Ctx {
            store,
            writer,
            api,
            out_dir: config.out_dir.clone(),
            layout: config.layout.clone(),
            events,
        };
        let (shutdown, _) = watch::channel(false);
        Ok(Engine {
            ctx: Arc::new(ctx),
            config,
            shutdown,
            running: Mutex::new(None),
        })
    }

    /// The store, for queries the engine does not wrap.
    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Listens to what the engine does from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.ctx.events.subscribe()
    }

    /// Validates `spec` and records it as a job under `key` (or the key derived from the spec).
    /// Idempotent on the key. Sends nothing upstream.
    pub fn submit(&self, spec: JobSpec, key: Option<JobKey>) -> Result<Submitted, DriverError> {
        let warnings = spec.validate(clock::today())?;
        let key = key.unwrap_or_else(|| JobKey::derived(&spec));
        let inserted = self
            .ctx
            .store
            .insert(spec, key, self.config.poll.clone(), clock::now())?;
        if inserted.created {
            self.wake(inserted.job.id);
        }
        Ok(Submitted {
            job: inserted.job,
            created: inserted.created,
            warnings,
        })
    }

    /// [`Engine::submit`] for many jobs at once (each a [`NewJob`], or a `(spec, key)` pair):
    /// every spec is validated before anything is stored (one invalid spec stores nothing),
    /// then the jobs are recorded and made durable together by one flush. Returns one
    /// [`Submitted`] per job, in order. A key that already names a job with another spec stops
    /// the batch there; the jobs before it stay stored.
    pub fn submit_many(
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
            .ctx
            .store
            .insert_many(checked, &self.config.poll, clock::now())
        {
            Ok(inserted) => inserted,
            Err(e) => {
                // The jobs stored before the failing one stay: a running engine must hear of
                // them (waking a live job it already knows does nothing).
                for key in &keys {
                    if let Ok(Some(job)) = self.ctx.store.get_by_key(key)
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

    fn wake(&self, id: JobId) {
        if let Ok(guard) = self.running.lock()
            && let Some(tx) = guard.as_ref()
        {
            let _ = tx.send(id);
        }
    }

    /// A job by id (digits) or key.
    pub fn job(&self, id_or_key: &str) -> Result<Job, DriverError> {
        let by_id = match id_or_key.parse::<u64>() {
            Ok(n) => self.ctx.store.get(JobId(n))?,
            Err(_) => None,
        };
        let found = match by_id {
            Some(job) => Some(job),
            None => match JobKey::user(id_or_key) {
                Ok(key) => self.ctx.store.get_by_key(&key)?,
                Err(_) => None,
            },
        };
        found.ok_or_else(|| DriverError::UnknownJob(id_or_key.to_string()))
    }

    /// Every job (optionally only those in `state`), by id.
    pub fn jobs(&self, state: Option<StateName>) -> Result<Vec<Job>, DriverError> {
        self.jobs_where(state, |_| true)
    }

    /// Every job with `label`, by id.
    pub fn labelled(&self, label: &Label) -> Result<Vec<Job>, DriverError> {
        self.jobs_where(None, |job| job.has_label(label))
    }

    /// Every live job (only those with `label`, when given), by id.
    pub fn live(&self, label: Option<&Label>) -> Result<Vec<Job>, DriverError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.ctx.store.live_page(after, PAGE)?;
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
    fn jobs_where(
        &self,
        state: Option<StateName>,
        keep: impl Fn(&Job) -> bool,
    ) -> Result<Vec<Job>, DriverError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.ctx.store.list(state, after, PAGE)?;
            let done = page.len() < PAGE;
            after = page.last().map(|j| j.id);
            all.extend(page.into_iter().filter(|job| keep(job)));
            if done {
                return Ok(all);
            }
        }
    }

    /// Jobs per state.
    pub fn counts(&self) -> Result<BTreeMap<StateName, u64>, DriverError> {
        Ok(self.ctx.store.counts()?)
    }

    /// A job's transitions, oldest first.
    pub fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, DriverError> {
        Ok(self.ctx.store.history(id)?)
    }

    /// Starts a new attempt of a `Failed`, `Expired`, `Cancelled` or `NoData` job.
    pub fn retry(&self, id: JobId) -> Result<Job, DriverError> {
        self.apply_now(id, Input::Retry)
    }

    /// Cancels a job that has not ended.
    pub fn cancel(&self, id: JobId) -> Result<Job, DriverError> {
        self.apply_now(id, Input::Cancel)
    }

    /// Applies `input` to the job as it is now; a step of a running engine that changed the job
    /// meanwhile is not lost: the input is applied again to the newer job.
    fn apply_now(&self, id: JobId, input: Input) -> Result<Job, DriverError> {
        let mut tries = 0;
        loop {
            let job = self
                .ctx
                .store
                .get(id)?
                .ok_or_else(|| DriverError::UnknownJob(id.to_string()))?;
            match self.ctx.record(&job, input.clone()) {
                Err(DriverError::Store(reportflow_store::StoreError::Conflict { .. }))
                    if tries < 10 =>
                {
                    tries += 1;
                }
                Err(e) => return Err(e),
                Ok(next) => {
                    self.wake(id);
                    return Ok(next);
                }
            }
        }
    }

    /// The report types of `account` (needs credentials).
    pub async fn report_types(
        &self,
        account: &str,
    ) -> Result<Vec<crate::ReportSummary>, DriverError> {
        self.need_credentials()?;
        self.ctx
            .api
            .report_types(account)
            .await
            .map_err(call_failed)
    }

    /// One report type of `account` with its parameters (needs credentials).
    pub async fn report_detail(
        &self,
        account: &str,
        report_id: u32,
    ) -> Result<crate::ReportDetail, DriverError> {
        self.need_credentials()?;
        self.ctx
            .api
            .report_detail(account, report_id)
            .await
            .map_err(call_failed)
    }

    /// Opens one connection to the base URL the way requests go (through the proxy that
    /// applies, with the TLS handshake and certificate check) and closes it; sends no request
    /// and needs no credentials. Fails with [`DriverError::Unreachable`] or
    /// [`DriverError::Certificate`] (or a configuration error for a proxy that wants
    /// credentials).
    pub async fn probe(&self) -> Result<(), DriverError> {
        let uri = checked(&self.config.base_url, self.config.allow_insecure_http)
            .map_err(|e| DriverError::Config(format!("bad base URL: {e}")))?;
        match self.ctx.api.http.probe(&uri).await {
            Ok(()) => Ok(()),
            Err(crate::call::CallError::NotSent(why)) => Err(DriverError::Unreachable(why)),
            Err(other) => Err(call_failed(other)),
        }
    }

    fn need_credentials(&self) -> Result<(), DriverError> {
        match self.config.credentials {
            Some(_) => Ok(()),
            None => Err(DriverError::NoCredentials),
        }
    }

    /// Removes ended jobs (with their history and keys) last changed more than `age` ago.
    pub fn purge(&self, age: Duration) -> Result<PurgeReport, DriverError> {
        let cutoff = reportflow_core::Millis(clock::now().0.saturating_sub(age.as_millis() as u64));
        Ok(self.ctx.store.purge(cutoff)?)
    }

    fn prepare_run(&self, keep_going: bool) -> Result<(), DriverError> {
        if self.config.credentials.is_none() {
            let live: u64 = self
                .counts()?
                .iter()
                .filter(|(state, _)| !state.is_terminal())
                .map(|(_, n)| n)
                .sum();
            // Nothing to send: a run with nothing to do needs no credentials.
            if live > 0 || keep_going {
                return Err(DriverError::NoCredentials);
            }
        }
        std::fs::create_dir_all(&self.ctx.out_dir)
            .map_err(|e| DriverError::io("create the output folder", &self.ctx.out_dir, e))?;
        Ok(())
    }

    async fn drive(&self, keep_going: bool) -> Result<RunSummary, DriverError> {
        self.prepare_run(keep_going)?;
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut guard) = self.running.lock() {
            *guard = Some(tx);
        }
        let runner = Runner::new(Arc::clone(&self.ctx), self.config.clone());
        let result = runner.run(self.shutdown.subscribe(), rx, keep_going).await;
        if let Ok(mut guard) = self.running.lock() {
            *guard = None;
        }
        self.ctx.store.flush()?;
        result
    }

    /// Drives every live job (including those a crashed run left) to a terminal state.
    pub async fn run_until_idle(&self) -> Result<RunSummary, DriverError> {
        self.drive(false).await
    }

    /// Drives jobs as they are submitted, until [`Engine::shutdown`].
    pub async fn run(&self) -> Result<RunSummary, DriverError> {
        self.drive(true).await
    }

    /// Stops a run: in-flight steps are abandoned (each job stays resumable), temporary files
    /// are removed, and `run`/`run_until_idle` return with `interrupted` set.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// A failed catalogue request as an engine error.
fn call_failed(error: crate::call::CallError) -> DriverError {
    match error.into_failure() {
        Ok(failure) => DriverError::Upstream(failure),
        Err(e) => e,
    }
}
