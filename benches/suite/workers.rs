//! Scenario 6, workers: `reportflow run` worker processes sharing one PostgreSQL store (a
//! throwaway server this process starts) against the simulator in this process, side by side
//! with one `reportflow run` on a sled store, on the same jobs.
//!
//! - **Latency-bound**: jobs whose report takes 2 s upstream (polled after 1 s and 2.5 s, so
//!   each job is held about 2.5 s), 16 at once per worker: jobs/s of 1, 2 and 4 workers, and of
//!   one sled process. Adding workers adds capacity as adding hosts would; the target is 4
//!   workers at least 3.5 times one.
//! - **Overhead**: the zero-processing workload of the overhead scenario (4 KiB files), one
//!   worker at 64 at once against one sled process: the per-job cost of the shared store.
//! - **Submit latency**: p50 and p99 of one submit at a time from another process (the engine
//!   API: `Jobs::open` once, then `submit`) while 4 workers run; target p99 < 50 ms.
//! - **Takeover**: a worker holding jobs is killed with SIGKILL; the time until every one of
//!   its jobs has a step by another worker; target within the lease plus one claim interval.
//!
//! A job's end is its recorded time (`updated_at`), so a worker's exit (it notices that no job
//! is live at its next claim) does not count.

use crate::measure::{ChildRun, num, tell};
use crate::report::Figure;
use crate::setup::{self, PASSWORD, USERNAME, scratch, spec};
use reportflow_core::{JobState, Millis, PollPolicy, StateName};
use reportflow_driver::{EngineConfig, Jobs};
use reportflow_sim::{SimConfig, SimHandle, SizeRange};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Jobs of the latency-bound workload.
const LATENCY_JOBS: u64 = 400;
/// How long a report takes upstream in the latency-bound workload.
const PROCESSING: Duration = Duration::from_secs(2);
/// Jobs a worker works on at once in the latency-bound workload.
const PER_WORKER: usize = 16;
/// Jobs of the zero-processing workload.
const OVERHEAD_JOBS: u64 = 2_000;
/// Submits measured while 4 workers run, one at a time.
const SUBMITS: u64 = 200;
/// The lease of the takeover round.
const TAKEOVER_LEASE_SECS: u64 = 5;

pub fn run() -> Vec<Figure> {
    let runtime = setup::runtime();
    let mut figures = Vec::new();
    figures.extend(latency_bound(&runtime));
    figures.extend(overhead(&runtime));
    figures.push(takeover(&runtime));
    figures
}

/// Now, as job times count.
fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A fresh database of this process's throwaway server.
fn database() -> String {
    reportflow_testpg::server()
        .and_then(|server| server.database())
        .expect("a PostgreSQL test server (install the `postgresql` package)")
        .url
}

/// Submits jobs `range` into `store` with `poll`, through the engine API.
fn submit(
    runtime: &tokio::runtime::Runtime,
    store: &str,
    range: std::ops::Range<u64>,
    poll: PollPolicy,
) {
    let mut config = EngineConfig::new(store, scratch(), "http://127.0.0.1:9/api");
    config.poll = poll;
    runtime.block_on(async {
        let jobs = Jobs::open(&config).await.expect("the store opens");
        let specs: Vec<_> = range.map(|n| (spec(n), None)).collect();
        for chunk in specs.chunks(1_000) {
            jobs.submit_many(chunk.to_vec()).await.expect("submit");
        }
    });
}

/// `reportflow run` on `store` against `sim`, `concurrency` at once, into a fresh folder.
fn worker(sim: &SimHandle, store: &str, concurrency: usize, lease_secs: u64) -> Child {
    let out = scratch();
    Command::new(env!("CARGO_BIN_EXE_reportflow"))
        .args(["--quiet", "--store", store, "run", "--out"])
        .arg(&out)
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--per-account", "4096"])
        .args(["--lease", &lease_secs.to_string()])
        .env("REPORTFLOW_BASE_URL", sim.base_url())
        .env("BANDWIDTH_USERNAME", USERNAME)
        .env("BANDWIDTH_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start reportflow run")
}

/// Waits for the workers to end (each exits when no job is live) and checks the jobs: every
/// one downloaded. Returns when the last one ended (epoch ms) and how many there are.
fn finish(runtime: &tokio::runtime::Runtime, store: &str, workers: Vec<Child>) -> (u64, u64) {
    for mut worker in workers {
        let status = worker.wait().expect("wait for a worker");
        assert!(status.success(), "a worker failed: {status}");
    }
    let config = EngineConfig::new(store, scratch(), "http://127.0.0.1:9/api");
    runtime.block_on(async {
        let jobs = Jobs::open(&config).await.expect("the store opens");
        let all = jobs.jobs(None).await.expect("jobs");
        let mut last = 0;
        for job in &all {
            assert!(
                matches!(job.state, JobState::Downloaded { .. }),
                "job {} ended {:?}",
                job.id,
                job.state.name()
            );
            last = last.max(job.updated_at.0);
        }
        (last, all.len() as u64)
    })
}

