//! Proxies with curl's rules: which requests go through one (hyper-util's matcher:
//! `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), and the connector that opens every
//! connection, directly or through a `CONNECT` tunnel (hyper-util's `Tunnel`), with TLS to the
//! upstream on top for `https://` URLs.

use crate::http::redact;
use crate::url::is_loopback;
use http::Uri;
use http::uri::Scheme;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use rustls::client::ClientConfig;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What hyper-util's `Tunnel` says when the proxy answered `407` (its error type is private).
const PROXY_AUTH_REQUIRED: &str = "tunnel error: proxy authorization required";
/// What it says when the proxy answered the `CONNECT` with another error status.
const TUNNEL_REFUSED: &str = "tunnel error: unsuccessful";

/// Which requests go through a proxy, with curl's variables and rules. A proxy URL may carry
/// credentials (`http://user:password@proxy:3128`); they go to the proxy only, in the
/// `Proxy-Authorization` of its `CONNECT`, and never into logs or messages.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The proxy of `https://` URLs (`HTTPS_PROXY`).
    pub https: Option<String>,
    /// The proxy of `http://` URLs (`HTTP_PROXY`).
    pub http: Option<String>,
    /// The proxy of either scheme when its own is not set (`ALL_PROXY`).
    pub all: Option<String>,
    /// Hosts reached directly (`NO_PROXY`): comma-separated names (each also covers its
    /// subdomains), IP addresses, networks such as `10.0.0.0/8`, or `*` for every host.
    pub no_proxy: Option<String>,
}

/// The variables of each field, upper case first (it wins when both are set, as in
/// hyper-util's `Matcher::from_env`).
const VARIABLES: [[&str; 2]; 4] = [
    ["HTTPS_PROXY", "https_proxy"],
    ["HTTP_PROXY", "http_proxy"],
    ["ALL_PROXY", "all_proxy"],
    ["NO_PROXY", "no_proxy"],
];

impl ProxyConfig {
    /// curl's variables from the environment (read once, here): `HTTPS_PROXY`, `HTTP_PROXY`,
    /// `ALL_PROXY`, `NO_PROXY`, each also in lower case. Empty values count as unset.
    pub fn from_env() -> ProxyConfig {
        ProxyConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// The same from any source of variables.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> ProxyConfig {
        let [https, http, all, no_proxy] = VARIABLES.map(|names| {
            names
                .iter()
                .filter_map(|name| get(name))
                .map(|value| value.trim().to_string())
                .find(|value| !value.is_empty())
        });
        ProxyConfig {
            https,
            http,
            all,
            no_proxy,
        }
    }

    /// True when no request goes through a proxy.
    pub fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none() && self.all.is_none()
    }

    /// The proxy URLs that are set, with the variable each stands for.
    fn urls(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("HTTPS_PROXY", &self.https),
            ("HTTP_PROXY", &self.http),
            ("ALL_PROXY", &self.all),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
    }

    /// Checks that every proxy URL can be used: an `http://` proxy (or no scheme, as curl
    /// assumes) with a host. The error names the variable and shows the URL without credentials.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, url) in self.urls() {
            let shown = redact_url(url);
            let scheme = url
                .split_once("://")
                .map_or("http".to_string(), |(s, _)| s.to_ascii_lowercase());
            match scheme.as_str() {
                "http" => {}
                "https" => {
                    return Err(format!(
                        "{name}={shown}: TLS to the proxy itself (an https:// proxy URL) is not supported; give the proxy's http:// address (the CONNECT tunnel through it still carries TLS to the upstream end to end)"
                    ));
                }
                s if s.starts_with("socks") => {
                    return Err(format!(
                        "{name}={shown}: SOCKS proxies are not supported; give an HTTP proxy that allows CONNECT, e.g. http://proxy.example.com:3128"
                    ));
                }
                s => {
                    return Err(format!(
                        "{name}={shown}: {s}:// is not a proxy scheme; give an HTTP proxy, e.g. http://proxy.example.com:3128"
                    ));
                }
            }
            let probe = Uri::from_static("http://reportflow.invalid/");
            if Matcher::builder()
                .all(url)
                .build()
                .intercept(&probe)
                .is_none()
            {
                return Err(format!(
                    "{name}={shown} is not a proxy URL; give one such as http://proxy.example.com:3128 (with user:password@ before the host when the proxy asks for credentials)"
                ));
            }
        }
        Ok(())
    }

    /// The variable whose proxy serves URLs of `scheme`.
    fn variable_for(&self, scheme: Option<&str>) -> &'static str {
        let own = match scheme {
            Some("https") => ("HTTPS_PROXY", &self.https),
            _ => ("HTTP_PROXY", &self.http),
        };
        if own.1.is_some() { own.0 } else { "ALL_PROXY" }
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| v.as_deref().map(redact_url);
        f.debug_struct("ProxyConfig")
            .field("https", &shown(&self.https))
            .field("http", &shown(&self.http))
            .field("all", &shown(&self.all))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// A URL with any credentials before its host replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    // The last `@` ends the credentials, even when a password holds an unescaped `/` or `@`.
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}***@{host}"),
        None => url.to_string(),
    }
}

