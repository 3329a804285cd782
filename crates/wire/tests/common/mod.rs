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

/// The bytes of the fixture `name`.
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
