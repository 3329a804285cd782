//! Every real body of `tests/fixtures/bandwidth/` (Bandwidth's SDK tests and API spec; the
//! README there gives each one's source, status and headers), read the way the upstream means
//! it: the values each parses into, and for each error envelope what the answer means with the
//! status it came with.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{BANDWIDTH, some};
use reportflow_wire::{
    AnswerKind, BillingReportResponse, BillingReportSummary, BillingStatus, Instance,
    InstanceStatus, Parameter, ParameterValue, ReportDetail, ReportParameter, ReportSummary,
    UpstreamError, WireError, classify_answer, is_zip_archive, parse_billing_creation,
    parse_billing_report_list, parse_billing_retrieval, parse_error_envelope, parse_instance,
    parse_instance_list, parse_report_detail, parse_report_list,
};
use sha2::{Digest, Sha256};

/// The bytes of the real body `name`.
fn body(name: &str) -> Vec<u8> {
    common::fixture(&format!("bandwidth/{name}"))
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bandwidth")
}

fn report(id: &str, name: &str, description: &str) -> ReportSummary {
    ReportSummary {
        id: id.to_owned(),
        name: some(name),
        description: some(description),
    }
}

fn account_id(value: &str) -> Parameter {
    Parameter {
        name: "AccountId".to_owned(),
        values: vec![value.to_owned()],
    }
}

/// An instance of the spec's "Sample Report" (report 100020, by `jbm`).
fn sample_instance(
    id: &str,
    format: &str,
    requested_at: &str,
    parameters: Vec<Parameter>,
    status: InstanceStatus,
    expires_at: Option<&str>,
) -> Instance {
    Instance {
        id: id.to_owned(),
        report_id: some("100020"),
        report_name: some("Sample Report"),
        output_format: some(format),
        requested_by_user_name: some("jbm"),
        requested_at: some(requested_at),
        parameters,
        status: Some(status),
        expires_at: expires_at.map(str::to_owned),
    }
}

fn value(internal: &str, display: &str) -> ParameterValue {
    ParameterValue {
        internal_name: some(internal),
        display_name: some(display),
    }
}

/// Checks an error body: the envelope it carries, that every typed parser reports it rather
/// than a shape of its own, and what it means with the `status` it came with.
fn assert_error(
    name: &str,
    status: u16,
    location_based: bool,
    code: u32,
    description: &str,
    kind: AnswerKind,
) {
    let bytes = body(name);
    let expected = UpstreamError {
        code: Some(code),
        description: description.to_owned(),
    };
    assert_eq!(
        parse_error_envelope(&bytes),
        Some(expected.clone()),
        "{name}"
    );
    let want: Result<(), WireError> = Err(WireError::Upstream(expected.clone()));
    for outcome in [
        parse_report_list(&bytes).map(drop),
        parse_report_detail(&bytes).map(drop),
        parse_instance(&bytes).map(drop),
        parse_instance_list(&bytes).map(drop),
        parse_billing_creation(&bytes).map(drop),
        parse_billing_retrieval(&bytes).map(drop),
        parse_billing_report_list(&bytes).map(drop),
    ] {
        assert_eq!(outcome, want, "{name}");
    }
    assert_eq!(
        classify_answer(status, Some(&expected), location_based),
        kind,
        "{name} with HTTP {status}"
    );
}

/// The listing both the SDK's body and the spec's pretty-printed one give.
fn billing_listing() -> Vec<BillingReportSummary> {
    vec![
        BillingReportSummary {
            id: "5f8734f0-d7c3-445c-b1e2-cdbb620e4ff7".to_owned(),
            kind: some("DIDSNAP"),
            user_id: some("jbm"),
            status: Some(BillingStatus::Processing),
            description: some(
                "The requested report archive is still being constructed, please check back later.",
            ),
            created_date: some("2017-11-01 14:12:16"),
            start_date: some("2017-01-01"),
            end_date: some("2017-09-30"),
        },
        BillingReportSummary {
            id: "7680a54a-b1f1-4d43-8af6-bf3a701ad202".to_owned(),
            kind: some("DIDSNAP"),
            user_id: some("jbm"),
            status: Some(BillingStatus::Completed),
            description: some("The requested report archive is failed"),
            created_date: some("2017-11-06 14:22:21"),
            start_date: some("2017-05-01"),
            end_date: some("2017-10-31"),
        },
    ]
}

