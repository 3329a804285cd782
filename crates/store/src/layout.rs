//! Tree names and key layouts. Every integer in a key is big-endian, so that sled's byte order
//! is numeric order and a prefix scan yields records in id (and sequence) order.
//!
//! Schema 2 (issue 16) keeps each job in one place, so that a step writes it once:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema`, `next_id`, `counts` | `u32` / `u64` / ten `u64`: jobs in each state, in state-byte order |
//! | `live` | id | the live job: state byte, job record, its latest transitions ([`crate::records::live`]) |
//! | `jobs` | id | the job record, once the job has ended |
//! | `history` | id, seq | a run of transitions, the first one's seq in the key |
//! | `keys` | job key (UTF-8) | id |
//! | `by_state` | state byte, id | empty; ended jobs only |
//! | `ended` | `updated_at`, id | empty: the job is terminal since then |
//!
//! A step of a live job writes one key (its `live` value), and every 16th step one more (a
//! history run); the counts of a whole transaction are one write of `meta/counts`. Schema 1 kept
//! every record in `jobs` with a copy of each live one in `live`, one history key per step,
//! every job in `by_state` and one key per state in a `counts` tree: [`crate::migrate`] turns it
//! into schema 2 when the store is opened.

use reportflow_core::{JobId, Millis, StateName};

/// The schema version of the store as a whole (trees, keys, record envelopes).
pub(crate) const SCHEMA_VERSION: u32 = 2;

pub(crate) const META: &str = "meta";
/// The records of ended jobs (schema 1: of every job; the name stays).
pub(crate) const JOBS: &str = "jobs";
pub(crate) const HISTORY: &str = "history";
pub(crate) const LIVE: &str = "live";
pub(crate) const KEYS: &str = "keys";
pub(crate) const BY_STATE: &str = "by_state";
pub(crate) const ENDED: &str = "ended";
/// Schema 1's tree of state counters (one key per state), folded into `meta/counts` by the
/// migration to schema 2 and dropped.
pub(crate) const COUNTS_V1: &str = "counts";

/// `meta` key of the schema version (`u32`).
pub(crate) const META_SCHEMA: &[u8] = b"schema";
/// `meta` key of the next job id to assign (`u64`); ids start at 1 and are never reused.
pub(crate) const META_NEXT_ID: &[u8] = b"next_id";
/// `meta` key of the state counts: a `u64` per state, in the order of the state bytes (1 to
/// 10); absent in a store without jobs.
pub(crate) const META_COUNTS: &[u8] = b"counts";

/// The key of a job in `live` and `jobs`, and the prefix of its `history` keys.
pub(crate) fn id_key(id: JobId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// The id in an 8-byte big-endian key or value.
pub(crate) fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The key of one transition of a job in `history`.
pub(crate) fn history_key(id: JobId, seq: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&id.0.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number in a `history` key.
pub(crate) fn history_seq(key: &[u8]) -> Option<u64> {
    decode_u64(key.get(8..16)?)
}

/// The stable byte of a state in keys. Fixed here (not derived from the core's declaration
/// order), so that reordering the core's enum cannot silently change stored keys.
pub fn state_byte(state: StateName) -> u8 {
    match state {
        StateName::Requested => 1,
        StateName::Created => 2,
        StateName::Polling => 3,
        StateName::Ready => 4,
        StateName::Completed => 5,
        StateName::Downloaded => 6,
        StateName::Expired => 7,
        StateName::NoData => 8,
        StateName::Failed => 9,
        StateName::Cancelled => 10,
    }
}

/// The state a key byte stands for.
pub fn state_from_byte(byte: u8) -> Option<StateName> {
    StateName::ALL.into_iter().find(|s| state_byte(*s) == byte)
}

/// The key of a job in `by_state`.
pub(crate) fn by_state_key(state: StateName, id: JobId) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = state_byte(state);
    key[1..].copy_from_slice(&id.0.to_be_bytes());
    key
}

/// The id in a `by_state` key.
pub(crate) fn by_state_id(key: &[u8]) -> Option<JobId> {
    decode_u64(key.get(1..9)?).map(JobId)
}

/// The key of a state's counter in schema 1's `counts` tree.
pub(crate) fn count_key_v1(state: StateName) -> [u8; 1] {
    [state_byte(state)]
}

/// How many jobs are in each state, as `meta/counts` holds them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts([u64; 10]);

impl Counts {
    /// The counts in a `meta/counts` value (`None` when it is not ten `u64`s).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Counts> {
        let mut counts = [0u64; 10];
        if bytes.len() != counts.len() * 8 {
            return None;
        }
        for (n, chunk) in counts.iter_mut().zip(bytes.chunks_exact(8)) {
            *n = decode_u64(chunk)?;
        }
        Some(Counts(counts))
    }

    /// The `meta/counts` value.
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|n| n.to_be_bytes()).collect()
    }

    /// The jobs in `state`.
    pub(crate) fn get(&self, state: StateName) -> u64 {
        self.0[usize::from(state_byte(state) - 1)]
    }

    /// Sets the jobs in `state`.
    pub(crate) fn set(&mut self, state: StateName, n: u64) {
        self.0[usize::from(state_byte(state) - 1)] = n;
    }

    /// Adds `delta` jobs (a negative one takes them away) to the state at `index`.
    pub(crate) fn add(&mut self, index: usize, delta: i64) {
        self.0[index] = self.0[index].saturating_add_signed(delta);
    }
}

