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
//!
//! The final name is chosen in [`download`] only: the upstream's (sanitized) name, put where
//! the run's file layout says ([`crate::layout`]; flat in the output folder without one).

mod direct;
mod fetch;
mod pipeline;
mod place;

use crate::api::Api;
use crate::call::CallError;
use crate::error::DriverError;
use crate::events::Event;
use crate::gate::Endpoint;
use crate::layout::{self, FileLayout};
use reportflow_core::{Job, JobSpec, StoredFile};
use std::io;
use std::path::Path;
use tokio::sync::broadcast;

/// Downloads the file at `{location}/file` for `job` into `out_dir` (where `layout` puts it,
/// flat without one) and returns it as stored. A failed fetch is retried as a GET
/// ([`Api::retrying`]); what is left of a failure is the core's to wait for. A layout that
/// cannot name the file is a local error: the temporary file is removed and nothing is placed.
/// Under a lease of a shared store (`lease`: the lease's token and whether it surely still
/// holds) the temporary file is the lease's own, and the file is placed under its final name
/// only if the lease surely holds right before; else it is removed and the download ends with
/// [`DriverError::LeaseEnding`].
pub(crate) async fn download(
    api: &Api,
    job: &Job,
    location: &str,
    out_dir: &Path,
    layout: Option<&FileLayout>,
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
    let target = layout::target(layout, job, &name).map_err(CallError::Local)?;
    let (bytes, sha256) = (fetched.bytes, fetched.sha256.clone());
    if lease.is_some_and(|(_, holds)| !holds()) {
        // Dropping the temporary file removes it.
        drop(fetched.part);
        return Err(CallError::Local(DriverError::LeaseEnding { id: job.id }));
    }
    let (part, out) = (fetched.part, out_dir.to_path_buf());
    let placed = tokio::task::spawn_blocking(move || {
        let (dir, name) = layout::make_room(&out, &target)?;
        part.place(&dir, &name, bytes, &sha256)
    })
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
