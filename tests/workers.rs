//! Guarantee 7 and the shared store end to end: real `reportflow` worker processes on one
//! PostgreSQL store (a throwaway server the tests start) against the simulator.
//!
//! - Three workers, one killed with SIGKILL at random moments many times and replaced: every
//!   job ends downloaded (or nodata) with a verified file, no account report is created twice,
//!   billing reports are created again only where a kill fell between a POST and its stored
//!   Location (counted), and every step was written under one lease at a time.
//! - A worker stopped with SIGSTOP past its lease, then resumed: it writes nothing and sends no
//!   create; the job completes on another worker.
//! - Processes submitting while workers run: every submit succeeds; one key from two processes
//!   at once is one job.
//! - A database that cannot be reached: a clear error naming the URL without its password.
//!
//! The database restarted under running workers is `tests/workers_restart.rs` (it restarts the
//! test binary's server, which the tests here share).

mod common;
mod harness;

use common::{ACCOUNT, Env};
use harness::*;
use reportflow_core::StateName;
use reportflow_sim::{Endpoint, Fault, FaultPlan, SimConfig, SizeRange};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The lease of the test workers: short, so that a dead worker's jobs move within seconds.
const LEASE_SECS: &str = "3";
/// Kills of the kill test (more with `REPORTFLOW_SOAK`).
const KILLS: u64 = 15;

/// A fresh database for one test, and the `reportflow` binary pointed at it.
struct Shared {
    env: Env,
    url: String,
}

impl Shared {
    fn new(sim: SimConfig) -> Shared {
        let db = reportflow_testpg::fresh_database();
        Shared {
            env: Env::new(sim),
            url: db.url,
        }
    }

    /// The binary on the shared store.
    fn cmd(&self) -> Command {
        let mut cmd = self.env.cmd();
        cmd.env("REPORTFLOW_STORE", &self.url);
        cmd
    }

    /// Runs a command on the shared store and checks it succeeded.
    fn ok(&self, args: &[&str]) -> common::Ran {
        let ran: common::Ran = self
            .cmd()
            .args(args)
            .output()
            .expect("the binary runs")
            .into();
        assert_eq!(ran.code, 0, "{args:?}: {ran:?}");
        ran
    }

    /// A worker writing into `out`, logging into `log`.
    fn worker(&self, out: &Path, log: &Path) -> Child {
        spawn_logged(
            self.cmd().args([
                "run",
                "--json",
                "--lease",
                LEASE_SECS,
                "--concurrency",
                "6",
                "--out",
                &out.display().to_string(),
            ]),
            log,
        )
    }

    /// The store as it is now.
    fn snapshot(
        &self,
    ) -> (
        Snapshot,
        std::collections::BTreeMap<u64, Vec<reportflow_store::LeasedTransition>>,
    ) {
        read_shared(&self.url).expect("the shared store reads")
    }
}

/// A batch of `n` account reports and billing reports (a few in 2001, without data), distinct
/// from every other round's.
fn batch(round: usize, accounts: usize, billings: usize, no_data: usize) -> String {
    let mut batch = BatchText::new(ACCOUNT);
    for i in 0..accounts {
        batch.report(round * 1_000 + i + 1);
    }
    for i in 0..billings {
        let start = days_after(jiff::civil::date(2024, 1, 1), round * 100 + i);
        batch.billing("BDR", start, days_after(start, i % 3));
    }
    for i in 0..no_data {
        let start = days_after(jiff::civil::date(2001, 1, 1), round * 10 + i);
        batch.billing("MDR", start, start);
    }
    batch.text()
}

/// Waits for a worker to end on its own within `within`; its exit code.
fn ends(child: &mut Child, log: &Path, within: Duration) -> i32 {
    match wait_until(child, Instant::now() + within) {
        Some(status) => status.code().unwrap_or(-1),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "a worker did not end within {within:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        }
    }
}

