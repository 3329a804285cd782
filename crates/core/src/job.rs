//! A job and its one transition function.

use crate::{
    Backoff, CoreError, DateOrigin, Effect, Failure, FailureKind, Input, JobKey, JobKind, JobSpec,
    JobState, Label, Millis, Policies, PollPolicy, Progress, RetryPolicy, Upstream,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A job's identity in the store: assigned once, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A report job: what was asked for, how far it got, its counters and the rules it follows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// Its idempotency key.
    pub key: JobKey,
    /// What was asked for.
    pub spec: JobSpec,
    /// How its status is polled.
    pub poll: PollPolicy,
    /// How it tries again after failures, and when it gives up.
    pub retry: RetryPolicy,
    /// Where it is.
    pub state: JobState,
    /// Transient failures of its current step since it last moved forward, if any.
    pub backoff: Option<Backoff>,
    /// How many transitions it has taken (the store's optimistic-concurrency version).
    pub version: u64,
    /// The attempt number, from 1; an explicit retry (or a re-request of an expired output)
    /// starts the next one.
    pub attempt: u32,
    /// When the current attempt's intent was recorded.
    pub attempt_started_at: Millis,
    /// Create requests sent upstream over the job's life (all attempts).
    pub creations: u32,
    /// When the job was submitted.
    pub submitted_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
    /// The label it was submitted under (stored from record version 3).
    pub label: Option<Label>,
    /// Where its dates came from, when they were written relative to the submit's day
    /// (stored from record version 3).
    pub origin: Option<DateOrigin>,
}

pub(crate) fn reject(state: &JobState, input: &Input, hint: &'static str) -> CoreError {
    CoreError::Rejected {
        state: state.name(),
        input: input.name(),
        hint,
    }
}

impl Job {
    /// A new job in `Requested`, with nothing sent yet and its first create due at `now`.
    pub fn new(id: JobId, key: JobKey, spec: JobSpec, policies: Policies, now: Millis) -> Job {
        Job {
            id,
            key,
            spec,
            poll: policies.poll,
            retry: policies.retry,
            state: JobState::requested(now),
            backoff: None,
            version: 0,
            attempt: 1,
            attempt_started_at: now,
            creations: 0,
            submitted_at: now,
            updated_at: now,
            label: None,
            origin: None,
        }
    }

    /// True when the job carries `label`.
    pub fn has_label(&self, label: &Label) -> bool {
        self.label.as_ref() == Some(label)
    }

    /// Which report family the job is about.
    pub fn kind(&self) -> JobKind {
        self.spec.kind()
    }

    /// When the report must be ready by, once it was created.
    pub fn deadline(&self) -> Option<Millis> {
        self.state
            .upstream()
            .map(|u| self.poll.deadline(u.created_at))
    }

    /// What the driver should do next and when; a pure function of the stored job.
    pub fn effect(&self) -> Effect {
        // A failed step is not tried again before its backoff allows.
        let at = |due: Millis| self.backoff.as_ref().map_or(due, |b| due.max(b.retry_at));
        match &self.state {
            JobState::Requested {
                in_doubt, next_at, ..
            } => {
                let at = at(*next_at);
                if *in_doubt && self.kind() == JobKind::Account {
                    Effect::Reconcile {
                        since: self.attempt_started_at,
                        at,
                    }
                } else {
                    Effect::Create { at }
                }
            }
            JobState::Created { upstream } => Effect::Poll {
                at: at(self.poll.next_poll_at(
                    self.id,
                    0,
                    upstream.created_at,
                    upstream.created_at,
                )),
                location: upstream.location.clone(),
            },
            JobState::Polling {
                upstream,
                next_poll_at,
                ..
            } => Effect::Poll {
                at: at(*next_poll_at),
                location: upstream.location.clone(),
            },
            JobState::Ready { upstream } | JobState::Completed { upstream } => Effect::Download {
                at: at(self.updated_at),
                location: upstream.location.clone(),
            },
            JobState::Downloaded { .. }
            | JobState::Expired { .. }
            | JobState::NoData
            | JobState::Failed { .. }
            | JobState::Cancelled => Effect::None,
        }
    }

