//! `status`: jobs as a table, or as a JSON array with `--json`.

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::error::{CliError, Outcome};
use crate::output::{JobView, jobs_table, print, print_json};
use reportflow_core::Job;
use std::collections::BTreeMap;

/// `status`.
pub async fn status(ctx: &Context, args: &StatusArgs) -> Result<Outcome, CliError> {
    let label = &args.label;
    let jobs: Vec<Job> = match ctx.open_existing_store().await? {
        Some(store) if args.jobs.is_empty() => match label {
            Some(label) => store
                .labelled(label)
                .await?
                .into_iter()
                .filter(|job| args.state.is_none_or(|s| job.state.name() == s))
                .collect(),
            None => store.jobs(args.state).await?,
        },
        Some(store) => {
            let mut jobs = Vec::with_capacity(args.jobs.len());
            for j in &args.jobs {
                jobs.push(store.job(j).await?);
            }
            jobs
        }
        None if args.jobs.is_empty() => Vec::new(),
        None => {
            return Err(CliError::Usage(format!(
                "no job {:?}: there is no store at {} yet (submit jobs first, or check --store)",
                args.jobs[0],
                ctx.store()
            )));
        }
    };
    if ctx.global.json {
        let views: Vec<JobView> = jobs.iter().map(JobView::of).collect();
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    if jobs.is_empty() {
        let mut filter = args
            .state
            .map(|s| format!(" in state {s}"))
            .unwrap_or_default();
        if let Some(label) = &label {
            filter.push_str(&format!(" with the label {label}"));
        }
        print(&format!(
            "no jobs{filter} in {}; submit one with `{}`\n",
            ctx.store(),
            ctx.command(&["submit"])
        ));
        return Ok(Outcome::Success);
    }
    let mut text = jobs_table(&jobs);
    let mut counts: BTreeMap<_, u64> = BTreeMap::new();
    for job in &jobs {
        *counts.entry(job.state.name()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    text.push_str(&format!("\n{} job(s): {}\n", jobs.len(), parts.join(", ")));
    print(&text);
    Ok(Outcome::Success)
}