/// The three instances of the spec's listings.
fn spec_instances() -> Vec<Instance> {
    vec![
        sample_instance(
            "100090",
            "pdf",
            "2015-05-18 14:03:04",
            vec![account_id("1")],
            InstanceStatus::Expired,
            None,
        ),
        sample_instance(
            "100098",
            "html",
            "2015-05-19 09:18:40",
            vec![
                account_id("1"),
                Parameter {
                    name: "SiteId".to_owned(),
                    values: vec!["1".to_owned()],
                },
            ],
            InstanceStatus::Expired,
            None,
        ),
        sample_instance(
            "100102",
            "pdf",
            "2015-05-19 11:05:12",
            vec![account_id("1")],
            InstanceStatus::Ready,
            Some("2015-06-15"),
        ),
    ]
}

#[test]
fn every_body_in_the_folder_is_tested_here_and_matches_its_recorded_digest() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(folder())
        .expect("the fixture folder")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "README.md" && name != ".gitattributes")
        .collect();
    let listed: BTreeSet<String> = BANDWIDTH.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(on_disk, listed, "tests/common lists every body, no other");
    assert_eq!(listed.len(), 28);
    let readme = std::fs::read_to_string(folder().join("README.md")).expect("README");
    let recorded: Vec<(&str, &str)> = readme
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, digest) = (words.next()?, words.next()?);
            (words.next().is_none() && digest.len() == 64 && listed.contains(name))
                .then_some((name, digest))
        })
        .collect();
    assert_eq!(recorded.len(), 28, "the README records every digest");
    for (name, digest) in recorded {
        let actual: String = Sha256::digest(body(name))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(actual, digest, "{name} is byte-exact");
    }
}

#[test]
fn php_reports_list() {
    assert_eq!(
        parse_report_list(&body("php-reports-list.xml")),
        Ok(vec![
            report("100020", "Sample Report 1", "Sample Report 1 Description"),
            report("100021", "Sample Report 2", "Sample Report 2 Description"),
        ])
    );
}

#[test]
fn php_report_detail_under_a_reports_response_root() {
    // The SDK's body has <ReportsResponse> for a root, with <Report> directly under it; its
    // second parameter has nothing but a name, and absent stays absent.
    assert_eq!(
        parse_report_detail(&body("php-report-detail-123.xml")),
        Ok(ReportDetail {
            summary: ReportSummary {
                id: "123".to_owned(),
                name: some("Sample Report 1"),
                description: None,
            },
            parameters: vec![
                ReportParameter {
                    name: "Report Parameter 1".to_owned(),
                    kind: some("Enum"),
                    required: Some(false),
                    description: some("Report Parameter 1 Description"),
                    multi_select_allowed: Some(true),
                    help_information: some("Report Parameter 1 Help Text"),
                    value_filter: some("Value1"),
                    values: vec![value("Value1", "Display Value1")],
                },
                ReportParameter {
                    name: "Report Parameter 2".to_owned(),
                    kind: None,
                    required: None,
                    description: None,
                    multi_select_allowed: None,
                    help_information: None,
                    value_filter: None,
                    values: vec![],
                },
            ],
        })
    );
    // Read as a list, the same body is a list of that one report.
    assert_eq!(
        parse_report_list(&body("php-report-detail-123.xml")),
        Ok(vec![ReportSummary {
            id: "123".to_owned(),
            name: some("Sample Report 1"),
            description: None,
        }])
    );
}

#[test]
fn php_report_instances_without_declaration_with_a_repeated_id() {
    let expired = |account: &str| {
        sample_instance(
            "100090",
            "pdf",
            "2015-05-18 14:03:04",
            vec![account_id(account)],
            InstanceStatus::Expired,
            None,
        )
    };
    assert_eq!(
        parse_instance_list(&body("php-report-instances.xml")),
        Ok(vec![expired("2"), expired("1")])
    );
}

#[test]
fn php_billing_reports_list_with_runs_of_spaces() {
    assert_eq!(
        parse_billing_report_list(&body("php-billing-reports-list.xml")),
        Ok(billing_listing())
    );
}

#[test]
fn php_billing_creation_201() {
    // Its Location's id is not a UUID; the body does not carry it, and the engine follows the
    // Location as given (crates/driver tests that).
    assert_eq!(
        parse_billing_creation(&body("php-billing-creation-201.xml")),
        Ok(BillingReportResponse {
            status: BillingStatus::Received,
            description: some("The report archive is currently being constructed."),
        })
    );
}

