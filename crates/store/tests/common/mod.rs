//! Helpers shared by the store's test binaries.
#![allow(dead_code)]

pub mod child;

use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, DateOrigin, Failure, FailureKind, Input, Job,
    JobKey, JobKind, JobSpec, JobState, Label, Millis, NewJob, OutputFormat, Policies, PollPolicy,
    Progress, StoredFile,
};
use std::collections::{BTreeMap, BTreeSet};

/// Policies with a long poll deadline, so that test times never hit it by accident.
pub fn policy() -> Policies {
    Policies {
        poll: PollPolicy {
            deadline_ms: 1 << 40,
            ..PollPolicy::default()
        },
        ..Policies::default()
    }
}

/// An account report spec; `n` varies its parameters.
pub fn account_spec(n: u32) -> JobSpec {
    let mut params = BTreeMap::new();
    params.insert(
        "AccountId".to_string(),
        BTreeSet::from(["12345".to_string()]),
    );
    params.insert("Variant".to_string(), BTreeSet::from([n.to_string()]));
    JobSpec::Account(AccountReportSpec {
        account: "12345".to_string(),
        report_id: 2,
        format: OutputFormat::Csv,
        params,
        expires_at: None,
    })
}

/// A billing report spec; `n` varies its range.
pub fn billing_spec(n: u32) -> JobSpec {
    let start = Date::new(2024, 1, 1).expect("a valid date");
    let end = Date::new(2024, 1, (n % 27 + 2) as i8).expect("a valid date");
    JobSpec::Billing(BillingReportSpec {
        account: "12345".to_string(),
        report_type: "BDR".to_string(),
        start,
        end,
    })
}

/// Spec number `n`: even numbers are account reports, odd ones billing reports.
pub fn spec(n: u32) -> JobSpec {
    if n % 2 == 1 {
        billing_spec(n)
    } else {
        account_spec(n)
    }
}

/// A user key.
pub fn key(name: &str) -> JobKey {
    JobKey::user(name).expect("a valid key")
}

/// Spec number `n` under `name`, submitted with the label `label` and relative dates (a
/// night's `range = "yesterday"` in Europe/Berlin).
pub fn labelled(n: u32, name: &str, label: &str) -> NewJob {
    NewJob::new(spec(n), Some(key(name)))
        .labelled(Some(Label::new(label).expect("a valid label")))
        .dated(Some(DateOrigin {
            expressions: vec![("range".to_string(), "yesterday".to_string())],
            zone: "Europe/Berlin".to_string(),
            resolved_on: Date::new(2024, 1, 2).expect("a valid date"),
        }))
}

/// A failure for `PermanentError`.
pub fn failure() -> Failure {
    Failure {
        kind: FailureKind::Upstream,
        http_status: Some(400),
        code: Some(12345),
        message: "bad request".to_string(),
    }
}

/// A stored file for `FileStored`.
pub fn file(id: u64) -> StoredFile {
    StoredFile {
        path: format!("/reports/{id}.csv"),
        bytes: 1234,
        sha256: "ab".repeat(32),
    }
}

/// The inputs that make sense for a job as it is, in a fixed order; `pick` chooses among
/// them (modulo their number). `None` for a downloaded job (it takes nothing).
pub fn legal_input(job: &Job, pick: u64) -> Option<Input> {
    let choices: Vec<Input> = match &job.state {
        JobState::Requested {
            in_doubt: false, ..
        } => vec![
            Input::CreateSending,
            Input::CreateSending,
            Input::CreateSending,
            Input::Cancel,
        ],
        JobState::Requested { .. } => vec![
            Input::CreateAccepted {
                location: format!("https://upstream.invalid/r/{}", job.id),
            },
            Input::CreateAccepted {
                location: format!("https://upstream.invalid/r/{}", job.id),
            },
            match job.kind() {
                JobKind::Account => Input::ReconcileFoundNothing,
                JobKind::Billing => Input::CreateNoData,
            },
            Input::CreateUnanswered {
                reason: "the connection was reset".to_string(),
            },
        ],
        JobState::Created { .. } | JobState::Polling { .. } => vec![
            Input::StatusSeen {
                progress: Progress::NotReady,
                raw: "Processing".to_string(),
            },
            Input::StepFailed {
                reason: "HTTP 503".to_string(),
            },
            Input::StatusSeen {
                progress: Progress::Ready,
                raw: match job.kind() {
                    JobKind::Account => "Ready".to_string(),
                    JobKind::Billing => "COMPLETED".to_string(),
                },
            },
            Input::OutputGone {
                reason: "expired".to_string(),
            },
            Input::PermanentError { failure: failure() },
        ],
        JobState::Ready { .. } | JobState::Completed { .. } => vec![
            Input::FileStored {
                file: file(job.id.0),
            },
            Input::FileStored {
                file: file(job.id.0),
            },
            Input::FileNotReady,
        ],
        JobState::Downloaded { .. } => return None,
        JobState::Expired { .. }
        | JobState::NoData
        | JobState::Failed { .. }
        | JobState::Cancelled => vec![Input::Retry],
    };
    let n = choices.len() as u64;
    choices.into_iter().nth((pick % n) as usize)
}

/// A small deterministic mixer (splitmix64), for choices that must be reproducible from
/// plain numbers.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The time at which step `version` of job `id` is scripted to happen.
pub fn scripted_time(id: u64, version: u64) -> Millis {
    Millis(1_700_000_000_000 + id * 10_000_000 + version * 1_000)
}

/// The input scripted for a job as it is: a pure function of its id, version and state, so
/// that a history can be replayed from the submitted job alone.
pub fn scripted_input(job: &Job) -> Option<(Input, Millis)> {
    let input = legal_input(job, mix(job.id.0 << 20 ^ job.version))?;
    Some((input, scripted_time(job.id.0, job.version + 1)))
}
