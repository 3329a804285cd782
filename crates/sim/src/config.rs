//! The simulator's configuration: every knob, with its default.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::civil::Date;

use crate::faults::{Endpoint, FaultPlan};

/// A range of file sizes in bytes; each file gets a size in `min..=max` derived from the seed
/// and the file's instance, so the same seed gives the same sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeRange {
    /// Smallest size, in bytes.
    pub min: u64,
    /// Largest size, in bytes (inclusive).
    pub max: u64,
}

impl SizeRange {
    /// Every file has exactly `bytes` bytes.
    pub const fn fixed(bytes: u64) -> Self {
        SizeRange {
            min: bytes,
            max: bytes,
        }
    }

    /// Sizes between `min` and `max` bytes (inclusive).
    pub const fn between(min: u64, max: u64) -> Self {
        SizeRange { min, max }
    }
}

/// A token bucket: `capacity` requests at once, refilled at `refill_per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Largest burst (tokens in a full bucket).
    pub capacity: u32,
    /// Tokens added per second.
    pub refill_per_second: f64,
}

/// How `X-RateLimit-Reset` is written on a `429` from a configured rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ResetUnit {
    /// Epoch seconds (this API). The default.
    #[default]
    Seconds,
    /// Epoch milliseconds (an older Bandwidth API).
    Milliseconds,
}

/// A billing date range that has no data: a `POST` whose whole range lies inside it (and whose
/// type matches, when `report_type` is set) answers `204 No Content` without a `Location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoDataRange {
    /// Only this billing type (upper case, e.g. `BDR`); `None` for every type.
    pub report_type: Option<String>,
    /// First day of the range with no data.
    pub start: Date,
    /// Last day of the range with no data (inclusive).
    pub end: Date,
}

/// The XML shape of error bodies (all occur upstream; see docs/upstream.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrorShape {
    /// `<AnyResponse><ResponseStatus><ErrorCode/><Description/></ResponseStatus></AnyResponse>`.
    /// The default.
    #[default]
    AnyResponse,
    /// `<{Root}><Error><Code/><Description/></Error></{Root}>`, `Root` being the endpoint's
    /// response element (e.g. `ReportInstanceResponse`).
    ErrorElement,
    /// `<{Root}><Errors><Code/><Description/></Errors>...</{Root}>`, one `<Errors>` per problem.
    RepeatedErrors,
    /// Per endpoint: creates of instances use `RepeatedErrors`, billing routes `ErrorElement`,
    /// everything else `AnyResponse`.
    Varied,
}

