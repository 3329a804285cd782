//! The backends the suite runs against, and the one place that says how they differ.

use async_trait::async_trait;
use reportflow_core::{Job, JobId, Millis};
use reportflow_store::{JobStore, Lease, SledStore, StepLease, StoreError, WorkerId};
use reportflow_store_pg::{PgOptions, PgStore};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Late enough for every job of the tests to be due (core time).
pub const FAR: Millis = Millis(u64::MAX / 4);

/// A store location the bodies open, reopen and hand to a child process.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The backend's name, for messages.
    fn name(&self) -> &'static str;

    /// Opens the store (the same one every time). Drop the previous handle first: a sled store
    /// is one handle's at a time.
    async fn open(&self) -> Arc<dyn JobStore>;

    /// Every step is durable once acknowledged (PostgreSQL commits); else only at the design's
    /// durability points (`Job::must_flush`: sled).
    fn durable_at_every_step(&self) -> bool;

    /// Where the store is, as a child process is told (an environment variable's value).
    fn location(&self) -> String;
}

/// The sled store in a directory.
pub struct Sled {
    /// The store's directory.
    pub dir: PathBuf,
}

#[async_trait]
impl Backend for Sled {
    fn name(&self) -> &'static str {
        "sled"
    }

    async fn open(&self) -> Arc<dyn JobStore> {
        Arc::new(SledStore::open(&self.dir).unwrap_or_else(|e| panic!("the sled store opens: {e}")))
    }

    fn durable_at_every_step(&self) -> bool {
        false
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

/// A PostgreSQL database (of the test binary's throwaway server, or any URL).
pub struct Postgres {
    /// The database's URL.
    pub url: String,
    /// The lease of the suite's workers.
    pub lease: Duration,
}

impl Postgres {
    /// A fresh database of the test binary's server, with `lease`.
    pub fn fresh(lease: Duration) -> Postgres {
        Postgres {
            url: reportflow_testpg::fresh_database().url,
            lease,
        }
    }
}

#[async_trait]
impl Backend for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn open(&self) -> Arc<dyn JobStore> {
        let options = PgOptions {
            lease: self.lease,
            ..PgOptions::default()
        };
        Arc::new(
            PgStore::open_with(&self.url, options)
                .await
                .unwrap_or_else(|e| panic!("the PostgreSQL store opens: {e}")),
        )
    }

    fn durable_at_every_step(&self) -> bool {
        true
    }

    fn location(&self) -> String {
        self.url.clone()
    }
}

/// The leases a test worker holds on a shared store (nothing on a store one process holds).
pub struct Leases {
    worker: WorkerId,
    held: BTreeMap<JobId, Lease>,
}

impl Leases {
    /// The leases of worker `name`.
    pub fn of(name: &str) -> Leases {
        Leases {
            worker: WorkerId::new(name).expect("a valid worker name"),
            held: BTreeMap::new(),
        }
    }

    /// Claims every live job nobody holds (a shared store), so that a create intent can be
    /// recorded under its lease.
    pub async fn claim_all(&mut self, store: &dyn JobStore) -> Result<(), StoreError> {
        let Some(shared) = store.shared() else {
            return Ok(());
        };
        for claimed in shared
            .claim(&self.worker, 10_000, 10_000, None, FAR)
            .await?
        {
            self.held.insert(claimed.job.id, claimed.lease);
        }
        Ok(())
    }

    /// The lease a step of `id` carries, if one is held.
    pub fn step_lease(&self, id: JobId) -> Option<StepLease> {
        self.held.get(&id).map(|l| StepLease::new(&self.worker, *l))
    }

    /// After a step (or a purge): an ended or removed job is nobody's any more.
    pub fn settle(&mut self, id: JobId, job: Option<&Job>) {
        if job.is_none_or(|j| j.state.is_terminal()) {
            self.held.remove(&id);
        }
    }

    /// Forgets the lease on `id` (it was lost).
    pub fn forget(&mut self, id: JobId) {
        self.held.remove(&id);
    }
}
