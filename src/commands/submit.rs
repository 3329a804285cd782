//! `submit report`, `submit billing` and `submit batch`: jobs recorded, nothing sent upstream.

use crate::batch;
use crate::cli::{SubmitBatch, SubmitBilling, SubmitReport};
use crate::context::{Context, today};
use crate::error::{CliError, Outcome};
use crate::output::{print, print_json};
use reportflow_core::{AccountReportSpec, BillingReportSpec, JobKey, JobSpec};
use reportflow_driver::{DriverError, Submitted};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What `submit --json` prints per job.
#[derive(Serialize)]
struct SubmittedView {
    id: u64,
    key: String,
    created: bool,
    state: &'static str,
    warnings: Vec<String>,
}

impl SubmittedView {
    fn of(s: &Submitted) -> SubmittedView {
        SubmittedView {
            id: s.job.id.0,
            key: s.job.key.to_string(),
            created: s.created,
            state: s.job.state.name().as_str(),
            warnings: s.warnings.iter().map(ToString::to_string).collect(),
        }
    }
}

/// `submit report`.
pub async fn report(ctx: &Context, args: &SubmitReport) -> Result<Outcome, CliError> {
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, value) in &args.params {
        params
            .entry(name.clone())
            .or_default()
            .insert(value.clone());
    }
    let spec = JobSpec::Account(AccountReportSpec {
        account: ctx.account()?,
        report_id: args.report_id,
        format: args.format,
        params,
        expires_at: args.expires,
    });
    submit_one(ctx, spec, args.key.as_deref()).await
}

/// `submit billing`.
pub async fn billing(ctx: &Context, args: &SubmitBilling) -> Result<Outcome, CliError> {
    let spec = JobSpec::Billing(BillingReportSpec {
        account: ctx.account()?,
        report_type: args.report_type.trim().to_ascii_uppercase(),
        start: args.from,
        end: args.to,
    });
    submit_one(ctx, spec, args.key.as_deref()).await
}

/// Checks the request, then records it; the store is not even opened for a bad request.
async fn submit_one(ctx: &Context, spec: JobSpec, key: Option<&str>) -> Result<Outcome, CliError> {
    let key = key
        .map(JobKey::user)
        .transpose()
        .map_err(DriverError::Invalid)?;
    spec.validate(today()).map_err(DriverError::Invalid)?;
    let store = ctx.open_store().await?;
    let submitted = store.submit(spec, key).await?;
    for w in &submitted.warnings {
        ctx.warn(&w.to_string());
    }
    if ctx.global.json {
        print_json(&SubmittedView::of(&submitted))?;
        return Ok(Outcome::Success);
    }
    let job = &submitted.job;
    if submitted.created {
        print(&format!(
            "submitted job {} (key {}); `{}` downloads it\n",
            job.id,
            job.key,
            ctx.command(&["run"])
        ));
    } else {
        print(&format!(
            "job {} (key {}) was already submitted; it is {} (`{}` shows it)\n",
            job.id,
            job.key,
            job.state.name(),
            ctx.command(&["status", &job.id.to_string()])
        ));
    }
    Ok(Outcome::Success)
}

/// `submit batch`: every entry is checked (also against the store's keys) before any is stored.
pub async fn batch(ctx: &Context, args: &SubmitBatch) -> Result<Outcome, CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| {
        let fix = if e.kind() == std::io::ErrorKind::InvalidData {
            "save it as UTF-8 text"
        } else {
            "check the path"
        };
        CliError::Usage(format!(
            "cannot read the batch file {}: {e}; {fix}",
            args.file.display()
        ))
    })?;
    let account = ctx
        .global
        .account
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let batch = batch::parse(&args.file, &text, account, today()).map_err(CliError::Batch)?;
    let store = ctx.open_store().await?;
    let conflicts = batch::conflicts_with_store(&args.file, &batch, store.store()).await;
    if !conflicts.is_empty() {
        return Err(CliError::Batch(conflicts));
    }
    for w in &batch.warnings {
        ctx.warn(w);
    }
    let mut views = Vec::with_capacity(batch.entries.len());
    for entry in &batch.entries {
        let submitted = store.submit(entry.spec.clone(), entry.key.clone()).await?;
        views.push(SubmittedView::of(&submitted));
    }
    if let Some(out) = &batch.out {
        if let Some(previous) = ctx.remembered_out().filter(|p| p != out) {
            ctx.warn(&format!(
                "this store's output folder changes from {} to {}; jobs not downloaded yet go to the new one",
                previous.display(),
                out.display()
            ));
        }
        ctx.remember_out(out)?;
    }
    if ctx.global.json {
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    let new = views.iter().filter(|v| v.created).count();
    let into = batch
        .out
        .as_ref()
        .map(|o| format!(" into {}", o.display()))
        .unwrap_or_default();
    print(&format!(
        "submitted {} job(s) ({new} new) from {}; `{}` downloads them{into}\n",
        views.len(),
        args.file.display(),
        ctx.command(&["run"])
    ));
    Ok(Outcome::Success)
}
