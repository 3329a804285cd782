//! `serve --listen ADDR`: what the engine shows over HTTP, read only. `GET /healthz` (200 while
//! the engine runs and its store answers, 503 otherwise), `GET /metrics` (the engine's metrics
//! in the OpenMetrics text format, which Prometheus scrapes), `GET /jobs` (every job, or
//! `?state=` / `?label=`) and `GET /jobs/{id or key}` as JSON, each job as `status --json` shows
//! it ([`JobView`]). Every change goes through the CLI (and so through the control socket).

use crate::error::CliError;
use crate::output::JobView;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use reportflow_core::{Job, Label, StateName};
use reportflow_driver::{DriverError, Engine};
use serde_json::json;
use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The content type of `/metrics` (OpenMetrics text, as prometheus-client encodes it).
const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long a client may take to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `/healthz` waits for the store to answer before it says 503 (a database that is
/// away is waited for much longer by the store itself; a supervisor's probe must not be).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the other endpoints wait for the store before they answer 503.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the engine is running: `/healthz` answers 503 once it is stopping.
#[derive(Default)]
pub struct Health {
    running: AtomicBool,
}

impl Health {
    /// The engine runs (or not any more).
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }
}

/// The address `--listen` names (`host:port`; a name is resolved), refused unless it is on
/// loopback or `beyond_loopback` allows it.
pub fn address(text: &str, beyond_loopback: bool) -> Result<SocketAddr, CliError> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| {
            CliError::Usage(format!(
                "--listen {text:?} is not an address to listen on ({e}); give host:port, e.g. 127.0.0.1:9464"
            ))
        })?
        .collect();
    let Some(first) = addrs.first().copied() else {
        return Err(CliError::Usage(format!(
            "--listen {text:?} names no address; give host:port, e.g. 127.0.0.1:9464"
        )));
    };
    if !beyond_loopback && !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(CliError::Usage(format!(
            "--listen {text:?} is not a loopback address: the endpoints have no authentication; listen on 127.0.0.1 (behind a proxy), or add --listen-beyond-loopback to serve them on {}",
            first.ip()
        )));
    }
    Ok(first)
}

/// The HTTP endpoints while they serve; [`HttpEndpoints::stop`] closes them.
pub struct HttpEndpoints {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl HttpEndpoints {
    /// Listens on `addr` and answers for `engine` until [`HttpEndpoints::stop`].
    pub async fn start(
        addr: SocketAddr,
        engine: Arc<Engine>,
        health: Arc<Health>,
    ) -> Result<HttpEndpoints, CliError> {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            CliError::Runtime(format!(
                "cannot listen on {addr}: {e}; choose another --listen address (or port 0 for any free one)"
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Runtime(format!("cannot tell where it listens: {e}")))?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(listener, engine, health, stopped));
        Ok(HttpEndpoints { addr, stop, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and closes the connections.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn stopped_now(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn accept(
    listener: TcpListener,
    engine: Arc<Engine>,
    health: Arc<Health>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped_now(&mut stopped) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (engine, health) = (Arc::clone(&engine), Arc::clone(&health));
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let (engine, health) = (Arc::clone(&engine), Arc::clone(&health));
                            async move { Ok::<_, Infallible>(respond(&engine, &health, &request).await) }
                        });
                        let served = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        if let Err(e) = served {
                            tracing::debug!("an HTTP connection ended with an error: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("the HTTP endpoints could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// The answer to one request.
async fn respond(
    engine: &Engine,
    health: &Health,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut answer = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "these endpoints only read: use GET; change jobs with the reportflow commands",
        );
        answer
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return answer;
    }
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    match path {
        "/healthz" => healthz(engine, health).await,
        "/metrics" => match within(READ_TIMEOUT, engine.metrics_text()).await {
            Ok(text) => body(StatusCode::OK, METRICS_TYPE, text.into_bytes()),
            Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, &e),
        },
        "/jobs" | "/jobs/" => jobs(engine, query).await,
        _ => match path.strip_prefix("/jobs/") {
            Some(id) => match tokio::time::timeout(READ_TIMEOUT, engine.job(id)).await {
                Ok(Ok(job)) => json_body(StatusCode::OK, &JobView::of(&job)),
                Ok(Err(e @ DriverError::UnknownJob(_))) => {
                    problem(StatusCode::NOT_FOUND, &e.to_string())
                }
                Ok(Err(e)) => problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
                Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, &no_answer(READ_TIMEOUT)),
            },
            None => problem(
                StatusCode::NOT_FOUND,
                "no such endpoint: GET /healthz, /metrics, /jobs or /jobs/ID",
            ),
        },
    }
}

/// What a store read that took longer than `limit` answers.
fn no_answer(limit: Duration) -> String {
    format!(
        "the store did not answer within {} s (a database away or overloaded?); see the engine's log",
        limit.as_secs()
    )
}

/// `read`'s value, or its error (or the store's silence past `limit`) in words.
async fn within<T>(
    limit: Duration,
    read: impl std::future::Future<Output = Result<T, DriverError>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(no_answer(limit)),
    }
}

async fn healthz(engine: &Engine, health: &Health) -> Response<Full<Bytes>> {
    if !health.running() {
        return json_body(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "stopping"}),
        );
    }
    match within(HEALTH_TIMEOUT, engine.counts()).await {
        Ok(counts) => {
            let live: u64 = counts
                .iter()
                .filter(|(state, _)| !state.is_terminal())
                .map(|(_, n)| n)
                .sum();
            json_body(StatusCode::OK, &json!({"status": "ok", "live_jobs": live}))
        }
        Err(e) => json_body(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "store unreachable", "error": e}),
        ),
    }
}

/// `/jobs?state=S&label=L`.
async fn jobs(engine: &Engine, query: &str) -> Response<Full<Bytes>> {
    let mut state = None;
    let mut label = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "state" => match StateName::parse(&value.to_ascii_lowercase()) {
                Some(s) => state = Some(s),
                None => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        &format!("{value:?} is not a state"),
                    );
                }
            },
            "label" => match Label::new(value) {
                Ok(l) => label = Some(l),
                Err(e) => return problem(StatusCode::BAD_REQUEST, &e.to_string()),
            },
            other => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown parameter {other:?}: use state= and label="),
                );
            }
        }
    }
    let found = within(READ_TIMEOUT, async {
        match &label {
            Some(label) => engine.labelled(label).await.map(|jobs| {
                jobs.into_iter()
                    .filter(|job| state.is_none_or(|s| job.state.name() == s))
                    .collect::<Vec<Job>>()
            }),
            None => engine.jobs(state).await,
        }
    })
    .await;
    match found {
        Ok(jobs) => {
            let views: Vec<JobView> = jobs.iter().map(JobView::of).collect();
            json_body(StatusCode::OK, &views)
        }
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

fn body(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(bytes)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    answer
}

fn json_body<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec_pretty(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            body(status, "application/json", bytes)
        }
        Err(e) => body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("cannot render JSON: {e}\n").into_bytes(),
        ),
    }
}

fn problem(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_body(status, &json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn only_loopback_unless_allowed() {
        assert!(address("127.0.0.1:0", false).is_ok());
        assert!(address("[::1]:9464", false).is_ok());
        assert!(address("0.0.0.0:9464", false).is_err());
        assert!(address("0.0.0.0:9464", true).is_ok());
        assert!(address("no-port", false).is_err());
    }
}
