//! The raw baseline: the engine's client stack (hyper-util's pooled client over hyper-rustls,
//! HTTP/1.1, `TCP_NODELAY`) doing the same requests with no store, no retries, no XML parsing
//! beyond finding the status, no hashing and no `fsync`: files are written with plain blocking
//! writes into the page cache.

use crate::setup::{ACCOUNT, PASSWORD, REPORT, USERNAME, instance_body};
use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// A raw client of the simulator.
pub struct Raw {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    auth: HeaderValue,
    base: String,
}

impl Raw {
    /// A client built like the engine's (`crates/driver/src/http.rs`), for `concurrency`
    /// requests at once.
    pub fn new(base_url: &str, concurrency: usize) -> Raw {
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        let https = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(concurrency * 2)
            .build(https);
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{USERNAME}:{PASSWORD}").as_bytes());
        Raw {
            client,
            auth: HeaderValue::from_str(&format!("Basic {basic}")).expect("a header value"),
            base: base_url.trim_end_matches('/').to_string(),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
    ) -> http::Response<hyper::body::Incoming> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(AUTHORIZATION, self.auth.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/xml; charset=utf-8");
        }
        let body = Full::new(body.map(Bytes::from).unwrap_or_default());
        self.client
            .request(request.body(body).expect("a request"))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// Creates the instance of job `n`; returns its location.
    pub async fn create(&self, n: u64) -> String {
        let url = format!(
            "{}/accounts/{ACCOUNT}/reports/{REPORT}/instances",
            self.base
        );
        let response = self.send(Method::POST, &url, Some(instance_body(n))).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create");
        let location = response.headers()[LOCATION]
            .to_str()
            .expect("a text Location")
            .to_string();
        let _ = response.into_body().collect().await;
        location
    }

    /// Asks for the status once; true when it says `Ready`.
    pub async fn ready(&self, location: &str) -> bool {
        let response = self.send(Method::GET, location, None).await;
        assert_eq!(response.status(), StatusCode::OK, "status");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("the status body")
            .to_bytes();
        body.windows(b"<Status>Ready</Status>".len())
            .any(|w| w == b"<Status>Ready</Status>")
    }

    /// Streams the file of `location` to `path` (plain writes; `fsync`ed at the end when
    /// `sync`); returns its size.
    pub async fn download(&self, location: &str, path: &Path, sync: bool) -> u64 {
        let url = format!("{location}/file");
        let response = self.send(Method::GET, &url, None).await;
        assert_eq!(response.status(), StatusCode::OK, "file");
        let mut file = std::fs::File::create(path).expect("create the file");
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("the file body").into_data() {
                file.write_all(&data).expect("write the file");
                bytes += data.len() as u64;
            }
        }
        if sync {
            file.sync_all().expect("sync the file");
        }
        bytes
    }
}
