//! The value of a live job in the sled store's `live` tree (schema 2): its state's byte, its
//! job record, and the transitions of its history not yet written to `history` (at most
//! [`HISTORY_RUN`]; they move there as one record when the run is full or the job ends).
//!
//! ```text
//! state byte (1) | job record length (u32, big-endian) | job record | transitions record
//! ```
//!
//! The state byte comes first so that listing the live jobs of one state reads one byte of
//! each; the job record and the transitions record are the versioned records of this module's
//! parent, unchanged.

use super::{
    StoredTransition, TransitionRecord, decode_job, decode_transitions, encode_job,
    encode_transitions,
};
use crate::StoreError;
use crate::layout::state_byte;
use reportflow_core::{Job, JobId, StateName};
use std::path::Path;

/// The most transitions a live job's value holds before they move to `history` as one record.
pub(crate) const HISTORY_RUN: usize = 16;

/// A live job as its value holds it.
#[derive(Debug)]
pub(crate) struct LiveJob {
    pub(crate) job: Job,
    /// Its latest transitions, not yet in `history`: the sequence numbers up to the job's
    /// version.
    pub(crate) pending: Vec<StoredTransition>,
}

/// The sequence number of the first of a job's `pending` transitions when its version is
/// `version` (the last pending one is the version itself).
pub(crate) fn first_pending_seq(version: u64, pending: usize) -> u64 {
    (version + 1).saturating_sub(pending as u64)
}

impl LiveJob {
    /// The sequence number of the first pending transition.
    pub(crate) fn first_pending(&self) -> u64 {
        first_pending_seq(self.job.version, self.pending.len())
    }

    /// The pending transitions with their sequence numbers.
    pub(crate) fn pending_records(self) -> Vec<TransitionRecord> {
        let first = self.first_pending();
        self.pending
            .into_iter()
            .zip(first..)
            .map(|(t, seq)| t.with_seq(seq))
            .collect()
    }
}

/// The `live` value of `job` with its `pending` transitions.
pub(crate) fn encode_live(
    dir: &Path,
    job: &Job,
    pending: &[StoredTransition],
) -> Result<Vec<u8>, StoreError> {
    let record = encode_job(dir, job)?;
    encode_live_record(dir, job.state.name(), &record, pending)
}

/// The `live` value of a job in `state` whose job record is `record` (as stored).
pub(crate) fn encode_live_record(
    dir: &Path,
    state: StateName,
    record: &[u8],
    pending: &[StoredTransition],
) -> Result<Vec<u8>, StoreError> {
    let transitions = encode_transitions(dir, pending)?;
    let length = u32::try_from(record.len()).map_err(|_| StoreError::Database {
        dir: dir.to_path_buf(),
        detail: format!("a job record of {} bytes is too large", record.len()),
    })?;
    let mut out = Vec::with_capacity(5 + record.len() + transitions.len());
    out.push(state_byte(state));
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(record);
    out.extend_from_slice(&transitions);
    Ok(out)
}

/// The state byte of a `live` value, read without decoding the rest.
pub(crate) fn live_state_byte(bytes: &[u8]) -> Option<u8> {
    bytes.first().copied()
}

/// The live job in a `live` value.
pub(crate) fn decode_live(dir: &Path, id: JobId, bytes: &[u8]) -> Result<LiveJob, StoreError> {
    let damaged = |detail: &str| StoreError::Corrupt {
        dir: dir.to_path_buf(),
        detail: format!("the live record of job {id} is unreadable: {detail}"),
    };
    let (state, rest) = bytes.split_first().ok_or_else(|| damaged("it is empty"))?;
    let (length, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| damaged("it ends before the job record's length"))?;
    let length = u32::from_be_bytes(*length) as usize;
    if rest.len() < length {
        return Err(damaged("it ends inside the job record"));
    }
    let (record, transitions) = rest.split_at(length);
    let job = decode_job(dir, id, record)?;
    if state_byte(job.state.name()) != *state {
        return Err(damaged("its state byte is not its job's state"));
    }
    let first = job.version + 1;
    let pending: Vec<StoredTransition> = decode_transitions(dir, id, first, transitions)?
        .into_iter()
        .map(|t| StoredTransition {
            from: t.from,
            to: t.to,
            input: t.input,
            at: t.at,
        })
        .collect();
    if pending.len() as u64 > first {
        return Err(damaged("it holds more transitions than the job has"));
    }
    Ok(LiveJob { job, pending })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reportflow_core::{AccountReportSpec, JobKey, JobSpec, Millis, OutputFormat, Policies};

    fn job() -> Job {
        let spec = JobSpec::Account(AccountReportSpec {
            account: "12345".to_string(),
            report_id: 2,
            format: OutputFormat::Csv,
            params: Default::default(),
            expires_at: None,
        });
        let key = JobKey::user("k").expect("a key");
        Job::new(JobId(4), key, spec, Policies::default(), Millis(1))
    }

    #[test]
    fn a_live_value_round_trips_and_refuses_damage() {
        let dir = Path::new("/live");
        let submit = StoredTransition {
            from: None,
            to: StateName::Requested,
            input: "submit".to_string(),
            at: Millis(1),
        };
        let bytes = encode_live(dir, &job(), std::slice::from_ref(&submit)).expect("encodes");
        assert_eq!(
            live_state_byte(&bytes),
            Some(state_byte(StateName::Requested))
        );
        let live = decode_live(dir, JobId(4), &bytes).expect("decodes");
        assert_eq!(live.job, job());
        assert_eq!(live.first_pending(), 0);
        assert_eq!(live.pending_records(), [submit.clone().with_seq(0)]);
        for cut in [0, 1, 4, 20] {
            assert!(
                decode_live(dir, JobId(4), &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut wrong_state = bytes.clone();
        wrong_state[0] = state_byte(StateName::Polling);
        assert!(decode_live(dir, JobId(4), &wrong_state).is_err());
        let two = encode_live(dir, &job(), &[submit.clone(), submit]).expect("encodes");
        assert!(
            decode_live(dir, JobId(4), &two).is_err(),
            "a job at version 0 has one transition"
        );
    }
}
