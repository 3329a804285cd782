//! The pure core of reportflow: what a report job is and how it moves.
//!
//! Nothing here performs I/O or reads a clock. The driver reports what happened as an
//! [`Input`] together with the current time, [`Job::apply`] answers the next job value (or a
//! [`CoreError::Rejected`] value when the input makes no sense in the job's state), and
//! [`Job::effect`] says what the driver should do next and when. Every rule about time lives
//! here and is stored with the job: the poll schedule and deadline ([`PollPolicy`]), the waits
//! and budgets of unconfirmed creates, failed steps and expired outputs ([`RetryPolicy`]). So a
//! job resumed after a restart continues its schedule and keeps its counts, and the driver
//! never decides a wait of its own.

#![deny(missing_docs)]

mod effect;
mod error;
mod input;
mod job;
mod key;
mod label;
mod new_job;
mod relative;
mod requested;
mod retry;
mod schedule;
mod spec;
mod state;
mod time;
mod validate;

pub use effect::Effect;
pub use error::CoreError;
pub use input::Input;
pub use job::{Job, JobId};
pub use key::JobKey;
pub use label::Label;
pub use new_job::NewJob;
pub use relative::{Anchor, DateExpr, DateOrigin, MAX_PARTITIONS, RangeExpr, Resolver, Split};
pub use retry::{Backoff, Policies, RetryPolicy};
pub use schedule::PollPolicy;
pub use spec::{AccountReportSpec, BillingReportSpec, JobKind, JobSpec, OutputFormat, parse_date};
pub use state::{Failure, FailureKind, JobState, Progress, StateName, StoredFile, Upstream};
pub use time::Millis;
pub use validate::{KNOWN_BILLING_TYPES, SpecProblem, SpecWarning};

/// A calendar date (`YYYY-MM-DD`), as used by report parameters and billing ranges.
pub use jiff::civil::Date;
