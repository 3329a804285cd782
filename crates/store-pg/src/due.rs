//! When a job is due: the one place that turns a job into its `due_at` column.

use reportflow_core::{Job, Millis};

/// The time the job's next effect is due, in the core's time, as the core gives it
/// ([`reportflow_core::Effect::due`]). For an ended job (no effect) its end time; the column is
/// not read for ended jobs.
///
/// Stored as `due_at` with every write, and compared by `claim` with the caller's `now`.
pub fn due_at(job: &Job) -> Millis {
    job.effect().due().unwrap_or(job.updated_at)
}