/// How many jobs each state gains or loses in one transaction, by state byte - 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deltas(pub(crate) [i64; 10]);

impl Deltas {
    /// One more job in `state` (`delta` 1) or one fewer (-1).
    pub(crate) fn add(&mut self, state: StateName, delta: i64) {
        self.0[usize::from(state_byte(state) - 1)] += delta;
    }

    /// Whether nothing changes.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|d| *d == 0)
    }
}

/// The key of a terminal job in `ended`: when it ended, then its id.
pub(crate) fn ended_key(updated_at: Millis, id: JobId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&updated_at.0.to_be_bytes());
    key[8..].copy_from_slice(&id.0.to_be_bytes());
    key
}

/// The id in an `ended` key.
pub(crate) fn ended_id(key: &[u8]) -> Option<JobId> {
    decode_u64(key.get(8..16)?).map(JobId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_bytes_are_distinct_and_round_trip() {
        for state in StateName::ALL {
            assert_eq!(state_from_byte(state_byte(state)), Some(state));
            assert!(
                (1..=10).contains(&state_byte(state)),
                "a counts slot per state"
            );
        }
        assert_eq!(state_from_byte(0), None);
        assert_eq!(state_from_byte(11), None);
    }

    #[test]
    fn keys_sort_numerically() {
        assert!(history_key(JobId(1), 255) < history_key(JobId(1), 256));
        assert!(history_key(JobId(1), u64::MAX) < history_key(JobId(2), 0));
        assert!(
            by_state_key(StateName::Requested, JobId(300))
                > by_state_key(StateName::Requested, JobId(2))
        );
        assert!(ended_key(Millis(5), JobId(9)) < ended_key(Millis(6), JobId(1)));
        assert_eq!(history_seq(&history_key(JobId(3), 77)), Some(77));
        assert_eq!(
            by_state_id(&by_state_key(StateName::Failed, JobId(4))),
            Some(JobId(4))
        );
        assert_eq!(ended_id(&ended_key(Millis(1), JobId(8))), Some(JobId(8)));
    }

    #[test]
    fn counts_round_trip_and_refuse_other_sizes() {
        let mut counts = Counts::default();
        counts.set(StateName::Cancelled, 7);
        counts.set(StateName::Requested, u64::MAX);
        let bytes = counts.encode();
        assert_eq!(bytes.len(), 80);
        assert_eq!(Counts::decode(&bytes), Some(counts));
        assert_eq!(Counts::decode(&bytes[..72]), None);
        let mut deltas = Deltas::default();
        assert!(deltas.is_empty());
        deltas.add(StateName::Polling, 1);
        deltas.add(StateName::Polling, -1);
        assert!(deltas.is_empty());
    }
}
