//! The HTTP client: hyper-util's pooled client over our connector (direct or through a proxy's
//! tunnel, TLS by rustls with the configured trust), with timeouts and body caps.

use crate::call::{CallError, bad_answer};
use crate::config::EngineConfig;
use crate::error::DriverError;
use crate::proxy::{Connector, Proxies, proxy_error};
use crate::tls::{certificate_refusal, explain};
use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
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
    client: Client<Connector, Full<Bytes>>,
    proxies: Arc<Proxies>,
    allow_insecure_http: bool,
    response_timeout: Duration,
    idle_body_timeout: Duration,
    xml_cap: usize,
    user_agent: HeaderValue,
}

impl Http {
    /// A client per the engine's configuration (its trust and proxies, HTTP/1.1, pooled
    /// connections). Refuses a CA file or a proxy URL that cannot be used.
    pub(crate) fn new(config: &EngineConfig) -> Result<Http, DriverError> {
        let tls = config.trust.client_config().map_err(DriverError::Config)?;
        let proxies = Arc::new(Proxies::new(&config.proxy).map_err(DriverError::Config)?);
        if let Some(summary) = proxies.summary() {
            tracing::info!(proxies = %summary, "requests go through a proxy unless NO_PROXY says otherwise");
        }
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(config.connect_timeout));
        tcp.set_nodelay(true);
        let connector = Connector::new(tcp, tls, Arc::clone(&proxies));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.concurrency.max(1) * 2)
            .build(connector);
        Ok(Http {
            client,
            proxies,
            allow_insecure_http: config.allow_insecure_http,
            response_timeout: config.response_timeout,
            idle_body_timeout: config.idle_body_timeout,
            xml_cap: config.xml_body_cap,
            user_agent: HeaderValue::from_static(concat!("reportflow/", env!("CARGO_PKG_VERSION"))),
        })
    }

    /// Why a request to `uri` may not be sent the way the proxy rules would send it (plain
    /// http leaving this machine through a proxy), if so.
    pub(crate) fn refused_route(&self, uri: &Uri) -> Option<String> {
        self.proxies.refuse_plain(uri, self.allow_insecure_http)
    }

    /// A failed connection as a call error: a refused certificate or a proxy that wants
    /// credentials stops the run (the settings must change; no job is touched), anything
    /// else is a connection that may work next time.
    fn connect_failed(&self, uri: &Uri, error: &(dyn std::error::Error + 'static)) -> CallError {
        let host = match (uri.host(), uri.port_u16()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => format!(
                "{h}:{}",
                if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                }
            ),
            _ => redact(uri),
        };
        if let Some(problem) = certificate_refusal(error) {
            let proxy = self.proxies.describe(uri);
            return CallError::Local(DriverError::Certificate(explain(
                problem,
                &host,
                proxy.as_deref(),
            )));
        }
        if let Some(proxy) = proxy_error(error) {
            if proxy.auth_required() {
                return CallError::Local(DriverError::Config(format!(
                    "could not connect to {}: {}",
                    redact(uri),
                    proxy.auth_advice()
                )));
            }
            return CallError::NotSent(format!(
                "could not connect to {}: {}",
                redact(uri),
                proxy.explain()
            ));
        }
        CallError::NotSent(format!(
            "could not connect to {}: {}",
            redact(uri),
            source_text(error)
        ))
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
        if let Some(why) = self.refused_route(uri) {
            return Err(bad_answer(why));
        }
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
            Ok(Err(e)) if e.is_connect() => Err(self.connect_failed(uri, &e)),
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
