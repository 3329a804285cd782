//! Downloads: the file of a ready report, streamed to a temporary file in the output folder,
//! checked, synced, then moved under its final name. A partial file never appears under a
//! final name. By purpose:
//!
//! - [`fetch`]: asks for `{location}/file` and checks the answer (a file, its length, a zip for
//!   billing reports, an error envelope in disguise); a file smaller than one block is kept in
//!   memory and written in one go;
//! - [`pipeline`]: receives a larger body in blocks, hashes them in order and writes them at
//!   their offsets, several writes in flight, in bounded memory;
//! - [`direct`]: the operating system's side of writing (direct writes where possible, else the
//!   page cache with write-back while streaming; the sync; a rename that never overwrites), the
//!   only `unsafe` code of downloads;
//! - [`place`]: the temporary `.part` file (created and removed there only) and placing the
//!   finished file under its name, with folder syncs shared by downloads that finish together.
//!
//! The final name is chosen in [`download`] only: the upstream's (sanitized) name, put where
//! the run's file layout says ([`crate::layout`]; flat in the output folder without one).

mod direct;
mod fetch;
mod pipeline;
mod place;

pub use direct::DownloadWrites;

use crate::api::Api;
use crate::call::CallError;
use crate::error::DriverError;
use crate::events::Event;
use crate::gate::Endpoint;
use crate::layout::{self, FileLayout};
use fetch::Received;
use place::PartFile;
use reportflow_core::{Job, JobSpec, StoredFile};
use sha2::{Digest, Sha256};
use std::io;
use std::path::Path;
use tokio::sync::broadcast;

/// Where and how a download's file is written.
#[derive(Clone, Copy)]
pub(crate) struct Destination<'a> {
    /// The output folder (absolute).
    pub out_dir: &'a Path,
    /// Where in it the file goes (flat when `None`).
    pub layout: Option<&'a FileLayout>,
    /// How its bytes reach the disk.
    pub writes: DownloadWrites,
}

/// Downloads the file at `{location}/file` for `job` into `to.out_dir` (where `to.layout` puts
/// it, flat without one), written the way `to.writes` says, and returns it as stored. A failed
/// fetch is retried as a GET ([`Api::retrying`]); what is left of a failure is the core's to
/// wait for. A layout that cannot name the file is a local error. Whatever fails, no temporary
/// file of the job is left (not even one a killed run left) and nothing is placed. Under a
/// lease of a shared store (`lease`: the lease's token and whether it surely still holds) the
/// temporary file is the lease's own, and the file is placed under its final name only if the
/// lease surely holds right before; else it is removed and the download ends with
/// [`DriverError::LeaseEnding`].
pub(crate) async fn download(
    api: &Api,
    job: &Job,
    location: &str,
    to: Destination<'_>,
    events: &broadcast::Sender<Event>,
    lease: Option<(u64, &(dyn Fn() -> bool + Sync))>,
) -> Result<StoredFile, CallError> {
    let stored = fetch_and_place(api, job, location, to, events, lease).await;
    if stored.is_err() {
        let (dir, id, token) = (to.out_dir.to_path_buf(), job.id, lease.map(|(t, _)| t));
        let _ = tokio::task::spawn_blocking(move || PartFile::discard(&dir, id, token)).await;
    }
    stored
}

/// [`download`] but for removing what a failure leaves.
async fn fetch_and_place(
    api: &Api,
    job: &Job,
    location: &str,
    to: Destination<'_>,
    events: &broadcast::Sender<Event>,
    lease: Option<(u64, &(dyn Fn() -> bool + Sync))>,
) -> Result<StoredFile, CallError> {
    let Destination {
        out_dir,
        layout,
        writes,
    } = to;
    let request = format!("the report file ({})", fetch::file_endpoint(location));
    let token = lease.map(|(token, _)| token);
    let fetched = api
        .retrying(job.id, Endpoint::File, &request, || {
            fetch::once(api, job, location, out_dir, writes, events, token)
        })
        .await?;
    let name = reportflow_wire::file_name_from_disposition(
        fetched.disposition.as_deref(),
        &fallback_name(job),
    );
    let target = layout::target(layout, job, &name).map_err(CallError::Local)?;
    if lease.is_some_and(|(_, holds)| !holds()) {
        // Dropping what was received removes its temporary file.
        drop(fetched.received);
        return Err(CallError::Local(DriverError::LeaseEnding { id: job.id }));
    }
    let (received, out, id) = (fetched.received, out_dir.to_path_buf(), job.id);
    // One blocking call writes a small file, syncs it and places it; a streamed one is placed.
    let placed = tokio::task::spawn_blocking(move || {
        let (part, bytes, sha256) = match received {
            Received::Whole(content) => {
                let sha256 = hex(&Sha256::digest(&content));
                let part = PartFile::write_whole(&out, id, token, &content)?;
                (part, content.len() as u64, sha256)
            }
            Received::Streamed {
                part,
                bytes,
                sha256,
            } => (part, bytes, sha256),
        };
        let (dir, name) = layout::make_room(&out, &target)?;
        let path = part.place(&dir, &name, bytes, &sha256)?;
        Ok::<_, io::Error>(StoredFile {
            path: path.to_string_lossy().into_owned(),
            bytes,
            sha256,
        })
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
    Ok(placed)
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
