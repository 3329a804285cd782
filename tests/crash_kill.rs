//! Guarantees 1, 2 and 3 under `kill -9`: the real `reportflow run` is killed with SIGKILL at
//! seeded random moments while the simulator injects faults, and started again, until every
//! job has ended.
//!
//! After every kill the store must open; no job may have gone back (versions never decrease,
//! the history seen before is a prefix of the history now, each history a gap-free chain, no
//! lower state within an attempt); every file under a final name must be complete (its bytes
//! are a file the simulator served whole). At the end every job is `downloaded` with the
//! simulator's sha256 (or `nodata` where the simulator has no data), each account report was
//! created once, each billing report at most once plus the kills that fell between its POST and
//! its stored Location (counted and printed), and no temporary file is left.
//!
//! CI runs at least 25 kills over rounds of 56 jobs of both families. `REPORTFLOW_SOAK=N` runs
//! N kills (more rounds), `REPORTFLOW_SOAK_SEED=S` changes the seed; see docs/reliability.md.

mod common;
mod harness;

use common::{ACCOUNT, Env};
use harness::*;
use reportflow_core::StateName;
use reportflow_sim::{Endpoint, Fault, FaultPlan, SimConfig, SizeRange};
use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

/// Account report jobs per round.
const ACCOUNT_JOBS: usize = 30;
/// Billing jobs with data per round.
const BILLING_JOBS: usize = 24;
/// Billing jobs whose range has no data (inside 2001) per round.
const NO_DATA_JOBS: usize = 2;
/// Kills when `REPORTFLOW_SOAK` is not set.
const CI_KILLS: u64 = 25;

const BILLING_TYPES: [&str; 12] = [
    "BDR",
    "MDR",
    "INVOICE",
    "STMTBDR",
    "DIDSNAP",
    "CNAMBDR",
    "CONFBDR",
    "AMDBDR",
    "TNLOOKUPBDR",
    "SIPURIBDR",
    "TFPEERINGSTMTBDR",
    "RECORDINGBDR",
];

/// Faults that have no side effect upstream: on creates only these, so that a billing report
/// created twice can only be the doing of a kill (lost answers are the fault matrix's part).
/// Not `MalformedXml`: a whole answer that cannot be read fails its job when it comes twice in
/// a row, which random faults sometimes do (the fault matrix and crates/driver test it).
const SIDE_EFFECT_FREE: [Fault; 9] = [
    Fault::InternalError,
    Fault::BadGateway,
    Fault::ServiceUnavailable,
    Fault::GatewayTimeout,
    Fault::RateLimitedSeconds,
    Fault::RateLimitedMillis,
    Fault::ConnectionReset,
    Fault::ErrorIn200,
    Fault::Latency,
];

/// Every fault but stalled bodies on every other endpoint (a stall costs the CLI's 60 s idle
/// timeout, which `run` does not let a test shorten).
fn fault_plan(rate: f64) -> FaultPlan {
    let mut plan = FaultPlan {
        latency: Duration::from_millis(150),
        rate_limit_reset_after: Duration::from_millis(300),
        ..FaultPlan::none()
    };
    for fault in SIDE_EFFECT_FREE {
        plan = plan.everywhere(fault, rate);
    }
    for endpoint in Endpoint::ALL {
        if endpoint != Endpoint::Create {
            plan = plan.on(endpoint, Fault::CutShortBody, rate).on(
                endpoint,
                Fault::AppliedResponseLost,
                rate,
            );
        }
    }
    plan
}

/// A batch file of one round: distinct sites, types and ranges, so every entry is a new job.
fn round_batch(round: usize) -> String {
    let mut batch = BatchText::new(ACCOUNT);
    for i in 0..ACCOUNT_JOBS {
        batch.report(round * 1_000 + i + 1);
    }
    for i in 0..BILLING_JOBS {
        // a new range every job and round
        let start = days_after(jiff::civil::date(2024, 1, 1), round * BILLING_JOBS + i);
        let kind = BILLING_TYPES[i % BILLING_TYPES.len()];
        batch.billing(kind, start, days_after(start, i % 5));
    }
    for i in 0..NO_DATA_JOBS {
        let start = days_after(jiff::civil::date(2001, 1, 1), round * NO_DATA_JOBS + i);
        batch.billing("BDR", start, start);
    }
    batch.text()
}

/// What the soak saw.
#[derive(Default)]
struct Tally {
    kills: u64,
    runs: u64,
    rounds: usize,
    /// After how many kills some job was in each state.
    kills_in_state: BTreeMap<StateName, u64>,
    /// Kills that left a `.part` file behind (a download cut off).
    kills_mid_download: u64,
    /// Kills that came before the run recorded any step.
    kills_without_progress: u64,
}

fn spawn_run(env: &Env, log: &std::path::Path) -> Child {
    spawn_logged(env.cmd().args(["run", "--json"]), log)
}

