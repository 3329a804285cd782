//! Downloads: the file of a ready report, streamed to a temporary file in the output folder,
//! checked, synced, then linked under its final name. A partial file never appears under a
//! final name. By purpose:
//!
//! - [`fetch`]: asks for `{location}/file` and checks the answer (a file, its length, a zip for
//!   billing reports, an error envelope in disguise);
//! - [`pipeline`]: receives the body in large blocks, hashes them on one thread and writes them
//!   on another, in bounded memory;
//! - [`direct`]: the operating system's side of writing (direct writes where possible, write-back
//!   while streaming), the only `unsafe` code of downloads;
//! - [`place`]: the temporary `.part` file (created and removed there only) and placing the
//!   finished file under its name.

mod direct;
mod fetch;
mod pipeline;
mod place;

use crate::api::Api;
use crate::call::CallError;
use crate::error::DriverError;
use crate::events::Event;
use crate::gate::Endpoint;
use reportflow_core::{Job, JobSpec, StoredFile};
use std::io;
use std::path::Path;
use tokio::sync::broadcast;

/// Downloads the file at `{location}/file` for `job` into `out_dir` and returns it as stored.
/// A failed fetch is retried as a GET ([`Api::retrying`]); what is left of a failure is the
/// core's to wait for. Under a lease of a shared store (`lease`: the lease's token and whether it
/// surely still holds) the temporary file is the lease's own, and the file is placed under its
/// final name only if the lease surely holds right before; else it is removed and the download
/// ends with [`DriverError::LeaseEnding`].
pub(crate) async fn download(
    api: &Api,
    job: &Job,
    location: &str,
    out_dir: &Path,
    events: &broadcast::Sender<Event>,
    lease: Option<(u64, &(dyn Fn() -> bool + Sync))>,
) -> Result<StoredFile, CallError> {
    let request = format!("the report file ({})", fetch::file_endpoint(location));
    let token = lease.map(|(token, _)| token);
    let fetched = api
        .retrying(job.id, Endpoint::File, &request, || {
            fetch::once(api, job, location, out_dir, events, token)
        })
        .await?;
    let name = reportflow_wire::file_name_from_disposition(
        fetched.disposition.as_deref(),
        &fallback_name(job),
    );
    let (bytes, sha256) = (fetched.bytes, fetched.sha256.clone());
    let part = fetched.part;
    if lease.is_some_and(|(_, holds)| !holds()) {
        // Dropping the temporary file removes it.
        drop(part);
        return Err(CallError::Local(DriverError::LeaseEnding { id: job.id }));
    }
    let placed = tokio::task::spawn_blocking(move || part.place(&name, bytes, &sha256))
        .await
        .map_err(|e| {
            CallError::Local(DriverError::io(
                "finish the download",
                out_dir,
                io::Error::other(e.to_string()),
            ))
        })?
        .map_err(|e| CallError::Local(DriverError::io("store the download in", out_dir, e)))?;
    Ok(StoredFile {
        path: placed.to_string_lossy().into_owned(),
        bytes: fetched.bytes,
        sha256: fetched.sha256,
    })
}

/// The file name when the upstream gives none (or none that can be used).
fn fallback_name(job: &Job) -> String {
    match &job.spec {
        JobSpec::Account(a) => format!("report-{}.{}", job.id, a.format),
        JobSpec::Billing(b) => format!(
            "billing-{}-{}.zip",
            b.report_type.to_ascii_lowercase(),
            job.id
        ),
    }
}

/// Lower-case hex of a digest.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
