//! `reportflow-sim`: a simulated Bandwidth report upstream with seeded, reproducible faults.
//!
//! It serves the account report and billing report APIs described in
//! `../shared/reference/` and `docs/upstream.md` on 127.0.0.1, renders their XML itself (it
//! shares no code with the client it checks), streams deterministic files of any size with
//! constant memory, and injects faults chosen by a seeded generator or scripted by tests.
//! Every knob and fault is documented with an example in `docs/simulator.md`.
//!
//! ```no_run
//! use reportflow_sim::{Endpoint, Fault, Sim, SimConfig};
//!
//! # async fn demo() -> Result<(), reportflow_sim::SimError> {
//! let sim = Sim::start(SimConfig { seed: 7, ..SimConfig::instant() }).await?;
//! sim.script(Endpoint::Create, vec![Fault::AppliedResponseLost]);
//! println!("base URL {}, token URL {}", sim.base_url(), sim.token_url());
//! // ... drive a client against it ...
//! assert_eq!(sim.stats().total_instance_creations(), 0);
//! sim.shutdown();
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod app;
mod auth;
mod body;
mod catalogue;
mod config;
mod faults;
mod files;
mod ratelimit;
mod response;
mod routes;
mod server;
mod state;
mod stats;
mod tls;
mod xml;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::{
    ErrorShape, FixedAnswer, NoDataRange, RateLimit, ResetUnit, SimConfig, SimTls, SizeRange,
};
pub use faults::{Endpoint, Fault, FaultEvent, FaultPlan, FaultRule, UnknownName};
pub use stats::{BillingKey, FAULT_LOG_LIMIT, FileDigest, InstanceKey, SimStats};

use app::App;
use files::Source;
use routes::Origin;

/// Locks a mutex, carrying on with the data if another thread panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the simulator could not start or take a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A listener could not bind.
    #[error(
        "cannot listen on 127.0.0.1:{port} for the simulator's {listener}: {source}; choose another port, or 0 for any free port"
    )]
    Bind {
        /// Which listener: `API` or `download origin`.
        listener: &'static str,
        /// The port asked for.
        port: u16,
        /// The system's error.
        source: std::io::Error,
    },
    /// The background runtime of [`Sim::start_blocking`] could not start.
    #[error(
        "cannot start the simulator's runtime thread: {0}; check the process's thread and memory limits"
    )]
    Runtime(std::io::Error),
    /// The configuration is inconsistent.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The certificates for TLS could not be made or written.
    #[error("the simulator's TLS: {0}")]
    Tls(String),
}

/// Starts simulators.
pub struct Sim;

