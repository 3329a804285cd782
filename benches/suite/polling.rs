//! Scenario 5, poll efficiency: how soon a finished report is noticed, and how many status
//! requests that takes, with the default schedule (1 s, x1.5, 30 s cap, ±10 % jitter) against a
//! fixed 5 s poll. Processing times are drawn log-uniformly between 1 s and 600 s. The schedule is
//! a pure function (`PollPolicy::delay_ms`), so the engine's timing is replayed exactly, at full
//! scale and without sleeping: poll `k` of a job comes `delay(k)` after poll `k - 1` (the first
//! `delay(0)` after the create), and a report finished at `p` is seen at the first poll at or
//! after `p` (request latency left out).
//!
//! Then the real engine does it, against the simulator at 1/50 of the time (processing 20 ms to
//! 12 s, the schedules scaled alike): 300 jobs per schedule, each job's detection delay taken
//! from the simulator's ready time to the engine's `Ready` event, its polls from its history.
//! The engine's figures are compared with the replay of the same processing times, which they
//! should match up to request latency.

use crate::report::Figure;
use crate::setup::{self, engine_config, scratch, submit_all};
use reportflow_core::{JobId, JobState, PollPolicy, StateName};
use reportflow_driver::{Engine, Event};
use reportflow_sim::{SimConfig, SizeRange};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const JOBS: u64 = 20_000;
const MIN_MS: f64 = 1_000.0;
const MAX_MS: f64 = 600_000.0;
/// The engine runs at 1/`SCALE` of the times.
const SCALE: u64 = 50;
const ENGINE_JOBS: u64 = 300;

/// The fixed 5 s poll.
fn fixed_poll() -> PollPolicy {
    PollPolicy {
        first_delay_ms: 5_000,
        growth_percent: 100,
        cap_ms: 5_000,
        jitter_percent: 0,
        ..PollPolicy::default()
    }
}

/// `policy` with its delays divided by [`SCALE`].
fn scaled(policy: &PollPolicy) -> PollPolicy {
    PollPolicy {
        first_delay_ms: policy.first_delay_ms / SCALE,
        cap_ms: policy.cap_ms / SCALE,
        ..*policy
    }
}

/// How one policy did over the sampled jobs.
struct Outcome {
    /// Detection delay divided by processing time, per job.
    relative: Vec<f64>,
    /// Detection delay in seconds, per job.
    delay_s: Vec<f64>,
    /// Status requests per job (the last one sees it ready).
    polls: Vec<f64>,
}

pub fn run() -> Vec<Figure> {
    let times = processing_times();
    let default = replay(&PollPolicy::default(), &times);
    let fixed = replay(&fixed_poll(), &times);
    for (name, lo, hi) in [
        ("1-10 s", 1e3, 1e4),
        ("10-60 s", 1e4, 6e4),
        ("60-600 s", 6e4, 6e5),
    ] {
        let pick = |o: &Outcome, f: fn(&Outcome) -> &Vec<f64>| -> f64 {
            let values: Vec<f64> = times
                .iter()
                .zip(f(o))
                .filter(|(t, _)| (lo..hi).contains(*t))
                .map(|(_, v)| *v)
                .collect();
            mean(&values)
        };
        eprintln!(
            "   processing {name}: default: delay {:.0} % of processing, {:.1} polls; fixed 5 s: {:.0} %, {:.1} polls",
            100.0 * pick(&default, |o| &o.relative),
            pick(&default, |o| &o.polls),
            100.0 * pick(&fixed, |o| &o.relative),
            pick(&fixed, |o| &o.polls),
        );
    }
    type Pick = fn(&Outcome) -> &Vec<f64>;
    type Statistic = fn(&[f64]) -> f64;
    let measures: [(&str, &'static str, Pick); 3] = [
        ("detection delay / processing time", "x", |o| &o.relative),
        ("detection delay", "s", |o| &o.delay_s),
        ("status requests per job", "polls", |o| &o.polls),
    ];
    let statistics: [(&str, Statistic); 2] = [("mean", mean), ("p95", p95)];
    let mut figures = Vec::new();
    for (what, unit, pick) in measures {
        for (statistic, f) in statistics {
            let name = format!("default schedule: {statistic} {what}");
            figures.push(
                Figure::plain("polling", &name, unit, &[f(pick(&default))])
                    .against("fixed 5 s poll", &[f(pick(&fixed))]),
            );
        }
    }
    figures.extend(engine_figures());
    figures
}

/// The real engine with each schedule, against the replay of the same processing times.
fn engine_figures() -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut runs = Vec::new();
    for (name, policy) in [
        ("default schedule", PollPolicy::default()),
        ("fixed 5 s poll", fixed_poll()),
    ] {
        let (measured, times) = engine_run(&scaled(&policy));
        let predicted = replay_jobs(&policy, &times);
        eprintln!(
            "   engine at 1/{SCALE} time, {name}: delay {:.0} % of processing (replay {:.0} %), {:.2} polls (replay {:.2})",
            100.0 * mean(&measured.relative),
            100.0 * mean(&predicted.relative),
            mean(&measured.polls),
            mean(&predicted.polls),
        );
        figures.extend(pair(name, &measured, "replay of the same jobs", &predicted));
        runs.push(measured);
    }
    figures.extend(pair(
        "default schedule",
        &runs[0],
        "engine, fixed 5 s poll",
        &runs[1],
    ));
    figures
}

