//! Recording transitions: the core decides, one transaction stores a batch of them, each
//! fenced by the job's version and, for a worker's step, by its lease.
//!
//! One batch costs four round trips whatever its size: `BEGIN`; lock and read the jobs (by id,
//! `FOR UPDATE`); write the records, the history, the renewed leases and the counts (one
//! statement over `unnest` arrays); `COMMIT`. The checks run in Rust between the read and the
//! write, under the row locks: nobody can claim the job or step it meanwhile (claimers skip
//! locked rows), so a lease found valid stays the writer's until the commit.

use crate::PgStore;
use crate::columns::{
    JobArrays, duration_from_sql, duration_sql, id_sql, job_from_row, millis_sql, state_sql,
    u64_from_sql, u64_sql,
};
use crate::counts::Deltas;
use crate::run::{OpError, retrying};
use reportflow_core::{Input, Job, JobId, Millis};
use reportflow_store::{AppliedStep, LeaseLoss, Step, StepLease, StoreError};
use std::collections::{BTreeMap, HashMap};

/// Locks and reads the jobs of a batch, in id order (every writer locks job rows in id order,
/// so batches wait for each other instead of deadlocking), with their leases as the database's
/// clock sees them now.
const LOCK_JOBS: &str = "
    SELECT id, version, record, lease_owner, lease_token,
           reportflow_ms_until(lease_expires_at) AS lease_ms
    FROM reportflow_jobs
    WHERE id = ANY($1::bigint[])
    ORDER BY id
    FOR UPDATE";

/// Writes each touched job once (its last state in the batch), every step's history row and
/// the counts' changes (their rows locked in state order, as every writer locks them, after the
/// job rows). An ended job is nobody's: its lease is cleared. A step written under the lease
/// renews it.
const WRITE_STEPS: &str = "
    WITH moved AS (
        UPDATE reportflow_jobs AS j
        SET record = s.record,
            state = s.state,
            live = s.live,
            due_at = s.due_at,
            version = s.version,
            updated_at = s.updated_at,
            lease_owner = CASE WHEN s.live THEN j.lease_owner END,
            lease_expires_at = CASE
                WHEN NOT s.live THEN NULL
                WHEN s.renew THEN clock_timestamp() + $10::bigint * interval '1 millisecond'
                ELSE j.lease_expires_at
            END
        FROM unnest($1::bigint[], $2::bytea[], $3::smallint[], $4::boolean[], $5::bigint[],
                    $6::bigint[], $7::bigint[], $8::boolean[], $9::bigint[])
            AS s (id, record, state, live, due_at, version, updated_at, renew, was_version)
        WHERE j.id = s.id AND j.version = s.was_version
        RETURNING j.id, reportflow_ms_until(j.lease_expires_at) AS lease_ms
    ),
    logged AS (
        INSERT INTO reportflow_history
            (job_id, seq, from_state, to_state, input, at, lease_token, worker)
        SELECT *
        FROM unnest($11::bigint[], $12::bigint[], $13::smallint[], $14::smallint[],
                    $15::text[], $16::bigint[], $17::bigint[], $18::text[])
    ),
    locked_counts AS MATERIALIZED (
        SELECT state
        FROM reportflow_counts
        WHERE state = ANY($19::smallint[])
        ORDER BY state
        FOR UPDATE
    ),
    counted AS (
        UPDATE reportflow_counts AS c
        SET jobs = c.jobs + d.delta
        FROM locked_counts
        JOIN unnest($19::smallint[], $20::bigint[]) AS d (state, delta)
            ON d.state = locked_counts.state
        WHERE c.state = locked_counts.state
    )
    SELECT id, lease_ms FROM moved";

/// A job of a batch as the batch has it so far.
struct Current {
    job: Job,
    /// The version its row had when the batch read it.
    was_version: i64,
    owner: Option<String>,
    token: u64,
    /// The lease's remaining time when read (`None`: no lease).
    lease_ms: Option<i64>,
    /// A step of the batch was written under its lease (and renews it).
    renewed: bool,
    touched: bool,
}

/// The history rows of a batch, as `unnest` arrays.
#[derive(Default)]
struct HistoryRows {
    ids: Vec<i64>,
    seqs: Vec<i64>,
    from: Vec<i16>,
    to: Vec<i16>,
    inputs: Vec<String>,
    at: Vec<i64>,
    tokens: Vec<Option<i64>>,
    workers: Vec<Option<String>>,
}