#[test]
fn php_billing_retrieval_completed() {
    let answer = parse_billing_retrieval(&body("php-billing-retrieval-completed.xml"));
    assert_eq!(
        answer,
        Ok(BillingReportResponse {
            status: BillingStatus::Completed,
            description: some("The report archive is constructed."),
        })
    );
}

#[test]
fn php_billing_file_placeholder_is_not_a_zip_nor_xml() {
    let bytes = body("php-billing-file.bin");
    assert_eq!(bytes, b"zipcontent");
    assert!(
        !is_zip_archive(&bytes),
        "the SDK's placeholder is no archive"
    );
    assert_eq!(parse_error_envelope(&bytes), None);
    assert_eq!(
        parse_billing_retrieval(&bytes),
        Err(WireError::Malformed {
            what: "billing report status",
            detail: "the body holds no XML element".to_owned(),
        })
    );
}

#[test]
fn docs_reports_list() {
    assert_eq!(
        parse_report_list(&body("docs-reports-list.xml")),
        Ok(vec![
            report("100020", "Sample Report 1", "Sample Report 1 Description"),
            report("100021", "Sample Report 2", "Sample Report 2 Description"),
            report("100022", "Sample Report 3", "Sample Report 3 Description"),
        ])
    );
}

#[test]
fn docs_account_instances() {
    assert_eq!(
        parse_instance_list(&body("docs-account-instances.xml")),
        Ok(spec_instances())
    );
}

#[test]
fn docs_report_instances() {
    assert_eq!(
        parse_instance_list(&body("docs-report-instances.xml")),
        Ok(spec_instances())
    );
}

#[test]
fn docs_report_detail_with_spaces_in_parameter_names() {
    assert_eq!(
        parse_report_detail(&body("docs-report-detail-123.xml")),
        Ok(ReportDetail {
            summary: ReportSummary {
                id: "123".to_owned(),
                name: some("Sample Report 1"),
                description: None,
            },
            parameters: vec![
                ReportParameter {
                    name: "Report Parameter 1".to_owned(),
                    kind: some("String"),
                    required: Some(true),
                    description: some("Report Parameter 1 Description"),
                    multi_select_allowed: Some(false),
                    help_information: some("Report Parameter 1 Help Text"),
                    value_filter: None,
                    values: vec![],
                },
                ReportParameter {
                    name: "Report Parameter 2".to_owned(),
                    kind: some("Enum"),
                    required: Some(false),
                    description: some("Report Parameter 2 Description"),
                    multi_select_allowed: Some(true),
                    help_information: some("Report Parameter 2 Help Text"),
                    value_filter: some("Value1;Value2;Value3"),
                    values: vec![
                        value("Value1", "Display Value2"),
                        value("Value2", "Value2"),
                        value("Value3", "Display Value3"),
                    ],
                },
            ],
        })
    );
}

#[test]
fn docs_report_404_is_a_refusal_of_the_catalogue_request() {
    assert_error(
        "docs-report-404.xml",
        404,
        false,
        19000,
        "No report found with report ID of '123'",
        AnswerKind::Refused,
    );
}

#[test]
fn docs_instance_create_400_is_a_refusal() {
    assert_error(
        "docs-instance-create-400.xml",
        400,
        false,
        19032,
        "Missing one or more required report parameters: AccountId",
        AnswerKind::Refused,
    );
}

#[test]
fn docs_instance_create_503_is_transient() {
    assert_error(
        "docs-instance-create-503.xml",
        503,
        false,
        19031,
        "Error encountered processing request via external reporting service.  Please contact Bandwidth support for further assistance.",
        AnswerKind::Transient,
    );
    // The code alone says so, whatever the status.
    let envelope = parse_error_envelope(&body("docs-instance-create-503.xml"));
    assert_eq!(
        classify_answer(200, envelope.as_ref(), false),
        AnswerKind::Transient
    );
}

#[test]
fn docs_instance_ready_100102() {
    assert_eq!(
        parse_instance(&body("docs-instance-ready-100102.xml")),
        Ok(sample_instance(
            "100102",
            "pdf",
            "2015-05-19 11:05:12",
            vec![account_id("1")],
            InstanceStatus::Ready,
            Some("2016-06-15"),
        ))
    );
}

