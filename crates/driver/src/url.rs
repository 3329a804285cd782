//! URLs the engine may talk to, and where their origins differ.

use http::Uri;
use http::uri::Scheme;
use std::net::IpAddr;

/// A URL's origin: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

/// The origin of an absolute URL.
pub(crate) fn origin(uri: &Uri) -> Option<Origin> {
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some(Origin { scheme, host, port })
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parses an absolute URL the engine may request: `https://`, or `http://` to loopback (or to
/// any host when `allow_insecure_http`). The error says why not.
pub(crate) fn checked(url: &str, allow_insecure_http: bool) -> Result<Uri, String> {
    let uri: Uri = url.parse().map_err(|_| {
        format!(
            "{url:?} is not a URL; give an absolute URL such as https://dashboard.bandwidth.com/api"
        )
    })?;
    let host = uri.host().ok_or_else(|| {
        format!(
            "{url:?} has no host; give an absolute URL such as https://dashboard.bandwidth.com/api"
        )
    })?;
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => Ok(uri),
        Some(s) if *s == Scheme::HTTP && (is_loopback(host) || allow_insecure_http) => Ok(uri),
        Some(s) if *s == Scheme::HTTP => Err(format!(
            "{url:?} is plain http to a host that is not loopback: credentials would travel unencrypted; use https (or allow insecure http explicitly)"
        )),
        _ => Err(format!("{url:?} is neither http nor https")),
    }
}

/// Resolves a `Location` header against the URL it answered: absolute URLs as given,
/// absolute paths on the same origin.
pub(crate) fn resolve(base: &Uri, location: &str) -> Option<String> {
    let location = location.trim();
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    if location.starts_with('/') {
        let scheme = base.scheme_str()?;
        let authority = base.authority()?;
        return Some(format!("{scheme}://{authority}{location}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        assert!(checked("https://dashboard.bandwidth.com/api", false).is_ok());
        assert!(checked("http://127.0.0.1:8080/api", false).is_ok());
        assert!(checked("http://localhost:1/api", false).is_ok());
        assert!(checked("http://[::1]:1/api", false).is_ok());
        let refused = checked("http://example.com/api", false).expect_err("not loopback");
        assert!(refused.contains("not loopback"), "{refused}");
        assert!(checked("http://example.com/api", true).is_ok());
        assert!(checked("ftp://example.com/", true).is_err());
        assert!(checked("not a url", true).is_err());
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a: Uri = "http://127.0.0.1:80/a".parse().expect("uri");
        let b: Uri = "http://127.0.0.1/b".parse().expect("uri");
        let c: Uri = "http://127.0.0.1:81/a".parse().expect("uri");
        assert_eq!(origin(&a), origin(&b));
        assert_ne!(origin(&a), origin(&c));
        assert_eq!(
            resolve(&a, "/x/y").as_deref(),
            Some("http://127.0.0.1:80/x/y")
        );
        assert_eq!(resolve(&a, "https://z/q").as_deref(), Some("https://z/q"));
        assert_eq!(resolve(&a, "relative"), None);
    }
}
