//! What the PostgreSQL store's operations cost, against a bare round trip (`SELECT 1` on a
//! connection of its own) to the same throwaway server, measured in the same run: a submit
//! batch, a claim (with the release that makes the jobs claimable again), one leased step, a
//! batch of 32 leased steps, a read, `next_due`; with 20,000 live jobs in the table.
//!
//! `cargo bench -p reportflow-store-pg --bench round_trips`; the figures are kept in
//! `docs/store.md` (PostgreSQL backend, Sizing).

#[path = "../../store/tests/common/mod.rs"]
mod common;

use common::{account_spec, key, policy};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reportflow_core::{Input, Millis};
use reportflow_store_pg::{Claimed, PgOptions, PgStore, Step, StepLease, WorkerId};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const LIVE_JOBS: u32 = 20_000;

fn status() -> Input {
    Input::StatusSeen {
        progress: reportflow_core::Progress::NotReady,
        raw: "Processing".to_string(),
    }
}

/// Brings claimed jobs to `Polling` (where a not-ready status can be applied again and again).
async fn to_polling(store: &PgStore, worker: &WorkerId, claimed: &mut [Claimed]) {
    for input in [
        Input::CreateSending,
        Input::CreateAccepted {
            location: "https://upstream.invalid/r".to_string(),
        },
        status(),
    ] {
        let steps: Vec<Step> = claimed
            .iter()
            .map(|c| Step {
                id: c.job.id,
                expected_version: c.job.version,
                input: input.clone(),
                lease: Some(StepLease::new(worker, c.lease)),
            })
            .collect();
        let applied = store.apply_many(&steps, Millis(1)).await.expect("steps");
        for (c, a) in claimed.iter_mut().zip(applied) {
            c.job = a.expect("a step").job;
        }
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let db = reportflow_testpg::fresh_database();
    let (store, raw, worker, mut stepping) = runtime.block_on(async {
        // A lease long enough for the whole run.
        let options = PgOptions {
            lease: Duration::from_secs(3_600),
            ..PgOptions::default()
        };
        let store = PgStore::open_with(&db.url, options).await.expect("opens");
        let (raw, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .expect("connects");
        tokio::spawn(connection);
        for chunk in (0..LIVE_JOBS).collect::<Vec<_>>().chunks(2_000) {
            let jobs = chunk
                .iter()
                .map(|n| (account_spec(*n), key(&format!("live-{n}"))));
            store
                .insert_many(jobs, &policy(), Millis(1))
                .await
                .expect("stores");
        }
        let worker = WorkerId::new("bench").expect("a name");
        let mut stepping = store
            .claim(&worker, 33, 1_000, Millis(1))
            .await
            .expect("claims");
        to_polling(&store, &worker, &mut stepping).await;
        (store, raw, worker, stepping)
    });

    let mut group = c.benchmark_group("pg");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    let select_1 = runtime.block_on(raw.prepare("SELECT 1")).expect("prepares");
    group.bench_function("baseline_round_trip", |b| {
        b.iter(|| runtime.block_on(async { raw.query_one(&select_1, &[]).await.expect("runs") }))
    });
    let id = stepping[0].job.id;
    group.bench_function("get", |b| {
        b.iter(|| runtime.block_on(async { store.get(id).await.expect("reads") }))
    });
    group.bench_function("next_due", |b| {
        b.iter(|| runtime.block_on(async { store.next_due().await.expect("reads") }))
    });
    group.bench_function("apply_one_leased_step", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let c = &mut stepping[0];
                let step = Step {
                    id: c.job.id,
                    expected_version: c.job.version,
                    input: status(),
                    lease: Some(StepLease::new(&worker, c.lease)),
                };
                c.job = store.apply(step, Millis(2)).await.expect("steps").job;
            })
        })
    });
    group.bench_function("claim_16_and_release", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let claimed = store
                    .claim(&worker, 16, 1_000, Millis(1))
                    .await
                    .expect("claims");
                let leases: Vec<_> = claimed.iter().map(|c| c.lease).collect();
                store.release(&worker, &leases).await.expect("releases");
            })
        })
    });
    group.throughput(Throughput::Elements(32));
    group.bench_function("apply_batch_of_32_leased_steps", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let steps: Vec<Step> = stepping[1..]
                    .iter()
                    .map(|c| Step {
                        id: c.job.id,
                        expected_version: c.job.version,
                        input: status(),
                        lease: Some(StepLease::new(&worker, c.lease)),
                    })
                    .collect();
                let applied = store.apply_many(&steps, Millis(2)).await.expect("steps");
                for (c, a) in stepping[1..].iter_mut().zip(applied) {
                    c.job = a.expect("a step").job;
                }
            })
        })
    });
    let next = AtomicU32::new(LIVE_JOBS);
    group.throughput(Throughput::Elements(100));
    group.bench_function("insert_batch_of_100", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let first = next.fetch_add(100, Ordering::Relaxed);
                let jobs =
                    (first..first + 100).map(|n| (account_spec(n), key(&format!("new-{n}"))));
                store
                    .insert_many(jobs, &policy(), Millis(3))
                    .await
                    .expect("stores")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
