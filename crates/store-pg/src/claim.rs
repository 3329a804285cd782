//! Sharing the work: claiming due jobs under leases, renewing and releasing them, and when the
//! next job is due.
//!
//! Every lease time is the database's clock (`clock_timestamp()`): a claim sets the expiry to
//! the database's now plus the store's lease duration, and "expired" means expired by the
//! database's clock. The due time a claim compares (`due_at <= now`) is the job's, in the
//! core's time, given by the caller.

use crate::PgStore;
use crate::columns::{
    duration_from_sql, duration_sql, id_from_sql, id_sql, job_from_row, millis_from_sql,
    millis_sql, u64_from_sql, u64_sql,
};
use crate::run::retrying;
use reportflow_core::{Label, Millis};
use reportflow_store::{Claimed, Lease, Released, Renewed, StoreError, WorkerId};
use std::collections::HashSet;

/// The advisory lock that makes claims take turns ("rfclaims" in ASCII), so that each claim
/// counts the leases of the claims before it: the per-account bound holds across workers.
const CLAIM_LOCK: i64 = 0x7266_636c_6169_6d73;

/// How often one claim looks again when a pass filled some accounts' room but not the
/// claim's.
const CLAIM_PASSES: usize = 4;

/// Takes up to `$4` due live jobs nobody holds (only those labelled `$7`, unless it is null),
/// at most `$2` per account counting the leases anyone holds already, earliest due first; each gets a new lease of `$6` ms for worker `$5`
/// and a token one above its last. Locked candidates (a job being stepped, or cancelled) are
/// skipped, not waited for. The candidates are a materialized CTE: the `LIMIT` and the
/// `FOR UPDATE SKIP LOCKED` apply before the per-account ranking.
const CLAIM: &str = "
    WITH
    leased AS MATERIALIZED (
        SELECT account, count(*) AS jobs
        FROM reportflow_jobs
        WHERE lease_owner IS NOT NULL AND live AND lease_expires_at > clock_timestamp()
        GROUP BY account
    ),
    candidates AS MATERIALIZED (
        SELECT id, account, due_at
        FROM reportflow_jobs
        WHERE live
          AND due_at <= $1
          AND (lease_owner IS NULL OR lease_expires_at <= clock_timestamp())
          AND account NOT IN (SELECT account FROM leased WHERE jobs >= $2)
          AND ($7::text IS NULL OR label = $7)
        ORDER BY due_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ),
    ranked AS (
        SELECT c.id, c.due_at,
               row_number() OVER (PARTITION BY c.account ORDER BY c.due_at, c.id)
                   + coalesce(l.jobs, 0) AS nth_of_account
        FROM candidates AS c
        LEFT JOIN leased AS l ON l.account = c.account
    ),
    chosen AS (
        SELECT id
        FROM ranked
        WHERE nth_of_account <= $2
        ORDER BY due_at, id
        LIMIT $4
    )
    UPDATE reportflow_jobs AS j
    SET lease_owner = $5,
        lease_token = j.lease_token + 1,
        lease_expires_at = clock_timestamp() + $6::bigint * interval '1 millisecond'
    FROM chosen
    WHERE j.id = chosen.id
    RETURNING j.id, j.version, j.record, j.lease_token,
              reportflow_ms_until(j.lease_expires_at) AS lease_ms, j.due_at";

/// Extends the leases still held (owner, token, unexpired), locking the rows in id order.
const RENEW: &str = "
    WITH mine AS MATERIALIZED (
        SELECT j.id
        FROM reportflow_jobs AS j
        JOIN unnest($1::bigint[], $2::bigint[]) AS l (id, token) ON l.id = j.id
        WHERE j.lease_owner = $3
          AND j.lease_token = l.token
          AND j.lease_expires_at > clock_timestamp()
        ORDER BY j.id
        FOR UPDATE OF j
    )
    UPDATE reportflow_jobs AS j
    SET lease_expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond'
    FROM mine
    WHERE j.id = mine.id
    RETURNING j.id, j.lease_token, reportflow_ms_until(j.lease_expires_at) AS lease_ms";

