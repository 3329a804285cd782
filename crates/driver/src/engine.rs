//! The running side of the engine: the HTTP client, the run loop, events. An [`Engine`] is a
//! [`Jobs`] (the store-only side, reached through `Deref`) plus what it takes to drive jobs
//! upstream: on a store one process holds (sled) every live job, on a shared store
//! (PostgreSQL) the jobs this worker claims.

use crate::api::Api;
use crate::call::CallError;
use crate::config::EngineConfig;
use crate::error::DriverError;
use crate::events::Event;
use crate::jobs::Jobs;
use crate::runner::{RunSummary, Runner};
use crate::step::Ctx;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// Events buffered for slow listeners before they start missing some.
const EVENT_BUFFER: usize = 4096;

/// The engine: a store's jobs and the means to drive them. Open it once per process: a sled
/// store allows one process at a time; on a PostgreSQL store each engine is one worker among
/// any number. Every method of [`Jobs`] (submit, look, retry, cancel, purge) is available on
/// it.
pub struct Engine {
    jobs: Jobs,
    ctx: Arc<Ctx>,
    config: EngineConfig,
    shutdown: watch::Sender<bool>,
    finish: watch::Sender<bool>,
}

impl Deref for Engine {
    type Target = Jobs;

    fn deref(&self) -> &Jobs {
        &self.jobs
    }
}

impl Engine {
    /// Checks the configuration, opens the store and prepares the HTTP client. Nothing is
    /// sent; no credentials needed yet.
    pub async fn open(config: EngineConfig) -> Result<Engine, DriverError> {
        let base_uri = config.base_uri()?;
        let jobs = Jobs::open(&config).await?;
        let store = jobs.shared_store();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let api = Api::new(&config, base_uri.clone(), events.clone())?;
        store.observe_flushes(Box::new(api.counters.flush_observer()));
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
            api,
            out_dir: config.out_dir.clone(),
            layout: config.layout.clone(),
            writes: config.download_writes,
            events,
            create_window: config.create_window(),
            place_margin: config.lease / 4,
        };
        let (shutdown, _) = watch::channel(false);
        let (finish, _) = watch::channel(false);
        Ok(Engine {
            jobs,
            ctx: Arc::new(ctx),
            config,
            shutdown,
            finish,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's metrics in the OpenMetrics text format (what `/metrics` shows): what it
    /// counted since it was opened, and the store's jobs per state and oldest live job now
    /// (on a shared store: every worker's jobs).
    pub async fn metrics_text(&self) -> Result<String, DriverError> {
        let counts = self.jobs.counts().await?;
        let oldest = self
            .jobs
            .store()
            .live_page(None, 1)
            .await?
            .first()
            .map(|job| Duration::from_millis(crate::clock::now().since(job.submitted_at)))
            .unwrap_or_default();
        self.ctx
            .api
            .counters
            .render(&counts, oldest)
            .map_err(|e| DriverError::Config(format!("cannot render the metrics: {e}")))
    }

    /// What the engine counted since it was opened (requests, retries, bytes).
    pub fn metrics(&self) -> crate::Metrics {
        self.ctx.api.counters.snapshot()
    }

    /// Listens to what the engine does from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.ctx.events.subscribe()
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

    fn need_credentials(&self) -> Result<(), DriverError> {
        match self.config.credentials {
            Some(_) => Ok(()),
            None => Err(DriverError::NoCredentials),
        }
    }

    async fn prepare_run(&self, keep_going: bool) -> Result<(), DriverError> {
        // Nothing to send: a run with nothing to do needs no credentials.
        if self.config.credentials.is_none() && (keep_going || self.jobs.live_count().await? > 0) {
            return Err(DriverError::NoCredentials);
        }
        std::fs::create_dir_all(&self.ctx.out_dir)
            .map_err(|e| DriverError::io("create the output folder", &self.ctx.out_dir, e))?;
        Ok(())
    }

    async fn drive(&self, keep_going: bool) -> Result<RunSummary, DriverError> {
        self.prepare_run(keep_going).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.jobs.set_running(Some(tx));
        let result = match Runner::new(Arc::clone(&self.ctx), self.config.clone()).await {
            Ok(runner) => {
                runner
                    .run(
                        self.shutdown.subscribe(),
                        self.finish.subscribe(),
                        rx,
                        keep_going,
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        self.jobs.set_running(None);
        // Whatever rode on a background flush (sled) is made durable.
        self.ctx.store.flush().await?;
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

    /// Stops a run gently: no step starts any more (on a shared store nothing more is
    /// claimed), the steps in flight go on to their end (each recorded as usual), then
    /// `run`/`run_until_idle` return with `interrupted` set (on a shared store with every
    /// lease given back). [`Engine::shutdown`] afterwards abandons the steps still going.
    pub fn finish_steps(&self) {
        let _ = self.finish.send(true);
    }
}

/// A failed catalogue request as an engine error: a request that cannot have reached the
/// upstream says so ([`DriverError::Unreachable`]).
fn call_failed(error: CallError) -> DriverError {
    match error {
        CallError::NotSent(detail) => DriverError::Unreachable(detail),
        other => match other.into_failure() {
            Ok(failure) => DriverError::Upstream(failure),
            Err(e) => e,
        },
    }
}
