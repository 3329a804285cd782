//! `serve`: one engine that runs until SIGTERM or Ctrl-C. Jobs submitted meanwhile start at
//! once, with `--listen` it shows its health, metrics and jobs over HTTP, and a stop lets the
//! steps in flight finish for `--stop-timeout` seconds, abandons the rest (each stays
//! resumable, no `.part` file is left) and exits 0.
//!
//! On a directory store (sled) it holds the store: the other commands reach it through the
//! control socket in the store directory, and a submit through it wakes the engine. On a
//! PostgreSQL store it is one worker among any number: it claims due jobs under leases, hears
//! of new ones through LISTEN/NOTIFY, the other commands talk to the database directly, and a
//! database that stays away longer than the store waits for it does not end the service: it
//! reports 503 on `/healthz` and goes on once the database is back.

use crate::cli::ServeArgs;
use crate::commands::run::{check_upstream, ended_line, output_folder};
use crate::commands::scope;
use crate::context::{Context, Purpose};
use crate::control::client::open_engine;
use crate::control::server::ControlServer;
use crate::error::{CliError, Outcome};
use crate::http_endpoints::{self, Health, HttpEndpoints};
use crate::output::human_bytes;
use crate::progress::{self, Mode};
use crate::signals::Stop;
use reportflow_core::StateName;
use reportflow_driver::{DriverError, Engine, Event, RunSummary};
use reportflow_store::{PgError, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// `serve` (and `run --watch`).
pub async fn serve(ctx: &Context, args: &ServeArgs) -> Result<Outcome, CliError> {
    let listen = args
        .listen
        .as_deref()
        .map(|text| http_endpoints::address(text, args.listen_beyond_loopback))
        .transpose()?;
    let out = output_folder(ctx, &args.engine)?;
    let layout = scope::layout(ctx, args.engine.layout.as_deref())?;
    let config = ctx.engine_config(Purpose::Run {
        out: &out,
        concurrency: usize::from(args.engine.concurrency),
        per_account: usize::from(args.engine.per_account),
        lease: Duration::from_secs(u64::from(args.engine.lease)),
        layout: layout.as_ref(),
        only_label: args.engine.label.as_ref(),
    })?;
    let engine = Arc::new(open_engine(&config).await?);
    let control = ControlServer::start(Arc::clone(&engine))?;
    let served = match listen {
        Some(addr) => {
            let health = Arc::new(Health::default());
            match HttpEndpoints::start(addr, Arc::clone(&engine), Arc::clone(&health)).await {
                Ok(endpoints) => {
                    tracing::info!(
                        "serve: GET /healthz, /metrics, /jobs on http://{}",
                        endpoints.addr()
                    );
                    let served = run_engine(ctx, &engine, control.as_ref(), args, &health).await;
                    endpoints.stop().await;
                    served
                }
                Err(e) => Err(e),
            }
        }
        None => run_engine(ctx, &engine, control.as_ref(), args, &Health::default()).await,
    };
    if let Some(control) = control {
        control.stop().await;
    }
    served
}

/// Runs `engine` until a stop request, with its summary lines, and says how it ended.
async fn run_engine(
    ctx: &Context,
    engine: &Arc<Engine>,
    control: Option<&ControlServer>,
    args: &ServeArgs,
    health: &Health,
) -> Result<Outcome, CliError> {
    let account = match ctx.global.account.as_deref().map(str::trim) {
        Some(account) if !account.is_empty() => Some(account.to_string()),
        _ => engine
            .store()
            .live_page(None, 1)
            .await
            .map_err(DriverError::from)?
            .first()
            .map(|job| job.spec.account().to_string()),
    };
    if let Some(account) = account {
        check_upstream(engine, &account, false).await?;
    }
    let store = &engine.config().store;
    let out = engine.config().out_dir.display();
    match control {
        Some(control) => tracing::info!(
            "serve: engine on {store} (control socket {}), files into {out}",
            control.path().display(),
        ),
        None => tracing::info!(
            "serve: engine on {store}, a worker of the shared store (new jobs reach it through LISTEN/NOTIFY; no control socket: the other commands use the database), files into {out}"
        ),
    }
    let summaries = tokio::spawn(summaries(
        Arc::clone(engine),
        Duration::from_secs(u64::from(args.summary_every)),
    ));
    let progress = progress::start(engine, Mode::Lines);
    let mut stop = Stop::on_signals();
    health.set_running(true);
    let result = run_until_stopped(engine, args, health, &mut stop).await;
    health.set_running(false);
    progress.finish().await;
    summaries.abort();
    let _ = summaries.await;
    let summary: RunSummary = result?;
    tracing::info!(
        "serve: stopped; {}; files in {}",
        ended_line(&summary),
        engine.config().out_dir.display()
    );
    Ok(Outcome::Success)
}

/// How long `serve` waits before it works again on a shared store whose database stayed away
/// longer than the store waits for it (the store's own wait, `reconnect_wait`, came first).
const DATABASE_AWAY_PAUSE: Duration = Duration::from_secs(5);

/// Runs the engine until a stop request (and the steps in flight finished or were abandoned).
/// On a shared store a database that stays away ends one run, not the service: it is logged,
/// and the engine runs again once the database answers.
async fn run_until_stopped(
    engine: &Engine,
    args: &ServeArgs,
    health: &Health,
    stop: &mut Stop,
) -> Result<RunSummary, DriverError> {
    loop {
        match run_once(engine, args, health, stop).await {
            Err(e) if engine.config().store.is_shared() && database_away(&e) => {
                tracing::error!(
                    "serve: {e}; the jobs this worker held go to other workers once their leases expire; trying again in {} s",
                    DATABASE_AWAY_PAUSE.as_secs()
                );
                tokio::select! {
                    () = tokio::time::sleep(DATABASE_AWAY_PAUSE) => {}
                    () = stop.wait() => {
                        return Ok(RunSummary {
                            interrupted: true,
                            ..RunSummary::default()
                        });
                    }
                }
            }
            other => return other,
        }
    }
}

/// Whether `error` says the database could not be reached (rather than refusing something).
fn database_away(error: &DriverError) -> bool {
    matches!(
        error,
        DriverError::Store(StoreError::Postgres(
            PgError::Unavailable { .. } | PgError::Unreachable { .. }
        ))
    )
}

/// One run of the engine until a stop request: the steps in flight get `--stop-timeout`
/// seconds, a second signal abandons them at once.
async fn run_once(
    engine: &Engine,
    args: &ServeArgs,
    health: &Health,
    stop: &mut Stop,
) -> Result<RunSummary, DriverError> {
    let running = engine.run();
    tokio::pin!(running);
    tokio::select! {
        result = &mut running => result,
        () = stop.wait() => {
            health.set_running(false);
            let grace = Duration::from_secs(u64::from(args.stop_timeout));
            tracing::info!(
                "serve: stopping; the steps in flight get {} s to finish (a second signal stops at once)",
                grace.as_secs()
            );
            engine.finish_steps();
            let mut again = Stop::on_signals();
            tokio::select! {
                result = &mut running => result,
                () = tokio::time::sleep(grace) => {
                    tracing::info!("serve: abandoning the steps still going; every job stays resumable");
                    engine.shutdown();
                    running.await
                }
                () = again.wait() => {
                    tracing::info!("serve: abandoning the steps in flight; every job stays resumable");
                    engine.shutdown();
                    running.await
                }
            }
        }
    }
}

/// Logs a summary line every `every`: the jobs per state, the jobs that ended since the start,
/// the requests, retries and bytes.
async fn summaries(engine: Arc<Engine>, every: Duration) {
    let mut events = engine.events();
    let started = Instant::now();
    let mut ended: BTreeMap<StateName, u64> = BTreeMap::new();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(Event::Changed { to, .. }) if to.is_terminal() => {
                    *ended.entry(to).or_default() += 1;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                match engine.counts().await {
                    Ok(counts) => tracing::info!(
                        "{}",
                        summary_line(started.elapsed(), &counts, &ended, engine.metrics())
                    ),
                    Err(e) => tracing::warn!("serve: cannot read the store for the summary: {e}"),
                }
            }
        }
    }
}

/// `serve: up 5m 0s; 3 live (1 requested, 2 polling); 40 ended since the start (38 downloaded,
/// 2 failed); 412 requests, 3 retries, 12.3 MiB received`.
fn summary_line(
    up: Duration,
    counts: &BTreeMap<StateName, u64>,
    ended: &BTreeMap<StateName, u64>,
    metrics: reportflow_driver::Metrics,
) -> String {
    let listed = |map: &BTreeMap<StateName, u64>, keep: &dyn Fn(StateName) -> bool| {
        let parts: Vec<String> = map
            .iter()
            .filter(|(s, n)| keep(**s) && **n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let total: u64 = map.iter().filter(|(s, _)| keep(**s)).map(|(_, n)| n).sum();
        if parts.is_empty() {
            total.to_string()
        } else {
            format!("{total} ({})", parts.join(", "))
        }
    };
    let secs = up.as_secs();
    format!(
        "serve: up {}h {}m {}s; live {}; ended since the start {}; {} requests, {} retries, {} received",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        listed(counts, &|s| !s.is_terminal()),
        listed(ended, &|_| true),
        metrics.requests,
        metrics.retries,
        human_bytes(metrics.bytes)
    )
}
