//! When a job is due: the one place that turns a job into its `due_at` column.

use reportflow_core::{Effect, Job, Millis};

/// The time the job's next effect is due, in the core's time: a poll at its planned time, any
/// other effect (create, reconcile, download) at once, that is at the job's last change. For an
/// ended job (no effect) its end time; the column is not read for ended jobs.
///
/// Stored as `due_at` with every write, and compared by `claim` with the caller's `now`. When
/// the core gives every effect its own due time, this is the only function to change.
pub fn due_at(job: &Job) -> Millis {
    match job.effect() {
        Effect::Poll { at, .. } => at,
        Effect::Create | Effect::Reconcile { .. } | Effect::Download { .. } | Effect::None => {
            job.updated_at
        }
    }
}
