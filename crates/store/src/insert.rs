//! Submitting a job: idempotent on its key.

use crate::layout::{self, META_NEXT_ID, id_key};
use crate::records::StoredTransition;
use crate::trees::abort_on;
use crate::{Store, StoreError};
use reportflow_core::{Job, JobId, JobKey, JobSpec, Millis, PollPolicy, StateName};

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

enum Outcome {
    Created(Job),
    Exists(Job),
}

impl Store {
    /// Stores a new job in `Requested`, or returns the job `key` already names when its spec is
    /// the same (the policy of a repeated submit is ignored); a different spec under the same key
    /// is a [`StoreError::KeyConflict`]. Validation is the caller's job. The job is durable when
    /// this returns (unless the store was opened with [`crate::Durability::Manual`]).
    ///
    /// Ids start at 1, grow by one per new job, and are never reused, even after a purge.
    pub fn insert(
        &self,
        spec: JobSpec,
        key: JobKey,
        policy: PollPolicy,
        now: Millis,
    ) -> Result<Inserted, StoreError> {
        let inserted = self.insert_unflushed(spec, key, policy, now)?;
        // Also for an existing job: it may have been stored by a call still flushing.
        self.flush_at_point(true)?;
        Ok(inserted)
    }

    /// [`Store::insert`] for many jobs, in order, each in its own transaction, made durable
    /// together by one flush at the end: the batch is durable when this returns `Ok` (unless
    /// the store was opened with [`crate::Durability::Manual`]), at the cost of one flush
    /// instead of one per job. Stops at the first error (a [`StoreError::KeyConflict`], say),
    /// after flushing the jobs stored before it: those stay stored.
    pub fn insert_many(
        &self,
        jobs: impl IntoIterator<Item = (JobSpec, JobKey)>,
        policy: &PollPolicy,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut inserted = Vec::new();
        let mut failed = None;
        for (spec, key) in jobs {
            match self.insert_unflushed(spec, key, policy.clone(), now) {
                Ok(one) => inserted.push(one),
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

    fn insert_unflushed(
        &self,
        spec: JobSpec,
        key: JobKey,
        policy: PollPolicy,
        now: Millis,
    ) -> Result<Inserted, StoreError> {
        let outcome = self.trees().transact(&self.dir, "store a new job", |tx| {
            if let Some(bytes) = tx.keys.get(key.as_str().as_bytes())? {
                let id = abort_on(self.id_in(&bytes, &key))?;
                let job = abort_on(tx.job(id)?.ok_or_else(|| self.dangling_key(&key, id)))?;
                return Ok(Outcome::Exists(job));
            }
            let id = match tx.meta.get(META_NEXT_ID)? {
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
            tx.meta
                .insert(META_NEXT_ID, &id.saturating_add(1).to_be_bytes()[..])?;
            let job = Job::new(JobId(id), key.clone(), spec.clone(), policy.clone(), now);
            tx.enter_state(&job)?;
            tx.put_job(&job)?;
            tx.keys
                .insert(key.as_str().as_bytes(), &id_key(job.id)[..])?;
            let submit = StoredTransition {
                from: None,
                to: StateName::Requested,
                input: SUBMIT.to_string(),
                at: now,
            };
            tx.put_transition(job.id, 0, &submit)?;
            Ok(Outcome::Created(job))
        })?;
        let (job, created) = match outcome {
            Outcome::Created(job) => (job, true),
            Outcome::Exists(job) if job.spec == spec => (job, false),
            Outcome::Exists(job) => {
                return Err(StoreError::KeyConflict {
                    key,
                    existing: job.id,
                    existing_spec: describe(&job.spec),
                    new_spec: describe(&spec),
                });
            }
        };
        Ok(Inserted { job, created })
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
pub(crate) fn describe(spec: &JobSpec) -> String {
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
