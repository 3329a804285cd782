//! `reportflow serve` on a PostgreSQL store (a throwaway server the test starts), every process
//! a real `reportflow` against the simulator over loopback: `serve` is a worker with no control
//! socket; `submit` processes write to the database while it runs, and it hears of each job at
//! once (LISTEN/NOTIFY) and downloads it; `/metrics` and `/jobs` show the shared store;
//! `/healthz` says 503 while the database is away, and `serve` goes on once it is back, even
//! after the store gave up waiting for it; SIGTERM with a download in flight exits 0, leaves no
//! `.part` file and gives the lease back.
//!
//! One test in this binary: it stops and starts the test server.

mod common;
mod harness;
mod serving;

use common::*;
use harness::{check_one_lease_at_a_time, read_shared};
use reportflow_sim::{Endpoint, Fault, SimConfig, SizeRange};
use serde_json::Value;
use serving::{Serving, all_downloaded, http, metric, wait_for_jobs};
use std::time::{Duration, Instant};

/// With the default lease (60 s) a worker that heard nothing claims every 5 s: a job started
/// well within this was picked up by its NOTIFY, not by the periodic claim.
const PICKUP_BOUND: Duration = Duration::from_millis(2_500);

/// The binary on the PostgreSQL store at `url`.
struct Shared<'a> {
    env: &'a Env,
    url: &'a str,
}

impl Shared<'_> {
    fn run(&self, args: &[&str]) -> Ran {
        self.env
            .run_with(&[("REPORTFLOW_STORE", Some(self.url))], args)
    }

    fn status(&self) -> Vec<Value> {
        let ran = self.run(&["status", "--json"]);
        assert_eq!(ran.code, 0, "{ran:?}");
        serde_json::from_str(&ran.stdout).expect("status --json is JSON")
    }

    /// Polls `status --json` until `n` jobs are stored and all downloaded.
    fn all_downloaded(&self, n: usize, within: Duration) -> Vec<Value> {
        wait_for_jobs(|| self.status(), within, all_downloaded(n))
    }

    /// A billing report of day `day` of October 2026 (a distinct job per day).
    fn submit_day(&self, day: u32) -> Ran {
        let date = format!("2026-10-{day:02}");
        self.run(&[
            "submit", "billing", "BDR", "--from", &date, "--to", &date, "--json",
        ])
    }
}

