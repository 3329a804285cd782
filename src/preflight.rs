//! Checks before a run touches any job: is the upstream reachable, does it take the credentials?
//! A run that fails here changes nothing in the store.

use crate::error::CliError;
use reportflow_core::Failure;
use reportflow_driver::{DriverError, Engine};

/// Fails with a runtime error unless a connection to the base URL opens the way requests go
/// (through the proxy that applies, TLS handshake and certificate check included) within the
/// engine's timeouts: the engine would otherwise retry for minutes before failing every job.
pub async fn reachable(engine: &Engine) -> Result<(), CliError> {
    let base_url = &engine.config().base_url;
    let uri: http::Uri = base_url.parse().map_err(|e| {
        CliError::Usage(format!(
            "the base URL {base_url:?} is not a URL ({e}); pass e.g. --base-url https://dashboard.bandwidth.com/api"
        ))
    })?;
    let host = uri.host().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    match engine.probe().await {
        Ok(()) => Ok(()),
        Err(DriverError::Unreachable(why)) => Err(CliError::Runtime(format!(
            "cannot reach the upstream at {host}:{port} ({base_url}): {why}; check --base-url (or REPORTFLOW_BASE_URL), the proxy settings (HTTPS_PROXY, NO_PROXY) and the network, then run again (nothing was changed)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Asks for `account`'s report list: fails with a runtime error when the upstream refuses the
/// credentials (401/403), so that jobs are not failed one by one for it. Other upstream
/// trouble is left to the run's retries.
pub async fn authorized(engine: &Engine, account: &str) -> Result<(), CliError> {
    match engine.report_types(account).await {
        Ok(_) => Ok(()),
        Err(DriverError::Upstream(failure)) if refused(&failure) => {
            Err(CliError::Runtime(format!(
                "the upstream refused the credentials for account {account}: {failure}; fix them and run again (nothing was changed)"
            )))
        }
        Err(DriverError::Upstream(failure)) => {
            tracing::warn!("could not check the credentials ({failure}); going on");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether an upstream failure is an authentication refusal (401 or 403).
pub fn refused(failure: &Failure) -> bool {
    matches!(failure.http_status, Some(401 | 403))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reportflow_driver::EngineConfig;

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let dir = tempfile::tempdir().expect("temp dir");
        let base = format!("http://127.0.0.1:{port}/api");
        let config = EngineConfig::new(dir.path().join("store"), dir.path(), &base);
        let engine = Engine::open(config).expect("opens");
        let closed = reachable(&engine).await;
        assert!(
            matches!(&closed, Err(CliError::Runtime(m)) if m.contains(&format!("cannot reach the upstream at 127.0.0.1:{port}"))),
            "{:?}",
            closed.err().map(|e| e.to_string())
        );
    }
}
