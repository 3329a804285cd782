//! How an engine is set up: where things go, whom it talks to, and its limits.

use crate::FileLayout;
pub use crate::download::DownloadWrites;
use crate::error::DriverError;
pub use crate::location::StoreLocation;
pub use crate::proxy::ProxyConfig;
pub use crate::tls::TrustConfig;
use crate::url::checked;
use http::Uri;
use reportflow_core::{Label, Policies, PollPolicy, RetryPolicy};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How long a claim lasts on a shared store unless configured otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// The shortest lease accepted (tests use 2 to 3 s).
const MIN_LEASE: Duration = Duration::from_secs(1);
/// The longest lease accepted.
const MAX_LEASE: Duration = Duration::from_secs(3600);

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

/// How one idempotent GET (a status, a page of the instance listing, a file, the catalogue) is
/// retried inside a step: exponential backoff with jitter (backon), a few times, so that a
/// glitch costs a job no wait of its own. POSTs are never retried here. When these retries run
/// out, the failure goes to the core as a failed step, and the job's [`RetryPolicy`] decides
/// when to try again and when to give up. (429 answers are not counted here: they hold their
/// endpoint for every job until the upstream's reset.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// First delay.
    pub min_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Retries after the first try.
    pub max_times: usize,
}

impl Default for RetryConfig {
    /// 200 ms doubling to 2 s, 3 retries (about 1.5 s in all).
    fn default() -> Self {
        RetryConfig {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_times: 3,
        }
    }
}

/// Everything an [`crate::Engine`] needs to know.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The store: a directory (sled) or a PostgreSQL URL.
    pub store: StoreLocation,
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
    /// Jobs worked on at once. On a shared store (PostgreSQL): jobs this worker holds leases on
    /// at once, being stepped or due within a moment (see `docs/store.md`).
    pub concurrency: usize,
    /// Jobs of one account worked on at once: by this process on a sled store; by all the
    /// workers together on a shared store (the claim counts every worker's leases).
    pub per_account_concurrency: usize,
    /// On a shared store: how long a worker's claim on a job lasts without being renewed (by
    /// the database's clock). A dead worker's jobs move to another worker after about this
    /// long; renewals come every third of it. A create request under a lease is given at most
    /// half of it. Ignored by the sled store.
    pub lease: Duration,
    /// On a shared store: this worker's name, recorded with its leases and every step it
    /// writes; `None`: `<host>-<process id>-<start time>`. Two live workers must not share one.
    pub worker_name: Option<String>,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time to receive a response head.
    pub response_timeout: Duration,
    /// Longest pause inside a response body.
    pub idle_body_timeout: Duration,
    /// Largest XML body accepted, in bytes.
    pub xml_body_cap: usize,
    /// The retry of one idempotent GET inside a step.
    pub retry: RetryConfig,
    /// The poll policy given to newly submitted jobs (stored with each job).
    pub poll: PollPolicy,
    /// The retry policy given to newly submitted jobs (stored with each job): the waits and
    /// budgets of unconfirmed creates and failed steps, and automatic re-requests of expired
    /// outputs (`max_attempts`).
    pub retry_policy: RetryPolicy,
    /// Which requests go through a proxy (none by default; [`ProxyConfig::from_env`] reads
    /// curl's variables).
    pub proxy: ProxyConfig,
    /// Which certificate authorities are trusted (the built-in webpki roots by default).
    pub trust: TrustConfig,
    /// How downloaded files reach the disk: directly (the default) or through the page cache
    /// (for a file read again right away). Either way a file is synced before it is named.
    pub download_writes: DownloadWrites,
}

impl EngineConfig {
    /// A configuration with the defaults: 16 jobs at once (8 per account), 10 s to connect,
    /// 60 s for a response head or a pause in a body, 1 MiB XML cap, the default policies
    /// ([`PollPolicy::default`], [`RetryPolicy::default`]: no automatic re-requests), no proxy,
    /// the built-in webpki roots, direct writes of downloads, a 60 s lease on a shared store.
    /// `store` is a directory or a `postgres://` URL ([`StoreLocation::parse`]). Nothing is
    /// read from the environment.
    pub fn new(
        store: impl Into<StoreLocation>,
        out_dir: impl Into<PathBuf>,
        base_url: &str,
    ) -> Self {
        EngineConfig {
            store: store.into(),
            out_dir: out_dir.into(),
            layout: None,
            only_label: None,
            base_url: base_url.trim_end_matches('/').to_string(),
            credentials: None,
            allow_insecure_http: false,
            concurrency: 16,
            per_account_concurrency: 8,
            lease: DEFAULT_LEASE,
            worker_name: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            idle_body_timeout: Duration::from_secs(60),
            xml_body_cap: 1024 * 1024,
            retry: RetryConfig::default(),
            poll: PollPolicy::default(),
            retry_policy: RetryPolicy::default(),
            proxy: ProxyConfig::default(),
            trust: TrustConfig::default(),
            download_writes: DownloadWrites::default(),
        }
    }

    /// The longest a create request may take on a shared store, from the moment its intent is
    /// recorded under the lease: the connect and response timeouts, but at most half the lease,
    /// so that the lease outlives the request with room to spare (`docs/store.md`, *Leases and
    /// fencing*). The request is abandoned (an unconfirmed create) when it takes longer.
    pub fn create_window(&self) -> Duration {
        (self.connect_timeout + self.response_timeout).min(self.lease / 2)
    }

    /// The policies a job submitted now is stored with.
    pub fn policies(&self) -> Policies {
        Policies {
            poll: self.poll.clone(),
            retry: self.retry_policy.clone(),
        }
    }

    /// Checks the whole configuration without touching the disk or the network: the URLs, the
    /// bounds and the policies. Every command checks it first, so a bad setting is reported
    /// before anything is stored or sent.
    pub fn validate(&self) -> Result<(), DriverError> {
        self.base_uri().map(|_| ())
    }

    /// The checked base URL (and the checks of [`EngineConfig::validate`]).
    pub(crate) fn base_uri(&self) -> Result<Uri, DriverError> {
        let base = checked(&self.base_url, self.allow_insecure_http)
            .map_err(|e| DriverError::Config(format!("bad base URL: {e}")))?;
        if let Some(Credentials::OAuth2 { token_url, .. }) = &self.credentials {
            checked(token_url, self.allow_insecure_http)
                .map_err(|e| DriverError::Config(format!("bad OAuth2 token URL: {e}")))?;
        }
        if self.concurrency == 0 || self.per_account_concurrency == 0 {
            return Err(DriverError::Config(
                "the concurrency must be at least 1".to_string(),
            ));
        }
        if self.lease < MIN_LEASE || self.lease > MAX_LEASE {
            return Err(DriverError::Config(format!(
                "the lease must last from {} s to {} s; the default, {} s, suits most uses",
                MIN_LEASE.as_secs(),
                MAX_LEASE.as_secs(),
                DEFAULT_LEASE.as_secs()
            )));
        }
        self.policies().validate()?;
        Ok(base)
    }
}
