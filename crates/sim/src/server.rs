//! Listeners and connections: hyper's HTTP/1 server per connection (over TLS when the
//! simulator serves https), plus the ability to drop a connection without answering (resets
//! and lost responses) and to stop everything at shutdown.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::routes::{Origin, Outcome, respond};

/// Lets a request ask its connection to close without a response.
#[derive(Default)]
struct ConnControl {
    kill: Notify,
    reset: AtomicBool,
}

/// The TCP stream of a connection; sends a RST instead of a FIN when closed after a reset fault.
struct ConnIo {
    stream: TcpStream,
    control: Arc<ConnControl>,
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.control.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Resolves when shutdown is asked for (or the handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until shutdown; `tls` makes every connection start with a handshake.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    origin: Origin,
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
) {
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, origin, app.clone(), shutdown.clone(), tls.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

/// Serves one connection until it ends, a request drops it, or shutdown.
async fn serve_connection(
    stream: TcpStream,
    origin: Origin,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
) {
    let _open = app.stats.connection_opened();
    let control = Arc::new(ConnControl::default());
    let io = ConnIo {
        stream,
        control: control.clone(),
    };
    let Some(acceptor) = tls else {
        return serve_http(TokioIo::new(io), origin, app, control, shutdown).await;
    };
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io));
    let accepted = tokio::select! {
        accepted = handshake => accepted,
        () = stopped(&mut shutdown) => return,
    };
    match accepted {
        Ok(Ok(tls)) => serve_http(TokioIo::new(tls), origin, app, control, shutdown).await,
        // The client went away mid-handshake (closed, reset, killed): it refused nothing.
        Ok(Err(error)) if abandoned(&error) => {
            tracing::debug!(%error, "simulator: TLS handshake abandoned by the client");
        }
        Ok(Err(error)) => {
            app.stats.tls_handshake_failed();
            tracing::debug!(%error, "simulator: TLS handshake failed");
        }
        Err(_) => {
            app.stats.tls_handshake_failed();
            tracing::debug!("simulator: TLS handshake timed out");
        }
    }
}

/// True when a handshake ended because the connection did (the client closed it, reset it or
/// was killed), not because either side refused the other.
fn abandoned(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        error.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

/// Serves HTTP/1 on a connection (plain or TLS).
async fn serve_http<I>(
    io: I,
    origin: Origin,
    app: Arc<App>,
    control: Arc<ConnControl>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service_control = control.clone();
    let service = service_fn(move |req| {
        let app = app.clone();
        let control = service_control.clone();
        async move {
            match respond(&app, origin, req).await {
                Outcome::Respond(resp) => Ok::<_, Infallible>(*resp),
                Outcome::Drop { reset } => {
                    control.reset.store(reset, Ordering::Relaxed);
                    control.kill.notify_one();
                    std::future::pending().await
                }
            }
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "simulator: connection ended with an error");
            }
        }
        () = control.kill.notified() => {}
        () = stopped(&mut shutdown) => {}
    }
}
