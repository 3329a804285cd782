//! Recording a transition: the core decides, one sled transaction stores it.

use crate::records::StoredTransition;
use crate::trees::abort_on;
use crate::{Store, StoreError};
use reportflow_core::{Input, Job, JobId, Millis};

impl Store {
    /// Applies `input` to job `id` through the core's [`Job::apply`] in one sled transaction
    /// that writes the job (and its copy in `live` while it has not ended), appends its history
    /// (seq = the new version) and moves its index entries (`live`, `by_state`, `counts`,
    /// `ended`) when its state changes.
    ///
    /// A job whose version is not `expected_version` is a [`StoreError::Conflict`]; an input the
    /// core refuses is [`StoreError::Rejected`]; in both cases nothing is written. The step is
    /// durable before this returns when [`Job::must_flush`] holds for it (with the default
    /// [`crate::Durability`]). Returns the new job.
    ///
    /// An error from that flush (`Io`, `NotWritable`) comes after the step was stored: it may
    /// not be durable, and the job is already at the next version. Read the job again before
    /// acting.
    pub fn apply(
        &self,
        id: JobId,
        expected_version: u64,
        input: Input,
        now: Millis,
    ) -> Result<Job, StoreError> {
        let summary = input.summary();
        let (before, after) = self
            .trees()
            .transact(&self.dir, "record a transition", |tx| {
                let job = abort_on(tx.job(id)?.ok_or(StoreError::NotFound { id }))?;
                if job.version != expected_version {
                    return abort_on(Err(StoreError::Conflict {
                        id,
                        expected: expected_version,
                        found: job.version,
                    }));
                }
                let next = abort_on(job.apply(input.clone(), now).map_err(StoreError::Rejected))?;
                if job.state.name() != next.state.name() {
                    tx.leave_state(&job)?;
                    tx.enter_state(&next)?;
                }
                tx.put_job(&next)?;
                let step = StoredTransition {
                    from: Some(job.state.name()),
                    to: next.state.name(),
                    input: summary.clone(),
                    at: now,
                };
                tx.put_transition(id, next.version, &step)?;
                Ok((job.state, next))
            })?;
        self.flush_at_point(Job::must_flush(&before, &after.state))?;
        Ok(after)
    }
}
