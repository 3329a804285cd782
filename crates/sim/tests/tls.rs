//! The simulator over TLS: both origins serve https with a certificate from the CA it
//! generated (written where asked), refused by a client that does not trust that CA or asks
//! for another name; and it counts requests that carry a proxy's credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reportflow_sim::{Sim, SimConfig, SimHandle, SimTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn client(ca_pem: Option<&str>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.expect("PEM")).expect("a trust anchor");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// One request over TLS to `port` as `name`; the raw response, or the handshake's error.
async fn get(
    connector: &TlsConnector,
    port: u16,
    name: &str,
    request: &str,
) -> Result<String, std::io::Error> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from(name.to_string()).expect("a server name");
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

const LIST: &str = "GET /api/accounts/9900000/reports HTTP/1.1\r\nHost: sim\r\nAuthorization: Basic ZGVtbzpkZW1vLXNlY3JldA==\r\nConnection: close\r\n\r\n";

async fn handshake_failures(sim: &SimHandle, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = sim.stats().tls_handshake_failures;
        if n >= at_least || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn both_origins_serve_https_with_the_generated_ca_written_where_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("ca.pem");
    let sim = Sim::start(SimConfig {
        tls: Some(SimTls {
            ca_file: Some(ca_file.clone()),
            ..SimTls::default()
        }),
        ..SimConfig::instant()
    })
    .await
    .expect("starts");
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    assert!(sim.redirect_base_url().starts_with("https://127.0.0.1:"));
    assert!(sim.token_url().starts_with("https://"));
    let pem = sim.ca_pem().expect("a CA");
    assert_eq!(std::fs::read_to_string(&ca_file).expect("written"), pem);
    let trusted = client(Some(&pem));
    for name in ["127.0.0.1", "localhost"] {
        let answer = get(&trusted, sim.addr().port(), name, LIST)
            .await
            .expect("TLS");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("<ReportName>") || answer.contains("<Report>"),
            "{answer}"
        );
    }
    // The second origin presents the same certificate (a missing signature is its 4xx).
    let answer = get(
        &trusted,
        sim.redirect_addr().port(),
        "127.0.0.1",
        "GET /files/x HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("TLS to the second origin");
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert_eq!(sim.stats().tls_handshake_failures, 0);

    // A client that does not trust the CA refuses the certificate; nothing is served.
    let untrusting = client(None);
    let refused = get(&untrusting, sim.addr().port(), "127.0.0.1", LIST)
        .await
        .expect_err("unknown issuer");
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    assert!(handshake_failures(&sim, 1).await >= 1);
}

/// The handshake error a client trusting the CA gets from a simulator serving `tls` when it
/// asks for 127.0.0.1.
async fn refusal(tls: SimTls) -> (String, SimHandle) {
    let sim = Sim::start(SimConfig {
        tls: Some(tls),
        ..SimConfig::instant()
    })
    .await
    .expect("starts");
    let trusted = client(sim.ca_pem().as_deref());
    let refused = get(&trusted, sim.addr().port(), "127.0.0.1", LIST)
        .await
        .expect_err("refused");
    (refused.to_string(), sim)
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_for_this_one() {
    let names = vec!["reports.example.com".into()];
    let (refused, sim) = refusal(SimTls {
        names,
        ..SimTls::default()
    })
    .await;
    assert!(refused.contains("not valid for name"), "{refused}");
    let trusted = client(sim.ca_pem().as_deref());
    let answer = get(&trusted, sim.addr().port(), "reports.example.com", LIST)
        .await
        .expect("the name it is for");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let (refused, _sim) = refusal(SimTls {
        expired: true,
        ..SimTls::default()
    })
    .await;
    assert!(refused.contains("expired"), "{refused}");
}

#[tokio::test]
async fn requests_carrying_a_proxys_credentials_are_counted() {
    let sim = Sim::start(SimConfig::instant().with_tls())
        .await
        .expect("starts");
    let trusted = client(sim.ca_pem().as_deref());
    get(&trusted, sim.addr().port(), "127.0.0.1", LIST)
        .await
        .expect("TLS");
    assert_eq!(sim.stats().proxy_authorization_requests, 0);
    let leaking = LIST.replace(
        "Connection: close",
        "Proxy-Authorization: Basic cHJveHk6c2VjcmV0\r\nConnection: close",
    );
    get(&trusted, sim.addr().port(), "127.0.0.1", &leaking)
        .await
        .expect("TLS");
    assert_eq!(sim.stats().proxy_authorization_requests, 1);
}
