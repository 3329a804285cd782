//! `run --manifest`: a JSON document of the jobs a run covered, for the loader downstream, and
//! the `_SUCCESS` marker beside it.
//!
//! The document is written atomically (a temporary file in the same folder, synced, renamed,
//! the folder synced). A stale `_SUCCESS` is removed before the new manifest appears, and a new
//! one is written after it, only when the run was complete: every covered job ended downloaded
//! or nodata, and every file the manifest lists was found on disk with its recorded size and
//! sha256 (and, with `--extract`, unpacked). A file that is missing or changed is never listed.

use crate::error::CliError;
use crate::extract::Extracted;
use reportflow_core::{Job, JobSpec, JobState, StateName};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The version of the manifest's format.
const MANIFEST_VERSION: u32 = 1;

/// The marker's file name.
pub const SUCCESS_MARKER: &str = "_SUCCESS";

/// The manifest document.
#[derive(Debug, Serialize)]
pub struct Manifest {
    /// The format's version (1).
    pub manifest_version: u32,
    /// When it was written (RFC 3339, UTC).
    pub written_at: String,
    /// The output folder the file paths are relative to.
    pub out: String,
    /// The label the run was limited to, if any.
    pub label: Option<String>,
    /// True when every job ended downloaded or nodata and every file checked out.
    pub complete: bool,
    /// Jobs per state.
    pub counts: BTreeMap<&'static str, u64>,
    /// The jobs, by id.
    pub jobs: Vec<Entry>,
}

/// One job of the manifest.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// The job id.
    pub id: u64,
    /// Its key.
    pub key: String,
    /// Its label.
    pub label: Option<String>,
    /// What was asked for.
    pub spec: SpecView,
    /// Where relative dates came from (`range=yesterday (resolved on 2026-11-26, UTC)`).
    pub dates: Option<String>,
    /// The lower-case state name.
    pub state: &'static str,
    /// The file, relative to the output folder (absolute when it lies elsewhere); only when it
    /// is on disk and verified.
    pub file: Option<String>,
    /// Its size in bytes.
    pub bytes: Option<u64>,
    /// Its sha256, lower-case hex.
    pub sha256: Option<String>,
    /// The upstream location.
    pub location: Option<String>,
    /// Why the job did not end as a success (failed, expired, cancelled, a missing file, an
    /// archive that could not be unpacked: then the archive itself is still listed).
    pub error: Option<String>,
    /// With `--extract`: the unpacked files of a billing archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted: Option<Vec<FileView>>,
}

/// A file the manifest lists.
#[derive(Debug, Serialize)]
pub struct FileView {
    /// Relative to the output folder (absolute when it lies elsewhere).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its sha256, lower-case hex.
    pub sha256: String,
}

/// A job's spec, flat.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SpecView {
    /// An account report.
    Account {
        /// The account id.
        account: String,
        /// The report id.
        report_id: u32,
        /// The output format.
        format: String,
        /// Parameters, each with its values.
        params: BTreeMap<String, BTreeSet<String>>,
        /// The expiry day asked for.
        expires: Option<String>,
    },
    /// A billing report.
    Billing {
        /// The account id.
        account: String,
        /// The billing type.
        #[serde(rename = "type")]
        report_type: String,
        /// First day.
        from: String,
        /// Last day.
        to: String,
    },
}

impl SpecView {
    fn of(spec: &JobSpec) -> SpecView {
        match spec {
            JobSpec::Account(a) => SpecView::Account {
                account: a.account.clone(),
                report_id: a.report_id,
                format: a.format.to_string(),
                params: a.params.clone(),
                expires: a.expires_at.map(|d| d.to_string()),
            },
            JobSpec::Billing(b) => SpecView::Billing {
                account: b.account.clone(),
                report_type: b.report_type.clone(),
                from: b.start.to_string(),
                to: b.end.to_string(),
            },
        }
    }
}

/// What the checks after a run found about one job's file.
pub enum FileCheck {
    /// No file is expected (not downloaded).
    None,
    /// The file is on disk as recorded (and, with `--extract`, unpacked).
    Verified(Option<Extracted>),
    /// The file is on disk as recorded, but its archive could not be unpacked (why).
    NotUnpacked(String),
    /// It is missing or changed (why); it is not listed.
    Problem(String),
}

