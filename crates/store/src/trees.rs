//! The store's trees, and the one transaction shape every write goes through.

use crate::StoreError;
use crate::error::from_sled;
use crate::layout::{self, by_state_key, count_key, ended_key, history_key, id_key};
use crate::records::{StoredTransition, decode_job, encode_job, encode_transition};
use reportflow_core::{Job, JobId};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{Db, Transactional, Tree};
use std::path::Path;

/// The database and every tree of the store (see [`crate::layout`] for their keys).
pub(crate) struct Trees {
    pub(crate) db: Db,
    pub(crate) meta: Tree,
    pub(crate) jobs: Tree,
    pub(crate) history: Tree,
    pub(crate) live: Tree,
    pub(crate) keys: Tree,
    pub(crate) by_state: Tree,
    pub(crate) counts: Tree,
    pub(crate) ended: Tree,
}

/// The trees as seen inside one transaction.
pub(crate) struct Tx<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) meta: &'a TransactionalTree,
    pub(crate) jobs: &'a TransactionalTree,
    pub(crate) history: &'a TransactionalTree,
    pub(crate) live: &'a TransactionalTree,
    pub(crate) keys: &'a TransactionalTree,
    pub(crate) by_state: &'a TransactionalTree,
    pub(crate) counts: &'a TransactionalTree,
    pub(crate) ended: &'a TransactionalTree,
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
            counts: tree(layout::COUNTS)?,
            ended: tree(layout::ENDED)?,
        })
    }

    /// Runs `f` as one sled transaction over every tree: all of its writes land, or none.
    /// sled may run `f` more than once, so it must have no side effects outside `tx`.
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
            &self.counts,
            &self.ended,
        );
        let result = all.transaction(
            |(meta, jobs, history, live, keys, by_state, counts, ended)| {
                f(&Tx {
                    dir,
                    meta,
                    jobs,
                    history,
                    live,
                    keys,
                    by_state,
                    counts,
                    ended,
                })
            },
        );
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => from_sled(dir, action, e),
        })
    }
}

impl Tx<'_> {
    /// The job with this id, if any.
    pub(crate) fn job(&self, id: JobId) -> TxResult<Option<Job>> {
        match self.jobs.get(id_key(id))? {
            Some(bytes) => abort_on(decode_job(self.dir, id, &bytes)).map(Some),
            None => Ok(None),
        }
    }

    /// Writes a job record to `jobs` and, while the job has not ended, the same record to
    /// `live`, so that the live jobs can be read from `live` alone. Call it after moving the
    /// job's index entries ([`Tx::leave_state`] removes the `live` copy).
    pub(crate) fn put_job(&self, job: &Job) -> TxResult<()> {
        let bytes = abort_on(encode_job(self.dir, job))?;
        let key = id_key(job.id);
        if !job.state.is_terminal() {
            self.live.insert(&key[..], bytes.clone())?;
        }
        self.jobs.insert(&key[..], bytes)?;
        Ok(())
    }

    /// Appends transition `seq` to a job's history.
    pub(crate) fn put_transition(&self, id: JobId, seq: u64, t: &StoredTransition) -> TxResult<()> {
        let bytes = abort_on(encode_transition(self.dir, t))?;
        self.history.insert(&history_key(id, seq)[..], bytes)?;
        Ok(())
    }

    /// Adds the index entries of a job in its current state: `by_state`, `counts`, and `ended`
    /// when it has ended (its `live` copy is written by [`Tx::put_job`]).
    pub(crate) fn enter_state(&self, job: &Job) -> TxResult<()> {
        let name = job.state.name();
        self.by_state
            .insert(&by_state_key(name, job.id)[..], &[][..])?;
        self.add_count(&count_key(name), 1)?;
        if name.is_terminal() {
            self.ended
                .insert(&ended_key(job.updated_at, job.id)[..], &[][..])?;
        }
        Ok(())
    }

    /// Removes the index entries of the job as it is: those [`Tx::enter_state`] added, and its
    /// `live` copy.
    pub(crate) fn leave_state(&self, job: &Job) -> TxResult<()> {
        let name = job.state.name();
        self.by_state.remove(&by_state_key(name, job.id)[..])?;
        self.add_count(&count_key(name), -1)?;
        if name.is_terminal() {
            self.ended.remove(&ended_key(job.updated_at, job.id)[..])?;
        } else {
            self.live.remove(&id_key(job.id)[..])?;
        }
        Ok(())
    }

    fn add_count(&self, key: &[u8], delta: i64) -> TxResult<()> {
        let now = match self.counts.get(key)? {
            Some(bytes) => {
                abort_on(
                    layout::decode_u64(&bytes).ok_or_else(|| StoreError::Corrupt {
                        dir: self.dir.to_path_buf(),
                        detail: "a state counter is not 8 bytes".to_string(),
                    }),
                )?
            }
            None => 0,
        };
        let next = now.saturating_add_signed(delta);
        if next == 0 {
            self.counts.remove(key)?;
        } else {
            self.counts.insert(key, &next.to_be_bytes()[..])?;
        }
        Ok(())
    }
}
