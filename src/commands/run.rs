//! `run`: drives every live job to its end (resuming a crashed run), then reports and exits.
//! Meanwhile the other commands reach a directory store through the run's control socket; on
//! a PostgreSQL store it is one worker among any number: it claims due jobs until none is live.
//! `run --watch` is `serve` ([`crate::commands::serve`]).

use crate::cli::{EngineArgs, RunArgs, ServeArgs};
use crate::commands::scope::Scope;
use crate::commands::serve;
use crate::context::{Context, DEFAULT_OUT, Purpose, absolute};
use crate::control::client::open_engine;
use crate::control::server::ControlServer;
use crate::error::{CliError, Outcome};
use crate::output::{jobs_table, print, print_json_line};
use crate::progress::{self, Mode};
use crate::signals::Stop;
use reportflow_core::{Job, JobId, StateName};
use reportflow_driver::{DriverError, Engine, EngineConfig, RunSummary};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Rows of the per-job table printed after a run; `status` shows the rest.
const MAX_SUMMARY_ROWS: usize = 50;

/// `run`.
pub async fn run(ctx: &Context, args: &RunArgs) -> Result<Outcome, CliError> {
    if args.watch {
        if args.interval.is_some() {
            ctx.warn("--interval has no effect: `run --watch` is `serve`, which picks up new jobs at once");
        }
        return serve::serve(ctx, &ServeArgs::of_run(args.engine.clone())).await;
    }
    let store = ctx.store();
    if !store.exists() {
        return Err(CliError::Usage(format!(
            "there is no store at {store}; submit jobs first, or point --store (REPORTFLOW_STORE) at your store"
        )));
    }
    let out = output_folder(ctx, &args.engine)?;
    let scope = Scope::of(ctx, args)?;
    let config = ctx.engine_config(Purpose::Run {
        out: &out,
        concurrency: usize::from(args.engine.concurrency),
        per_account: usize::from(args.engine.per_account),
        lease: Duration::from_secs(u64::from(args.engine.lease)),
        layout: scope.layout.as_ref(),
        only_label: scope.label.as_ref(),
    })?;
    // A marker left by an earlier run must not outlive this one's start.
    scope.clear_marker()?;
    let mode = Mode::choose(ctx.global.json, ctx.global.quiet);
    let mut stop = Stop::on_signals();
    let Some(round) = round(&config, &scope, mode, &mut stop).await? else {
        // Nothing live: the manifest still lists what the run covers (a label's ended jobs).
        let engine = open_engine(&config).await?;
        let covered = scope.prepare(&engine).await?.covered;
        let outcome = scope
            .finish(ctx, &engine, &out, &covered, Outcome::Success)
            .await?;
        if ctx.global.json {
            let summary = RunSummary::default();
            print_json_line(&finished_event(&summary, &out, outcome));
        } else {
            let which = match &scope.label {
                Some(label) => format!("with the label {label}"),
                None => format!("in {store}"),
            };
            print(&format!(
                "nothing to do: every job {which} has ended (`{}` shows them)\n",
                ctx.command(&["status"])
            ));
        }
        return Ok(outcome);
    };
    let ended = finish_round(ctx, &round, &scope, &out).await;
    if let Some(control) = round.control {
        control.stop().await;
    }
    ended
}

/// What a run that drove jobs prints, and how it ends.
async fn finish_round(
    ctx: &Context,
    round: &Round,
    scope: &Scope,
    out: &Path,
) -> Result<Outcome, CliError> {
    let outcome = report(ctx, &round.engine, &round.summary, &round.ids, out).await?;
    if round.summary.interrupted {
        return Err(CliError::Runtime(
            "the run was interrupted before every job ended; every job is resumable: run again to continue".into(),
        ));
    }
    scope
        .finish(ctx, &round.engine, out, &round.covered, outcome)
        .await
}

