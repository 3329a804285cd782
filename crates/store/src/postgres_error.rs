//! What the PostgreSQL backend (`reportflow-store-pg`) can fail with, beside the refusals every
//! backend shares ([`crate::StoreError`]). Every message says what was wrong and what to do,
//! and shows the database URL only with its password replaced (`postgres://user:***@host/db`).
//! Defined here, with the interface, so that one error type ([`crate::StoreError`]) serves
//! every backend; nothing here needs the database's crates.

use thiserror::Error;

/// Everything the PostgreSQL database can fail with (`StoreError::Postgres`).
#[derive(Debug, Clone, Error)]
pub enum PgError {
    /// The store URL cannot be used.
    #[error(
        "the store URL {shown} is not a usable PostgreSQL URL ({detail}); write it as postgres://user:password@host:5432/database, optionally with ?sslmode=disable|prefer|require"
    )]
    InvalidUrl {
        /// The URL as it may be shown (without its password).
        shown: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The store options are inconsistent.
    #[error("the PostgreSQL store options are not valid: {detail}")]
    InvalidOptions {
        /// What is wrong, and what to set instead.
        detail: String,
    },
    /// No connection could be made to the server.
    #[error(
        "cannot reach the database at {url} ({detail}); check that the server is running and that the host and port in the URL are right, then try again"
    )]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// What the connection attempt met.
        detail: String,
    },
    /// The server refused the user or the password.
    #[error(
        "the database at {url} refused the login ({detail}); check the user name and password of the store URL"
    )]
    LoginRefused {
        /// The URL, without its password.
        url: String,
        /// The server's words.
        detail: String,
    },
    /// The database named in the URL does not exist.
    #[error(
        "the database named in {url} does not exist ({detail}); create it (`createdb`) or fix the database name in the URL"
    )]
    NoDatabase {
        /// The URL, without its password.
        url: String,
        /// The server's words.
        detail: String,
    },
    /// TLS could not be set up with the server.
    #[error(
        "TLS with the database at {url} failed ({detail}); with sslmode=require the server must offer TLS, and where TLS is used its certificate must be valid for the host name of the URL and signed by a public authority (the webpki roots); on a trusted network, use sslmode=disable in the URL"
    )]
    Tls {
        /// The URL, without its password.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The database was migrated by a newer reportflow.
    #[error(
        "the store {url} has schema version {found}, newer than this reportflow understands ({supported}); use a newer reportflow (nothing was changed)"
    )]
    NewerSchema {
        /// The URL, without its password.
        url: String,
        /// The schema version found.
        found: u32,
        /// The newest schema version this build understands.
        supported: u32,
    },
    /// A migration failed; it was rolled back.
    #[error(
        "could not bring the schema of the store {url} to version {version} ({detail}); nothing was changed (migrations run in one transaction): check that the role of the URL may create tables in that database, then open it again"
    )]
    Migration {
        /// The URL, without its password.
        url: String,
        /// The version that was being applied.
        version: u32,
        /// The server's words.
        detail: String,
    },
    /// The server stayed unreachable for longer than the store waits for it.
    #[error(
        "could not {action}: the database at {url} stayed unreachable for {waited_ms} ms ({detail}); nothing was written: check the server and the network, then try again"
    )]
    Unavailable {
        /// The URL, without its password.
        url: String,
        /// What the store was doing.
        action: &'static str,
        /// How long it waited for the server.
        waited_ms: u64,
        /// The last failure.
        detail: String,
    },
    /// The connection broke while a write was being committed: it may or may not be stored.
    #[error(
        "the connection to the database at {url} broke while committing ({action}: {detail}); it may or may not have been written: read the jobs again before acting on them"
    )]
    OutcomeUnknown {
        /// The URL, without its password.
        url: String,
        /// What the store was doing.
        action: &'static str,
        /// The failure.
        detail: String,
    },
    /// The server failed in a way that is not about the connection.
    #[error(
        "the database at {url} failed to {action} ({detail}); this is unexpected: keep the database as it is and report it"
    )]
    Database {
        /// The URL, without its password.
        url: String,
        /// What the store was doing.
        action: &'static str,
        /// The server's words.
        detail: String,
    },
    /// A stored record (or a column derived from it) is damaged.
    #[error(
        "the store {url} holds a damaged record ({detail}); nothing was changed: restore the database from a backup, or report it"
    )]
    Corrupt {
        /// The URL, without its password.
        url: String,
        /// What was found damaged.
        detail: String,
    },
    /// A record was written by a newer reportflow.
    #[error(
        "{what} in the store {url} has record version {found}, newer than this reportflow understands ({supported}); use a newer reportflow"
    )]
    NewerRecord {
        /// The URL, without its password.
        url: String,
        /// Which record.
        what: String,
        /// The record version found.
        found: u16,
        /// The newest record version this build understands.
        supported: u16,
    },
}
