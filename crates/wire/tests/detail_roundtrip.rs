//! A report detail the crate renders reads back the same, whatever the root element is named
//! and whether or not the XML declaration is there (the upstream's bodies vary in both).

use proptest::prelude::*;
use reportflow_wire::{
    ParameterValue, ReportDetail, ReportParameter, ReportSummary, WireError, parse_report_detail,
};

/// Text as the parser gives it back: trimmed and never empty (an empty element reads as
/// absent). Markup characters and non-ASCII letters included, so escaping is exercised.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9&<>'\"é;:/._-][A-Za-z0-9 &<>'\"é;:/._-]{0,14}[A-Za-z0-9&<>'\"é;:/._-]|[A-Za-z0-9]"
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn value() -> impl Strategy<Value = ParameterValue> {
    (optional_text(), optional_text()).prop_map(|(internal_name, display_name)| ParameterValue {
        internal_name,
        display_name,
    })
}

fn parameter() -> impl Strategy<Value = ReportParameter> {
    (
        text(),
        optional_text(),
        proptest::option::of(any::<bool>()),
        optional_text(),
        proptest::option::of(any::<bool>()),
        optional_text(),
        optional_text(),
        proptest::collection::vec(value(), 0..4),
    )
        .prop_map(
            |(
                name,
                kind,
                required,
                description,
                multi_select_allowed,
                help_information,
                value_filter,
                values,
            )| ReportParameter {
                name,
                kind,
                required,
                description,
                multi_select_allowed,
                help_information,
                value_filter,
                values,
            },
        )
}

fn detail() -> impl Strategy<Value = ReportDetail> {
    (
        "[1-9][0-9]{0,6}",
        optional_text(),
        optional_text(),
        proptest::collection::vec(parameter(), 0..5),
    )
        .prop_map(|(id, name, description, parameters)| ReportDetail {
            summary: ReportSummary {
                id,
                name,
                description,
            },
            parameters,
        })
}

/// A root element name other than the documented one (never an error container's name).
fn other_root() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ReportsResponse".to_owned()),
        Just("AnyResponse".to_owned()),
        "[A-Z][A-Za-z]{0,15}",
    ]
    .prop_filter("not an error container", |name| {
        !matches!(name.as_str(), "Error" | "Errors" | "ResponseStatus")
    })
}

/// `xml` with its root element renamed to `root`.
fn renamed(xml: &str, root: &str) -> String {
    xml.replacen("<ReportResponse>", &format!("<{root}>"), 1)
        .replacen("</ReportResponse>", &format!("</{root}>"), 1)
}

/// `xml` without its XML declaration.
fn undeclared(xml: &str) -> String {
    match xml.find("?>") {
        Some(end) if xml.starts_with("<?xml") => xml[end + 2..].to_owned(),
        _ => xml.to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn renamed_or_undeclared_details_read_back_the_same(
        detail in detail(),
        root in other_root(),
        declared in any::<bool>(),
    ) {
        let xml = detail.to_xml().expect("renders");
        prop_assert!(xml.starts_with("<?xml"));
        prop_assert_eq!(parse_report_detail(xml.as_bytes()), Ok(detail.clone()));
        let mut changed = renamed(&xml, &root);
        if !declared {
            changed = undeclared(&changed);
        }
        let read = parse_report_detail(changed.as_bytes());
        prop_assert_eq!(
            read.as_ref().map(|d| &d.parameters),
            Ok(&detail.parameters),
            "{}", changed
        );
        prop_assert_eq!(read.map(|d| d.summary), Ok(detail.summary.clone()));
        let bare = undeclared(&xml);
        prop_assert_eq!(parse_report_detail(bare.as_bytes()), Ok(detail));
    }
}

#[test]
fn text_xml_cannot_carry_is_refused_when_rendering() {
    let detail = ReportDetail {
        summary: ReportSummary {
            id: "1".to_owned(),
            name: None,
            description: None,
        },
        parameters: vec![ReportParameter {
            name: "A".to_owned(),
            kind: None,
            required: None,
            description: None,
            multi_select_allowed: None,
            help_information: None,
            value_filter: None,
            values: vec![ParameterValue {
                internal_name: Some("x\u{1}".to_owned()),
                display_name: None,
            }],
        }],
    };
    assert!(matches!(
        detail.to_xml(),
        Err(WireError::Render(message)) if message.contains("value InternalName") && message.contains("U+0001")
    ));
}

#[test]
fn absent_fields_are_left_out_of_the_rendering() {
    let detail = ReportDetail {
        summary: ReportSummary {
            id: "7".to_owned(),
            name: None,
            description: None,
        },
        parameters: vec![ReportParameter {
            name: "Only a name".to_owned(),
            kind: None,
            required: None,
            description: None,
            multi_select_allowed: None,
            help_information: None,
            value_filter: None,
            values: vec![],
        }],
    };
    assert_eq!(
        detail.to_xml().expect("renders"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><ReportResponse><Report><Id>7</Id>\
         <Parameters><Parameter><Name>Only a name</Name></Parameter></Parameters></Report></ReportResponse>"
    );
}
