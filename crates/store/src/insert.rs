//! Submitting a job: idempotent on its key.

use crate::layout::{self, META_NEXT_ID, id_key};
use crate::records::StoredTransition;
use crate::trees::{Tx, TxResult, abort_on};
use crate::{Store, StoreError};
use reportflow_core::{Job, JobId, JobKey, JobSpec, Millis, NewJob, Policies, StateName};

/// What [`Store::insert`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inserted {
    /// The job the key names: the new one, or the one stored before.
    pub job: Job,
    /// True when this call created the job; false when the key already named a job with the
    /// same spec.
    pub created: bool,
}

/// The summary recorded for a submit (history seq 0).
pub(crate) const SUBMIT: &str = "submit";

/// Jobs stored per sled transaction by [`Store::insert_many`]. A transaction holds its writes
/// in memory and sled runs one at a time, so a batch is kept small enough not to hold up the
/// engine's other writes for long (about 10 ms).
pub(crate) const INSERT_BATCH: usize = 128;

impl Store {
    /// Stores a new job in `Requested` with `policies`, or returns the job `key` already names
    /// when its spec is the same (the policies, label and date origin of a repeated submit are
    /// ignored); a different spec under the same key is a [`StoreError::KeyConflict`].
    /// Validation is the caller's job. The job is durable when this returns (unless the store
    /// was opened with [`crate::Durability::Manual`]).
    ///
    /// Ids start at 1, grow by one per new job, and are never reused, even after a purge.
    pub fn insert(
        &self,
        spec: JobSpec,
        key: JobKey,
        policies: Policies,
        now: Millis,
    ) -> Result<Inserted, StoreError> {
        // `insert_many` flushes also for an existing job: it may have been stored by a call
        // still flushing.
        let mut inserted = self.insert_many([(spec, key)], &policies, now)?;
        inserted.pop().ok_or_else(|| StoreError::Database {
            dir: self.dir.clone(),
            detail: "a job was neither stored nor refused".to_string(),
        })
    }

