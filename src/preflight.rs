//! Checks before a run touches any job: is the upstream reachable, does it take the credentials?
//! A run that fails here changes nothing in the store.

use crate::error::CliError;
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
        Err(DriverError::Upstream(message)) if refused(&message) => {
            Err(CliError::Runtime(format!(
                "the upstream refused the credentials for account {account}: {message}; fix them and run again (nothing was changed)"
            )))
        }
        Err(DriverError::Upstream(message)) => {
            tracing::warn!("could not check the credentials ({message}); going on");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether an upstream failure message (`HTTP 401: ...`) is an authentication refusal.
pub fn refused(message: &str) -> bool {
    http_status(message).is_some_and(|s| s == 401 || s == 403)
}

/// The HTTP status at the start of an upstream failure message (`HTTP 404, upstream code ...`).
pub fn http_status(message: &str) -> Option<u16> {
    let rest = message.strip_prefix("HTTP ")?;
    rest.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_from_failure_messages() {
        assert_eq!(
            http_status("HTTP 401: report list: Unauthorized"),
            Some(401)
        );
        assert_eq!(
            http_status("HTTP 404, upstream code 19000: no such report"),
            Some(404)
        );
        assert_eq!(http_status("connection refused"), None);
        assert!(refused("HTTP 403: forbidden"));
    }

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
