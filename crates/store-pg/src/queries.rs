//! Reading jobs: by id, by key, the live ones, by state (paged), history, counts.
//!
//! As with the sled store, reads are not snapshots across calls: each page is read as the
//! database has it at that moment.

use crate::PgStore;
use crate::columns::{
    id_sql, job_from_row, limit_sql, millis_from_sql, state_from_sql, state_sql, u64_from_sql,
};
use crate::run::retrying;
use reportflow_core::{Job, JobId, JobKey, StateName};
use reportflow_store::TransitionRecord;
use reportflow_store::{LeasedTransition, PgError, StoreError, WorkerId};
use std::collections::BTreeMap;
use tokio_postgres::Row;

const GET: &str = "
    SELECT id, version, record
    FROM reportflow_jobs
    WHERE id = $1";

const GET_BY_KEY: &str = "
    SELECT id, version, record
    FROM reportflow_jobs
    WHERE key = $1";

/// Through the partial index of live jobs by id: never touches an ended job.
const LIVE_PAGE: &str = "
    SELECT id, version, record
    FROM reportflow_jobs
    WHERE live AND id > $1
    ORDER BY id
    LIMIT $2";

const LIST_ALL: &str = "
    SELECT id, version, record
    FROM reportflow_jobs
    WHERE id > $1
    ORDER BY id
    LIMIT $2";

/// Through the index by state and id.
const LIST_STATE: &str = "
    SELECT id, version, record
    FROM reportflow_jobs
    WHERE state = $1 AND id > $2
    ORDER BY state, id
    LIMIT $3";

const HISTORY: &str = "
    SELECT seq, from_state, to_state, input, at, lease_token, worker
    FROM reportflow_history
    WHERE job_id = $1
    ORDER BY seq";

const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM reportflow_jobs WHERE id = $1)";

const COUNTS: &str = "SELECT state, jobs FROM reportflow_counts";

impl PgStore {
    /// The job with this id, if it is stored.
    pub async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let Some(sql_id) = id_sql(id) else {
            return Ok(None);
        };
        retrying!(self, "read a job", |client| {
            let statement = client.prepare_cached(GET).await?;
            let row = client.query_opt(&statement, &[&sql_id]).await?;
            Ok(row.map(|row| self.job_in(&row)).transpose()?)
        })
    }

    /// The job this key names, if any.
    pub async fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError> {
        retrying!(self, "read a job by its key", |client| {
            let statement = client.prepare_cached(GET_BY_KEY).await?;
            let row = client.query_opt(&statement, &[&key.as_str()]).await?;
            Ok(row.map(|row| self.job_in(&row)).transpose()?)
        })
    }

    /// Every job that has not ended, in id order, through the index of live jobs alone;
    /// [`PgStore::live_page`] reads them a page at a time.
    pub async fn live_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.live_page(None, usize::MAX).await
    }

    /// Up to `limit` live jobs with ids above `after`, in id order, read through the index of
    /// live jobs alone: its cost does not grow with the ended jobs kept. Pass the last id of a
    /// page as `after` to get the next page.
    pub async fn live_page(
        &self,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let Some(after) = after_sql(after) else {
            return Ok(Vec::new());
        };
        let limit = limit_sql(limit);
        retrying!(self, "read the live jobs", |client| {
            let statement = client.prepare_cached(LIVE_PAGE).await?;
            let rows = client.query(&statement, &[&after, &limit]).await?;
            Ok(self.jobs_in(&rows)?)
        })
    }

    /// Up to `limit` jobs with ids above `after`, in ascending id order; only those in `state`
    /// when one is given (through the index by state). Pass the last id of a page as `after` to
    /// get the next page.
    pub async fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let Some(after) = after_sql(after) else {
            return Ok(Vec::new());
        };
        let limit = limit_sql(limit);
        retrying!(self, "list jobs", |client| {
            let rows = match state {
                None => {
                    let statement = client.prepare_cached(LIST_ALL).await?;
                    client.query(&statement, &[&after, &limit]).await?
                }
                Some(state) => {
                    let statement = client.prepare_cached(LIST_STATE).await?;
                    client
                        .query(&statement, &[&state_sql(state), &after, &limit])
                        .await?
                }
            };
            Ok(self.jobs_in(&rows)?)
        })
    }

    /// The job's transitions in order: seq 0 is the submit (from `None` to `Requested`), then
    /// one per applied input. [`StoreError::NotFound`] when the job is not stored.
    pub async fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError> {
        let steps = self.history_with_leases(id).await?;
        Ok(steps.into_iter().map(|s| s.transition).collect())
    }

    /// [`PgStore::history`] with the worker and lease token each step was written under.
    pub async fn history_with_leases(
        &self,
        id: JobId,
    ) -> Result<Vec<LeasedTransition>, StoreError> {
        let Some(sql_id) = id_sql(id) else {
            return Err(StoreError::NotFound { id });
        };
        retrying!(self, "read a job's history", |client| {
            let statement = client.prepare_cached(HISTORY).await?;
            let rows = client.query(&statement, &[&sql_id]).await?;
            if rows.is_empty() {
                let statement = client.prepare_cached(EXISTS).await?;
                let exists: bool = client.query_one(&statement, &[&sql_id]).await?.get(0);
                if !exists {
                    return Err(StoreError::NotFound { id }.into());
                }
            }
            Ok(rows
                .iter()
                .map(|row| self.transition_in(row))
                .collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// How many jobs are in each state; every state is present, zero or not. Read from the
    /// counts table, kept in the same transactions as the jobs, not by scanning jobs.
    pub async fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError> {
        retrying!(self, "read the counts", |client| {
            let statement = client.prepare_cached(COUNTS).await?;
            let rows = client.query(&statement, &[]).await?;
            let mut counts: BTreeMap<StateName, u64> =
                StateName::ALL.into_iter().map(|s| (s, 0)).collect();
            for row in rows {
                let state = state_from_sql(self.url(), row.get(0))?;
                counts.insert(state, u64_from_sql(row.get(1)));
            }
            Ok(counts)
        })
    }

    /// The job in a row of `(id, version, record)`.
    pub(crate) fn job_in(&self, row: &Row) -> Result<Job, StoreError> {
        job_from_row(self.url(), row.get(0), row.get(1), row.get(2))
    }

    fn jobs_in(&self, rows: &[Row]) -> Result<Vec<Job>, StoreError> {
        rows.iter().map(|row| self.job_in(row)).collect()
    }

    fn transition_in(&self, row: &Row) -> Result<LeasedTransition, StoreError> {
        let from: Option<i16> = row.get(1);
        let token: Option<i64> = row.get(5);
        let worker: Option<String> = row.get(6);
        let lease = match (worker, token) {
            (Some(worker), Some(token)) => Some((
                WorkerId::new(worker).map_err(|e| PgError::Corrupt {
                    url: self.url().to_string(),
                    detail: format!("a history row names a worker that cannot be: {e}"),
                })?,
                u64_from_sql(token),
            )),
            _ => None,
        };
        Ok(LeasedTransition {
            transition: TransitionRecord {
                seq: u64_from_sql(row.get(0)),
                from: from.map(|s| state_from_sql(self.url(), s)).transpose()?,
                to: state_from_sql(self.url(), row.get(2))?,
                input: row.get(3),
                at: millis_from_sql(row.get(4)),
            },
            lease,
        })
    }
}

/// The id a page after `after` starts above, as SQL; `None` when no id can follow it.
fn after_sql(after: Option<JobId>) -> Option<i64> {
    match after {
        None => Some(0),
        Some(id) => id_sql(id),
    }
}
