//! Billing report creation and retrieval answers.

mod common;

use common::{fixture, some};
use reportflow_wire::{
    BillingReportResponse, BillingStatus, WireError, parse_billing_creation,
    parse_billing_retrieval,
};

#[test]
fn creation_answer_from_the_seed() {
    assert_eq!(
        parse_billing_creation(&fixture("billing_creation.xml")),
        Ok(BillingReportResponse {
            status: BillingStatus::Received,
            description: some("The report archive is currently being constructed."),
        })
    );
}

#[test]
fn completed_answer_from_the_seed() {
    let response = parse_billing_retrieval(&fixture("billing_completed.xml")).expect("parses");
    assert_eq!(
        response,
        BillingReportResponse {
            status: BillingStatus::Completed,
            description: some("The report archive is constructed."),
        }
    );
    assert!(response.status.is_completed());
}

#[test]
fn complete_reads_like_completed() {
    let response = parse_billing_retrieval(&fixture("billing_complete.xml")).expect("parses");
    assert_eq!(response.status, BillingStatus::Completed);
    assert_eq!(response.status.as_str(), "COMPLETED");
    assert_eq!(response.description, None);
}

#[test]
fn processing_and_unknown_statuses() {
    let body = b"<BillingReportRetrievalResponse><ReportStatus>PROCESSING</ReportStatus><Description/></BillingReportRetrievalResponse>";
    assert_eq!(
        parse_billing_retrieval(body),
        Ok(BillingReportResponse {
            status: BillingStatus::Processing,
            description: None,
        })
    );
    let body = b"<BillingReportRetrievalResponse><ReportStatus>ARCHIVING</ReportStatus></BillingReportRetrievalResponse>";
    let response = parse_billing_retrieval(body).expect("parses");
    assert_eq!(
        response.status,
        BillingStatus::Other("ARCHIVING".to_owned())
    );
    assert!(response.status.is_pending());
}

#[test]
fn a_missing_status_is_malformed() {
    let body = b"<BillingReportRetrievalResponse><Description>x</Description></BillingReportRetrievalResponse>";
    assert!(matches!(
        parse_billing_retrieval(body),
        Err(WireError::Malformed { what: "billing report status", detail }) if detail.contains("ReportStatus")
    ));
}

#[test]
fn either_answer_reads_under_the_other_root_but_a_body_without_a_status_does_not() {
    // Both documents carry the same content: the root's name alone is no reason to refuse one.
    assert_eq!(
        parse_billing_creation(&fixture("billing_completed.xml")),
        parse_billing_retrieval(&fixture("billing_completed.xml"))
    );
    match parse_billing_retrieval(b"<ReportsResponse><Reports/></ReportsResponse>") {
        Err(WireError::Malformed { what, detail }) => {
            assert_eq!(what, "billing report status");
            assert_eq!(
                detail,
                "the root element is <ReportsResponse>, expected <BillingReportRetrievalResponse>, \
                 and it holds no <ReportStatus> or <ResponseStatus>"
            );
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}
