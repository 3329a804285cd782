//! The one error type of the core.

use crate::{SpecProblem, StateName};
use thiserror::Error;

/// Everything the core can refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// The job specification has one or more problems; each says what to change.
    #[error("the report request is not valid: {}", join(.problems))]
    InvalidSpec {
        /// Every problem found, in the order the fields were checked.
        problems: Vec<SpecProblem>,
    },
    /// The poll policy is inconsistent.
    #[error("the poll policy is not valid: {reason}; fix the poll settings")]
    InvalidPolicy {
        /// What is inconsistent.
        reason: String,
    },
    /// The retry policy is inconsistent.
    #[error("the retry policy is not valid: {reason}; fix the retry settings")]
    InvalidRetryPolicy {
        /// What is inconsistent.
        reason: String,
    },
    /// A job key given by the user cannot be used.
    #[error("the job key {key:?} is not valid: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A label given by the user cannot be used.
    #[error("the label {label:?} is not valid: {reason}")]
    InvalidLabel {
        /// The label as given.
        label: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The input makes no sense in the job's current state; the job is left as it was.
    #[error("a job in state `{state}` cannot take `{input}`: {hint}")]
    Rejected {
        /// The state the job is in.
        state: StateName,
        /// A short name of the input that was refused.
        input: &'static str,
        /// What the caller may do instead.
        hint: &'static str,
    },
}

fn join(problems: &[SpecProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
