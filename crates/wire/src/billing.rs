//! Billing report answers: `BillingReportCreationResponse` (to the POST),
//! `BillingReportRetrievalResponse` (to `GET {location}`), both a status and a text, and the
//! listing `BillingReportsRetrievalResponse` (`GET /accounts/{a}/billingreports`).

use serde::Deserialize;

use crate::error::WireError;
use crate::status::BillingStatus;
use crate::text;
use crate::xml::{Shape, read_response, wrapped_list};

/// A billing report's state as either answer gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct BillingReportResponse {
    /// `<ReportStatus>`, required (an empty one reads as `Other("")`, i.e. not ready). The
    /// spec's example of a `200` from `{location}/file` carries it as a text-only
    /// `<ResponseStatus>`, read the same way.
    #[serde(
        rename = "ReportStatus",
        alias = "ResponseStatus",
        deserialize_with = "text::required_from"
    )]
    pub status: BillingStatus,
    /// `<Description>`, e.g. `The report archive is constructed.`
    #[serde(rename = "Description", default, deserialize_with = "text::optional")]
    pub description: Option<String>,
}

/// The children that carry a billing answer's status.
const STATUS_CONTENT: &[&str] = &["ReportStatus", "ResponseStatus"];

/// What the answer to the billing report POST holds.
const CREATION: Shape = Shape {
    root: "BillingReportCreationResponse",
    content: STATUS_CONTENT,
    what: "billing report creation",
};

/// What a billing report status holds.
const RETRIEVAL: Shape = Shape {
    root: "BillingReportRetrievalResponse",
    content: STATUS_CONTENT,
    what: "billing report status",
};

/// Parses the answer to the billing report POST (`<BillingReportCreationResponse>`).
pub fn parse_billing_creation(body: &[u8]) -> Result<BillingReportResponse, WireError> {
    read_response(body, &CREATION)
}

/// Parses a billing report status (`<BillingReportRetrievalResponse>`, or another root holding
/// its `<ReportStatus>`, such as the spec's `<BillingReportArchiveRetrievalResponse>`).
pub fn parse_billing_retrieval(body: &[u8]) -> Result<BillingReportResponse, WireError> {
    read_response(body, &RETRIEVAL)
}

/// One entry of the billing report listing: `BillingReportList/BillingReport`. Everything but
/// `id` may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BillingReportSummary {
    /// `<BillingReportId>`, e.g. `5f8734f0-d7c3-445c-b1e2-cdbb620e4ff7`.
    pub id: String,
    /// `<BillingReportKind>`, e.g. `DIDSNAP`.
    pub kind: Option<String>,
    /// `<UserId>`, who asked for it.
    pub user_id: Option<String>,
    /// `<ReportStatus>` (`COMPLETE` reads as completed).
    pub status: Option<BillingStatus>,
    /// `<Description>`.
    pub description: Option<String>,
    /// `<CreatedDate>` as the upstream wrote it (e.g. `2017-11-01 14:12:16`).
    pub created_date: Option<String>,
    /// `<DateRange><StartDate>` as `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// `<DateRange><EndDate>` as `YYYY-MM-DD`.
    pub end_date: Option<String>,
}

/// `<BillingReport>` of the listing.
#[derive(Deserialize)]
struct BillingReportXml {
    #[serde(rename = "BillingReportId", deserialize_with = "text::required")]
    id: String,
    #[serde(
        rename = "BillingReportKind",
        default,
        deserialize_with = "text::optional"
    )]
    kind: Option<String>,
    #[serde(rename = "UserId", default, deserialize_with = "text::optional")]
    user_id: Option<String>,
    #[serde(
        rename = "ReportStatus",
        default,
        deserialize_with = "text::optional_from"
    )]
    status: Option<BillingStatus>,
    #[serde(rename = "Description", default, deserialize_with = "text::optional")]
    description: Option<String>,
    #[serde(rename = "CreatedDate", default, deserialize_with = "text::optional")]
    created_date: Option<String>,
    #[serde(rename = "DateRange", default)]
    date_range: Option<DateRangeXml>,
}

/// `<DateRange>` of a listed billing report.
#[derive(Deserialize)]
struct DateRangeXml {
    #[serde(rename = "StartDate", default, deserialize_with = "text::optional")]
    start_date: Option<String>,
    #[serde(rename = "EndDate", default, deserialize_with = "text::optional")]
    end_date: Option<String>,
}

wrapped_list! {
    /// Reads `<BillingReportList><BillingReport>..</BillingReport>*</BillingReportList>`.
    fn billing_reports -> Vec<BillingReportXml>, "BillingReport"
}

/// `<BillingReportsRetrievalResponse>`.
#[derive(Deserialize)]
struct BillingReportsResponse {
    #[serde(
        rename = "BillingReportList",
        default,
        deserialize_with = "billing_reports"
    )]
    reports: Vec<BillingReportXml>,
}

/// What the billing report listing holds.
const LISTING: Shape = Shape {
    root: "BillingReportsRetrievalResponse",
    content: &["BillingReportList"],
    what: "billing report listing",
};

/// Parses the billing report listing (`<BillingReportsRetrievalResponse>`); zero, one or many
/// `<BillingReport>`s, in the order listed. (The listing only covers some kinds, so the engine
/// does not use it to find a report again; see docs/upstream.md.)
pub fn parse_billing_report_list(body: &[u8]) -> Result<Vec<BillingReportSummary>, WireError> {
    let response: BillingReportsResponse = read_response(body, &LISTING)?;
    Ok(response
        .reports
        .into_iter()
        .map(|r| {
            let (start_date, end_date) = r
                .date_range
                .map(|d| (d.start_date, d.end_date))
                .unwrap_or_default();
            BillingReportSummary {
                id: r.id,
                kind: r.kind,
                user_id: r.user_id,
                status: r.status,
                description: r.description,
                created_date: r.created_date,
                start_date,
                end_date,
            }
        })
        .collect())
}
