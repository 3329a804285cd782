//! Submitting jobs: idempotent on their keys, one transaction per batch, a hint to the workers.

use crate::PgStore;
use crate::columns::{JobArrays, job_from_row, millis_sql, state_sql};
use crate::counts::Deltas;
use crate::run::{OpError, retrying};
use reportflow_core::{Job, JobId, JobKey, JobSpec, Millis, NewJob, Policies, StateName};
use reportflow_store::StoreError;
use reportflow_store::{Inserted, describe_spec};
use std::collections::HashMap;

/// Jobs stored per transaction by [`PgStore::insert_many`].
const INSERT_BATCH: usize = 500;

/// The summary recorded for a submit (history seq 0), as the sled store records it.
const SUBMIT: &str = "submit";

/// The jobs the keys already name, in the keys' order; for each key that names none, a new id
/// (drawn only for those: the sequence is not transactional, so an id drawn by a batch that
/// rolls back is skipped, never reused).
const FIND_KEYS: &str = "
    SELECT k.key, j.id, j.version, j.record,
           CASE WHEN j.id IS NULL THEN nextval('reportflow_job_ids') END AS new_id
    FROM unnest($1::text[]) WITH ORDINALITY AS k (key, ord)
    LEFT JOIN reportflow_jobs AS j ON j.key = k.key
    ORDER BY k.ord";

/// The new jobs (in key order, so that concurrent batches wait for each other's keys instead of
/// deadlocking) and their submit records. A key stored meanwhile by another transaction is
/// skipped; the caller sees fewer rows and runs the batch again.
const INSERT_JOBS: &str = "
    WITH new_jobs AS (
        INSERT INTO reportflow_jobs
            (id, key, account, state, live, due_at, version, record, updated_at, label)
        OVERRIDING SYSTEM VALUE
        SELECT *
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::boolean[],
                    $6::bigint[], $7::bigint[], $8::bytea[], $9::bigint[], $13::text[])
            AS n (id, key, account, state, live, due_at, version, record, updated_at, label)
        ORDER BY key
        ON CONFLICT (key) DO NOTHING
        RETURNING id
    )
    INSERT INTO reportflow_history (job_id, seq, from_state, to_state, input, at)
    SELECT id, 0, NULL, $10, $11, $12
    FROM new_jobs";

impl PgStore {
    /// Stores a new job in `Requested`, or returns the job `key` already names when its spec is
    /// the same (the policies, label and date origin of a repeated submit are ignored); a
    /// different spec under the same key is a [`StoreError::KeyConflict`]. Committed (durable)
    /// when this returns.
    pub async fn insert(
        &self,
        spec: JobSpec,
        key: JobKey,
        policy: Policies,
        now: Millis,
    ) -> Result<Inserted, StoreError> {
        let mut inserted = self.insert_many([(spec, key)], &policy, now).await?;
        inserted
            .pop()
            .ok_or_else(|| self.database_error("store a new job", "nothing was returned".into()))
    }

    /// [`PgStore::insert`] for many jobs, in order: up to 500 jobs per transaction, each batch
    /// whole or not at all, with `NOTIFY` (an empty payload) in the same transaction when it
    /// stored a new job, so that idle workers look for work. Stops at the first error (a
    /// [`StoreError::KeyConflict`], say): the jobs before it stay stored, none after it is.
    /// The same key twice in the input names one job.
    ///
    /// Ids increase and are never reused, even after a purge; unlike the sled store's they may
    /// skip numbers (an id drawn by a transaction that rolled back is not given again).
    pub async fn insert_many(
        &self,
        jobs: impl IntoIterator<Item = impl Into<NewJob>>,
        policy: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        let jobs: Vec<NewJob> = jobs.into_iter().map(Into::into).collect();
        let mut inserted = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(INSERT_BATCH) {
            let (stored, refused) = self.insert_chunk(chunk, policy, now).await?;
            inserted.extend(stored);
            if let Some(e) = refused {
                return Err(e);
            }
        }
        Ok(inserted)
    }

