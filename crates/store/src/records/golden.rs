//! The bytes of every record version, held fixed: if one of these tests fails, stores written
//! by earlier builds would no longer read. Do not regenerate the files; add a new record
//! version (and keep decoding the old ones) instead.

use super::*;
use reportflow_core::{
    AccountReportSpec, Backoff, BillingReportSpec, Date, DateOrigin, Failure, FailureKind, JobKey,
    JobSpec, JobState, Label, OutputFormat, Policies, PollPolicy, RetryPolicy, StoredFile,
    Upstream,
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

fn account_spec() -> JobSpec {
    let mut params = BTreeMap::new();
    params.insert(
        "AccountId".to_string(),
        BTreeSet::from(["12345".to_string()]),
    );
    params.insert(
        "Tier".to_string(),
        BTreeSet::from(["0".to_string(), "1".to_string()]),
    );
    JobSpec::Account(AccountReportSpec {
        account: "12345".to_string(),
        report_id: 2,
        format: OutputFormat::Csv,
        params,
        expires_at: Some(date(2024, 3, 31)),
    })
}

fn billing_spec() -> JobSpec {
    JobSpec::Billing(BillingReportSpec {
        account: "12345".to_string(),
        report_type: "BDR".to_string(),
        start: date(2024, 1, 1),
        end: date(2024, 1, 31),
    })
}

fn billing_poll() -> PollPolicy {
    PollPolicy {
        first_delay_ms: 2_000,
        growth_percent: 200,
        cap_ms: 60_000,
        jitter_percent: 0,
        deadline_ms: 3_600_000,
    }
}

fn downloaded() -> JobState {
    JobState::Downloaded {
        upstream: upstream(),
        file: StoredFile {
            path: "/reports/BDR-2024-01.zip".to_string(),
            bytes: 1_048_576,
            sha256: "0123456789abcdef".repeat(4),
        },
    }
}

fn refused() -> Failure {
    Failure {
        kind: FailureKind::Upstream,
        http_status: Some(400),
        code: Some(19032),
        message: "the report id is unknown".to_string(),
    }
}

fn polling() -> JobState {
    JobState::Polling {
        upstream: upstream(),
        polls: 3,
        next_poll_at: Millis(1_700_000_009_000),
        last_status: "Processing".to_string(),
    }
}

/// Version-1 jobs as they were written.
mod v1_jobs {
    use super::*;
    use crate::records::v1;

    /// An account report being polled: most field types of a job.
    pub(super) fn polling_account() -> v1::Job {
        v1::Job {
            id: JobId(7),
            key: JobKey::user("nightly-numbers").expect("a valid key"),
            spec: account_spec(),
            policy: PollPolicy::default(),
            state: v1::JobState::Polling {
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
    pub(super) fn downloaded_billing() -> v1::Job {
        v1::Job {
            id: JobId(300),
            key: JobKey::user("billing-12345-BDR-2024-01-01-2024-01-31").expect("a valid key"),
            spec: billing_spec(),
            policy: billing_poll(),
            state: v1::JobState::Downloaded {
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
    pub(super) fn failed() -> v1::Job {
        v1::Job {
            state: v1::JobState::Failed { failure: refused() },
            ..downloaded_billing()
        }
    }

    /// An account report whose create went out twice without an answer.
    pub(super) fn requested_sent_twice() -> v1::Job {
        v1::Job {
            id: JobId(9),
            key: JobKey::user("in-doubt").expect("a valid key"),
            spec: account_spec(),
            policy: PollPolicy::default(),
            state: v1::JobState::Requested { sends: 2 },
            version: 2,
            attempt: 1,
            attempt_started_at: Millis(1_700_000_000_000),
            creations: 2,
            submitted_at: Millis(1_700_000_000_000),
            updated_at: Millis(1_700_000_003_000),
        }
    }
}

/// The current jobs those version-1 records migrate to.
fn migrated(v1: &crate::records::v1::Job, state: JobState) -> Job {
    Job {
        id: v1.id,
        key: v1.key.clone(),
        spec: v1.spec.clone(),
        poll: v1.policy.clone(),
        retry: RetryPolicy::default(),
        state,
        backoff: None,
        version: v1.version,
        attempt: v1.attempt,
        attempt_started_at: v1.attempt_started_at,
        creations: v1.creations,
        submitted_at: v1.submitted_at,
        updated_at: v1.updated_at,
        label: None,
        origin: None,
    }
}

/// Version-2 jobs: the retry policy, a backoff, the create count of `Requested`.
fn polling_account_v2() -> Job {
    let mut job = Job::new(
        JobId(7),
        JobKey::user("nightly-numbers").expect("a valid key"),
        account_spec(),
        Policies::default(),
        Millis(1_700_000_000_000),
    );
    job.state = polling();
    job.backoff = Some(Backoff {
        failures: 2,
        retry_at: Millis(1_700_000_011_000),
        last_error: "HTTP 503 Service Unavailable".to_string(),
    });
    job.version = 8;
    job.creations = 1;
    job.updated_at = Millis(1_700_000_009_500);
    job
}

fn requested_in_doubt_v2() -> Job {
    let mut job = Job::new(
        JobId(301),
        JobKey::user("billing-12345-BDR-2024-01-01-2024-01-31").expect("a valid key"),
        billing_spec(),
        Policies {
            poll: billing_poll(),
            retry: RetryPolicy {
                first_delay_ms: 500,
                growth_percent: 150,
                cap_ms: 20_000,
                jitter_percent: 0,
                max_unconfirmed_creates: 5,
                max_step_failures: 4,
                max_attempts: 3,
            },
        },
        Millis(1_700_000_000_000),
    );
    job.state = JobState::Requested {
        unconfirmed: 3,
        in_doubt: true,
        next_at: Millis(1_700_000_004_000),
        last_error: Some("the connection was reset".to_string()),
    };
    job.version = 6;
    job.creations = 3;
    job.updated_at = Millis(1_700_000_004_000);
    job
}

fn downloaded_billing_v2() -> Job {
    let mut job = requested_in_doubt_v2();
    job.state = downloaded();
    job.version = 12;
    job.attempt = 2;
    job.attempt_started_at = Millis(1_700_000_100_000);
    job.updated_at = Millis(1_700_000_200_000);
    job
}

fn failed_v2() -> Job {
    let mut job = downloaded_billing_v2();
    job.state = JobState::Failed { failure: refused() };
    job
}

/// The version-2 record of a job that version 2 could hold (no label, no origin of its dates).
fn frozen_v2(job: &Job) -> v2::Job {
    assert!(
        job.label.is_none() && job.origin.is_none(),
        "version 2 had no label and no date origin"
    );
    v2::Job {
        id: job.id,
        key: job.key.clone(),
        spec: job.spec.clone(),
        poll: job.poll.clone(),
        retry: job.retry.clone(),
        state: job.state.clone(),
        backoff: job.backoff.clone(),
        version: job.version,
        attempt: job.attempt,
        attempt_started_at: job.attempt_started_at,
        creations: job.creations,
        submitted_at: job.submitted_at,
        updated_at: job.updated_at,
    }
}

/// Version-3 jobs: a labelled billing job whose dates were relative (a night's split range),
/// the fields version 3 added.
fn labelled_relative_v3() -> Job {
    Job {
        label: Some(Label::new("nightly-2024-02-01").expect("a valid label")),
        origin: Some(DateOrigin {
            expressions: vec![
                ("range".to_string(), "last-month".to_string()),
                ("split".to_string(), "day".to_string()),
            ],
            zone: "Europe/Berlin".to_string(),
            resolved_on: date(2024, 2, 1),
        }),
        ..downloaded_billing_v2()
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
fn job_records_of_version_1_keep_their_bytes_and_migrate() {
    let dir = Path::new("/golden");
    let polling_v1 = v1_jobs::polling_account();
    let downloaded_v1 = v1_jobs::downloaded_billing();
    let failed_v1 = v1_jobs::failed();
    let cases = [
        (
            "job-v1-polling-account.hex",
            include_str!("../../tests/golden/job-v1-polling-account.hex"),
            polling_v1.clone(),
            migrated(&polling_v1, polling()),
        ),
        (
            "job-v1-downloaded-billing.hex",
            include_str!("../../tests/golden/job-v1-downloaded-billing.hex"),
            downloaded_v1.clone(),
            migrated(&downloaded_v1, downloaded()),
        ),
        (
            "job-v1-failed.hex",
            include_str!("../../tests/golden/job-v1-failed.hex"),
            failed_v1.clone(),
            migrated(&failed_v1, JobState::Failed { failure: refused() }),
        ),
    ];
    for (file, golden, old, now) in cases {
        let bytes = unhex(golden);
        assert_eq!(&bytes[..2], &[0, 1], "{file} is a version-1 record");
        // The frozen version-1 types still are version 1, byte for byte.
        let config = bincode::config::standard();
        let decoded: v1::Job = bincode::serde::decode_from_slice(&bytes[2..], config)
            .expect("a version-1 body")
            .0;
        assert_eq!(
            decoded, old,
            "{file} no longer decodes to the same version-1 job"
        );
        let mut again = 1u16.to_be_bytes().to_vec();
        again.extend(bincode::serde::encode_to_vec(&old, config).expect("encodes"));
        assert_golden(file, golden, &again);
        // And the store reads it as the current job.
        assert_eq!(
            decode_job(dir, old.id, &bytes).expect("a golden record decodes"),
            now,
            "{file} no longer migrates to the same job"
        );
    }
}

#[test]
fn a_version_1_create_count_becomes_the_unconfirmed_count_in_doubt() {
    let dir = Path::new("/golden");
    let old = v1_jobs::requested_sent_twice();
    let mut bytes = 1u16.to_be_bytes().to_vec();
    bytes
        .extend(bincode::serde::encode_to_vec(&old, bincode::config::standard()).expect("encodes"));
    let job = decode_job(dir, old.id, &bytes).expect("migrates");
    assert_eq!(
        job.state,
        JobState::Requested {
            unconfirmed: 2,
            in_doubt: true,
            next_at: old.updated_at,
            last_error: None,
        }
    );
    assert_eq!(job.retry, RetryPolicy::default());
    assert!(
        matches!(job.effect(), reportflow_core::Effect::Reconcile { .. }),
        "the listing is searched before any new create"
    );
    // Written back, it is a record of the current version.
    let written = encode_job(dir, &job).expect("encodes");
    assert_eq!(&written[..2], &JOB_VERSION.to_be_bytes());
    assert_eq!(decode_job(dir, job.id, &written).expect("decodes"), job);
}

#[test]
fn job_records_of_version_2_keep_their_bytes_and_migrate() {
    let dir = Path::new("/golden");
    let cases = [
        (
            "job-v2-polling-account.hex",
            include_str!("../../tests/golden/job-v2-polling-account.hex"),
            polling_account_v2(),
        ),
        (
            "job-v2-requested-in-doubt.hex",
            include_str!("../../tests/golden/job-v2-requested-in-doubt.hex"),
            requested_in_doubt_v2(),
        ),
        (
            "job-v2-downloaded-billing.hex",
            include_str!("../../tests/golden/job-v2-downloaded-billing.hex"),
            downloaded_billing_v2(),
        ),
        (
            "job-v2-failed.hex",
            include_str!("../../tests/golden/job-v2-failed.hex"),
            failed_v2(),
        ),
    ];
    for (file, golden, job) in cases {
        let bytes = unhex(golden);
        assert_eq!(&bytes[..2], &[0, 2], "{file} is a version-2 record");
        // The frozen version-2 type still is version 2, byte for byte.
        let old = frozen_v2(&job);
        let config = bincode::config::standard();
        let decoded: v2::Job = bincode::serde::decode_from_slice(&bytes[2..], config)
            .expect("a version-2 body")
            .0;
        assert_eq!(
            decoded, old,
            "{file} no longer decodes to the same version-2 job"
        );
        let mut again = 2u16.to_be_bytes().to_vec();
        again.extend(bincode::serde::encode_to_vec(&old, config).expect("encodes"));
        assert_golden(file, golden, &again);
        // And the store reads it as the current job: no label, its dates as given.
        assert_eq!(
            decode_job(dir, job.id, &bytes).expect("a golden record decodes"),
            job,
            "{file} no longer migrates to the same job"
        );
    }
}

#[test]
fn job_records_of_version_3_keep_their_bytes() {
    let dir = Path::new("/golden");
    let cases = [
        (
            "job-v3-polling-account.hex",
            include_str!("../../tests/golden/job-v3-polling-account.hex"),
            polling_account_v2(),
        ),
        (
            "job-v3-labelled-relative.hex",
            include_str!("../../tests/golden/job-v3-labelled-relative.hex"),
            labelled_relative_v3(),
        ),
    ];
    for (file, golden, job) in cases {
        let bytes = unhex(golden);
        assert_eq!(&bytes[..2], &[0, 3], "{file} is a version-3 record");
        assert_eq!(
            decode_job(dir, job.id, &bytes).expect("a golden record decodes"),
            job,
            "{file} no longer decodes to the same job"
        );
        assert_golden(file, golden, &encode_job(dir, &job).expect("a job encodes"));
    }
    // A version-2 job written again is a version-3 record of the same job.
    let v2 = unhex(include_str!(
        "../../tests/golden/job-v2-polling-account.hex"
    ));
    let job = decode_job(dir, JobId(7), &v2).expect("decodes");
    assert_golden(
        "job-v3-polling-account.hex",
        include_str!("../../tests/golden/job-v3-polling-account.hex"),
        &encode_job(dir, &job).expect("encodes"),
    );
}

#[test]
fn transition_records_of_version_1_keep_their_bytes() {
    let dir = Path::new("/golden");
    let cases = [
        (
            "transition-v1-status.hex",
            include_str!("../../tests/golden/transition-v1-status.hex"),
            transition(),
        ),
        (
            "transition-v1-submit.hex",
            include_str!("../../tests/golden/transition-v1-submit.hex"),
            submit(),
        ),
    ];
    for (file, golden, t) in cases {
        let bytes = unhex(golden);
        let decoded = decode_transitions(dir, JobId(7), 4, &bytes).expect("decodes");
        assert_eq!(decoded, [t.clone().with_seq(4)], "{file} no longer decodes");
        let v1 = encode(dir, 1, "a transition record", &t).expect("encodes");
        assert_golden(file, golden, &v1);
    }
}

#[test]
fn newer_and_damaged_records_are_refused_without_panicking() {
    let dir = Path::new("/golden");
    let mut bytes = encode_job(dir, &polling_account_v2()).expect("encodes");
    let id = JobId(7);
    bytes[1] = 4;
    assert!(matches!(
        decode_job(dir, id, &bytes),
        Err(StoreError::NewerRecord {
            found: 4,
            supported: 3,
            ..
        })
    ));
    bytes[1] = 0;
    assert!(matches!(
        decode_job(dir, id, &bytes),
        Err(StoreError::Corrupt { .. })
    ));
    bytes[1] = 3;
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
    // A version-3 body read as version 2 or 1 (or the other way) is refused, not misread.
    for older in [1, 2] {
        bytes[1] = older;
        assert!(
            decode_job(dir, id, &bytes).is_err(),
            "read as version {older}"
        );
    }
    let labelled = encode_job(dir, &labelled_relative_v3()).expect("encodes");
    for older in [1, 2] {
        let mut as_older = labelled.clone();
        as_older[1] = older;
        assert!(
            decode_job(dir, JobId(300), &as_older).is_err(),
            "a labelled record read as version {older}"
        );
    }
    let mut v2_as_v3 = unhex(include_str!(
        "../../tests/golden/job-v2-polling-account.hex"
    ));
    v2_as_v3[1] = 3;
    assert!(decode_job(dir, id, &v2_as_v3).is_err());
    // A transition of a version this build does not know.
    let mut t = encode_transitions(dir, &[submit(), transition()]).expect("encodes");
    assert_eq!(
        decode_transitions(dir, id, 3, &t).expect("decodes"),
        [submit().with_seq(3), transition().with_seq(4)]
    );
    t[1] = 3;
    assert!(matches!(
        decode_transitions(dir, id, 0, &t),
        Err(StoreError::NewerRecord {
            found: 3,
            supported: 2,
            ..
        })
    ));
    // A damaged length must not make the decoder allocate wildly.
    for version in 1..=JOB_VERSION {
        let mut huge = version.to_be_bytes().to_vec();
        huge.extend_from_slice(&[7, 0xfc, 0xff, 0xff, 0xff, 0xff]);
        huge.extend_from_slice(&[b'a'; 16]);
        assert!(decode_job(dir, id, &huge).is_err(), "version {version}");
    }
}
