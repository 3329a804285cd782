//! The store's trees, and the one transaction shape every write goes through.

use crate::StoreError;
use crate::error::from_sled;
use crate::layout::{
    self, Counts, Deltas, META_COUNTS, by_state_key, ended_key, history_key, id_key,
};
use crate::records::live::{HISTORY_RUN, LiveJob, decode_live, encode_live, first_pending_seq};
use crate::records::{StoredTransition, decode_job, encode_job, encode_transitions};
use reportflow_core::{Job, JobId};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{Db, IVec, Transactional, Tree};
use std::cell::Cell;
use std::path::Path;

/// The database and every tree of the store (see [`crate::layout`] for their keys).
pub(crate) struct Trees {
    pub(crate) db: Db,
    pub(crate) meta: Tree,
    /// The records of ended jobs.
    pub(crate) jobs: Tree,
    pub(crate) history: Tree,
    /// The records of live jobs.
    pub(crate) live: Tree,
    pub(crate) keys: Tree,
    pub(crate) by_state: Tree,
    pub(crate) ended: Tree,
}

/// The trees as seen inside one transaction, and the state counts it changes (written once,
/// when the transaction's work is done).
pub(crate) struct Tx<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) meta: &'a TransactionalTree,
    pub(crate) jobs: &'a TransactionalTree,
    pub(crate) history: &'a TransactionalTree,
    pub(crate) live: &'a TransactionalTree,
    pub(crate) keys: &'a TransactionalTree,
    pub(crate) by_state: &'a TransactionalTree,
    pub(crate) ended: &'a TransactionalTree,
    deltas: Cell<Deltas>,
}

/// What a transaction closure returns: a value, a retry, or a [`StoreError`] that aborts it.
pub(crate) type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

/// Turns a store error into an abort of the running transaction.
pub(crate) fn abort_on<T>(result: Result<T, StoreError>) -> TxResult<T> {
    result.map_err(ConflictableTransactionError::Abort)
}

impl Trees {
    /// Opens (creating when missing) every tree.
    pub(crate) fn open(db: Db, dir: &Path) -> Result<Trees, StoreError> {
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| from_sled(dir, "open a tree", e))
        };
        Ok(Trees {
            db: db.clone(),
            meta: tree(layout::META)?,
            jobs: tree(layout::JOBS)?,
            history: tree(layout::HISTORY)?,
            live: tree(layout::LIVE)?,
            keys: tree(layout::KEYS)?,
            by_state: tree(layout::BY_STATE)?,
            ended: tree(layout::ENDED)?,
        })
    }

    /// Runs `f` as one sled transaction over every tree: all of its writes land, or none; the
    /// counts it changed are written once at its end. sled may run `f` more than once, so it
    /// must have no side effects outside `tx`.
    pub(crate) fn transact<A>(
        &self,
        dir: &Path,
        action: &'static str,
        f: impl Fn(&Tx<'_>) -> TxResult<A>,
    ) -> Result<A, StoreError> {
        let all = (
            &self.meta,
            &self.jobs,
            &self.history,
            &self.live,
            &self.keys,
            &self.by_state,
            &self.ended,
        );
        let result = all.transaction(|(meta, jobs, history, live, keys, by_state, ended)| {
            let tx = Tx {
                dir,
                meta,
                jobs,
                history,
                live,
                keys,
                by_state,
                ended,
                deltas: Cell::new(Deltas::default()),
            };
            let done = f(&tx)?;
            tx.write_counts()?;
            Ok(done)
        });
        result.map_err(|e| tx_error(dir, action, e))
    }

    /// The stored value of the job with this id, if any, read outside a transaction: from
    /// `live`, else from `jobs`, else from `live` again. A job moves between the two in one
    /// transaction, and each read sees a transaction whole, so a job that ends (or is retried)
    /// between two reads is found by the next one.
    pub(crate) fn job_value(&self, id: JobId) -> sled::Result<Option<Found>> {
        let key = id_key(id);
        if let Some(bytes) = self.live.get(key)? {
            return Ok(Some(Found::Live(bytes)));
        }
        if let Some(bytes) = self.jobs.get(key)? {
            return Ok(Some(Found::Ended(bytes)));
        }
        Ok(self.live.get(key)?.map(Found::Live))
    }

    /// The stored state counts (all zero in a store without jobs).
    pub(crate) fn counts(&self, dir: &Path) -> Result<Counts, StoreError> {
        let bytes = self
            .meta
            .get(META_COUNTS)
            .map_err(|e| from_sled(dir, "read the counts", e))?;
        decode_counts(dir, bytes.as_deref())
    }
}

/// The store's error for a transaction that failed while trying to `action`: the
/// [`StoreError`] it aborted with, or sled's storage error.
pub(crate) fn tx_error(
    dir: &Path,
    action: &'static str,
    e: TransactionError<StoreError>,
) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => from_sled(dir, action, e),
    }
}

/// Where a job's value was found, and the value.
pub(crate) enum Found {
    /// In `live`: a live value (see [`crate::records::live`]).
    Live(IVec),
    /// In `jobs`: an ended job's record.
    Ended(IVec),
}

