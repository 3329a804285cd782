//! What the simulator saw and did, for tests to check.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::faults::{Endpoint, Fault, FaultEvent};
use crate::files::Source;
use crate::lock;

/// How many injected faults [`SimStats::fault_log`] keeps (the first ones).
pub const FAULT_LOG_LIMIT: usize = 100_000;

/// Identifies an account report creation: account, report, output format and canonical
/// parameters (sorted by name, each parameter's values sorted).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceKey {
    /// The account id of the path.
    pub account: String,
    /// The report id.
    pub report_id: u32,
    /// The output format, lower case.
    pub format: String,
    /// `(name, values)` sorted by name, values sorted.
    pub parameters: Vec<(String, Vec<String>)>,
}

/// Identifies a billing report creation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingKey {
    /// The account id of the path.
    pub account: String,
    /// The billing type, as sent (e.g. `BDR`).
    pub report_type: String,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// Last day, `YYYY-MM-DD`.
    pub end: String,
}

/// Size and digest of a served file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    /// The name in `Content-Disposition`.
    pub file_name: String,
    /// Length in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
}

/// A snapshot of the simulator's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimStats {
    /// Account report instances created (answered 201, or applied with the response lost),
    /// per creation key.
    pub instance_creations: BTreeMap<InstanceKey, u64>,
    /// Billing reports created (201, or applied with the response lost), per key.
    pub billing_creations: BTreeMap<BillingKey, u64>,
    /// Billing creates answered `204 No Content`, per key.
    pub billing_no_data: BTreeMap<BillingKey, u64>,
    /// Requests per (endpoint class, status code); code `0` means the connection was dropped
    /// without a response.
    pub requests: BTreeMap<(Endpoint, u16), u64>,
    /// Bytes of file bodies (account, billing, redirected) handed to the connections.
    pub bytes_served: u64,
    /// Faults injected, per kind (without [`Fault::Pass`]).
    pub faults: BTreeMap<Fault, u64>,
    /// The first [`FAULT_LOG_LIMIT`] injected faults, in order.
    pub fault_log: Vec<FaultEvent>,
    /// Connections accepted on both listeners.
    pub connections: u64,
    /// Highest number of connections open at the same time.
    pub max_concurrent_connections: u64,
    /// TLS handshakes that failed or timed out (a client that refused the certificate, or
    /// spoke plain http to a TLS listener). A client that went away mid-handshake (closed,
    /// reset or killed) is not counted.
    pub tls_handshake_failures: u64,
    /// Requests that carried a `Proxy-Authorization` header: a client must never send its
    /// proxy's credentials to the upstream, so this stays `0`.
    pub proxy_authorization_requests: u64,
    /// Digest of every file streamed to its end at least once, keyed by the report's location
    /// (the `Location` of its create, e.g. `http://127.0.0.1:P/api/accounts/1/reports/2/instances/100001`).
    pub file_sha256: BTreeMap<String, FileDigest>,
}

impl SimStats {
    /// Instances created for this account and report, whatever the parameters.
    pub fn instance_creations_of(&self, account: &str, report_id: u32) -> u64 {
        self.instance_creations
            .iter()
            .filter(|(k, _)| k.account == account && k.report_id == report_id)
            .map(|(_, n)| n)
            .sum()
    }

    /// All instances created.
    pub fn total_instance_creations(&self) -> u64 {
        self.instance_creations.values().sum()
    }

    /// All billing reports created.
    pub fn total_billing_creations(&self) -> u64 {
        self.billing_creations.values().sum()
    }

    /// Requests to an endpoint class, whatever their status.
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.requests
            .iter()
            .filter(|((e, _), _)| *e == endpoint)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests to an endpoint class answered with `status` (`0`: dropped).
    pub fn status_count(&self, endpoint: Endpoint, status: u16) -> u64 {
        self.requests.get(&(endpoint, status)).copied().unwrap_or(0)
    }

    /// Times a fault kind was injected.
    pub fn fault_count(&self, fault: Fault) -> u64 {
        self.faults.get(&fault).copied().unwrap_or(0)
    }
}

/// A file served to its end whose digest is not computed yet: file name, size and where its
/// bytes came from (generated: a seed, not the bytes).
type Served = (String, u64, Source);

/// Shared counters behind the snapshot.
#[derive(Default)]
pub(crate) struct StatsCollector {
    inner: Mutex<SimStats>,
    /// Files served since the last snapshot, digested by the next one (held while digesting,
    /// so that a snapshot sees every file served before it).
    served: Mutex<BTreeMap<String, Served>>,
    bytes: AtomicU64,
    open: AtomicU64,
    max_open: AtomicU64,
    connections: AtomicU64,
}

impl StatsCollector {
    pub(crate) fn snapshot(&self) -> SimStats {
        {
            let mut served = lock(&self.served);
            for (location, (file_name, size, source)) in std::mem::take(&mut *served) {
                let digest = FileDigest {
                    file_name,
                    size,
                    sha256: source.sha256(size),
                };
                lock(&self.inner).file_sha256.insert(location, digest);
            }
        }
        let mut stats = lock(&self.inner).clone();
        stats.bytes_served = self.bytes.load(Ordering::Relaxed);
        stats.connections = self.connections.load(Ordering::Relaxed);
        stats.max_concurrent_connections = self.max_open.load(Ordering::Relaxed);
        stats
    }

    pub(crate) fn reset(&self) {
        let mut served = lock(&self.served);
        served.clear();
        *lock(&self.inner) = SimStats::default();
        drop(served);
        self.bytes.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
        self.max_open
            .store(self.open.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub(crate) fn request(&self, endpoint: Endpoint, status: u16) {
        *lock(&self.inner)
            .requests
            .entry((endpoint, status))
            .or_default() += 1;
    }

    pub(crate) fn tls_handshake_failed(&self) {
        lock(&self.inner).tls_handshake_failures += 1;
    }

    pub(crate) fn proxy_authorization_seen(&self) {
        lock(&self.inner).proxy_authorization_requests += 1;
    }

    pub(crate) fn fault(&self, event: FaultEvent) {
        let mut stats = lock(&self.inner);
        *stats.faults.entry(event.fault).or_default() += 1;
        if stats.fault_log.len() < FAULT_LOG_LIMIT {
            stats.fault_log.push(event);
        }
    }

    pub(crate) fn instance_created(&self, key: InstanceKey) {
        *lock(&self.inner).instance_creations.entry(key).or_default() += 1;
    }

    pub(crate) fn billing_created(&self, key: BillingKey, no_data: bool) {
        let mut stats = lock(&self.inner);
        let map = if no_data {
            &mut stats.billing_no_data
        } else {
            &mut stats.billing_creations
        };
        *map.entry(key).or_default() += 1;
    }

    pub(crate) fn bytes_served(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Records a file served to its end. A generated file's digest is computed by the next
    /// snapshot (serving it costs no hashing); a file held in memory is digested now, so that
    /// its bytes are not kept.
    pub(crate) fn file_served(
        &self,
        location: String,
        file_name: String,
        size: u64,
        source: Source,
    ) {
        if let Source::Bytes(_) = source {
            let digest = FileDigest {
                file_name,
                size,
                sha256: source.sha256(size),
            };
            lock(&self.inner).file_sha256.insert(location, digest);
        } else {
            lock(&self.served).insert(location, (file_name, size, source));
        }
    }

    /// Counts an accepted connection; the guard uncounts it when dropped.
    pub(crate) fn connection_opened(self: &std::sync::Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_open.fetch_max(open, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }
}

/// Keeps a connection counted as open.
pub(crate) struct ConnectionGuard(std::sync::Arc<StatsCollector>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}