#[test]
fn run_killed_at_random_moments_loses_nothing_and_duplicates_nothing() {
    let kills_wanted = env_number("REPORTFLOW_SOAK", CI_KILLS);
    let seed = env_number("REPORTFLOW_SOAK_SEED", 20_261_126);
    let env = Env::new(SimConfig {
        seed,
        processing_time: Duration::from_millis(40),
        billing_processing_time: Duration::from_millis(40),
        processing_jitter: Duration::from_millis(1_500),
        file_size: SizeRange::between(2_000, 60_000),
        faults: fault_plan(0.01),
        ..SimConfig::default()
    });
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    // When each kill was sent (epoch ms, the clock of the history records).
    let mut kill_times: Vec<u64> = Vec::new();
    let log = env.dir.path().join("run.log");
    let started = Instant::now();
    let mut previous: Option<Snapshot> = None;
    let mut jobs_submitted = 0;
    // Kill delays grow while kills keep landing before any progress (a slow machine).
    let mut slow = 0;
    loop {
        if previous.as_ref().is_none_or(Snapshot::all_terminal) {
            if tally.kills >= kills_wanted && tally.rounds > 0 {
                break;
            }
            let batch = env.dir.path().join(format!("round-{}.toml", tally.rounds));
            std::fs::write(&batch, round_batch(tally.rounds)).expect("write batch");
            env.ok(&format!("submit batch {}", batch.display()));
            jobs_submitted += ACCOUNT_JOBS + BILLING_JOBS + NO_DATA_JOBS;
            tally.rounds += 1;
            let snapshot = read_store(&env.store()).expect("the store opens");
            if let Some(before) = &previous {
                check_no_regression(before, &snapshot).expect("submit harms no job");
            }
            previous = Some(snapshot);
        }
        let kill = tally.kills < kills_wanted;
        let mut child = spawn_run(&env, &log);
        tally.runs += 1;
        let delay = rng.between(100, 400) * (1 + slow);
        let deadline = if kill {
            Instant::now() + Duration::from_millis(delay)
        } else {
            Instant::now() + Duration::from_secs(180)
        };
        let mut killed = false;
        let status = match wait_until(&mut child, deadline) {
            Some(status) => status,
            None if kill => {
                kill_times.push(epoch_ms());
                child.kill().expect("SIGKILL");
                tally.kills += 1;
                killed = true;
                child.wait().expect("reap")
            }
            None => {
                let _ = child.kill();
                panic!(
                    "the last run did not finish within 180 s:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        if !killed {
            assert_eq!(
                status.code(),
                Some(0),
                "a run that was not killed ends with every job downloaded or nodata:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }

        // What the next run will find.
        let before = previous.as_ref().expect("a snapshot");
        let snapshot = checked_snapshot(before, &env.store(), &env.sim, &env.out());
        if killed {
            if snapshot == *before {
                tally.kills_without_progress += 1;
                slow = (slow + 1).min(4);
            } else {
                slow = 0;
            }
            for state in snapshot.counts().keys() {
                *tally.kills_in_state.entry(*state).or_default() += 1;
            }
            if has_part_file(&env.out()) {
                tally.kills_mid_download += 1;
            }
        }
        previous = Some(snapshot);
    }
    let elapsed = started.elapsed();
    assert!(tally.kills >= kills_wanted, "{} kills", tally.kills);
    let last = previous.expect("a snapshot");
    finish(
        &env,
        &last,
        &kill_times,
        &tally,
        jobs_submitted,
        seed,
        elapsed,
    );
}

/// The end checks, and the figures printed for docs/reliability.md.
fn finish(
    env: &Env,
    last: &Snapshot,
    kill_times: &[u64],
    tally: &Tally,
    jobs_submitted: usize,
    seed: u64,
    elapsed: Duration,
) {
    assert_eq!(
        last.jobs.len(),
        jobs_submitted,
        "every submitted job is there"
    );
    let f = end_checks(&env.sim, last, &env.out(), kill_times, false);
    assert_eq!(f.no_data, (tally.rounds * NO_DATA_JOBS) as u64);
    let stats = env.sim.stats();
    println!(
        "crash-kill soak: seed {seed}, {} kills over {} runs, {} rounds, {} jobs ({} account, {} billing) in {:.1} s",
        tally.kills,
        tally.runs,
        tally.rounds,
        f.jobs,
        f.account_jobs,
        f.billing_jobs,
        elapsed.as_secs_f64()
    );
    println!(
        "  ended: {} downloaded, {} nodata; lost 0, corrupt files 0; {} simulator faults injected over {} requests",
        f.downloaded,
        f.no_data,
        stats.faults.values().sum::<u64>(),
        stats.requests.values().sum::<u64>()
    );
    println!(
        "  account reports: {} creations for {} jobs; {} creates cut off by a kill were reconciled",
        f.account_creations, f.account_jobs, f.account_creates_cut_by_kills
    );
    println!(
        "  billing reports: {} creations for {} jobs; {} of the kills fell between a POST and its stored Location, cutting off {} creates; duplicates {}",
        f.billing_creations,
        f.billing_jobs,
        f.kills_between_post_and_location,
        f.billing_creates_cut_by_kills,
        f.duplicate_creations()
    );
    println!(
        "  kills with a job in each state: {:?}; mid-download {}; before any progress {}",
        tally.kills_in_state, tally.kills_mid_download, tally.kills_without_progress
    );
}
