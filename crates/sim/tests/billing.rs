//! Billing reports: create, 204 no data, status sequence, zip file, errors, deletion.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{Client, billing_body, instant_sim, sha256_hex};
use reportflow_sim::{BillingKey, ErrorShape, NoDataRange, Sim, SimConfig, SizeRange};

fn create_url(sim: &reportflow_sim::SimHandle, account: &str) -> String {
    format!("{}/accounts/{account}/billingReports", sim.base_url())
}

#[tokio::test]
async fn create_status_sequence_and_zip_file() {
    // Each status holds for 2 s (RECEIVED, then PROCESSING, then COMPLETED): the windows the
    // requests below must fall in. They were 500 ms, so a test thread held off the CPU for
    // some 450 ms on a loaded machine (CI runs many test binaries on 2 cores) read the next
    // status early.
    let sim = Sim::start(SimConfig {
        billing_processing_time: Duration::from_millis(4000),
        billing_file_size: SizeRange::fixed(5000),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let reply = client
        .post(
            &create_url(&sim, "7"),
            &billing_body("BDR", "2020-05-21", "2020-05-29"),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let location = reply.header("location").unwrap().to_string();
    let prefix = format!("{}/accounts/7/billingreports/", sim.base_url());
    assert!(location.starts_with(&prefix), "{location}");
    assert_eq!(location[prefix.len()..].len(), 36);
    assert_eq!(
        reply.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><BillingReportCreationResponse><ReportStatus>RECEIVED</ReportStatus><Description>The report archive is currently being constructed.</Description></BillingReportCreationResponse>"
    );
    let status = |r: common::Reply| r.element("ReportStatus").unwrap();
    assert_eq!(status(client.get(&location).await), "RECEIVED");
    let early = client.get(&format!("{location}/file")).await;
    assert_eq!(early.status, 400);
    assert_eq!(early.element("ErrorCode").as_deref(), Some("15614"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(status(client.get(&location).await), "PROCESSING");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let done = client.get(&location).await;
    assert!(done.text().contains("<BillingReportRetrievalResponse><ReportStatus>COMPLETED</ReportStatus><Description>The report archive is constructed.</Description>"));

    let file = client.get(&format!("{location}/file")).await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment; filename=bdrs_2020-05-21_2020-05-29.zip")
    );
    assert_eq!(&file.body[..2], b"PK");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(file.body.clone())).unwrap();
    let mut csv = String::new();
    archive
        .by_name("bdrs_2020-05-21_2020-05-29.csv")
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    assert!(csv.starts_with("RecordId,StartTime,From,To,"));
    assert!(csv.len() >= 5000);
    let stats = sim.stats();
    assert_eq!(stats.file_sha256[&location].sha256, sha256_hex(&file.body));
    assert_eq!(
        sim.expected_file(&location).unwrap().sha256,
        sha256_hex(&file.body)
    );
    let key = BillingKey {
        account: "7".into(),
        report_type: "BDR".into(),
        start: "2020-05-21".into(),
        end: "2020-05-29".into(),
    };
    assert_eq!(stats.billing_creations.get(&key), Some(&1));
    assert_eq!(stats.total_billing_creations(), 1);
}

#[tokio::test]
async fn complete_spelling_and_deletion_after_the_ready_lifetime() {
    let sim = Sim::start(SimConfig {
        billing_complete_short: true,
        // Long enough that the status read right after the create falls inside it on a loaded
        // machine (it was 300 ms).
        billing_ready_lifetime: Some(Duration::from_millis(2000)),
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let location = client
        .post(
            &create_url(&sim, "1"),
            &billing_body("MDR", "2024-01-01", "2024-01-01"),
        )
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert_eq!(
        client
            .get(&location)
            .await
            .element("ReportStatus")
            .as_deref(),
        Some("COMPLETE")
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for url in [location.clone(), format!("{location}/file")] {
        let gone = client.get(&url).await;
        assert_eq!(gone.status, 404);
        assert_eq!(gone.element("ErrorCode").as_deref(), Some("15613"));
    }
}

#[tokio::test]
async fn no_data_ranges_answer_204_without_location() {
    let sim = Sim::start(SimConfig {
        no_data: vec![
            NoDataRange {
                report_type: None,
                start: jiff::civil::date(2001, 1, 1),
                end: jiff::civil::date(2001, 12, 31),
            },
            NoDataRange {
                report_type: Some("MDR".into()),
                start: jiff::civil::date(2024, 3, 1),
                end: jiff::civil::date(2024, 3, 31),
            },
        ],
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let url = create_url(&sim, "3");
    let none = client
        .post(&url, &billing_body("BDR", "2001-02-01", "2001-02-28"))
        .await;
    assert_eq!(none.status, 204);
    assert!(none.header("location").is_none());
    assert!(none.body.is_empty());
    // Inside the MDR range: no data; another type, or a range reaching outside: data.
    for (kind, start, end, expected) in [
        ("MDR", "2024-03-02", "2024-03-03", 204),
        ("BDR", "2024-03-02", "2024-03-03", 201),
        ("BDR", "2000-12-31", "2001-01-05", 201),
    ] {
        let reply = client.post(&url, &billing_body(kind, start, end)).await;
        assert_eq!(reply.status, expected, "{kind} {start} {end}");
    }
    let stats = sim.stats();
    assert_eq!(stats.billing_no_data.values().sum::<u64>(), 2);
    assert_eq!(stats.total_billing_creations(), 2);
}

#[tokio::test]
async fn billing_errors() {
    let sim = Sim::start(SimConfig {
        error_shape: ErrorShape::Varied,
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let url = create_url(&sim, "1");
    let range = client
        .post(&url, &billing_body("BDR", "2020-05-29", "2020-05-21"))
        .await;
    assert_eq!(range.status, 400);
    assert!(
        range
            .text()
            .contains("<BillingReportCreationResponse><Error><Code>15501</Code>"),
        "{}",
        range.text()
    );
    let bad_date = client
        .post(&url, &billing_body("BDR", "2020-5-1", "2020-05-21"))
        .await;
    assert_eq!(bad_date.element("Code").as_deref(), Some("15501"));
    let bad_type = client
        .post(&url, &billing_body("bdr", "2020-05-01", "2020-05-21"))
        .await;
    assert_eq!(bad_type.status, 400);
    for ok_type in ["TNLOOKUPBDR", "MSG_CAMPAIGN_DETAIL", "DIDSNAP_MSG"] {
        let reply = client
            .post(&url, &billing_body(ok_type, "2020-05-01", "2020-05-21"))
            .await;
        assert_eq!(reply.status, 201, "{ok_type}");
    }
    let base = format!("{}/accounts/1/billingreports", sim.base_url());
    let not_uuid = client.get(&format!("{base}/abc")).await;
    assert_eq!(not_uuid.status, 400);
    assert_eq!(not_uuid.element("Code").as_deref(), Some("1008"));
    let unknown = client
        .get(&format!("{base}/0a2b4c6d-abcd-4a3b-a1b2-0a2b4c6d8e0f"))
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.element("Code").as_deref(), Some("15603"));
    let unknown_file = client
        .get(&format!("{base}/0a2b4c6d-abcd-4a3b-a1b2-0a2b4c6d8e0f/file"))
        .await;
    assert_eq!(unknown_file.element("Code").as_deref(), Some("15603"));
    // The POST path is camel case, the Location path lower case: the other spellings are 404.
    let wrong_case = client
        .post(
            &format!("{}/accounts/1/billingreports", sim.base_url()),
            &billing_body("BDR", "2020-05-01", "2020-05-21"),
        )
        .await;
    assert!(wrong_case.status == 404 || wrong_case.status == 405);
}

#[tokio::test]
async fn expire_deletes_a_billing_report() {
    let sim = instant_sim().await;
    let client = Client::demo();
    let location = client
        .post(
            &create_url(&sim, "1"),
            &billing_body("INVOICE", "2024-01-01", "2024-01-31"),
        )
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert_eq!(client.get(&format!("{location}/file")).await.status, 200);
    assert!(sim.expire(&location));
    assert_eq!(client.get(&location).await.status, 404);
}
