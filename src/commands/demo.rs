//! `demo`: the embedded simulator with mild faults, the whole catalogue submitted, run to the
//! end with progress, every file verified, and a summary.

use crate::cli::DemoArgs;
use crate::commands::run::{drive, ended_line, finished_event};
use crate::commands::sim::{SIM_ACCOUNT, fault_plan, stats_line};
use crate::context::{Context, Purpose, absolute, today};
use crate::error::{CliError, Outcome};
use crate::output::{JobView, jobs_table, print, print_json_line};
use crate::progress::Mode;
use crate::shell;
use crate::signals::Stop;
use jiff::ToSpan;
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Job, JobSpec, JobState, KNOWN_BILLING_TYPES, OutputFormat,
};
use reportflow_driver::{Engine, sample_parameters};
use reportflow_sim::{Sim, SimConfig, SimHandle};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The chance of each fault kind per request: mild, yet every run meets some.
const DEMO_FAULT_RATE: f64 = 0.01;

/// `demo`.
pub async fn demo(ctx: &Context, args: &DemoArgs) -> Result<Outcome, CliError> {
    let started = Instant::now();
    let run_dir = fresh_run_dir(&args.out)?;
    let sim_config = SimConfig {
        seed: args.seed,
        processing_time: Duration::from_millis(300),
        billing_processing_time: Duration::from_millis(400),
        processing_jitter: Duration::from_millis(700),
        faults: fault_plan(DEMO_FAULT_RATE),
        ..SimConfig::default()
    };
    let sim = Sim::start(sim_config.clone()).await?;
    let engine = Engine::open(ctx.engine_config(Purpose::Demo {
        sim: &sim,
        sim_config: &sim_config,
        run_dir: &run_dir,
    })?)
    .await?;
    let specs = catalogue(&engine, args.jobs).await?;
    if !ctx.global.json {
        print(&format!(
            "demo: simulator on {} with mild faults; {} jobs (every report and billing type)\n",
            sim.base_url(),
            specs.len()
        ));
    }
    engine
        .submit_many(specs.into_iter().map(|spec| (spec, None)))
        .await?;
    let mode = Mode::choose(ctx.global.json, ctx.global.quiet);
    let summary = drive(&engine, mode, &mut Stop::on_signals()).await?;
    let jobs = engine.jobs(None).await?;
    let verified = verify(&sim, &jobs)?;
    let outcome = if summary.all_succeeded() && !summary.interrupted {
        Outcome::Success
    } else {
        Outcome::JobsUnsuccessful
    };
    let store = run_dir.join(".store");
    if ctx.global.json {
        let mut event = finished_event(&summary, &run_dir, outcome);
        event["event"] = "demo_finished".into();
        event["verified"] = verified.into();
        event["store"] = store.display().to_string().into();
        event["jobs"] = serde_json::to_value(jobs.iter().map(JobView::of).collect::<Vec<_>>())
            .unwrap_or_default();
        print_json_line(&event);
    } else {
        print(&format!(
            "{}\ndemo: {}; {verified} files verified against the simulator\n{}\ntook {:.1} s\n\
             files in {}\ninspect the jobs: {}\n",
            jobs_table(&jobs),
            ended_line(&summary),
            stats_line(&sim.stats()),
            started.elapsed().as_secs_f64(),
            run_dir.display(),
            shell::command(["--store", &store.to_string_lossy(), "status"]),
        ));
    }
    sim.shutdown();
    if summary.interrupted {
        return Err(CliError::Runtime(
            "the demo was interrupted; its files so far are in the folder above".into(),
        ));
    }
    Ok(outcome)
}

/// A new folder `DIR/run-YYYYMMDD-HHMMSS` (with a suffix if taken), so that runs never mix.
fn fresh_run_dir(parent: &Path) -> Result<PathBuf, CliError> {
    let parent = absolute(parent)?;
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    let create = |dir: &Path| {
        std::fs::create_dir_all(parent.as_path())
            .and_then(|()| std::fs::create_dir(dir))
            .map(|()| dir.to_path_buf())
    };
    let mut last = None;
    for n in 0..100 {
        let name = if n == 0 {
            format!("run-{stamp}")
        } else {
            format!("run-{stamp}-{n}")
        };
        match create(&parent.join(name)) {
            Ok(dir) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(CliError::Runtime(format!(
                    "cannot create a folder in {}: {e}; choose another --out",
                    parent.display()
                )));
            }
        }
    }
    Err(CliError::Runtime(format!(
        "cannot create a new run folder in {}: {}; choose another --out",
        parent.display(),
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Every account report with sample parameters, every billing type over the last 30 days, and
/// `extra` more account reports (one report type, a different site each).
async fn catalogue(engine: &Engine, extra: u32) -> Result<Vec<JobSpec>, CliError> {
    let today = today();
    let account_spec = |report_id, params| {
        JobSpec::Account(AccountReportSpec {
            account: SIM_ACCOUNT.to_string(),
            report_id,
            format: OutputFormat::Csv,
            params,
            expires_at: None,
        })
    };
    let mut specs = Vec::new();
    let mut by_site: Option<(u32, String, BTreeMap<String, BTreeSet<String>>)> = None;
    for report in engine.report_types(SIM_ACCOUNT).await? {
        let Ok(id) = report.id.parse::<u32>() else {
            continue;
        };
        let detail = engine.report_detail(SIM_ACCOUNT, id).await?;
        let params = sample_parameters(&detail, SIM_ACCOUNT, today);
        if by_site.is_none()
            && let Some(site) = detail
                .parameters
                .iter()
                .find(|p| p.kind.as_deref() == Some("Site ID"))
        {
            by_site = Some((id, site.name.clone(), params.clone()));
        }
        specs.push(account_spec(id, params));
    }
    if let Some((id, site, params)) = by_site {
        for n in 1..=extra {
            let mut params = params.clone();
            params.insert(site.clone(), BTreeSet::from([n.to_string()]));
            specs.push(account_spec(id, params));
        }
    }
    let start = today.checked_sub(30.days()).unwrap_or(today);
    let end = today.checked_sub(1.day()).unwrap_or(today);
    for report_type in KNOWN_BILLING_TYPES {
        specs.push(JobSpec::Billing(BillingReportSpec {
            account: SIM_ACCOUNT.to_string(),
            report_type: report_type.to_string(),
            start,
            end,
        }));
    }
    Ok(specs)
}

/// Checks every downloaded file against the simulator and the disk; returns how many.
fn verify(sim: &SimHandle, jobs: &[Job]) -> Result<usize, CliError> {
    let mut verified = 0;
    for job in jobs {
        let JobState::Downloaded { upstream, file } = &job.state else {
            continue;
        };
        let served = sim.expected_file(&upstream.location);
        let on_disk = sha256_of(Path::new(&file.path));
        match (served, on_disk) {
            (Some(served), Ok(on_disk))
                if served.sha256 == file.sha256
                    && on_disk == file.sha256
                    && served.size == file.bytes =>
            {
                verified += 1;
            }
            _ => {
                return Err(CliError::Runtime(format!(
                    "job {}: the file {} does not match what the simulator served; please report this",
                    job.id, file.path
                )));
            }
        }
    }
    Ok(verified)
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
