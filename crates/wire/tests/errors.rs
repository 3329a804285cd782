//! Error envelopes in every documented shape, alone and inside otherwise normal bodies.

mod common;

use common::{FIXTURES, fixture};
use reportflow_wire::{
    UpstreamError, WireError, parse_billing_creation, parse_billing_retrieval,
    parse_error_envelope, parse_instance, parse_instance_list, parse_report_detail,
    parse_report_list,
};

fn upstream(code: u32, description: &str) -> UpstreamError {
    UpstreamError {
        code: Some(code),
        description: description.to_owned(),
    }
}

#[test]
fn response_status_shape() {
    assert_eq!(
        parse_error_envelope(&fixture("error_response_status.xml")),
        Some(upstream(19032, "Missing required parameter: AccountId"))
    );
    assert_eq!(
        parse_error_envelope(&fixture("error_file_in_progress.xml")),
        Some(upstream(
            19048,
            "Report generation in progress; Output not yet available"
        ))
    );
}

#[test]
fn error_shape() {
    assert_eq!(
        parse_error_envelope(&fixture("error_error.xml")),
        Some(upstream(15603, "Report not found"))
    );
}

#[test]
fn errors_wrapping_error_elements_gives_the_first() {
    assert_eq!(
        parse_error_envelope(&fixture("error_errors_wrapped.xml")),
        Some(upstream(
            15501,
            "Invalid date range: start date is after end date"
        ))
    );
}

#[test]
fn repeated_errors_elements_give_the_first() {
    assert_eq!(
        parse_error_envelope(&fixture("error_errors_repeated.xml")),
        Some(upstream(1008, "'abc' is not a valid UUID"))
    );
}

#[test]
fn error_inside_a_200_body() {
    assert_eq!(
        parse_error_envelope(&fixture("error_inside_200.xml")),
        Some(upstream(19031, "Reporting service error"))
    );
}

#[test]
fn any_root_any_depth_and_only_a_code_or_only_a_description() {
    assert_eq!(
        parse_error_envelope(b"<AnyResponse><ResponseStatus><ErrorCode>19019</ErrorCode></ResponseStatus></AnyResponse>"),
        Some(upstream(19019, ""))
    );
    assert_eq!(
        parse_error_envelope(
            b"<A><B><C><Error><Description>deep</Description></Error></C></B></A>"
        ),
        Some(UpstreamError {
            code: None,
            description: "deep".to_owned()
        })
    );
    assert_eq!(
        parse_error_envelope(b"<X><Error><Description>escaped &amp; &lt;ok&gt; &#x41;</Description><Code> 7 </Code></Error></X>"),
        Some(upstream(7, "escaped & <ok> A"))
    );
    assert_eq!(
        parse_error_envelope(b"<X><Error><Code>8</Code><Description><![CDATA[a <raw> text]]></Description></Error></X>"),
        Some(upstream(8, "a <raw> text"))
    );
}

#[test]
fn element_names_are_case_sensitive() {
    assert_eq!(
        parse_error_envelope(b"<X><error><code>1</code><description>no</description></error></X>"),
        None
    );
}

#[test]
fn normal_bodies_carry_no_error() {
    for name in FIXTURES.iter().filter(|name| !name.starts_with("error_")) {
        assert_eq!(parse_error_envelope(&fixture(name)), None, "{name}");
    }
    assert_eq!(parse_error_envelope(b""), None);
    assert_eq!(parse_error_envelope(b"not xml at all"), None);
    assert_eq!(parse_error_envelope(b"\xff\xfe<<<"), None);
}

#[test]
fn every_typed_parser_reports_the_envelope_first() {
    let bodies = [
        fixture("error_response_status.xml"),
        fixture("error_error.xml"),
        fixture("error_errors_wrapped.xml"),
        fixture("error_errors_repeated.xml"),
        fixture("error_inside_200.xml"),
    ];
    let expected = [
        upstream(19032, "Missing required parameter: AccountId"),
        upstream(15603, "Report not found"),
        upstream(15501, "Invalid date range: start date is after end date"),
        upstream(1008, "'abc' is not a valid UUID"),
        upstream(19031, "Reporting service error"),
    ];
    for (body, expected) in bodies.iter().zip(expected) {
        let want: Result<(), WireError> = Err(WireError::Upstream(expected));
        assert_eq!(parse_report_list(body).map(drop), want);
        assert_eq!(parse_report_detail(body).map(drop), want);
        assert_eq!(parse_instance(body).map(drop), want);
        assert_eq!(parse_instance_list(body).map(drop), want);
        assert_eq!(parse_billing_creation(body).map(drop), want);
        assert_eq!(parse_billing_retrieval(body).map(drop), want);
    }
}

#[test]
fn error_inside_an_otherwise_valid_instance_listing_is_an_error() {
    // The listing itself would parse (one ready instance); the envelope must still win.
    let error = parse_instance_list(&fixture("error_inside_200.xml")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "upstream error 19031: Reporting service error"
    );
}
