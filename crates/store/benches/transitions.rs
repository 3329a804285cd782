//! Transitions per second: one job's whole life stored step by step, flushing at the design's
//! durability points (the engine's setting), at every step, and never (a reference).
//!
//! `cargo bench -p reportflow-store --bench transitions`; the figures are kept in
//! `docs/benchmarks.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{account_spec, key, policy};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reportflow_core::{Input, Millis};
use reportflow_store::{Durability, Store};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A job's whole life as the engine drives it: submit, create (2 steps), five not-ready polls,
/// ready, downloaded. Returns how many steps were stored (the submit included).
fn lifecycle(store: &Store, n: u64) -> u64 {
    let job = store
        .insert(
            account_spec(n as u32),
            key(&format!("job-{n}")),
            policy(),
            Millis(n),
        )
        .expect("insert")
        .job;
    let mut inputs = vec![
        Input::CreateSending,
        Input::CreateAccepted {
            location: format!("https://upstream.invalid/reports/2/instances/{n}"),
        },
    ];
    for _ in 0..5 {
        inputs.push(Input::StatusSeen {
            progress: reportflow_core::Progress::NotReady,
            raw: "Processing".to_string(),
        });
    }
    inputs.push(Input::StatusSeen {
        progress: reportflow_core::Progress::Ready,
        raw: "Ready".to_string(),
    });
    inputs.push(Input::FileStored {
        file: common::file(n),
    });
    let mut version = job.version;
    let steps = inputs.len() as u64 + 1;
    for (i, input) in inputs.into_iter().enumerate() {
        let next = store
            .apply(job.id, version, input, Millis(n + i as u64 + 1))
            .expect("apply");
        version = next.version;
    }
    steps
}

/// The steps of one lifecycle.
const LIFECYCLE_STEPS: u64 = 10;

const MODES: [(&str, Durability); 3] = [
    ("flush_at_design_points", Durability::DesignPoints),
    ("flush_every_step", Durability::EveryChange),
    ("no_flush", Durability::Manual),
];

/// Lifecycles on the three stores in turns (so that a busy machine slows all alike); prints
/// each mode's median steps per second.
fn in_turns(stores: &[Store], first: u64) {
    const ROUNDS: u64 = 300;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); stores.len()];
    for round in 0..ROUNDS {
        for (i, store) in stores.iter().enumerate() {
            let started = Instant::now();
            lifecycle(store, first + round);
            times[i].push(started.elapsed());
        }
    }
    for ((name, _), times) in MODES.iter().zip(&mut times) {
        times.sort();
        let median = times[times.len() / 2];
        eprintln!(
            "in turns, {ROUNDS} lifecycles: {name}: median {median:.2?} per lifecycle, {:.0} steps/s",
            LIFECYCLE_STEPS as f64 / median.as_secs_f64()
        );
    }
}

fn transitions(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let stores: Vec<Store> = MODES
        .iter()
        .map(|(name, durability)| {
            Store::open_with(&tmp.path().join(name), *durability).expect("open")
        })
        .collect();
    in_turns(&stores, 1);

    let mut group = c.benchmark_group("transitions");
    group.throughput(Throughput::Elements(LIFECYCLE_STEPS));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    for ((name, _), store) in MODES.iter().zip(&stores) {
        let mut n = 1_000_000;
        group.bench_function(*name, |b| {
            b.iter(|| {
                n += 1;
                assert_eq!(black_box(lifecycle(store, n)), LIFECYCLE_STEPS);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transitions);
criterion_main!(benches);
