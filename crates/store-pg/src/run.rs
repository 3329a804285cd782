//! Running one operation on a pooled connection: waiting for the database when it is away
//! (restart, failover), retrying what is safe to retry, and naming every failure.
//!
//! Every write is an explicit transaction, so a failure before `COMMIT` wrote nothing: the
//! operation is run again on a fresh connection, until [`crate::PgOptions::reconnect_wait`]
//! has passed since its first failure (then [`PgError::Unavailable`]). A connection that
//! breaks during `COMMIT` leaves the outcome unknown ([`PgError::OutcomeUnknown`]): that is
//! never retried, because the write may be in. A deadlock or serialization failure rolled the
//! transaction back and is retried a few times.

use crate::store::PgStore;
use backon::{BackoffBuilder, ExponentialBuilder};
use deadpool_postgres::{Object, PoolError};
use reportflow_store::{PgError, StoreError};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;

/// How an operation failed, as the runner needs to know it.
pub(crate) enum OpError {
    /// A statement before `COMMIT` failed: nothing was written.
    Sql(tokio_postgres::Error),
    /// `COMMIT` failed.
    Commit(tokio_postgres::Error),
    /// A refusal or a finding of the store itself.
    Store(StoreError),
    /// The operation met a concurrent write it cannot settle in this transaction (rolled back):
    /// run it again.
    Again,
}

impl From<tokio_postgres::Error> for OpError {
    fn from(e: tokio_postgres::Error) -> Self {
        OpError::Sql(e)
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::Store(e)
    }
}

impl PgStore {
    /// Commits, telling a failed `COMMIT` apart from the statements before it; the time it took
    /// goes to the observer of [`reportflow_store::JobStore::observe_flushes`], if any.
    pub(crate) async fn commit(
        &self,
        tx: deadpool_postgres::Transaction<'_>,
    ) -> Result<(), OpError> {
        let started = Instant::now();
        let committed = tx.commit().await.map_err(OpError::Commit);
        if let Some(observe) = self.inner.flush_observer.get() {
            observe(started.elapsed());
        }
        committed
    }
}

/// How often a rolled-back transaction (deadlock, serialization failure, a lost race) is run
/// again before the store gives up.
const MAX_AGAIN: u32 = 8;

/// Runs an operation as the module documentation says: `$body` is an `async` body using the
/// pooled connection `$client` and answering `Result<_, OpError>`; the macro evaluates to the
/// operation's `Result<_, StoreError>`. (A macro rather than a function taking an async
/// closure: the futures of such closures cannot be shown to be `Send`, which the store's
/// futures must be.)
macro_rules! retrying {
    ($store:expr, $action:expr, |$client:ident| $body:block) => {{
        let mut attempts = $crate::run::Attempts::new($store, $action);
        loop {
            #[allow(unused_mut)]
            let mut $client = match attempts.client().await {
                Ok(client) => client,
                Err($crate::run::Wait::Again) => continue,
                Err($crate::run::Wait::GiveUp(e)) => break Err(e),
            };
            let result: Result<_, $crate::run::OpError> = async { $body }.await;
            match attempts.settle(result, &$client).await {
                Ok(Some(value)) => break Ok(value),
                Ok(None) => continue,
                Err(e) => break Err(e),
            }
        }
    }};
}
pub(crate) use retrying;

/// Why no connection was handed out.
pub(crate) enum Wait {
    /// The database is away; the caller's turn to try again (after the pause taken).
    Again,
    /// Give up with this error.
    GiveUp(StoreError),
}

/// The attempts of one operation: how long the database has been away, and how often a
/// rolled-back transaction was run again.
pub(crate) struct Attempts<'s> {
    store: &'s PgStore,
    action: &'static str,
    delays: backon::ExponentialBackoff,
    away_since: Option<Instant>,
    again: u32,
}

