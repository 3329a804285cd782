//! Retention: removing jobs that ended long ago, with their history, in batches.

use crate::PgStore;
use crate::columns::{id_from_sql, millis_sql, state_from_sql, u64_from_sql};
use crate::counts::Deltas;
use crate::run::retrying;
use reportflow_core::{JobId, Millis};
use reportflow_store::StoreError;
use reportflow_store::{PURGE_REPORT_MAX_IDS, PurgeReport};

/// How many jobs one purge transaction removes at most.
const BATCH: i64 = 256;

/// One batch: the ended jobs that ended before `$1`, oldest first, through the index of ended
/// jobs by end time; rows locked by someone (a job being retried) are skipped. Their history
/// goes in the same statement.
const PURGE_BATCH: &str = "
    WITH
    doomed AS MATERIALIZED (
        SELECT id
        FROM reportflow_jobs
        WHERE NOT live AND updated_at < $1
        ORDER BY updated_at, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ),
    history AS (
        DELETE FROM reportflow_history AS h
        USING doomed
        WHERE h.job_id = doomed.id
        RETURNING h.job_id
    ),
    jobs AS (
        DELETE FROM reportflow_jobs AS j
        USING doomed
        WHERE j.id = doomed.id
        RETURNING j.id, j.state, j.updated_at
    )
    SELECT jobs.id, jobs.state,
           (SELECT count(*) FROM history WHERE history.job_id = jobs.id) AS history_records
    FROM jobs
    ORDER BY jobs.updated_at, jobs.id";

impl PgStore {
    /// Removes every ended job whose last change (when it ended) is before `older_than` (core
    /// time), with its history; its key may then name a new job, with a new id (ids are never
    /// reused). Live jobs are never removed, and a job being retried at that moment is left.
    /// Up to 256 jobs per transaction, oldest first, reading only what it removes.
    pub async fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport::default();
        let older_than = millis_sql(older_than);
        loop {
            let removed: Vec<(JobId, u64)> = retrying!(self, "purge ended jobs", |client| {
                let tx = client.transaction().await?;
                let purge = tx.prepare_cached(PURGE_BATCH).await?;
                let rows = tx.query(&purge, &[&older_than, &BATCH]).await?;
                let mut deltas = Deltas::default();
                let mut removed = Vec::with_capacity(rows.len());
                for row in &rows {
                    deltas.add(state_from_sql(self.url(), row.get(1))?, -1);
                    removed.push((id_from_sql(row.get(0)), u64_from_sql(row.get(2))));
                }
                deltas.write(&tx).await?;
                self.commit(tx).await?;
                Ok(removed)
            })?;
            if removed.is_empty() {
                return Ok(report);
            }
            for (id, records) in removed {
                report.jobs += 1;
                report.history_records += records;
                if report.ids.len() < PURGE_REPORT_MAX_IDS {
                    report.ids.push(id);
                }
            }
        }
    }
}