/// An answer the simulator gives, as it is, to one method and path instead of its own: to serve
/// a real upstream body byte for byte (e.g. one from Bandwidth's SDK tests), or a shape the
/// simulator would not render itself. Faults, rate limits and authentication still apply first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedAnswer {
    /// The method, e.g. `GET` (matched in any case).
    pub method: String,
    /// The path under the base URL, e.g. `/accounts/9900000/reports/123` (no query string).
    pub path: String,
    /// The status, e.g. `200`.
    pub status: u16,
    /// Headers besides `Content-Length` (always the body's); `Content-Type` defaults to
    /// `application/xml; charset=utf-8` when not given.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl FixedAnswer {
    /// A `200` to `GET path` with `body` as XML.
    pub fn get(path: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        FixedAnswer {
            method: "GET".into(),
            path: path.into(),
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// TLS for both origins: a certificate authority and a server certificate generated at start
/// (rcgen). Clients trust the CA from [`crate::SimHandle::ca_pem`] or the file it is written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTls {
    /// Names the server certificate is valid for (DNS names or IP addresses). Default
    /// `127.0.0.1` and `localhost`; another name makes a client see a certificate for the
    /// wrong host.
    pub names: Vec<String>,
    /// Whether the server certificate is expired (valid only during 2020). Default `false`.
    pub expired: bool,
    /// Where the CA certificate is written in PEM at start, if anywhere. Default `None`.
    pub ca_file: Option<PathBuf>,
}

impl Default for SimTls {
    fn default() -> Self {
        SimTls {
            names: vec!["127.0.0.1".into(), "localhost".into()],
            expired: false,
            ca_file: None,
        }
    }
}

/// Configuration of a simulated upstream. Build it with `SimConfig { field: .., ..Default::default() }`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Seed of every pseudo-random choice: faults, file sizes and contents, billing ids,
    /// tokens, processing jitter. Default `0`.
    pub seed: u64,
    /// Port of the API listener on 127.0.0.1; `0` picks a free port. Default `0`.
    pub port: u16,
    /// Port of the second origin (signed download URLs); `0` picks a free port. Default `0`.
    pub redirect_port: u16,
    /// The host name of the second origin in the URLs the 307s point to. It listens on
    /// 127.0.0.1 whatever the name; `localhost` makes it another host than the API's for a
    /// client's proxy rules (`NO_PROXY`). Default `127.0.0.1`.
    pub redirect_host: String,
    /// HTTP Basic user name. Default `"demo"`.
    pub username: String,
    /// HTTP Basic password. Default `"demo-secret"`.
    pub password: String,
    /// Whether the API accepts Basic auth; `false` simulates its decommissioning (only bearer
    /// tokens work). Default `true`.
    pub basic_auth: bool,
    /// OAuth2 client id (sent as the Basic user to the token endpoint). Default `"demo-client"`.
    pub client_id: String,
    /// OAuth2 client secret. Default `"demo-client-secret"`.
    pub client_secret: String,
    /// How long an issued bearer token is accepted (`expires_in` says the whole seconds).
    /// Default 3600 s.
    pub token_lifetime: Duration,
    /// How long an account report instance stays in progress. `ZERO` means ready at once.
    /// Default 2 s.
    pub processing_time: Duration,
    /// How long a billing report takes to reach `COMPLETED` (`RECEIVED` for the first half,
    /// `PROCESSING` for the second). `ZERO` means complete at once. Default 2 s.
    pub billing_processing_time: Duration,
    /// Extra processing time per instance or billing report, between zero and this, derived
    /// from the seed and the id. Default `ZERO`.
    pub processing_jitter: Duration,
    /// The `Status` literal of an instance in progress (not published upstream).
    /// Default `"Processing"`.
    pub in_progress_status: String,
    /// Whether a finished billing report says `COMPLETE` instead of `COMPLETED`. Default `false`.
    pub billing_complete_short: bool,
    /// Size of account report files. Default 4 KiB to 64 KiB.
    pub file_size: SizeRange,
    /// Per report id, a size range that replaces `file_size`. Default empty.
    pub report_file_sizes: BTreeMap<u32, SizeRange>,
    /// Size of the CSV inside a billing zip (approximate: whole rows; at most 64 MiB, as the
    /// zip is built in memory). Default 1 KiB to 16 KiB.
    pub billing_file_size: SizeRange,
    /// Whether a ready account report's `/file` answers `307` to a signed URL on the second
    /// origin instead of `200`. Default `false`.
    pub redirect_files: bool,
    /// How long a signed download URL stays valid. Default 300 s.
    pub redirect_url_lifetime: Duration,
    /// Days ahead of today used as `ExpiresAt` when a create omits it. Default 7.
    pub default_expiry_days: u32,
    /// After an instance becomes `Ready`, it turns `Expired` after this long (besides its
    /// `ExpiresAt` date passing). `None`: only the date counts. Default `None`.
    pub ready_lifetime: Option<Duration>,
    /// After a billing report completes, it is deleted after this long (status and file then
    /// answer 404 with 15613). `None`: kept forever. Default 36 hours.
    pub billing_ready_lifetime: Option<Duration>,
    /// Billing ranges with no data (`204 No Content`). Default: every type, all of 2001.
    pub no_data: Vec<NoDataRange>,
    /// Token-bucket rate limits per endpoint class. Default none.
    pub rate_limits: BTreeMap<Endpoint, RateLimit>,
    /// Unit of `X-RateLimit-Reset` on `429` from `rate_limits`. Default seconds.
    pub rate_limit_reset_unit: ResetUnit,
    /// Random faults. Default none.
    pub faults: FaultPlan,
    /// Shape of error bodies. Default [`ErrorShape::AnyResponse`].
    pub error_shape: ErrorShape,
    /// Whether XML bodies start with `<?xml ...?>`. Default `true`.
    pub xml_declaration: bool,
    /// Answers given as they are to one method and path (the first that matches), instead of
    /// the simulator's own. Default none.
    pub fixed_answers: Vec<FixedAnswer>,
    /// Serve both origins (and so the token endpoint) over TLS, `https://`. Default `None`:
    /// plain `http://`. Fixed at start: [`crate::SimHandle::configure`] does not change it.
    pub tls: Option<SimTls>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            port: 0,
            redirect_port: 0,
            redirect_host: "127.0.0.1".into(),
            username: "demo".into(),
            password: "demo-secret".into(),
            basic_auth: true,
            client_id: "demo-client".into(),
            client_secret: "demo-client-secret".into(),
            token_lifetime: Duration::from_secs(3600),
            processing_time: Duration::from_secs(2),
            billing_processing_time: Duration::from_secs(2),
            processing_jitter: Duration::ZERO,
            in_progress_status: "Processing".into(),
            billing_complete_short: false,
            file_size: SizeRange::between(4 * 1024, 64 * 1024),
            report_file_sizes: BTreeMap::new(),
            billing_file_size: SizeRange::between(1024, 16 * 1024),
            redirect_files: false,
            redirect_url_lifetime: Duration::from_secs(300),
            default_expiry_days: 7,
            ready_lifetime: None,
            billing_ready_lifetime: Some(Duration::from_secs(36 * 3600)),
            no_data: vec![NoDataRange {
                report_type: None,
                start: jiff::civil::date(2001, 1, 1),
                end: jiff::civil::date(2001, 12, 31),
            }],
            rate_limits: BTreeMap::new(),
            rate_limit_reset_unit: ResetUnit::Seconds,
            faults: FaultPlan::default(),
            error_shape: ErrorShape::AnyResponse,
            xml_declaration: true,
            fixed_answers: Vec::new(),
            tls: None,
        }
    }
}

