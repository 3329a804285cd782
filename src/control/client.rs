//! The commands' side of the control socket: [`ControlClient`] is one more implementation of
//! the store interface ([`JobStore`]) that answers every call by asking the engine that holds
//! the store, so that [`Jobs`] (and with it every command's validation, lookups and output)
//! works the same through the socket as on the store itself. [`open_jobs`] chooses between the
//! two (and opens a PostgreSQL store directly: it has no socket).
//!
//! Nothing waits without a bound: connecting, the engine's first answer and every later answer
//! each have a deadline, after which the command fails with an error that says what to check.

use super::SocketAddress;
use super::protocol::{self, MAX_LINE, PROTOCOL, Request, Response, UserInput, WireNewJob};
use crate::error::CliError;
use reportflow_core::{Job, JobId, JobKey, Millis, NewJob, Policies, StateName};
use reportflow_driver::{DriverError, Engine, EngineConfig, Jobs};
use reportflow_store::{
    AppliedStep, Inserted, JobStore, PurgeReport, Step, StoreError, TransitionRecord, async_trait,
};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::Mutex;

/// How long connecting to the socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the engine may take to answer the first request of a connection.
const HELLO_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the engine may take to answer any later request (a large batch is flushed first).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a command waits for a store that another process holds without answering on a
/// socket (an engine starting or stopping, another command reading it).
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// The pause between two looks at a held store.
const LOCK_PAUSE: Duration = Duration::from_millis(25);

