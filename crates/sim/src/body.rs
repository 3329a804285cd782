//! The response body: produced chunk by chunk on demand (constant memory), optionally cut short
//! or stalled, and recording each file served to its end (its digest is computed when the
//! stats are read, so that serving costs no hashing).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::files::{CHUNK, Source};
use crate::stats::StatsCollector;

/// The error a cut-short body ends with (hyper then closes the connection).
#[derive(Debug, thiserror::Error)]
#[error("body cut short by an injected fault")]
pub struct BodyCut;

/// Where a body stops early.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// After this many bytes, end with an error (the connection closes).
    Abort(u64),
    /// After this many bytes, produce nothing more.
    Stall(u64),
}

/// Counts served file bytes and records the file when its last byte goes out.
pub(crate) struct Tracking {
    stats: Arc<StatsCollector>,
    location: String,
    file_name: String,
}

impl Tracking {
    pub(crate) fn new(stats: Arc<StatsCollector>, location: String, file_name: String) -> Self {
        Tracking {
            stats,
            location,
            file_name,
        }
    }
}

/// A response body of known length.
pub struct SimBody {
    source: Source,
    total: u64,
    emitted: u64,
    cut: Option<Cut>,
    /// Running once an aborting body reached its cut: hyper flushes what was written
    /// meanwhile (it only flushes while the body is pending), then the body errors.
    abort_grace: Option<Pin<Box<tokio::time::Sleep>>>,
    tracking: Option<Tracking>,
}

/// How long an aborting body waits for the bytes before its cut to be flushed.
const ABORT_GRACE: Duration = Duration::from_millis(50);

impl SimBody {
    /// A body held in memory.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        SimBody {
            total: bytes.len() as u64,
            source: Source::Bytes(bytes),
            emitted: 0,
            cut: None,
            abort_grace: None,
            tracking: None,
        }
    }

    /// No body.
    pub(crate) fn empty() -> Self {
        SimBody::full(Bytes::new())
    }

    /// A file body of `total` bytes, counted and hashed.
    pub(crate) fn file(source: Source, total: u64, tracking: Tracking) -> Self {
        SimBody {
            source,
            total,
            emitted: 0,
            cut: None,
            abort_grace: None,
            tracking: Some(tracking),
        }
    }

    /// The body's full length.
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// Stops the body after half of it: with an error (`stall == false`) or forever.
    /// A body without bytes is left alone.
    pub(crate) fn cut_half(&mut self, stall: bool) {
        if self.total > 0 {
            let at = self.total / 2;
            self.cut = Some(if stall {
                Cut::Stall(at)
            } else {
                Cut::Abort(at)
            });
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = BodyCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyCut>>> {
        let this = self.get_mut();
        let limit = match this.cut {
            Some(Cut::Abort(at) | Cut::Stall(at)) => at.min(this.total),
            None => this.total,
        };
        if this.emitted >= limit {
            return match this.cut {
                _ if this.emitted >= this.total => Poll::Ready(None),
                Some(Cut::Abort(_)) => {
                    let grace = this
                        .abort_grace
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(ABORT_GRACE)));
                    match grace.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Some(Err(BodyCut))),
                        Poll::Pending => Poll::Pending,
                    }
                }
                // Never woken: the connection task drops it at shutdown.
                Some(Cut::Stall(_)) => Poll::Pending,
                None => Poll::Ready(None),
            };
        }
        let len = usize::try_from((limit - this.emitted).min(CHUNK as u64)).unwrap_or(CHUNK);
        let chunk = this.source.chunk(this.emitted, len);
        this.emitted += chunk.len() as u64;
        if let Some(t) = this.tracking.as_ref() {
            t.stats.bytes_served(chunk.len() as u64);
        }
        if this.emitted >= this.total
            && let Some(t) = this.tracking.take()
        {
            // The bytes served are the source's first `total`: their digest can wait.
            t.stats
                .file_served(t.location, t.file_name, this.total, this.source.clone());
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.emitted >= self.total
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total.saturating_sub(self.emitted))
    }
}