/// The proxy rules in force.
pub(crate) struct Proxies {
    config: ProxyConfig,
    matcher: Matcher,
}

impl Proxies {
    /// The rules of a checked configuration.
    pub(crate) fn new(config: &ProxyConfig) -> Result<Proxies, String> {
        config.check()?;
        let mut builder = Matcher::builder();
        if let Some(v) = &config.https {
            builder = builder.https(v.as_str());
        }
        if let Some(v) = &config.http {
            builder = builder.http(v.as_str());
        }
        if let Some(v) = &config.all {
            builder = builder.all(v.as_str());
        }
        if let Some(v) = &config.no_proxy {
            builder = builder.no(v.as_str());
        }
        Ok(Proxies {
            config: config.clone(),
            matcher: builder.build(),
        })
    }

    /// The proxy a request to `uri` goes through, if any.
    fn intercept(&self, uri: &Uri) -> Option<Intercept> {
        self.matcher.intercept(uri)
    }

    /// Names the proxy a request to `uri` goes through, for messages: `the proxy
    /// http://127.0.0.1:3128 (HTTPS_PROXY)`, never its credentials.
    pub(crate) fn describe(&self, uri: &Uri) -> Option<String> {
        let proxy = self.intercept(uri)?;
        Some(describe(&proxy, self.config.variable_for(uri.scheme_str())))
    }

    /// Why a plain `http://` request to `uri` may not go through its proxy: the loopback
    /// exception holds while the request stays on this machine, and a proxy elsewhere would
    /// carry it (and its credentials) unencrypted over the network.
    pub(crate) fn refuse_plain(&self, uri: &Uri, allow_insecure_http: bool) -> Option<String> {
        if allow_insecure_http || uri.scheme() != Some(&Scheme::HTTP) {
            return None;
        }
        let proxy = self.intercept(uri)?;
        if proxy.uri().host().is_some_and(is_loopback) {
            return None;
        }
        Some(format!(
            "{} is plain http and would leave this machine through {}: credentials would travel unencrypted; add its host to NO_PROXY, use https, or allow insecure http explicitly",
            redact(uri),
            describe(&proxy, self.config.variable_for(uri.scheme_str()))
        ))
    }

    /// One line for the log: which proxy serves which scheme, and the exceptions.
    pub(crate) fn summary(&self) -> Option<String> {
        if self.config.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = self
            .config
            .urls()
            .map(|(name, url)| format!("{name}={}", redact_url(url)))
            .collect();
        if let Some(no) = &self.config.no_proxy {
            parts.push(format!("NO_PROXY={no}"));
        }
        Some(parts.join(" "))
    }
}

fn describe(proxy: &Intercept, variable: &str) -> String {
    let uri = proxy.uri();
    let host = uri.host().unwrap_or("?");
    let port = uri.port_u16().unwrap_or(80);
    format!("the proxy http://{host}:{port} ({variable})")
}

/// A connection to the upstream, direct or tunnelled, with TLS for `https://`.
pub(crate) type Conn = MaybeHttpsStream<TokioIo<TcpStream>>;

/// Opens every connection of the pooled client: directly, or through the proxy the rules
/// pick. Through a proxy every scheme is tunnelled with `CONNECT`, so the proxy sees the host
/// and port only, never a request or its `Authorization`; the proxy's credentials go in the
/// `CONNECT` alone, never to the upstream.
#[derive(Clone)]
pub(crate) struct Connector {
    tcp: HttpConnector,
    tls: Arc<ClientConfig>,
    direct: HttpsConnector<HttpConnector>,
    proxies: Arc<Proxies>,
}