/// One round: `workers` processes on a fresh store (`None`: one process on sled) over `jobs`
/// jobs at `concurrency` each; jobs per second from the start to the last job's end.
fn round(
    runtime: &tokio::runtime::Runtime,
    sim: &SimHandle,
    workers: Option<usize>,
    jobs: u64,
    concurrency: usize,
) -> f64 {
    let store = match workers {
        Some(_) => database(),
        None => scratch().join("store").display().to_string(),
    };
    submit(runtime, &store, 0..jobs, PollPolicy::default());
    let started = epoch_ms();
    let children = (0..workers.unwrap_or(1))
        .map(|_| worker(sim, &store, concurrency, 60))
        .collect();
    let (last, n) = finish(runtime, &store, children);
    assert_eq!(n, jobs);
    jobs as f64 / ((last - started) as f64 / 1e3)
}

fn latency_bound(runtime: &tokio::runtime::Runtime) -> Vec<Figure> {
    let sim = setup::sim(SimConfig {
        processing_time: PROCESSING,
        billing_processing_time: PROCESSING,
        processing_jitter: Duration::ZERO,
        file_size: SizeRange::fixed(4 * 1024),
        ..SimConfig::default()
    });
    let mut rates = Vec::new();
    for workers in [Some(1), Some(2), Some(4), None] {
        let began = Instant::now();
        let rate = round(runtime, &sim, workers, LATENCY_JOBS, PER_WORKER);
        eprintln!(
            "   latency-bound, {}: {rate:.1} jobs/s ({:.0} s)",
            match workers {
                Some(n) => format!("{n} PostgreSQL worker(s)"),
                None => "one sled process".to_string(),
            },
            began.elapsed().as_secs_f64()
        );
        rates.push(rate);
    }
    let submits = submit_latency(runtime, &sim);
    let name = |n: usize| {
        format!(
            "latency-bound, {LATENCY_JOBS} jobs of 2 s, {PER_WORKER} per worker: {n} PostgreSQL worker(s)"
        )
    };
    let four = Figure::plain("workers", &name(4), "jobs/s", &rates[2..3])
        .against("1 PostgreSQL worker", &rates[0..1]);
    let met = four.ratio.is_some_and(|r| r >= 3.5);
    vec![
        Figure::plain("workers", &name(1), "jobs/s", &rates[0..1])
            .against("one sled process, same jobs", &rates[3..4]),
        Figure::plain("workers", &name(2), "jobs/s", &rates[1..2])
            .against("1 PostgreSQL worker", &rates[0..1]),
        four.target("4 workers >= 3.5 x 1 worker", met),
        submits[0].clone(),
        submits[1].clone(),
    ]
}

/// Submit latency from another process while 4 workers run on the latency-bound workload.
fn submit_latency(runtime: &tokio::runtime::Runtime, sim: &SimHandle) -> [Figure; 2] {
    let store = database();
    submit(runtime, &store, 0..LATENCY_JOBS / 2, PollPolicy::default());
    let workers: Vec<Child> = (0..4)
        .map(|_| worker(sim, &store, PER_WORKER, 60))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut child = ChildRun::start("submitter", &[store.clone(), SUBMITS.to_string()]);
    let done = child.expect("submitted");
    child.wait();
    finish(runtime, &store, workers);
    let (p50, p99) = (num(&done, "p50_ms"), num(&done, "p99_ms"));
    eprintln!("   submit latency while 4 workers run: p50 {p50:.1} ms, p99 {p99:.1} ms");
    [
        Figure::plain(
            "workers",
            "submit latency from another process while 4 workers run, p50",
            "ms",
            &[p50],
        ),
        Figure::plain(
            "workers",
            "submit latency from another process while 4 workers run, p99",
            "ms",
            &[p99],
        )
        .target("< 50 ms", p99 < 50.0),
    ]
}

