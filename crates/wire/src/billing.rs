//! Billing report answers: `BillingReportCreationResponse` (to the POST) and
//! `BillingReportRetrievalResponse` (to `GET {location}`). Both carry a status and a text.

use serde::Deserialize;

use crate::error::WireError;
use crate::status::BillingStatus;
use crate::text;
use crate::xml::read_response;

/// A billing report's state as either answer gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct BillingReportResponse {
    /// `<ReportStatus>`, required (an empty one reads as `Other("")`, i.e. not ready).
    #[serde(rename = "ReportStatus", deserialize_with = "text::required_from")]
    pub status: BillingStatus,
    /// `<Description>`, e.g. `The report archive is constructed.`
    #[serde(rename = "Description", default, deserialize_with = "text::optional")]
    pub description: Option<String>,
}

/// Parses the answer to the billing report POST (`<BillingReportCreationResponse>`).
pub fn parse_billing_creation(body: &[u8]) -> Result<BillingReportResponse, WireError> {
    read_response(
        body,
        "BillingReportCreationResponse",
        "billing report creation",
    )
}

/// Parses a billing report status (`<BillingReportRetrievalResponse>`).
pub fn parse_billing_retrieval(body: &[u8]) -> Result<BillingReportResponse, WireError> {
    read_response(
        body,
        "BillingReportRetrievalResponse",
        "billing report status",
    )
}
