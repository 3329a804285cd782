//! Per-endpoint holds after a 429: every job's requests to that endpoint wait for the reset.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The kinds of upstream endpoint, each rate limited on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    /// Report and billing creation (POST).
    Create,
    /// Status requests.
    Status,
    /// File downloads.
    File,
    /// Instance listings (reconciliation).
    Listing,
    /// The catalogue.
    Catalogue,
}

/// Holds per endpoint.
#[derive(Default)]
pub(crate) struct RateGate {
    holds: Mutex<HashMap<Endpoint, Instant>>,
}

impl RateGate {
    /// Waits until `endpoint` is not held.
    pub(crate) async fn wait(&self, endpoint: Endpoint) {
        loop {
            let until = match self.holds.lock() {
                Ok(holds) => holds.get(&endpoint).copied(),
                Err(poisoned) => poisoned.into_inner().get(&endpoint).copied(),
            };
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Holds `endpoint` for `wait` from now (a longer hold already in place stays).
    pub(crate) fn hold(&self, endpoint: Endpoint, wait: Duration) {
        let until = Instant::now() + wait;
        let mut holds = match self.holds.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = holds.entry(endpoint).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}
