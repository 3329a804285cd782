//! The request bodies: exact rendering, escaping and round trips.

use proptest::prelude::*;
use reportflow_wire::{BillingReportRequest, InstanceRequest, Parameter, WireError};

fn parameter(name: &str, values: &[&str]) -> Parameter {
    Parameter {
        name: name.to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn seed_request() -> InstanceRequest {
    InstanceRequest {
        output_format: "pdf".to_owned(),
        parameters: vec![
            parameter("Account", &["1"]),
            parameter("Sub-account", &["1"]),
            parameter("MultiValueEnum", &["value1", "value2"]),
        ],
        expires_at: Some("2020-11-25".to_owned()),
    }
}

#[test]
fn the_seed_instance_request_renders_exactly() {
    assert_eq!(
        seed_request().to_xml().expect("renders"),
        "<Instance><OutputFormat>pdf</OutputFormat><Parameters>\
         <Parameter><Name>Account</Name><Value>1</Value></Parameter>\
         <Parameter><Name>Sub-account</Name><Value>1</Value></Parameter>\
         <Parameter><Name>MultiValueEnum</Name><Value>value1</Value><Value>value2</Value></Parameter>\
         </Parameters><ExpiresAt>2020-11-25</ExpiresAt></Instance>"
    );
}

#[test]
fn expires_at_is_omitted_when_absent() {
    let request = InstanceRequest {
        expires_at: None,
        ..seed_request()
    };
    let xml = request.to_xml().expect("renders");
    assert!(!xml.contains("ExpiresAt"), "{xml}");
    assert!(xml.ends_with("</Parameters></Instance>"), "{xml}");
    assert_eq!(InstanceRequest::from_xml(xml.as_bytes()), Ok(request));
}

#[test]
fn special_characters_are_escaped() {
    let request = InstanceRequest {
        output_format: "csv".to_owned(),
        parameters: vec![parameter("A&B", &["<x>", "a & b", "</Value>"])],
        expires_at: None,
    };
    let xml = request.to_xml().expect("renders");
    assert_eq!(
        xml,
        "<Instance><OutputFormat>csv</OutputFormat><Parameters><Parameter><Name>A&amp;B</Name>\
         <Value>&lt;x&gt;</Value><Value>a &amp; b</Value><Value>&lt;/Value&gt;</Value>\
         </Parameter></Parameters></Instance>"
    );
    assert_eq!(InstanceRequest::from_xml(xml.as_bytes()), Ok(request));
}

#[test]
fn empty_and_blank_text_survive_a_round_trip() {
    let request = InstanceRequest {
        output_format: String::new(),
        parameters: vec![
            parameter("", &["", " ", "\t\n", " padded "]),
            parameter("NoValues", &[]),
        ],
        expires_at: Some(" ".to_owned()),
    };
    let xml = request.to_xml().expect("renders");
    assert_eq!(InstanceRequest::from_xml(xml.as_bytes()), Ok(request));
}

#[test]
fn the_seed_instance_request_with_declaration_comment_and_whitespace_parses() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Instance>
<OutputFormat>pdf</OutputFormat>
<Parameters>
<Parameter>
<Name>MultiValueEnum</Name>
<Value>value1</Value>
<Value>value2</Value>
</Parameter>
</Parameters>
<ExpiresAt>2020-11-25</ExpiresAt>
<!-- the date (not longer than 30 days in the future) -->
</Instance>"#;
    assert_eq!(
        InstanceRequest::from_xml(body),
        Ok(InstanceRequest {
            output_format: "pdf".to_owned(),
            parameters: vec![parameter("MultiValueEnum", &["value1", "value2"])],
            expires_at: Some("2020-11-25".to_owned()),
        })
    );
}

#[test]
fn the_seed_billing_request_renders_exactly_and_parses_back() {
    let request = BillingReportRequest {
        report_type: "BDR".to_owned(),
        start_date: "2020-05-21".to_owned(),
        end_date: "2020-05-29".to_owned(),
    };
    let xml = request.to_xml().expect("renders");
    assert_eq!(
        xml,
        "<BillingReport><Type>BDR</Type><DateRange><StartDate>2020-05-21</StartDate>\
         <EndDate>2020-05-29</EndDate></DateRange></BillingReport>"
    );
    assert_eq!(BillingReportRequest::from_xml(xml.as_bytes()), Ok(request));
}

#[test]
fn a_billing_request_without_date_range_is_malformed() {
    assert!(matches!(
        BillingReportRequest::from_xml(b"<BillingReport><Type>BDR</Type></BillingReport>"),
        Err(WireError::Malformed {
            what: "billing report request",
            ..
        })
    ));
    assert!(matches!(
        InstanceRequest::from_xml(b"<BillingReport/>"),
        Err(WireError::Malformed {
            what: "report instance request",
            ..
        })
    ));
}

/// `true` when XML 1.0 can carry every character of `text`.
fn xml_legal(text: &str) -> bool {
    text.chars().all(|c| {
        (c >= ' ' || matches!(c, '\t' | '\n' | '\r')) && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
    })
}

/// Names and values: mostly XML-special text, sometimes anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 &<>\"';=%/\\\\\\]\\[\t\r\néß€😀-]{0,16}",
        1 => any::<String>(),
    ]
}

fn parameters() -> impl Strategy<Value = Vec<Parameter>> {
    prop::collection::vec(
        (text(), prop::collection::vec(text(), 0..4))
            .prop_map(|(name, values)| Parameter { name, values }),
        0..5,
    )
}

fn instance_request() -> impl Strategy<Value = InstanceRequest> {
    (text(), parameters(), prop::option::of(text())).prop_map(
        |(output_format, parameters, expires_at)| InstanceRequest {
            output_format,
            parameters,
            expires_at,
        },
    )
}

fn all_text(request: &InstanceRequest) -> Vec<&str> {
    let mut texts = vec![request.output_format.as_str()];
    texts.extend(request.expires_at.as_deref());
    for parameter in &request.parameters {
        texts.push(&parameter.name);
        texts.extend(parameter.values.iter().map(String::as_str));
    }
    texts
}

/// The round-trip promise: legal text renders and parses back to the same value; text with a
/// character XML 1.0 cannot carry is refused with a render error, and nothing else happens.
fn assert_round_trip<T: PartialEq + std::fmt::Debug>(
    request: T,
    legal: bool,
    render: impl Fn(&T) -> Result<String, WireError>,
    parse: impl Fn(&[u8]) -> Result<T, WireError>,
) -> Result<(), TestCaseError> {
    match render(&request) {
        Ok(xml) => {
            prop_assert!(legal);
            prop_assert_eq!(parse(xml.as_bytes()), Ok(request));
        }
        Err(WireError::Render(message)) => {
            prop_assert!(!legal, "refused legal text: {}", message);
        }
        Err(other) => prop_assert!(false, "unexpected error {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn instance_requests_round_trip(request in instance_request()) {
        let legal = all_text(&request).into_iter().all(xml_legal);
        assert_round_trip(request, legal, InstanceRequest::to_xml, InstanceRequest::from_xml)?;
    }

    #[test]
    fn billing_requests_round_trip(report_type in text(), start_date in text(), end_date in text()) {
        let legal = [&report_type, &start_date, &end_date].iter().all(|t| xml_legal(t));
        let request = BillingReportRequest { report_type, start_date, end_date };
        assert_round_trip(
            request,
            legal,
            BillingReportRequest::to_xml,
            BillingReportRequest::from_xml,
        )?;
    }
}
