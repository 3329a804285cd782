//! Every fault kind, rate limits, determinism, connection stats, shutdown.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Client, Got, Reply, billing_body, create_inventory, instance_body, instant_sim};
use reportflow_sim::{
    Endpoint, Fault, FaultEvent, FaultPlan, RateLimit, ResetUnit, Sim, SimConfig, SimHandle,
    SizeRange,
};
use tokio::io::AsyncReadExt;

fn catalogue_url(sim: &SimHandle) -> String {
    format!("{}/accounts/1/reports", sim.base_url())
}

async fn scripted_get(sim: &SimHandle, endpoint: Endpoint, fault: Fault, url: &str) -> Reply {
    scripted(sim, endpoint, fault, "GET", url, "").await.reply()
}

async fn scripted(
    sim: &SimHandle,
    endpoint: Endpoint,
    fault: Fault,
    method: &str,
    url: &str,
    body: &str,
) -> Got {
    sim.script(endpoint, vec![fault]);
    Client::demo().send(method, url, body, &[]).await
}

#[tokio::test]
async fn gateway_and_service_errors() {
    let sim = instant_sim().await;
    let url = catalogue_url(&sim);
    for (fault, status) in [
        (Fault::InternalError, 500),
        (Fault::BadGateway, 502),
        (Fault::GatewayTimeout, 504),
    ] {
        let reply = scripted(&sim, Endpoint::Catalogue, fault, "GET", &url, "")
            .await
            .reply();
        assert_eq!(reply.status, status);
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
    }
    let unavailable =
        scripted_get(&sim, Endpoint::Catalogue, Fault::ServiceUnavailable, &url).await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.element("ErrorCode").as_deref(), Some("19031"));
    let billing = scripted(
        &sim,
        Endpoint::Create,
        Fault::ServiceUnavailable,
        "POST",
        &format!("{}/accounts/1/billingReports", sim.base_url()),
        &billing_body("BDR", "2020-01-01", "2020-01-02"),
    )
    .await
    .reply();
    assert_eq!(billing.element("ErrorCode").as_deref(), Some("15606"));
    assert_eq!(sim.stats().total_billing_creations(), 0, "no side effect");
    // The script is used up: the next request is normal.
    assert_eq!(Client::demo().get(&url).await.status, 200);
    let stats = sim.stats();
    assert_eq!(stats.fault_count(Fault::InternalError), 1);
    assert_eq!(stats.status_count(Endpoint::Catalogue, 503), 1);
    assert_eq!(stats.status_count(Endpoint::Catalogue, 200), 1);
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn rate_limited_faults_in_seconds_and_milliseconds() {
    let sim = instant_sim().await;
    let url = catalogue_url(&sim);
    let secs = scripted_get(&sim, Endpoint::Catalogue, Fault::RateLimitedSeconds, &url).await;
    assert_eq!(secs.status, 429);
    assert!(secs.body.is_empty());
    let reset: u64 = secs.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > epoch_secs() && reset <= epoch_secs() + 2, "{reset}");
    let millis = scripted_get(&sim, Endpoint::Catalogue, Fault::RateLimitedMillis, &url).await;
    let reset: u64 = millis.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        reset / 1000 >= epoch_secs() && reset / 1000 <= epoch_secs() + 2,
        "{reset}"
    );
}

#[tokio::test]
async fn connection_reset_has_no_side_effect_and_lost_response_has_one() {
    let sim = instant_sim().await;
    let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
    let body = instance_body("csv", &[("AccountId", &["1"])], None);
    let reset = scripted(
        &sim,
        Endpoint::Create,
        Fault::ConnectionReset,
        "POST",
        &url,
        &body,
    )
    .await;
    assert!(matches!(reset, Got::Dropped { reset: true }), "{reset:?}");
    assert_eq!(sim.stats().total_instance_creations(), 0);

    let lost = scripted(
        &sim,
        Endpoint::Create,
        Fault::AppliedResponseLost,
        "POST",
        &url,
        &body,
    )
    .await;
    assert!(matches!(lost, Got::Dropped { .. }), "{lost:?}");
    let stats = sim.stats();
    assert_eq!(stats.total_instance_creations(), 1);
    assert_eq!(stats.status_count(Endpoint::Create, 0), 2);
    // The instance exists and the listing finds it.
    let listing = Client::demo().get(&url).await;
    assert!(listing.text().contains("<Id>100001</Id>"));

    let billing_lost = scripted(
        &sim,
        Endpoint::Create,
        Fault::AppliedResponseLost,
        "POST",
        &format!("{}/accounts/1/billingReports", sim.base_url()),
        &billing_body("BDR", "2020-01-01", "2020-01-02"),
    )
    .await;
    assert!(matches!(billing_lost, Got::Dropped { .. }));
    assert_eq!(sim.stats().total_billing_creations(), 1);
}