/// The engine's mean relative delay and polls per job under `name`, against `baseline`.
fn pair(name: &str, measured: &Outcome, baseline: &str, against: &Outcome) -> [Figure; 2] {
    let label = |what: &str| format!("engine at 1/{SCALE} time, {name}: mean {what}");
    [
        Figure::plain(
            "polling",
            &label("detection delay / processing time"),
            "x",
            &[mean(&measured.relative)],
        )
        .against(baseline, &[mean(&against.relative)]),
        Figure::plain(
            "polling",
            &label("status requests per job"),
            "polls",
            &[mean(&measured.polls)],
        )
        .against(baseline, &[mean(&against.polls)]),
    ]
}

/// Runs `ENGINE_JOBS` jobs whose reports take 1/`SCALE` of 1 s to 600 s (uniformly, as the
/// simulator draws them) under `policy`. Returns what the engine did, in full-scale units, and
/// each job's processing time at full scale (ms) with its id, for the replay.
fn engine_run(policy: &PollPolicy) -> (Outcome, Vec<(JobId, f64)>) {
    let min = Duration::from_millis(MIN_MS as u64 / SCALE);
    let sim = setup::sim(SimConfig {
        processing_time: min,
        processing_jitter: Duration::from_millis(MAX_MS as u64 / SCALE) - min,
        file_size: SizeRange::fixed(1024),
        ..SimConfig::default()
    });
    let runtime = setup::runtime();
    let dir = scratch();
    let config = engine_config(&dir, &sim.base_url(), ENGINE_JOBS as usize, policy.clone());
    let engine = runtime
        .block_on(Engine::open(config))
        .expect("the engine opens");
    runtime.block_on(submit_all(&engine, 0..ENGINE_JOBS));
    let mut events = engine.events();
    let seen: HashMap<JobId, Instant> = runtime.block_on(async {
        let mut seen = HashMap::new();
        let run = engine.run_until_idle();
        tokio::pin!(run);
        loop {
            tokio::select! {
                summary = &mut run => {
                    let summary = summary.expect("the run ends");
                    assert_eq!(summary.count(StateName::Downloaded), ENGINE_JOBS, "{summary:?}");
                    break;
                }
                event = events.recv() => match event {
                    Ok(Event::Changed { id, to: StateName::Ready, .. }) => {
                        seen.insert(id, Instant::now());
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the bench lost engine events: {e}"),
                },
            }
        }
        seen
    });
    let mut outcome = Outcome {
        relative: Vec::new(),
        delay_s: Vec::new(),
        polls: Vec::new(),
    };
    let mut times = Vec::new();
    for job in runtime.block_on(engine.jobs(None)).expect("the jobs") {
        let JobState::Downloaded { upstream, .. } = &job.state else {
            panic!("job {} ended {:?}", job.id, job.state.name());
        };
        let (created, ready) = sim
            .instance_timing(&upstream.location)
            .expect("the simulator knows the instance");
        let noticed = seen[&job.id];
        let processing = (ready - created).as_secs_f64() * 1e3;
        let delay = noticed.saturating_duration_since(ready).as_secs_f64() * 1e3;
        let polls = runtime
            .block_on(engine.history(job.id))
            .expect("the history")
            .iter()
            .filter(|t| t.input.starts_with("status-seen"))
            .count();
        outcome.relative.push(delay / processing);
        outcome.delay_s.push(delay * SCALE as f64 / 1e3);
        outcome.polls.push(polls as f64);
        times.push((job.id, processing * SCALE as f64));
    }
    sim.shutdown();
    (outcome, times)
}

/// `JOBS` processing times in milliseconds, log-uniform in `MIN_MS..MAX_MS`, from a fixed seed.
fn processing_times() -> Vec<f64> {
    let mut state = 0x5eed_u64;
    (0..JOBS)
        .map(|_| {
            // SplitMix64: deterministic and good enough for sampling.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let unit = (z ^ (z >> 31)) as f64 / u64::MAX as f64;
            (MIN_MS.ln() + unit * (MAX_MS.ln() - MIN_MS.ln())).exp()
        })
        .collect()
}

/// Replays `policy` for jobs 1, 2, ... whose reports take `times` milliseconds.
fn replay(policy: &PollPolicy, times: &[f64]) -> Outcome {
    let jobs: Vec<(JobId, f64)> = times
        .iter()
        .enumerate()
        .map(|(n, &t)| (JobId(n as u64 + 1), t))
        .collect();
    replay_jobs(policy, &jobs)
}

/// Replays `policy` for these jobs, whose reports take the given milliseconds.
fn replay_jobs(policy: &PollPolicy, jobs: &[(JobId, f64)]) -> Outcome {
    let mut outcome = Outcome {
        relative: Vec::new(),
        delay_s: Vec::new(),
        polls: Vec::new(),
    };
    for &(job, ready_at) in jobs {
        let mut poll = 0u32;
        let mut at = policy.delay_ms(job, 0) as f64;
        while at < ready_at {
            poll += 1;
            at += policy.delay_ms(job, poll) as f64;
        }
        let delay = at - ready_at;
        outcome.relative.push(delay / ready_at);
        outcome.delay_s.push(delay / 1000.0);
        outcome.polls.push(f64::from(poll + 1));
    }
    outcome
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn p95(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 * 0.95) as usize).min(sorted.len() - 1)]
}
