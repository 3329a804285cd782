//! TLS to the database: rustls with ring and Mozilla's roots (webpki-roots), as the HTTP client.
//!
//! Whether TLS is used is the URL's `sslmode`, as tokio-postgres reads it: `disable` never,
//! `prefer` (the default) when the server offers it, `require` always. Where TLS is used the
//! server's certificate is always verified against the webpki roots and the URL's host name
//! (unlike libpq's `require`, which does not verify): a self-signed server certificate is
//! refused; use `sslmode=disable` on a trusted network instead.

use reportflow_store::PgError;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connector every connection of the store uses.
pub(crate) fn connector(url: &str) -> Result<MakeRustlsConnect, PgError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::Tls {
            url: url.to_string(),
            detail: format!("rustls refused its default protocol versions: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
