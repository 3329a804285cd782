//! `retry` and `cancel`: every job named is checked before any is changed.

use crate::cli::{JobsArg, RetryArgs};
use crate::context::Context;
use crate::error::{CliError, Outcome};
use crate::output::{JobView, print, print_json};
use reportflow_core::{Input, Job, StateName};
use reportflow_driver::DriverError;

/// `retry`: the jobs named, or every job with the label that a retry can start again.
pub async fn retry(ctx: &Context, args: &RetryArgs) -> Result<Outcome, CliError> {
    let Some(label) = &args.label else {
        let named = JobsArg {
            jobs: args.jobs.clone(),
        };
        return apply(ctx, &named, Input::Retry).await;
    };
    let Some(store) = ctx.open_existing_store().await? else {
        print(&format!(
            "no job has the label {label}: there is no store yet\n"
        ));
        return Ok(Outcome::Success);
    };
    let retryable = [
        StateName::Failed,
        StateName::Expired,
        StateName::Cancelled,
        StateName::NoData,
    ];
    let ids: Vec<String> = store
        .labelled(label)
        .await?
        .into_iter()
        .filter(|job| retryable.contains(&job.state.name()))
        .map(|job| job.id.to_string())
        .collect();
    // `apply` opens the store again: one process holds it once.
    drop(store);
    if ids.is_empty() {
        if ctx.global.json {
            print_json(&Vec::<JobView>::new())?;
        } else {
            print(&format!(
                "no job with the label {label} ended failed, expired, cancelled or nodata; nothing to retry\n"
            ));
        }
        return Ok(Outcome::Success);
    }
    let named = JobsArg { jobs: ids };
    apply(ctx, &named, Input::Retry).await
}

/// `cancel`.
pub async fn cancel(ctx: &Context, args: &JobsArg) -> Result<Outcome, CliError> {
    apply(ctx, args, Input::Cancel).await
}

async fn apply(ctx: &Context, args: &JobsArg, input: Input) -> Result<Outcome, CliError> {
    let store = ctx
        .open_existing_store()
        .await?
        .ok_or_else(|| DriverError::UnknownJob(args.jobs[0].clone()))?;
    let mut jobs: Vec<Job> = Vec::with_capacity(args.jobs.len());
    for j in &args.jobs {
        jobs.push(store.job(j).await?);
    }
    // The core's pure transition says whether each job can take the input.
    for job in &jobs {
        job.apply(input.clone(), job.updated_at)
            .map_err(|e| CliError::Usage(format!("job {} ({}): {e}", job.id, job.key)))?;
    }
    let mut changed = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let next = match input {
            Input::Retry => store.retry(job.id).await?,
            _ => store.cancel(job.id).await?,
        };
        changed.push((job.state.name(), next));
    }
    if ctx.global.json {
        let views: Vec<JobView> = changed.iter().map(|(_, j)| JobView::of(j)).collect();
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    let mut text = String::new();
    for (before, job) in &changed {
        text.push_str(&format!(
            "job {} ({}): {before} -> {}\n",
            job.id,
            job.key,
            job.state.name()
        ));
    }
    if matches!(input, Input::Retry) {
        text.push_str(&format!("{}\n", ctx.who_drives("continues them")));
    }
    print(&text);
    Ok(Outcome::Success)
}
