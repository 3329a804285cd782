//! Whom the engine trusts over TLS (the built-in webpki roots or the operating system's store,
//! plus PEM bundles), and certificate refusals explained: what failed and what to do.

use rustls::client::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, RootCertStore};
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

/// The variable curl and OpenSSL read for a CA bundle; [`TrustConfig::from_env`] honours it.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// Which certificate authorities the engine trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustConfig {
    /// Trust the operating system's store (rustls-native-certs) instead of the built-in webpki
    /// roots. That loader reads the store the way OpenSSL does: where `SSL_CERT_FILE` or
    /// `SSL_CERT_DIR` is set, those replace the system's default locations.
    pub native_roots: bool,
    /// PEM files whose certificates are trusted as well, e.g. the CA of a proxy that inspects
    /// TLS, or of a private upstream.
    pub ca_files: Vec<PathBuf>,
}

impl TrustConfig {
    /// The built-in roots plus the bundle `SSL_CERT_FILE` names, when it is set and not empty.
    pub fn from_env() -> TrustConfig {
        TrustConfig {
            native_roots: false,
            ca_files: std::env::var_os(SSL_CERT_FILE)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .into_iter()
                .collect(),
        }
    }

    /// The rustls client configuration: the roots, then every CA file (ring; TLS 1.2 and 1.3).
    /// The error says which file or store is unusable and what to give instead.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let mut roots = RootCertStore::empty();
        if self.native_roots {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "while reading the operating system's certificate store");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "--native-roots: the operating system's certificate store holds no usable certificate; install its CA certificates (e.g. the ca-certificates package), or drop --native-roots and give the CA with --ca-file"
                        .to_string(),
                );
            }
        } else {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for file in &self.ca_files {
            let shown = file.display();
            let bytes = std::fs::read(file).map_err(|e| {
                format!(
                    "cannot read the CA file {shown}: {e}; give the PEM file of the certificate authority to trust (--ca-file, REPORTFLOW_CA_FILE or SSL_CERT_FILE)"
                )
            })?;
            let certs = CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    format!("the CA file {shown} is not valid PEM ({e}); give a file of -----BEGIN CERTIFICATE----- blocks")
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "the CA file {shown} holds no certificate (no -----BEGIN CERTIFICATE----- block); give the PEM file of the certificate authority to trust"
                ));
            }
            let (added, ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "the CA file {shown} holds no certificate that can be trusted ({ignored} could not be read as a certificate authority); give the CA's certificate in PEM"
                ));
            }
            if ignored > 0 {
                tracing::warn!(file = %shown, ignored, "some certificates of the CA file were not usable");
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// The certificate refusal somewhere in an error's chain, if that is what it is. (An
/// `io::Error` hides the error it wraps from `source()`, so each is unwrapped too.)
pub(crate) fn certificate_refusal<'a>(
    mut error: &'a (dyn Error + 'static),
) -> Option<&'a CertificateError> {
    loop {
        if let Some(rustls::Error::InvalidCertificate(problem)) =
            error.downcast_ref::<rustls::Error>()
        {
            return Some(problem);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            error = inner;
            continue;
        }
        error = error.source()?;
    }
}

/// What to say when `host`'s certificate was refused for `problem`; `proxy` names the proxy
/// the connection went through, if any.
pub(crate) fn explain(problem: &CertificateError, host: &str, proxy: Option<&str>) -> String {
    let inspecting = match proxy {
        Some(proxy) => format!(
            "the connection went through {proxy}; if it inspects TLS with your organisation's own certificate authority, give that CA's PEM file"
        ),
        None => "if a proxy or firewall inspects TLS with your organisation's own certificate authority, give that CA's PEM file".to_string(),
    };
    let trust = format!(
        "{inspecting} with --ca-file (or REPORTFLOW_CA_FILE, or SSL_CERT_FILE), or use --native-roots when the CA is in the operating system's store"
    );
    let what = match problem {
        CertificateError::UnknownIssuer => format!(
            "the TLS certificate of {host} was issued by a certificate authority that is not trusted (unknown issuer); {trust}"
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let presented = match problem {
                CertificateError::NotValidForNameContext { presented, .. }
                    if !presented.is_empty() =>
                {
                    format!(" (it is for {})", presented.join(", "))
                }
                _ => String::new(),
            };
            format!(
                "the TLS certificate of {host} is not valid for that name{presented} (wrong host name); check the host of the URL (--base-url, BANDWIDTH_TOKEN_URL); {trust}"
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let when = match problem {
                CertificateError::ExpiredContext { not_after, .. } => {
                    format!(" on {}", date(not_after.as_secs()))
                }
                _ => String::new(),
            };
            format!(
                "the TLS certificate of {host} expired{when}; check this machine's clock, else the server's certificate must be renewed by its operator"
            )
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("the TLS certificate of {host} is not valid yet; check this machine's clock")
        }
        CertificateError::Revoked => format!(
            "the TLS certificate of {host} was revoked; the server's operator must replace it"
        ),
        other => format!("the TLS certificate of {host} was refused ({other}); {trust}"),
    };
    format!("{what}. Nothing was sent; run again once fixed")
}

/// A Unix time as an RFC 3339 instant (seconds).
fn date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| format!("{secs} (Unix time)"), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn a_refusal_is_found_inside_io_errors_and_explained() {
        let inner = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let outer = io::Error::other(inner);
        let found = certificate_refusal(&outer).expect("found");
        assert_eq!(found, &CertificateError::UnknownIssuer);
        let text = explain(found, "dashboard.bandwidth.com:443", None);
        assert!(text.contains("unknown issuer"), "{text}");
        assert!(text.contains("--ca-file"), "{text}");
        let plain = io::Error::other("connection refused");
        assert!(certificate_refusal(&plain).is_none());
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").expect("write");
        let trust = |file: &std::path::Path| TrustConfig {
            native_roots: false,
            ca_files: vec![file.to_path_buf()],
        };
        let refused = trust(&empty).client_config().expect_err("no certificate");
        assert!(refused.contains("holds no certificate"), "{refused}");
        let missing = trust(&dir.path().join("missing.pem"))
            .client_config()
            .expect_err("missing");
        assert!(missing.contains("cannot read the CA file"), "{missing}");
        assert!(TrustConfig::default().client_config().is_ok());
    }
}
