//! `reportflow_wire::parse_billing_retrieval` on arbitrary bytes: never panics, and an error always has a
//! message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match reportflow_wire::parse_billing_retrieval(data) {
        Ok(parsed) => {
            let _ = format!("{parsed:?}");
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
