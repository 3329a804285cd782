//! Between the core's values and the table's columns: the columns derived from a job record,
//! numbers in and out of `bigint`, and records in and out of `bytea` (the sled store's bytes).

use crate::due::due_at;
use reportflow_core::{Job, JobId, Millis, StateName};
use reportflow_store::PgError;
use reportflow_store::{StoreError, decode_job, encode_job, state_byte, state_from_byte};
use std::path::Path;
use std::time::Duration;

/// The columns of `reportflow_jobs` that job records determine (all but the lease), for a
/// batch of jobs, as the arrays a statement `unnest`s.
#[derive(Default)]
pub(crate) struct JobArrays {
    pub(crate) ids: Vec<i64>,
    pub(crate) keys: Vec<String>,
    pub(crate) accounts: Vec<String>,
    pub(crate) labels: Vec<Option<String>>,
    pub(crate) states: Vec<i16>,
    pub(crate) lives: Vec<bool>,
    pub(crate) due_at: Vec<i64>,
    pub(crate) versions: Vec<i64>,
    /// The records, encoded as the sled store encodes them.
    pub(crate) records: Vec<Vec<u8>>,
    pub(crate) updated_at: Vec<i64>,
}

impl JobArrays {
    /// Adds the columns of `job`.
    pub(crate) fn push(&mut self, url: &str, job: &Job) -> Result<(), StoreError> {
        let record = encode_job(Path::new(url), job).map_err(|e| record_error(url, e))?;
        self.ids.push(u64_sql(job.id.0));
        self.keys.push(job.key.as_str().to_string());
        self.accounts.push(job.spec.account().to_string());
        self.labels
            .push(job.label.as_ref().map(ToString::to_string));
        self.states.push(state_sql(job.state.name()));
        self.lives.push(!job.state.is_terminal());
        self.due_at.push(millis_sql(due_at(job)));
        self.versions.push(u64_sql(job.version));
        self.records.push(record);
        self.updated_at.push(millis_sql(job.updated_at));
        Ok(())
    }
}

/// The job in a stored record, checked against its row's id and version.
pub(crate) fn job_from_row(
    url: &str,
    id: i64,
    version: i64,
    record: &[u8],
) -> Result<Job, StoreError> {
    let id = id_from_sql(id);
    let job = decode_job(Path::new(url), id, record).map_err(|e| record_error(url, e))?;
    if u64_sql(job.version) != version {
        return Err(PgError::Corrupt {
            url: url.to_string(),
            detail: format!(
                "the record of job {id} is at version {}, its row says {version}",
                job.version
            ),
        }
        .into());
    }
    Ok(job)
}

/// The store-wide meaning of a record error, for this database.
pub(crate) fn record_error(url: &str, e: StoreError) -> StoreError {
    let url = url.to_string();
    let failure = match e {
        StoreError::NewerRecord {
            what,
            found,
            supported,
            ..
        } => PgError::NewerRecord {
            url,
            what,
            found,
            supported,
        },
        StoreError::Corrupt { detail, .. } => PgError::Corrupt { url, detail },
        StoreError::Database { detail, .. } => PgError::Database {
            url,
            action: "encode a record",
            detail,
        },
        other => PgError::Database {
            url,
            action: "encode or decode a record",
            detail: other.to_string(),
        },
    };
    failure.into()
}

/// A state's stable byte (the sled store's), as a `smallint`.
pub(crate) fn state_sql(state: StateName) -> i16 {
    i16::from(state_byte(state))
}

/// The state a `smallint` column holds.
pub(crate) fn state_from_sql(url: &str, value: i16) -> Result<StateName, StoreError> {
    u8::try_from(value)
        .ok()
        .and_then(state_from_byte)
        .ok_or_else(|| {
            PgError::Corrupt {
                url: url.to_string(),
                detail: format!("{value} is not a state"),
            }
            .into()
        })
}

/// A core time as a `bigint` (times past year 292 million saturate; none are that late).
pub(crate) fn millis_sql(at: Millis) -> i64 {
    u64_sql(at.0)
}

/// A `bigint` time as a core time (negative values, never written, read as 0).
pub(crate) fn millis_from_sql(value: i64) -> Millis {
    Millis(u64::try_from(value).unwrap_or(0))
}

/// A count or version as a `bigint`, saturating.
pub(crate) fn u64_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A non-negative `bigint` as a `u64` (negative values, never written, read as 0).
pub(crate) fn u64_from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A job id as a `bigint`; `None` for ids no row can have.
pub(crate) fn id_sql(id: JobId) -> Option<i64> {
    i64::try_from(id.0).ok()
}

/// A job id from its `bigint` column (identity values are positive).
pub(crate) fn id_from_sql(value: i64) -> JobId {
    JobId(u64_from_sql(value))
}

/// A duration as whole milliseconds for SQL, saturating.
pub(crate) fn duration_sql(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds from SQL as a duration (negative as zero).
pub(crate) fn duration_from_sql(ms: i64) -> Duration {
    Duration::from_millis(u64_from_sql(ms))
}

/// A page size for `LIMIT`.
pub(crate) fn limit_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
