//! The engine's side of the control socket: while `serve` or `run` holds a directory store, a
//! [`ControlServer`] answers the other commands' store operations on its behalf and wakes the
//! engine for every job they submit or retry, so that it starts at once.
//!
//! The socket is made only by the process that holds the store (sled's lock), so a socket found
//! there when the store is opened is stale (its engine was killed) and is replaced. It is mode
//! 0600 inside the owner-only store directory, and a connection from another user is refused.

use super::SocketAddress;
use super::protocol::{self, MAX_LINE, PROTOCOL, Request, Response, WireError};
use crate::error::CliError;
use reportflow_core::{Job, JobKey};
use reportflow_driver::Engine;
use reportflow_store::Step;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The control socket of a running engine; [`ControlServer::stop`] closes and removes it.
pub struct ControlServer {
    path: PathBuf,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Binds the control socket of `engine`'s store (replacing a stale one) and answers on it
    /// until [`ControlServer::stop`]; `None` for a PostgreSQL store, which the other commands
    /// reach directly (any number of processes share it).
    pub fn start(engine: Arc<Engine>) -> Result<Option<ControlServer>, CliError> {
        let Some(dir) = engine.config().store.dir().map(Path::to_path_buf) else {
            return Ok(None);
        };
        let address = SocketAddress::of(&dir).map_err(|e| bind_error(&dir, &e))?;
        let path = address.file.clone();
        // This process holds the store: a socket already there is a killed engine's.
        match std::fs::symlink_metadata(&path) {
            Ok(found) if found.file_type().is_socket() => {
                std::fs::remove_file(&path).map_err(|e| bind_error(&path, &e))?;
                tracing::info!(
                    "removed the stale control socket {} (the engine that made it is gone)",
                    path.display()
                );
            }
            Ok(_) => {
                return Err(CliError::Runtime(format!(
                    "{} is in the way of the control socket and is not a socket; move it out of the store directory",
                    path.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(bind_error(&path, &e)),
        }
        let listener = UnixListener::bind(&address.path).map_err(|e| bind_error(&path, &e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| bind_error(&path, &e))?;
        let owner = std::fs::metadata(&path)
            .map_err(|e| bind_error(&path, &e))?
            .uid();
        drop(address);
        tracing::debug!(socket = %path.display(), "control socket ready");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(listener, engine, owner, stopped));
        Ok(Some(ControlServer {
            path,
            stop,
            task: Some(task),
        }))
    }

    /// Where the socket is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Stops answering (a request being answered is finished first), removes the socket and
    /// lets go of the engine.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.remove();
    }

    fn remove(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot remove the control socket {}: {e}",
                self.path.display()
            ),
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            self.remove();
        }
    }
}

fn bind_error(path: &std::path::Path, e: &io::Error) -> CliError {
    CliError::Runtime(format!(
        "cannot make the control socket {}: {e}; check the store directory's permissions",
        path.display()
    ))
}

/// Accepts connections until stopped, then waits for those being answered.
async fn accept(
    listener: UnixListener,
    engine: Arc<Engine>,
    owner: u32,
    stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = stopped.clone();
    loop {
        tokio::select! {
            () = stopped_now(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&engine), owner, stopped.clone()));
                }
                Err(e) => {
                    tracing::warn!("the control socket could not accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    // A request being answered runs to its end (the store call is not interruptible); the
    // connections then close.
    connections.shutdown().await;
}

/// Resolves once the server is asked to stop (or its handle is gone).
async fn stopped_now(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Answers one connection's requests in order until it closes or the server stops.
async fn connection(
    stream: UnixStream,
    engine: Arc<Engine>,
    owner: u32,
    mut stopped: watch::Receiver<bool>,
) {
    match stream.peer_cred() {
        Ok(peer) if peer.uid() == owner || peer.uid() == 0 => {}
        Ok(peer) => {
            tracing::warn!(
                uid = peer.uid(),
                "refused a control connection from another user"
            );
            return;
        }
        Err(e) => {
            tracing::warn!("refused a control connection whose user is unknown: {e}");
            return;
        }
    }
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut read).take(MAX_LINE as u64 + 1);
        let received = tokio::select! {
            received = limited.read_until(b'\n', &mut line) => received,
            () = stopped_now(&mut stopped) => return,
        };
        match received {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => answer(&engine, request).await,
            Err(e) => {
                let message = if line.last() == Some(&b'\n') {
                    format!("the request is not one this engine knows: {e}")
                } else {
                    format!("the request is longer than {MAX_LINE} bytes or not a line")
                };
                Response::Error {
                    error: WireError::BadRequest { message },
                }
            }
        };
        let Ok(bytes) = protocol::line(&response) else {
            return;
        };
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Runs `request` on `engine`'s store and wakes the engine for the jobs it recorded.
async fn answer(engine: &Engine, request: Request) -> Response {
    let store = engine.store();
    match request {
        Request::Hello { .. } => Response::Hello {
            protocol: PROTOCOL,
            pid: std::process::id(),
        },
        Request::InsertMany {
            jobs,
            policies,
            now,
        } => {
            let keys: Vec<JobKey> = jobs
                .iter()
                .map(|j| j.key.clone().unwrap_or_else(|| JobKey::derived(&j.spec)))
                .collect();
            let result = store
                .insert_many(jobs.into_iter().map(Into::into).collect(), &policies, now)
                .await;
            match &result {
                Ok(inserted) => {
                    for one in inserted.iter().filter(|i| i.created) {
                        submitted(engine, &one.job);
                    }
                }
                // The jobs stored before the one refused stay stored: the engine plans them.
                Err(_) => {
                    for key in &keys {
                        if let Ok(Some(job)) = store.get_by_key(key).await
                            && !job.state.is_terminal()
                        {
                            engine.wake(job.id);
                        }
                    }
                }
            }
            Response::of(result, Response::inserted)
        }
        Request::Get { id } => Response::of(store.get(id).await, |job| Response::Job {
            job: job.map(Box::new),
        }),
        Request::GetByKey { key } => {
            Response::of(store.get_by_key(&key).await, |job| Response::Job {
                job: job.map(Box::new),
            })
        }
        Request::List {
            state,
            after,
            limit,
        } => Response::of(store.list(state, after, limit).await, |jobs| {
            Response::Jobs { jobs }
        }),
        Request::LivePage { after, limit } => {
            Response::of(store.live_page(after, limit).await, |jobs| Response::Jobs {
                jobs,
            })
        }
        Request::Counts => Response::of(store.counts().await, |counts| Response::Counts {
            counts: counts.into_iter().collect(),
        }),
        Request::History { id } => Response::of(store.history(id).await, Response::history),
        Request::Apply {
            id,
            expected_version,
            input,
            now,
        } => {
            let step = Step::new(id, expected_version, input.input());
            let result = store.apply(step, now).await.map(|applied| applied.job);
            if let Ok(job) = &result {
                tracing::info!(
                    "job {} {}: {} by a user (control socket)",
                    job.id,
                    job.key,
                    match input {
                        protocol::UserInput::Retry => "retried",
                        protocol::UserInput::Cancel => "cancelled",
                    }
                );
                engine.wake(job.id);
            }
            Response::of(result, |job| Response::Applied { job: Box::new(job) })
        }
        Request::Purge { older_than } => {
            Response::of(store.purge(older_than).await, Response::purged)
        }
        Request::Flush => Response::of(store.flush().await, |()| Response::Flushed),
    }
}

/// Logs a job submitted through the socket and wakes the engine for it.
fn submitted(engine: &Engine, job: &Job) {
    tracing::info!("job {} {}: submitted (control socket)", job.id, job.key);
    engine.wake(job.id);
}
