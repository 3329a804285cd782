//! The report list and report detail documents.

mod common;

use common::{fixture, some};
use reportflow_wire::{
    ParameterValue, ReportParameter, ReportSummary, WireError, parse_report_detail,
    parse_report_list,
};

#[test]
fn report_list_with_declaration_many_reports_unknown_and_empty_elements() {
    let reports = parse_report_list(&fixture("report_list.xml")).expect("parses");
    assert_eq!(
        reports,
        vec![
            ReportSummary {
                id: "2".to_owned(),
                name: some("Full Phone Number Details"),
                description: some(
                    "Complete information about all phone numbers within the report\u{2019}s scope"
                ),
            },
            ReportSummary {
                id: "4".to_owned(),
                name: some("Phone Number Inventory"),
                description: some("A list of all phone numbers associated with an account"),
            },
            ReportSummary {
                id: "16".to_owned(),
                name: some("UC Account Summary"),
                description: None,
            },
            ReportSummary {
                id: "65".to_owned(),
                name: some("Telephone Number Route Plan Report"),
                description: None,
            },
        ]
    );
}

#[test]
fn report_list_with_one_report_and_no_declaration() {
    let reports = parse_report_list(&fixture("report_list_single.xml")).expect("parses");
    assert_eq!(
        reports,
        vec![ReportSummary {
            id: "8".to_owned(),
            name: some("Port-out Orders"),
            description: some("Phone number details for historic or current port-out orders"),
        }]
    );
}

#[test]
fn report_list_without_reports_is_empty() {
    assert_eq!(parse_report_list(b"<ReportsResponse/>"), Ok(vec![]));
    assert_eq!(
        parse_report_list(b"<ReportsResponse><Reports>\n</Reports></ReportsResponse>"),
        Ok(vec![])
    );
}

#[test]
fn reports_separated_by_an_unknown_element_still_all_parse() {
    let body = b"<ReportsResponse><Reports><Report><Id>1</Id></Report><Note/><Report><Id>2</Id></Report></Reports></ReportsResponse>";
    let ids: Vec<String> = parse_report_list(body)
        .expect("parses")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["1", "2"]);
}

#[test]
fn a_report_without_id_is_malformed() {
    let body =
        b"<ReportsResponse><Reports><Report><Name>x</Name></Report></Reports></ReportsResponse>";
    match parse_report_list(body) {
        Err(WireError::Malformed { what, detail }) => {
            assert_eq!(what, "report list");
            assert!(detail.contains("Id"), "{detail}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn report_detail_reads_every_parameter_field() {
    let detail = parse_report_detail(&fixture("report_detail.xml")).expect("parses");
    assert_eq!(detail.summary.id, "2");
    assert_eq!(detail.summary.name, some("Full Phone Number Details"));
    assert_eq!(
        detail.summary.description,
        some("Complete information about all phone numbers within the report's scope")
    );
    assert_eq!(
        detail.parameters,
        vec![
            ReportParameter {
                name: "AccountId".to_owned(),
                kind: some("Account ID"),
                required: Some(true),
                description: some("The account"),
                multi_select_allowed: Some(false),
                help_information: some("Your account number"),
                value_filter: some("[0-9]+"),
                values: vec![],
            },
            ReportParameter {
                name: "TNStatus".to_owned(),
                kind: some("Enum"),
                required: Some(false),
                description: None,
                multi_select_allowed: Some(true),
                help_information: None,
                value_filter: None,
                values: vec![
                    ParameterValue {
                        internal_name: some("inservice"),
                        display_name: some("In Service"),
                    },
                    ParameterValue {
                        internal_name: some("aging"),
                        display_name: some("Aging & Held"),
                    },
                    ParameterValue {
                        internal_name: some("all"),
                        display_name: None,
                    },
                ],
            },
            ReportParameter {
                name: "Sub-account".to_owned(),
                kind: None,
                required: None,
                description: None,
                multi_select_allowed: None,
                help_information: None,
                value_filter: None,
                values: vec![],
            },
        ]
    );
}

#[test]
fn report_detail_with_one_value_and_no_declaration() {
    let detail = parse_report_detail(&fixture("report_detail_single_value.xml")).expect("parses");
    assert_eq!(detail.summary.id, "59");
    assert_eq!(detail.summary.name, None);
    assert_eq!(detail.parameters.len(), 1);
    assert_eq!(detail.parameters[0].name, "OrderType");
    assert_eq!(
        detail.parameters[0].values,
        vec![ParameterValue {
            internal_name: some("new"),
            display_name: some("New"),
        }]
    );
}

#[test]
fn report_detail_without_parameters_has_none() {
    let detail = parse_report_detail(
        b"<ReportResponse><Report><Id>24</Id><Parameters/></Report></ReportResponse>",
    )
    .expect("parses");
    assert_eq!(detail.summary.id, "24");
    assert!(detail.parameters.is_empty());
}

#[test]
fn a_parameter_without_name_is_malformed() {
    let body = b"<ReportResponse><Report><Id>2</Id><Parameters><Parameter><Type>String</Type></Parameter></Parameters></Report></ReportResponse>";
    assert!(matches!(
        parse_report_detail(body),
        Err(WireError::Malformed { what: "report detail", detail }) if detail.contains("Name")
    ));
}

#[test]
fn report_detail_without_report_is_malformed() {
    assert!(matches!(
        parse_report_detail(b"<ReportResponse/>"),
        Err(WireError::Malformed {
            what: "report detail",
            ..
        })
    ));
}
