//! Guarantees 1, 2 and 3 under `kill -9` over TLS: the real `reportflow run` downloads from the
//! simulator over https (files behind a 307 to its second TLS origin) and is killed with
//! SIGKILL while a download is under way (a `.part` file exists), then started again.
//!
//! The checks are the crash-kill soak's (tests/crash_kill.rs): after every kill the store
//! opens, no job went back, each history is a gap-free chain, every file under a final name is
//! a complete served file; at the end every job is `downloaded` with the simulator's sha256 (or
//! `nodata`), each account report was created once, each billing report at most once plus the
//! kills between its POST and its Location, and no temporary file is left.
//! `REPORTFLOW_TLS_KILLS=N` changes the number of kills (default 6).

mod common;
mod harness;

use common::{ACCOUNT, Env};
use harness::*;
use reportflow_sim::{SimConfig, SimTls, SizeRange};
use std::process::Child;
use std::time::{Duration, Instant};

/// Account report jobs per round (large files, so that kills land inside downloads).
const ACCOUNT_JOBS: usize = 16;
/// Billing jobs with data, and without (2001), per round.
const BILLING_JOBS: usize = 4;
const NO_DATA_JOBS: usize = 1;

fn round_batch(round: usize) -> String {
    let mut batch = BatchText::new(ACCOUNT);
    for i in 0..ACCOUNT_JOBS {
        batch.report(round * 1_000 + i + 1);
    }
    for i in 0..BILLING_JOBS {
        let day = format!("2025-01-{:02}", 1 + round * BILLING_JOBS + i);
        batch.billing("BDR", &day, &day);
    }
    for i in 0..NO_DATA_JOBS {
        let day = format!("2001-03-{:02}", 1 + round * NO_DATA_JOBS + i);
        batch.billing("BDR", &day, &day);
    }
    batch.text()
}

fn spawn_run(env: &Env, log: &std::path::Path) -> Child {
    spawn_logged(env.cmd().args(["run", "--json"]), log)
}

#[test]
fn run_killed_during_tls_downloads_loses_nothing_and_duplicates_nothing() {
    let kills_wanted = env_number("REPORTFLOW_TLS_KILLS", 6);
    let seed = 20_261_201;
    let env = Env::new(SimConfig {
        seed,
        tls: Some(SimTls::default()),
        redirect_files: true,
        processing_time: Duration::from_millis(40),
        billing_processing_time: Duration::from_millis(40),
        processing_jitter: Duration::from_millis(300),
        file_size: SizeRange::between(1_000_000, 4_000_000),
        ..SimConfig::default()
    });
    assert!(env.ca_file().is_some(), "the runs trust the simulator's CA");
    let mut rng = Rng::new(seed);
    let log = env.dir.path().join("run.log");
    let mut kill_times = Vec::new();
    let (mut kills, mut mid_download, mut rounds, mut submitted) = (0u64, 0u64, 0usize, 0usize);
    let mut previous: Option<Snapshot> = None;
    let started = Instant::now();
    while kills < kills_wanted {
        if previous.as_ref().is_none_or(Snapshot::all_terminal) {
            let batch = env.dir.path().join(format!("round-{rounds}.toml"));
            std::fs::write(&batch, round_batch(rounds)).expect("write batch");
            env.ok(&format!("submit batch {}", batch.display()));
            submitted += ACCOUNT_JOBS + BILLING_JOBS + NO_DATA_JOBS;
            rounds += 1;
            previous = Some(read_store(&env.store()).expect("the store opens"));
        }
        let mut child = spawn_run(&env, &log);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut in_download = false;
        while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
            if has_part_file(&env.out()) {
                in_download = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.between(0, 30)));
        match child.try_wait().expect("wait") {
            Some(status) => assert_eq!(
                status.code(),
                Some(0),
                "a run that was not killed ends with every job downloaded or nodata:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
            None => {
                kill_times.push(epoch_ms());
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                kills += 1;
                mid_download += u64::from(in_download);
            }
        }
        let before = previous.as_ref().expect("a snapshot");
        previous = Some(checked_snapshot(before, &env.store(), &env.sim, &env.out()));
    }
    // The last run goes to the end.
    let mut child = spawn_run(&env, &log);
    let status = wait_until(&mut child, Instant::now() + Duration::from_secs(180));
    let Some(status) = status else {
        let _ = child.kill();
        panic!(
            "the last run did not finish within 180 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let last = read_store(&env.store()).expect("the store opens");
    assert_eq!(last.jobs.len(), submitted, "every submitted job is there");
    let f = end_checks(&env.sim, &last, &env.out(), &kill_times, false);
    assert_eq!(f.no_data, (rounds * NO_DATA_JOBS) as u64);
    assert!(
        mid_download * 2 >= kills,
        "at least half the kills landed inside a TLS download: {mid_download} of {kills}"
    );
    let stats = env.sim.stats();
    assert_eq!(stats.tls_handshake_failures, 0, "{stats:?}");
    println!(
        "crash-kill over TLS: {kills} kills ({mid_download} during a download) over {rounds} rounds, {} jobs ({} downloaded, {} nodata), {:.1} MiB served, in {:.1} s",
        f.jobs,
        f.downloaded,
        f.no_data,
        stats.bytes_served as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
}
