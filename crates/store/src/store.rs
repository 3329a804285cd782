//! The store handle and its durability.

use crate::StoreError;
use crate::error::{from_io, from_sled};
use crate::trees::Trees;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// When the store makes its writes durable on its own (see `docs/store.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// At the design's durability points: every insert, every transition for which
    /// `Job::must_flush` holds (a create is about to be sent, a location arrived, the job
    /// ended), and every purge. Other transitions ride on sled's background flush (every
    /// 500 ms). The engine's setting.
    #[default]
    DesignPoints,
    /// After every insert, transition and purge.
    EveryChange,
    /// Never on its own: only [`Store::flush`] (and dropping the store) makes writes durable. For bulk
    /// loads, tests and measurements; a crash loses what was not flushed.
    Manual,
}

/// A durable job store in one directory. `Send + Sync`: share it through an `Arc`.
///
/// Opening takes sled's exclusive lock on the directory; it is released when the last clone
/// of the handle's internals is dropped (when the `Store` is dropped).
pub struct Store {
    pub(crate) dir: PathBuf,
    /// The database; `None` only while the store is being dropped.
    pub(crate) trees: Option<Trees>,
    /// sled's data file, opened a second time to `fsync` it (see [`Store::flush`]) and to see
    /// when sled has let go of its lock (see `Drop`).
    pub(crate) data_file: File,
    pub(crate) durability: Durability,
    /// Concurrent flushes share one sled flush and `fsync` (see [`Store::flush`]).
    pub(crate) group: crate::group::GroupCommit,
    /// Hears how long each flush took (see [`Store::observe_flushes`]).
    pub(crate) flush_observer: OnceLock<FlushObserver>,
}

/// What [`Store::observe_flushes`] is given: called with the time of each flush.
pub type FlushObserver = Box<dyn Fn(Duration) + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The database and its trees.
    pub(crate) fn trees(&self) -> &Trees {
        self.trees
            .as_ref()
            .expect("the database stays open until the store is dropped")
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The durability this handle was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Makes every write acknowledged so far durable: sled writes its buffers out (`pwrite`,
    /// then `sync_file_range` on Linux, which neither commits file metadata nor flushes the
    /// drive's cache), then the data file is `fdatasync`ed, which does both for its data and the
    /// size that reaches it (its timestamps are not worth a second write). When this returns
    /// `Ok`, everything written before survives a power loss.
    ///
    /// Concurrent calls share the work (group commit): a call waits for a flush that started
    /// after it was made, and runs one itself only when none is running; so many threads
    /// reaching a durability point together cost about two flushes, not one each.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.group.run(|| {
            let started = Instant::now();
            self.trees()
                .db
                .flush()
                .map_err(|e| from_sled(&self.dir, "write the database out", e))?;
            let synced = self
                .data_file
                .sync_data()
                .map_err(|e| from_io(self.dir.clone(), "sync the database file", e));
            if let Some(observe) = self.flush_observer.get() {
                observe(started.elapsed());
            }
            synced
        })
    }

    /// Has `observer` hear how long each flush of this handle takes (the sled flush and the
    /// `fsync`, once per group of callers): for an engine's metrics. The first observer stays.
    pub fn observe_flushes(&self, observer: impl Fn(Duration) + Send + Sync + 'static) {
        let _ = self.flush_observer.set(Box::new(observer));
    }

    /// Flushes when this handle's durability asks for it at a durability point.
    pub(crate) fn flush_at_point(&self, point: bool) -> Result<(), StoreError> {
        if self.wants_flush(point) {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Whether this handle's durability asks for a flush after a write (`point`: the write is
    /// at one of the design's durability points).
    pub(crate) fn wants_flush(&self, point: bool) -> bool {
        match self.durability {
            Durability::DesignPoints => point,
            Durability::EveryChange => true,
            Durability::Manual => false,
        }
    }
}

/// How long dropping a store waits for sled to let go of its lock.
const RELEASE_WAIT: Duration = Duration::from_secs(3);

impl Drop for Store {
    /// Flushes (best effort: a caller that must know calls [`Store::flush`] first), closes the
    /// database, and waits until sled's lock on the directory is released, so that the store
    /// can be opened again, in this process or another, as soon as this returns. (sled's
    /// background threads may hold the database a moment after its last handle is dropped.)
    fn drop(&mut self) {
        let _ = self.flush();
        drop(self.trees.take());
        let deadline = Instant::now() + RELEASE_WAIT;
        let mut pause = Duration::from_micros(100);
        while fs2::FileExt::try_lock_exclusive(&self.data_file).is_err() {
            if Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
        let _ = fs2::FileExt::unlock(&self.data_file);
    }
}
