//! The reportflow engine: executes the core's effects against Bandwidth (or the simulator).
//!
//! [`Jobs::open`] opens a store and nothing else: submit, look, retry, cancel, purge
//! ([`Jobs::submit`] records a job; nothing is sent). The store is a directory (sled, one
//! process) or a PostgreSQL URL (shared by any number of workers and submitters), told apart in
//! one place ([`StoreLocation`]) and used only through the store interface
//! (`reportflow_store::JobStore`). [`Engine::open`] adds the running side: the HTTP client;
//! [`Engine::run_until_idle`] drives every live job to a terminal state (on a shared store: the
//! jobs this worker claims, until none is live), resuming whatever a previous process left,
//! and [`Engine::run`] keeps going until [`Engine::shutdown`]. Every step is recorded in the store before the engine acts on it,
//! so a process killed at any instant loses nothing: the next run continues from the stored
//! state. When to try again and when to give up is the core's decision, stored with each job
//! (`reportflow_core::RetryPolicy`); the engine only keeps the 429 gate of each endpoint and a
//! small bounded retry of idempotent GETs ([`RetryConfig`]).

#![deny(missing_docs)]

mod api;
mod auth;
mod call;
mod claims;
mod clock;
mod config;
mod download;
mod engine;
mod error;
mod events;
mod gate;
mod held;
mod http;
mod jobs;
mod layout;
mod location;
mod metrics;
mod proxy;
mod reconcile;
mod runner;
mod sample;
mod step;
mod tls;
mod url;

pub use clock::today;
pub use config::{
    Credentials, DEFAULT_LEASE, DEFAULT_TOKEN_URL, DownloadWrites, EngineConfig, ProxyConfig,
    RetryConfig, StoreLocation, TrustConfig,
};
pub use engine::Engine;
pub use error::DriverError;
pub use events::Event;
pub use jobs::{Jobs, Submitted};
pub use layout::{FileLayout, PLACEHOLDERS};
pub use metrics::Metrics;
pub use reportflow_wire::{ReportDetail, ReportSummary};
pub use runner::RunSummary;
pub use sample::sample_parameters;
