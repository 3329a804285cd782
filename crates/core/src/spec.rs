//! What the user asks for: an account report or a billing report.

use crate::SpecProblem;
use crate::relative::why_not_a_date;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// The output formats an account report can be requested in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OutputFormat {
    /// Portable Document Format.
    Pdf,
    /// Comma-separated values.
    Csv,
    /// Excel spreadsheet (the upstream caps it at 65000 rows).
    Xls,
    /// An HTML page.
    Html,
}

impl OutputFormat {
    /// Every known format, in the order shown to users.
    pub const ALL: [OutputFormat; 4] = [Self::Pdf, Self::Csv, Self::Xls, Self::Html];

    /// The lower-case literal sent upstream in `<OutputFormat>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Csv => "csv",
            Self::Xls => "xls",
            Self::Html => "html",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutputFormat {
    type Err = SpecProblem;

    /// Parses a format name in any letter case (`pdf`, `PDF`, `Csv`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == lower)
            .ok_or_else(|| SpecProblem::UnknownOutputFormat(s.to_string()))
    }
}

/// Parses a `YYYY-MM-DD` date, naming the field in the problem when it is not one. A date
/// that is well formed but does not exist says why (`2026-11-31`: November 2026 has 30 days).
pub fn parse_date(field: &str, value: &str) -> Result<Date, SpecProblem> {
    let trimmed = value.trim();
    let well_formed = trimmed.len() == 10
        && trimmed.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(SpecProblem::BadDate {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
    trimmed.parse::<Date>().map_err(|_| {
        let number = |range: std::ops::Range<usize>| trimmed[range].parse::<i16>().unwrap_or(0);
        SpecProblem::NoSuchDate {
            field: field.to_string(),
            value: value.to_string(),
            reason: why_not_a_date(
                number(0..4),
                i8::try_from(number(5..7)).unwrap_or(0),
                i8::try_from(number(8..10)).unwrap_or(0),
            ),
        }
    })
}

/// An account report (`/reports/{id}/instances`) to create and download.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountReportSpec {
    /// The Bandwidth account id (digits).
    pub account: String,
    /// The report type id from the catalogue (e.g. 2 for Full Phone Number Details).
    pub report_id: u32,
    /// The output format to request.
    pub format: OutputFormat,
    /// Report parameters: name to its values (several values make a multi-valued parameter).
    /// Kept sorted so the same request always looks the same, whatever order it was given in.
    pub params: BTreeMap<String, BTreeSet<String>>,
    /// The day the upstream instance expires (at most 30 days ahead), if not the upstream's default.
    pub expires_at: Option<Date>,
}

/// A billing report (`/billingReports`) to create and download.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BillingReportSpec {
    /// The Bandwidth account id (digits).
    pub account: String,
    /// The billing report type, an upper-case identifier such as `BDR` or `MDR`.
    pub report_type: String,
    /// First day of the range.
    pub start: Date,
    /// Last day of the range.
    pub end: Date,
}

/// The two report families a job can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobKind {
    /// An account report (`/reports`).
    Account,
    /// A billing report (`/billingReports`).
    Billing,
}

impl JobKind {
    /// The lower-case name used in output (`account`, `billing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Billing => "billing",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for one report, as submitted by the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobSpec {
    /// An account report.
    Account(AccountReportSpec),
    /// A billing report.
    Billing(BillingReportSpec),
}

impl JobSpec {
    /// Which report family this is.
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Account(_) => JobKind::Account,
            Self::Billing(_) => JobKind::Billing,
        }
    }

    /// The account the report belongs to.
    pub fn account(&self) -> &str {
        match self {
            Self::Account(a) => &a.account,
            Self::Billing(b) => &b.account,
        }
    }
}
