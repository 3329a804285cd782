//! Stored records: a 2-byte big-endian record version, then bincode (serde, standard
//! configuration) bytes of the record. Each kind of record has its own version:
//!
//! | record | version written | versions read |
//! |---|---|---|
//! | job | 3: the core's [`Job`] | 1 ([`v1`]) and 2 ([`v2`]), migrated on read; 3 |
//! | transitions | 2: a run of consecutive [`StoredTransition`]s | 1 (one transition) and 2 |
//!
//! Job record versions: 1 was the first; 2 added the retry policy, the backoff of a failed
//! step and the create count of `Requested` (issue 12); 3 added the label and the origin of
//! the dates (issue 15). Transition record versions: 1 held one transition (its sequence
//! number in the key); 2 (issue 16) holds a run of them, the first one's number in the key, so
//! that the sled store writes a job's history in runs rather than one key per step.
//!
//! A newer version than this build knows is refused with a clear error, never guessed at; the
//! golden tests (`golden.rs`, bytes under `tests/golden/`) hold the bytes of every version.
//!
//! Adding job record version N+1 (when the core's `Job` changes shape):
//! 1. freeze the current shape: copy the types whose encoding changes into `vN.rs` (types that
//!    keep their encoding may stay the core's), with `From<vN::Job> for Job` converting to the
//!    new shape;
//! 2. retarget the older modules' conversions to `vN::Job`, so that every old record migrates
//!    through the chain `v1 -> v2 -> ... -> current`;
//! 3. bump [`JOB_VERSION`], add the arm to [`decode_job`], and add a golden file of the new
//!    version beside the old ones (which stay as they are).
//!
//! Records are migrated when read and written back in the current version at the job's next
//! step; nothing rewrites a store in bulk.

#[cfg(test)]
mod golden;
pub(crate) mod live;
mod v1;
mod v2;

use crate::StoreError;
use reportflow_core::{Job, JobId, Millis, StateName};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The job record version written by this build.
pub const JOB_VERSION: u16 = 3;
/// The transition record version written by this build (a run of transitions).
pub const TRANSITION_VERSION: u16 = 2;

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

/// A transition as stored in the `history` tree (its sequence number follows from the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTransition {
    /// The state before the step (`None` for the submit).
    pub from: Option<StateName>,
    /// The state after the step.
    pub to: StateName,
    /// The input's one-line summary.
    pub input: String,
    /// When it happened.
    pub at: Millis,
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

/// Encodes a record as `version`.
fn encode<T: Serialize>(
    dir: &Path,
    version: u16,
    what: &str,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let mut out = version.to_be_bytes().to_vec();
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard()).map_err(
        |e| StoreError::Database {
            dir: dir.to_path_buf(),
            detail: format!("{what} could not be encoded: {e}"),
        },
    )?;
    Ok(out)
}

/// Splits a record into its version and body, refusing versions above `newest`.
fn envelope<'a>(
    dir: &Path,
    what: &dyn Fn() -> String,
    newest: u16,
    bytes: &'a [u8],
) -> Result<(u16, &'a [u8]), StoreError> {
    let (version, body) = match bytes {
        [a, b, body @ ..] => (u16::from_be_bytes([*a, *b]), body),
        _ => {
            return Err(corrupt(
                dir,
                what,
                format!("{} bytes is too short", bytes.len()),
            ));
        }
    };
    if version > newest {
        return Err(StoreError::NewerRecord {
            dir: dir.to_path_buf(),
            what: what(),
            found: version,
            supported: newest,
        });
    }
    if version == 0 {
        return Err(corrupt(
            dir,
            what,
            "record version 0 was never written".to_string(),
        ));
    }
    Ok((version, body))
}

/// Decodes the body of a record (of the type its version names), all of it.
fn decode_body<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    what: &dyn Fn() -> String,
    body: &[u8],
) -> Result<T, StoreError> {
    let config = bincode::config::standard().with_limit::<DECODE_LIMIT>();
    let (value, used) = bincode::serde::decode_from_slice(body, config)
        .map_err(|e| corrupt(dir, what, e.to_string()))?;
    if used != body.len() {
        return Err(corrupt(
            dir,
            what,
            format!("{} bytes follow the record", body.len() - used),
        ));
    }
    Ok(value)
}

fn corrupt(dir: &Path, what: &dyn Fn() -> String, detail: String) -> StoreError {
    StoreError::Corrupt {
        dir: dir.to_path_buf(),
        detail: format!("{} is unreadable: {detail}", what()),
    }
}

/// The bytes of a job record (the current version).
pub fn encode_job(dir: &Path, job: &Job) -> Result<Vec<u8>, StoreError> {
    encode(dir, JOB_VERSION, "a job record", job)
}

/// The job in a job record of any version this build knows, migrated to the current shape.
pub fn decode_job(dir: &Path, id: JobId, bytes: &[u8]) -> Result<Job, StoreError> {
    let what = || format!("the record of job {id}");
    let job: Job = match envelope(dir, &what, JOB_VERSION, bytes)? {
        (1, body) => v2::Job::from(decode_body::<v1::Job>(dir, &what, body)?).into(),
        (2, body) => decode_body::<v2::Job>(dir, &what, body)?.into(),
        (_, body) => decode_body(dir, &what, body)?,
    };
    if job.id != id {
        return Err(StoreError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("the record stored under job {id} is job {}", job.id),
        });
    }
    Ok(job)
}

/// The bytes of a transition record holding `run`, consecutive transitions (the key names the
/// first one's sequence number).
pub fn encode_transitions(dir: &Path, run: &[StoredTransition]) -> Result<Vec<u8>, StoreError> {
    encode(dir, TRANSITION_VERSION, "a run of transitions", &run)
}

/// The transitions in a transition record of any version, numbered from `first_seq` (the
/// sequence number in its key).
pub fn decode_transitions(
    dir: &Path,
    id: JobId,
    first_seq: u64,
    bytes: &[u8],
) -> Result<Vec<TransitionRecord>, StoreError> {
    let what = || format!("transition {first_seq} in the history of job {id}");
    let run: Vec<StoredTransition> = match envelope(dir, &what, TRANSITION_VERSION, bytes)? {
        (1, body) => vec![decode_body(dir, &what, body)?],
        (_, body) => decode_body(dir, &what, body)?,
    };
    Ok(run
        .into_iter()
        .zip(first_seq..)
        .map(|(t, seq)| t.with_seq(seq))
        .collect())
}
