//! The control protocol between a running engine and the other commands: what goes over the
//! Unix domain socket in the store directory ([`SOCKET_NAME`]).
//!
//! One JSON object per line each way, in order: a request, then its answer, any number of them
//! on one connection. The first request of a connection is [`Request::Hello`], which names the
//! protocol version; an engine that speaks another answers with an error and closes. Every
//! other request is one operation of the store interface ([`reportflow_store::JobStore`]),
//! carrying what the store itself would be given (the jobs, their policies, the time of the
//! request): the engine
//! runs it on its store as it stands, so a job submitted through the socket is the record that
//! the same submit would have written straight into the store. The only inputs a client may
//! apply are the user's (`retry`, `cancel`). Errors travel as [`WireError`]: the refusals a
//! command's exit code depends on keep their kind, every other error keeps its words.
//!
//! JSON lines keep the protocol readable with `socat - UNIX-CONNECT:store/reportflow.sock`.

use reportflow_core::{DateOrigin, JobSpec, Label};
use reportflow_core::{Input, Job, JobId, JobKey, Millis, NewJob, Policies, StateName};
use reportflow_store::{Inserted, PurgeReport, StoreError, TransitionRecord};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of this protocol; both ends must speak the same.
pub const PROTOCOL: u32 = 1;

/// The socket's file name inside the store directory.
pub const SOCKET_NAME: &str = "reportflow.sock";

/// The longest line either end reads (a batch of jobs, a page of jobs), in bytes.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// What a client asks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The first request of a connection: which protocol the client speaks.
    Hello {
        /// [`PROTOCOL`] of the client.
        protocol: u32,
    },
    /// Store new jobs (idempotent on their keys).
    InsertMany {
        /// The jobs, in order.
        jobs: Vec<WireNewJob>,
        /// The policies they are stored with.
        policies: Policies,
        /// When they were submitted.
        now: Millis,
    },
    /// The job with this id.
    Get {
        /// The id.
        id: JobId,
    },
    /// The job this key names.
    GetByKey {
        /// The key.
        key: JobKey,
    },
    /// A page of jobs.
    List {
        /// Only jobs in this state.
        state: Option<StateName>,
        /// Ids above this one.
        after: Option<JobId>,
        /// At most this many.
        limit: usize,
    },
    /// A page of live jobs.
    LivePage {
        /// Ids above this one.
        after: Option<JobId>,
        /// At most this many.
        limit: usize,
    },
    /// Jobs per state.
    Counts,
    /// A job's transitions.
    History {
        /// The job.
        id: JobId,
    },
    /// A user's input applied to a job still at `expected_version`.
    Apply {
        /// The job.
        id: JobId,
        /// The version the client read.
        expected_version: u64,
        /// What the user asked.
        input: UserInput,
        /// When.
        now: Millis,
    },
    /// Ended jobs last changed before `older_than` removed.
    Purge {
        /// The cutoff (core time).
        older_than: Millis,
    },
    /// Every write answered so far made durable.
    Flush,
}

/// The inputs a client may apply through the socket: what `retry` and `cancel` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserInput {
    /// [`Input::Retry`].
    Retry,
    /// [`Input::Cancel`].
    Cancel,
}

impl UserInput {
    /// The user's input `input` is, if it is one.
    pub fn of(input: &Input) -> Option<UserInput> {
        match input {
            Input::Retry => Some(UserInput::Retry),
            Input::Cancel => Some(UserInput::Cancel),
            _ => None,
        }
    }

    /// The core's input.
    pub fn input(self) -> Input {
        match self {
            UserInput::Retry => Input::Retry,
            UserInput::Cancel => Input::Cancel,
        }
    }
}

/// A [`NewJob`] on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireNewJob {
    /// What to fetch.
    pub spec: JobSpec,
    /// The key given (derived from the spec when `None`).
    pub key: Option<JobKey>,
    /// The label.
    pub label: Option<Label>,
    /// Where its dates came from.
    pub origin: Option<DateOrigin>,
}

impl From<NewJob> for WireNewJob {
    fn from(job: NewJob) -> WireNewJob {
        WireNewJob {
            spec: job.spec,
            key: job.key,
            label: job.label,
            origin: job.origin,
        }
    }
}

impl From<WireNewJob> for NewJob {
    fn from(job: WireNewJob) -> NewJob {
        NewJob::new(job.spec, job.key)
            .labelled(job.label)
            .dated(job.origin)
    }
}

/// An [`Inserted`] on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireInserted {
    /// The job the key names.
    pub job: Job,
    /// True when the request created it.
    pub created: bool,
}

/// A [`TransitionRecord`] on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireTransition {
    /// The step's number.
    pub seq: u64,
    /// The state before.
    pub from: Option<StateName>,
    /// The state after.
    pub to: StateName,
    /// The input's summary.
    pub input: String,
    /// When.
    pub at: Millis,
}

