//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different part

use std::path::PathBuf;

/// Every fixture under `tests/fixtures/`.
pub const FIXTURES: &[&str] = &[
    "report_list.xml",
    "report_list_single.xml",
    "report_detail.xml",
    "report_detail_single_value.xml",
    "instance_ready.xml",
    "instance_minimal.xml",
    "instances_many.xml",
    "instances_one.xml",
    "instances_empty.xml",
    "billing_creation.xml",
    "billing_completed.xml",
    "billing_complete.xml",
    "error_response_status.xml",
    "error_file_in_progress.xml",
    "error_error.xml",
    "error_errors_wrapped.xml",
    "error_errors_repeated.xml",
    "error_inside_200.xml",
];

/// Every body under `tests/fixtures/bandwidth/`: real answers from Bandwidth's SDK tests and
/// API spec (their sources are in that folder's README).
pub const BANDWIDTH: &[&str] = &[
    "docs-account-instances.xml",
    "docs-billing-creation-201.xml",
    "docs-billing-creation-400.xml",
    "docs-billing-file-200-xml.xml",
    "docs-billing-file-400.xml",
    "docs-billing-file-404.xml",
    "docs-billing-reports-list.xml",
    "docs-billing-retrieval-400.xml",
    "docs-billing-retrieval-404.xml",
    "docs-billing-retrieval-completed.xml",
    "docs-instance-404.xml",
    "docs-instance-create-400.xml",
    "docs-instance-create-503.xml",
    "docs-instance-file-202.xml",
    "docs-instance-file-404.xml",
    "docs-instance-ready-100102.xml",
    "docs-report-404.xml",
    "docs-report-detail-123.xml",
    "docs-report-instances.xml",
    "docs-reports-list.xml",
    "mdx-instance-ready-789.xml",
    "php-billing-creation-201.xml",
    "php-billing-file.bin",
    "php-billing-reports-list.xml",
    "php-billing-retrieval-completed.xml",
    "php-report-detail-123.xml",
    "php-report-instances.xml",
    "php-reports-list.xml",
];

/// The bytes of the fixture `name` (`bandwidth/NAME` for a real body).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// `Some(text)` as an owned string, for comparing optional fields.
pub fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}
