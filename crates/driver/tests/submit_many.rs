//! `Engine::submit_many`: a batch validated as a whole, stored with one flush, then run.

mod common;

use common::*;
use reportflow_core::{JobKey, StateName};
use reportflow_driver::DriverError;
use reportflow_sim::Sim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_stored_then_run_to_the_end() {
    let sim = Sim::start(quick_sim()).await.expect("sim");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    let batch: Vec<_> = (0..6).map(|site| (inventory(site), None)).collect();
    let submitted = engine.submit_many(batch.clone()).await.expect("submit");
    assert_eq!(submitted.len(), 6);
    assert!(submitted.iter().all(|s| s.created));
    let again = engine.submit_many(batch).await.expect("submit again");
    assert!(again.iter().all(|s| !s.created), "same keys, same jobs");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 6);
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_spec_stores_nothing() {
    let sim = Sim::start(quick_sim()).await.expect("sim");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    let bad = account(0, &[("AccountId", ACCOUNT)]);
    let batch = vec![(inventory(1), None), (bad, None), (inventory(2), None)];
    let err = engine.submit_many(batch).await.expect_err("refused");
    assert!(matches!(err, DriverError::Invalid(_)), "{err}");
    assert!(engine.jobs(None).await.expect("jobs").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_conflict_keeps_the_jobs_before_it_and_a_running_engine_sees_them() {
    let sim = Sim::start(quick_sim()).await.expect("sim");
    let setup = Setup::new(&sim);
    let engine = std::sync::Arc::new(setup.engine().await);
    let taken = JobKey::user("taken").expect("key");
    engine
        .submit(inventory(100), Some(taken.clone()))
        .await
        .expect("submit");
    engine.run_until_idle().await.expect("first run");
    let running = std::sync::Arc::clone(&engine);
    let run = tokio::spawn(async move { running.run().await });
    // Let the run start before the batch arrives.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let batch = vec![
        (inventory(1), None),
        (inventory(2), Some(taken)),
        (inventory(3), None),
    ];
    assert!(engine.submit_many(batch).await.is_err());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while engine.counts().await.expect("counts")[&StateName::Downloaded] < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stored job was not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    engine.shutdown();
    run.await.expect("join").expect("run");
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), 2);
}
