//! The job store of reportflow: the one store interface every backend implements, and its sled
//! backend (the only crate that knows sled).
//!
//! [`JobStore`] is the interface the engine, the CLI and embedders use (with [`SharedStore`]
//! for a store several processes share), with one error type for every backend
//! ([`StoreError`]) and the lease types of work sharing ([`WorkerId`], [`Lease`], ...). Backends:
//! [`SledStore`] here (a directory, one process) and `reportflow_store_pg::PgStore`
//! (PostgreSQL, any number of processes), which stores the same record bytes.
//!
//! A [`Store`] keeps each job once (a live job with its latest transitions, an ended job's
//! record), its transition history, and indexes of ended jobs by state and by end time and the
//! state counts (schema 2, `layout.rs`; a store of schema 1 is migrated when it is opened).
//! Every write is one sled transaction over all of them, so a crash leaves each job either
//! before or after a step, never between.
//! [`Store::apply`] runs the core's pure `Job::apply` inside that transaction with an
//! optimistic version check, and makes the step durable at the design's durability points
//! (`Job::must_flush`). `docs/store.md` describes the layout, what survives `kill -9` and a power
//! loss, and every error.

#![deny(missing_docs)]

mod apply;
mod error;
mod group;
mod insert;
mod interface;
mod layout;
mod lease;
mod migrate;
mod open;
mod postgres_error;
mod purge;
mod queries;
mod records;
mod sled_store;
mod store;
mod trees;
mod writer;

pub use apply::{Applied, AppliedStep, Step};
/// `async_trait`, which the interface's traits are written with: implement [`JobStore`] with
/// `#[reportflow_store::async_trait]`.
pub use async_trait::async_trait;
pub use error::{PgError, StoreError};
pub use group::GroupCommit;
pub use insert::{Inserted, describe as describe_spec};
pub use interface::{JobStore, LeasedTransition, SharedStore, WorkHints};
pub use lease::{Claimed, Lease, LeaseLoss, Released, Renewed, StepLease, WorkerId};
pub use purge::{PURGE_REPORT_MAX_IDS, PurgeReport};
pub use sled_store::SledStore;
// The record encoding and the state bytes, shared with the PostgreSQL backend
// (`reportflow-store-pg`), so that both backends store the same bytes.
pub use layout::{state_byte, state_from_byte};
pub use records::{
    JOB_VERSION, StoredTransition, TRANSITION_VERSION, TransitionRecord, decode_job,
    decode_transitions, encode_job, encode_transitions,
};
pub use store::{Durability, FlushObserver, Store};