impl Sim {
    /// Binds both listeners on 127.0.0.1 and serves on the current tokio runtime until the
    /// handle is shut down or dropped; over TLS when `config.tls` says so (certificates
    /// generated now).
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate().map_err(SimError::Config)?;
        let bind = |listener: &'static str, port: u16| async move {
            TcpListener::bind(("127.0.0.1", port))
                .await
                .and_then(|l| l.local_addr().map(|a| (l, a)))
                .map_err(|source| SimError::Bind {
                    listener,
                    port,
                    source,
                })
        };
        let (api, addr) = bind("API", config.port).await?;
        let (downloads, redirect_addr) = bind("download origin", config.redirect_port).await?;
        let tls = config.tls.as_ref().map(tls::generate).transpose()?;
        let (acceptor, ca_pem) = match tls {
            Some(tls) => (Some(tls.acceptor), Some(tls.ca_pem)),
            None => (None, None),
        };
        let app = Arc::new(App::new(config, addr, redirect_addr, ca_pem));
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(server::accept_loop(
            api,
            Origin::Api,
            app.clone(),
            stop.clone(),
            acceptor.clone(),
        ));
        tokio::spawn(server::accept_loop(
            downloads,
            Origin::Downloads,
            app.clone(),
            stop,
            acceptor,
        ));
        tracing::info!(%addr, %redirect_addr, "simulator listening");
        Ok(SimHandle {
            app,
            addr,
            redirect_addr,
            shutdown,
            runtime: Mutex::new(None),
        })
    }

    /// Like [`Sim::start`], on a runtime of its own (two worker threads) in a background
    /// thread: for synchronous tests and the CLI. [`SimHandle::shutdown`] (or dropping the
    /// handle) stops the runtime and joins the thread.
    pub fn start_blocking(config: SimConfig) -> Result<SimHandle, SimError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("reportflow-sim".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("reportflow-sim-worker")
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = tx.send(Err(SimError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Sim::start(config).await {
                        Ok(handle) => {
                            let mut stop = handle.shutdown.subscribe();
                            if tx.send(Ok(handle)).is_ok() {
                                server::stopped(&mut stop).await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(SimError::Runtime)?;
        let handle = rx.recv().map_err(|_| {
            SimError::Runtime(std::io::Error::other(
                "the simulator thread ended before it started serving",
            ))
        })??;
        *lock(&handle.runtime) = Some(thread);
        Ok(handle)
    }
}

/// What a location names.
enum Target {
    Instance(u64),
    Billing(String),
}

/// A running simulator. Dropping it shuts it down.
pub struct SimHandle {
    app: Arc<App>,
    addr: SocketAddr,
    redirect_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    runtime: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SimHandle {
    /// The CA certificate (PEM) that issued the server certificate, when serving TLS: what a
    /// client must trust (e.g. written to a file for `--ca-file`).
    pub fn ca_pem(&self) -> Option<String> {
        self.app.ca_pem.clone()
    }

    /// The API base URL, `http://127.0.0.1:PORT/api` (`https://` over TLS).
    pub fn base_url(&self) -> String {
        self.app.base_url.clone()
    }

    /// The OAuth2 token URL, `http://127.0.0.1:PORT/api/v1/oauth2/token` (`https://` over TLS).
    pub fn token_url(&self) -> String {
        format!("{}/v1/oauth2/token", self.app.base_url)
    }

    /// The base of the second origin that serves redirected downloads, `http://127.0.0.1:PORT2`
    /// (`https://` over TLS).
    pub fn redirect_base_url(&self) -> String {
        self.app.redirect_base.clone()
    }

    /// The API listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The second origin's address.
    pub fn redirect_addr(&self) -> SocketAddr {
        self.redirect_addr
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.app.stats.snapshot()
    }

    /// Zeroes the counters (the fault generator keeps its position).
    pub fn reset_stats(&self) {
        self.app.stats.reset();
    }

    /// The configuration in force.
    pub fn config(&self) -> SimConfig {
        (*self.app.config()).clone()
    }

    /// Changes the configuration at run time. Applies to requests that start afterwards;
    /// existing reports keep their processing times, sizes, lifetimes and content seed.
    /// `port` and `redirect_port` changes do not move the listeners, and a `seed` change does
    /// not restart the fault, id and token generators (it applies to new files).
    pub fn configure(&self, change: impl FnOnce(&mut SimConfig)) -> Result<(), SimError> {
        let mut config = self.config();
        change(&mut config);
        config.validate().map_err(SimError::Config)?;
        self.app.set_config(config);
        Ok(())
    }

    /// Replaces the random fault plan.
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), SimError> {
        self.configure(|c| c.faults = plan)
    }

    /// Queues faults for the next requests of `endpoint`, one per request, before any random
    /// draw ([`Fault::Pass`] lets a request through).
    pub fn script(&self, endpoint: Endpoint, faults: Vec<Fault>) {
        lock(&self.app.faults).script(endpoint, faults);
    }

    /// Drops every queued scripted fault.
    pub fn clear_scripts(&self) {
        lock(&self.app.faults).clear_scripts();
    }

    fn locate(&self, location: &str) -> Option<Target> {
        let rest = location.strip_prefix(&self.app.base_url)?;
        let rest = rest.strip_suffix("/file").unwrap_or(rest);
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["accounts", _, "reports", _, "instances", id] => id.parse().ok().map(Target::Instance),
            ["accounts", _, "billingreports", id] => Some(Target::Billing((*id).to_owned())),
            _ => None,
        }
    }

    /// Makes the instance or billing report at `location` (its `Location` URL) expire now:
    /// an instance turns `Expired` (file 404/19049), a billing report is deleted
    /// (404/15613). Returns whether it was found.
    pub fn expire(&self, location: &str) -> bool {
        let mut store = lock(&self.app.store);
        match self.locate(location) {
            Some(Target::Instance(id)) => store
                .instances
                .get_mut(&id)
                .map(|i| i.forced_expired = true)
                .is_some(),
            Some(Target::Billing(id)) => store
                .billing
                .get_mut(&id)
                .map(|b| b.forced_expired = true)
                .is_some(),
            None => false,
        }
    }

    /// Makes every instance and billing report created so far expire now.
    pub fn expire_all(&self) {
        let mut store = lock(&self.app.store);
        store
            .instances
            .values_mut()
            .for_each(|i| i.forced_expired = true);
        store
            .billing
            .values_mut()
            .for_each(|b| b.forced_expired = true);
    }

    /// When the account report instance at `location` was created and when it becomes (or
    /// became) ready, on this process's monotonic clock. `None` for an unknown location or a
    /// billing report.
    pub fn instance_timing(&self, location: &str) -> Option<(Instant, Instant)> {
        let Target::Instance(id) = self.locate(location)? else {
            return None;
        };
        let store = lock(&self.app.store);
        let instance = store.instances.get(&id)?;
        Some((instance.created_at, instance.ready_at))
    }

    /// The file name, size and sha256 the file at `location` has (or will have), computed now
    /// by generating it (cost proportional to its size). `None` for an unknown location.
    pub fn expected_file(&self, location: &str) -> Option<FileDigest> {
        let (source, size, file_name) = match self.locate(location)? {
            Target::Instance(id) => {
                let i = lock(&self.app.store).instances.get(&id)?.clone();
                (
                    Source::generated(i.seed, &i.content_key()),
                    i.size,
                    i.file_name(),
                )
            }
            Target::Billing(id) => {
                let b = lock(&self.app.store).billing.get(&id)?.clone();
                let zip = routes::billing_zip_of(&b).ok()?;
                let size = zip.len() as u64;
                (Source::Bytes(zip), size, b.file_name())
            }
        };
        Some(FileDigest {
            file_name,
            size,
            sha256: source.sha256(size),
        })
    }

    /// Stops both listeners and closes every connection (stalled ones included). For a
    /// simulator from [`Sim::start_blocking`], also stops its runtime and joins its thread.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        if let Some(thread) = lock(&self.runtime).take()
            && thread.join().is_err()
        {
            tracing::warn!("the simulator's runtime thread panicked");
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("base_url", &self.app.base_url)
            .field("redirect_base_url", &self.app.redirect_base)
            .finish_non_exhaustive()
    }
}