impl Found {
    /// The job in the value.
    pub(crate) fn job(&self, dir: &Path, id: JobId) -> Result<Job, StoreError> {
        match self {
            Found::Live(bytes) => decode_live(dir, id, bytes).map(|live| live.job),
            Found::Ended(bytes) => decode_job(dir, id, bytes),
        }
    }
}

/// The counts in a `meta/counts` value (none: zero).
pub(crate) fn decode_counts(dir: &Path, bytes: Option<&[u8]>) -> Result<Counts, StoreError> {
    match bytes {
        None => Ok(Counts::default()),
        Some(bytes) => Counts::decode(bytes).ok_or_else(|| StoreError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("the state counts are {} bytes, not 80", bytes.len()),
        }),
    }
}

impl Tx<'_> {
    /// The job with this id, if any, with the transitions of its history not yet in
    /// `history` (none for an ended job): its value is in `live` while it has not ended, its
    /// record in `jobs` once it has.
    pub(crate) fn job(&self, id: JobId) -> TxResult<Option<LiveJob>> {
        let key = id_key(id);
        if let Some(bytes) = self.live.get(key)? {
            return abort_on(decode_live(self.dir, id, &bytes)).map(Some);
        }
        match self.jobs.get(key)? {
            Some(bytes) => {
                let job = abort_on(decode_job(self.dir, id, &bytes))?;
                Ok(Some(LiveJob {
                    job,
                    pending: Vec::new(),
                }))
            }
            None => Ok(None),
        }
    }

    /// Writes `job` once, with `pending`, the transitions of its history not yet in `history`
    /// (its latest ones, up to its version): while it has not ended, its value in `live`
    /// holds them, unless they make a full run; once it has ended, its record goes to `jobs`.
    /// A full run, or what is pending when the job ends, goes to `history` as one record.
    /// `before` is the job as stored until now (`None` for a new one): a job that changes
    /// trees leaves the other one.
    pub(crate) fn put_job(
        &self,
        before: Option<&Job>,
        job: &Job,
        mut pending: Vec<StoredTransition>,
    ) -> TxResult<()> {
        let terminal = job.state.is_terminal();
        if !pending.is_empty() && (terminal || pending.len() >= HISTORY_RUN) {
            let first = first_pending_seq(job.version, pending.len());
            let run = abort_on(encode_transitions(self.dir, &pending))?;
            self.history.insert(&history_key(job.id, first)[..], run)?;
            pending.clear();
        }
        let key = id_key(job.id);
        let was_live = before.map(|b| !b.state.is_terminal());
        if terminal {
            if was_live == Some(true) {
                self.live.remove(&key[..])?;
            }
            let bytes = abort_on(encode_job(self.dir, job))?;
            self.jobs.insert(&key[..], bytes)?;
        } else {
            if was_live == Some(false) {
                self.jobs.remove(&key[..])?;
            }
            let bytes = abort_on(encode_live(self.dir, job, &pending))?;
            self.live.insert(&key[..], bytes)?;
        }
        Ok(())
    }

    /// Removes an ended job's record (a purge).
    pub(crate) fn remove_ended(&self, id: JobId) -> TxResult<()> {
        self.jobs.remove(&id_key(id)[..])?;
        Ok(())
    }

    /// Adds the index entries of a job in its current state: its count and, once it has
    /// ended, `by_state` and `ended` (a live job's state is in its `live` value).
    pub(crate) fn enter_state(&self, job: &Job) -> TxResult<()> {
        let name = job.state.name();
        self.count(name, 1);
        if name.is_terminal() {
            self.by_state
                .insert(&by_state_key(name, job.id)[..], &[][..])?;
            self.ended
                .insert(&ended_key(job.updated_at, job.id)[..], &[][..])?;
        }
        Ok(())
    }

    /// Removes the index entries [`Tx::enter_state`] added for the job as it is.
    pub(crate) fn leave_state(&self, job: &Job) -> TxResult<()> {
        let name = job.state.name();
        self.count(name, -1);
        if name.is_terminal() {
            self.by_state.remove(&by_state_key(name, job.id)[..])?;
            self.ended.remove(&ended_key(job.updated_at, job.id)[..])?;
        }
        Ok(())
    }

    fn count(&self, state: reportflow_core::StateName, delta: i64) {
        let mut deltas = self.deltas.get();
        deltas.add(state, delta);
        self.deltas.set(deltas);
    }

    /// Writes the counts this transaction changed (one key, whatever the number of steps).
    fn write_counts(&self) -> TxResult<()> {
        let deltas = self.deltas.get();
        if deltas.is_empty() {
            return Ok(());
        }
        let stored = self.meta.get(META_COUNTS)?;
        let mut counts = abort_on(decode_counts(self.dir, stored.as_deref()))?;
        for (index, delta) in deltas.0.iter().enumerate() {
            counts.add(index, *delta);
        }
        self.meta.insert(META_COUNTS, counts.encode())?;
        Ok(())
    }
}
