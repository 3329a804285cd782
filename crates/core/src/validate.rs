//! Checking a job spec before anything is stored or sent.

use crate::{AccountReportSpec, BillingReportSpec, CoreError, JobSpec};
use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The billing report types Bandwidth documents (seed and OpenAPI spec). Other well-formed
/// upper-case types are accepted with a [`SpecWarning::UnknownBillingType`]; so is any type
/// starting with `MSG_CAMPAIGN_`.
pub const KNOWN_BILLING_TYPES: &[&str] = &[
    "BDR",
    "MDR",
    "INVOICE",
    "STMTBDR",
    "DIDSNAP",
    "DIDSNAP_MSG",
    "RECORDINGBDR",
    "RECORDINGSTMTBDR",
    "TRANSCRIPTIONBDR",
    "TRANSCRIPTIONSTMTBDR",
    "CNAMBDR",
    "CNAMSTMTBDR",
    "CONFBDR",
    "CONFSTMTBDR",
    "TFPEERINGSTMTBDR",
    "TNLOOKUPBDR",
    "TNLOOKUPSTMTBDR",
    "AMDBDR",
    "AMDSTMTBDR",
    "SIPURIBDR",
    "SIPURISTMTBDR",
    "UNPROVISIONED_CALLS_BDR",
];

/// How far ahead an `ExpiresAt` date may lie, in days after today.
const MAX_EXPIRY_DAYS: i32 = 30;

/// One thing wrong with a job spec; the message says what to change.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum SpecProblem {
    /// The account id is empty.
    #[error("the account id is empty; set it (e.g. --account 9900000 or BANDWIDTH_ACCOUNT_ID)")]
    EmptyAccount,
    /// The account id has characters other than digits.
    #[error("the account id {0:?} is not a number; Bandwidth account ids are digits only")]
    NonNumericAccount(String),
    /// The report id is zero, which no report has.
    #[error("report id 0 does not exist; list the report ids with `reportflow reports list`")]
    ZeroReportId,
    /// The output format is not one the upstream knows.
    #[error("the output format {0:?} is unknown; use one of pdf, csv, xls, html")]
    UnknownOutputFormat(String),
    /// A date field is neither `YYYY-MM-DD` nor a relative date.
    #[error(
        "{field} {value:?} is not a date; write it as YYYY-MM-DD (e.g. 2026-01-31) or relative to today ({forms})",
        forms = crate::relative::RELATIVE_FORMS
    )]
    BadDate {
        /// Which field.
        field: String,
        /// The text given.
        value: String,
    },
    /// A date is written `YYYY-MM-DD` but no such day exists.
    #[error("{field} {value:?} is not a date: {reason}")]
    NoSuchDate {
        /// Which field.
        field: String,
        /// The text given.
        value: String,
        /// Why not, e.g. "November 2026 has 30 days".
        reason: String,
    },
    /// A relative date moves too far from today.
    #[error("{field} {value:?} moves too far from today; use an offset of at most {max} days")]
    DateOffsetTooLarge {
        /// Which field.
        field: String,
        /// The text given.
        value: String,
        /// The largest offset allowed, in days.
        max: i32,
    },
    /// A range name is not one of the known ranges.
    #[error(
        "{field} {value:?} is not a range; use one of yesterday, last-7-days, last-month, month-to-date (or give --from and --to)"
    )]
    UnknownRange {
        /// Which field.
        field: String,
        /// The text given.
        value: String,
    },
    /// A split is not day, week or month.
    #[error("{field} {value:?} is not a way to split a range; use day, week or month")]
    UnknownSplit {
        /// Which field.
        field: String,
        /// The text given.
        value: String,
    },
    /// Splitting the range would make more jobs than one command may submit.
    #[error(
        "splitting {start}..{end} by {split} makes more than {max} jobs, the most one submit may make; submit a shorter range or split it by a longer period"
    )]
    TooManyPartitions {
        /// `day`, `week` or `month`.
        split: String,
        /// First day of the range.
        start: Date,
        /// Last day of the range.
        end: Date,
        /// The most jobs allowed.
        max: usize,
    },
    /// `ExpiresAt` lies before today.
    #[error(
        "the expiry date {expires} is in the past (today is {today}); choose today or a later day"
    )]
    ExpiresInPast {
        /// The date given.
        expires: Date,
        /// Today's date.
        today: Date,
    },
    /// `ExpiresAt` lies more than 30 days after today.
    #[error("the expiry date {expires} is more than 30 days ahead; choose {latest} or earlier")]
    ExpiresTooFar {
        /// The date given.
        expires: Date,
        /// The latest date allowed.
        latest: Date,
    },
    /// The billing range starts after it ends.
    #[error("the date range starts on {start}, after it ends on {end}; swap the dates")]
    StartAfterEnd {
        /// First day given.
        start: Date,
        /// Last day given.
        end: Date,
    },
    /// A parameter has an empty name.
    #[error("a report parameter has an empty name; write parameters as NAME=VALUE")]
    EmptyParameterName,
    /// A parameter has no value at all, or an empty one.
    #[error("the report parameter {name:?} has an empty value; write it as {name}=VALUE")]
    EmptyParameterValue {
        /// The parameter's name.
        name: String,
    },
    /// The billing type is not an upper-case identifier.
    #[error(
        "the billing report type {0:?} is not an upper-case identifier (like BDR or DIDSNAP_MSG); check the spelling"
    )]
    BadBillingType(String),
}

