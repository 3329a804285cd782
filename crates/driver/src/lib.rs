//! The reportflow engine: executes the core's effects against Bandwidth (or the simulator).
//!
//! [`Engine::open`] opens the store and builds the HTTP client; [`Engine::submit`] records a
//! job (nothing is sent); [`Engine::run_until_idle`] drives every live job to a terminal state,
//! resuming whatever a previous process left, and [`Engine::run`] keeps going until
//! [`Engine::shutdown`]. Every step is recorded in the store before the engine acts on it, so a
//! process killed at any instant loses nothing: the next run continues from the stored state.

#![deny(missing_docs)]

mod api;
mod auth;
mod call;
mod clock;
mod config;
mod download;
mod engine;
mod error;
mod events;
mod gate;
mod http;
mod layout;
mod metrics;
mod proxy;
mod reconcile;
mod runner;
mod sample;
mod step;
mod tls;
mod url;
mod writer;

pub use config::{
    Credentials, DEFAULT_TOKEN_URL, EngineConfig, ProxyConfig, RetryConfig, TrustConfig,
};
pub use engine::{Engine, Submitted};
pub use error::DriverError;
pub use events::Event;
pub use layout::{FileLayout, PLACEHOLDERS};
pub use metrics::Metrics;
pub use reportflow_wire::{ReportDetail, ReportSummary};
pub use runner::RunSummary;
pub use sample::sample_parameters;