/// `path` relative to `out` when it lies inside, else as it is.
fn relative(out: &Path, path: &Path) -> String {
    path.strip_prefix(out)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

impl Entry {
    /// The entry of `job`, its file as `check` found it.
    pub fn of(job: &Job, out: &Path, check: FileCheck) -> Entry {
        let (file, error, extracted) = match (&job.state, check) {
            (JobState::Downloaded { file, .. }, FileCheck::Verified(unpacked)) => (
                Some(file),
                None,
                unpacked.map(|e| {
                    e.files
                        .iter()
                        .map(|f| FileView {
                            file: relative(out, &f.path),
                            bytes: f.bytes,
                            sha256: f.sha256.clone(),
                        })
                        .collect()
                }),
            ),
            (JobState::Downloaded { file, .. }, FileCheck::NotUnpacked(problem)) => {
                (Some(file), Some(problem), None)
            }
            (_, FileCheck::Problem(problem) | FileCheck::NotUnpacked(problem)) => {
                (None, Some(problem), None)
            }
            (state, _) => (None, state_error(state), None),
        };
        Entry {
            id: job.id.0,
            key: job.key.to_string(),
            label: job.label.as_ref().map(ToString::to_string),
            spec: SpecView::of(&job.spec),
            dates: job.origin.as_ref().map(ToString::to_string),
            state: job.state.name().as_str(),
            file: file.map(|f| relative(out, Path::new(&f.path))),
            bytes: file.map(|f| f.bytes),
            sha256: file.map(|f| f.sha256.clone()),
            location: job.state.upstream().map(|u| u.location.clone()),
            error,
            extracted,
        }
    }

    /// True when the job ended as a success and its file (if any) checked out.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && (self.state == StateName::NoData.as_str()
                || (self.state == StateName::Downloaded.as_str() && self.file.is_some()))
    }
}

fn state_error(state: &JobState) -> Option<String> {
    match state {
        JobState::Failed { failure } => Some(failure.to_string()),
        JobState::Expired { reason } => Some(format!("expired: {reason}")),
        JobState::Cancelled => Some("cancelled by the user".to_string()),
        JobState::Downloaded { .. } | JobState::NoData => None,
        other => Some(format!("the job has not ended (it is {})", other.name())),
    }
}

impl Manifest {
    /// The manifest of `entries`, written now.
    pub fn new(out: &Path, label: Option<String>, entries: Vec<Entry>) -> Manifest {
        let mut counts = BTreeMap::new();
        for e in &entries {
            *counts.entry(e.state).or_default() += 1;
        }
        Manifest {
            manifest_version: MANIFEST_VERSION,
            written_at: jiff::Timestamp::now().to_string(),
            out: out.display().to_string(),
            label,
            complete: entries.iter().all(Entry::succeeded),
            counts,
            jobs: entries,
        }
    }

    /// Writes the manifest to `path` atomically; with `marker`, writes an empty `_SUCCESS`
    /// beside it when complete. A `_SUCCESS` already there is removed first either way.
    /// Returns whether the marker was written.
    pub fn write(&self, path: &Path, marker: bool) -> Result<bool, CliError> {
        let failed = |action: &str, at: &Path, e: io::Error| {
            CliError::Runtime(format!(
                "cannot {action} {}: {e}; check the folder's permissions and free space",
                at.display()
            ))
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--manifest {} names no file; give a file path such as reports/manifest.json",
                    path.display()
                ))
            })?;
        let dir = folder_of(path);
        fs::create_dir_all(&dir).map_err(|e| failed("create the folder", &dir, e))?;
        clear_marker(path)?;
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| CliError::Runtime(format!("cannot render the manifest: {e}")))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        write_synced(&tmp, format!("{text}\n").as_bytes()).map_err(|e| failed("write", &tmp, e))?;
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(failed("write", path, e));
        }
        sync_dir(&dir).map_err(|e| failed("sync", &dir, e))?;
        if !(marker && self.complete) {
            return Ok(false);
        }
        let success = dir.join(SUCCESS_MARKER);
        write_synced(&success, b"").map_err(|e| failed("write", &success, e))?;
        sync_dir(&dir).map_err(|e| failed("sync", &dir, e))?;
        Ok(true)
    }
}

/// The folder of the manifest at `path`.
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Removes the `_SUCCESS` beside the manifest at `path` (and syncs its folder), if there is one.
pub fn clear_marker(path: &Path) -> Result<(), CliError> {
    let dir = folder_of(path);
    let success = dir.join(SUCCESS_MARKER);
    let failed = |e: io::Error| {
        CliError::Runtime(format!(
            "cannot remove the old marker {}: {e}; check the folder's permissions",
            success.display()
        ))
    };
    match fs::remove_file(&success) {
        Ok(()) => sync_dir(&dir).map_err(failed),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
