//! The engine over TLS against the simulator: every report and billing type with OAuth2, files
//! redirected (307) to the second TLS origin; certificates that must be refused (unknown CA,
//! another host's name, expired) stop the run with a clear error and store nothing as
//! downloaded; and through a recording CONNECT proxy, what the proxy and the upstream each see.

mod common;

use common::*;
use reportflow_core::{Date, StateName};
use reportflow_driver::{Credentials, DriverError, ProxyConfig};
use reportflow_sim::{Endpoint, Sim, SimConfig, SimHandle, SimTls};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A simulator over TLS, OAuth2 only, files behind a 307 to its second origin.
fn tls_sim(tls: SimTls) -> SimConfig {
    SimConfig {
        tls: Some(tls),
        basic_auth: false,
        redirect_files: true,
        ..quick_sim()
    }
}

/// The test's engine set-up for `sim` over OAuth2, trusting the simulator's CA when `trust`.
fn setup(sim: &SimHandle, trust: bool) -> Setup {
    let mut setup = Setup::new(sim);
    setup.config.credentials = Some(Credentials::OAuth2 {
        client_id: "demo-client".into(),
        client_secret: "demo-client-secret".into(),
        token_url: sim.token_url(),
    });
    if trust {
        let ca = setup.dir.path().join("sim-ca.pem");
        std::fs::write(&ca, sim.ca_pem().expect("a TLS simulator")).expect("write the CA");
        setup.config.trust.ca_files.push(ca);
    }
    setup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_and_billing_type_over_tls_with_oauth2_and_redirects_to_the_second_origin() {
    let sim = Sim::start(tls_sim(SimTls::default()))
        .await
        .expect("sim starts");
    assert!(sim.base_url().starts_with("https://"));
    assert!(sim.redirect_base_url().starts_with("https://"));
    let setup = setup(&sim, true);
    let engine = setup.engine().await;
    let jobs = submit_catalogue(&engine).await;
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(
        summary.count(StateName::Downloaded),
        jobs as u64,
        "{summary:?}"
    );
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), jobs);
    let stats = sim.stats();
    // Every account report file came from the second origin, and none was refused for
    // carrying `Authorization` (the simulator answers 400 to that).
    assert_eq!(stats.status_count(Endpoint::RedirectedFile, 200), 18);
    assert_eq!(stats.status_count(Endpoint::RedirectedFile, 400), 0);
    assert!(stats.status_count(Endpoint::Token, 200) >= 1, "{stats:?}");
    assert_eq!(stats.tls_handshake_failures, 0);
    assert_eq!(stats.proxy_authorization_requests, 0);
}

