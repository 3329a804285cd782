//! Bandwidth's report API as XML: the bodies reportflow sends, the documents it reads back,
//! the error envelopes the upstream answers with, and the file name a download should get.
//!
//! The crate does no I/O and depends on nothing of ours: it turns bytes into values and values
//! into strings. Dates stay plain `YYYY-MM-DD` strings here; the core crate owns their meaning.
//!
//! Every parser is lenient in the ways the upstream varies (unknown elements, absent optional
//! elements, an optional XML declaration, one or many repeated elements, empty elements) and
//! strict where leniency would hide a wrong answer: the root element must be the documented one,
//! and an error envelope anywhere in a body surfaces as [`WireError::Upstream`].
//! No parser panics on any input.

#![deny(missing_docs)]

mod billing;
mod catalogue;
mod disposition;
mod error;
mod error_envelope;
mod instance;
mod request;
mod status;
mod text;
mod xml;

pub use billing::{BillingReportResponse, parse_billing_creation, parse_billing_retrieval};
pub use catalogue::{
    ParameterValue, ReportDetail, ReportParameter, ReportSummary, parse_report_detail,
    parse_report_list,
};
pub use disposition::{content_disposition_filename, file_name_from_disposition, safe_file_name};
pub use error::WireError;
pub use error_envelope::{UpstreamError, parse_error_envelope};
pub use instance::{Instance, parse_instance, parse_instance_list};
pub use request::{BillingReportRequest, InstanceRequest, Parameter};
pub use status::{BillingStatus, InstanceStatus};