/// The output folder of `run` and `serve`: `--out` (REPORTFLOW_OUT), else the one a batch file
/// recorded for the store, else ./reports; absolute.
pub fn output_folder(ctx: &Context, engine: &EngineArgs) -> Result<PathBuf, CliError> {
    let out = match &engine.out {
        Some(out) => out.clone(),
        None => ctx.remembered_out().unwrap_or_else(|| DEFAULT_OUT.into()),
    };
    absolute(&out)
}

/// One pass over the store's live jobs.
struct Round {
    engine: Arc<Engine>,
    /// The control socket the other commands use meanwhile (a directory store's).
    control: Option<ControlServer>,
    ids: Vec<JobId>,
    /// The jobs the run covers (see [`Scope::prepare`]).
    covered: Vec<JobId>,
    summary: RunSummary,
}

/// Opens the store (answering the other commands on its control socket meanwhile) and drives
/// its live jobs until idle (or a stop request); `None` when no job is live. The upstream is
/// asked first, so an unreachable upstream or refused credentials change nothing.
async fn round(
    config: &EngineConfig,
    scope: &Scope,
    mode: Mode,
    stop: &mut Stop,
) -> Result<Option<Round>, CliError> {
    let engine = Arc::new(open_engine(config).await?);
    let control = ControlServer::start(Arc::clone(&engine))?;
    match drive_live(&engine, scope, mode, stop).await {
        Ok(Some((ids, covered, summary))) => Ok(Some(Round {
            engine,
            control,
            ids,
            covered,
            summary,
        })),
        other => {
            if let Some(control) = control {
                control.stop().await;
            }
            other.map(|_| None)
        }
    }
}

/// The jobs a round shows, those it covers, and what it did.
type Driven = (Vec<JobId>, Vec<JobId>, RunSummary);

/// Drives `engine`'s live jobs (see [`round`]).
async fn drive_live(
    engine: &Engine,
    scope: &Scope,
    mode: Mode,
    stop: &mut Stop,
) -> Result<Option<Driven>, CliError> {
    // The jobs the summary table shows: the first live ones (not every live job: the run reads
    // those a page at a time, and its first request should not wait for them), unless the
    // scope must look at each (a label, a layout, a manifest).
    let (shown, covered) = if scope.reads_live() {
        let prepared = scope.prepare(engine).await?;
        let mut live = prepared.live;
        live.truncate(MAX_SUMMARY_ROWS);
        (live, prepared.covered)
    } else {
        let shown = engine
            .store()
            .live_page(None, MAX_SUMMARY_ROWS)
            .await
            .map_err(DriverError::from)?;
        (shown, Vec::new())
    };
    let Some(first) = shown.first() else {
        return Ok(None);
    };
    check_upstream(engine, first.spec.account(), true).await?;
    let summary = drive(engine, mode, stop).await?;
    let ids = shown.iter().map(|j| j.id).collect();
    Ok(Some((ids, covered, summary)))
}