/// Runs one billing job against a simulator serving `tls`, trusting its CA when `trust`:
/// the run must stop with a certificate error having stored nothing as downloaded, written no
/// file and sent no request. Returns the error's message.
async fn refused_run(tls: SimTls, trust: bool) -> String {
    let sim = Sim::start(tls_sim(tls)).await.expect("sim starts");
    let setup = setup(&sim, trust);
    let engine = setup.engine().await;
    let (from, to) = (Date::constant(2026, 5, 1), Date::constant(2026, 5, 31));
    engine
        .submit(billing("BDR", from, to), None)
        .await
        .expect("submit");
    let error = engine.run_until_idle().await.expect_err("the run stops");
    let DriverError::Certificate(message) = error else {
        panic!("a certificate error: {error:?}");
    };
    for job in engine.jobs(None).await.expect("jobs") {
        assert_eq!(job.state.name(), StateName::Requested, "{job:?}");
    }
    let out = setup.out_dir();
    let files = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "no file in {}", out.display());
    // The server counts the failed handshake when it sees the client's alert, which may come
    // a moment after the client gave up: wait for it (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sim.stats().tls_handshake_failures == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stats = sim.stats();
    assert_eq!(stats.requests.values().sum::<u64>(), 0, "no request served");
    assert!(stats.tls_handshake_failures >= 1, "{stats:?}");
    assert!(message.contains(&sim.addr().to_string()), "{message}");
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_ca_stops_the_run_saying_what_to_do() {
    let message = refused_run(SimTls::default(), false).await;
    assert!(message.contains("unknown issuer"), "{message}");
    assert!(message.contains("--ca-file"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_name_stops_the_run() {
    let other = SimTls {
        names: vec!["reports.example.com".into()],
        ..SimTls::default()
    };
    let message = refused_run(other, true).await;
    assert!(message.contains("not valid for that name"), "{message}");
    assert!(message.contains("reports.example.com"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_stops_the_run() {
    let expired = SimTls {
        expired: true,
        ..SimTls::default()
    };
    let message = refused_run(expired, true).await;
    assert!(message.contains("expired on 2020-12-31"), "{message}");
}

/// A minimal CONNECT proxy on loopback that records the head of every CONNECT it gets, then
/// relays the tunnel: to see exactly what a proxy is told.
struct RecordingProxy {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    async fn start() -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, Arc::clone(&recorded)));
            }
        });
        RecordingProxy { port, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

async fn relay(mut client: TcpStream, heads: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if client.read_exact(&mut byte).await.is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    heads.lock().expect("lock").push(head.clone());
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let Some(target) = target else { return };
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_ok()
    {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_gets_only_connect_with_its_own_credentials_and_the_upstream_never_gets_them() {
    let proxy = RecordingProxy::start().await;
    for tls in [true, false] {
        let config = SimConfig {
            redirect_files: true,
            tls: tls.then(SimTls::default),
            ..quick_sim()
        };
        let sim = Sim::start(config).await.expect("sim");
        let mut setup = setup(&sim, tls);
        let proxy_url = format!("http://proxy-user:proxy%20pass@127.0.0.1:{}", proxy.port);
        setup.config.proxy = ProxyConfig {
            all: Some(proxy_url),
            ..ProxyConfig::default()
        };
        let engine = setup.engine().await;
        engine.submit(inventory(1), None).await.expect("submit");
        let (from, to) = (Date::constant(2026, 5, 1), Date::constant(2026, 5, 31));
        engine
            .submit(billing("BDR", from, to), None)
            .await
            .expect("submit");
        let summary = engine.run_until_idle().await.expect("run");
        assert_eq!(summary.count(StateName::Downloaded), 2, "{summary:?}");
        let heads = proxy.heads();
        let stats = sim.stats();
        assert_eq!(
            heads.len() as u64,
            stats.connections,
            "every connection the upstream saw came through the proxy: {heads:#?}"
        );
        for port in [sim.addr().port(), sim.redirect_addr().port()] {
            assert!(
                heads
                    .iter()
                    .any(|h| h.starts_with(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n"))),
                "a tunnel to {port}: {heads:#?}"
            );
        }
        // base64("proxy-user:proxy pass")
        let proxy_auth = "Proxy-Authorization: Basic cHJveHktdXNlcjpwcm94eSBwYXNz\r\n";
        for head in &heads {
            assert!(head.contains(proxy_auth), "{head}");
            assert!(
                !head.to_ascii_lowercase().contains("\nauthorization:"),
                "{head}"
            );
        }
        assert_eq!(stats.proxy_authorization_requests, 0);
        assert!(stats.requests.values().sum::<u64>() >= 4, "{stats:?}");
        proxy.heads.lock().expect("lock").clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_307_to_another_origin_goes_by_that_origins_proxy_rules() {
    let proxy = RecordingProxy::start().await;
    let sim = Sim::start(SimConfig {
        redirect_files: true,
        redirect_host: "localhost".into(),
        ..tls_sim(SimTls::default())
    })
    .await
    .expect("sim");
    assert!(sim.redirect_base_url().starts_with("https://localhost:"));
    let (api, files) = (sim.addr().port(), sim.redirect_addr().port());
    // The API through the proxy, the download origin directly; then the other way round.
    for (no_proxy, tunnelled, direct) in [("localhost", api, files), ("127.0.0.1", files, api)] {
        let mut setup = setup(&sim, true);
        setup.config.proxy = ProxyConfig {
            https: Some(format!("http://127.0.0.1:{}", proxy.port)),
            no_proxy: Some(no_proxy.into()),
            ..ProxyConfig::default()
        };
        let engine = setup.engine().await;
        let site = u32::from(tunnelled);
        engine.submit(inventory(site), None).await.expect("submit");
        let before = sim.stats().status_count(Endpoint::RedirectedFile, 200);
        let summary = engine.run_until_idle().await.expect("run");
        assert_eq!(summary.count(StateName::Downloaded), 1, "{summary:?}");
        assert_eq!(
            sim.stats().status_count(Endpoint::RedirectedFile, 200),
            before + 1
        );
        let heads = proxy.heads();
        assert!(
            !heads.is_empty(),
            "NO_PROXY={no_proxy}: something went through the proxy"
        );
        for head in &heads {
            assert!(
                head.contains(&format!(":{tunnelled} HTTP/1.1")),
                "NO_PROXY={no_proxy}: {head}"
            );
            assert!(
                !head.contains(&format!(":{direct} ")),
                "NO_PROXY={no_proxy}: {head}"
            );
        }
        proxy.heads.lock().expect("lock").clear();
    }
}