#[test]
fn three_workers_one_killed_at_random_moments_lose_nothing_and_duplicate_nothing() {
    let kills_wanted = env_number("REPORTFLOW_SOAK", KILLS);
    let seed = env_number("REPORTFLOW_SOAK_SEED", 20_261_213);
    let faults = FaultPlan {
        latency: Duration::from_millis(150),
        ..FaultPlan::none()
    }
    .everywhere(Fault::ServiceUnavailable, 0.01)
    .everywhere(Fault::Latency, 0.02)
    .everywhere(Fault::ConnectionReset, 0.01);
    let shared = Shared::new(SimConfig {
        seed,
        processing_time: Duration::from_millis(200),
        billing_processing_time: Duration::from_millis(200),
        processing_jitter: Duration::from_millis(1_500),
        file_size: SizeRange::between(2_000, 60_000),
        faults,
        ..SimConfig::default()
    });
    let dir = shared.env.dir.path().to_path_buf();
    // The workers share one output folder (as on a shared mount): a worker killed between
    // placing a file and recording it leaves it for the next one, which recognises it.
    let out = dir.join("out");
    let mut rng = Rng::new(seed);
    let mut round = 0;
    let mut submitted = 0;
    let submit_round = |round: &mut usize| {
        let file = dir.join(format!("round-{round}.toml"));
        std::fs::write(&file, batch(*round, 14, 6, 1)).expect("write the batch");
        shared.ok(&["submit", "batch", &file.display().to_string()]);
        *round += 1;
        21
    };
    submitted += submit_round(&mut round);
    let log = |slot: usize, n: u64| dir.join(format!("worker-{slot}-{n}.log"));
    let mut started = 0u64;
    let mut workers: Vec<(Child, PathBuf)> = (0..3)
        .map(|slot| {
            started += 1;
            let log = log(slot, started);
            (shared.worker(&out, &log), log)
        })
        .collect();
    let mut kill_times = Vec::new();
    let began = Instant::now();
    while (kill_times.len() as u64) < kills_wanted {
        std::thread::sleep(Duration::from_millis(rng.between(150, 900)));
        let (snapshot, _) = shared.snapshot();
        if snapshot.all_terminal() {
            // Keep the workers busy until every kill has fallen somewhere.
            submitted += submit_round(&mut round);
        }
        let slot = rng.between(0, 2) as usize;
        kill_times.push(epoch_ms());
        let (child, _) = &mut workers[slot];
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        started += 1;
        let log = log(slot, started);
        workers[slot] = (shared.worker(&out, &log), log);
    }
    for (child, log) in &mut workers {
        let code = ends(child, log, Duration::from_secs(120));
        assert_eq!(
            code,
            0,
            "a worker that was not killed ends when no job is live, every job downloaded or nodata:\n{}",
            std::fs::read_to_string(&*log).unwrap_or_default()
        );
    }
    let took = began.elapsed();
    let (last, leases) = shared.snapshot();
    assert_eq!(last.jobs.len(), submitted, "every submitted job is there");
    let figures = end_checks_in(&shared.env.sim, &last, &[&out], &kill_times, false, &|_| {
        false
    });
    assert_eq!(figures.no_data, round as u64);
    let mut writers = std::collections::BTreeSet::new();
    let mut moved = 0;
    for (id, steps) in &leases {
        let workers = check_one_lease_at_a_time(*id, steps).unwrap_or_else(|e| panic!("{e}"));
        moved += usize::from(workers.len() > 1);
        writers.extend(workers);
    }
    println!(
        "workers: {} kills of 3 workers ({started} started, {} wrote steps) over {} jobs in {:.1} s; {moved} jobs moved between workers",
        kill_times.len(),
        writers.len(),
        last.jobs.len(),
        took.as_secs_f64()
    );
    println!(
        "  account reports: {} creations for {} jobs ({} creates cut off by a kill were reconciled); billing reports: {} creations for {} jobs, {} kills between a POST and its Location, duplicates {}",
        figures.account_creations,
        figures.account_jobs,
        figures.account_creates_cut_by_kills,
        figures.billing_creations,
        figures.billing_jobs,
        figures.kills_between_post_and_location,
        figures.duplicate_creations()
    );
    assert!(
        writers.len() >= 3,
        "several workers did the work: {writers:?}"
    );
}

/// Sends `signal` to `child`.
fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill() takes a pid and a signal number and touches no memory of ours.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "signal {signal} to {pid}");
}

/// The history of the only job of the store, with its leases.
fn only_job(
    shared: &Shared,
) -> (
    reportflow_core::Job,
    Vec<reportflow_store::LeasedTransition>,
) {
    let (snapshot, mut leases) = shared.snapshot();
    let (id, (job, _)) = snapshot.jobs.into_iter().next().expect("a job");
    (job, leases.remove(&id).expect("its history"))
}

