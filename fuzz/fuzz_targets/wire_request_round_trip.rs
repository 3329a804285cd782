//! The request bodies round-trip both ways:
//! - arbitrary bytes that parse as an `<Instance>` or `<BillingReport>` render back to XML that
//!   parses to the same value;
//! - an arbitrary request value renders (or is refused for text XML cannot carry) and parses
//!   back to the same value.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use reportflow_wire::{BillingReportRequest, InstanceRequest, Parameter};

#[derive(Arbitrary, Debug)]
struct RawInstance {
    output_format: String,
    parameters: Vec<(String, Vec<String>)>,
    expires_at: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct RawBilling {
    report_type: String,
    start_date: String,
    end_date: String,
}

fn instance_round_trip(request: &InstanceRequest) {
    if let Ok(xml) = request.to_xml() {
        let back = InstanceRequest::from_xml(xml.as_bytes())
            .unwrap_or_else(|e| panic!("rendered {request:?} as {xml:?}, which does not parse: {e}"));
        assert_eq!(&back, request, "{xml}");
    }
}

fn billing_round_trip(request: &BillingReportRequest) {
    if let Ok(xml) = request.to_xml() {
        let back = BillingReportRequest::from_xml(xml.as_bytes())
            .unwrap_or_else(|e| panic!("rendered {request:?} as {xml:?}, which does not parse: {e}"));
        assert_eq!(&back, request, "{xml}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = InstanceRequest::from_xml(data) {
        instance_round_trip(&request);
    }
    if let Ok(request) = BillingReportRequest::from_xml(data) {
        billing_round_trip(&request);
    }
    let mut input = Unstructured::new(data);
    if let Ok(raw) = RawInstance::arbitrary(&mut input) {
        instance_round_trip(&InstanceRequest {
            output_format: raw.output_format,
            parameters: raw
                .parameters
                .into_iter()
                .map(|(name, values)| Parameter { name, values })
                .collect(),
            expires_at: raw.expires_at,
        });
    }
    if let Ok(raw) = RawBilling::arbitrary(&mut input) {
        billing_round_trip(&BillingReportRequest {
            report_type: raw.report_type,
            start_date: raw.start_date,
            end_date: raw.end_date,
        });
    }
});