impl Connector {
    /// A connector over `tcp` (its timeouts and options) trusting `tls`.
    pub(crate) fn new(tcp: HttpConnector, tls: Arc<ClientConfig>, proxies: Arc<Proxies>) -> Self {
        let direct = HttpsConnector::from((tcp.clone(), tls.clone()));
        Connector {
            tcp,
            tls,
            direct,
            proxies,
        }
    }
}

/// A connection through a proxy that failed: which proxy, and why.
#[derive(Debug)]
pub(crate) struct ProxyError {
    proxy: String,
    target: String,
    source: BoxError,
}

impl ProxyError {
    /// True when the proxy asked for credentials (`407`) it was not given or refused.
    pub(crate) fn auth_required(&self) -> bool {
        self.source.to_string() == PROXY_AUTH_REQUIRED
    }

    /// What went wrong, for a message: which proxy, where to, and why.
    pub(crate) fn explain(&self) -> String {
        let mut text = self.source.to_string();
        let mut source = self.source.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if text == TUNNEL_REFUSED {
            text.push_str(" (the proxy answered the CONNECT with an error: wrong proxy credentials, a host or port it does not allow, or an upstream it cannot reach)");
        }
        format!("{self}: {text}")
    }

    /// What to say when the proxy wants credentials.
    pub(crate) fn auth_advice(&self) -> String {
        format!(
            "{} asked for credentials (407 Proxy Authentication Required) or refused the ones given; put them in the proxy URL, e.g. HTTPS_PROXY=http://user:password@host:port (percent-encode special characters)",
            self.proxy
        )
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "through {} to {}", self.proxy, self.target)
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Both paths use a fresh or cloned `HttpConnector`, which is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(proxy) = self.proxies.intercept(&dst) else {
            return self.direct.call(dst);
        };
        let variable = self.proxies.config.variable_for(dst.scheme_str());
        let proxy_name = describe(&proxy, variable);
        let mut tunnel = Tunnel::new(proxy.uri().clone(), self.tcp.clone());
        if let Some(auth) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        let mut connector = HttpsConnector::from((tunnel, self.tls.clone()));
        let dst = with_port(dst);
        let target = dst
            .authority()
            .map_or_else(String::new, |a| a.as_str().to_string());
        let connecting = connector.call(dst);
        Box::pin(async move {
            connecting.await.map_err(|source| {
                Box::new(ProxyError {
                    proxy: proxy_name,
                    target,
                    source,
                }) as BoxError
            })
        })
    }
}

/// `uri` with its port written out: the tunnel's `CONNECT` would otherwise assume 443, also
/// for `http://`.
fn with_port(uri: Uri) -> Uri {
    if uri.port().is_some() {
        return uri;
    }
    let port = if uri.scheme() == Some(&Scheme::HTTP) {
        80
    } else {
        443
    };
    let Some(host) = uri.host() else {
        return uri;
    };
    let mut parts = uri.clone().into_parts();
    match format!("{host}:{port}").parse() {
        Ok(authority) => {
            parts.authority = Some(authority);
            Uri::from_parts(parts).unwrap_or(uri)
        }
        Err(_) => uri,
    }
}

