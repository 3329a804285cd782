//! Asking for a report's file and checking the answer: a named file (account reports), the
//! announced length, a zip archive (billing reports), not an error envelope in disguise. A file
//! announced smaller than one block is received whole in memory (placed later in one blocking
//! call: no pipeline, no thread of its own); a larger one streams through the pipeline into its
//! temporary file.

use super::direct::{DownloadWrites, Output};
use super::pipeline::{BLOCK, Sink};
use super::place::PartFile;
use crate::api::{Api, shown, unreadable};
use crate::call::{CallError, by_code};
use crate::error::DriverError;
use crate::events::Event;
use http::HeaderMap;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH};
use hyper::body::Incoming;
use reportflow_core::{Job, JobKind};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use tokio::sync::broadcast;

/// Progress is reported every this many bytes.
const PROGRESS_STEP: u64 = 1024 * 1024;
/// How much of a billing answer that is not a zip is read to look for an error envelope.
const ENVELOPE_PEEK: u64 = 64 * 1024;

/// A file received whole and checked.
pub(super) struct Fetched {
    pub(super) received: Received,
    pub(super) disposition: Option<String>,
}

/// Where a received file is.
pub(super) enum Received {
    /// A file announced smaller than one block, in memory (written, synced and placed in one
    /// blocking call, see [`PartFile::write_whole`]).
    Whole(Vec<u8>),
    /// A larger file in its temporary file, synced, with its size and sha256.
    Streamed {
        part: PartFile,
        bytes: u64,
        sha256: String,
    },
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Where the body goes while it is received.
enum Into {
    Memory(Vec<u8>),
    Disk(PartFile, Box<Sink>),
}

/// One try at the file of `job` at `location`: the answer checked, its body received whole
/// (in memory when small, else into the job's temporary file in `out_dir`, the lease's under
/// `lease`, written the way `writes` says, and removed again when the try fails).
pub(super) async fn once(
    api: &Api,
    job: &Job,
    location: &str,
    out_dir: &Path,
    writes: DownloadWrites,
    events: &broadcast::Sender<Event>,
    lease: Option<u64>,
) -> Result<Fetched, CallError> {
    let response = api.open_file(location).await?;
    let total = content_length(response.headers());
    let disposition = response
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if disposition.is_none() && job.kind() == JobKind::Account {
        // The upstream always names its files; an unnamed 200 is an error page or a glitch.
        let body = api
            .http
            .read_xml(response.into_body(), "report file")
            .await?;
        return Err(reportflow_wire::parse_error_envelope(&body)
            .as_ref()
            .and_then(by_code)
            .unwrap_or_else(|| {
                CallError::Malformed(unreadable(
                    "the report file",
                    "the answer has no Content-Disposition, so it is not a report file",
                    &file_endpoint(location),
                    &body,
                ))
            }));
    }
    let into = match total {
        Some(small) if small < BLOCK as u64 => Into::Memory(Vec::with_capacity(small as usize)),
        _ => {
            let (dir, id) = (out_dir.to_path_buf(), job.id);
            let (part, output) = tokio::task::spawn_blocking(move || {
                PartFile::create(&dir, id, lease, |path| Output::open(path, writes, total))
            })
            .await
            .map_err(|e| local("create", out_dir, io::Error::other(e.to_string())))?
            // Creating it reserves the announced size: a full disk fails here, as a write.
            .map_err(|e| local("write", out_dir, e))?;
            Into::Disk(part, Box::new(Sink::start(output)))
        }
    };
    let (received, bytes, head) =
        receive(api, job, response.into_body(), total, into, events).await?;
    if let Some(total) = total
        && bytes != total
    {
        return Err(CallError::Ambiguous(format!(
            "the file ended after {bytes} of {total} bytes"
        )));
    }
    if job.kind() == JobKind::Billing && !reportflow_wire::is_zip_archive(&head) {
        let start = match &received {
            Received::Whole(content) => {
                content[..content.len().min(ENVELOPE_PEEK as usize)].to_vec()
            }
            Received::Streamed { part, .. } => {
                let mut start = Vec::new();
                File::open(part.path())
                    .and_then(|f| f.take(ENVELOPE_PEEK).read_to_end(&mut start))
                    .ok();
                start
            }
        };
        return Err(not_a_zip(location, &start));
    }
    Ok(Fetched {
        received,
        disposition,
    })
}

/// Receives `body` (of `total` bytes when announced) into `into`, reporting progress; returns
/// where the file is, its size and its first bytes. A body that breaks off leaves nothing.
async fn receive(
    api: &Api,
    job: &Job,
    mut body: Incoming,
    total: Option<u64>,
    mut into: Into,
    events: &broadcast::Sender<Event>,
) -> Result<(Received, u64, Vec<u8>), CallError> {
    let mut received = 0u64;
    let mut reported = 0u64;
    let mut head = Vec::with_capacity(4);
    let streamed = loop {
        match api.http.next_chunk(&mut body).await {
            Ok(Some(chunk)) => {
                received += chunk.len() as u64;
                api.counters.bytes(chunk.len() as u64);
                if head.len() < 4 {
                    head.extend(chunk.iter().take(4 - head.len()));
                }
                let taken = match &mut into {
                    Into::Memory(content) => {
                        content.extend_from_slice(&chunk);
                        true
                    }
                    Into::Disk(_, sink) => sink.push(&chunk).await,
                };
                if !taken {
                    break Ok(());
                }
                if received - reported >= PROGRESS_STEP {
                    reported = received;
                    let _ = events.send(Event::Progress {
                        id: job.id,
                        bytes: received,
                        total,
                    });
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let (received, bytes) = match into {
        Into::Memory(content) => {
            streamed?;
            let bytes = content.len() as u64;
            (Received::Whole(content), bytes)
        }
        Into::Disk(part, sink) => {
            let (bytes, sha256) = sink
                .finish(streamed.is_ok())
                .await
                .map_err(|e| local("write", part.path(), e))?;
            streamed?;
            (
                Received::Streamed {
                    part,
                    bytes,
                    sha256,
                },
                bytes,
            )
        }
    };
    let _ = events.send(Event::Progress {
        id: job.id,
        bytes,
        total,
    });
    Ok((received, bytes, head))
}

/// The failure of a billing answer that is not a zip archive, from its first bytes `start`:
/// the upstream's error when it is an envelope, else what it is.
fn not_a_zip(location: &str, start: &[u8]) -> CallError {
    if let Some(known) = reportflow_wire::parse_error_envelope(start)
        .as_ref()
        .and_then(by_code)
    {
        return known;
    }
    let detail = match reportflow_wire::parse_billing_retrieval(start) {
        Ok(status) => format!(
            "it is a status document ({}{}), not the zip archive",
            status.status,
            status
                .description
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        Err(_) => "it is not a zip archive".to_string(),
    };
    CallError::Malformed(unreadable(
        "the billing report file",
        &detail,
        &file_endpoint(location),
        start,
    ))
}

/// `GET {location}/file` as messages show it.
pub(super) fn file_endpoint(location: &str) -> String {
    format!("GET {}/file", shown(location.trim_end_matches('/')))
}

fn local(action: &'static str, path: &Path, e: io::Error) -> CallError {
    CallError::Local(DriverError::io(action, path, e))
}
