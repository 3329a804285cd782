//! What one `run` covers and what it leaves behind besides the downloads: the jobs it drives
//! (all live ones, or one label's), the file layout they are placed by, and after the run the
//! checks of every covered file, the unpacked billing archives and the manifest with its
//! `_SUCCESS` marker.

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::{CliError, Outcome};
use crate::extract::{self, Limits};
use crate::manifest::{Entry, FileCheck, Manifest, SUCCESS_MARKER};
use reportflow_core::{Job, JobId, JobKind, JobState, Label};
use reportflow_driver::{Engine, FileLayout};
use std::path::{Path, PathBuf};

/// A run's scope, resolved from its flags and the store's settings.
pub struct Scope {
    /// Only the jobs with this label.
    pub label: Option<Label>,
    /// Where files go under the output folder.
    pub layout: Option<FileLayout>,
    /// Where the manifest goes.
    pub manifest: Option<PathBuf>,
    /// Write `_SUCCESS` beside the manifest when the run is complete.
    pub marker: bool,
    /// Unpack billing archives.
    pub extract: bool,
}

impl Scope {
    /// The scope of `run` with `args`: `--layout`, else the layout a batch file recorded.
    pub fn of(ctx: &Context, args: &RunArgs) -> Result<Scope, CliError> {
        Ok(Scope {
            label: args.engine.label.clone(),
            layout: layout(ctx, args.engine.layout.as_deref())?,
            manifest: args.manifest.clone(),
            marker: args.success_marker,
            extract: args.extract,
        })
    }

    /// Removes the `_SUCCESS` beside the manifest, if the run is to write one: until this run
    /// is complete, nothing may say it is.
    pub fn clear_marker(&self) -> Result<(), CliError> {
        match &self.manifest {
            Some(path) if self.marker => crate::manifest::clear_marker(path),
            _ => Ok(()),
        }
    }

    /// True when [`Scope::prepare`] must read every live job (for a label, a layout or the
    /// jobs a manifest covers); otherwise the run need not read them before it starts.
    pub fn reads_live(&self) -> bool {
        self.label.is_some() || self.layout.is_some() || self.finishes()
    }

    /// True when the run has work after its jobs ended.
    fn finishes(&self) -> bool {
        self.manifest.is_some() || self.extract
    }

    /// Before the run: the live jobs it drives, each checked against the layout (a job whose
    /// values cannot make a path stops the run before any request, and changes nothing), and
    /// the jobs it covers: with a label every job with it, else the live ones.
    pub async fn prepare(&self, engine: &Engine) -> Result<Prepared, CliError> {
        let live = engine.live(self.label.as_ref()).await?;
        if let Some(layout) = &self.layout {
            let problems: Vec<String> = live
                .iter()
                .filter_map(|job| layout.path_for(job, "report").err())
                .map(|e| e.to_string())
                .take(10)
                .collect();
            if !problems.is_empty() {
                let mut lines = problems;
                lines.push(
                    "nothing was sent or changed; fix the layout (or the jobs) and run again"
                        .into(),
                );
                return Err(CliError::Batch(lines));
            }
        }
        let covered = match (&self.label, self.finishes()) {
            (_, false) => Vec::new(),
            (Some(label), true) => engine.labelled(label).await?.iter().map(|j| j.id).collect(),
            (None, true) => live.iter().map(|j| j.id).collect(),
        };
        Ok(Prepared { live, covered })
    }

    /// After the run: checks the covered jobs' files, unpacks archives (`--extract`) and writes
    /// the manifest (and marker). The run's `outcome` turns unsuccessful when a file is missing
    /// or changed or an archive was refused.
    pub async fn finish(
        &self,
        ctx: &Context,
        engine: &Engine,
        out: &Path,
        covered: &[JobId],
        outcome: Outcome,
    ) -> Result<Outcome, CliError> {
        if !self.finishes() {
            return Ok(outcome);
        }
        let mut entries = Vec::with_capacity(covered.len());
        let mut problems = 0;
        for id in covered {
            let job = engine.job(&id.to_string()).await?;
            let check = self.check(&job);
            if let FileCheck::Problem(problem) | FileCheck::NotUnpacked(problem) = &check {
                problems += 1;
                ctx.warn(&format!("job {} ({}): {problem}", job.id, job.key));
            }
            entries.push(Entry::of(&job, out, check));
        }
        if let Some(path) = &self.manifest {
            let label = self.label.as_ref().map(ToString::to_string);
            let manifest = Manifest::new(out, label, entries);
            let marked = manifest.write(path, self.marker)?;
            if !ctx.global.json && !ctx.global.quiet {
                let marker = if marked {
                    format!(" and {SUCCESS_MARKER}")
                } else if self.marker {
                    format!(" (no {SUCCESS_MARKER}: not every job succeeded)")
                } else {
                    String::new()
                };
                eprintln!(
                    "manifest of {} job(s) written to {}{marker}",
                    manifest.jobs.len(),
                    path.display()
                );
            }
        }
        Ok(if problems > 0 {
            Outcome::JobsUnsuccessful
        } else {
            outcome
        })
    }

    /// A job's file checked against its record, and unpacked when asked.
    fn check(&self, job: &Job) -> FileCheck {
        let JobState::Downloaded { file, .. } = &job.state else {
            return FileCheck::None;
        };
        let path = Path::new(&file.path);
        let intact = std::fs::metadata(path).is_ok_and(|m| m.len() == file.bytes)
            && extract::sha256_file(path).is_ok_and(|sha| sha == file.sha256);
        if !intact {
            return FileCheck::Problem(format!(
                "the file {} is missing or changed since it was downloaded (recorded: {} bytes, sha256 {}); it is not listed",
                file.path, file.bytes, file.sha256
            ));
        }
        if !(self.extract && job.kind() == JobKind::Billing) {
            return FileCheck::Verified(None);
        }
        match extract::extract(path, &Limits::default()) {
            Ok(unpacked) => FileCheck::Verified(Some(unpacked)),
            Err(e) => FileCheck::NotUnpacked(e.to_string()),
        }
    }
}

/// The file layout `template` names, else the one a batch file recorded for the store.
pub fn layout(ctx: &Context, template: Option<&str>) -> Result<Option<FileLayout>, CliError> {
    let template = template
        .map(str::to_string)
        .or_else(|| ctx.remembered().layout);
    template
        .as_deref()
        .map(FileLayout::parse)
        .transpose()
        .map_err(CliError::Driver)
}

/// What [`Scope::prepare`] found.
pub struct Prepared {
    /// The live jobs the run drives.
    pub live: Vec<Job>,
    /// The jobs the manifest covers.
    pub covered: Vec<JobId>,
}
