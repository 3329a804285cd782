//! What the engine counts: the totals a run's summary shows ([`Metrics`]) and the Prometheus
//! families a service shows on `/metrics` ([`Counters::render`], encoded by prometheus-client
//! in the OpenMetrics text format). Every count is taken in one place: requests and 429s where
//! a request is sent ([`crate::api::Api::exchange`]), retries where a wait is announced, bytes
//! where a body chunk arrives, transitions where a step is recorded, create and download times
//! around those calls, flush times by the store itself ([`reportflow_store::Store::observe_flushes`]).
//! `docs/cli.md` ("Metrics") names every family and its meaning.

use crate::gate::Endpoint;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use reportflow_core::StateName;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// HTTP requests sent (redirects included).
    pub requests: u64,
    /// Waits before trying a request again (transient failures and 429s).
    pub retries: u64,
    /// Report bytes received.
    pub bytes: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    from: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// A float counter (seconds).
type Seconds = Counter<f64, AtomicU64>;

/// Live counters, shared by every step, and the registry that shows them.
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    bytes: AtomicU64,
    registry: Registry,
    requests_by: Family<RequestLabels, Counter>,
    retries_total: Counter,
    rate_limited: Family<EndpointLabel, Counter>,
    rate_limit_wait: Family<EndpointLabel, Seconds>,
    bytes_total: Counter,
    transitions: Family<TransitionLabels, Counter>,
    create_seconds: Histogram,
    download_seconds: Histogram,
    flush_seconds: Histogram,
    jobs: Family<StateLabel, Gauge>,
    oldest_live: Gauge<f64, AtomicU64>,
}

impl Default for Counters {
    fn default() -> Counters {
        let mut registry = Registry::with_prefix("reportflow");
        let requests_by = Family::<RequestLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "HTTP requests sent upstream, by endpoint (create, status, file, listing, catalogue) and status class (2xx, 3xx, 4xx, 5xx; none: no answer)",
            requests_by.clone(),
        );
        let retries_total = Counter::default();
        registry.register(
            "retries",
            "Waits before a request or step is tried again (transient failures and 429 answers)",
            retries_total.clone(),
        );
        let rate_limited = Family::<EndpointLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "429 Too Many Requests answers, by endpoint; each holds its endpoint for every job until the upstream's reset",
            rate_limited.clone(),
        );
        let rate_limit_wait = Family::<EndpointLabel, Seconds>::default();
        registry.register(
            "rate_limit_wait_seconds",
            "Seconds the 429 answers asked the endpoint to wait, by endpoint",
            rate_limit_wait.clone(),
        );
        let bytes_total = Counter::default();
        registry.register(
            "downloaded_bytes",
            "Report bytes received",
            bytes_total.clone(),
        );
        let transitions = Family::<TransitionLabels, Counter>::default();
        registry.register(
            "transitions",
            "State changes recorded by the engine's steps, by state left and state entered",
            transitions.clone(),
        );
        let create_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "create_duration_seconds",
            "Time of each create request (POST), answered or not",
            create_seconds.clone(),
        );
        let download_seconds = Histogram::new(exponential_buckets(0.01, 2.5, 14));
        registry.register(
            "download_duration_seconds",
            "Time of each download, from the request to the file under its final name (or the failure)",
            download_seconds.clone(),
        );
        let flush_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "store_flush_duration_seconds",
            "Time of each flush of the store to disk (sled's flush and the fsync)",
            flush_seconds.clone(),
        );
        let jobs = Family::<StateLabel, Gauge>::default();
        registry.register("jobs", "Jobs in the store, by state", jobs.clone());
        let oldest_live = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_live_job_age_seconds",
            "Seconds since the oldest job that has not ended was submitted (0 when none)",
            oldest_live.clone(),
        );
        Counters {
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            registry,
            requests_by,
            retries_total,
            rate_limited,
            rate_limit_wait,
            bytes_total,
            transitions,
            create_seconds,
            download_seconds,
            flush_seconds,
            jobs,
            oldest_live,
        }
    }
}