/// Gives back the leases still the worker's (owner and token; expired or not).
const RELEASE: &str = "
    WITH mine AS MATERIALIZED (
        SELECT j.id
        FROM reportflow_jobs AS j
        JOIN unnest($1::bigint[], $2::bigint[]) AS l (id, token) ON l.id = j.id
        WHERE j.lease_owner = $3 AND j.lease_token = l.token
        ORDER BY j.id
        FOR UPDATE OF j
    )
    UPDATE reportflow_jobs AS j
    SET lease_owner = NULL, lease_expires_at = NULL
    FROM mine
    WHERE j.id = mine.id
    RETURNING j.id";

/// The earliest due time of the live jobs nobody holds (labelled `$1`, unless it is null),
/// through the index of live jobs by due time (or by label and due time).
const NEXT_DUE: &str = "
    SELECT due_at
    FROM reportflow_jobs
    WHERE live AND (lease_owner IS NULL OR lease_expires_at <= clock_timestamp())
      AND ($1::text IS NULL OR label = $1)
    ORDER BY due_at, id
    LIMIT 1";

impl PgStore {
    /// Takes up to `limit` live jobs due at `now` (the core's time: `due_at <= now`) that
    /// nobody holds (never leased, released, or whose lease expired by the database's clock),
    /// earliest due first, for `worker`. Each gets a lease of the store's duration
    /// ([`crate::PgOptions::lease`]) and a token one above its last, so that whoever held it
    /// before can write nothing more.
    ///
    /// Never more of one account's jobs than `per_account_limit` (at least 1) minus those of
    /// that account leased already by any worker: the bound is global. Claims take turns (an
    /// advisory lock), so that each counts the leases of the one before. Jobs locked at that
    /// moment (being stepped, or cancelled) are skipped, not waited for.
    ///
    /// A claim whose commit fails with [`PgError::OutcomeUnknown`] may have taken jobs:
    /// they come back to any worker when their leases expire.
    pub async fn claim(
        &self,
        worker: &WorkerId,
        limit: usize,
        per_account_limit: usize,
        now: Millis,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.claim_labelled(worker, limit, per_account_limit, None, now)
            .await
    }

