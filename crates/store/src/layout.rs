//! Tree names and key layouts. Every integer in a key is big-endian, so that sled's byte order
//! is numeric order and a prefix scan yields records in id (and sequence) order.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema`, `next_id` | `u32` / `u64` |
//! | `jobs` | id | job record (see `records`) |
//! | `history` | id, seq | transition record |
//! | `live` | id | a copy of the job record, while the job has not ended |
//! | `keys` | job key (UTF-8) | id |
//! | `by_state` | state byte, id | empty |
//! | `counts` | state byte | `u64`: jobs in that state |
//! | `ended` | `updated_at`, id | empty: the job is terminal since then |

use reportflow_core::{JobId, Millis, StateName};

/// The schema version of the store as a whole (trees, keys, record envelopes).
pub(crate) const SCHEMA_VERSION: u32 = 1;

pub(crate) const META: &str = "meta";
pub(crate) const JOBS: &str = "jobs";
pub(crate) const HISTORY: &str = "history";
pub(crate) const LIVE: &str = "live";
pub(crate) const KEYS: &str = "keys";
pub(crate) const BY_STATE: &str = "by_state";
pub(crate) const COUNTS: &str = "counts";
pub(crate) const ENDED: &str = "ended";

/// `meta` key of the schema version (`u32`).
pub(crate) const META_SCHEMA: &[u8] = b"schema";
/// `meta` key of the next job id to assign (`u64`); ids start at 1 and are never reused.
pub(crate) const META_NEXT_ID: &[u8] = b"next_id";

/// The key of a job in `jobs` and `live`, and the prefix of its `history` keys.
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

/// The key of a state's counter in `counts`.
pub(crate) fn count_key(state: StateName) -> [u8; 1] {
    [state_byte(state)]
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
}