#[test]
fn docs_instance_404_means_gone() {
    assert_error(
        "docs-instance-404.xml",
        404,
        true,
        19019,
        "No report instance found for report 100020 with Id of '100103'",
        AnswerKind::Gone,
    );
}

#[test]
fn docs_instance_file_202_means_not_ready() {
    assert_error(
        "docs-instance-file-202.xml",
        202,
        true,
        19048,
        "Report generation in progress; Output not yet available",
        AnswerKind::NotReady,
    );
}

#[test]
fn docs_instance_file_404_means_gone() {
    assert_error(
        "docs-instance-file-404.xml",
        404,
        true,
        19019,
        "No report instance found for report 123 with Id of '456'",
        AnswerKind::Gone,
    );
}

#[test]
fn docs_billing_reports_list_pretty_printed() {
    assert_eq!(
        parse_billing_report_list(&body("docs-billing-reports-list.xml")),
        Ok(billing_listing())
    );
}

#[test]
fn docs_billing_creation_201() {
    assert_eq!(
        parse_billing_creation(&body("docs-billing-creation-201.xml")),
        Ok(BillingReportResponse {
            status: BillingStatus::Received,
            description: some("The report archive is currently being constructed."),
        })
    );
}

#[test]
fn docs_billing_creation_400_is_a_refusal() {
    assert_error(
        "docs-billing-creation-400.xml",
        400,
        false,
        15501,
        "Invalid date range. Start date 2014-05-21 must be before end date 2013-05-29",
        AnswerKind::Refused,
    );
}

#[test]
fn docs_billing_retrieval_completed() {
    assert_eq!(
        parse_billing_retrieval(&body("docs-billing-retrieval-completed.xml")),
        Ok(BillingReportResponse {
            status: BillingStatus::Completed,
            description: some("The report archive is constructed."),
        })
    );
}

#[test]
fn docs_billing_retrieval_400_is_a_refusal() {
    assert_error(
        "docs-billing-retrieval-400.xml",
        400,
        true,
        1008,
        "'9b428b4c-159b-465f-9667-' is not a valid UUID",
        AnswerKind::Refused,
    );
}

#[test]
fn docs_billing_retrieval_404_means_gone() {
    assert_error(
        "docs-billing-retrieval-404.xml",
        404,
        true,
        15603,
        "The requested report was not found.",
        AnswerKind::Gone,
    );
}

#[test]
fn docs_billing_file_200_xml_is_a_status_not_an_error_nor_an_archive() {
    // Documented as a 200 of `{location}/file`: a status under another root, with the status
    // as the text of <ResponseStatus>. It is no error envelope, and no zip either.
    let bytes = body("docs-billing-file-200-xml.xml");
    assert_eq!(parse_error_envelope(&bytes), None);
    assert!(!is_zip_archive(&bytes));
    assert_eq!(
        parse_billing_retrieval(&bytes),
        Ok(BillingReportResponse {
            status: BillingStatus::Completed,
            description: some("The report archive is constructed"),
        })
    );
}

#[test]
fn docs_billing_file_400_is_a_refusal() {
    assert_error(
        "docs-billing-file-400.xml",
        400,
        true,
        1008,
        "'9b428b4c-159b-465f-9667-' is not a valid UUID",
        AnswerKind::Refused,
    );
}

#[test]
fn docs_billing_file_404_means_gone() {
    assert_error(
        "docs-billing-file-404.xml",
        404,
        true,
        15603,
        "The requested report was not found.",
        AnswerKind::Gone,
    );
}

#[test]
fn mdx_instance_ready_789_without_declaration() {
    assert_eq!(
        parse_instance(&body("mdx-instance-ready-789.xml")),
        Ok(Instance {
            id: "789".to_owned(),
            report_id: some("10"),
            report_name: some("Sample Report"),
            output_format: some("pdf"),
            requested_by_user_name: some("user"),
            requested_at: some("2022-9-16 11:05:12"),
            parameters: vec![account_id("1")],
            status: Some(InstanceStatus::Ready),
            expires_at: some("2022-10-16"),
        })
    );
}

#[test]
fn no_success_body_carries_an_error() {
    for name in BANDWIDTH {
        let is_error = ["-400.xml", "-404.xml", "-503.xml", "-202.xml"]
            .iter()
            .any(|suffix| name.ends_with(suffix));
        assert_eq!(
            parse_error_envelope(&body(name)).is_some(),
            is_error,
            "{name}"
        );
    }
}