#[tokio::test]
async fn cut_short_and_stalled_bodies() {
    let sim = Sim::start(SimConfig {
        file_size: SizeRange::fixed(1_000_000),
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let location = create_inventory(&sim).await;
    let file = format!("{location}/file");
    match scripted(&sim, Endpoint::File, Fault::CutShortBody, "GET", &file, "").await {
        Got::Truncated { reply, expected } => {
            assert_eq!(reply.status, 200);
            assert_eq!(expected, 1_000_000);
            assert!(
                !reply.body.is_empty() && reply.body.len() <= 500_000,
                "{}",
                reply.body.len()
            );
        }
        other => panic!("expected truncated, got {other:?}"),
    }
    // XML bodies can be cut too.
    match scripted(
        &sim,
        Endpoint::Status,
        Fault::CutShortBody,
        "GET",
        &location,
        "",
    )
    .await
    {
        Got::Truncated { reply, expected } => assert!((reply.body.len() as u64) < expected),
        other => panic!("expected truncated, got {other:?}"),
    }

    sim.script(Endpoint::File, vec![Fault::StalledBody]);
    let client = Client {
        stall_timeout: Duration::from_millis(300),
        ..Client::demo()
    };
    let mut stream = match client.send("GET", &file, "", &[]).await {
        Got::Stalled {
            reply,
            expected,
            stream,
        } => {
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body.len(), 500_000);
            assert_eq!(expected, 1_000_000);
            stream
        }
        other => panic!("expected stalled, got {other:?}"),
    };
    assert!(sim.stats().file_sha256.is_empty());
    // Shutdown ends the stalled connection.
    sim.shutdown();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

#[tokio::test]
async fn malformed_xml_error_in_200_and_latency() {
    let sim = Sim::start(SimConfig {
        faults: FaultPlan {
            latency: Duration::from_millis(300),
            ..FaultPlan::none()
        },
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let location = create_inventory(&sim).await;
    let malformed = scripted_get(&sim, Endpoint::Status, Fault::MalformedXml, &location).await;
    assert_eq!(malformed.status, 200);
    assert!(
        malformed
            .text()
            .contains("<ReportInstanceResponse><Status>Rea<dy")
    );
    let in200 = scripted_get(&sim, Endpoint::Status, Fault::ErrorIn200, &location).await;
    assert_eq!(in200.status, 200);
    assert!(
        in200
            .text()
            .contains("<ReportInstanceResponse><ResponseStatus><ErrorCode>19031</ErrorCode>")
    );
    let started = Instant::now();
    let slow = scripted_get(&sim, Endpoint::Status, Fault::Latency, &location).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.element("Status").as_deref(), Some("Ready"));
    let token = scripted(
        &sim,
        Endpoint::Token,
        Fault::MalformedXml,
        "POST",
        &sim.token_url(),
        "",
    )
    .await
    .reply();
    assert!(serde_json::from_slice::<serde_json::Value>(&token.body).is_err());
}

#[tokio::test]
async fn rate_limit_token_bucket_answers_429_with_reset() {
    let sim = Sim::start(SimConfig {
        rate_limits: [(
            Endpoint::Create,
            RateLimit {
                capacity: 2,
                // One token a second: the three creates below must come within it for the
                // third to be limited (at two a second, 500 ms was little on a loaded machine).
                refill_per_second: 1.0,
            },
        )]
        .into(),
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
    let body = instance_body("csv", &[("AccountId", &["1"])], None);
    let client = Client::demo();
    assert_eq!(client.post(&url, &body).await.status, 201);
    assert_eq!(client.post(&url, &body).await.status, 201);
    let limited = client.post(&url, &body).await;
    assert_eq!(limited.status, 429);
    let reset: u64 = limited
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= epoch_secs() && reset <= epoch_secs() + 2);
    assert_eq!(sim.stats().total_instance_creations(), 2);
    // Other endpoints are not limited.
    assert_eq!(client.get(&url).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(client.post(&url, &body).await.status, 201);

    sim.configure(|c| {
        c.rate_limit_reset_unit = ResetUnit::Milliseconds;
        c.rate_limits.insert(
            Endpoint::Create,
            RateLimit {
                capacity: 1,
                refill_per_second: 0.5,
            },
        );
    })
    .unwrap();
    assert_eq!(client.post(&url, &body).await.status, 201);
    let limited = client.post(&url, &body).await;
    let reset: u128 = limited
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > u128::from(epoch_secs()) * 1000);
}

/// What a client sees, reduced to something comparable.
fn outcome(got: &Got) -> String {
    match got {
        Got::Reply(r) => format!("{}", r.status),
        Got::Dropped { .. } => "dropped".into(),
        Got::Truncated { .. } => "truncated".into(),
        Got::Stalled { .. } => "stalled".into(),
    }
}

async fn run_thousand(seed: u64) -> (Vec<String>, Vec<FaultEvent>) {
    let plan = Fault::ALL[1..]
        .iter()
        .filter(|f| **f != Fault::StalledBody)
        .fold(
            FaultPlan {
                latency: Duration::from_millis(1),
                ..FaultPlan::none()
            },
            |p, f| p.everywhere(*f, 0.03),
        );
    let sim = Sim::start(SimConfig {
        seed,
        faults: plan,
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    let mut outcomes = Vec::new();
    for i in 0..1000 {
        let got = match i % 4 {
            0 => client.send("GET", &catalogue_url(&sim), "", &[]).await,
            1 => {
                let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
                client.send("GET", &url, "", &[]).await
            }
            2 => {
                let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
                let body = instance_body("csv", &[("AccountId", &["1"])], None);
                client.send("POST", &url, &body, &[]).await
            }
            _ => {
                let url = format!("{}/accounts/1/reports/4/instances/100001", sim.base_url());
                client.send("GET", &url, "", &[]).await
            }
        };
        outcomes.push(outcome(&got));
    }
    (outcomes, sim.stats().fault_log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_fault_sequence_over_a_thousand_requests() {
    let (a, log_a) = run_thousand(11).await;
    let (b, log_b) = run_thousand(11).await;
    let (c, log_c) = run_thousand(12).await;
    assert_eq!(log_a, log_b);
    assert_eq!(a, b);
    assert_ne!(log_a, log_c);
    assert_ne!(a, c);
    assert!(
        log_a.len() > 300,
        "about 36% of requests get a fault: {}",
        log_a.len()
    );
    let kinds: std::collections::BTreeSet<Fault> = log_a.iter().map(|e| e.fault).collect();
    assert_eq!(kinds.len(), 12, "{kinds:?}");
}

#[tokio::test]
async fn random_plan_per_endpoint_and_runtime_changes() {
    let sim = Sim::start(SimConfig {
        faults: FaultPlan::none().on(Endpoint::Catalogue, Fault::BadGateway, 1.0),
        ..SimConfig::instant()
    })
    .await
    .unwrap();
    let client = Client::demo();
    for _ in 0..3 {
        assert_eq!(client.get(&catalogue_url(&sim)).await.status, 502);
    }
    // Other classes are untouched.
    create_inventory(&sim).await;
    // Scripts win over the plan, Pass included.
    sim.script(Endpoint::Catalogue, vec![Fault::Pass]);
    assert_eq!(client.get(&catalogue_url(&sim)).await.status, 200);
    sim.set_faults(FaultPlan::none()).unwrap();
    assert_eq!(client.get(&catalogue_url(&sim)).await.status, 200);
    assert!(sim.set_faults(FaultPlan::chaos(0.5)).is_err());
    sim.script(
        Endpoint::Catalogue,
        vec![Fault::InternalError, Fault::InternalError],
    );
    sim.clear_scripts();
    assert_eq!(client.get(&catalogue_url(&sim)).await.status, 200);
    let log = sim.stats().fault_log;
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].request, 3);
}

#[tokio::test]
async fn concurrent_connections_are_counted_and_shutdown_stops_listening() {
    let sim = instant_sim().await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(tokio::net::TcpStream::connect(sim.addr()).await.unwrap());
    }
    let started = Instant::now();
    while sim.stats().max_concurrent_connections < 5 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = sim.stats();
    assert!(stats.max_concurrent_connections >= 5);
    assert!(stats.connections >= 5);
    drop(open);
    sim.reset_stats();
    assert_eq!(sim.stats().connections, 0);
    let addr = sim.addr();
    sim.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn blocking_start_for_synchronous_callers() {
    let sim = Sim::start_blocking(SimConfig::instant()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reply = runtime.block_on(Client::demo().get(&catalogue_url(&sim)));
    assert_eq!(reply.status, 200);
    let addr = sim.addr();
    sim.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());
    // The port is free again after shutdown.
    let again = Sim::start_blocking(SimConfig {
        port: addr.port(),
        ..SimConfig::instant()
    })
    .unwrap();
    assert_eq!(again.addr(), addr);
    drop(again);
    let bad = Sim::start_blocking(SimConfig {
        file_size: SizeRange::between(10, 1),
        ..SimConfig::instant()
    });
    assert!(bad.unwrap_err().to_string().contains("swap them"));
}