/// Asks the upstream for `account`'s report list, one request through the engine's own client
/// (its timeouts, TLS and proxy): when it refuses the credentials (or, if `reachable_or_stop`,
/// cannot be reached), every job would fail alike, so the run stops before touching any
/// (exit 1). Other trouble is logged and left to the jobs' own retries.
pub async fn check_upstream(
    engine: &Engine,
    account: &str,
    reachable_or_stop: bool,
) -> Result<(), CliError> {
    let base_url = &engine.config().base_url;
    match engine.report_types(account).await {
        Ok(_) => Ok(()),
        Err(DriverError::Unreachable(why)) if !reachable_or_stop => {
            tracing::warn!(
                "cannot reach the upstream at {base_url} ({why}); going on: the jobs try again as their retry policy says"
            );
            Ok(())
        }
        Err(DriverError::Unreachable(why)) => {
            let at = host_and_port(base_url).unwrap_or_else(|| base_url.clone());
            Err(CliError::Runtime(format!(
                "cannot reach the upstream at {at} ({base_url}): {why}; check --base-url (or REPORTFLOW_BASE_URL), the proxy settings (HTTPS_PROXY, NO_PROXY) and the network, then run again (nothing was changed)"
            )))
        }
        Err(DriverError::Upstream(failure)) if failure.refuses_credentials() => {
            Err(CliError::Runtime(format!(
                "the upstream refused the credentials for account {account}: {failure}; fix them and run again (nothing was changed)"
            )))
        }
        Err(DriverError::Upstream(failure)) => {
            tracing::warn!("could not check the credentials ({failure}); going on");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `host:port` of a URL, the port filled in from the scheme.
fn host_and_port(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    Some(format!("{host}:{port}"))
}

/// Runs the engine with progress shown in `mode` until it is idle; a stop request shuts it
/// down cleanly (in-flight steps abandoned, every job resumable) and marks the summary
/// interrupted.
pub async fn drive(engine: &Engine, mode: Mode, stop: &mut Stop) -> Result<RunSummary, CliError> {
    let progress = progress::start(engine, mode);
    let running = engine.run_until_idle();
    tokio::pin!(running);
    let result = tokio::select! {
        result = &mut running => result,
        () = stop.wait() => {
            tracing::info!("stopping: in-flight steps are abandoned, every job stays resumable");
            engine.shutdown();
            running.await
        }
    };
    progress.finish().await;
    Ok(result?)
}

fn outcome_of(summary: &RunSummary) -> Outcome {
    if summary.all_succeeded() {
        Outcome::Success
    } else {
        Outcome::JobsUnsuccessful
    }
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

/// Prints what the run did to the jobs `ids` (a table of the first of them, then a line), or the
/// final JSON event, and says how the run ended. `summary.live_at_start` counts the jobs the run
/// had when `ids` holds only the first of them.
pub async fn report(
    ctx: &Context,
    engine: &Engine,
    summary: &RunSummary,
    ids: &[JobId],
    out: &Path,
) -> Result<Outcome, CliError> {
    let outcome = outcome_of(summary);
    if ctx.global.json {
        print_json_line(&finished_event(summary, out, outcome));
        return Ok(outcome);
    }
    let mut jobs: Vec<Job> = Vec::new();
    for id in ids.iter().take(MAX_SUMMARY_ROWS) {
        if let Ok(job) = engine.job(&id.to_string()).await {
            jobs.push(job);
        }
    }
    let mut text = jobs_table(&jobs);
    let total = ids.len().max(summary.live_at_start);
    if total > MAX_SUMMARY_ROWS {
        text.push_str(&format!(
            "... and {} more (`{}` shows every job)\n",
            total - MAX_SUMMARY_ROWS,
            ctx.command(&["status"])
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
            "some jobs ended {}: `{}` shows why; `{}` tries one again",
            bad.join(" or "),
            ctx.command(&[
                "status",
                "--state",
                bad.first().copied().unwrap_or("failed")
            ]),
            ctx.command(&["retry", "JOB"])
        ));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_names_its_host_and_port() {
        assert_eq!(
            host_and_port("http://127.0.0.1:8085/api").as_deref(),
            Some("127.0.0.1:8085")
        );
        assert_eq!(
            host_and_port("https://dashboard.bandwidth.com/api").as_deref(),
            Some("dashboard.bandwidth.com:443")
        );
        assert_eq!(
            host_and_port("http://[::1]/api").as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(host_and_port("not a url"), None);
    }

    #[test]
    fn the_summary_line_counts_each_end() {
        let mut summary = RunSummary::default();
        assert_eq!(ended_line(&summary), "0 jobs ended");
        summary.ended.insert(StateName::Downloaded, 2);
        summary.ended.insert(StateName::NoData, 1);
        assert_eq!(ended_line(&summary), "3 jobs ended: 2 downloaded, 1 nodata");
    }
}
