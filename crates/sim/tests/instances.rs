//! Account report instances: create validation, status sequence, files, redirects, expiry,
//! listings.

mod common;

use std::time::Duration;

use common::{Client, Got, create_inventory, date_in, instance_body, instant_sim, sha256_hex};
use reportflow_sim::{ErrorShape, InstanceKey, Sim, SimConfig, SizeRange};

#[tokio::test]
async fn create_answers_201_with_an_absolute_location_and_counts_the_creation() {
    let sim = instant_sim().await;
    let url = format!("{}/accounts/42/reports/8/instances", sim.base_url());
    let body = instance_body(
        "PDF",
        &[
            ("OrderStatus", &["PENDING", "COMPLETE"]),
            ("AccountId", &["42"]),
            ("StartDate", &["2024-01-01"]),
            ("EndDate", &["2024-01-31"]),
        ],
        Some(&date_in(30)),
    );
    let reply = Client::demo().post(&url, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert!(reply.body.is_empty());
    let location = reply.header("location").unwrap().to_string();
    assert_eq!(location, format!("{url}/100001"));
    assert!(location.starts_with("http://127.0.0.1:"));
    let stats = sim.stats();
    let key = InstanceKey {
        account: "42".into(),
        report_id: 8,
        format: "pdf".into(),
        parameters: vec![
            ("AccountId".into(), vec!["42".into()]),
            ("EndDate".into(), vec!["2024-01-31".into()]),
            (
                "OrderStatus".into(),
                vec!["COMPLETE".into(), "PENDING".into()],
            ),
            ("StartDate".into(), vec!["2024-01-01".into()]),
        ],
    };
    assert_eq!(stats.instance_creations.get(&key), Some(&1));
    assert_eq!(stats.instance_creations_of("42", 8), 1);
}

#[tokio::test]
async fn create_validates_the_body() {
    let sim = instant_sim().await;
    let client = Client::demo();
    let url = format!("{}/accounts/1/reports/8/instances", sim.base_url());
    let port_out = |format: &str, account: &[&str], expires: Option<&str>| {
        instance_body(
            format,
            &[
                ("AccountId", account),
                ("StartDate", &["2024-01-01"]),
                ("EndDate", &["2024-01-02"]),
            ],
            expires,
        )
    };
    let cases: Vec<(String, &str)> = vec![
        // Missing required StartDate/EndDate.
        (
            instance_body("csv", &[("AccountId", &["1"])], None),
            "19032",
        ),
        // ExpiresAt: format, beyond 30 days, in the past.
        (port_out("csv", &["1"], Some("2020-1-5")), "19034"),
        (port_out("csv", &["1"], Some(&date_in(31))), "19034"),
        (port_out("csv", &["1"], Some(&date_in(-1))), "19034"),
        // Output format.
        (port_out("docx", &["1"], None), "19035"),
        // Several values on a single-valued parameter.
        (port_out("csv", &["1", "2"], None), "19033"),
        ("<Instance><OutputFormat>csv".to_string(), "19036"),
        ("<Other/>".to_string(), "19036"),
    ];
    for (body, code) in cases {
        let reply = client.post(&url, &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(
            reply.element("ErrorCode").as_deref(),
            Some(code),
            "{body}: {}",
            reply.text()
        );
        assert!(reply.text().contains("<AnyResponse><ResponseStatus>"));
    }
    assert_eq!(sim.stats().total_instance_creations(), 0);
    let unknown_report = client
        .post(
            &format!("{}/accounts/1/reports/1/instances", sim.base_url()),
            &instance_body("csv", &[], None),
        )
        .await;
    assert_eq!(unknown_report.status, 404);
    assert_eq!(
        unknown_report.element("ErrorCode").as_deref(),
        Some("19000")
    );
}

#[tokio::test]
async fn repeated_errors_shape_lists_every_problem() {
    let sim = Sim::start(SimConfig {
        error_shape: ErrorShape::Varied,
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let url = format!("{}/accounts/1/reports/8/instances", sim.base_url());
    let reply = Client::demo()
        .post(&url, &instance_body("csv", &[("AccountId", &["1"])], None))
        .await;
    assert_eq!(reply.status, 400);
    let text = reply.text();
    assert!(
        text.contains("<ReportInstanceResponse><Errors><Code>19032</Code>"),
        "{text}"
    );
    assert_eq!(text.matches("<Errors>").count(), 2);
}

#[tokio::test]
async fn status_goes_from_in_progress_to_ready_then_expired_and_file_follows() {
    // Queued for 2 s: the status and the early file below must be asked inside it (it was
    // 400 ms, little on a loaded machine).
    let sim = Sim::start(SimConfig {
        processing_time: Duration::from_millis(2000),
        in_progress_status: "Queued".into(),
        file_size: SizeRange::fixed(200_000),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let location = create_inventory(&sim).await;
    let status = client.get(&location).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.element("Status").as_deref(), Some("Queued"));
    let text = status.text();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><ReportInstanceResponse><Instance><Id>100001</Id><ReportId>4</ReportId><ReportName>Phone Number Inventory</ReportName><OutputFormat>csv</OutputFormat><RequestedByUserName>demo</RequestedByUserName><RequestedAt>"), "{text}");
    assert!(text.contains(
        "<Parameters><Parameter><Name>AccountId</Name><Value>1</Value></Parameter></Parameters>"
    ));
    assert_eq!(status.element("ExpiresAt"), Some(date_in(7)));
    let requested_at = status.element("RequestedAt").unwrap();
    assert!(
        !requested_at.contains("-0"),
        "no zero padding: {requested_at}"
    );

    let early = client.get(&format!("{location}/file")).await;
    assert_eq!(early.status, 202);
    assert_eq!(early.element("ErrorCode").as_deref(), Some("19048"));

    tokio::time::sleep(Duration::from_millis(2050)).await;
    assert_eq!(
        client.get(&location).await.element("Status").as_deref(),
        Some("Ready")
    );
    let file = client.get(&format!("{location}/file")).await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment; filename=report-100001.csv")
    );
    assert_eq!(file.body.len(), 200_000);
    let stats = sim.stats();
    let digest = &stats.file_sha256[&location];
    assert_eq!(digest.sha256, sha256_hex(&file.body));
    assert_eq!(digest.size, 200_000);
    assert_eq!(digest.file_name, "report-100001.csv");
    assert_eq!(sim.expected_file(&location).as_ref(), Some(digest));
    assert_eq!(stats.bytes_served, 200_000);

    // The same again gives the same bytes.
    assert_eq!(
        client.get(&format!("{location}/file")).await.body,
        file.body
    );

    assert!(sim.expire(&location));
    assert_eq!(
        client.get(&location).await.element("Status").as_deref(),
        Some("Expired")
    );
    let gone = client.get(&format!("{location}/file")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.element("ErrorCode").as_deref(), Some("19049"));
}

#[tokio::test]
async fn ready_lifetime_expires_outputs_and_unknown_instances_get_19019() {
    let sim = Sim::start(SimConfig {
        // Long enough that the file asked for right after the create is inside it on a
        // loaded machine (it was 300 ms).
        ready_lifetime: Some(Duration::from_millis(2000)),
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let location = create_inventory(&sim).await;
    assert_eq!(client.get(&format!("{location}/file")).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(client.get(&format!("{location}/file")).await.status, 404);
    for wrong in [
        format!("{}/accounts/1/reports/4/instances/999", sim.base_url()),
        format!("{}/accounts/2/reports/4/instances/100001", sim.base_url()),
        format!(
            "{}/accounts/1/reports/2/instances/100001/file",
            sim.base_url()
        ),
        format!("{}/accounts/1/reports/4/instances/abc", sim.base_url()),
    ] {
        let reply = client.get(&wrong).await;
        assert_eq!(reply.status, 404, "{wrong}");
        assert_eq!(
            reply.element("ErrorCode").as_deref(),
            Some("19019"),
            "{wrong}"
        );
    }
    sim.expire_all();
    assert!(!sim.expire("http://elsewhere/api/accounts/1/reports/4/instances/100001"));
}

#[tokio::test]
async fn listings_page_in_creation_order_per_report_and_across_reports() {
    let sim = instant_sim().await;
    let client = Client::demo();
    for _ in 0..5 {
        create_inventory(&sim).await;
    }
    let other = client
        .post(
            &format!("{}/accounts/1/reports/36/instances", sim.base_url()),
            &instance_body("pdf", &[("AccountId", &["1"])], None),
        )
        .await;
    assert_eq!(other.status, 201);
    // Another account's instance is not listed.
    client
        .post(
            &format!("{}/accounts/2/reports/4/instances", sim.base_url()),
            &instance_body("pdf", &[("AccountId", &["2"])], None),
        )
        .await;
    let ids = |text: String| -> Vec<u64> {
        text.split("<Instance><Id>")
            .skip(1)
            .map(|s| s[..s.find('<').unwrap()].parse().unwrap())
            .collect()
    };
    let one = format!("{}/accounts/1/reports/4/instances", sim.base_url());
    let page1 = client.get(&format!("{one}?page=1&size=2")).await;
    assert!(
        page1
            .text()
            .contains("<ReportInstancesResponse><Instances><Instance>")
    );
    assert_eq!(ids(page1.text()), [100001, 100002]);
    assert_eq!(
        ids(client.get(&format!("{one}?page=3&size=2")).await.text()),
        [100005]
    );
    assert_eq!(
        ids(client.get(&format!("{one}?page=4&size=2")).await.text()),
        Vec::<u64>::new()
    );
    assert_eq!(ids(client.get(&one).await.text()).len(), 5);
    let all = format!("{}/accounts/1/reports/instances", sim.base_url());
    assert_eq!(
        ids(client.get(&format!("{all}?page=1&size=30")).await.text()),
        [100001, 100002, 100003, 100004, 100005, 100006]
    );
    for bad in ["page=0", "size=1001", "size=x"] {
        let reply = client.get(&format!("{one}?{bad}")).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    let listed = client.get(&format!("{all}?size=1")).await;
    assert_eq!(listed.element("Status").as_deref(), Some("Ready"));
}

#[tokio::test]
async fn redirect_to_a_second_origin_with_a_signed_url() {
    let sim = Sim::start(SimConfig {
        redirect_files: true,
        file_size: SizeRange::fixed(10_000),
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let location = create_inventory(&sim).await;
    let redirect = client.get(&format!("{location}/file")).await;
    assert_eq!(redirect.status, 307);
    let target = redirect.header("location").unwrap().to_string();
    assert!(target.starts_with(&sim.redirect_base_url()), "{target}");
    assert_ne!(sim.redirect_addr(), sim.addr());
    assert!(target.contains("X-Sim-Signature="));

    // Sending Authorization along with the signed URL gets 400.
    let both = client.get(&target).await;
    assert_eq!(both.status, 400);
    assert!(both.text().contains("<Code>InvalidArgument</Code>"));

    let file = Client::anonymous().get(&target).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.body.len(), 10_000);
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment; filename=report-100001.csv")
    );
    assert_eq!(
        sim.stats().file_sha256[&location].sha256,
        sha256_hex(&file.body)
    );
    let stats = sim.stats();
    assert_eq!(
        stats.requests_to(reportflow_sim::Endpoint::RedirectedFile),
        2
    );

    let tampered = target.replace("X-Sim-Expires=", "X-Sim-Expires=1");
    assert_eq!(Client::anonymous().get(&tampered).await.status, 403);
    sim.expire(&location);
    assert_eq!(Client::anonymous().get(&target).await.status, 404);
}

#[tokio::test]
async fn file_bodies_are_deterministic_per_seed_and_sized_per_report() {
    let start = |seed| {
        Sim::start(SimConfig {
            seed,
            file_size: SizeRange::between(1000, 5000),
            report_file_sizes: [(36, SizeRange::fixed(123))].into(),
            ..SimConfig::instant()
        })
    };
    let a = start(1).await.unwrap();
    let b = start(1).await.unwrap();
    let c = start(2).await.unwrap();
    let mut bodies = Vec::new();
    for sim in [&a, &b, &c] {
        let location = create_inventory(sim).await;
        let body = Client::demo().get(&format!("{location}/file")).await.body;
        assert!((1000..=5000).contains(&body.len()));
        bodies.push(body);
        let other = Client::demo()
            .post(
                &format!("{}/accounts/1/reports/36/instances", sim.base_url()),
                &instance_body("pdf", &[("AccountId", &["1"])], None),
            )
            .await;
        let file = Client::demo()
            .get(&format!("{}/file", other.header("location").unwrap()))
            .await;
        assert_eq!(file.body.len(), 123);
        assert_eq!(file.header("content-type"), Some("application/pdf"));
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_ne!(bodies[0], bodies[2]);
}

#[tokio::test]
async fn stalled_partial_download_never_records_a_digest() {
    let sim = instant_sim().await;
    let location = create_inventory(&sim).await;
    sim.script(
        reportflow_sim::Endpoint::File,
        vec![reportflow_sim::Fault::CutShortBody],
    );
    match Client::demo()
        .send("GET", &format!("{location}/file"), "", &[])
        .await
    {
        Got::Truncated { reply, expected } => assert!((reply.body.len() as u64) < expected),
        other => panic!("expected a truncated body, got {other:?}"),
    }
    assert!(sim.stats().file_sha256.is_empty());
    assert!(sim.expected_file(&location).is_some());
}

#[tokio::test]
async fn huge_durations_mean_never_and_do_not_panic() {
    let sim = Sim::start(SimConfig {
        processing_time: Duration::MAX,
        processing_jitter: Duration::MAX,
        ready_lifetime: Some(Duration::MAX),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let location = create_inventory(&sim).await;
    let reply = Client::demo().get(&format!("{location}/file")).await;
    assert_eq!(reply.status, 202);
    assert_eq!(
        Client::demo()
            .get(&location)
            .await
            .element("Status")
            .as_deref(),
        Some("Processing")
    );
}

#[tokio::test]
async fn oversized_or_garbage_bodies_get_the_400_envelope() {
    let sim = instant_sim().await;
    let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
    for body in [
        "x".repeat(1024 * 1024 + 1024),
        "<Instance>&nope;</Instance>".into(),
        String::new(),
    ] {
        let reply = Client::demo().post(&url, &body).await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.element("ErrorCode").as_deref(), Some("19036"));
    }
    assert_eq!(sim.stats().total_instance_creations(), 0);
}
