//! Hints that new work may be there: `NOTIFY` in the writing transaction, `LISTEN` on a
//! dedicated connection.
//!
//! A hint carries nothing (an empty payload): it only says "claim now rather than at the next
//! interval". Hints can be missed (while the listening connection is down, say), so a worker
//! claims periodically as well; the listener also hints after each reconnection, since
//! notifications sent meanwhile are lost.

use crate::PgStore;
use crate::run::{connect_error, detail};
use backon::{BackoffBuilder, ExponentialBuilder};
use reportflow_store::{PgError, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

/// The channel of the hints.
pub const CHANNEL: &str = "reportflow_work";

/// Sent in the transaction that made work: new jobs, a retried job, released leases.
const NOTIFY: &str = "SELECT pg_notify('reportflow_work', '')";

const LISTEN: &str = "LISTEN reportflow_work";

/// Sends the hint in `tx` (delivered when it commits; hints of one transaction are folded).
pub(crate) async fn notify(
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<(), tokio_postgres::Error> {
    let notify = tx.prepare_cached(NOTIFY).await?;
    tx.execute(&notify, &[]).await?;
    Ok(())
}

/// Hints that new work may be there, from a connection of its own that listens on
/// [`CHANNEL`] and reconnects by itself when it breaks. Dropping it closes that connection.
pub struct WorkListener {
    hints: Arc<Notify>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for WorkListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkListener").finish_non_exhaustive()
    }
}

impl WorkListener {
    /// Waits for the next hint: a notification, or a reconnection of the listening connection
    /// (notifications may have been missed while it was down). Hints that arrive while nobody
    /// waits are folded into one, which the next call returns at once.
    pub async fn hint(&self) {
        self.hints.notified().await;
    }
}

impl Drop for WorkListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgStore {
    /// Starts listening for hints on a dedicated connection (not one of the pool's). Fails when
    /// the first connection cannot be made; after that, the listener reconnects by itself for
    /// as long as it lives.
    pub async fn listen(&self) -> Result<WorkListener, StoreError> {
        let (client, connection) = self.listening_connection().await?;
        let hints = Arc::new(Notify::new());
        let store = self.clone();
        let task = tokio::spawn({
            let hints = Arc::clone(&hints);
            async move {
                let mut first = Some((client, connection));
                let mut delays = backoff();
                loop {
                    let (client, connection) = match first.take() {
                        Some(open) => open,
                        None => match store.listening_connection().await {
                            Ok(open) => {
                                delays = backoff();
                                // Notifications sent while it was down are lost: look anyway.
                                hints.notify_one();
                                open
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "the work listener cannot reconnect yet");
                                let pause = delays.next().unwrap_or(Duration::from_secs(5));
                                tokio::time::sleep(pause).await;
                                continue;
                            }
                        },
                    };
                    pass_on(connection, &hints).await;
                    drop(client);
                    tracing::debug!("the work listener's connection ended; reconnecting");
                }
            }
        });
        Ok(WorkListener { hints, task })
    }

    /// A new connection that listens on [`CHANNEL`]: its client (kept to keep it open) and its
    /// connection, whose messages the caller must poll.
    async fn listening_connection(
        &self,
    ) -> Result<(tokio_postgres::Client, Listening), StoreError> {
        let url = &self.inner.url;
        let (client, mut connection) = url
            .config
            .connect(self.inner.tls.clone())
            .await
            .map_err(|e| connect_error(url, &e))?;
        // The connection must be polled while the LISTEN runs; notifications cannot arrive
        // before it has run.
        let subscribed: Result<(), String> = {
            let listen = client.batch_execute(LISTEN);
            tokio::pin!(listen);
            loop {
                tokio::select! {
                    done = &mut listen => break done.map_err(|e| detail(&e)),
                    message = std::future::poll_fn(|cx| connection.poll_message(cx)) => {
                        match message {
                            Some(Ok(_)) => {}
                            Some(Err(e)) => break Err(detail(&e)),
                            None => break Err("the connection closed".to_string()),
                        }
                    }
                }
            }
        };
        subscribed.map_err(|detail| PgError::Unreachable {
            url: url.shown().to_string(),
            detail: url.scrub(&format!("LISTEN failed: {detail}")),
        })?;
        Ok((client, connection))
    }
}

/// The connection type of a listener.
type Listening = tokio_postgres::Connection<tokio_postgres::Socket, ListeningTls>;
type ListeningTls =
    <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
        tokio_postgres::Socket,
    >>::Stream;

/// Polls the connection until it ends, turning each notification into a hint.
async fn pass_on(mut connection: Listening, hints: &Notify) {
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(_))) => hints.notify_one(),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!(error = %e, "the work listener's connection failed");
                return;
            }
            None => return,
        }
    }
}

/// The pauses between reconnection attempts of a listener.
fn backoff() -> backon::ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_jitter()
        .build()
}