/// The jobs of the store `config` names. A directory store: through the control socket of the
/// engine that holds it, or straight from the store when no engine does (as [`Jobs::open`],
/// which creates it when it does not exist yet); a socket whose engine is gone (connection
/// refused) is stale: it is removed once the store is held here; a store held by a process
/// without a socket is waited for a moment, then reported as in use. A PostgreSQL store is
/// opened directly ([`Jobs::open`]): any number of processes share it, with no socket.
///
/// Returns the jobs and, when they are reached through an engine, its process id.
pub async fn open_jobs(config: &EngineConfig) -> Result<(Jobs, Option<u32>), DriverError> {
    let Some(dir) = config.store.dir() else {
        return Ok((Jobs::open(config).await?, None));
    };
    config.validate()?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        if let Some(client) = ControlClient::connect(dir).await? {
            let pid = client.pid;
            return Ok((Jobs::on(Arc::new(client), config.policies()), Some(pid)));
        }
        match Jobs::open(config).await {
            Ok(jobs) => {
                remove_stale(dir);
                return Ok((jobs, None));
            }
            Err(DriverError::Store(StoreError::Locked { .. })) if Instant::now() < deadline => {
                tokio::time::sleep(LOCK_PAUSE).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens the engine of `config` (`run`, `serve`); a directory store that a running engine holds
/// is refused naming that engine, which already drives the store's jobs (and answers the other
/// commands), rather than as a store in use.
pub async fn open_engine(config: &EngineConfig) -> Result<Engine, CliError> {
    match Engine::open(config.clone()).await {
        Err(DriverError::Store(StoreError::Locked { dir })) => {
            let engine = match ControlClient::connect(&dir).await {
                Ok(Some(client)) => client.engine(),
                _ => return Err(DriverError::Store(StoreError::Locked { dir }).into()),
            };
            Err(CliError::Runtime(format!(
                "the store {} is held by {engine}, which drives its jobs already (and new ones at once); submit and look with the other commands, or stop it (SIGTERM) to run this one",
                dir.display()
            )))
        }
        other => Ok(other?),
    }
}

/// Removes the socket of the store in `dir`, which this process holds: whatever engine made
/// the socket is gone (only the holder of the store binds one).
fn remove_stale(dir: &Path) {
    let path = dir.join(protocol::SOCKET_NAME);
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        return;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::info!(
            "removed the stale control socket {} (the engine that made it is gone)",
            path.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "cannot remove the stale control socket {}: {e}",
            path.display()
        ),
    }
}

/// A connection to the engine that holds a store.
#[derive(Debug)]
pub struct ControlClient {
    dir: PathBuf,
    socket: PathBuf,
    pid: u32,
    connection: Mutex<BufReader<UnixStream>>,
}

impl ControlClient {
    /// Connects to the engine holding the store in `dir`: `None` when no engine answers on its
    /// socket (there is none, or it is stale: nobody listens on it). An engine that accepts
    /// but does not answer in time, speaks another protocol, or a socket of another user, is
    /// an error.
    pub async fn connect(dir: &Path) -> Result<Option<ControlClient>, StoreError> {
        let address = SocketAddress::of(dir).map_err(|e| engine_error(dir, e.to_string()))?;
        let socket = address.file.clone();
        // No socket there (or no directory): no engine to ask; opening the store says the rest.
        let Ok(found) = std::fs::symlink_metadata(&socket) else {
            return Ok(None);
        };
        if !found.file_type().is_socket() {
            return Ok(None);
        }
        if std::fs::metadata(dir).is_ok_and(|d| d.uid() != found.uid()) {
            return Err(engine_error(
                dir,
                format!(
                    "{} is not owned by the owner of the store directory; remove it if no reportflow engine of that user runs",
                    socket.display()
                ),
            ));
        }
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&address.path))
            .await
        {
            Err(_) => {
                return Err(engine_error(
                    dir,
                    format!(
                        "connecting to {} took more than {} s; check that the engine is running and not overloaded",
                        socket.display(),
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                ) =>
            {
                return Ok(None);
            }
            Ok(Err(e)) => {
                return Err(engine_error(
                    dir,
                    format!("cannot connect to {}: {e}", socket.display()),
                ));
            }
            Ok(Ok(stream)) => stream,
        };
        // The engine's pid, for messages, even when it does not answer (stopped, say).
        let pid = stream
            .peer_cred()
            .ok()
            .and_then(|peer| peer.pid())
            .and_then(|pid| u32::try_from(pid).ok())
            .unwrap_or(0);
        let mut client = ControlClient {
            dir: dir.to_path_buf(),
            socket,
            pid,
            connection: Mutex::new(BufReader::new(stream)),
        };
        let hello = Request::Hello { protocol: PROTOCOL };
        match client.call(&hello, HELLO_TIMEOUT).await? {
            Response::Hello { protocol, pid } if protocol == PROTOCOL => {
                client.pid = pid;
                tracing::debug!(pid, socket = %client.socket.display(), "talking to the engine");
                Ok(Some(client))
            }
            Response::Hello { protocol, pid } => Err(engine_error(
                dir,
                format!(
                    "the engine (pid {pid}) speaks control protocol {protocol}, this reportflow speaks {PROTOCOL}; run the same reportflow version for the engine and the commands"
                ),
            )),
            other => Err(client.unexpected(&hello, &other)),
        }
    }

    /// Sends `request` and waits at most `timeout` for its answer.
    async fn call(&self, request: &Request, timeout: Duration) -> Result<Response, StoreError> {
        let bytes = protocol::line(request)
            .map_err(|e| self.error(format!("cannot encode the request: {e}")))?;
        let mut connection = self.connection.lock().await;
        let exchange = async {
            connection.get_mut().write_all(&bytes).await?;
            let mut answer = Vec::new();
            (&mut *connection)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut answer)
                .await?;
            Ok::<_, io::Error>(answer)
        };
        let answer = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(self.error(format!(
                    "{} did not answer within {} s; check that it runs and is not stopped (e.g. `kill -CONT {}`), or stop it and try again",
                    self.engine(),
                    timeout.as_secs(),
                    self.pid_shown()
                )));
            }
            Ok(Err(e)) => {
                return Err(self.error(format!(
                    "the connection to {} broke ({e}); the engine may have stopped: run the command again (it then opens the store itself if no engine holds it; submitting again is safe)",
                    self.engine()
                )));
            }
            Ok(Ok(answer)) => answer,
        };
        if answer.last() != Some(&b'\n') {
            return Err(self.error(format!(
                "{} closed the connection before answering (it may have stopped); nothing is known of this request: run the command again (submitting again is safe)",
                self.engine()
            )));
        }
        serde_json::from_slice(&answer)
            .map_err(|e| self.error(format!("its answer could not be read ({e}); run the same reportflow version for the engine and the commands")))
    }

    /// Asks `request` and takes the answer `pick` expects (or the error the engine answered).
    async fn ask<T>(
        &self,
        request: Request,
        pick: impl FnOnce(Response) -> Result<T, Response> + Send,
    ) -> Result<T, StoreError> {
        let response = self.call(&request, ANSWER_TIMEOUT).await?;
        match response {
            Response::Error { error } => Err(error.into_store_error(&self.dir)),
            other => pick(other).map_err(|other| self.unexpected(&request, &other)),
        }
    }

    fn engine(&self) -> String {
        if self.pid == 0 {
            format!("the engine on {}", self.socket.display())
        } else {
            format!("the engine (pid {}) on {}", self.pid, self.socket.display())
        }
    }

    fn pid_shown(&self) -> String {
        if self.pid == 0 {
            "PID".to_string()
        } else {
            self.pid.to_string()
        }
    }

    fn error(&self, detail: String) -> StoreError {
        engine_error(&self.dir, detail)
    }

    fn unexpected(&self, request: &Request, answer: &Response) -> StoreError {
        let op = serde_json::to_value(request)
            .ok()
            .and_then(|v| v["op"].as_str().map(str::to_string))
            .unwrap_or_default();
        self.error(format!(
            "it answered {answer:?} to a {op} request; run the same reportflow version for the engine and the commands"
        ))
    }
}

