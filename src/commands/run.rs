//! `run`: drives every live job to its end (resuming a crashed run), then reports and exits.

use crate::cli::RunArgs;
use crate::context::{Context, DEFAULT_OUT, absolute};
use crate::error::{CliError, Outcome};
use crate::output::{jobs_table, print, print_json_line};
use crate::progress::{self, Mode};
use crate::{preflight, signals};
use reportflow_core::{Job, JobId, StateName};
use reportflow_driver::{DriverError, Engine, RunSummary};
use serde_json::json;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

/// Rows of the per-job table printed after a run; `status` shows the rest.
const MAX_SUMMARY_ROWS: usize = 50;

/// `run`.
pub async fn run(ctx: &Context, args: &RunArgs) -> Result<Outcome, CliError> {
    let store = &ctx.global.store;
    if !store.exists() {
        return Err(CliError::Usage(format!(
            "there is no store at {}; submit jobs first, or point --store (REPORTFLOW_STORE) at your store",
            store.display()
        )));
    }
    let credentials = ctx.credentials()?;
    let out = match &args.out {
        Some(out) => out.clone(),
        None => ctx.remembered_out().unwrap_or_else(|| DEFAULT_OUT.into()),
    };
    let out = absolute(&out)?;
    let mut config = ctx.engine_config(store, &out);
    config.credentials = Some(credentials);
    config.concurrency = usize::from(args.concurrency);
    config.per_account_concurrency = config.per_account_concurrency.min(config.concurrency);
    let connect_timeout = config.connect_timeout;
    let engine = Engine::open(config)?;
    let live = engine.store().live_jobs().map_err(DriverError::from)?;
    if live.is_empty() && !args.watch {
        if ctx.global.json {
            print_json_line(&finished_event(
                &RunSummary::default(),
                &out,
                Outcome::Success,
            ));
        } else {
            print(&format!(
                "nothing to do: every job in {} has ended (`reportflow status` shows them)\n",
                store.display()
            ));
        }
        return Ok(Outcome::Success);
    }
    preflight::reachable(&ctx.global.base_url, connect_timeout).await?;
    let account = live
        .first()
        .map(|j| j.spec.account().to_string())
        .or_else(|| ctx.account().ok());
    if let Some(account) = account {
        preflight::authorized(&engine, &account).await?;
    }
    let mode = Mode::choose(ctx.global.json, ctx.global.quiet);
    let summary = drive(&engine, mode, args.watch).await?;
    let ids: Vec<JobId> = live.iter().map(|j| j.id).collect();
    let outcome = report(ctx, &engine, &summary, &ids, &out)?;
    if summary.interrupted && !args.watch {
        return Err(CliError::Runtime(
            "the run was interrupted before every job ended; every job is resumable: run again to continue".into(),
        ));
    }
    Ok(outcome)
}

/// Runs the engine with progress shown in `mode` until it is idle (or, with `watch`, until
/// Ctrl-C or SIGTERM); a stop request shuts it down cleanly either way.
pub async fn drive(engine: &Engine, mode: Mode, watch: bool) -> Result<RunSummary, CliError> {
    let progress = progress::start(engine, mode);
    let mut running: Pin<Box<dyn Future<Output = Result<RunSummary, DriverError>> + Send + '_>> =
        if watch {
            Box::pin(engine.run())
        } else {
            Box::pin(engine.run_until_idle())
        };
    let result = tokio::select! {
        result = &mut running => result,
        () = signals::stop_requested() => {
            tracing::info!("stopping: in-flight steps are abandoned, every job stays resumable");
            engine.shutdown();
            running.await
        }
    };
    progress.finish().await;
    Ok(result?)
}

/// The summary line's counts, e.g. `3 jobs ended: 2 downloaded, 1 nodata`.
pub fn ended_line(summary: &RunSummary) -> String {
    let total: u64 = summary.ended.values().sum();
    let parts: Vec<String> = summary
        .ended
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect();
    if parts.is_empty() {
        format!("{total} jobs ended")
    } else {
        format!("{total} jobs ended: {}", parts.join(", "))
    }
}

/// The last JSON line of a run.
pub fn finished_event(summary: &RunSummary, out: &Path, outcome: Outcome) -> serde_json::Value {
    let ended: serde_json::Map<String, serde_json::Value> = summary
        .ended
        .iter()
        .map(|(state, n)| (state.as_str().to_string(), json!(n)))
        .collect();
    json!({
        "event": "run_finished",
        "live_at_start": summary.live_at_start,
        "ended": ended,
        "interrupted": summary.interrupted,
        "out": out.display().to_string(),
        "exit_code": outcome.code(),
    })
}

/// Prints what the run did to the jobs `ids` (a table, then a line), or the final JSON event,
/// and says how the run ended.
pub fn report(
    ctx: &Context,
    engine: &Engine,
    summary: &RunSummary,
    ids: &[JobId],
    out: &Path,
) -> Result<Outcome, CliError> {
    let outcome = if summary.all_succeeded() {
        Outcome::Success
    } else {
        Outcome::JobsUnsuccessful
    };
    if ctx.global.json {
        print_json_line(&finished_event(summary, out, outcome));
        return Ok(outcome);
    }
    let jobs: Vec<Job> = ids
        .iter()
        .take(MAX_SUMMARY_ROWS)
        .filter_map(|id| engine.job(&id.to_string()).ok())
        .collect();
    let mut text = jobs_table(&jobs);
    if ids.len() > MAX_SUMMARY_ROWS {
        text.push_str(&format!(
            "... and {} more (`reportflow status` shows every job)\n",
            ids.len() - MAX_SUMMARY_ROWS
        ));
    }
    text.push_str(&format!("\nrun: {}", ended_line(summary)));
    if summary.interrupted {
        text.push_str(" (interrupted)");
    }
    text.push_str(&format!("\nfiles in {}\n", out.display()));
    print(&text);
    if outcome == Outcome::JobsUnsuccessful {
        let bad: Vec<&str> = [StateName::Failed, StateName::Expired, StateName::Cancelled]
            .iter()
            .filter(|s| summary.count(**s) > 0)
            .map(|s| s.as_str())
            .collect();
        ctx.warn(&format!(
            "some jobs ended {}: `reportflow status --state {}` shows why; `reportflow retry JOB` tries one again",
            bad.join(" or "),
            bad.first().copied().unwrap_or("failed")
        ));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_each_end() {
        let mut summary = RunSummary::default();
        assert_eq!(ended_line(&summary), "0 jobs ended");
        summary.ended.insert(StateName::Downloaded, 2);
        summary.ended.insert(StateName::NoData, 1);
        assert_eq!(ended_line(&summary), "3 jobs ended: 2 downloaded, 1 nodata");
    }
}