/// The first [`ProxyError`] in an error's chain.
pub(crate) fn proxy_error<'a>(
    mut error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ProxyError> {
    loop {
        if let Some(found) = error.downcast_ref::<ProxyError>() {
            return Some(found);
        }
        error = error.source()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> ProxyConfig {
        ProxyConfig::from_vars(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn variables_in_either_case_upper_case_first_empty_ones_unset() {
        let config = vars(&[
            ("https_proxy", "http://lower:3128"),
            ("HTTPS_PROXY", "http://upper:3128"),
            ("http_proxy", "http://plain:8080"),
            ("ALL_PROXY", ""),
            ("no_proxy", "localhost,.internal"),
        ]);
        assert_eq!(config.https.as_deref(), Some("http://upper:3128"));
        assert_eq!(config.http.as_deref(), Some("http://plain:8080"));
        assert_eq!(config.all, None);
        assert_eq!(config.no_proxy.as_deref(), Some("localhost,.internal"));
        assert!(vars(&[("NO_PROXY", "*")]).is_empty());
    }

    #[test]
    fn credentials_never_show() {
        let config = vars(&[("HTTPS_PROXY", "http://alice:s3cr%2Ft@proxy.corp:3128")]);
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert!(!debug.contains("alice"), "{debug}");
        assert!(debug.contains("***@proxy.corp:3128"), "{debug}");
        assert_eq!(redact_url("u:p/ss@host:1"), "***@host:1");
        assert_eq!(redact_url("http://host:1"), "http://host:1");
        let proxies = Proxies::new(&config).expect("usable");
        let uri = Uri::from_static("https://dashboard.bandwidth.com/api");
        let said = proxies.describe(&uri).expect("proxied");
        assert_eq!(said, "the proxy http://proxy.corp:3128 (HTTPS_PROXY)");
        let summary = proxies.summary().expect("a proxy");
        assert!(
            !summary.contains("s3cr") && summary.contains("HTTPS_PROXY=http://***@proxy.corp:3128")
        );
    }

    #[test]
    fn unusable_proxy_urls_are_refused_with_the_variable_named() {
        let https = vars(&[("HTTPS_PROXY", "https://u:secret@proxy:443")]);
        let refused = https.check().expect_err("https proxy");
        assert!(
            refused.starts_with("HTTPS_PROXY=https://***@proxy:443"),
            "{refused}"
        );
        assert!(!refused.contains("secret"));
        let socks = vars(&[("ALL_PROXY", "socks5h://proxy:1080")]);
        assert!(socks.check().expect_err("socks").contains("SOCKS"));
        let garbage = vars(&[("HTTP_PROXY", "http://")]);
        assert!(
            garbage
                .check()
                .expect_err("no host")
                .contains("not a proxy URL")
        );
        assert!(vars(&[("HTTPS_PROXY", "proxy.corp:3128")]).check().is_ok());
    }

    #[test]
    fn no_proxy_and_scheme_pick_the_proxy_with_curl_rules() {
        let config = vars(&[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("ALL_PROXY", "http://other:8080"),
            ("NO_PROXY", "internal.example, 10.0.0.0/8"),
        ]);
        let proxies = Proxies::new(&config).expect("usable");
        let via = |url: &'static str| proxies.describe(&Uri::from_static(url));
        assert_eq!(
            via("https://api.bandwidth.com/x").as_deref(),
            Some("the proxy http://secure:3128 (HTTPS_PROXY)")
        );
        assert_eq!(
            via("http://api.bandwidth.com/x").as_deref(),
            Some("the proxy http://other:8080 (ALL_PROXY)")
        );
        assert_eq!(via("https://files.internal.example/x"), None);
        assert_eq!(via("https://10.1.2.3/x"), None);
    }

    #[test]
    fn plain_http_through_a_proxy_elsewhere_is_refused_unless_allowed() {
        let remote = Proxies::new(&vars(&[("HTTP_PROXY", "http://proxy.corp:3128")])).expect("ok");
        let local = Proxies::new(&vars(&[("HTTP_PROXY", "http://127.0.0.1:3128")])).expect("ok");
        let sim = Uri::from_static("http://127.0.0.1:8080/api");
        let refused = remote.refuse_plain(&sim, false).expect("refused");
        assert!(refused.contains("NO_PROXY"), "{refused}");
        assert_eq!(remote.refuse_plain(&sim, true), None);
        assert_eq!(local.refuse_plain(&sim, false), None);
        let https = Uri::from_static("https://api.bandwidth.com/api");
        assert_eq!(remote.refuse_plain(&https, false), None);
    }

    #[test]
    fn a_tunnel_target_always_has_its_port() {
        let http = with_port(Uri::from_static("http://example.com/a?b"));
        assert_eq!(http.authority().map(|a| a.as_str()), Some("example.com:80"));
        let https = with_port(Uri::from_static("https://example.com/"));
        assert_eq!(
            https.authority().map(|a| a.as_str()),
            Some("example.com:443")
        );
        let given = with_port(Uri::from_static("https://example.com:8443/"));
        assert_eq!(
            given.authority().map(|a| a.as_str()),
            Some("example.com:8443")
        );
    }
}
