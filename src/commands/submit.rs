//! `submit report`, `submit billing` and `submit batch`: jobs recorded, nothing sent upstream.

use crate::batch;
use crate::cli::{SubmitBatch, SubmitBilling, SubmitOptions, SubmitReport};
use crate::context::Context;
use crate::error::{CliError, Outcome};
use crate::output::{print, print_json};
use reportflow::zone::SubmitClock;
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, CoreError, DateOrigin, JobKey, JobSpec, Label,
    MAX_PARTITIONS, NewJob, Resolver, SpecProblem,
};
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
    label: Option<String>,
    origin: Option<DateOrigin>,
}

impl SubmittedView {
    fn of(s: &Submitted) -> SubmittedView {
        SubmittedView {
            id: s.job.id.0,
            key: s.job.key.to_string(),
            created: s.created,
            state: s.job.state.name().as_str(),
            warnings: s.warnings.iter().map(ToString::to_string).collect(),
            label: s.job.label.as_ref().map(ToString::to_string),
            origin: s.job.origin.clone(),
        }
    }
}

/// One job a submit asks for, checked.
struct Planned {
    spec: JobSpec,
    key: Option<JobKey>,
    origin: Option<DateOrigin>,
}

/// A spec problem as the engine's refusal (exit 2, the message names the fix).
fn invalid(problem: SpecProblem) -> CliError {
    DriverError::Invalid(CoreError::InvalidSpec {
        problems: vec![problem],
    })
    .into()
}

/// The resolver of relative dates for this submit (`--tz`, else `file_zone`, else
/// `REPORTFLOW_TZ`, else UTC) and today in UTC.
fn clock(options: &SubmitOptions) -> SubmitClock {
    SubmitClock::now(options.tz.as_deref())
}

fn resolver(clock: &SubmitClock) -> Result<Resolver, CliError> {
    clock
        .resolver(None)
        .map_err(|(_, message)| CliError::Usage(message))
}

/// `submit report`.
pub async fn report(ctx: &Context, args: &SubmitReport) -> Result<Outcome, CliError> {
    let clock = clock(&args.options);
    let mut dates = resolver(&clock)?;
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, value) in &args.params {
        let value = dates.param(name, value).map_err(invalid)?;
        params.entry(name.clone()).or_default().insert(value);
    }
    let expires_at = args
        .expires
        .map(|e| dates.date("expires", &e))
        .transpose()
        .map_err(invalid)?;
    let spec = JobSpec::Account(AccountReportSpec {
        account: ctx.account()?,
        report_id: args.report_id,
        format: args.format,
        params,
        expires_at,
    });
    let key = user_key(args.key.as_deref())?;
    let planned = Planned {
        spec,
        key,
        origin: dates.origin(),
    };
    submit(ctx, vec![planned], &clock, args.options.label.clone(), None).await
}

/// `submit billing`: one job, or one per partition with `--split`.
pub async fn billing(ctx: &Context, args: &SubmitBilling) -> Result<Outcome, CliError> {
    let clock = clock(&args.options);
    let mut dates = resolver(&clock)?;
    let (start, end) = match (args.range, &args.from, &args.to) {
        (Some(range), _, _) => dates.range("range", range),
        (None, Some(from), Some(to)) => (
            dates.date("from", from).map_err(invalid)?,
            dates.date("to", to).map_err(invalid)?,
        ),
        _ => {
            return Err(CliError::Usage(
                "give --from and --to, or --range (yesterday, last-7-days, last-month, month-to-date)".into(),
            ));
        }
    };
    let parts = match args.split {
        None => vec![(start, end)],
        Some(split) => {
            dates.note("split", split.as_str());
            split
                .partitions(start, end, MAX_PARTITIONS)
                .map_err(invalid)?
        }
    };
    let account = ctx.account()?;
    let key = user_key(args.key.as_deref())?;
    let origin = dates.origin();
    let planned = parts
        .into_iter()
        .map(|(start, end)| Planned {
            spec: JobSpec::Billing(BillingReportSpec {
                account: account.clone(),
                report_type: args.report_type.trim().to_ascii_uppercase(),
                start,
                end,
            }),
            key: key.clone(),
            origin: origin.clone(),
        })
        .collect();
    let split = args.split.map(|s| format!("--split {s}"));
    submit(ctx, planned, &clock, args.options.label.clone(), split).await
}

fn user_key(key: Option<&str>) -> Result<Option<JobKey>, CliError> {
    key.map(JobKey::user)
        .transpose()
        .map_err(|e| DriverError::Invalid(e).into())
}

