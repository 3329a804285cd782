//! Scenario 1, engine overhead: 2,000 account-report jobs (zero processing time, 4 KiB files,
//! 64 at once) through the engine with its durable store, against a raw hyper loop doing the
//! same requests (create, one status, download to a file) without a store. A second baseline
//! is the same raw loop with one `fsync` per file, the least a loop that promises its files
//! survive a crash must do. Engine and raw rounds alternate in one process against one
//! simulator (on its own runtime), so the machine's load hits them alike.

use crate::measure::cpu_time;
use crate::raw::Raw;
use crate::report::Figure;
use crate::setup::{self, engine_config, immediate_poll, scratch, submit_all};
use reportflow_core::{JobState, StateName};
use reportflow_driver::Engine;
use reportflow_sim::{SimConfig, SimHandle, SizeRange};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const JOBS: u64 = 2_000;
const CONCURRENCY: usize = 64;
const FILE_SIZE: u64 = 4 * 1024;
const ROUNDS: usize = 5;
/// Issue 16 asks for at most half the CPU per job of the engine it measured (787 us, when the
/// raw hyper loop took 182 us in the same run): as a ratio to the raw loop measured here,
/// 393.5 / 182.
const CPU_TARGET: f64 = 393.5 / 182.0;

/// One round of one contender: jobs per second, CPU per job (the whole process, the simulator
/// included), and for the engine the time its submit took.
struct Round {
    rate: f64,
    cpu_us: f64,
    submit_ms: f64,
}

/// Who runs the jobs.
#[derive(Clone, Copy, PartialEq)]
enum Contender {
    Engine,
    Raw,
    RawFsync,
}

pub fn run() -> Vec<Figure> {
    let sim = setup::sim(SimConfig {
        processing_time: Duration::ZERO,
        file_size: SizeRange::fixed(FILE_SIZE),
        ..SimConfig::default()
    });
    let runtime = setup::runtime();
    let order = [Contender::Engine, Contender::Raw, Contender::RawFsync];
    let mut rounds: Vec<Vec<Round>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        // A different contender goes first each round.
        for k in 0..order.len() {
            let i = (k + round) % order.len();
            let result = match order[i] {
                Contender::Engine => engine_round(&runtime, &sim, round == 0),
                Contender::Raw => raw_round(&runtime, &sim, false),
                Contender::RawFsync => raw_round(&runtime, &sim, true),
            };
            rounds[i].push(result);
        }
        eprintln!(
            "   round {round}: engine {:.0} jobs/s ({:.0} us CPU per job, submit {:.0} ms), raw {:.0} jobs/s ({:.0} us), raw + fsync {:.0} jobs/s ({:.0} us)",
            rounds[0][round].rate,
            rounds[0][round].cpu_us,
            rounds[0][round].submit_ms,
            rounds[1][round].rate,
            rounds[1][round].cpu_us,
            rounds[2][round].rate,
            rounds[2][round].cpu_us,
        );
    }
    let of = |i: usize, f: fn(&Round) -> f64| -> Vec<f64> { rounds[i].iter().map(f).collect() };
    let (engine, raw, fsync) = (of(0, |r| r.rate), of(1, |r| r.rate), of(2, |r| r.rate));
    let per_round: Vec<f64> = engine.iter().zip(&raw).map(|(e, r)| e / r).collect();
    let engine_rate = || {
        Figure::plain(
            "overhead",
            "engine, 2,000 jobs (submit + run)",
            "jobs/s",
            &engine,
        )
    };
    let durable = engine_rate().against("raw loop + fsync per file", &fsync);
    let durable_met = durable.ratio.is_some_and(|r| r >= 1.0);
    let headline = engine_rate().against("raw hyper loop", &raw);
    let met = headline.ratio.is_some_and(|r| r >= 0.35);
    let cpu = Figure::plain(
        "overhead",
        "engine, CPU per job",
        "us",
        &of(0, |r| r.cpu_us),
    )
    .against("raw hyper loop", &of(1, |r| r.cpu_us));
    let cpu_met = cpu.ratio.is_some_and(|r| r <= CPU_TARGET);
    vec![
        durable.target(">= 1.0 x raw + fsync (issue 16)", durable_met),
        headline.target(">= 0.35 x raw (issue 16; issue 8 asked 0.7)", met),
        Figure::plain(
            "overhead",
            "engine/raw, median of the rounds' ratios",
            "x",
            &per_round,
        ),
        cpu.target(
            "<= 2.16 x raw: half of issue 16's 787 us against 182 us",
            cpu_met,
        ),
        Figure::plain(
            "overhead",
            "engine, submitting 2,000 jobs",
            "ms",
            &of(0, |r| r.submit_ms),
        ),
    ]
}

/// Submits and runs the jobs; checks every file (against the simulator's on the first round).
fn engine_round(runtime: &tokio::runtime::Runtime, sim: &SimHandle, check_content: bool) -> Round {
    let dir = scratch();
    let config = engine_config(&dir, &sim.base_url(), CONCURRENCY, immediate_poll());
    let engine = runtime
        .block_on(Engine::open(config))
        .expect("the engine opens");
    let (started, cpu) = (Instant::now(), cpu_time());
    runtime.block_on(submit_all(&engine, 0..JOBS));
    let submit = started.elapsed();
    let summary = runtime
        .block_on(engine.run_until_idle())
        .expect("the run ends");
    let (took, cpu) = (started.elapsed(), cpu_time() - cpu);
    assert_eq!(summary.count(StateName::Downloaded), JOBS, "{summary:?}");
    for job in runtime.block_on(engine.jobs(None)).expect("jobs") {
        let JobState::Downloaded { upstream, file } = &job.state else {
            panic!("job {} ended {:?}", job.id, job.state.name());
        };
        let on_disk = std::fs::metadata(&file.path)
            .expect("the file exists")
            .len();
        assert_eq!((file.bytes, on_disk), (FILE_SIZE, FILE_SIZE));
        if check_content {
            let expected = sim.expected_file(&upstream.location).expect("known");
            assert_eq!(file.sha256, expected.sha256);
        }
    }
    Round {
        rate: JOBS as f64 / took.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / JOBS as f64,
        submit_ms: submit.as_secs_f64() * 1e3,
    }
}

/// The same requests without a store: `CONCURRENCY` workers take job numbers from a counter.
fn raw_round(runtime: &tokio::runtime::Runtime, sim: &SimHandle, fsync: bool) -> Round {
    let out = scratch();
    let raw = Arc::new(Raw::new(&sim.base_url(), CONCURRENCY));
    let next = Arc::new(AtomicU64::new(0));
    let (started, cpu) = (Instant::now(), cpu_time());
    runtime.block_on(async {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (raw, next, out) = (Arc::clone(&raw), Arc::clone(&next), out.clone());
            workers.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= JOBS {
                        return;
                    }
                    let location = raw.create(n).await;
                    assert!(raw.ready(&location).await, "ready at once");
                    let path = out.join(format!("{n}.csv"));
                    assert_eq!(raw.download(&location, &path, fsync).await, FILE_SIZE);
                }
            });
        }
        while let Some(done) = workers.join_next().await {
            done.expect("a raw worker");
        }
    });
    let (took, cpu) = (started.elapsed(), cpu_time() - cpu);
    Round {
        rate: JOBS as f64 / took.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / JOBS as f64,
        submit_ms: 0.0,
    }
}
