//! Reading jobs: by id, by key, the live ones, by state (paged), history, counts.
//!
//! Reads are not snapshots: each job is read as it is at that moment, so a job that moves
//! while a list is being read is shown where it is now (or left out of a list it left).

use crate::error::from_sled;
use crate::layout::{self, by_state_id, by_state_key, history_key, history_seq, id_key};
use crate::records::live::{decode_live, live_state_byte};
use crate::records::{TransitionRecord, decode_transitions};
use crate::{Store, StoreError};
use reportflow_core::{Job, JobId, JobKey, StateName};
use std::collections::BTreeMap;

impl Store {
    /// The job with this id, if it is stored (its record is in `live` while it has not
    /// ended, in `jobs` once it has).
    pub fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let found = self
            .trees()
            .job_value(id)
            .map_err(|e| from_sled(&self.dir, "read a job", e))?;
        found.map(|found| found.job(&self.dir, id)).transpose()
    }

    /// The job this key names, if any.
    pub fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError> {
        let bytes = self
            .trees()
            .keys
            .get(key.as_str().as_bytes())
            .map_err(|e| from_sled(&self.dir, "read a job key", e))?;
        match bytes {
            Some(bytes) => self.get(self.id_in(&bytes, key)?),
            None => Ok(None),
        }
    }

    /// Every job that has not ended, in id order. Reads the live index alone (it holds a copy
    /// of each live job's record), never the finished jobs, so its cost does not grow with the
    /// store's history. [`Store::live_page`] reads the same jobs a page at a time.
    pub fn live_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.live_page(None, usize::MAX)
    }

    /// Up to `limit` live jobs with ids above `after`, in id order, read from the live index
    /// alone (as [`Store::live_jobs`]). Pass the last id of a page as `after` to get the next
    /// page: an engine plans its live jobs a page at a time and starts the first ones before it
    /// has read the rest.
    pub fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let Some(first) = first_after(after) else {
            return Ok(Vec::new());
        };
        let read = |e| from_sled(&self.dir, "read the live index", e);
        self.trees()
            .live
            .range(id_key(JobId(first))..)
            .take(limit)
            .map(|entry| {
                let (key, bytes) = entry.map_err(read)?;
                let id = self.index_id(layout::decode_u64(&key).map(JobId), "live")?;
                decode_live(&self.dir, id, &bytes).map(|live| live.job)
            })
            .collect()
    }

    /// Up to `limit` jobs with ids above `after`, in ascending id order; only those in `state`
    /// when one is given: an ended state through the state index, a live one from the live
    /// jobs alone (one byte of each says its state), never by scanning every job. Pass the last
    /// id of a page as `after` to get the next page.
    pub fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let Some(first) = first_after(after) else {
            return Ok(Vec::new());
        };
        let mut jobs = Vec::new();
        if limit == 0 {
            return Ok(jobs);
        }
        let read = |e| from_sled(&self.dir, "list jobs", e);
        match state {
            None => {
                // The live jobs' records and the ended ones', merged in id order. Each id is
                // looked up in both from where the page is, so that a job moving from one to
                // the other meanwhile is found in one of them (see `Trees::job_value`).
                let trees = self.trees();
                let mut next = first;
                while jobs.len() < limit {
                    let live = self.first_id_from(&trees.live, next, "live")?;
                    let ended = self.first_id_from(&trees.jobs, next, "jobs")?;
                    let again = self.first_id_from(&trees.live, next, "live")?;
                    let Some(id) = [live, ended, again].into_iter().flatten().min() else {
                        break;
                    };
                    if let Some(job) = self.get(JobId(id))? {
                        jobs.push(job);
                    }
                    match id.checked_add(1) {
                        Some(after) => next = after,
                        None => break,
                    }
                }
            }
            Some(state) if !state.is_terminal() => {
                let byte = layout::state_byte(state);
                for entry in self.trees().live.range(id_key(JobId(first))..) {
                    let (key, bytes) = entry.map_err(read)?;
                    if live_state_byte(&bytes) != Some(byte) {
                        continue;
                    }
                    let id = self.index_id(layout::decode_u64(&key).map(JobId), "live")?;
                    jobs.push(decode_live(&self.dir, id, &bytes)?.job);
                    if jobs.len() == limit {
                        break;
                    }
                }
            }
            Some(state) => {
                let range =
                    by_state_key(state, JobId(first))..=by_state_key(state, JobId(u64::MAX));
                for entry in self.trees().by_state.range(range).keys() {
                    let id = self.index_id(by_state_id(&entry.map_err(read)?), "by_state")?;
                    if let Some(job) = self.get(id)?
                        && job.state.name() == state
                    {
                        jobs.push(job);
                        if jobs.len() == limit {
                            break;
                        }
                    }
                }
            }
        }
        Ok(jobs)
    }

    /// The job's transitions in order: seq 0 is the submit (from `None` to `Requested`), then
    /// one per applied input. [`StoreError::NotFound`] when the job is not stored.
    ///
    /// The runs in `history`, then a live job's latest transitions, which its `live` value
    /// holds. The value is read first: a run that moves to `history` meanwhile is then found
    /// there, and the chain has no gap.
    pub fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError> {
        let read = |e| from_sled(&self.dir, "read a job's history", e);
        let live = match self.trees().live.get(id_key(id)).map_err(read)? {
            Some(bytes) => Some(decode_live(&self.dir, id, &bytes)?),
            None => None,
        };
        let range = history_key(id, 0)..=history_key(id, u64::MAX);
        let mut records: Vec<TransitionRecord> = Vec::new();
        for entry in self.trees().history.range(range) {
            let (key, bytes) = entry.map_err(read)?;
            let seq = history_seq(&key).ok_or_else(|| StoreError::Corrupt {
                dir: self.dir.clone(),
                detail: format!("a history key of job {id} is not 16 bytes"),
            })?;
            records.extend(decode_transitions(&self.dir, id, seq, &bytes)?);
        }
        if let Some(live) = live {
            let next = records.last().map_or(0, |r| r.seq + 1);
            records.extend(live.pending_records().into_iter().filter(|r| r.seq >= next));
        }
        if records.is_empty() && self.get(id)?.is_none() {
            return Err(StoreError::NotFound { id });
        }
        Ok(records)
    }

    /// How many jobs are in each state; every state is present, zero or not. Read from one
    /// key (`meta/counts`) kept up to date by every write, not by scanning jobs.
    pub fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError> {
        let counts = self.trees().counts(&self.dir)?;
        Ok(StateName::ALL
            .into_iter()
            .map(|s| (s, counts.get(s)))
            .collect())
    }

    /// The first id at or above `from` in `tree` (keyed by id, named `name`), if any.
    fn first_id_from(
        &self,
        tree: &sled::Tree,
        from: u64,
        name: &str,
    ) -> Result<Option<u64>, StoreError> {
        match tree.range(id_key(JobId(from))..).keys().next() {
            Some(key) => {
                let key = key.map_err(|e| from_sled(&self.dir, "list jobs", e))?;
                let id = self.index_id(layout::decode_u64(&key).map(JobId), name)?;
                Ok(Some(id.0))
            }
            None => Ok(None),
        }
    }

    /// The id in an index key, or a corruption error naming the index.
    pub(crate) fn index_id(&self, id: Option<JobId>, index: &str) -> Result<JobId, StoreError> {
        id.ok_or_else(|| StoreError::Corrupt {
            dir: self.dir.clone(),
            detail: format!("a key of the {index} tree is damaged"),
        })
    }
}

/// The first id of a page that follows the id `after` (`None` when no id can follow it).
fn first_after(after: Option<JobId>) -> Option<u64> {
    match after {
        None => Some(0),
        Some(JobId(id)) => id.checked_add(1),
    }
}
