//! The engine on a shared (PostgreSQL) store, in one process: several workers share the jobs,
//! each job is stepped under one lease at a time, a dead worker's jobs are taken over, and a
//! worker gives its leases back when it stops.

mod common;

use common::*;
use reportflow_core::{Date, JobState, StateName};
use reportflow_driver::{Engine, EngineConfig};
use reportflow_sim::Sim;
use reportflow_store::LeasedTransition;
use std::collections::BTreeSet;
use std::time::Duration;

/// `setup`'s configuration on a fresh database, as worker `name` with a `lease_ms` lease.
fn on_postgres(
    setup: &Setup,
    db: &reportflow_testpg::TestDb,
    name: &str,
    lease_ms: u64,
) -> EngineConfig {
    let mut config = setup.config.clone();
    config.store = db.url.as_str().into();
    config.worker_name = Some(name.to_string());
    config.lease = Duration::from_millis(lease_ms);
    config.concurrency = 4;
    config.per_account_concurrency = 64;
    config
}

/// The steps of a history were written by one lease after another, never interleaved: tokens
/// never go down along the history, and one token is always one worker's.
fn one_lease_at_a_time(history: &[LeasedTransition]) -> BTreeSet<String> {
    let mut workers = BTreeSet::new();
    let mut last: Option<(String, u64)> = None;
    for step in history {
        let Some((worker, token)) = &step.lease else {
            continue;
        };
        workers.insert(worker.to_string());
        if let Some((last_worker, last_token)) = &last {
            assert!(token >= last_token, "a token went back: {history:#?}");
            if token == last_token {
                assert_eq!(
                    worker.as_str(),
                    last_worker,
                    "one token, two workers: {history:#?}"
                );
            }
        }
        last = Some((worker.to_string(), *token));
    }
    workers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_jobs_and_every_step_is_under_one_lease() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let db = reportflow_testpg::fresh_database();
    let a = Engine::open(on_postgres(&setup, &db, "worker-a", 3_000))
        .await
        .expect("a opens");
    let b = Engine::open(on_postgres(&setup, &db, "worker-b", 3_000))
        .await
        .expect("b opens");
    for site in 0..12 {
        a.submit(inventory(site), None).await.expect("submit");
    }
    for (i, t) in ["BDR", "MDR", "DIDSNAP", "INVOICE"].iter().enumerate() {
        let day = Date::constant(2026, 3, 1 + i as i8);
        b.submit(billing(t, day, day), None).await.expect("submit");
    }
    let (ra, rb) = tokio::join!(a.run_until_idle(), b.run_until_idle());
    let (ra, rb) = (ra.expect("a ends"), rb.expect("b ends"));
    assert_eq!(
        ra.count(StateName::Downloaded) + rb.count(StateName::Downloaded),
        16,
        "{ra:?} {rb:?}"
    );
    let by_state = verify(&a, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), 16);
    let stats = sim.stats();
    for (key, creations) in &stats.instance_creations {
        assert_eq!(*creations, 1, "account report {key:?} created once");
    }
    assert_eq!(
        stats.total_billing_creations(),
        4,
        "each billing report created once"
    );
    let mut workers = BTreeSet::new();
    for job in a.jobs(None).await.expect("jobs") {
        let history = a.history_with_leases(job.id).await.expect("history");
        workers.extend(one_lease_at_a_time(&history));
        let JobState::Downloaded { .. } = job.state else {
            panic!("{job:?}")
        };
    }
    assert_eq!(workers.len(), 2, "both workers stepped jobs: {workers:?}");
    sim.shutdown();
}