/// The name an endpoint has in the metrics.
fn endpoint_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Create => "create",
        Endpoint::Status => "status",
        Endpoint::File => "file",
        Endpoint::Listing => "listing",
        Endpoint::Catalogue => "catalogue",
    }
}

/// The status class of an answer (`none` when no answer came).
fn class_of(status: Option<http::StatusCode>) -> &'static str {
    match status.map(|s| s.as_u16() / 100) {
        Some(1) => "1xx",
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        Some(_) => "other",
        None => "none",
    }
}

impl Counters {
    /// A request to `endpoint` was sent and answered with `status` (`None`: no answer).
    pub(crate) fn request(&self, endpoint: Endpoint, status: Option<http::StatusCode>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.requests_by
            .get_or_create(&RequestLabels {
                endpoint: endpoint_name(endpoint),
                class: class_of(status),
            })
            .inc();
    }

    /// `endpoint` answered 429, asking for `wait`.
    pub(crate) fn rate_limited(&self, endpoint: Endpoint, wait: Duration) {
        let label = EndpointLabel {
            endpoint: endpoint_name(endpoint),
        };
        self.rate_limited.get_or_create(&label).inc();
        self.rate_limit_wait
            .get_or_create(&label)
            .inc_by(wait.as_secs_f64());
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.retries_total.inc();
    }

    pub(crate) fn bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.bytes_total.inc_by(n);
    }

    /// A step moved a job from `from` to `to`.
    pub(crate) fn transition(&self, from: StateName, to: StateName) {
        self.transitions
            .get_or_create(&TransitionLabels {
                from: from.as_str(),
                to: to.as_str(),
            })
            .inc();
    }

    /// A create request took `took`.
    pub(crate) fn create_took(&self, took: Duration) {
        self.create_seconds.observe(took.as_secs_f64());
    }

    /// A download took `took`.
    pub(crate) fn download_took(&self, took: Duration) {
        self.download_seconds.observe(took.as_secs_f64());
    }

    /// What hears the store's flush times.
    pub(crate) fn flush_observer(&self) -> impl Fn(Duration) + Send + Sync + 'static {
        let histogram = self.flush_seconds.clone();
        move |took| histogram.observe(took.as_secs_f64())
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }

    /// The metrics in the OpenMetrics text format, with the store's jobs per state (`counts`)
    /// and the age of its oldest live job as they are now.
    pub(crate) fn render(
        &self,
        counts: &BTreeMap<StateName, u64>,
        oldest_live: Duration,
    ) -> Result<String, std::fmt::Error> {
        for state in StateName::ALL {
            let n = counts.get(&state).copied().unwrap_or(0);
            self.jobs
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.oldest_live.set(oldest_live.as_secs_f64());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered_with_its_values() {
        let counters = Counters::default();
        counters.request(Endpoint::Create, Some(http::StatusCode::CREATED));
        counters.request(Endpoint::Status, None);
        counters.rate_limited(Endpoint::Status, Duration::from_millis(1500));
        counters.bytes(42);
        counters.transition(StateName::Requested, StateName::Created);
        counters.create_took(Duration::from_millis(20));
        (counters.flush_observer())(Duration::from_millis(2));
        let counts = BTreeMap::from([(StateName::Polling, 3)]);
        let text = counters
            .render(&counts, Duration::from_secs(7))
            .expect("renders");
        for line in [
            "reportflow_upstream_requests_total{endpoint=\"create\",class=\"2xx\"} 1",
            "reportflow_upstream_requests_total{endpoint=\"status\",class=\"none\"} 1",
            "reportflow_rate_limited_total{endpoint=\"status\"} 1",
            "reportflow_rate_limit_wait_seconds_total{endpoint=\"status\"} 1.5",
            "reportflow_downloaded_bytes_total 42",
            "reportflow_transitions_total{from=\"requested\",to=\"created\"} 1",
            "reportflow_create_duration_seconds_count 1",
            "reportflow_store_flush_duration_seconds_count 1",
            "reportflow_jobs{state=\"polling\"} 3",
            "reportflow_jobs{state=\"downloaded\"} 0",
            "reportflow_oldest_live_job_age_seconds 7.0",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