/// What the engine answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Response {
    /// The answer to [`Request::Hello`].
    Hello {
        /// [`PROTOCOL`] of the engine.
        protocol: u32,
        /// The engine's process id (for messages).
        pid: u32,
    },
    /// The jobs stored (or found under their keys), in order.
    Inserted {
        /// One per job asked for.
        jobs: Vec<WireInserted>,
    },
    /// One job, or none.
    Job {
        /// The job, if stored.
        job: Option<Box<Job>>,
    },
    /// A page of jobs.
    Jobs {
        /// The jobs.
        jobs: Vec<Job>,
    },
    /// Jobs per state.
    Counts {
        /// `(state, jobs)` for every state.
        counts: Vec<(StateName, u64)>,
    },
    /// A job's transitions.
    History {
        /// Oldest first.
        steps: Vec<WireTransition>,
    },
    /// The job after an applied input.
    Applied {
        /// The job.
        job: Box<Job>,
    },
    /// What a purge removed.
    Purged {
        /// Jobs removed.
        jobs: u64,
        /// History records removed.
        history_records: u64,
        /// The first ids removed.
        ids: Vec<JobId>,
    },
    /// Every write answered so far is durable.
    Flushed,
    /// The request failed or was refused.
    Error {
        /// Why.
        error: WireError,
    },
}

/// A store error on the wire: the refusals whose kind matters to the commands (exit codes, the
/// retry of an input after a conflict) keep it; every other error keeps its words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    /// [`StoreError::KeyConflict`].
    KeyConflict {
        /// The key.
        key: JobKey,
        /// The job it names.
        existing: JobId,
        /// What that job asks for.
        existing_spec: String,
        /// What the request asked for.
        new_spec: String,
    },
    /// [`StoreError::NotFound`].
    NotFound {
        /// The id.
        id: JobId,
    },
    /// [`StoreError::Conflict`].
    Conflict {
        /// The job.
        id: JobId,
        /// The version the client expected.
        expected: u64,
        /// The version stored.
        found: u64,
    },
    /// Another refusal of the request as given (an input the core refuses).
    Refused {
        /// The store's words.
        message: String,
    },
    /// A failure of the engine's store (the disk, corruption).
    Failed {
        /// The store's words.
        message: String,
    },
    /// The request could not be read or is not allowed (another protocol, another version).
    BadRequest {
        /// What was wrong.
        message: String,
    },
}

impl WireError {
    /// `error` as it goes on the wire.
    pub fn of(error: &StoreError) -> WireError {
        match error {
            StoreError::KeyConflict {
                key,
                existing,
                existing_spec,
                new_spec,
            } => WireError::KeyConflict {
                key: key.clone(),
                existing: *existing,
                existing_spec: existing_spec.clone(),
                new_spec: new_spec.clone(),
            },
            StoreError::NotFound { id } => WireError::NotFound { id: *id },
            StoreError::Conflict {
                id,
                expected,
                found,
            } => WireError::Conflict {
                id: *id,
                expected: *expected,
                found: *found,
            },
            StoreError::Rejected(_) | StoreError::Answered { refusal: true, .. } => {
                WireError::Refused {
                    message: error.to_string(),
                }
            }
            other => WireError::Failed {
                message: other.to_string(),
            },
        }
    }

    /// The store error a client reports for this answer from the engine holding `dir`.
    pub fn into_store_error(self, dir: &Path) -> StoreError {
        match self {
            WireError::KeyConflict {
                key,
                existing,
                existing_spec,
                new_spec,
            } => StoreError::KeyConflict {
                key,
                existing,
                existing_spec,
                new_spec,
            },
            WireError::NotFound { id } => StoreError::NotFound { id },
            WireError::Conflict {
                id,
                expected,
                found,
            } => StoreError::Conflict {
                id,
                expected,
                found,
            },
            WireError::Refused { message } => StoreError::Answered {
                message,
                refusal: true,
            },
            WireError::Failed { message } => StoreError::Answered {
                message,
                refusal: false,
            },
            WireError::BadRequest { message } => StoreError::Engine {
                dir: dir.to_path_buf(),
                detail: format!(
                    "it refused the request ({message}); run the same reportflow version for the engine and the commands"
                ),
            },
        }
    }
}

impl Response {
    /// The answer to a request whose result is `result`, made by `answer`.
    pub fn of<T>(result: Result<T, StoreError>, answer: impl FnOnce(T) -> Response) -> Response {
        match result {
            Ok(value) => answer(value),
            Err(e) => Response::Error {
                error: WireError::of(&e),
            },
        }
    }

    /// The answer to an insert.
    pub fn inserted(inserted: Vec<Inserted>) -> Response {
        Response::Inserted {
            jobs: inserted
                .into_iter()
                .map(|i| WireInserted {
                    job: i.job,
                    created: i.created,
                })
                .collect(),
        }
    }