    /// Stores `chunk` in order in one transaction: the jobs stored (or found under their keys),
    /// and the refusal that stopped it at a job, if any (the jobs before it are stored).
    async fn insert_chunk(
        &self,
        chunk: &[NewJob],
        policy: &Policies,
        now: Millis,
    ) -> Result<(Vec<Inserted>, Option<StoreError>), StoreError> {
        let chunk_keys: Vec<JobKey> = chunk.iter().map(NewJob::key).collect();
        let mut keys: Vec<&str> = Vec::with_capacity(chunk.len());
        for key in &chunk_keys {
            if !keys.contains(&key.as_str()) {
                keys.push(key.as_str());
            }
        }
        retrying!(self, "store new jobs", |client| {
            let tx = client.transaction().await?;
            let find = tx.prepare_cached(FIND_KEYS).await?;
            let mut known: HashMap<String, Job> = HashMap::new();
            let mut fresh_ids: HashMap<String, i64> = HashMap::new();
            for row in tx.query(&find, &[&keys]).await? {
                let key: String = row.get(0);
                match row.get::<_, Option<i64>>(1) {
                    Some(id) => {
                        let job = job_from_row(self.url(), id, row.get(2), row.get(3))?;
                        known.insert(key, job);
                    }
                    None => {
                        fresh_ids.insert(key, row.get(4));
                    }
                }
            }
            let (inserted, refused, new_jobs) =
                self.settle_keys(chunk, &chunk_keys, policy, now, known, &fresh_ids)?;
            if !new_jobs.is_empty() {
                let stored = self.store_new(&tx, &new_jobs, now).await?;
                if stored != new_jobs.len() {
                    // Another transaction stored one of the keys meanwhile: read them again.
                    return Err(OpError::Again);
                }
                let mut deltas = Deltas::default();
                deltas.add(
                    StateName::Requested,
                    i64::try_from(new_jobs.len()).unwrap_or(0),
                );
                deltas.write(&tx).await?;
                crate::listen::notify(&tx).await?;
            }
            self.commit(tx).await?;
            Ok((inserted, refused))
        })
    }

    /// Walks `chunk` (whose keys are `keys`) in order against the jobs the keys name: what each
    /// submit answers, the refusal that stops the chunk, and the new jobs to store.
    #[allow(clippy::type_complexity)]
    fn settle_keys(
        &self,
        chunk: &[NewJob],
        keys: &[JobKey],
        policy: &Policies,
        now: Millis,
        mut known: HashMap<String, Job>,
        fresh_ids: &HashMap<String, i64>,
    ) -> Result<(Vec<Inserted>, Option<StoreError>, Vec<Job>), StoreError> {
        let mut inserted = Vec::with_capacity(chunk.len());
        let mut new_jobs = Vec::new();
        for (new, key) in chunk.iter().zip(keys) {
            let spec = &new.spec;
            if let Some(job) = known.get(key.as_str()) {
                if job.spec != *spec {
                    let refused = StoreError::KeyConflict {
                        key: key.clone(),
                        existing: job.id,
                        existing_spec: describe_spec(&job.spec),
                        new_spec: describe_spec(spec),
                    };
                    return Ok((inserted, Some(refused), new_jobs));
                }
                inserted.push(Inserted {
                    job: job.clone(),
                    created: false,
                });
                continue;
            }
            let id = fresh_ids.get(key.as_str()).copied().ok_or_else(|| {
                self.database_error("store new jobs", format!("no id was drawn for {key:?}"))
            })?;
            let id = JobId(u64::try_from(id).unwrap_or(0));
            let mut job = Job::new(id, key.clone(), spec.clone(), policy.clone(), now);
            job.label = new.label.clone();
            job.origin = new.origin.clone();
            known.insert(key.as_str().to_string(), job.clone());
            new_jobs.push(job.clone());
            inserted.push(Inserted { job, created: true });
        }
        Ok((inserted, None, new_jobs))
    }

    /// Inserts `jobs` and their submit records; how many were stored.
    async fn store_new(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        jobs: &[Job],
        now: Millis,
    ) -> Result<usize, OpError> {
        let mut rows = JobArrays::default();
        for job in jobs {
            rows.push(self.url(), job)?;
        }
        let insert = tx.prepare_cached(INSERT_JOBS).await?;
        let requested = state_sql(StateName::Requested);
        let stored = tx
            .execute(
                &insert,
                &[
                    &rows.ids,
                    &rows.keys,
                    &rows.accounts,
                    &rows.states,
                    &rows.lives,
                    &rows.due_at,
                    &rows.versions,
                    &rows.records,
                    &rows.updated_at,
                    &requested,
                    &SUBMIT,
                    &millis_sql(now),
                    &rows.labels,
                ],
            )
            .await?;
        Ok(usize::try_from(stored).unwrap_or(0))
    }
}
