//! A job and its one transition function.

use crate::{
    CoreError, DateOrigin, Effect, Failure, FailureKind, Input, JobKey, JobKind, JobSpec, JobState,
    Label, Millis, PollPolicy, Progress, Upstream, classify_status,
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

/// A report job: what was asked for, how far it got, and its counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// Its idempotency key.
    pub key: JobKey,
    /// What was asked for.
    pub spec: JobSpec,
    /// How its status is polled.
    pub policy: PollPolicy,
    /// Where it is.
    pub state: JobState,
    /// How many transitions it has taken (the store's optimistic-concurrency version).
    pub version: u64,
    /// The attempt number, from 1; an explicit retry starts the next one.
    pub attempt: u32,
    /// When the current attempt's intent was recorded.
    pub attempt_started_at: Millis,
    /// Create requests sent upstream over the job's life (all attempts).
    pub creations: u32,
    /// When the job was submitted.
    pub submitted_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
    /// The label it was submitted under (stored from record version 2).
    pub label: Option<Label>,
    /// Where its dates came from, when they were written relative to the submit's day
    /// (stored from record version 2).
    pub origin: Option<DateOrigin>,
}

fn reject(state: &JobState, input: &Input, hint: &'static str) -> CoreError {
    CoreError::Rejected {
        state: state.name(),
        input: input.name(),
        hint,
    }
}

