//! Listing the live jobs of a store holding 10,000 of them beside 100,000 and beside 1,000,000
//! finished ones: the two times must stay within 2x of each other.
//!
//! `cargo bench -p reportflow-store --bench live_jobs`; the figures are kept in
//! `docs/benchmarks.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{account_spec, key, policy};
use criterion::{Criterion, criterion_group, criterion_main};
use reportflow_core::{Input, Millis};
use reportflow_store::{Durability, Store};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const LIVE: u64 = 10_000;

/// A store holding `LIVE` polling jobs spread evenly among `finished` cancelled ones, built
/// without flushing (then flushed once), closed and opened again: what an engine restarting on
/// an old store sees.
fn build(dir: &Path, finished: u64) -> Store {
    let started = Instant::now();
    let store = Store::open_with(dir, Durability::Manual).expect("open");
    let total = finished + LIVE;
    let every = total / LIVE;
    for n in 0..total {
        let job = store
            .insert(
                account_spec(n as u32),
                key(&format!("k{n}")),
                policy(),
                Millis(n),
            )
            .expect("insert")
            .job;
        let inputs = if n % every == 0 {
            vec![
                Input::CreateSending,
                Input::CreateAccepted {
                    location: format!("https://upstream.invalid/r/{n}"),
                },
                Input::StatusSeen {
                    progress: reportflow_core::Progress::NotReady,
                    raw: "Processing".to_string(),
                },
            ]
        } else {
            vec![Input::Cancel]
        };
        for (v, input) in inputs.into_iter().enumerate() {
            store
                .apply(job.id, v as u64, input, Millis(n + 1))
                .expect("apply");
        }
    }
    store.flush().expect("flush");
    let built = started.elapsed();
    drop(store);
    let opening = Instant::now();
    let store = Store::open(dir).expect("reopen");
    let opened = opening.elapsed();
    let counts = store.counts().expect("counts");
    assert_eq!(counts[&reportflow_core::StateName::Polling], LIVE);
    eprintln!(
        "built a store of {LIVE} live and {finished} finished jobs in {built:.1?}; reopened it in {opened:.1?}"
    );
    store
}

/// Times one `live_jobs` call, checking what it returns.
fn time_live_list(store: &Store) -> Duration {
    let started = Instant::now();
    let jobs = store.live_jobs().expect("live jobs");
    let took = started.elapsed();
    assert_eq!(jobs.len() as u64, LIVE);
    assert!(jobs.windows(2).all(|w| w[0].id < w[1].id));
    took
}

fn live_list(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let small = build(&tmp.path().join("small"), 100_000);
    let large = build(&tmp.path().join("large"), 1_000_000);

    // The two stores measured in turns, so that a busy machine slows both alike.
    let (mut a, mut b): (Vec<Duration>, Vec<Duration>) = (0..41)
        .map(|_| (time_live_list(&small), time_live_list(&large)))
        .unzip();
    a.sort();
    b.sort();
    let ratio = |x: Duration, y: Duration| y.as_secs_f64() / x.as_secs_f64();
    eprintln!(
        "live_jobs in turns, 41 runs each: 100k finished min {:.2?} median {:.2?}; 1M finished min {:.2?} median {:.2?}; ratio 1M/100k min {:.2} median {:.2} (must stay under 2)",
        a[0],
        a[20],
        b[0],
        b[20],
        ratio(a[0], b[0]),
        ratio(a[20], b[20])
    );

    let mut group = c.benchmark_group("live_jobs");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    for (name, store) in [
        ("10k_live_100k_finished", &small),
        ("10k_live_1m_finished", &large),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(store.live_jobs().expect("live")))
        });
    }
    group.finish();
}

criterion_group!(benches, live_list);
criterion_main!(benches);
