//! Stopping on Ctrl-C or SIGTERM (what cron, systemd and CI send).

use std::future::Future;
use std::pin::Pin;

/// Completes when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    ctrl_c().await;
}

/// Ctrl-C; never completes when its handler cannot be installed.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A stop request that can be waited for repeatedly and remembers that it came.
pub struct Stop {
    requested: Pin<Box<dyn Future<Output = ()> + Send>>,
    fired: bool,
}

impl Stop {
    /// Listens for Ctrl-C and SIGTERM (from the first wait on).
    pub fn on_signals() -> Stop {
        Stop {
            requested: Box::pin(stop_requested()),
            fired: false,
        }
    }

    /// Completes when a stop is requested; never again after that.
    pub async fn wait(&mut self) {
        if self.fired {
            std::future::pending::<()>().await;
        }
        (&mut self.requested).await;
        self.fired = true;
    }
}
