//! The durable job store of reportflow, on sled: the only crate that knows sled.
//!
//! A [`Store`] keeps each job's current record, its transition history and indexes of live
//! jobs, jobs by state, state counts and ended jobs. Every write is one sled transaction over
//! all of them, so a crash leaves each job either before or after a step, never between.
//! [`Store::apply`] runs the core's pure `Job::apply` inside that transaction with an
//! optimistic version check, and makes the step durable at the design's durability points
//! (`Job::must_flush`). `docs/store.md` describes the layout, what survives `kill -9` and a power
//! loss, and every error.

#![deny(missing_docs)]

mod apply;
mod error;
mod group;
mod insert;
mod layout;
mod open;
mod purge;
mod queries;
mod records;
mod store;
mod trees;

pub use apply::{Applied, Step};
pub use error::StoreError;
pub use group::GroupCommit;
pub use insert::{Inserted, describe as describe_spec};
pub use purge::{PURGE_REPORT_MAX_IDS, PurgeReport};
// The record encoding and the state bytes, shared with the PostgreSQL backend
// (`reportflow-store-pg`), so that both backends store the same bytes.
pub use layout::{state_byte, state_from_byte};
pub use records::{
    JOB_VERSION, StoredTransition, TRANSITION_VERSION, TransitionRecord, decode_job,
    decode_transition, encode_job, encode_transition,
};
pub use store::{Durability, FlushObserver, Store};
