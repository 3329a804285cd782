//! The create budget: how a job in `Requested` counts its create requests, waits between them,
//! looks for a create whose answer it never got, and gives up.
//!
//! Every create request is counted (durably) before it is sent, and the count is reset only
//! when a create is confirmed (an answer with a `Location` or "no data", or the instance found
//! in the listing) or a new attempt starts. A search of the listing that finds nothing, a
//! restart, a transient answer: none of them resets it, so an attempt sends at most
//! `max_unconfirmed_creates` create requests, whatever happens.

use crate::job::reject;
use crate::{CoreError, Input, Job, JobKind, JobState, Millis, Upstream};

/// Said of the last create when no answer was ever recorded for it.
const STOPPED: &str = "the process stopped before the create's answer was recorded";

impl Job {
    /// `input` in `Requested`; `next` is the job being built.
    pub(crate) fn in_requested(
        &self,
        input: &Input,
        now: Millis,
        next: &mut Job,
    ) -> Result<(), CoreError> {
        let JobState::Requested {
            unconfirmed,
            in_doubt,
            next_at,
            last_error,
        } = &self.state
        else {
            return Err(reject(&self.state, input, "the job is not in `requested`"));
        };
        let (unconfirmed, in_doubt) = (*unconfirmed, *in_doubt);
        let spent = unconfirmed >= self.retry.max_unconfirmed_creates;
        let account = self.kind() == JobKind::Account;
        let last = || last_error.clone().unwrap_or_else(|| STOPPED.to_string());
        next.state = match input {
            Input::CreateSending if in_doubt && account => {
                return Err(reject(
                    &self.state,
                    input,
                    "the last create's answer is unknown; look for it in the instance listing first",
                ));
            }
            Input::CreateSending if spent => self.creates_spent(unconfirmed, &last()),
            Input::CreateSending => {
                next.creations = self.creations.saturating_add(1);
                JobState::Requested {
                    unconfirmed: unconfirmed.saturating_add(1),
                    in_doubt: true,
                    next_at: *next_at,
                    last_error: last_error.clone(),
                }
            }
            _ if !in_doubt => {
                return Err(reject(
                    &self.state,
                    input,
                    "no create request is out; record create-sending first",
                ));
            }
            Input::CreateAccepted { location } => {
                if location.trim().is_empty() {
                    return Err(reject(&self.state, input, "the location is empty"));
                }
                JobState::Created {
                    upstream: Upstream {
                        location: location.clone(),
                        created_at: now,
                    },
                }
            }
            Input::CreateNoData if !account => JobState::NoData,
            Input::CreateUnanswered { reason } if !account && spent => {
                self.creates_spent(unconfirmed, reason)
            }
            // The next create (a billing report: there is no listing to look in) or the search
            // of the listing (an account report) waits per the policy: the wait grows with the
            // creates sent so far.
            Input::CreateUnanswered { reason } => JobState::Requested {
                unconfirmed,
                in_doubt: account,
                next_at: now.plus_ms(self.retry.delay_ms(self.id, unconfirmed.saturating_sub(1))),
                last_error: Some(reason.clone()),
            },
            // The wait came before the search: the next create is due at once.
            Input::ReconcileFoundNothing if account && spent => {
                self.creates_spent(unconfirmed, &last())
            }
            Input::ReconcileFoundNothing if account => JobState::Requested {
                unconfirmed,
                in_doubt: false,
                next_at: now,
                last_error: last_error.clone(),
            },
            _ => {
                return Err(reject(
                    &self.state,
                    input,
                    "this input does not apply in this state",
                ));
            }
        };
        Ok(())
    }

    /// A step of a job in `Requested` failed transiently (its backoff is already counted): the
    /// create's answer was an error that may pass, or the search of the listing failed. An
    /// account report stays in doubt (its listing is searched after the wait, before any new
    /// create); a billing report's create was answered, so it is not, and past the create
    /// budget the job ends.
    pub(crate) fn create_failed(&self, reason: &str, next: &mut Job) {
        let JobState::Requested {
            unconfirmed,
            in_doubt,
            next_at,
            last_error,
        } = &self.state
        else {
            return;
        };
        let account = self.kind() == JobKind::Account;
        next.state = if !account && *unconfirmed >= self.retry.max_unconfirmed_creates {
            self.creates_spent(*unconfirmed, reason)
        } else {
            JobState::Requested {
                unconfirmed: *unconfirmed,
                in_doubt: *in_doubt && account,
                next_at: *next_at,
                last_error: if *in_doubt {
                    Some(reason.to_string())
                } else {
                    last_error.clone()
                },
            }
        };
    }

    /// The failure that ends a job whose create budget is spent.
    fn creates_spent(&self, sent: u32, last_error: &str) -> JobState {
        self.unavailable(
            format!(
                "{sent} create request(s) were sent in attempt {} and none was confirmed (the limit is {})",
                self.attempt, self.retry.max_unconfirmed_creates
            ),
            last_error,
        )
    }

    /// The create requests sent in the current attempt that no answer confirmed (0 once the
    /// report was created).
    pub fn unconfirmed_creates(&self) -> u32 {
        match &self.state {
            JobState::Requested { unconfirmed, .. } => *unconfirmed,
            _ => 0,
        }
    }
}