impl PgStore {
    /// Applies one step; see [`PgStore::apply_many`].
    pub async fn apply(&self, step: Step, now: Millis) -> Result<AppliedStep, StoreError> {
        let id = step.id;
        let mut results = self.apply_many(std::slice::from_ref(&step), now).await?;
        results.pop().unwrap_or_else(|| {
            Err(self.database_error(
                "record a transition",
                format!("a step of job {id} was neither recorded nor refused"),
            ))
        })
    }

    /// Applies `steps` in order (a later step of the same job sees the earlier one) in one
    /// transaction, each through the core's [`Job::apply`] on the stored job, writing the job's
    /// record and derived columns, its history row (seq = the new version, with the lease it
    /// was written under) and the counts. Committed (durable) when this returns.
    ///
    /// A step is written only if the job's version is `expected_version` (else
    /// [`StoreError::Conflict`]) and, when it carries a lease, the job's lease is still that
    /// worker's, under that token, and has not expired by the database's clock (else
    /// [`StoreError::LeaseLost`]: fencing); a create intent without a lease is
    /// [`StoreError::LeaseRequired`], a lease shorter than the step's `must_last`
    /// [`StoreError::LeaseTooShort`]; an input the core refuses is
    /// [`StoreError::Rejected`]; an unknown job [`StoreError::NotFound`]. A refused step
    /// writes nothing and does not hold up the others. A step written under a lease renews it.
    ///
    /// `Err` is a failure of the whole batch: nothing was written, except for
    /// [`PgError::OutcomeUnknown`] (the connection broke during the commit: read the jobs
    /// again).
    pub async fn apply_many(
        &self,
        steps: &[Step],
        now: Millis,
    ) -> Result<Vec<Result<AppliedStep, StoreError>>, StoreError> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<i64> = steps.iter().filter_map(|s| id_sql(s.id)).collect();
        ids.sort_unstable();
        ids.dedup();
        let lease_ms = duration_sql(self.inner.options.lease);
        retrying!(self, "record a transition", |client| {
            let tx = client.transaction().await?;
            let lock = tx.prepare_cached(LOCK_JOBS).await?;
            let mut current = HashMap::new();
            for row in tx.query(&lock, &[&ids]).await? {
                let job = job_from_row(self.url(), row.get(0), row.get(1), row.get(2))?;
                current.insert(
                    job.id,
                    Current {
                        was_version: row.get(1),
                        owner: row.get(3),
                        token: u64_from_sql(row.get(4)),
                        lease_ms: row.get(5),
                        renewed: false,
                        touched: false,
                        job,
                    },
                );
            }
            let mut history = HistoryRows::default();
            let mut deltas = Deltas::default();
            let mut revived = false;
            let outcomes: Vec<Result<(Job, bool), StoreError>> = steps
                .iter()
                .map(|step| {
                    self.step(
                        &mut current,
                        step,
                        now,
                        &mut history,
                        &mut deltas,
                        &mut revived,
                    )
                })
                .collect();
            let mut remaining = BTreeMap::new();
            let mut touched: Vec<&Current> = current.values().filter(|c| c.touched).collect();
            if !touched.is_empty() {
                touched.sort_by_key(|c| c.job.id);
                remaining = self
                    .write(&tx, &touched, &history, &deltas, lease_ms)
                    .await?;
                if revived {
                    crate::listen::notify(&tx).await?;
                }
            }
            self.commit(tx).await?;
            Ok(outcomes
                .into_iter()
                .map(|outcome| {
                    outcome.map(|(job, leased)| AppliedStep {
                        lease_remaining: match remaining.get(&job.id) {
                            Some(Some(ms)) if leased => Some(duration_from_sql(*ms)),
                            _ => None,
                        },
                        job,
                    })
                })
                .collect())
        })
    }

    /// Checks and applies one step to the batch's view of its job. The `Err` is the step's own
    /// refusal; nothing of it is kept.
    fn step(
        &self,
        current: &mut HashMap<JobId, Current>,
        step: &Step,
        now: Millis,
        history: &mut HistoryRows,
        deltas: &mut Deltas,
        revived: &mut bool,
    ) -> Result<(Job, bool), StoreError> {
        let id = step.id;
        let cur = current.get_mut(&id).ok_or(StoreError::NotFound { id })?;
        if cur.job.version != step.expected_version {
            return Err(StoreError::Conflict {
                id,
                expected: step.expected_version,
                found: cur.job.version,
            });
        }
        match &step.lease {
            None if step.input == Input::CreateSending => {
                return Err(StoreError::LeaseRequired { id });
            }
            None => {}
            Some(lease) => self.check_lease(cur, lease)?,
        }
        let next = cur
            .job
            .apply(step.input.clone(), now)
            .map_err(StoreError::Rejected)?;
        let (from, to) = (cur.job.state.name(), next.state.name());
        history.ids.push(u64_sql(id.0));
        history.seqs.push(u64_sql(next.version));
        history.from.push(state_sql(from));
        history.to.push(state_sql(to));
        history.inputs.push(step.input.summary());
        history.at.push(millis_sql(now));
        history
            .tokens
            .push(step.lease.as_ref().map(|l| u64_sql(l.token)));
        history
            .workers
            .push(step.lease.as_ref().map(|l| l.worker.as_str().to_string()));
        deltas.moved(from, to);
        if from.is_terminal() && !to.is_terminal() {
            *revived = true;
        }
        if to.is_terminal() {
            cur.owner = None;
            cur.renewed = false;
        } else if step.lease.is_some() {
            cur.renewed = true;
        }
        cur.job = next.clone();
        cur.touched = true;
        Ok((next, step.lease.is_some()))
    }

    /// Fencing: the lease is the worker's, under this token, unexpired; and long enough.
    fn check_lease(&self, cur: &Current, lease: &StepLease) -> Result<(), StoreError> {
        let id = cur.job.id;
        let lost = |reason| Err(StoreError::LeaseLost { id, reason });
        match &cur.owner {
            None => return lost(LeaseLoss::NotLeased),
            Some(owner) if owner != lease.worker.as_str() || cur.token != lease.token => {
                return lost(LeaseLoss::TakenOver);
            }
            Some(_) => {}
        }
        if !cur.renewed && cur.lease_ms.unwrap_or(0) <= 0 {
            return lost(LeaseLoss::Expired);
        }
        let lease_duration = self.inner.options.lease;
        if lease.must_last > lease_duration {
            return Err(StoreError::LeaseTooShort {
                id,
                lease_ms: u64::try_from(lease_duration.as_millis()).unwrap_or(u64::MAX),
                needed_ms: u64::try_from(lease.must_last.as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }

    /// Writes the touched jobs, the history rows and the counts; each job's lease time left
    /// afterwards.
    async fn write(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        touched: &[&Current],
        history: &HistoryRows,
        deltas: &Deltas,
        lease_ms: i64,
    ) -> Result<BTreeMap<JobId, Option<i64>>, OpError> {
        let (states, changes) = deltas.arrays();
        let n = touched.len();
        let mut jobs = JobArrays::default();
        let (mut renews, mut was) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for cur in touched {
            jobs.push(self.url(), &cur.job)?;
            renews.push(cur.renewed && !cur.job.state.is_terminal());
            was.push(cur.was_version);
        }
        let write = tx.prepare_cached(WRITE_STEPS).await?;
        let rows = tx
            .query(
                &write,
                &[
                    &jobs.ids,
                    &jobs.records,
                    &jobs.states,
                    &jobs.lives,
                    &jobs.due_at,
                    &jobs.versions,
                    &jobs.updated_at,
                    &renews,
                    &was,
                    &lease_ms,
                    &history.ids,
                    &history.seqs,
                    &history.from,
                    &history.to,
                    &history.inputs,
                    &history.at,
                    &history.tokens,
                    &history.workers,
                    &states,
                    &changes,
                ],
            )
            .await?;
        if rows.len() != n {
            return Err(self
                .database_error(
                    "record a transition",
                    format!("{} of {n} locked jobs were written", rows.len()),
                )
                .into());
        }
        Ok(rows
            .iter()
            .map(|row| (crate::columns::id_from_sql(row.get(0)), row.get(1)))
            .collect())
    }
}
