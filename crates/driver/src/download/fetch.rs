//! Asking for a report's file and checking the answer: a named file (account reports), the
//! announced length, a zip archive (billing reports), not an error envelope in disguise.

use super::direct::Output;
use super::pipeline::Sink;
use super::place::PartFile;
use crate::api::{Api, shown, unreadable};
use crate::call::{CallError, by_code};
use crate::error::DriverError;
use crate::events::Event;
use http::HeaderMap;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH};
use reportflow_core::{Job, JobKind};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use tokio::sync::broadcast;

/// Progress is reported every this many bytes.
const PROGRESS_STEP: u64 = 1024 * 1024;
/// How much of a billing answer that is not a zip is read to look for an error envelope.
const ENVELOPE_PEEK: u64 = 64 * 1024;

/// A file received whole into its temporary file, synced.
pub(super) struct Fetched {
    pub(super) part: PartFile,
    pub(super) bytes: u64,
    pub(super) sha256: String,
    pub(super) disposition: Option<String>,
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// One try at the file of `job` at `location`: the answer checked, its body received whole
/// into the job's temporary file in `out_dir` (removed again when the try fails).
pub(super) async fn once(
    api: &Api,
    job: &Job,
    location: &str,
    out_dir: &Path,
    events: &broadcast::Sender<Event>,
    lease: Option<u64>,
) -> Result<Fetched, CallError> {
    // The temporary file comes first: whatever this try ends in, it goes with it, and so does
    // a file a killed process left under the same name.
    let (dir, id) = (out_dir.to_path_buf(), job.id);
    let (part, output) =
        tokio::task::spawn_blocking(move || PartFile::create(&dir, id, lease, Output::open))
            .await
            .map_err(|e| local("create", out_dir, io::Error::other(e.to_string())))?
            .map_err(|e| local("create", out_dir, e))?;
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
    let mut sink = Sink::start(output, total);
    let mut body = response.into_body();
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
                if !sink.push(&chunk).await {
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
    let (bytes, sha256) = sink
        .finish(streamed.is_ok())
        .await
        .map_err(|e| local("write", part.path(), e))?;
    streamed?;
    let _ = events.send(Event::Progress {
        id: job.id,
        bytes,
        total,
    });
    if let Some(total) = total
        && bytes != total
    {
        return Err(CallError::Ambiguous(format!(
            "the file ended after {bytes} of {total} bytes"
        )));
    }
    if job.kind() == JobKind::Billing && !reportflow_wire::is_zip_archive(&head) {
        let mut start = Vec::new();
        File::open(part.path())
            .and_then(|f| f.take(ENVELOPE_PEEK).read_to_end(&mut start))
            .ok();
        if let Some(known) = reportflow_wire::parse_error_envelope(&start)
            .as_ref()
            .and_then(by_code)
        {
            return Err(known);
        }
        let detail = match reportflow_wire::parse_billing_retrieval(&start) {
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
        return Err(CallError::Malformed(unreadable(
            "the billing report file",
            &detail,
            &file_endpoint(location),
            &start,
        )));
    }
    Ok(Fetched {
        part,
        bytes,
        sha256,
        disposition,
    })
}

/// `GET {location}/file` as messages show it.
pub(super) fn file_endpoint(location: &str) -> String {
    format!("GET {}/file", shown(location.trim_end_matches('/')))
}

fn local(action: &'static str, path: &Path, e: io::Error) -> CallError {
    CallError::Local(DriverError::io(action, path, e))
}
