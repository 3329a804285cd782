//! Scenario 3, scale: 100,000 jobs in flight at once. The simulator (in this process) takes
//! ten minutes to build a report, and the engine (a child process) waits `FIRST_POLL` before a
//! job's first status request, so once every job is created upstream all of them are waiting.
//!
//! Measured in the child: the time to submit the 100,000 jobs, the time until all are created,
//! its resident memory then (per waiting job: the growth since the engine was opened, and the
//! peak), and, once every job has been polled once, its CPU time per status request.

use crate::measure::{ChildRun, cpu_time, hwm_kib, num, rss_kib, tell};
use crate::report::Figure;
use crate::setup::{self, engine_config, scratch, submit_all};
use reportflow_core::{PollPolicy, StateName};
use reportflow_driver::Engine;
use reportflow_sim::{Endpoint, SimConfig, SizeRange};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const JOBS: u64 = 100_000;
const CONCURRENCY: usize = 64;
/// The delay before a job's first status request: longer than creating every job takes (about
/// 21 s on the 2-core machine of `docs/benchmarks.md`; the first polls come from 45 s on, with
/// the schedule's jitter). The scenario fails, asking for more, if a poll comes first.
const FIRST_POLL: Duration = Duration::from_secs(50);

pub fn run() -> Vec<Figure> {
    let sim = setup::sim(SimConfig {
        processing_time: Duration::from_secs(600),
        file_size: SizeRange::fixed(4096),
        ..SimConfig::default()
    });
    let dir = scratch();
    let mut child = ChildRun::start(
        "scale",
        &[
            sim.base_url(),
            dir.to_str().expect("UTF-8").to_string(),
            JOBS.to_string(),
        ],
    );
    let waiting = child.expect("waiting");
    let stats = sim.stats();
    assert_eq!(stats.total_instance_creations(), JOBS);
    assert_eq!(
        stats.requests_to(Endpoint::Status),
        0,
        "a job was polled before every job was created: raise FIRST_POLL"
    );
    let polled = child.expect("polled");
    child.wait();
    assert!(sim.stats().requests_to(Endpoint::Status) >= JOBS);
    let per_job =
        |field: &str| (num(&waiting, field) - num(&waiting, "rss0_kib")) * 1024.0 / JOBS as f64;
    let peak = per_job("hwm_kib");
    vec![
        Figure::plain(
            "scale",
            "peak RSS per waiting job (100k waiting; growth since opening)",
            "bytes",
            &[peak],
        )
        .target("<= 2 KiB", peak <= 2048.0),
        Figure::plain(
            "scale",
            "RSS per waiting job once all are created",
            "bytes",
            &[per_job("rss_kib")],
        ),
        Figure::plain(
            "scale",
            "submitting 100,000 jobs",
            "s",
            &[num(&waiting, "submit_s")],
        ),
        Figure::plain(
            "scale",
            "creating 100,000 jobs upstream (run start to all created)",
            "s",
            &[num(&waiting, "create_s")],
        ),
        Figure::plain(
            "scale",
            "CPU per status request (100k waiting)",
            "us",
            &[num(&polled, "cpu_per_poll_us")],
        ),
        Figure::plain(
            "scale",
            "engine RSS after every job was polled once",
            "MiB",
            &[num(&polled, "rss_kib") / 1024.0],
        ),
    ]
}

/// How many jobs are in `state` now.
fn count(runtime: &tokio::runtime::Runtime, engine: &Engine, state: StateName) -> u64 {
    runtime.block_on(engine.counts()).expect("counts")[&state]
}

/// Waits until `done` holds, checking every 50 ms.
fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Child: an engine with `<jobs>` jobs against the simulator at `<base url>`.
pub fn child(args: &[String]) {
    let [base, dir, jobs] = args else {
        panic!("scale needs <base url> <dir> <jobs>")
    };
    let jobs: u64 = jobs.parse().expect("a number of jobs");
    let runtime = setup::runtime();
    let poll = PollPolicy {
        first_delay_ms: FIRST_POLL.as_millis() as u64,
        cap_ms: 30 * 60 * 1000,
        ..PollPolicy::default()
    };
    let config = engine_config(&PathBuf::from(dir), base, CONCURRENCY, poll);
    let engine = Arc::new(
        runtime
            .block_on(Engine::open(config))
            .expect("the engine opens"),
    );
    let rss0 = rss_kib();
    let started = Instant::now();
    runtime.block_on(submit_all(&engine, 0..jobs));
    let submit_s = started.elapsed().as_secs_f64();
    let running = Arc::clone(&engine);
    let run = runtime.spawn(async move { running.run_until_idle().await });
    let started = Instant::now();
    until(|| count(&runtime, &engine, StateName::Created) == jobs);
    let create_s = started.elapsed().as_secs_f64();
    assert_eq!(
        count(&runtime, &engine, StateName::Polling),
        0,
        "polled too early"
    );
    tell(json!({
        "event": "waiting",
        "rss0_kib": rss0,
        "rss_kib": rss_kib(),
        "hwm_kib": hwm_kib(),
        "submit_s": submit_s,
        "create_s": create_s,
    }));
    // Every job's first status request comes FIRST_POLL (within its jitter) after its create.
    until(|| count(&runtime, &engine, StateName::Polling) > 0);
    let cpu = cpu_time();
    until(|| count(&runtime, &engine, StateName::Polling) == jobs);
    let cpu = cpu_time() - cpu;
    tell(json!({
        "event": "polled",
        "cpu_per_poll_us": cpu.as_secs_f64() * 1e6 / jobs as f64,
        "rss_kib": rss_kib(),
    }));
    run.abort();
    // Not waiting for the reports to be ready: the parent has its figures.
    std::process::exit(0);
}