    /// [`PgStore::claim`] of only the jobs labelled `label` (every job for `None`): a worker
    /// that drives one label's jobs. The per-account bound still counts every leased job.
    pub async fn claim_labelled(
        &self,
        worker: &WorkerId,
        limit: usize,
        per_account_limit: usize,
        label: Option<&Label>,
        now: Millis,
    ) -> Result<Vec<Claimed>, StoreError> {
        let label: Option<&str> = label.map(Label::as_str);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let per_account = i64::try_from(per_account_limit.max(1)).unwrap_or(i64::MAX);
        let now = millis_sql(now);
        let lease_ms = duration_sql(self.inner.options.lease);
        retrying!(self, "claim jobs", |client| {
            let tx = client.transaction().await?;
            let take_turn = tx
                .prepare_cached("SELECT pg_advisory_xact_lock($1)")
                .await?;
            tx.execute(&take_turn, &[&CLAIM_LOCK]).await?;
            let claim = tx.prepare_cached(CLAIM).await?;
            let mut claimed: Vec<(i64, Claimed)> = Vec::new();
            for _ in 0..CLAIM_PASSES {
                let want = limit - claimed.len();
                if want == 0 {
                    break;
                }
                let window = i64::try_from(want.saturating_mul(4).clamp(32, 4096)).unwrap_or(32);
                let want = i64::try_from(want).unwrap_or(i64::MAX);
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                    &now,
                    &per_account,
                    &window,
                    &want,
                    &worker.as_str(),
                    &lease_ms,
                    &label,
                ];
                let rows = tx.query(&claim, &params).await?;
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    let job = job_from_row(self.url(), row.get(0), row.get(1), row.get(2))?;
                    let lease = Lease {
                        job: job.id,
                        token: u64_from_sql(row.get(3)),
                    };
                    let remaining = duration_from_sql(row.get::<_, Option<i64>>(4).unwrap_or(0));
                    claimed.push((
                        row.get(5),
                        Claimed {
                            job,
                            lease,
                            remaining,
                        },
                    ));
                }
            }
            self.commit(tx).await?;
            claimed.sort_by_key(|(due, c)| (*due, c.job.id));
            Ok(claimed.into_iter().map(|(_, c)| c).collect())
        })
    }

    /// Extends the leases `worker` still holds (same token, not expired by the database's
    /// clock) to the store's lease duration from now; the others are lost: their jobs may be
    /// another worker's already, so let them go.
    pub async fn renew(&self, worker: &WorkerId, leases: &[Lease]) -> Result<Renewed, StoreError> {
        if leases.is_empty() {
            return Ok(Renewed::default());
        }
        let (ids, tokens) = lease_arrays(leases);
        let lease_ms = duration_sql(self.inner.options.lease);
        retrying!(self, "renew leases", |client| {
            let tx = client.transaction().await?;
            let renew = tx.prepare_cached(RENEW).await?;
            let rows = tx
                .query(&renew, &[&ids, &tokens, &worker.as_str(), &lease_ms])
                .await?;
            self.commit(tx).await?;
            let mut kept = Vec::with_capacity(rows.len());
            for row in rows {
                let lease = Lease {
                    job: id_from_sql(row.get(0)),
                    token: u64_from_sql(row.get(1)),
                };
                let left = duration_from_sql(row.get::<_, Option<i64>>(2).unwrap_or(0));
                kept.push((lease, left));
            }
            let held: HashSet<Lease> = kept.iter().map(|(l, _)| *l).collect();
            let lost = leases
                .iter()
                .filter(|l| !held.contains(l))
                .copied()
                .collect();
            Ok(Renewed { kept, lost })
        })
    }

    /// Gives back the jobs of the leases `worker` still holds (same token; expired or not),
    /// e.g. on a clean shutdown, or when a job's next step is far away: any worker may claim
    /// them once they are due. Idle workers get a hint when something was released.
    pub async fn release(
        &self,
        worker: &WorkerId,
        leases: &[Lease],
    ) -> Result<Released, StoreError> {
        if leases.is_empty() {
            return Ok(Released::default());
        }
        let (ids, tokens) = lease_arrays(leases);
        retrying!(self, "release leases", |client| {
            let tx = client.transaction().await?;
            let release = tx.prepare_cached(RELEASE).await?;
            let rows = tx
                .query(&release, &[&ids, &tokens, &worker.as_str()])
                .await?;
            if !rows.is_empty() {
                crate::listen::notify(&tx).await?;
            }
            self.commit(tx).await?;
            let released: Vec<_> = rows.iter().map(|r| id_from_sql(r.get(0))).collect();
            let given_back: HashSet<_> = released.iter().copied().collect();
            let not_held = leases
                .iter()
                .filter(|l| !given_back.contains(&l.job))
                .copied()
                .collect();
            Ok(Released { released, not_held })
        })
    }

    /// The earliest due time (core time) among the live jobs nobody holds, for a claim loop to
    /// sleep on; `None` when there are none. Jobs leased by a worker that died count once their
    /// lease has expired: claim at least every claim interval as well.
    pub async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        self.next_due_labelled(None).await
    }

    /// [`PgStore::next_due`] among the jobs labelled `label` (every job for `None`).
    pub async fn next_due_labelled(
        &self,
        label: Option<&Label>,
    ) -> Result<Option<Millis>, StoreError> {
        let label: Option<&str> = label.map(Label::as_str);
        retrying!(self, "find the next due job", |client| {
            let next_due = client.prepare_cached(NEXT_DUE).await?;
            let row = client.query_opt(&next_due, &[&label]).await?;
            Ok(row.map(|r| millis_from_sql(r.get(0))))
        })
    }
}

/// The ids and tokens of leases, as `unnest` arrays (leases on ids no row can have are left
/// out: they are lost).
fn lease_arrays(leases: &[Lease]) -> (Vec<i64>, Vec<i64>) {
    leases
        .iter()
        .filter_map(|l| Some((id_sql(l.job)?, u64_sql(l.token))))
        .unzip()
}
