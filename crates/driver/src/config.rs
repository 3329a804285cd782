//! How an engine is set up: where things go, whom it talks to, and its limits.

use crate::FileLayout;
pub use crate::proxy::ProxyConfig;
pub use crate::tls::TrustConfig;
use reportflow_core::{Label, PollPolicy};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Bandwidth's OAuth2 token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.bandwidth.com/api/v1/oauth2/token";

/// Credentials for the upstream. They live only in memory: never in the store, the logs or an
/// error message (`Debug` shows only which kind they are).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic with a Bandwidth API user.
    Basic {
        /// The API user name.
        username: String,
        /// Its password.
        password: String,
    },
    /// OAuth2 client credentials; a bearer token is fetched from `token_url` and refreshed.
    OAuth2 {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: String,
        /// Where tokens are issued.
        token_url: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { .. } => f.write_str("Credentials::Basic { <redacted> }"),
            Self::OAuth2 { token_url, .. } => {
                write!(
                    f,
                    "Credentials::OAuth2 {{ token_url: {token_url:?}, <redacted> }}"
                )
            }
        }
    }
}

/// How requests are retried on transient failures (exponential backoff with jitter, by backon).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// First delay.
    pub min_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Retries after the first try before a request is given up as unavailable.
    pub max_times: usize,
}

impl Default for RetryConfig {
    /// 200 ms doubling to 30 s, 10 retries (about 3 minutes in all).
    fn default() -> Self {
        RetryConfig {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_times: 10,
        }
    }
}

/// Everything an [`crate::Engine`] needs to know.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The store directory.
    pub store_dir: PathBuf,
    /// Where report files are written.
    pub out_dir: PathBuf,
    /// Where under `out_dir` each file goes; `None`: flat, under its upstream name.
    pub layout: Option<FileLayout>,
    /// Drive only the jobs with this label (`None`: every live job).
    pub only_label: Option<Label>,
    /// The API base, e.g. `https://dashboard.bandwidth.com/api`.
    pub base_url: String,
    /// Credentials; only `run` needs them.
    pub credentials: Option<Credentials>,
    /// Allow plain `http://` to hosts other than loopback (off: only loopback may be plain).
    pub allow_insecure_http: bool,
    /// Jobs worked on at once.
    pub concurrency: usize,
    /// Jobs of one account worked on at once.
    pub per_account_concurrency: usize,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time to receive a response head.
    pub response_timeout: Duration,
    /// Longest pause inside a response body.
    pub idle_body_timeout: Duration,
    /// Largest XML body accepted, in bytes.
    pub xml_body_cap: usize,
    /// Retries of transient failures.
    pub retry: RetryConfig,
    /// The poll policy given to newly submitted jobs.
    pub poll: PollPolicy,
    /// Start a new attempt automatically when a report's output expired.
    pub re_request_expired: bool,
    /// The most attempts a job gets through automatic re-requests.
    pub max_attempts: u32,
    /// Which requests go through a proxy (none by default; [`ProxyConfig::from_env`] reads
    /// curl's variables).
    pub proxy: ProxyConfig,
    /// Which certificate authorities are trusted (the built-in webpki roots by default).
    pub trust: TrustConfig,
}

impl EngineConfig {
    /// A configuration with the defaults: 16 jobs at once (8 per account), 10 s to connect,
    /// 60 s for a response head or a pause in a body, 1 MiB XML cap, no automatic re-requests,
    /// no proxy, the built-in webpki roots. Nothing is read from the environment.
    pub fn new(store_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>, base_url: &str) -> Self {
        EngineConfig {
            store_dir: store_dir.into(),
            out_dir: out_dir.into(),
            layout: None,
            only_label: None,
            base_url: base_url.trim_end_matches('/').to_string(),
            credentials: None,
            allow_insecure_http: false,
            concurrency: 16,
            per_account_concurrency: 8,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            idle_body_timeout: Duration::from_secs(60),
            xml_body_cap: 1024 * 1024,
            retry: RetryConfig::default(),
            poll: PollPolicy::default(),
            re_request_expired: false,
            max_attempts: 3,
            proxy: ProxyConfig::default(),
            trust: TrustConfig::default(),
        }
    }
}
