//! The state shared by every connection of one simulator.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use crate::auth::TokenStore;
use crate::config::SimConfig;
use crate::faults::{Endpoint, Fault, FaultEngine, FaultEvent};
use crate::files::derive;
use crate::lock;
use crate::ratelimit::RateLimiter;
use crate::state::Store;
use crate::stats::StatsCollector;

/// One simulator's shared state. Locks are std mutexes, never held across an await.
pub(crate) struct App {
    config: RwLock<Arc<SimConfig>>,
    /// `http://127.0.0.1:PORT/api` (`https://` over TLS).
    pub base_url: String,
    /// `http://127.0.0.1:PORT2` (the second origin, for signed downloads; `https://` over TLS).
    pub redirect_base: String,
    /// The CA certificate in PEM when the simulator serves TLS.
    pub ca_pem: Option<String>,
    pub store: Mutex<Store>,
    pub faults: Mutex<FaultEngine>,
    pub limiter: Mutex<RateLimiter>,
    pub tokens: Mutex<TokenStore>,
    pub stats: Arc<StatsCollector>,
    /// Key of the download URL signatures.
    pub redirect_secret: [u8; 32],
}

impl App {
    pub(crate) fn new(
        config: SimConfig,
        addr: SocketAddr,
        redirect_addr: SocketAddr,
        ca_pem: Option<String>,
    ) -> Self {
        let seed = config.seed;
        let scheme = if ca_pem.is_some() { "https" } else { "http" };
        App {
            base_url: format!("{scheme}://{addr}/api"),
            redirect_base: format!(
                "{scheme}://{}:{}",
                config.redirect_host,
                redirect_addr.port()
            ),
            ca_pem,
            store: Mutex::new(Store::new(seed)),
            faults: Mutex::new(FaultEngine::new(seed)),
            limiter: Mutex::new(RateLimiter::default()),
            tokens: Mutex::new(TokenStore::new(seed)),
            stats: Arc::new(StatsCollector::default()),
            redirect_secret: derive(seed, "redirect-secret"),
            config: RwLock::new(Arc::new(config)),
        }
    }

    /// The configuration in force now.
    pub(crate) fn config(&self) -> Arc<SimConfig> {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the configuration.
    pub(crate) fn set_config(&self, config: SimConfig) {
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
    }

    /// Draws the fault for the next request of `endpoint` and records it when it is one.
    pub(crate) fn draw_fault(
        &self,
        endpoint: Endpoint,
        account: Option<&str>,
        config: &SimConfig,
    ) -> Fault {
        let (fault, request) = lock(&self.faults).next(endpoint, account, &config.faults);
        if fault != Fault::Pass {
            self.stats.fault(FaultEvent {
                endpoint,
                request,
                fault,
            });
        }
        fault
    }
}
