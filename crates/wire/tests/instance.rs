//! The instance status document and the instance listings.

mod common;

use common::{fixture, some};
use reportflow_wire::{
    Instance, InstanceStatus, Parameter, WireError, parse_instance, parse_instance_list,
};

fn parameter(name: &str, values: &[&str]) -> Parameter {
    Parameter {
        name: name.to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

#[test]
fn the_seed_instance_parses_exactly() {
    let instance = parse_instance(&fixture("instance_ready.xml")).expect("parses");
    assert_eq!(
        instance,
        Instance {
            id: "100102".to_owned(),
            report_id: some("100020"),
            report_name: some("Sample Report"),
            output_format: some("pdf"),
            requested_by_user_name: some("user"),
            requested_at: some("2020-9-19 11:05:12"),
            parameters: vec![parameter("AccountId", &["1"])],
            status: Some(InstanceStatus::Ready),
            expires_at: some("2020-11-25"),
        }
    );
    assert!(instance.is_ready());
}

#[test]
fn a_minimal_instance_with_unknown_status_empty_and_unknown_elements() {
    let instance = parse_instance(&fixture("instance_minimal.xml")).expect("parses");
    assert_eq!(
        instance,
        Instance {
            id: "789".to_owned(),
            report_id: None,
            report_name: None,
            output_format: None,
            requested_by_user_name: None,
            requested_at: None,
            parameters: vec![],
            status: Some(InstanceStatus::Other("Processing".to_owned())),
            expires_at: None,
        }
    );
    assert!(!instance.is_ready());
    assert!(
        instance
            .status
            .as_ref()
            .is_some_and(InstanceStatus::is_pending)
    );
}

#[test]
fn a_status_document_without_status_is_malformed_but_a_listed_instance_may_lack_one() {
    // The status is what the document is asked for: without it the client cannot go on.
    for body in [
        &b"<ReportInstanceResponse><Instance><Id>5</Id><Status/></Instance></ReportInstanceResponse>"[..],
        b"<ReportInstanceResponse><Instance><Id>5</Id></Instance></ReportInstanceResponse>",
    ] {
        assert_eq!(
            parse_instance(body),
            Err(WireError::Malformed {
                what: "report instance status",
                detail: "instance 5 has no <Status> (or an empty one)".to_owned(),
            })
        );
    }
    let listed = parse_instance_list(
        b"<ReportInstancesResponse><Instances><Instance><Id>5</Id></Instance></Instances></ReportInstancesResponse>",
    )
    .expect("parses");
    assert_eq!(listed[0].status, None);
    assert!(!listed[0].is_ready());
}

#[test]
fn listing_with_many_instances() {
    let instances = parse_instance_list(&fixture("instances_many.xml")).expect("parses");
    assert_eq!(instances.len(), 3);
    assert_eq!(
        instances[0],
        Instance {
            id: "100101".to_owned(),
            report_id: some("2"),
            report_name: some("Full Phone Number Details"),
            output_format: some("csv"),
            requested_by_user_name: some("user"),
            requested_at: some("2020-9-19 11:05:12"),
            parameters: vec![
                parameter("Account", &["1"]),
                parameter("MultiValueEnum", &["value1", "value2"]),
            ],
            status: Some(InstanceStatus::Expired),
            expires_at: some("2020-10-01"),
        }
    );
    assert_eq!(instances[1].id, "100102");
    assert_eq!(instances[1].status, Some(InstanceStatus::Ready));
    assert_eq!(instances[1].output_format, some("pdf"));
    assert_eq!(instances[1].parameters, vec![]);
    assert_eq!(instances[2].id, "100103");
    assert_eq!(
        instances[2].status,
        Some(InstanceStatus::Other("Assembling".to_owned()))
    );
}

#[test]
fn listing_with_one_instance() {
    let instances = parse_instance_list(&fixture("instances_one.xml")).expect("parses");
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].id, "7");
    assert_eq!(instances[0].report_id, some("30"));
    assert_eq!(instances[0].status, Some(InstanceStatus::Ready));
}

#[test]
fn listing_with_no_instances() {
    assert_eq!(
        parse_instance_list(&fixture("instances_empty.xml")),
        Ok(vec![])
    );
    assert_eq!(
        parse_instance_list(b"<ReportInstancesResponse/>"),
        Ok(vec![])
    );
}

#[test]
fn an_instance_document_without_instance_is_malformed() {
    match parse_instance(b"<ReportInstanceResponse><Other/></ReportInstanceResponse>") {
        Err(error @ WireError::Malformed { .. }) => {
            let message = error.to_string();
            assert!(
                message.starts_with("could not read the report instance status XML: "),
                "{message}"
            );
            assert!(message.contains("not the documented shape"), "{message}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn the_wrong_document_is_malformed_not_empty() {
    // A report list is not an instance listing, even though both could read as "no instances".
    match parse_instance_list(&fixture("report_list.xml")) {
        Err(WireError::Malformed { what, detail }) => {
            assert_eq!(what, "report instance listing");
            assert_eq!(
                detail,
                "the root element is <ReportsResponse>, expected <ReportInstancesResponse>, \
                 and it holds no <Instances>"
            );
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(matches!(
        parse_instance_list(b"<html><body>Bad gateway</body></html>"),
        Err(WireError::Malformed { .. })
    ));
    assert!(matches!(
        parse_instance_list(b""),
        Err(WireError::Malformed { detail, .. }) if detail == "the body holds no XML element"
    ));
}