/// Checks every job, then records them all; the store is not even opened for a bad request.
/// One job prints what happened to it; several (a split) print how many were new.
async fn submit(
    ctx: &Context,
    planned: Vec<Planned>,
    clock: &SubmitClock,
    label: Option<Label>,
    split: Option<String>,
) -> Result<Outcome, CliError> {
    let today = clock.utc_today();
    for job in &planned {
        job.spec.validate(today).map_err(DriverError::Invalid)?;
    }
    let store = ctx.open_store().await?;
    let single = planned.len() == 1 && split.is_none();
    let origin = planned.first().and_then(|p| p.origin.clone());
    let submitted = store
        .submit_many(planned.into_iter().map(|p| {
            NewJob::new(p.spec, p.key)
                .labelled(label.clone())
                .dated(p.origin)
        }))
        .await?;
    if let Some(w) = submitted.first().map(|s| &s.warnings) {
        for w in w {
            ctx.warn(&w.to_string());
        }
    }
    if ctx.global.json {
        let views: Vec<SubmittedView> = submitted.iter().map(SubmittedView::of).collect();
        match (single, views.first()) {
            (true, Some(view)) => print_json(view)?,
            _ => print_json(&views)?,
        }
        return Ok(Outcome::Success);
    }
    if let (true, Some(one)) = (single, submitted.first()) {
        let job = &one.job;
        if one.created {
            print(&format!(
                "submitted job {} (key {}){}; {}\n",
                job.id,
                job.key,
                dates_note(origin.as_ref()),
                ctx.who_drives("downloads it")
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
        return Ok(Outcome::Success);
    }
    let new = submitted.iter().filter(|s| s.created).count();
    let range = match (submitted.first(), submitted.last()) {
        (Some(first), Some(last)) => format!(" ({} to {})", first.job.key, last.job.key),
        _ => String::new(),
    };
    print(&format!(
        "submitted {} job(s) ({new} new) from {}{range}; {}\n",
        submitted.len(),
        split.unwrap_or_else(|| "the request".into()),
        ctx.who_drives("downloads them")
    ));
    Ok(Outcome::Success)
}

/// ` from range=yesterday (resolved on 2026-11-26, UTC)` for relative dates; empty otherwise.
fn dates_note(origin: Option<&DateOrigin>) -> String {
    match origin {
        Some(origin) => format!(" from {origin}"),
        None => String::new(),
    }
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
    let clock = clock(&args.options);
    let batch = batch::parse(&args.file, &text, account, &clock).map_err(CliError::Batch)?;
    let label = args.options.label.clone().or_else(|| batch.label.clone());
    let store = ctx.open_store().await?;
    let conflicts = batch::conflicts_with_store(&args.file, &batch, store.store()).await;
    if !conflicts.is_empty() {
        return Err(CliError::Batch(conflicts));
    }
    for w in &batch.warnings {
        ctx.warn(w);
    }
    let submitted = store
        .submit_many(batch.entries.iter().map(|e| {
            NewJob::new(e.spec.clone(), e.key.clone())
                .labelled(label.clone())
                .dated(e.origin.clone())
        }))
        .await?;
    let views: Vec<SubmittedView> = submitted.iter().map(SubmittedView::of).collect();
    let mut settings = ctx.remembered();
    if let Some(out) = &batch.out {
        if let Some(previous) = settings.out.as_ref().filter(|p| *p != out) {
            ctx.warn(&format!(
                "this store's output folder changes from {} to {}; jobs not downloaded yet go to the new one",
                previous.display(),
                out.display()
            ));
        }
        settings.out = Some(out.clone());
    }
    if let Some(layout) = &batch.layout {
        let layout = layout.template().to_string();
        if let Some(previous) = settings.layout.as_ref().filter(|p| **p != layout) {
            ctx.warn(&format!(
                "this store's file layout changes from {previous:?} to {layout:?}; jobs not downloaded yet are placed by the new one"
            ));
        }
        settings.layout = Some(layout);
    }
    if batch.out.is_some() || batch.layout.is_some() {
        ctx.remember(&settings)?;
        if let Some(pid) = ctx.engine_pid() {
            ctx.warn(&format!(
                "the engine running on this store (pid {pid}) keeps the output folder and layout it started with; the batch file's out and layout apply from the next `run` or `serve`"
            ));
        }
    }
    if ctx.global.json {
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    let new = views.iter().filter(|v| v.created).count();
    // A running engine keeps its own output folder (warned above).
    let into = batch
        .out
        .as_ref()
        .filter(|_| ctx.engine_pid().is_none())
        .map(|o| format!(" into {}", o.display()))
        .unwrap_or_default();
    print(&format!(
        "submitted {} job(s) ({new} new) from {}; {}{into}\n",
        views.len(),
        args.file.display(),
        ctx.who_drives("downloads them")
    ));
    Ok(Outcome::Success)
}
