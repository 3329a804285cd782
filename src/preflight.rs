//! Checks before a run touches any job: is the upstream reachable, does it take the credentials?
//! A run that fails here changes nothing in the store.

use crate::error::CliError;
use reportflow_core::Failure;
use reportflow_driver::{DriverError, Engine};
use std::io;
use std::time::Duration;
use tokio::net::TcpStream;

/// Fails with a runtime error unless a TCP connection to the base URL's host opens within
/// `timeout` (the engine would otherwise retry for minutes before failing every job).
pub async fn reachable(base_url: &str, timeout: Duration) -> Result<(), CliError> {
    let uri: http::Uri = base_url.parse().map_err(|e| {
        CliError::Usage(format!(
            "the base URL {base_url:?} is not a URL ({e}); pass e.g. --base-url https://dashboard.bandwidth.com/api"
        ))
    })?;
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "the base URL {base_url:?} names no host; pass e.g. --base-url https://dashboard.bandwidth.com/api"
            ))
        })?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let unreachable = |why: String| {
        CliError::Runtime(format!(
            "cannot reach the upstream at {host}:{port} ({base_url}): {why}; check --base-url (or REPORTFLOW_BASE_URL) and the network, then run again (nothing was changed)"
        ))
    };
    let connect = async {
        let mut last = io::Error::other("the host name resolved to no address");
        for addr in tokio::net::lookup_host((host.as_str(), port)).await? {
            match TcpStream::connect(addr).await {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no connection within {} s",
            timeout.as_secs()
        ))),
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

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_a_bad_url_a_usage_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let closed = reachable(
            &format!("http://127.0.0.1:{port}/api"),
            Duration::from_secs(2),
        )
        .await;
        assert!(matches!(closed, Err(CliError::Runtime(m)) if m.contains("cannot reach")));
        let bad = reachable("not a url", Duration::from_secs(2)).await;
        assert!(matches!(bad, Err(CliError::Usage(_))));
    }
}
