//! Stored records: a 2-byte big-endian record version, then bincode (serde, standard
//! configuration) bytes of the record. Version 1 of a job record is the core's [`Job`]; version
//! 1 of a transition record is [`StoredTransition`]. A newer version is refused with a clear
//! error, never guessed at; the golden tests hold the bytes of version 1.

use crate::StoreError;
use reportflow_core::{Job, JobId, Millis, StateName};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The record version written by this build (jobs and transitions alike).
pub const RECORD_VERSION: u16 = 1;

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
pub fn encode_job(dir: &Path, job: &Job) -> Result<Vec<u8>, StoreError> {
    encode(dir, "a job record", job)
}

/// The job in a job record.
pub fn decode_job(dir: &Path, id: JobId, bytes: &[u8]) -> Result<Job, StoreError> {
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
pub fn encode_transition(dir: &Path, t: &StoredTransition) -> Result<Vec<u8>, StoreError> {
    encode(dir, "a transition record", t)
}

/// The transition in a transition record.
pub fn decode_transition(
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

#[cfg(test)]
mod golden {
    //! The bytes of version-1 records, held fixed: if one of these tests fails, stores written
    //! by earlier builds would no longer read. Do not regenerate the files; add a new record
    //! version (and keep decoding version 1) instead.

    use super::*;
    use reportflow_core::{
        AccountReportSpec, BillingReportSpec, Date, Failure, FailureKind, JobKey, JobSpec,
        JobState, OutputFormat, PollPolicy, StoredFile, Upstream,
    };
    use std::collections::{BTreeMap, BTreeSet};

    fn hex(bytes: &[u8]) -> String {
        let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let lines: Vec<&str> = digits
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("hex digits are ASCII"))
            .collect();
        lines.join("\n") + "\n"
    }

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| {
                let s = std::str::from_utf8(pair).expect("hex digits are ASCII");
                u8::from_str_radix(s, 16).expect("a hex byte")
            })
            .collect()
    }

    fn date(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).expect("a valid date")
    }

    fn upstream() -> Upstream {
        Upstream {
            location: "https://dashboard.bandwidth.com/api/accounts/12345/reports/2/instances/abc"
                .to_string(),
            created_at: Millis(1_700_000_001_000),
        }
    }

    /// An account report being polled: most field types of a job.
    fn polling_account_job() -> Job {
        let mut params = BTreeMap::new();
        params.insert(
            "AccountId".to_string(),
            BTreeSet::from(["12345".to_string()]),
        );
        params.insert(
            "Tier".to_string(),
            BTreeSet::from(["0".to_string(), "1".to_string()]),
        );
        Job {
            id: JobId(7),
            key: JobKey::user("nightly-numbers").expect("a valid key"),
            spec: JobSpec::Account(AccountReportSpec {
                account: "12345".to_string(),
                report_id: 2,
                format: OutputFormat::Csv,
                params,
                expires_at: Some(date(2024, 3, 31)),
            }),
            policy: PollPolicy::default(),
            state: JobState::Polling {
                upstream: upstream(),
                polls: 3,
                next_poll_at: Millis(1_700_000_009_000),
                last_status: "Processing".to_string(),
            },
            version: 6,
            attempt: 1,
            attempt_started_at: Millis(1_700_000_000_000),
            creations: 1,
            submitted_at: Millis(1_700_000_000_000),
            updated_at: Millis(1_700_000_005_000),
        }
    }

    /// A downloaded billing report.
    fn downloaded_billing_job() -> Job {
        Job {
            id: JobId(300),
            key: JobKey::user("billing-12345-BDR-2024-01-01-2024-01-31").expect("a valid key"),
            spec: JobSpec::Billing(BillingReportSpec {
                account: "12345".to_string(),
                report_type: "BDR".to_string(),
                start: date(2024, 1, 1),
                end: date(2024, 1, 31),
            }),
            policy: PollPolicy {
                first_delay_ms: 2_000,
                growth_percent: 200,
                cap_ms: 60_000,
                jitter_percent: 0,
                deadline_ms: 3_600_000,
            },
            state: JobState::Downloaded {
                upstream: upstream(),
                file: StoredFile {
                    path: "/reports/BDR-2024-01.zip".to_string(),
                    bytes: 1_048_576,
                    sha256: "0123456789abcdef".repeat(4),
                },
            },
            version: 12,
            attempt: 2,
            attempt_started_at: Millis(1_700_000_100_000),
            creations: 3,
            submitted_at: Millis(1_700_000_000_000),
            updated_at: Millis(1_700_000_200_000),
        }
    }

    /// A failed job (the failure carries every optional field).
    fn failed_job() -> Job {
        Job {
            state: JobState::Failed {
                failure: Failure {
                    kind: FailureKind::Upstream,
                    http_status: Some(400),
                    code: Some(19032),
                    message: "the report id is unknown".to_string(),
                },
            },
            ..downloaded_billing_job()
        }
    }

    fn transition() -> StoredTransition {
        StoredTransition {
            from: Some(StateName::Created),
            to: StateName::Polling,
            input: "status-seen \"Processing\"".to_string(),
            at: Millis(1_700_000_005_000),
        }
    }

    fn submit() -> StoredTransition {
        StoredTransition {
            from: None,
            to: StateName::Requested,
            input: "submit".to_string(),
            at: Millis(1_700_000_000_000),
        }
    }

    /// Checks that `bytes` are the golden file's, showing the actual bytes when not.
    fn assert_golden(file: &str, golden: &str, bytes: &[u8]) {
        assert_eq!(
            hex(bytes),
            hex(&unhex(golden)),
            "the encoding of {file} changed; this would break existing stores"
        );
    }

    #[test]
    fn job_records_of_version_1_keep_their_bytes() {
        let dir = Path::new("/golden");
        let cases = [
            (
                "job-v1-polling-account.hex",
                include_str!("../tests/golden/job-v1-polling-account.hex"),
                polling_account_job(),
            ),
            (
                "job-v1-downloaded-billing.hex",
                include_str!("../tests/golden/job-v1-downloaded-billing.hex"),
                downloaded_billing_job(),
            ),
            (
                "job-v1-failed.hex",
                include_str!("../tests/golden/job-v1-failed.hex"),
                failed_job(),
            ),
        ];
        for (file, golden, job) in cases {
            let bytes = unhex(golden);
            assert_eq!(&bytes[..2], &[0, 1], "{file} is a version-1 record");
            assert_eq!(
                decode_job(dir, job.id, &bytes).expect("a golden record decodes"),
                job,
                "{file} no longer decodes to the same job"
            );
            assert_golden(file, golden, &encode_job(dir, &job).expect("a job encodes"));
        }
    }

    #[test]
    fn transition_records_of_version_1_keep_their_bytes() {
        let dir = Path::new("/golden");
        let cases = [
            (
                "transition-v1-status.hex",
                include_str!("../tests/golden/transition-v1-status.hex"),
                transition(),
            ),
            (
                "transition-v1-submit.hex",
                include_str!("../tests/golden/transition-v1-submit.hex"),
                submit(),
            ),
        ];
        for (file, golden, t) in cases {
            let bytes = unhex(golden);
            let decoded = decode_transition(dir, JobId(7), 4, &bytes).expect("decodes");
            assert_eq!(decoded, t.clone().with_seq(4), "{file} no longer decodes");
            assert_golden(file, golden, &encode_transition(dir, &t).expect("encodes"));
        }
    }

    #[test]
    fn newer_and_damaged_records_are_refused_without_panicking() {
        let dir = Path::new("/golden");
        let mut bytes = encode_job(dir, &polling_account_job()).expect("encodes");
        let id = JobId(7);
        bytes[1] = 2;
        assert!(matches!(
            decode_job(dir, id, &bytes),
            Err(StoreError::NewerRecord {
                found: 2,
                supported: 1,
                ..
            })
        ));
        bytes[1] = 0;
        assert!(matches!(
            decode_job(dir, id, &bytes),
            Err(StoreError::Corrupt { .. })
        ));
        bytes[1] = 1;
        assert!(matches!(
            decode_job(dir, JobId(8), &bytes),
            Err(StoreError::Corrupt { .. })
        ));
        for len in 0..bytes.len() {
            assert!(decode_job(dir, id, &bytes[..len]).is_err(), "length {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_job(dir, id, &longer).is_err());
        // A damaged length must not make the decoder allocate wildly.
        let mut huge = vec![0, 1, 7, 0xfc, 0xff, 0xff, 0xff, 0xff];
        huge.extend_from_slice(&[b'a'; 16]);
        assert!(decode_job(dir, id, &huge).is_err());
    }
}