    /// The answer to a history request.
    pub fn history(steps: Vec<TransitionRecord>) -> Response {
        Response::History {
            steps: steps
                .into_iter()
                .map(|s| WireTransition {
                    seq: s.seq,
                    from: s.from,
                    to: s.to,
                    input: s.input,
                    at: s.at,
                })
                .collect(),
        }
    }

    /// The answer to a purge.
    pub fn purged(report: PurgeReport) -> Response {
        Response::Purged {
            jobs: report.jobs,
            history_records: report.history_records,
            ids: report.ids,
        }
    }
}

impl From<WireInserted> for Inserted {
    fn from(i: WireInserted) -> Inserted {
        Inserted {
            job: i.job,
            created: i.created,
        }
    }
}

impl From<WireTransition> for TransitionRecord {
    fn from(s: WireTransition) -> TransitionRecord {
        TransitionRecord {
            seq: s.seq,
            from: s.from,
            to: s.to,
            input: s.input,
            at: s.at,
        }
    }
}

/// `value` as one line of JSON (with its newline).
pub fn line<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let mut bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reportflow_core::{
        AccountReportSpec, BillingReportSpec, Failure, FailureKind, Input, OutputFormat, Progress,
        StoredFile,
    };
    use reportflow_store::Store;
    use std::collections::{BTreeMap, BTreeSet};

    fn spec(n: u32) -> JobSpec {
        let mut params = BTreeMap::new();
        params.insert(
            "AccountId".to_string(),
            BTreeSet::from(["9900000".to_string()]),
        );
        JobSpec::Account(AccountReportSpec {
            account: "9900000".into(),
            report_id: n,
            format: OutputFormat::Csv,
            params,
            expires_at: None,
        })
    }

    /// Jobs in every kind of state cross the wire unchanged (JSON both ways).
    #[test]
    fn jobs_cross_the_wire_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("s")).expect("store");
        let billing = JobSpec::Billing(BillingReportSpec {
            account: "9900000".into(),
            report_type: "BDR".into(),
            start: jiff::civil::date(2026, 11, 1),
            end: jiff::civil::date(2026, 11, 2),
        });
        let jobs = vec![
            NewJob::new(spec(2), None).labelled(Label::new("nightly").ok()),
            NewJob::new(billing, None),
            NewJob::new(spec(3), None),
        ];
        let inserted = store
            .insert_many(jobs, &Policies::default(), Millis(1_000))
            .expect("insert");
        let (a, b, c) = (inserted[0].job.id, inserted[1].job.id, inserted[2].job.id);
        let steps = [
            (a, Input::CreateSending),
            (
                a,
                Input::CreateAccepted {
                    location: "http://h/x/1".into(),
                },
            ),
            (
                a,
                Input::StatusSeen {
                    progress: Progress::Ready,
                    raw: "COMPLETE".into(),
                },
            ),
            (
                a,
                Input::FileStored {
                    file: StoredFile {
                        path: "/r/f.csv".into(),
                        bytes: 3,
                        sha256: "ab".into(),
                    },
                },
            ),
            (b, Input::CreateSending),
            (
                b,
                Input::PermanentError {
                    failure: Failure {
                        kind: FailureKind::Upstream,
                        http_status: Some(400),
                        code: Some(1001),
                        message: "bad".into(),
                    },
                },
            ),
            (c, Input::Cancel),
        ];
        for (id, input) in steps {
            let job = store.get(id).expect("get").expect("stored");
            store
                .apply(id, job.version, input, Millis(2_000))
                .expect("apply");
        }
        for job in store.list(None, None, 10).expect("list") {
            let answer = Response::Job {
                job: Some(Box::new(job.clone())),
            };
            let text = line(&answer).expect("encodes");
            let back: Response = serde_json::from_slice(&text).expect("decodes");
            let Response::Job { job: Some(back) } = back else {
                panic!("another answer: {back:?}");
            };
            assert_eq!(*back, job);
        }
    }

    /// The refusals keep their kind; other errors their words.
    #[test]
    fn errors_keep_their_kind_or_their_words() {
        let dir = Path::new("/s");
        let conflict = StoreError::Conflict {
            id: JobId(3),
            expected: 1,
            found: 2,
        };
        let back = WireError::of(&conflict).into_store_error(dir);
        assert!(
            matches!(
                back,
                StoreError::Conflict {
                    expected: 1,
                    found: 2,
                    ..
                }
            ),
            "{back:?}"
        );
        let locked = StoreError::Locked { dir: dir.into() };
        let back = WireError::of(&locked).into_store_error(dir);
        assert_eq!(back.to_string(), locked.to_string());
        assert!(matches!(back, StoreError::Answered { refusal: false, .. }));
        let rejected = StoreError::Rejected(reportflow_core::CoreError::Rejected {
            state: StateName::Downloaded,
            input: "retry",
            hint: "submit a new job",
        });
        let back = WireError::of(&rejected).into_store_error(dir);
        assert_eq!(back.to_string(), rejected.to_string());
        assert!(matches!(back, StoreError::Answered { refusal: true, .. }));
    }
}
