//! `reportflow_wire::parse_error_envelope` on arbitrary bytes: never panics; a description it
//! finds is trimmed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(error) = reportflow_wire::parse_error_envelope(data) {
        assert_eq!(error.description, error.description.trim());
        assert!(!error.to_string().is_empty());
    }
});
