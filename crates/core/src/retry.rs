//! The retry policy: how long a job waits before trying a failed step again, and when it gives up.

use crate::schedule::{grown_delay_ms, jitter_permille, jittered_ms};
use crate::{CoreError, JobId, Millis, PollPolicy};
use serde::{Deserialize, Serialize};

/// The longest delay between two tries a policy may ask for (one hour).
const MAX_CAP_MS: u64 = 60 * 60 * 1000;

/// How a job tries again after a create that went unconfirmed or a step that failed
/// transiently, and how many of each it takes before it ends `Failed` (kind `Unavailable`).
/// Stored with the job when it is submitted, so a resumed job keeps its budget.
///
/// The n-th wait (n counted from 0) is `min(first_delay * growth^n, cap)` times one jitter
/// factor in `[1 - jitter, 1 + jitter]` fixed for the job (derived from its id), as for polls.
/// After an unconfirmed create, n is the number of creates sent before it in the attempt; after
/// a failed step, the number of failures in a row before it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// The first wait, in milliseconds.
    pub first_delay_ms: u64,
    /// Growth of the wait per try, in percent (200 doubles it).
    pub growth_percent: u32,
    /// The longest wait before jitter, in milliseconds.
    pub cap_ms: u64,
    /// Jitter, in percent of a wait either way (0 to 50).
    pub jitter_percent: u32,
    /// Create requests an attempt may send without one being confirmed (answered with a
    /// `Location` or "no data", or found in the instance listing). The count survives
    /// reconciliations and restarts; only a confirmed create or a new attempt resets it.
    pub max_unconfirmed_creates: u32,
    /// Transient failures of a job's steps in a row (5xx, resets, timeouts, rate limits, bad
    /// bodies, after the HTTP layer's own small retry of a GET) before the job gives up. Any
    /// step that moves the job forward resets the count.
    pub max_step_failures: u32,
    /// The most attempts a job gets through automatic re-requests when its upstream output
    /// has expired; 1 never re-requests (an explicit `retry` always starts a new attempt).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// Waits of 1 s doubling up to 45 s with ±10 % jitter; 8 unconfirmed creates per attempt
    /// (their waits add up to about 2.5 minutes), 10 failed steps in a row (about 3.5 minutes),
    /// no automatic re-requests of expired outputs.
    fn default() -> Self {
        RetryPolicy {
            first_delay_ms: 1_000,
            growth_percent: 200,
            cap_ms: 45_000,
            jitter_percent: 10,
            max_unconfirmed_creates: 8,
            max_step_failures: 10,
            max_attempts: 1,
        }
    }
}

impl RetryPolicy {
    /// Checks that the numbers make sense together.
    pub fn validate(&self) -> Result<(), CoreError> {
        let fail = |reason: &str| {
            Err(CoreError::InvalidRetryPolicy {
                reason: reason.to_string(),
            })
        };
        if self.first_delay_ms == 0 {
            return fail("the first wait must be at least 1 ms");
        }
        if self.growth_percent < 100 || self.growth_percent > 1_000 {
            return fail("the growth must be between 100 % (constant) and 1000 %");
        }
        if self.cap_ms < self.first_delay_ms || self.cap_ms > MAX_CAP_MS {
            return fail("the cap must lie between the first wait and one hour");
        }
        if self.jitter_percent > 50 {
            return fail("the jitter must be at most 50 %");
        }
        if self.max_unconfirmed_creates == 0 {
            return fail("at least one create request must be allowed");
        }
        if self.max_step_failures == 0 {
            return fail("at least one failed step must be allowed");
        }
        if self.max_attempts == 0 {
            return fail("the attempts must be at least 1");
        }
        Ok(())
    }

    /// Wait number `n` (from 0) for this job, jitter included, in milliseconds.
    pub fn delay_ms(&self, job: JobId, n: u32) -> u64 {
        let base = grown_delay_ms(self.first_delay_ms, self.growth_percent, self.cap_ms, n);
        jittered_ms(base, jitter_permille(self.jitter_percent, job))
    }

    /// The longest the waits of a whole create budget can add up to, jitter included: the
    /// waits after each of the `max_unconfirmed_creates` creates (the last one is followed by
    /// a wait before the instance listing is searched for it).
    pub fn create_budget_ms(&self) -> u64 {
        self.worst_waits_ms(self.max_unconfirmed_creates)
    }

    /// The longest the waits of `max_step_failures` failed steps in a row can add up to.
    pub fn step_budget_ms(&self) -> u64 {
        self.worst_waits_ms(self.max_step_failures.saturating_sub(1))
    }

    fn worst_waits_ms(&self, waits: u32) -> u64 {
        let most = i64::from(self.jitter_percent.min(50)) * 10;
        (0..waits)
            .map(|n| {
                let base = grown_delay_ms(self.first_delay_ms, self.growth_percent, self.cap_ms, n);
                jittered_ms(base, most)
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// Transient failures of a job's steps since it last moved forward, and when the failed step is
/// due again. Cleared by any input that moves the job forward.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Backoff {
    /// Failures in a row.
    pub failures: u32,
    /// When the step is tried again.
    pub retry_at: Millis,
    /// What the last failure was (for people; never carries credentials).
    pub last_error: String,
}

/// The rules a job is submitted with and stored with: how it is polled, how it retries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policies {
    /// The poll schedule and deadline.
    pub poll: PollPolicy,
    /// Backoff and budgets of failed creates, failed steps and expired outputs.
    pub retry: RetryPolicy,
}

impl Policies {
    /// Checks both policies.
    pub fn validate(&self) -> Result<(), CoreError> {
        self.poll.validate()?;
        self.retry.validate()
    }
}
