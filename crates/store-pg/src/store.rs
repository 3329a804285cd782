//! The store handle, its options, and opening it.

use crate::migrate::migrate;
use crate::run::connect_error;
use crate::url::DbUrl;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use reportflow_store::{PgError, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a [`PgStore`] connects, leases and waits.
#[derive(Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections in the pool (at least 1). Each operation holds one for its duration; the
    /// listener of [`PgStore::listen`] has its own besides. Default 8.
    pub pool_size: usize,
    /// How long a claim, a renewal or a step written under a lease keeps the job the worker's,
    /// by the database's clock. A dead worker's jobs are claimed by others this long after its
    /// last renewal at the latest. Longer than the longest create request, so that a create
    /// intent is covered until its request has ended. Default 30 s.
    pub lease: Duration,
    /// How long a new connection may take (a `connect_timeout` in the URL wins). Default 10 s.
    pub connect_timeout: Duration,
    /// How long an operation waits for the database to come back (a restart, a failover)
    /// before it fails with [`PgError::Unavailable`]. Default 30 s.
    pub reconnect_wait: Duration,
    /// The password, when the URL has none (the CLI takes it from `PGPASSWORD`): it then never
    /// appears in a URL, a process list or a shell history. Never shown (`Debug` hides it).
    /// Default none.
    pub password: Option<String>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .field("lease", &self.lease)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_wait", &self.reconnect_wait)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 8,
            lease: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reconnect_wait: Duration::from_secs(30),
            password: None,
        }
    }
}

/// How long the server lets one of the store's sessions sit idle inside a transaction before
/// it ends the session (rolling the transaction back): half the lease, from 1 s to 30 s. The
/// store's transactions send their statements back to back, so only a client that stopped
/// (a paused or frozen process) is ever that slow; its row locks are then freed, and the jobs
/// it held can be claimed by others once its leases expire, instead of waiting for it to wake.
fn idle_in_transaction(lease: Duration) -> Duration {
    (lease / 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

impl PgOptions {
    fn check(&self) -> Result<(), PgError> {
        let invalid = |detail: &str| {
            Err(PgError::InvalidOptions {
                detail: detail.to_string(),
            })
        };
        if self.pool_size == 0 {
            return invalid("the pool size is 0; give at least 1 connection");
        }
        if self.lease < Duration::from_millis(100) || self.lease > Duration::from_secs(86_400) {
            return invalid("the lease must last from 100 ms to one day; 30 s suits most uses");
        }
        if self.connect_timeout.is_zero() {
            return invalid("the connect timeout is 0; give it a few seconds");
        }
        Ok(())
    }
}

/// The job store on a PostgreSQL database, shared by any number of workers and submitting
/// processes. Cheap to clone (the clones share one pool); `Send + Sync`.
///
/// Opening migrates the schema ([`SCHEMA_VERSION`](crate::SCHEMA_VERSION)). Every operation
/// takes a connection from the pool and waits for the database while it is away, up to
/// [`PgOptions::reconnect_wait`]. Writes are durable when they return (PostgreSQL commits with
/// `synchronous_commit` on, its default). See `docs/store.md` for the tables, leases and
/// fencing, and the two clocks.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) url: DbUrl,
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) options: PgOptions,
    /// Hears how long each `COMMIT` took (see `JobStore::observe_flushes`).
    pub(crate) flush_observer: std::sync::OnceLock<reportflow_store::FlushObserver>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens the store at a `postgres://` (or `postgresql://`) URL with the default
    /// [`PgOptions`]: connects once (failing at once with a clear error when the database is
    /// unreachable, refuses the login, or does not exist), then creates or migrates the schema.
    /// A database of a newer schema is refused ([`PgError::NewerSchema`]), unchanged.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open_with(url, PgOptions::default()).await
    }

    /// [`PgStore::open`] with chosen options.
    pub async fn open_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        options.check()?;
        let mut url = DbUrl::parse(url, options.connect_timeout, options.password.as_deref())?;
        url.end_stuck_transactions(idle_in_transaction(options.lease));
        let tls = crate::tls::connector(url.shown())?;
        let manager = Manager::from_config(
            url.config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| PgError::InvalidOptions {
                detail: format!("the connection pool could not be built: {e}"),
            })?;
        let mut client = pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => connect_error(&url, &e),
            other => PgError::Unreachable {
                url: url.shown().to_string(),
                detail: url.scrub(&other.to_string()),
            },
        })?;
        migrate(&mut client, &url).await?;
        drop(client);
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                url,
                tls,
                options,
                flush_observer: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The store's URL as it may be shown: its password replaced by `***`.
    pub fn url(&self) -> &str {
        self.inner.url.shown()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &PgOptions {
        &self.inner.options
    }

    /// `text` without the URL's password.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.inner.url.scrub(text)
    }
}
