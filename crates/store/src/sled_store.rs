//! The sled backend of the store interface: a [`Store`] (one directory, one process) and its
//! writer.
//!
//! What is sled's own stays here, behind [`JobStore`]: steps of concurrent callers are batched
//! into one transaction by the writer thread and flushed once per batch at the design's
//! durability points (`writer.rs`); submits and purges are made durable before they return;
//! reads go straight to sled. The writer thread starts with the first step written, so a
//! process that only reads (`status`, `history`) starts no thread.

use crate::TransitionRecord;
use crate::interface::JobStore;
use crate::writer::Writer;
use crate::{
    AppliedStep, Durability, FlushObserver, Inserted, PurgeReport, Step, Store, StoreError,
};
use async_trait::async_trait;
use reportflow_core::{Job, JobId, JobKey, Millis, NewJob, Policies, StateName};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The sled store as a [`JobStore`]: the store of one process, in one directory.
pub struct SledStore {
    // Declared before `store`: the writer's thread holds a clone of it and ends (when the writer
    // is dropped) before this handle lets go of the directory.
    writer: OnceLock<Result<Writer, StoreError>>,
    store: Arc<Store>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with the engine's durability
    /// ([`Durability::DesignPoints`]); see [`Store::open`] for what is refused.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with(dir, Durability::default())
    }

    /// [`SledStore::open`] with a chosen durability.
    pub fn open_with(dir: &Path, durability: Durability) -> Result<SledStore, StoreError> {
        Ok(SledStore::from(Store::open_with(dir, durability)?))
    }

    /// The sled store underneath, for what the interface does not cover.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The writer, started on first use.
    fn writer(&self) -> Result<&Writer, StoreError> {
        self.writer
            .get_or_init(|| Writer::start(Arc::clone(&self.store)))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Runs `work` on the store off the async runtime's threads (it may wait for the disk).
    async fn blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = Arc::clone(&self.store);
        let dir = store.dir().to_path_buf();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| StoreError::Io {
                dir,
                action: what,
                source: std::io::Error::other(e.to_string()),
            })?
    }
}

impl From<Store> for SledStore {
    fn from(store: Store) -> SledStore {
        SledStore {
            writer: OnceLock::new(),
            store: Arc::new(store),
        }
    }
}

#[async_trait]
impl JobStore for SledStore {
    fn describe(&self) -> String {
        self.store.dir().display().to_string()
    }

    async fn insert_many(
        &self,
        jobs: Vec<NewJob>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        let policies = policies.clone();
        self.blocking("store new jobs", move |store| {
            store.insert_many(jobs, &policies, now)
        })
        .await
    }

    async fn apply_many(
        &self,
        steps: &[Step],
        now: Millis,
    ) -> Result<Vec<Result<AppliedStep, StoreError>>, StoreError> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        self.writer()?.apply(&self.store, steps.to_vec(), now).await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.store.get(id)
    }

    async fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError> {
        self.store.get_by_key(key)
    }

    async fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.store.list(state, after, limit)
    }

    async fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.store.live_page(after, limit)
    }

    async fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError> {
        self.store.history(id)
    }

    async fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError> {
        self.store.counts()
    }

    async fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError> {
        self.blocking("purge jobs", move |store| store.purge(older_than))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking("flush the database", Store::flush).await
    }

    fn observe_flushes(&self, observer: FlushObserver) {
        self.store.observe_flushes(observer);
    }
}
