//! Report catalogue, Basic auth, OAuth2 tokens.

mod common;

use std::time::Duration;

use common::{Client, element, instant_sim};
use reportflow_sim::{Endpoint, Sim, SimConfig};

#[tokio::test]
async fn catalogue_lists_the_eighteen_reports_of_the_seed() {
    let sim = instant_sim().await;
    let reply = Client::demo()
        .get(&format!("{}/accounts/123/reports", sim.base_url()))
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/xml")
    );
    let text = reply.text();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><ReportsResponse><Reports><Report>"));
    assert_eq!(text.matches("<Report>").count(), 18);
    let ids: Vec<u32> = text
        .split("<Id>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            2, 4, 6, 8, 14, 16, 24, 30, 31, 34, 36, 42, 47, 48, 50, 59, 64, 65
        ]
    );
    assert!(text.contains("<Name>Telephone Number Route Plan Report</Name>"));
    assert!(text.contains("within the report’s scope"));
}

#[tokio::test]
async fn report_detail_has_typed_parameters() {
    let sim = instant_sim().await;
    let client = Client::demo();
    let reply = client
        .get(&format!("{}/accounts/9/reports/8", sim.base_url()))
        .await;
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(text.contains("<ReportResponse><Report><Id>8</Id><Name>Port-out Orders</Name>"));
    assert!(text.contains(
        "<Parameter><Name>AccountId</Name><Type>Account ID</Type><Required>true</Required>"
    ));
    assert!(text.contains("<Name>StartDate</Name><Type>Date</Type><Required>true</Required>"));
    assert!(text.contains("<MultiSelectAllowed>true</MultiSelectAllowed>"));
    assert!(text.contains(
        "<Values><Value><InternalName>COMPLETE</InternalName><DisplayName>Complete</DisplayName></Value>"
    ));
    let unknown = client
        .get(&format!("{}/accounts/9/reports/3", sim.base_url()))
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.element("ErrorCode").as_deref(), Some("19000"));
    let bad_account = client
        .get(&format!("{}/accounts/abc/reports", sim.base_url()))
        .await;
    assert_eq!(bad_account.status, 404);
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401() {
    let sim = instant_sim().await;
    let url = format!("{}/accounts/1/reports", sim.base_url());
    for client in [
        Client::anonymous(),
        Client::basic("demo", "wrong"),
        Client::bearer("sim-unknown"),
    ] {
        let reply = client.get(&url).await;
        assert_eq!(reply.status, 401);
        assert!(reply.header("www-authenticate").is_some());
    }
    assert_eq!(sim.stats().status_count(Endpoint::Catalogue, 401), 3);
    let unknown_path = Client::demo()
        .get(&format!("{}/nothing/here", sim.base_url()))
        .await;
    assert_eq!(unknown_path.status, 404);
    let wrong_method = Client::demo().send("DELETE", &url, "", &[]).await.reply();
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET"));
}

#[tokio::test]
async fn custom_credentials_and_no_xml_declaration() {
    let sim = Sim::start(SimConfig {
        username: "alice".into(),
        password: "s3cret".into(),
        xml_declaration: false,
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let url = format!("{}/accounts/1/reports", sim.base_url());
    assert_eq!(Client::demo().get(&url).await.status, 401);
    let reply = Client::basic("alice", "s3cret").get(&url).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().starts_with("<ReportsResponse>"));
}

async fn fetch_token(sim: &reportflow_sim::SimHandle) -> (String, u64) {
    let reply = Client::basic("demo-client", "demo-client-secret")
        .send(
            "POST",
            &sim.token_url(),
            "grant_type=client_credentials",
            &[("Content-Type", "application/x-www-form-urlencoded")],
        )
        .await
        .reply();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    (
        json["access_token"].as_str().unwrap().to_string(),
        json["expires_in"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn oauth2_tokens_work_then_expire() {
    let sim = Sim::start(SimConfig {
        token_lifetime: Duration::from_millis(1500),
        basic_auth: false,
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    assert!(sim.token_url().ends_with("/api/v1/oauth2/token"));
    let (token, expires_in) = fetch_token(&sim).await;
    assert_eq!(expires_in, 1);
    let url = format!("{}/accounts/1/reports", sim.base_url());
    let reply = Client::bearer(&token).get(&url).await;
    assert_eq!(reply.status, 200);
    // Basic is switched off (decommissioned).
    assert_eq!(Client::demo().get(&url).await.status, 401);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let expired = Client::bearer(&token).get(&url).await;
    assert_eq!(expired.status, 401);
    let (fresh, _) = fetch_token(&sim).await;
    assert_ne!(fresh, token);
    assert_eq!(Client::bearer(&fresh).get(&url).await.status, 200);
}

#[tokio::test]
async fn token_endpoint_rejects_bad_clients_and_grants() {
    let sim = instant_sim().await;
    let wrong = Client::basic("demo-client", "nope")
        .send(
            "POST",
            &sim.token_url(),
            "grant_type=client_credentials",
            &[],
        )
        .await
        .reply();
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("invalid_client"));
    let grant = Client::basic("demo-client", "demo-client-secret")
        .send("POST", &sim.token_url(), "grant_type=password", &[])
        .await
        .reply();
    assert_eq!(grant.status, 400);
    assert!(grant.text().contains("unsupported_grant_type"));
    let get = Client::anonymous().get(&sim.token_url()).await;
    assert_eq!(get.status, 405);
    assert_eq!(element("<a>x</a>", "a").as_deref(), Some("x"));
}

#[tokio::test]
async fn a_fixed_answer_is_served_byte_for_byte_after_auth_and_faults() {
    // php-bandwidth-iris's report detail: another root than the spec's, no trailing newline.
    let body = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><ReportsResponse><Report><Id>123</Id></Report></ReportsResponse>"#;
    let sim = Sim::start(SimConfig {
        fixed_answers: vec![
            reportflow_sim::FixedAnswer::get("/accounts/9/reports/123", body.to_vec()),
            reportflow_sim::FixedAnswer {
                method: "post".into(),
                path: "/accounts/9/billingReports".into(),
                status: 201,
                headers: vec![("Location".into(), "https://elsewhere.invalid/x".into())],
                body: b"<BillingReportCreationResponse/>".to_vec(),
            },
        ],
        ..SimConfig::instant()
    })
    .await
    .expect("sim starts");
    let url = format!("{}/accounts/9/reports/123", sim.base_url());
    let reply = Client::demo().get(&url).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, body.to_vec());
    assert_eq!(
        reply.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(Client::anonymous().get(&url).await.status, 401);
    let created = Client::demo()
        .post(&format!("{}/accounts/9/billingReports", sim.base_url()), "")
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.header("location"),
        Some("https://elsewhere.invalid/x")
    );
    // Other paths are the simulator's own; faults still come first.
    let other = Client::demo()
        .get(&format!("{}/accounts/9/reports/8", sim.base_url()))
        .await;
    assert!(other.text().contains("<Name>Port-out Orders</Name>"));
    sim.script(
        Endpoint::Catalogue,
        vec![reportflow_sim::Fault::InternalError],
    );
    assert_eq!(Client::demo().get(&url).await.status, 500);
    assert!(
        sim.configure(|c| c.fixed_answers[0].status = 1000).is_err(),
        "a bad fixed answer is refused"
    );
}