/// Something unusual about a spec that does not stop it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecWarning {
    /// The billing type is well formed but not one Bandwidth documents.
    UnknownBillingType(String),
}

impl std::fmt::Display for SpecWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownBillingType(t) => write!(
                f,
                "billing report type {t:?} is not one Bandwidth documents; it is sent as given"
            ),
        }
    }
}

impl JobSpec {
    /// Checks the spec against `today` (the caller's date, UTC). Returns the warnings when it
    /// is usable, or every problem found.
    pub fn validate(&self, today: Date) -> Result<Vec<SpecWarning>, CoreError> {
        let mut problems = Vec::new();
        check_account(self.account(), &mut problems);
        let warnings = match self {
            JobSpec::Account(a) => {
                check_account_report(a, today, &mut problems);
                Vec::new()
            }
            JobSpec::Billing(b) => check_billing_report(b, &mut problems),
        };
        if problems.is_empty() {
            Ok(warnings)
        } else {
            Err(CoreError::InvalidSpec { problems })
        }
    }
}

fn check_account(account: &str, problems: &mut Vec<SpecProblem>) {
    if account.is_empty() {
        problems.push(SpecProblem::EmptyAccount);
    } else if !account.bytes().all(|b| b.is_ascii_digit()) {
        problems.push(SpecProblem::NonNumericAccount(account.to_string()));
    }
}

fn check_account_report(a: &AccountReportSpec, today: Date, problems: &mut Vec<SpecProblem>) {
    if a.report_id == 0 {
        problems.push(SpecProblem::ZeroReportId);
    }
    for (name, values) in &a.params {
        if name.trim().is_empty() {
            problems.push(SpecProblem::EmptyParameterName);
        } else if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
            problems.push(SpecProblem::EmptyParameterValue { name: name.clone() });
        }
    }
    if let Some(expires) = a.expires_at {
        if expires < today {
            problems.push(SpecProblem::ExpiresInPast { expires, today });
        } else if let Ok(latest) = today.checked_add(MAX_EXPIRY_DAYS.days())
            && expires > latest
        {
            problems.push(SpecProblem::ExpiresTooFar { expires, latest });
        }
    }
}

fn check_billing_report(
    b: &BillingReportSpec,
    problems: &mut Vec<SpecProblem>,
) -> Vec<SpecWarning> {
    if b.start > b.end {
        problems.push(SpecProblem::StartAfterEnd {
            start: b.start,
            end: b.end,
        });
    }
    let t = b.report_type.as_str();
    let well_formed = t.bytes().next().is_some_and(|c| c.is_ascii_uppercase())
        && t.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
    if !well_formed {
        problems.push(SpecProblem::BadBillingType(t.to_string()));
        return Vec::new();
    }
    if KNOWN_BILLING_TYPES.contains(&t) || t.starts_with("MSG_CAMPAIGN_") {
        Vec::new()
    } else {
        vec![SpecWarning::UnknownBillingType(t.to_string())]
    }
}
