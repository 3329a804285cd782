//! Retention: removing jobs that ended long ago, with their history and keys.

use crate::error::from_sled;
use crate::layout::{ended_id, ended_key, history_key, id_key};
use crate::{Store, StoreError};
use reportflow_core::{JobId, Millis};

/// How many removed ids a [`PurgeReport`] lists at most.
pub const PURGE_REPORT_MAX_IDS: usize = 1_000;

/// How many jobs one purge transaction removes at most.
const BATCH: usize = 64;

/// What [`Store::purge`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Jobs removed.
    pub jobs: u64,
    /// History records removed with them.
    pub history_records: u64,
    /// The removed jobs' ids in ascending end time, the first [`PURGE_REPORT_MAX_IDS`] of them.
    pub ids: Vec<JobId>,
}

impl Store {
    /// Removes every terminal job whose last change (`updated_at`, when it ended) is before
    /// `older_than`, with its history and its key (which may then name a new job). Reads the
    /// `ended` index in time order, so it touches only what it removes. Live jobs are never
    /// removed. Durable when it returns (unless opened with [`crate::Durability::Manual`]).
    pub fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport::default();
        let end = ended_key(older_than, JobId(0));
        loop {
            // Each job's index entry, id and history keys (runs of transitions), read before
            // the transaction, which checks the job is still the ended one they belong to.
            let mut batch = Vec::with_capacity(BATCH);
            for key in self.trees().ended.range(..end).keys().take(BATCH) {
                let key = key.map_err(|e| from_sled(&self.dir, "read the ended index", e))?;
                let id = ended_id(&key).ok_or_else(|| StoreError::Corrupt {
                    dir: self.dir.clone(),
                    detail: "a key of the ended tree is damaged".to_string(),
                })?;
                let range = history_key(id, 0)..=history_key(id, u64::MAX);
                let history = self
                    .trees()
                    .history
                    .range(range)
                    .keys()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| from_sled(&self.dir, "read a job's history", e))?;
                batch.push((key, id, history));
            }
            if batch.is_empty() {
                break;
            }
            let removed = self.trees().transact(&self.dir, "purge jobs", |tx| {
                let mut removed = Vec::new();
                for (key, id, history) in &batch {
                    let id = *id;
                    let job = match tx.job(id)? {
                        Some(stored)
                            if stored.job.state.is_terminal()
                                && ended_key(stored.job.updated_at, id)[..] == key[..] =>
                        {
                            stored.job
                        }
                        // An index entry of a job that is gone or moved on: drop it.
                        _ => {
                            tx.ended.remove(key)?;
                            continue;
                        }
                    };
                    tx.leave_state(&job)?;
                    tx.remove_ended(id)?;
                    let key_bytes = job.key.as_str().as_bytes();
                    if tx.keys.get(key_bytes)?.as_deref() == Some(&id_key(id)[..]) {
                        tx.keys.remove(key_bytes)?;
                    }
                    for run in history {
                        tx.history.remove(run.clone())?;
                    }
                    removed.push((id, job.version.saturating_add(1)));
                }
                Ok(removed)
            })?;
            for (id, records) in removed {
                report.jobs += 1;
                report.history_records += records;
                if report.ids.len() < PURGE_REPORT_MAX_IDS {
                    report.ids.push(id);
                }
            }
        }
        if report.jobs > 0 {
            self.flush_at_point(true)?;
        }
        Ok(report)
    }
}