/// Child: opens the store at `<url>` once, submits `<n>` jobs one at a time (20 ms apart) and
/// reports the latencies' p50 and p99.
pub fn submitter_child(args: &[String]) {
    let (url, n) = (&args[0], args[1].parse::<u64>().expect("a count"));
    let runtime = setup::runtime();
    let config = EngineConfig::new(url.as_str(), scratch(), "http://127.0.0.1:9/api");
    let mut took: Vec<f64> = runtime.block_on(async {
        let jobs = Jobs::open(&config).await.expect("the store opens");
        let mut took = Vec::new();
        for i in 0..n {
            let started = Instant::now();
            let submitted = jobs
                .submit(spec(1_000_000 + i), None)
                .await
                .expect("a submit succeeds");
            took.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(submitted.created);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        took
    });
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
    tell(json!({ "event": "submitted", "p50_ms": at(0.5), "p99_ms": at(0.99) }));
}

/// The zero-processing workload: one PostgreSQL worker against one sled process.
fn overhead(runtime: &tokio::runtime::Runtime) -> Vec<Figure> {
    let sim = setup::sim(SimConfig {
        processing_time: Duration::ZERO,
        billing_processing_time: Duration::ZERO,
        file_size: SizeRange::fixed(4 * 1024),
        ..SimConfig::default()
    });
    let mut pg = Vec::new();
    let mut sled = Vec::new();
    for r in 0..3 {
        let (p, s) = if r % 2 == 0 {
            let p = round_immediate(runtime, &sim, true);
            (p, round_immediate(runtime, &sim, false))
        } else {
            let s = round_immediate(runtime, &sim, false);
            (round_immediate(runtime, &sim, true), s)
        };
        eprintln!(
            "   zero processing, round {r}: PostgreSQL worker {p:.0} jobs/s, sled {s:.0} jobs/s"
        );
        pg.push(p);
        sled.push(s);
    }
    let per_job = |rates: &[f64]| rates.iter().map(|r| 1e3 / r).collect::<Vec<f64>>();
    vec![
        Figure::plain(
            "workers",
            "zero processing, 2,000 jobs, 64 at once: one PostgreSQL worker",
            "jobs/s",
            &pg,
        )
        .against("one sled process", &sled),
        Figure::plain(
            "workers",
            "zero processing: time per job, one PostgreSQL worker",
            "ms",
            &per_job(&pg),
        )
        .against("one sled process", &per_job(&sled)),
    ]
}

/// One zero-processing round: jobs per second, polls asked for at once.
fn round_immediate(runtime: &tokio::runtime::Runtime, sim: &SimHandle, postgres: bool) -> f64 {
    let store = if postgres {
        database()
    } else {
        scratch().join("store").display().to_string()
    };
    submit(runtime, &store, 0..OVERHEAD_JOBS, setup::immediate_poll());
    let started = epoch_ms();
    let (last, n) = finish(runtime, &store, vec![worker(sim, &store, 64, 60)]);
    assert_eq!(n, OVERHEAD_JOBS);
    OVERHEAD_JOBS as f64 / ((last - started) as f64 / 1e3)
}

/// A worker holding jobs is killed: the time until every job it held has a step by another.
fn takeover(runtime: &tokio::runtime::Runtime) -> Figure {
    let sim = setup::sim(SimConfig {
        processing_time: Duration::from_secs(3_600),
        billing_processing_time: Duration::from_secs(3_600),
        file_size: SizeRange::fixed(4 * 1024),
        ..SimConfig::default()
    });
    let store = database();
    // Polls every second: each job stays held by the worker that has it.
    let every_second = PollPolicy {
        first_delay_ms: 1_000,
        growth_percent: 100,
        cap_ms: 1_000,
        jitter_percent: 0,
        deadline_ms: 3_600_000,
    };
    // The victim takes every job; the other worker, started once it has, finds none free
    // until the victim's leases expire.
    submit(runtime, &store, 0..16, every_second);
    let mut victim = worker(&sim, &store, 16, TAKEOVER_LEASE_SECS);
    std::thread::sleep(Duration::from_secs(3));
    let mut other = worker(&sim, &store, 16, TAKEOVER_LEASE_SECS);
    let victim_tag = format!("-{}-", victim.id());
    let config = EngineConfig::new(store.as_str(), scratch(), "http://127.0.0.1:9/api");
    let took = runtime.block_on(async {
        let jobs = Jobs::open(&config).await.expect("the store opens");
        // The jobs whose last step is the victim's.
        let held_by_victim = || async {
            let mut held = Vec::new();
            for job in jobs.jobs(Some(StateName::Polling)).await.expect("jobs") {
                let history = jobs.history_with_leases(job.id).await.expect("history");
                let last = history.iter().rev().find_map(|s| s.lease.clone());
                if last.is_some_and(|(w, _)| w.as_str().contains(&victim_tag)) {
                    held.push(job.id);
                }
            }
            held
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let held = held_by_victim().await;
        assert!(held.len() >= 8, "the victim holds jobs: {held:?}");
        let killed_at = Millis(epoch_ms());
        let killed = Instant::now();
        victim.kill().expect("SIGKILL");
        victim.wait().expect("reap");
        let mut waiting = held.clone();
        while !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut still = Vec::new();
            for id in waiting {
                let history = jobs.history_with_leases(id).await.expect("history");
                let moved = history.iter().any(|s| {
                    s.transition.at >= killed_at
                        && s.lease
                            .as_ref()
                            .is_some_and(|(w, _)| !w.as_str().contains(&victim_tag))
                });
                if !moved {
                    still.push(id);
                }
            }
            waiting = still;
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "the jobs never moved"
            );
        }
        killed.elapsed()
    });
    let _ = other.kill();
    let _ = other.wait();
    let lease = Duration::from_secs(TAKEOVER_LEASE_SECS);
    // The claim interval of that lease (a tenth of it, from 100 ms to 5 s).
    let claim = (lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let took_s = took.as_secs_f64();
    eprintln!(
        "   takeover: every job of the killed worker moved again {took_s:.2} s after the kill (lease {} s, claim interval {} ms)",
        lease.as_secs(),
        claim.as_millis()
    );
    let bound = (lease + claim).as_secs_f64();
    Figure::plain(
        "workers",
        "takeover: SIGKILL of a worker to every one of its jobs stepped by another (5 s lease)",
        "s",
        &[took_s],
    )
    .target(
        &format!("<= lease + one claim interval ({bound:.1} s)"),
        took_s <= bound,
    )
}