impl<'s> Attempts<'s> {
    pub(crate) fn new(store: &'s PgStore, action: &'static str) -> Attempts<'s> {
        Attempts {
            store,
            action,
            delays: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_secs(2))
                .without_max_times()
                .with_jitter()
                .build(),
            away_since: None,
            again: 0,
        }
    }

    /// A pooled connection; when none can be had, waits a moment (`Wait::Again`), or gives up
    /// once the database has been away for the store's `reconnect_wait`.
    pub(crate) async fn client(&mut self) -> Result<Object, Wait> {
        let detail = match self.store.inner.pool.get().await {
            Ok(client) => return Ok(client),
            Err(PoolError::Backend(e)) => match self.store.connect_error(&e) {
                // The server answered and refused: waiting does not help.
                e @ (PgError::LoginRefused { .. }
                | PgError::NoDatabase { .. }
                | PgError::Tls { .. }) => return Err(Wait::GiveUp(e.into())),
                _ => detail(&e),
            },
            Err(e) => e.to_string(),
        };
        Err(self.away(detail).await)
    }

    /// What an attempt's result means: the value (`Some`), another attempt (`None`, after a
    /// pause when the database is away), or the operation's error.
    pub(crate) async fn settle<T>(
        &mut self,
        result: Result<T, OpError>,
        client: &Object,
    ) -> Result<Option<T>, StoreError> {
        let store = self.store;
        let action = self.action;
        match result {
            Ok(value) => Ok(Some(value)),
            Err(OpError::Store(e)) => Err(e),
            Err(OpError::Again) => {
                self.again("concurrent writes kept undoing this one".to_string())
            }
            Err(OpError::Sql(e)) | Err(OpError::Commit(e)) if rolled_back(&e) => {
                self.again(detail(&e))
            }
            Err(OpError::Commit(e)) if is_connection_error(&e) || client.is_closed() => {
                Err(PgError::OutcomeUnknown {
                    url: store.url().to_string(),
                    action,
                    detail: store.scrub(&detail(&e)),
                }
                .into())
            }
            Err(OpError::Sql(e)) if is_connection_error(&e) || client.is_closed() => {
                match self.away(detail(&e)).await {
                    Wait::Again => Ok(None),
                    Wait::GiveUp(e) => Err(e),
                }
            }
            Err(OpError::Sql(e)) | Err(OpError::Commit(e)) => {
                Err(store.database_error(action, detail(&e)))
            }
        }
    }

    /// Another run of a rolled-back transaction, unless it has had enough.
    fn again<T>(&mut self, detail: String) -> Result<Option<T>, StoreError> {
        self.again += 1;
        if self.again > MAX_AGAIN {
            return Err(self.store.database_error(self.action, detail));
        }
        Ok(None)
    }

    /// The database is away: pause before the next attempt, or give up after
    /// `reconnect_wait`.
    async fn away(&mut self, detail: String) -> Wait {
        let store = self.store;
        let wait = store.inner.options.reconnect_wait;
        let since = *self.away_since.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        if waited >= wait {
            return Wait::GiveUp(
                PgError::Unavailable {
                    url: store.url().to_string(),
                    action: self.action,
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    detail: store.scrub(&detail),
                }
                .into(),
            );
        }
        tracing::debug!(action = self.action, detail = %store.scrub(&detail), "the database is away; trying again");
        let pause = self.delays.next().unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(pause.min(wait - waited)).await;
        Wait::Again
    }
}

impl PgStore {
    /// A failure of the server that is neither the connection nor a refusal of ours.
    pub(crate) fn database_error(&self, action: &'static str, detail: String) -> StoreError {
        PgError::Database {
            url: self.url().to_string(),
            action,
            detail: self.scrub(&detail),
        }
        .into()
    }

    /// What a failed connection attempt means.
    pub(crate) fn connect_error(&self, e: &tokio_postgres::Error) -> PgError {
        connect_error(&self.inner.url, e)
    }
}

/// What a failed connection attempt to `url` means.
pub(crate) fn connect_error(url: &crate::url::DbUrl, e: &tokio_postgres::Error) -> PgError {
    let shown = url.shown().to_string();
    let detail = url.scrub(&detail(e));
    let code = e.code();
    if code == Some(&SqlState::INVALID_PASSWORD)
        || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        || e.to_string() == "authentication error"
    {
        PgError::LoginRefused { url: shown, detail }
    } else if code == Some(&SqlState::INVALID_CATALOG_NAME) {
        PgError::NoDatabase { url: shown, detail }
    } else if e.to_string() == "error performing TLS handshake" {
        PgError::Tls { url: shown, detail }
    } else {
        PgError::Unreachable { url: shown, detail }
    }
}

/// The connection is gone, or the server is going away or not up yet: a fresh connection may
/// succeed.
fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return code.code().starts_with("08")
            || *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW;
    }
    // tokio-postgres keeps its error kinds private; these are the words of the kinds that
    // mean the connection failed (`Closed`, `Io`, `Connect`, `Timeout`).
    e.is_closed()
        || matches!(
            e.to_string().as_str(),
            "error communicating with the server"
                | "error connecting to server"
                | "timeout waiting for server"
        )
}

/// The server rolled the transaction back for a reason that running it again can cure.
fn rolled_back(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// A tokio-postgres error in full: the server's severity, message, detail and SQLSTATE, or the
/// library's words and their causes.
pub(crate) fn detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(more) = db.detail() {
            text.push_str("; ");
            text.push_str(more);
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
