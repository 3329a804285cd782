//! What a submit asks the store to record: a spec, its key, and notes about where it came from.

use crate::{DateOrigin, JobKey, JobSpec, Label};

/// A job to submit. Built from `(spec, key)` for plain submits, with a label and the origin of
/// its dates when it came from a labelled batch or relative dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// What to fetch.
    pub spec: JobSpec,
    /// The key chosen by the user; derived from the spec when `None`.
    pub key: Option<JobKey>,
    /// The label the job is submitted under.
    pub label: Option<Label>,
    /// Where its dates came from, when some were relative.
    pub origin: Option<DateOrigin>,
}

impl NewJob {
    /// A job of `spec` under `key` (derived when `None`), unlabelled, its dates as given.
    pub fn new(spec: JobSpec, key: Option<JobKey>) -> NewJob {
        NewJob {
            spec,
            key,
            label: None,
            origin: None,
        }
    }

    /// This job with `label`.
    pub fn labelled(mut self, label: Option<Label>) -> NewJob {
        self.label = label;
        self
    }

    /// This job with the origin of its dates.
    pub fn dated(mut self, origin: Option<DateOrigin>) -> NewJob {
        self.origin = origin;
        self
    }

    /// The job's key: the one given, else the one derived from the spec.
    pub fn key(&self) -> JobKey {
        self.key
            .clone()
            .unwrap_or_else(|| JobKey::derived(&self.spec))
    }
}

impl From<(JobSpec, JobKey)> for NewJob {
    fn from((spec, key): (JobSpec, JobKey)) -> NewJob {
        NewJob::new(spec, Some(key))
    }
}

impl From<(JobSpec, Option<JobKey>)> for NewJob {
    fn from((spec, key): (JobSpec, Option<JobKey>)) -> NewJob {
        NewJob::new(spec, key)
    }
}
