//! No parser panics on any input: arbitrary bytes, arbitrary strings, mutated fixtures, and
//! pathological nesting. Where an error envelope is present, every typed parser reports it.

mod common;

use common::{BANDWIDTH, FIXTURES, fixture};
use proptest::prelude::*;
use reportflow_wire::{
    BillingReportRequest, InstanceRequest, WireError, content_disposition_filename,
    file_name_from_disposition, parse_billing_creation, parse_billing_report_list,
    parse_billing_retrieval, parse_error_envelope, parse_instance, parse_instance_list,
    parse_report_detail, parse_report_list, safe_file_name,
};

/// Runs every parser of the crate over `body` and checks what must hold whatever it is.
fn exercise(body: &[u8]) -> Result<(), TestCaseError> {
    let envelope = parse_error_envelope(body);
    let outcomes: [Result<(), WireError>; 7] = [
        parse_report_list(body).map(drop),
        parse_report_detail(body).map(drop),
        parse_instance(body).map(drop),
        parse_instance_list(body).map(drop),
        parse_billing_creation(body).map(drop),
        parse_billing_retrieval(body).map(drop),
        parse_billing_report_list(body).map(drop),
    ];
    if let Some(error) = envelope {
        for outcome in outcomes {
            prop_assert_eq!(outcome, Err(WireError::Upstream(error.clone())));
        }
    } else {
        for outcome in outcomes {
            prop_assert!(!matches!(outcome, Err(WireError::Upstream(_))));
        }
    }
    // Whatever a request parser accepts renders (when legal) and parses back to itself.
    if let Ok(request) = InstanceRequest::from_xml(body)
        && let Ok(xml) = request.to_xml()
    {
        prop_assert_eq!(InstanceRequest::from_xml(xml.as_bytes()), Ok(request));
    }
    if let Ok(request) = BillingReportRequest::from_xml(body)
        && let Ok(xml) = request.to_xml()
    {
        prop_assert_eq!(BillingReportRequest::from_xml(xml.as_bytes()), Ok(request));
    }
    let text = String::from_utf8_lossy(body);
    let _ = content_disposition_filename(&text);
    let name = file_name_from_disposition(Some(&text), &text);
    prop_assert!(!name.is_empty() && name.len() <= 200);
    prop_assert!(!safe_file_name(&text, &text).is_empty());
    Ok(())
}

/// Pieces of XML that make parsers take unusual paths.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "&",
    "&amp;",
    "&#x0;",
    "&#xFFFFFFFF;",
    "&bogus;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE x>",
    "<Error>",
    "</Error>",
    "<Errors>",
    "<ResponseStatus>",
    "<ErrorCode>",
    "12",
    "<Code>",
    "<Description>",
    "</Description>",
    "<Report>",
    "<Instance>",
    "<Value>",
    "<Id>",
    "</Id>",
    "<Status>",
    "\u{0}",
    "\u{feff}",
    "\"",
    "'",
    "=",
    " ",
    "\n",
    "\r",
];

/// One edit of a fixture.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at a position.
    Flip(usize, u8),
    /// Remove a short range.
    Delete(usize, usize),
    /// Insert one of [`TOKENS`].
    Insert(usize, usize),
    /// Cut the document at a position.
    Truncate(usize),
    /// Repeat a range.
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert(at, token)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..80).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
    ]
}

fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
    let len = body.len().max(1);
    match *mutation {
        Mutation::Flip(at, byte) => {
            if let Some(slot) = body.get_mut(at % len) {
                *slot = byte;
            }
        }
        Mutation::Delete(at, n) => {
            let start = (at % len).min(body.len());
            let end = (start + n).min(body.len());
            body.drain(start..end);
        }
        Mutation::Insert(at, token) => {
            let at = (at % len).min(body.len());
            let bytes = TOKENS[token].as_bytes();
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Truncate(at) => body.truncate(at % len),
        Mutation::Duplicate(at, n) => {
            let start = (at % len).min(body.len());
            let end = (start + n).min(body.len());
            let copy = body[start..end].to_vec();
            body.splice(end..end, copy);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&body)?;
    }

    #[test]
    fn arbitrary_strings(body in any::<String>()) {
        exercise(body.as_bytes())?;
    }

    #[test]
    fn xml_like_strings(body in "(<[/]?(Error|Errors|Code|ErrorCode|Description|ResponseStatus|ReportsResponse|Reports|Report|Id|Instance|Status|[a-z]{1,3})[/]?>|[a-z0-9 &;#]{0,4}){0,30}") {
        exercise(body.as_bytes())?;
    }

    #[test]
    fn mutated_bandwidth_bodies(
        which in 0..BANDWIDTH.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut body = fixture(&format!("bandwidth/{}", BANDWIDTH[which]));
        for m in &mutations {
            apply(&mut body, m);
        }
        exercise(&body)?;
    }

    #[test]
    fn mutated_fixtures(
        which in 0..FIXTURES.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut body = fixture(FIXTURES[which]);
        for m in &mutations {
            apply(&mut body, m);
        }
        exercise(&body)?;
    }
}

#[test]
fn unmutated_fixtures_pass_the_same_checks() {
    for name in FIXTURES {
        exercise(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in BANDWIDTH {
        exercise(&fixture(&format!("bandwidth/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let depth = 20_000;
    let nested = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let bodies = [
        // Inside an unknown element of a valid document: skipped, the document still parses.
        format!(
            "<ReportInstanceResponse><Instance><Id>1</Id><Status>Ready</Status><Extra>{nested}</Extra></Instance></ReportInstanceResponse>"
        ),
        // Inside a field: not the documented shape.
        format!(
            "<ReportInstanceResponse><Instance><Id>{nested}</Id></Instance></ReportInstanceResponse>"
        ),
        // Inside an error container, and unclosed.
        format!("<X><Error>{nested}<Code>5</Code></Error></X>"),
        "<a>".repeat(depth),
    ];
    let outcomes: Vec<_> = bodies
        .iter()
        .map(|body| parse_instance(body.as_bytes()).map(|i| i.id))
        .collect();
    assert_eq!(outcomes[0], Ok("1".to_owned()));
    assert!(matches!(outcomes[1], Err(WireError::Malformed { .. })));
    assert_eq!(
        outcomes[2],
        Err(WireError::Upstream(reportflow_wire::UpstreamError {
            code: Some(5),
            description: String::new(),
        }))
    );
    assert!(matches!(outcomes[3], Err(WireError::Malformed { .. })));
    for body in &bodies {
        exercise(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
}
