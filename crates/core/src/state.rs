//! The states a job moves through, and what each one carries.

use crate::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a created report lives upstream.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Upstream {
    /// The `Location` the create answered (or reconciliation found), followed as given.
    pub location: String,
    /// When the location became known; the poll deadline counts from here.
    pub created_at: Millis,
}

/// A report file stored under its final name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredFile {
    /// Absolute path of the file.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its sha256, lower-case hex.
    pub sha256: String,
}

/// What the upstream said about a report's progress: the meaning of a status literal, read by
/// the one parser of the upstream's vocabulary (`reportflow-wire`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Progress {
    /// Still being built (including every literal the upstream does not publish).
    NotReady,
    /// The output can be downloaded.
    Ready,
    /// The output is gone.
    Expired,
}

/// What kind of reason ended a job as failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureKind {
    /// The upstream refused the request (400, 401, 403, 404 unknown report, ...).
    Upstream,
    /// The report was not ready before the poll deadline.
    TimedOut,
    /// The upstream stayed unreachable or kept failing after every retry.
    Unavailable,
    /// The upstream answered something reportflow could not use (bad XML, a bad file).
    BadAnswer,
}

/// Why a job failed: recorded with the job and shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Failure {
    /// The kind of reason.
    pub kind: FailureKind,
    /// The HTTP status, when an answer had one.
    pub http_status: Option<u16>,
    /// The upstream error code (e.g. 19032), when the answer carried one.
    pub code: Option<u32>,
    /// A description for people; never carries credentials.
    pub message: String,
}

impl Failure {
    /// True when the upstream refused the credentials (401 or 403): every job of the account
    /// would be refused alike.
    pub fn refuses_credentials(&self) -> bool {
        self.kind == FailureKind::Upstream && matches!(self.http_status, Some(401 | 403))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.http_status, self.code) {
            (Some(s), Some(c)) => write!(f, "HTTP {s}, upstream code {c}: {}", self.message),
            (Some(s), None) => write!(f, "HTTP {s}: {}", self.message),
            (None, Some(c)) => write!(f, "upstream code {c}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// The state of a job. See `docs/architecture.md` for the diagram.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// The intent is durably recorded; no create has been confirmed. The state counts the
    /// create requests of this attempt that no answer confirmed (across reconciliations and
    /// restarts: only a confirmed create or a new attempt resets it) and knows when the next
    /// step is due.
    Requested {
        /// Create requests sent in this attempt without a confirming answer; each is counted
        /// (durably) before it is sent.
        unconfirmed: u32,
        /// The last create request may have been applied upstream and no answer says so (it is
        /// in flight, its answer was lost, or the process stopped): an account report is then
        /// looked for in the instance listing before another create is sent.
        in_doubt: bool,
        /// When the next create (or the search of the instance listing) is due.
        next_at: Millis,
        /// Why the last create was not confirmed, for people.
        last_error: Option<String>,
    },
    /// The upstream location is known; no status seen yet.
    Created {
        /// Where the report lives.
        upstream: Upstream,
    },
    /// A status was seen and it was not ready; the next poll is due at `next_poll_at`.
    Polling {
        /// Where the report lives.
        upstream: Upstream,
        /// How many statuses were seen not ready.
        polls: u32,
        /// When the next status request is due.
        next_poll_at: Millis,
        /// The last status literal seen (for people; may be unknown upstream text).
        last_status: String,
    },
    /// An account report's output can be fetched.
    Ready {
        /// Where the report lives.
        upstream: Upstream,
    },
    /// A billing report's archive can be fetched.
    Completed {
        /// Where the report lives.
        upstream: Upstream,
    },
    /// The file is complete, synced and under its final name.
    Downloaded {
        /// Where the report lived.
        upstream: Upstream,
        /// The stored file.
        file: StoredFile,
    },
    /// The upstream output is gone (expired, or the instance no longer exists).
    Expired {
        /// What the upstream said.
        reason: String,
    },
    /// The billing report has no data for its range (the create answered 204).
    NoData,
    /// The job ended without a file; the reason says why.
    Failed {
        /// Why.
        failure: Failure,
    },
    /// The user cancelled the job.
    Cancelled,
}

/// The name of a state, without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StateName {
    /// See [`JobState::Requested`].
    Requested,
    /// See [`JobState::Created`].
    Created,
    /// See [`JobState::Polling`].
    Polling,
    /// See [`JobState::Ready`].
    Ready,
    /// See [`JobState::Completed`].
    Completed,
    /// See [`JobState::Downloaded`].
    Downloaded,
    /// See [`JobState::Expired`].
    Expired,
    /// See [`JobState::NoData`].
    NoData,
    /// See [`JobState::Failed`].
    Failed,
    /// See [`JobState::Cancelled`].
    Cancelled,
}

impl StateName {
    /// Every state name, in lifecycle order.
    pub const ALL: [StateName; 10] = [
        Self::Requested,
        Self::Created,
        Self::Polling,
        Self::Ready,
        Self::Completed,
        Self::Downloaded,
        Self::Expired,
        Self::NoData,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The lower-case name used in output and on the command line (`downloaded`, `nodata`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Created => "created",
            Self::Polling => "polling",
            Self::Ready => "ready",
            Self::Completed => "completed",
            Self::Downloaded => "downloaded",
            Self::Expired => "expired",
            Self::NoData => "nodata",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a lower-case state name as printed by [`StateName::as_str`].
    pub fn parse(s: &str) -> Option<StateName> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// True for the states a job ends in.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Downloaded | Self::Expired | Self::NoData | Self::Failed | Self::Cancelled
        )
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JobState {
    /// The state of a new attempt: nothing sent yet, the first create due at `now`.
    pub fn requested(now: Millis) -> JobState {
        JobState::Requested {
            unconfirmed: 0,
            in_doubt: false,
            next_at: now,
            last_error: None,
        }
    }

    /// The state's name.
    pub fn name(&self) -> StateName {
        match self {
            Self::Requested { .. } => StateName::Requested,
            Self::Created { .. } => StateName::Created,
            Self::Polling { .. } => StateName::Polling,
            Self::Ready { .. } => StateName::Ready,
            Self::Completed { .. } => StateName::Completed,
            Self::Downloaded { .. } => StateName::Downloaded,
            Self::Expired { .. } => StateName::Expired,
            Self::NoData => StateName::NoData,
            Self::Failed { .. } => StateName::Failed,
            Self::Cancelled => StateName::Cancelled,
        }
    }

    /// True when the job has ended (only an explicit retry moves it again).
    pub fn is_terminal(&self) -> bool {
        self.name().is_terminal()
    }

    /// The upstream location, in the states that know it.
    pub fn upstream(&self) -> Option<&Upstream> {
        match self {
            Self::Created { upstream }
            | Self::Polling { upstream, .. }
            | Self::Ready { upstream }
            | Self::Completed { upstream }
            | Self::Downloaded { upstream, .. } => Some(upstream),
            _ => None,
        }
    }
}