/// Polls `/healthz` until it answers `code`; how long that took.
fn health_becomes(addr: &str, code: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (got, body) = http(addr, "GET", "/healthz");
        if got == code {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "/healthz still {got} after {within:?}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_on_a_shared_store_picks_up_jobs_other_processes_submit_and_rides_out_the_database() {
    let db = reportflow_testpg::fresh_database();
    let server = reportflow_testpg::server().expect("the test server");
    // Files of two blocks: a file smaller than one block is received in memory and never has
    // a temporary file, and the SIGTERM part of this test watches for one.
    let env = Env::new(SimConfig {
        file_size: SizeRange::fixed(2 * 1024 * 1024),
        billing_file_size: SizeRange::fixed(2 * 1024 * 1024),
        ..quick_sim()
    });
    let shared = Shared {
        env: &env,
        url: &db.url,
    };
    let mut cmd = env.cmd();
    cmd.env("REPORTFLOW_STORE", &db.url);
    let mut serving = Serving::start_with(cmd, &["--listen", "127.0.0.1:0", "--stop-timeout", "1"]);
    let addr = serving.http_addr();
    assert!(
        serving.log().contains("a worker of the shared store"),
        "{}",
        serving.log()
    );
    assert_eq!(http(&addr, "GET", "/healthz").0, 200);

    // Three pipelines submit while serve runs, each a real process writing to the database.
    let submitted: Vec<Ran> = std::thread::scope(|s| {
        let pipelines: Vec<_> = (0..3u32)
            .map(|p| {
                let shared = &shared;
                s.spawn(move || {
                    (1..=4u32)
                        .map(|i| {
                            let ran = shared.submit_day(p * 4 + i);
                            std::thread::sleep(Duration::from_millis(150));
                            ran
                        })
                        .collect::<Vec<Ran>>()
                })
            })
            .collect();
        pipelines
            .into_iter()
            .flat_map(|p| p.join().expect("a pipeline"))
            .collect()
    });
    for ran in &submitted {
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let jobs = shared.all_downloaded(12, Duration::from_secs(60));
    assert_eq!(env.verify_files(&jobs), 12);
    assert!(
        !env.dir.path().join("store").exists(),
        "no directory store, so no control socket, was made"
    );

    // Each job was picked up at once: its first step came soon after its submit, and every
    // step after the submit was written under this worker's lease.
    let (snapshot, leases) = read_shared(&db.url).expect("the store reads");
    let mut pickups: Vec<u64> = snapshot
        .jobs
        .values()
        .map(|(_, history)| history[1].at.0.saturating_sub(history[0].at.0))
        .collect();
    pickups.sort_unstable();
    let slowest = Duration::from_millis(*pickups.last().expect("jobs"));
    assert!(
        slowest < PICKUP_BOUND,
        "a job waited {slowest:?} to be picked up: {pickups:?}"
    );
    for (id, steps) in &leases {
        let workers = check_one_lease_at_a_time(*id, steps).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(workers.len(), 1, "job {id}: one worker wrote it");
    }

    // /metrics and /jobs show the shared store.
    let (code, text) = http(&addr, "GET", "/metrics");
    assert_eq!(code, 200, "{text}");
    let sim = env.sim.stats();
    assert_eq!(
        metric(&text, "reportflow_jobs", &[("state", "downloaded")]),
        12.0
    );
    assert_eq!(
        metric(
            &text,
            "reportflow_upstream_requests_total",
            &[("endpoint", "create")]
        ) as u64,
        sim.requests_to(Endpoint::Create)
    );
    assert_eq!(
        metric(&text, "reportflow_downloaded_bytes_total", &[]) as u64,
        sim.bytes_served
    );
    assert_eq!(
        metric(
            &text,
            "reportflow_transitions_total",
            &[("from", "requested"), ("to", "created")]
        ),
        12.0
    );
    assert!(
        metric(&text, "reportflow_store_flush_duration_seconds_count", &[]) > 0.0,
        "the database's commits are timed"
    );
    let (code, body) = http(&addr, "GET", "/jobs");
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON"),
        Value::Array(jobs.clone())
    );

    // The database goes away: /healthz says so within its bound; serve outlives the store's
    // own wait (30 s) and works again once the database is back.
    server.stop().expect("pg_ctl stop");
    let down = health_becomes(&addr, 503, Duration::from_secs(10));
    let (_, body) = http(&addr, "GET", "/healthz");
    assert!(body.contains("store unreachable"), "{body}");
    serving.wait_for("trying again in", Duration::from_secs(60));
    server.start_again().expect("pg_ctl start");
    let up = health_becomes(&addr, 200, Duration::from_secs(30));
    let late = shared.submit_day(20);
    assert_eq!(late.code, 0, "{late:?}");
    let jobs = shared.all_downloaded(13, Duration::from_secs(60));
    assert_eq!(env.verify_files(&jobs), 13);

    // SIGTERM with a download in flight: exit 0, no .part file, the lease given back.
    env.sim.script(Endpoint::File, vec![Fault::StalledBody]);
    let stalled = shared.submit_day(21);
    assert_eq!(stalled.code, 0, "{stalled:?}");
    let start = Instant::now();
    while part_files(&env.out()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no download started:\n{}",
            serving.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopping = Instant::now();
    let status = serving.stop(Duration::from_secs(10));
    let took = stopping.elapsed();
    assert_eq!(status.code(), Some(0), "{}", serving.log());
    assert_eq!(
        part_files(&env.out()),
        Vec::<String>::new(),
        "no .part file"
    );
    // Given back, the job is another worker's at once; held, it would wait out the 60 s lease.
    let resumed = Instant::now();
    let run = shared.run(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let resume_took = resumed.elapsed();
    assert!(
        resume_took < Duration::from_secs(30),
        "the job waited {resume_took:?}: its lease was not given back"
    );
    let jobs = shared.all_downloaded(14, Duration::from_secs(10));
    assert_eq!(env.verify_files(&jobs), 14);
    println!(
        "serve on PostgreSQL: pick-up after submit {pickups:?} ms; /healthz 503 {down:?} after the database stopped, 200 {up:?} after it started; SIGTERM to exit {took:?}; the stopped job resumed by `run` in {resume_took:?}"
    );
}