    /// [`Store::insert`] for many jobs, in order, made durable together by one flush at the
    /// end: the batch is durable when this returns `Ok` (unless the store was opened with
    /// [`crate::Durability::Manual`]), at the cost of one flush instead of one per job. The jobs
    /// are stored up to 128 per sled transaction, each job whole or not at all. Stops
    /// at the first error (a [`StoreError::KeyConflict`], say), after flushing the jobs stored
    /// before it: those stay stored.
    pub fn insert_many(
        &self,
        jobs: impl IntoIterator<Item = impl Into<NewJob>>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut inserted = Vec::new();
        let mut failed = None;
        let mut jobs = jobs.into_iter().map(Into::into);
        let mut chunk = Vec::with_capacity(INSERT_BATCH);
        loop {
            chunk.clear();
            chunk.extend(jobs.by_ref().take(INSERT_BATCH));
            if chunk.is_empty() {
                break;
            }
            match self.insert_chunk(&chunk, policies, now) {
                Ok((stored, None)) => inserted.extend(stored),
                Ok((stored, Some(e))) => {
                    inserted.extend(stored);
                    failed = Some(e);
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        self.flush_at_point(true)?;
        match failed {
            Some(e) => Err(e),
            None => Ok(inserted),
        }
    }

    /// Stores `chunk` in order in one transaction: the jobs it stored (or found under their
    /// keys), and the error that stopped it at a job, if any (the jobs before it are stored,
    /// the rest are not). `Err` is a failure of the whole transaction, which then stored nothing.
    fn insert_chunk(
        &self,
        chunk: &[NewJob],
        policies: &Policies,
        now: Millis,
    ) -> Result<(Vec<Inserted>, Option<StoreError>), StoreError> {
        self.trees().transact(&self.dir, "store a new job", |tx| {
            let mut next_id = match tx.meta.get(META_NEXT_ID)? {
                Some(bytes) => {
                    abort_on(
                        layout::decode_u64(&bytes).ok_or_else(|| StoreError::Corrupt {
                            dir: self.dir.clone(),
                            detail: "the next job id is not 8 bytes".to_string(),
                        }),
                    )?
                }
                None => 1,
            };
            let first_id = next_id;
            let mut stored = Vec::with_capacity(chunk.len());
            let mut failed = None;
            for new in chunk {
                match self.insert_in(tx, new, policies, now, &mut next_id)? {
                    Ok(one) => stored.push(one),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if next_id != first_id {
                tx.meta.insert(META_NEXT_ID, &next_id.to_be_bytes()[..])?;
            }
            Ok((stored, failed))
        })
    }

    /// One job of `insert_chunk`, inside its transaction: the job `key` names (when
    /// the spec is the same), or a new one with id `next_id` (then bumped). The inner `Err` is
    /// this job's refusal, with nothing of it written.
    fn insert_in(
        &self,
        tx: &Tx<'_>,
        new: &NewJob,
        policies: &Policies,
        now: Millis,
        next_id: &mut u64,
    ) -> TxResult<Result<Inserted, StoreError>> {
        let (spec, key) = (&new.spec, &new.key());
        if let Some(bytes) = tx.keys.get(key.as_str().as_bytes())? {
            let id = match self.id_in(&bytes, key) {
                Ok(id) => id,
                Err(e) => return Ok(Err(e)),
            };
            let job = match tx.job(id)? {
                Some(stored) => stored.job,
                None => return Ok(Err(self.dangling_key(key, id))),
            };
            if job.spec != *spec {
                return Ok(Err(StoreError::KeyConflict {
                    key: key.clone(),
                    existing: job.id,
                    existing_spec: describe(&job.spec),
                    new_spec: describe(spec),
                }));
            }
            return Ok(Ok(Inserted {
                job,
                created: false,
            }));
        }
        let id = *next_id;
        *next_id = id.saturating_add(1);
        let mut job = Job::new(JobId(id), key.clone(), spec.clone(), policies.clone(), now);
        job.label = new.label.clone();
        job.origin = new.origin.clone();
        tx.enter_state(&job)?;
        let submit = StoredTransition {
            from: None,
            to: StateName::Requested,
            input: SUBMIT.to_string(),
            at: now,
        };
        tx.put_job(None, &job, vec![submit])?;
        tx.keys
            .insert(key.as_str().as_bytes(), &id_key(job.id)[..])?;
        Ok(Ok(Inserted { job, created: true }))
    }

    /// The id in a `keys` value.
    pub(crate) fn id_in(&self, bytes: &[u8], key: &JobKey) -> Result<JobId, StoreError> {
        layout::decode_u64(bytes)
            .map(JobId)
            .ok_or_else(|| StoreError::Corrupt {
                dir: self.dir.clone(),
                detail: format!("the id stored for the key {key:?} is not 8 bytes"),
            })
    }

    /// The error for a key that names a job that is not stored.
    pub(crate) fn dangling_key(&self, key: &JobKey, id: JobId) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.clone(),
            detail: format!("the key {key:?} names job {id}, which is not stored"),
        }
    }
}

/// A one-line description of a spec, for errors.
pub fn describe(spec: &JobSpec) -> String {
    match spec {
        JobSpec::Account(a) => {
            let params: Vec<String> = a
                .params
                .iter()
                .map(|(name, values)| {
                    let values: Vec<&str> = values.iter().map(String::as_str).collect();
                    format!("{name}={}", values.join("|"))
                })
                .collect();
            let expires = a
                .expires_at
                .map(|d| format!(", expires {d}"))
                .unwrap_or_default();
            format!(
                "account report {} of account {} as {}, parameters [{}]{expires}",
                a.report_id,
                a.account,
                a.format,
                params.join(", ")
            )
        }
        JobSpec::Billing(b) => format!(
            "billing report {} of account {} from {} to {}",
            b.report_type, b.account, b.start, b.end
        ),
    }
}