impl Job {
    /// A new job in `Requested`, with nothing sent yet.
    pub fn new(id: JobId, key: JobKey, spec: JobSpec, policy: PollPolicy, now: Millis) -> Job {
        Job {
            id,
            key,
            spec,
            policy,
            state: JobState::Requested { sends: 0 },
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
            .map(|u| self.policy.deadline(u.created_at))
    }

    /// What the driver should do next; a pure function of the stored job.
    pub fn effect(&self) -> Effect {
        match &self.state {
            JobState::Requested { sends: 0 } => Effect::Create,
            JobState::Requested { .. } => match self.kind() {
                JobKind::Account => Effect::Reconcile {
                    since: self.attempt_started_at,
                },
                JobKind::Billing => Effect::Create,
            },
            JobState::Created { upstream } => Effect::Poll {
                at: self
                    .policy
                    .next_poll_at(self.id, 0, upstream.created_at, upstream.created_at),
                location: upstream.location.clone(),
            },
            JobState::Polling {
                upstream,
                next_poll_at,
                ..
            } => Effect::Poll {
                at: *next_poll_at,
                location: upstream.location.clone(),
            },
            JobState::Ready { upstream } | JobState::Completed { upstream } => Effect::Download {
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
    /// acts on it: a create is about to be sent (or a new attempt begins), a location arrived,
    /// or the job ended.
    pub fn must_flush(before: &JobState, after: &JobState) -> bool {
        after.is_terminal()
            || matches!(after, JobState::Requested { .. })
            || (matches!(before, JobState::Requested { .. })
                && matches!(after, JobState::Created { .. }))
    }

    /// The job after `input` happened at `now`, or [`CoreError::Rejected`] when the input makes
    /// no sense in the job's state (the job is then unchanged). Never panics.
    pub fn apply(&self, input: Input, now: Millis) -> Result<Job, CoreError> {
        let mut next = self.clone();
        next.state = self.next_state(&input, now, &mut next)?;
        next.version = self.version.saturating_add(1);
        next.updated_at = now;
        Ok(next)
    }

    fn next_state(
        &self,
        input: &Input,
        now: Millis,
        next: &mut Job,
    ) -> Result<JobState, CoreError> {
        let state = &self.state;
        if state.is_terminal() {
            return match input {
                Input::Retry if !matches!(state, JobState::Downloaded { .. }) => {
                    next.attempt = self.attempt.saturating_add(1);
                    next.attempt_started_at = now;
                    Ok(JobState::Requested { sends: 0 })
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
        match (state, input) {
            (_, Input::Cancel) => Ok(JobState::Cancelled),
            (_, Input::PermanentError { failure }) => Ok(JobState::Failed {
                failure: failure.clone(),
            }),
            (_, Input::Retry) => Err(reject(
                state,
                input,
                "the job has not ended; `run` continues it",
            )),
            (JobState::Requested { sends }, Input::CreateSending) => {
                next.creations = self.creations.saturating_add(1);
                Ok(JobState::Requested {
                    sends: sends.saturating_add(1),
                })
            }
            (JobState::Requested { sends }, _) if *sends == 0 => Err(reject(
                state,
                input,
                "no create request was sent yet; record create-sending first",
            )),
            (JobState::Requested { .. }, Input::CreateAccepted { location }) => {
                if location.trim().is_empty() {
                    return Err(reject(state, input, "the location is empty"));
                }
                Ok(JobState::Created {
                    upstream: Upstream {
                        location: location.clone(),
                        created_at: now,
                    },
                })
            }
            (JobState::Requested { .. }, Input::ReconcileFoundNothing)
                if self.kind() == JobKind::Account =>
            {
                Ok(JobState::Requested { sends: 0 })
            }
            (JobState::Requested { .. }, Input::CreateNoData)
                if self.kind() == JobKind::Billing =>
            {
                Ok(JobState::NoData)
            }
            (JobState::Created { upstream }, Input::StatusSeen { raw }) => {
                Ok(self.after_status(upstream, 0, raw, now))
            }
            (
                JobState::Polling {
                    upstream, polls, ..
                },
                Input::StatusSeen { raw },
            ) => Ok(self.after_status(upstream, *polls, raw, now)),
            (
                JobState::Created { upstream } | JobState::Polling { upstream, .. },
                Input::DeadlinePassed,
            ) => {
                if now < self.policy.deadline(upstream.created_at) {
                    return Err(reject(state, input, "the poll deadline has not passed yet"));
                }
                Ok(self.timed_out("no status"))
            }
            (
                JobState::Created { .. }
                | JobState::Polling { .. }
                | JobState::Ready { .. }
                | JobState::Completed { .. },
                Input::OutputGone { reason },
            ) => Ok(JobState::Expired {
                reason: reason.clone(),
            }),
            (
                JobState::Ready { upstream } | JobState::Completed { upstream },
                Input::FileNotReady,
            ) => Ok(self.not_ready(upstream, 0, "file not ready", now)),
            (
                JobState::Ready { upstream } | JobState::Completed { upstream },
                Input::FileStored { file },
            ) => Ok(JobState::Downloaded {
                upstream: upstream.clone(),
                file: file.clone(),
            }),
            _ => Err(reject(
                state,
                input,
                "this input does not apply in this state",
            )),
        }
    }

    /// The state after a status literal was seen, `polls` statuses having been seen before.
    fn after_status(&self, upstream: &Upstream, polls: u32, raw: &str, now: Millis) -> JobState {
        match classify_status(self.kind(), raw) {
            Progress::Ready => match self.kind() {
                JobKind::Account => JobState::Ready {
                    upstream: upstream.clone(),
                },
                JobKind::Billing => JobState::Completed {
                    upstream: upstream.clone(),
                },
            },
            Progress::Expired => JobState::Expired {
                reason: format!("the upstream reports the report as {raw:?}"),
            },
            Progress::NotReady => self.not_ready(upstream, polls, raw, now),
        }
    }

    /// Back to polling after a not-ready answer, or failed once the deadline has passed.
    fn not_ready(&self, upstream: &Upstream, polls: u32, raw: &str, now: Millis) -> JobState {
        if now >= self.policy.deadline(upstream.created_at) {
            return self.timed_out(raw);
        }
        let polls = polls.saturating_add(1);
        JobState::Polling {
            upstream: upstream.clone(),
            polls,
            next_poll_at: self
                .policy
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
                    self.policy.deadline_ms / 1000
                ),
            },
        }
    }
}
