//! Scenario 5, poll efficiency: how soon a finished report is noticed, and how many status
//! requests that takes, with the default schedule (1 s, x1.5, 30 s cap, ±10 % jitter) against a
//! fixed 5 s poll. Processing times are drawn log-uniformly between 1 s and 600 s. The schedule is
//! a pure function (`PollPolicy::delay_ms`), so the engine's timing is replayed exactly, at full
//! scale and without sleeping: poll `k` of a job comes `delay(k)` after poll `k - 1` (the first
//! `delay(0)` after the create), and a report finished at `p` is seen at the first poll at or
//! after `p` (request latency left out).

use crate::report::Figure;
use reportflow_core::{JobId, PollPolicy};

const JOBS: u64 = 20_000;
const MIN_MS: f64 = 1_000.0;
const MAX_MS: f64 = 600_000.0;

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
    let fixed = replay(
        &PollPolicy {
            first_delay_ms: 5_000,
            growth_percent: 100,
            cap_ms: 5_000,
            jitter_percent: 0,
            ..PollPolicy::default()
        },
        &times,
    );
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
    figures
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
    let mut outcome = Outcome {
        relative: Vec::new(),
        delay_s: Vec::new(),
        polls: Vec::new(),
    };
    for (n, &ready_at) in times.iter().enumerate() {
        let job = JobId(n as u64 + 1);
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
