//! The HTTP client: hyper-util's pooled client over hyper-rustls, with timeouts and body caps.

use crate::call::{CallError, bad_answer};
use crate::config::EngineConfig;
use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A request body with its content type.
pub(crate) struct Payload {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: Bytes,
}

/// The pooled client and its limits.
pub(crate) struct Http {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    response_timeout: Duration,
    idle_body_timeout: Duration,
    xml_cap: usize,
    user_agent: HeaderValue,
}

impl Http {
    /// A client per the engine's configuration (webpki roots, HTTP/1.1, pooled connections).
    pub(crate) fn new(config: &EngineConfig) -> Http {
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let https = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.concurrency.max(1) * 2)
            .build(https);
        Http {
            client,
            response_timeout: config.response_timeout,
            idle_body_timeout: config.idle_body_timeout,
            xml_cap: config.xml_body_cap,
            user_agent: HeaderValue::from_static(concat!("reportflow/", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// Sends one request and waits for the response head (bounded by the response timeout).
    /// `auth` is marked sensitive so it never shows in debug output.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &Uri,
        auth: Option<&HeaderValue>,
        payload: Option<&Payload>,
    ) -> Result<Response<Incoming>, CallError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri.clone())
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(value) = auth {
            let mut value = value.clone();
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        let body = match payload {
            Some(p) => {
                builder = builder.header(CONTENT_TYPE, p.content_type);
                Full::new(p.bytes.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body).map_err(|e| {
            bad_answer(format!("could not build a request to {}: {e}", redact(uri)))
        })?;
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Err(_) => Err(CallError::Ambiguous(format!(
                "no response from {} within {} s",
                redact(uri),
                self.response_timeout.as_secs()
            ))),
            Ok(Err(e)) if e.is_connect() => Err(CallError::NotSent(format!(
                "could not connect to {}: {}",
                redact(uri),
                source_text(&e)
            ))),
            Ok(Err(e)) => Err(CallError::Ambiguous(format!(
                "the connection to {} failed: {}",
                redact(uri),
                source_text(&e)
            ))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// The next chunk of a body, waiting at most the idle timeout; `None` at its end.
    pub(crate) async fn next_chunk(&self, body: &mut Incoming) -> Result<Option<Bytes>, CallError> {
        loop {
            let frame = match tokio::time::timeout(self.idle_body_timeout, body.frame()).await {
                Err(_) => {
                    return Err(CallError::Ambiguous(format!(
                        "the response body stalled for {} s",
                        self.idle_body_timeout.as_secs()
                    )));
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(CallError::Ambiguous(format!(
                        "the response body broke off: {e}"
                    )));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                return Ok(Some(data));
            }
        }
    }

    /// A whole XML body, refused past the cap, and cut off when it has not ended within the
    /// response timeout (a body trickling in never pauses long enough for the idle timeout).
    pub(crate) async fn read_xml(
        &self,
        mut body: Incoming,
        what: &str,
    ) -> Result<Bytes, CallError> {
        let read = async {
            let mut all = BytesMut::new();
            while let Some(chunk) = self.next_chunk(&mut body).await? {
                if all.len() + chunk.len() > self.xml_cap {
                    return Err(bad_answer(format!(
                        "the {what} answer is larger than the {} KiB cap for XML bodies; the upstream sent something unexpected (raise the cap only if this is a real answer)",
                        self.xml_cap / 1024
                    )));
                }
                all.extend_from_slice(&chunk);
            }
            Ok(all.freeze())
        };
        tokio::time::timeout(self.response_timeout, read)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Ambiguous(format!(
                    "the {what} answer did not end within {} s",
                    self.response_timeout.as_secs()
                )))
            })
    }
}

/// A URL for messages: without its query string (which may carry a signed token) and without
/// any `user:password@` in its authority.
pub(crate) fn redact(uri: &Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(s), Some(a)) => {
            let host = a.as_str().rsplit('@').next().unwrap_or_default();
            format!("{s}://{host}{}", uri.path())
        }
        _ => uri.path().to_string(),
    }
}

fn source_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
