//! Stored records: a 2-byte big-endian record version, then bincode (serde, standard
//! configuration) bytes of the record. Version 1 of a job record is the core's [`Job`]; version
//! 1 of a transition record is [`StoredTransition`]. A newer version is refused with a clear
//! error, never guessed at; the golden tests hold the bytes of version 1.

use crate::StoreError;
use reportflow_core::{Job, JobId, Millis, StateName};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The record version written by this build (jobs and transitions alike).
pub(crate) const RECORD_VERSION: u16 = 1;

/// The most a record may claim to need when decoded; a damaged length cannot make the decoder
/// allocate more than this.
const DECODE_LIMIT: usize = 16 * 1024 * 1024;

/// One step in a job's history, as [`crate::Store::history`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitionRecord {
    /// The step's number: 0 is the submit, then one per transition (equal to the job's
    /// version after the step).
    pub seq: u64,
    /// The state before the step (`None` for the submit).
    pub from: Option<StateName>,
    /// The state after the step.
    pub to: StateName,
    /// The input's one-line summary (`submit` for seq 0).
    pub input: String,
    /// When it happened.
    pub at: Millis,
}

/// A transition as stored in the `history` tree (its sequence number lives in the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredTransition {
    pub(crate) from: Option<StateName>,
    pub(crate) to: StateName,
    pub(crate) input: String,
    pub(crate) at: Millis,
}

impl StoredTransition {
    pub(crate) fn with_seq(self, seq: u64) -> TransitionRecord {
        TransitionRecord {
            seq,
            from: self.from,
            to: self.to,
            input: self.input,
            at: self.at,
        }
    }
}

/// Encodes a record in the current version.
fn encode<T: Serialize>(dir: &Path, what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = RECORD_VERSION.to_be_bytes().to_vec();
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard()).map_err(
        |e| StoreError::Database {
            dir: dir.to_path_buf(),
            detail: format!("{what} could not be encoded: {e}"),
        },
    )?;
    Ok(out)
}

/// Decodes a record of any version this build knows.
fn decode<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    what: impl Fn() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        dir: dir.to_path_buf(),
        detail: format!("{} is unreadable: {detail}", what()),
    };
    let (version, body) = match bytes {
        [a, b, body @ ..] => (u16::from_be_bytes([*a, *b]), body),
        _ => return Err(corrupt(format!("{} bytes is too short", bytes.len()))),
    };
    if version > RECORD_VERSION {
        return Err(StoreError::NewerRecord {
            dir: dir.to_path_buf(),
            what: what(),
            found: version,
            supported: RECORD_VERSION,
        });
    }
    if version == 0 {
        return Err(corrupt("record version 0 was never written".to_string()));
    }
    let config = bincode::config::standard().with_limit::<DECODE_LIMIT>();
    let (value, used) =
        bincode::serde::decode_from_slice(body, config).map_err(|e| corrupt(e.to_string()))?;
    if used != body.len() {
        return Err(corrupt(format!(
            "{} bytes follow the record",
            body.len() - used
        )));
    }
    Ok(value)
}

/// The bytes of a job record.
pub(crate) fn encode_job(dir: &Path, job: &Job) -> Result<Vec<u8>, StoreError> {
    encode(dir, "a job record", job)
}

/// The job in a job record.
pub(crate) fn decode_job(dir: &Path, id: JobId, bytes: &[u8]) -> Result<Job, StoreError> {
    let job: Job = decode(dir, || format!("the record of job {id}"), bytes)?;
    if job.id != id {
        return Err(StoreError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("the record stored under job {id} is job {}", job.id),
        });
    }
    Ok(job)
}

/// The bytes of a transition record.
pub(crate) fn encode_transition(dir: &Path, t: &StoredTransition) -> Result<Vec<u8>, StoreError> {
    encode(dir, "a transition record", t)
}

/// The transition in a transition record.
pub(crate) fn decode_transition(
    dir: &Path,
    id: JobId,
    seq: u64,
    bytes: &[u8],
) -> Result<TransitionRecord, StoreError> {
    let t: StoredTransition = decode(
        dir,
        || format!("transition {seq} in the history of job {id}"),
        bytes,
    )?;
    Ok(t.with_seq(seq))
}