    /// True when the step from `before` to `after` must be flushed to disk before the driver
    /// acts on it: a create is about to be sent or went unconfirmed (or a new attempt begins),
    /// a location arrived, a failure was counted, or the job ended.
    pub fn must_flush(before: &Job, after: &Job) -> bool {
        after.state.is_terminal()
            || matches!(after.state, JobState::Requested { .. })
            || (matches!(before.state, JobState::Requested { .. })
                && matches!(after.state, JobState::Created { .. }))
            || (after.backoff.is_some() && after.backoff != before.backoff)
    }

    /// True when the step from `before` to `after` (at `now`) may wait to be recorded together
    /// with the step that follows it, if that one comes within [`Job::RIDE_ALONG_MS`]: it is not
    /// a durability point and the job goes on at once with its download (a status that says
    /// ready). One write instead of two; a crash before it costs one more status request.
    pub fn may_ride_along(before: &Job, after: &Job, now: Millis) -> bool {
        !Job::must_flush(before, after)
            && matches!(after.effect(), Effect::Download { at, .. } if at <= now)
    }

    /// How long a step that [may ride along](Job::may_ride_along) waits for the next one
    /// before it is recorded alone (a download still running then is seen as ready in the
    /// store while it runs).
    pub const RIDE_ALONG_MS: u64 = 1_000;

    /// The job after `input` happened at `now`, or [`CoreError::Rejected`] when the input makes
    /// no sense in the job's state (the job is then unchanged). Never panics.
    pub fn apply(&self, input: Input, now: Millis) -> Result<Job, CoreError> {
        let mut next = self.clone();
        self.transition(&input, now, &mut next)?;
        // In `Requested` only a confirmed create moves the job forward; elsewhere every
        // accepted input but a failure does.
        let setback = matches!(
            input,
            Input::StepFailed { .. }
                | Input::CreateSending
                | Input::CreateUnanswered { .. }
                | Input::ReconcileFoundNothing
        );
        if !setback || next.state.is_terminal() {
            next.backoff = None;
        }
        next.version = self.version.saturating_add(1);
        next.updated_at = now;
        Ok(next)
    }

    fn transition(&self, input: &Input, now: Millis, next: &mut Job) -> Result<(), CoreError> {
        let state = &self.state;
        if state.is_terminal() {
            return match input {
                Input::Retry if !matches!(state, JobState::Downloaded { .. }) => {
                    next.start_attempt(now);
                    Ok(())
                }
                Input::Retry => Err(reject(
                    state,
                    input,
                    "the report is already downloaded; submit a new job to fetch it again",
                )),
                _ => Err(reject(
                    state,
                    input,
                    "the job has ended; only `retry` starts it again",
                )),
            };
        }
        next.state = match (state, input) {
            (_, Input::Cancel) => JobState::Cancelled,
            (_, Input::PermanentError { failure }) => JobState::Failed {
                failure: failure.clone(),
            },
            (_, Input::Retry) => {
                return Err(reject(
                    state,
                    input,
                    "the job has not ended; `run` continues it",
                ));
            }
            (_, Input::StepFailed { reason }) => {
                self.step_failed(reason, now, next);
                return Ok(());
            }
            (JobState::Requested { .. }, _) => return self.in_requested(input, now, next),
            (JobState::Created { upstream }, Input::StatusSeen { progress, raw }) => {
                return self.after_status(upstream, 0, *progress, raw, now, next);
            }
            (
                JobState::Polling {
                    upstream, polls, ..
                },
                Input::StatusSeen { progress, raw },
            ) => return self.after_status(upstream, *polls, *progress, raw, now, next),
            (
                JobState::Created { upstream } | JobState::Polling { upstream, .. },
                Input::DeadlinePassed,
            ) => {
                if now < self.poll.deadline(upstream.created_at) {
                    return Err(reject(state, input, "the poll deadline has not passed yet"));
                }
                self.timed_out("no status")
            }
            (
                JobState::Created { .. }
                | JobState::Polling { .. }
                | JobState::Ready { .. }
                | JobState::Completed { .. },
                Input::OutputGone { reason },
            ) => {
                self.expired(reason.clone(), now, next);
                return Ok(());
            }
            (
                JobState::Ready { upstream } | JobState::Completed { upstream },
                Input::FileNotReady,
            ) => self.not_ready(upstream, 0, "file not ready", now),
            (
                JobState::Ready { upstream } | JobState::Completed { upstream },
                Input::FileStored { file },
            ) => JobState::Downloaded {
                upstream: upstream.clone(),
                file: file.clone(),
            },
            _ => {
                return Err(reject(
                    state,
                    input,
                    "this input does not apply in this state",
                ));
            }
        };
        Ok(())
    }