/// Largest billing CSV, as billing zips are built in memory.
pub(crate) const MAX_BILLING_CSV: u64 = 64 * 1024 * 1024;

impl SimConfig {
    /// A configuration for tests: everything ready at once, no faults, small files.
    pub fn instant() -> Self {
        SimConfig {
            processing_time: Duration::ZERO,
            billing_processing_time: Duration::ZERO,
            ..SimConfig::default()
        }
    }

    /// This configuration served over TLS with the default certificate ([`SimTls::default`]).
    pub fn with_tls(self) -> Self {
        SimConfig {
            tls: Some(SimTls::default()),
            ..self
        }
    }

    /// The size range of files of report `report_id`.
    pub(crate) fn size_range_of(&self, report_id: u32) -> SizeRange {
        self.report_file_sizes
            .get(&report_id)
            .copied()
            .unwrap_or(self.file_size)
    }

    /// Checks the knobs that can be inconsistent; the message says what to change.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let ranges = std::iter::once(("file_size", self.file_size))
            .chain(std::iter::once((
                "billing_file_size",
                self.billing_file_size,
            )))
            .chain(
                self.report_file_sizes
                    .values()
                    .map(|r| ("report_file_sizes", *r)),
            );
        for (name, range) in ranges {
            if range.min > range.max {
                return Err(format!(
                    "{name}: min {} is larger than max {}; swap them",
                    range.min, range.max
                ));
            }
        }
        if self.billing_file_size.max > MAX_BILLING_CSV {
            return Err(format!(
                "billing_file_size.max {} exceeds {MAX_BILLING_CSV} bytes (billing zips are built in memory); lower it",
                self.billing_file_size.max
            ));
        }
        if self.in_progress_status.is_empty()
            || ["Ready", "Expired"].contains(&self.in_progress_status.as_str())
        {
            return Err(format!(
                "in_progress_status {:?} must be non-empty and differ from Ready and Expired",
                self.in_progress_status
            ));
        }
        if let Some((e, l)) = self.rate_limits.iter().find(|(_, l)| {
            l.capacity == 0 || l.refill_per_second.is_nan() || l.refill_per_second < 0.0
        }) {
            return Err(format!(
                "rate limit on {e}: capacity {} and refill {} must be positive (refill may be 0)",
                l.capacity, l.refill_per_second
            ));
        }
        if let Some(a) = self.fixed_answers.iter().find(|a| {
            http::StatusCode::from_u16(a.status).is_err()
                || !a.path.starts_with('/')
                || a.headers.iter().any(|(n, v)| {
                    http::HeaderName::from_bytes(n.as_bytes()).is_err()
                        || http::HeaderValue::from_str(v).is_err()
                })
        }) {
            return Err(format!(
                "fixed answer to {} {}: the status must be 100..=999, the path start with / and every header be valid",
                a.method, a.path
            ));
        }
        if let Some(r) = self.no_data.iter().find(|r| r.start > r.end) {
            return Err(format!(
                "no-data range {}..{} starts after it ends",
                r.start, r.end
            ));
        }
        if !matches!(self.redirect_host.as_str(), "127.0.0.1" | "localhost") {
            return Err(format!(
                "redirect_host {:?}: the second origin listens on 127.0.0.1, so its name must be 127.0.0.1 or localhost",
                self.redirect_host
            ));
        }
        if let Some(tls) = &self.tls
            && tls.names.iter().all(|n| n.trim().is_empty())
        {
            return Err("tls.names is empty: name at least one host the certificate is for (e.g. 127.0.0.1)".into());
        }
        self.faults.validate()
    }
}
