//! The poll schedule: a pure function of the poll count, the policy and the job id; and the
//! delay curve it shares with the retry policy ([`crate::RetryPolicy`]).

use crate::{CoreError, JobId, Millis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest delay between two polls a policy may ask for (one day).
const MAX_CAP_MS: u64 = 24 * 60 * 60 * 1000;

/// How often a job's status is polled, and for how long.
///
/// The n-th delay (n counted from 0) is `min(first_delay * growth^n, cap)`, multiplied by one
/// jitter factor in `[1 - jitter, 1 + jitter]` that is fixed for the job (derived from its id).
/// Delays therefore never shrink, the same job always gets the same schedule, and jobs created
/// together spread out instead of polling in step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PollPolicy {
    /// Delay before the first poll, in milliseconds.
    pub first_delay_ms: u64,
    /// Growth of the delay per poll, in percent (150 means each delay is 1.5 times the last).
    pub growth_percent: u32,
    /// Longest delay before jitter, in milliseconds.
    pub cap_ms: u64,
    /// Jitter, in percent of the delay either way (0 to 50).
    pub jitter_percent: u32,
    /// How long after creation a report may take to become ready, in milliseconds; past it the
    /// job fails as timed out.
    pub deadline_ms: u64,
}

impl Default for PollPolicy {
    /// First poll after 1 s, growing by half each time up to 30 s, ±10 % jitter, 12 h deadline.
    fn default() -> Self {
        PollPolicy {
            first_delay_ms: 1_000,
            growth_percent: 150,
            cap_ms: 30_000,
            jitter_percent: 10,
            deadline_ms: 12 * 60 * 60 * 1000,
        }
    }
}

impl PollPolicy {
    /// Checks that the numbers make sense together.
    pub fn validate(&self) -> Result<(), CoreError> {
        let fail = |reason: &str| {
            Err(CoreError::InvalidPolicy {
                reason: reason.to_string(),
            })
        };
        if self.first_delay_ms == 0 {
            return fail("the first poll delay must be at least 1 ms");
        }
        if self.growth_percent < 100 || self.growth_percent > 1_000 {
            return fail("the growth must be between 100 % (constant) and 1000 %");
        }
        if self.cap_ms < self.first_delay_ms || self.cap_ms > MAX_CAP_MS {
            return fail("the cap must lie between the first delay and one day");
        }
        if self.jitter_percent > 50 {
            return fail("the jitter must be at most 50 %");
        }
        if self.deadline_ms == 0 {
            return fail("the deadline must be longer than zero");
        }
        Ok(())
    }

    /// The delay before poll number `poll` (from 0) without jitter, in milliseconds.
    pub fn base_delay_ms(&self, poll: u32) -> u64 {
        grown_delay_ms(self.first_delay_ms, self.growth_percent, self.cap_ms, poll)
    }

    /// The job's fixed jitter, in per mille of a delay: within `±10 * jitter_percent`.
    pub fn jitter_permille(&self, job: JobId) -> i64 {
        jitter_permille(self.jitter_percent, job)
    }

    /// The delay before poll number `poll` for this job, jitter included, in milliseconds.
    pub fn delay_ms(&self, job: JobId, poll: u32) -> u64 {
        jittered_ms(self.base_delay_ms(poll), self.jitter_permille(job))
    }

    /// When a report created at `created_at` must be ready by.
    pub fn deadline(&self, created_at: Millis) -> Millis {
        created_at.plus_ms(self.deadline_ms)
    }

    /// When poll number `poll` is due, counted from `now`, never later than the deadline.
    pub fn next_poll_at(&self, job: JobId, poll: u32, now: Millis, created_at: Millis) -> Millis {
        now.plus_ms(self.delay_ms(job, poll))
            .min(self.deadline(created_at))
    }
}

/// Delay `n` (from 0) of a curve starting at `first` and growing by `growth_percent` per step up
/// to `cap`, in milliseconds: `min(first * growth^n, cap)`, at least 1 ms, never shrinking.
pub(crate) fn grown_delay_ms(first: u64, growth_percent: u32, cap: u64, n: u32) -> u64 {
    let cap = cap.max(1);
    let mut delay = first.clamp(1, cap);
    if growth_percent <= 100 {
        return delay;
    }
    for _ in 0..n {
        if delay >= cap {
            break;
        }
        let grown = (u128::from(delay) * u128::from(growth_percent) / 100) as u64;
        delay = grown.max(delay + 1).min(cap);
    }
    delay
}

/// A job's fixed jitter for `jitter_percent` (at most 50), in per mille of a delay: a draw
/// within `±10 * jitter_percent` derived from the job id (sha256), so the same job always gets
/// the same factor and jobs started together spread out.
pub(crate) fn jitter_permille(jitter_percent: u32, job: JobId) -> i64 {
    let span = i64::from(jitter_percent.min(50)) * 10;
    if span == 0 {
        return 0;
    }
    let digest = Sha256::digest(job.0.to_le_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let draw = u64::from_le_bytes(first) % (2 * span as u64 + 1);
    draw as i64 - span
}

/// `base` milliseconds scaled by `1 + permille / 1000`, at least 1 ms.
pub(crate) fn jittered_ms(base: u64, permille: i64) -> u64 {
    let factor = (1_000 + permille).max(0) as u128;
    ((u128::from(base) * factor) / 1_000).max(1) as u64
}