    /// Starts the next attempt: nothing sent yet, its first create due at `now`.
    fn start_attempt(&mut self, now: Millis) {
        self.attempt = self.attempt.saturating_add(1);
        self.attempt_started_at = now;
        self.state = JobState::requested(now);
    }

    /// The output is gone: a new attempt while the retry policy allows automatic re-requests,
    /// else `Expired`.
    fn expired(&self, reason: String, now: Millis, next: &mut Job) {
        if self.attempt < self.retry.max_attempts {
            next.start_attempt(now);
        } else {
            next.state = JobState::Expired { reason };
        }
    }

    /// After a status was seen, `polls` statuses having been seen not ready before.
    fn after_status(
        &self,
        upstream: &Upstream,
        polls: u32,
        progress: Progress,
        raw: &str,
        now: Millis,
        next: &mut Job,
    ) -> Result<(), CoreError> {
        next.state = match (progress, self.kind()) {
            (Progress::Ready, JobKind::Account) => JobState::Ready {
                upstream: upstream.clone(),
            },
            (Progress::Ready, JobKind::Billing) => JobState::Completed {
                upstream: upstream.clone(),
            },
            (Progress::Expired, _) => {
                self.expired(
                    format!("the upstream reports the report as {raw:?}"),
                    now,
                    next,
                );
                return Ok(());
            }
            (Progress::NotReady, _) => self.not_ready(upstream, polls, raw, now),
        };
        Ok(())
    }

    /// Back to polling after a not-ready answer, or failed once the deadline has passed.
    fn not_ready(&self, upstream: &Upstream, polls: u32, raw: &str, now: Millis) -> JobState {
        if now >= self.poll.deadline(upstream.created_at) {
            return self.timed_out(raw);
        }
        let polls = polls.saturating_add(1);
        JobState::Polling {
            upstream: upstream.clone(),
            polls,
            next_poll_at: self
                .poll
                .next_poll_at(self.id, polls, now, upstream.created_at),
            last_status: raw.to_string(),
        }
    }

    fn timed_out(&self, last_status: &str) -> JobState {
        JobState::Failed {
            failure: Failure {
                kind: FailureKind::TimedOut,
                http_status: None,
                code: None,
                message: format!(
                    "the report was not ready within {} s of its creation (last status {last_status:?}); retry the job or raise the poll deadline",
                    self.poll.deadline_ms / 1000
                ),
            },
        }
    }

    /// A step failed transiently: counted, and tried again after the policy's wait, or the job
    /// ends `Failed` once the failures in a row reach the policy's maximum.
    fn step_failed(&self, reason: &str, now: Millis, next: &mut Job) {
        let failures = self
            .backoff
            .as_ref()
            .map_or(0, |b| b.failures)
            .saturating_add(1);
        if failures >= self.retry.max_step_failures {
            next.state = self.gave_up(failures, reason);
            return;
        }
        next.backoff = Some(Backoff {
            failures,
            retry_at: now.plus_ms(self.retry.delay_ms(self.id, failures - 1)),
            last_error: reason.to_string(),
        });
        self.create_failed(reason, next);
    }

    /// The failure that ends a job whose steps kept failing.
    fn gave_up(&self, failures: u32, last_error: &str) -> JobState {
        let doing = match &self.state {
            JobState::Requested { in_doubt: true, .. } if self.kind() == JobKind::Account => {
                "creating the report or looking for it in the instance listing"
            }
            JobState::Requested { .. } => "creating the report",
            JobState::Ready { .. } | JobState::Completed { .. } => "downloading the file",
            _ => "asking for the report's status",
        };
        self.unavailable(
            format!(
                "{failures} tries in a row failed while {doing} (the limit is {})",
                self.retry.max_step_failures
            ),
            last_error,
        )
    }

    /// `Failed` as unavailable: what gave out, the last error, and what to do.
    pub(crate) fn unavailable(&self, what: String, last_error: &str) -> JobState {
        JobState::Failed {
            failure: Failure {
                kind: FailureKind::Unavailable,
                http_status: None,
                code: None,
                message: format!(
                    "{what}; the last error: {last_error}; check that the upstream is reachable and answering (the base URL, the network, its status page), then retry the job (`reportflow retry {}`)",
                    self.id
                ),
            },
        }
    }
}
