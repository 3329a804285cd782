//! The conformance suite of the store interface (`reportflow_store::JobStore`): each test has
//! one body, written against the interface, and each backend runs it (`tests/model.rs`,
//! `tests/crash.rs` instantiate every body for sled and for PostgreSQL).
//!
//! - [`model`]: random sequences of submits, steps (right and stale versions, legal and refused
//!   inputs), purges and reopenings leave the store observably equal to a reference model built
//!   on the core's `Job::apply`.
//! - [`crash`]: a child process applying steps is killed with SIGKILL at random moments; after
//!   every kill the store opens, each job is in a state it reached with its whole history, the
//!   indexes and counts agree with the jobs, and nothing acknowledged as durable is lost.
//!
//! What a backend may do differently is stated in [`Backend`], nowhere else: the sled store's
//! ids are dense, the PostgreSQL store's may skip numbers (the bodies never assume dense ids);
//! a shared store records a create intent only under a lease (the bodies claim first); the sled
//! store makes a step durable at the design's durability points, PostgreSQL at every commit.

pub mod backend;
pub mod crash;
pub mod model;

/// The job helpers every store test uses (specs, keys, legal and scripted inputs, the test
/// binary run again as a child process), shared with the backends' own tests.
#[path = "../../store/tests/common/mod.rs"]
pub mod fixtures;

pub use backend::{Backend, Postgres, Sled};
