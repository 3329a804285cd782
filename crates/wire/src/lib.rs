//! Bandwidth's report API as XML: the bodies reportflow sends, the documents it reads back,
//! the error envelopes the upstream answers with, and the file name a download should get.
//!
//! The crate does no I/O and depends on nothing of ours: it turns bytes into values and values
//! into strings. Dates stay plain `YYYY-MM-DD` strings here; the core crate owns their meaning.
//!
//! Every parser is lenient in the ways the upstream varies (unknown elements, absent optional
//! elements, an optional XML declaration, one or many repeated elements, empty elements, a root
//! element named otherwise than documented, as in Bandwidth's own SDK tests) and strict where
//! leniency would hide a wrong answer: a body is read only when it holds what the client needs
//! (a report its id, an instance its status, a listing its list element), an absent optional
//! element stays `None` (never a default the upstream did not state), and an error envelope
//! anywhere in a body surfaces as [`WireError::Upstream`]. [`classify_answer`] says what an
//! answer means (transient, not ready, gone, refused). No parser panics on any input.
//!
//! The crate's tests read every body of `tests/fixtures/bandwidth/` (real bodies from
//! Bandwidth's SDK tests and API spec, with their sources).

#![deny(missing_docs)]

mod billing;
mod catalogue;
mod disposition;
mod error;
mod error_envelope;
mod instance;
mod meaning;
mod request;
mod status;
mod text;
mod xml;

pub use billing::{
    BillingReportResponse, BillingReportSummary, parse_billing_creation, parse_billing_report_list,
    parse_billing_retrieval,
};
pub use catalogue::{
    ParameterValue, ReportDetail, ReportParameter, ReportSummary, parse_report_detail,
    parse_report_list,
};
pub use disposition::{content_disposition_filename, file_name_from_disposition, safe_file_name};
pub use error::WireError;
pub use error_envelope::{UpstreamError, parse_error_envelope};
pub use instance::{Instance, parse_instance, parse_instance_list};
pub use meaning::{AnswerKind, classify_answer, is_zip_archive};
pub use request::{BillingReportRequest, InstanceRequest, Parameter};
pub use status::{BillingStatus, InstanceStatus};