fn engine_error(dir: &Path, detail: String) -> StoreError {
    StoreError::Engine {
        dir: dir.to_path_buf(),
        detail,
    }
}

#[async_trait]
impl JobStore for ControlClient {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    async fn insert_many(
        &self,
        jobs: Vec<NewJob>,
        policies: &Policies,
        now: Millis,
    ) -> Result<Vec<Inserted>, StoreError> {
        let request = Request::InsertMany {
            jobs: jobs.into_iter().map(WireNewJob::from).collect(),
            policies: policies.clone(),
            now,
        };
        self.ask(request, |r| match r {
            Response::Inserted { jobs } => Ok(jobs.into_iter().map(Inserted::from).collect()),
            other => Err(other),
        })
        .await
    }

    /// Only a user's steps (retry, cancel; no lease) go through the socket, one request each.
    async fn apply_many(
        &self,
        steps: &[Step],
        now: Millis,
    ) -> Result<Vec<Result<AppliedStep, StoreError>>, StoreError> {
        let mut results = Vec::with_capacity(steps.len());
        for step in steps {
            let input = match UserInput::of(&step.input) {
                Some(input) if step.lease.is_none() => input,
                _ => {
                    results.push(Err(self.error(format!(
                        "only a user's retry and cancel go through the control socket, not {:?}",
                        step.input
                    ))));
                    continue;
                }
            };
            let request = Request::Apply {
                id: step.id,
                expected_version: step.expected_version,
                input,
                now,
            };
            let response = self.call(&request, ANSWER_TIMEOUT).await?;
            results.push(match response {
                Response::Applied { job } => Ok(AppliedStep {
                    job: *job,
                    lease_remaining: None,
                }),
                Response::Error { error } => Err(error.into_store_error(&self.dir)),
                other => Err(self.unexpected(&request, &other)),
            });
        }
        Ok(results)
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.ask(Request::Get { id }, |r| match r {
            Response::Job { job } => Ok(job.map(|job| *job)),
            other => Err(other),
        })
        .await
    }

    async fn get_by_key(&self, key: &JobKey) -> Result<Option<Job>, StoreError> {
        self.ask(Request::GetByKey { key: key.clone() }, |r| match r {
            Response::Job { job } => Ok(job.map(|job| *job)),
            other => Err(other),
        })
        .await
    }

    async fn list(
        &self,
        state: Option<StateName>,
        after: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let request = Request::List {
            state,
            after,
            limit,
        };
        self.ask(request, |r| match r {
            Response::Jobs { jobs } => Ok(jobs),
            other => Err(other),
        })
        .await
    }

    async fn live_page(&self, after: Option<JobId>, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.ask(Request::LivePage { after, limit }, |r| match r {
            Response::Jobs { jobs } => Ok(jobs),
            other => Err(other),
        })
        .await
    }

    async fn history(&self, id: JobId) -> Result<Vec<TransitionRecord>, StoreError> {
        self.ask(Request::History { id }, |r| match r {
            Response::History { steps } => Ok(steps.into_iter().map(Into::into).collect()),
            other => Err(other),
        })
        .await
    }

    async fn counts(&self) -> Result<BTreeMap<StateName, u64>, StoreError> {
        self.ask(Request::Counts, |r| match r {
            Response::Counts { counts } => Ok(counts.into_iter().collect()),
            other => Err(other),
        })
        .await
    }

    async fn purge(&self, older_than: Millis) -> Result<PurgeReport, StoreError> {
        self.ask(Request::Purge { older_than }, |r| match r {
            Response::Purged {
                jobs,
                history_records,
                ids,
            } => Ok(PurgeReport {
                jobs,
                history_records,
                ids,
            }),
            other => Err(other),
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.ask(Request::Flush, |r| match r {
            Response::Flushed => Ok(()),
            other => Err(other),
        })
        .await
    }
}