#[test]
fn a_worker_paused_past_its_lease_writes_nothing_and_sends_no_create_when_it_wakes() {
    // Every create is answered a second late: the worker is stopped while it holds the job,
    // between recording its create intent and the create's answer.
    let shared = Shared::new(SimConfig {
        processing_time: Duration::from_millis(200),
        billing_processing_time: Duration::from_millis(200),
        file_size: SizeRange::between(1_000, 5_000),
        faults: FaultPlan {
            latency: Duration::from_millis(1_000),
            ..FaultPlan::none()
        }
        .on(Endpoint::Create, Fault::Latency, 1.0),
        ..SimConfig::default()
    });
    let dir = shared.env.dir.path().to_path_buf();
    shared.ok(&[
        "submit",
        "report",
        "4",
        "--param",
        &format!("AccountId={ACCOUNT}"),
        "--param",
        "SiteId=7",
        "--key",
        "paused",
    ]);
    let (out_a, out_b) = (dir.join("out-a"), dir.join("out-b"));
    let (log_a, log_b) = (dir.join("a.log"), dir.join("b.log"));
    let mut a = shared.worker(&out_a, &log_a);
    let a_name = format!("-{}-", a.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, history) = only_job(&shared);
        if history
            .iter()
            .any(|s| s.transition.input == "create-sending")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "worker a never recorded its create intent:\n{}",
            std::fs::read_to_string(&log_a).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(&a, libc::SIGSTOP);
    let (_, paused_at) = only_job(&shared);
    let by_a = |steps: &[reportflow_store::LeasedTransition]| {
        steps
            .iter()
            .filter(|s| {
                s.lease
                    .as_ref()
                    .is_some_and(|(w, _)| w.as_str().contains(&a_name))
            })
            .count()
    };
    let a_steps = by_a(&paused_at);
    assert!(a_steps >= 1, "a wrote its intent: {paused_at:#?}");
    let mut b = shared.worker(&out_b, &log_b);
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let (job, history) = only_job(&shared);
        if job.state.is_terminal() {
            break (job, history);
        }
        assert!(
            Instant::now() < deadline,
            "worker b did not finish the job:\n{}",
            std::fs::read_to_string(&log_b).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(done.0.state.name(), StateName::Downloaded, "{:#?}", done.1);
    // Past its lease, a wakes up with the job done by b.
    signal(&a, libc::SIGCONT);
    assert_eq!(
        ends(&mut a, &log_a, Duration::from_secs(30)),
        0,
        "a ends cleanly"
    );
    assert_eq!(
        ends(&mut b, &log_b, Duration::from_secs(30)),
        0,
        "b ends cleanly"
    );
    let (job, history) = only_job(&shared);
    assert_eq!(history, done.1, "a wrote nothing once it woke up");
    assert_eq!(by_a(&history), a_steps, "nothing more under a's lease");
    check_one_lease_at_a_time(job.id.0, &history).unwrap_or_else(|e| panic!("{e}"));
    let stats = shared.env.sim.stats();
    assert_eq!(
        stats.requests_to(Endpoint::Create),
        1,
        "one create request in all: a sent none after it woke (b found a's report, or sent the only one)"
    );
    assert_eq!(stats.total_instance_creations(), 1, "created once");
    let file = stored_file(&job).expect("a file");
    assert!(
        Path::new(&file.path).starts_with(&out_b),
        "b wrote the file: {}",
        file.path
    );
    assert_eq!(
        final_files(&out_a),
        Vec::<PathBuf>::new(),
        "a placed nothing"
    );
    assert_eq!(temp_files(&out_a), Vec::<PathBuf>::new(), "a left nothing");
    let stored_by = history
        .iter()
        .find(|s| s.transition.input.starts_with("file-stored"))
        .and_then(|s| s.lease.as_ref())
        .map(|(w, _)| w.to_string())
        .expect("the file-stored step names its worker");
    assert!(stored_by.contains(&format!("-{}-", b.id())), "{stored_by}");
    // `history` shows who wrote each step, and so which host wrote the file.
    let shown = shared.ok(&["history", "paused"]);
    assert!(shown.stdout.contains("WORKER"), "{}", shown.stdout);
    assert!(shown.stdout.contains(&stored_by), "{}", shown.stdout);
}

#[test]
fn processes_submit_while_workers_run_and_one_key_from_two_at_once_is_one_job() {
    let shared = Shared::new(SimConfig {
        processing_time: Duration::from_millis(300),
        billing_processing_time: Duration::from_millis(300),
        file_size: SizeRange::between(1_000, 5_000),
        ..SimConfig::default()
    });
    let dir = shared.env.dir.path().to_path_buf();
    let out = dir.join("out");
    // Workers that keep going: they pick up every new job as it comes.
    let watchers: Vec<(Child, PathBuf)> = (0..2)
        .map(|n| {
            let log = dir.join(format!("watch-{n}.log"));
            let child = spawn_logged(
                shared.cmd().args([
                    "run",
                    "--watch",
                    "--lease",
                    LEASE_SECS,
                    "--out",
                    &out.display().to_string(),
                ]),
                &log,
            );
            (child, log)
        })
        .collect();
    let submit = |site: usize, key: &str| {
        let mut cmd = shared.cmd();
        cmd.args([
            "submit",
            "--json",
            "report",
            "4",
            "--param",
            &format!("AccountId={ACCOUNT}"),
            "--param",
            &format!("SiteId={site}"),
            "--key",
            key,
        ]);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("a submitter starts")
    };
    // 4 submitters at a time, 16 jobs, then the same key from two processes at once.
    let mut ids = std::collections::BTreeSet::new();
    for wave in 0..4 {
        let children: Vec<Child> = (0..4)
            .map(|n| {
                let site = wave * 4 + n;
                submit(site, &format!("job-{site}"))
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("a submitter ends");
            let ran: common::Ran = output.into();
            assert_eq!(ran.code, 0, "every submit succeeds: {ran:?}");
            let view: serde_json::Value = serde_json::from_str(&ran.stdout).expect("json");
            ids.insert(view["id"].as_u64().expect("an id"));
        }
    }
    assert_eq!(ids.len(), 16);
    let twins: Vec<Child> = (0..2).map(|_| submit(99, "the-same-key")).collect();
    let twin_ids: Vec<u64> = twins
        .into_iter()
        .map(|child| {
            let ran: common::Ran = child.wait_with_output().expect("ends").into();
            assert_eq!(ran.code, 0, "{ran:?}");
            let view: serde_json::Value = serde_json::from_str(&ran.stdout).expect("json");
            view["id"].as_u64().expect("an id")
        })
        .collect();
    assert_eq!(twin_ids[0], twin_ids[1], "one key, one job");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (snapshot, _) = shared.snapshot();
        if snapshot.jobs.len() == 17 && snapshot.all_terminal() {
            break;
        }
        assert!(Instant::now() < deadline, "the workers did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (child, log) in watchers {
        signal(&child, libc::SIGTERM);
        let mut child = child;
        assert_eq!(
            ends(&mut child, &log, Duration::from_secs(20)),
            0,
            "a watcher stops cleanly"
        );
    }
    let (last, _) = shared.snapshot();
    let figures = end_checks_in(&shared.env.sim, &last, &[&out], &[], false, &|_| false);
    assert_eq!(figures.downloaded, 17);
    let status = shared.ok(&["status", "--json"]);
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(jobs.len(), 17, "status reads the shared store directly");
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let env = Env::new(common::quick_sim());
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://reportflow:s3cret-pw@127.0.0.1:{port}/jobs");
    for args in [&["status"][..], &["run", "--out", "out"][..]] {
        let ran = env.run_with(&[("REPORTFLOW_STORE", Some(&url))], args);
        assert_eq!(ran.code, 1, "{args:?}: {ran:?}");
        assert!(
            ran.stderr
                .contains(&format!("postgres://reportflow:***@127.0.0.1:{port}/jobs")),
            "{ran:?}"
        );
        assert!(ran.stderr.contains("cannot reach the database"), "{ran:?}");
        assert!(
            !ran.stderr.contains("s3cret-pw") && !ran.stdout.contains("s3cret-pw"),
            "{ran:?}"
        );
    }
    // The password may come from PGPASSWORD instead of the URL: it is not shown either.
    let ran = env.run_with(
        &[
            (
                "REPORTFLOW_STORE",
                Some(&format!("postgres://reportflow@127.0.0.1:{port}/jobs")),
            ),
            ("PGPASSWORD", Some("s3cret-pw")),
        ],
        &["status"],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(!ran.stderr.contains("s3cret-pw"), "{ran:?}");
}
