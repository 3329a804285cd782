//! The simulator's TLS: a certificate authority and a server certificate generated at start
//! (rcgen, ring), and the rustls acceptor both listeners use.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::SimError;
use crate::config::SimTls;

/// What a TLS simulator serves with.
pub(crate) struct Tls {
    /// Accepts the TLS connections of both listeners.
    pub acceptor: TlsAcceptor,
    /// The CA certificate in PEM, for clients to trust.
    pub ca_pem: String,
}

fn failed(what: &str, e: impl std::fmt::Display) -> SimError {
    SimError::Tls(format!("cannot {what}: {e}"))
}

/// Generates the CA and the server certificate `tls` asks for, writes the CA where it says.
pub(crate) fn generate(tls: &SimTls) -> Result<Tls, SimError> {
    let ca_key = KeyPair::generate().map_err(|e| failed("generate the CA key", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| failed("describe the CA certificate", e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "reportflow simulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params
        .self_signed(&ca_key)
        .map_err(|e| failed("sign the CA certificate", e))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let names: Vec<String> = tls
        .names
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let key = KeyPair::generate().map_err(|e| failed("generate the server key", e))?;
    let mut params = CertificateParams::new(names.clone())
        .map_err(|e| failed(&format!("describe a certificate for {names:?}"), e))?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.is_ca = IsCa::NoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if tls.expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2020, 12, 31);
    }
    let server = params
        .signed_by(&key, &issuer)
        .map_err(|e| failed("sign the server certificate", e))?;

    let chain = vec![
        server.der().clone(),
        CertificateDer::from(ca.der().to_vec()),
    ];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("set up TLS", e))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| failed("use the server certificate", e))?;
    let ca_pem = ca.pem();
    if let Some(path) = &tls.ca_file {
        std::fs::write(path, &ca_pem).map_err(|e| {
            SimError::Tls(format!(
                "cannot write the CA certificate to {}: {e}; choose another path",
                path.display()
            ))
        })?;
    }
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem,
    })
}
