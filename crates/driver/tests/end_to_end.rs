//! The engine against the simulator over loopback: every report, every billing type, no faults
//! (but for large files on both write paths, whose bodies break off).

mod common;

use common::*;
use reportflow_core::{Date, JobState, KNOWN_BILLING_TYPES, StateName};
use reportflow_driver::DownloadWrites;
use reportflow_sim::{Sim, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_and_every_billing_type_downloads_and_verifies() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    let jobs = submit_catalogue(&engine).await;
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.live_at_start, jobs);
    assert_eq!(
        summary.count(StateName::Downloaded),
        jobs as u64,
        "{summary:?}"
    );
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), jobs);
    let stats = sim.stats();
    assert_eq!(
        stats.total_instance_creations(),
        18,
        "one creation per account report"
    );
    assert_eq!(
        stats.total_billing_creations(),
        KNOWN_BILLING_TYPES.len() as u64
    );
    for job in engine.jobs(None).await.expect("jobs") {
        assert_eq!(job.creations, 1);
    }
    let summary = engine.run_until_idle().await.expect("second run");
    assert_eq!(summary.live_at_start, 0, "nothing left to do");
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_range_without_data_ends_as_no_data() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    engine
        .submit(
            billing(
                "BDR",
                Date::constant(2001, 3, 1),
                Date::constant(2001, 3, 31),
            ),
            None,
        )
        .await
        .expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::NoData), 1);
    assert!(summary.all_succeeded());
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::NoData), 1);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitting_the_same_spec_twice_is_one_job() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    let first = engine.submit(inventory(1), None).await.expect("submit");
    let second = engine
        .submit(inventory(1), None)
        .await
        .expect("submit again");
    assert!(first.created && !second.created);
    assert_eq!(first.job.id, second.job.id);
    assert_eq!(
        engine
            .run_until_idle()
            .await
            .expect("run")
            .count(StateName::Downloaded),
        1
    );
    assert_eq!(sim.stats().total_instance_creations(), 1);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_requests_and_bytes() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    engine.submit(inventory(1), None).await.expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    let served = sim.stats();
    let requests: u64 = served.requests.values().sum();
    assert_eq!(
        summary.metrics.requests, requests,
        "every request counted once"
    );
    assert_eq!(summary.metrics.bytes, served.bytes_served);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_outputs_end_as_expired_or_are_requested_again() {
    let config = reportflow_sim::SimConfig {
        ready_lifetime: Some(std::time::Duration::from_millis(1)),
        processing_time: std::time::Duration::from_millis(200),
        ..quick_sim()
    };
    let sim = Sim::start(config).await.expect("sim starts");
    let mut setup = Setup::new(&sim);
    // The first poll comes after the output has already expired.
    setup.config.poll.first_delay_ms = 400;
    setup.config.poll.cap_ms = 800;
    let engine = setup.engine().await;
    engine.submit(inventory(1), None).await.expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Expired), 1, "{summary:?}");
    assert!(!summary.all_succeeded());
    let job = engine.jobs(None).await.expect("jobs").remove(0);

    // An explicit retry is a new attempt of the same job, its history kept.
    let again = engine.retry(job.id).await.expect("retry");
    assert_eq!(
        (again.attempt, again.state.name()),
        (2, StateName::Requested)
    );
    assert!(engine.history(job.id).await.expect("history").len() > 4);
    drop(engine);

    // With automatic re-requests, the engine starts new attempts by itself (and gives up after
    // max_attempts). The retry policy is stored with each job when it is submitted: a job
    // submitted under it is re-requested, the first job keeps the policy it was submitted with.
    setup.config.retry_policy.max_attempts = 3;
    let engine = setup.engine().await;
    let auto = engine
        .submit(inventory(2), None)
        .await
        .expect("submit")
        .job
        .id;
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Expired), 2);
    let job = engine.job(&auto.to_string()).await.expect("the new job");
    assert_eq!(job.attempt, 3, "re-requested up to max_attempts");
    assert_eq!(job.creations, 3);
    let first = engine
        .job(&again.id.to_string())
        .await
        .expect("the first job");
    assert_eq!(first.attempt, 2, "not re-requested: its policy says so");
    assert_eq!(sim.stats().total_instance_creations(), 2 + 3);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_takes_jobs_submitted_while_it_runs_until_shutdown() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = std::sync::Arc::new(setup.engine().await);
    let mut events = engine.events();
    let runner = {
        let engine = std::sync::Arc::clone(&engine);
        tokio::spawn(async move { engine.run().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let a = engine
        .submit(inventory(1), None)
        .await
        .expect("submit")
        .job
        .id;
    let b = engine
        .submit(inventory(2), None)
        .await
        .expect("submit")
        .job
        .id;
    let mut done = std::collections::BTreeSet::new();
    while done.len() < 2 {
        match tokio::time::timeout(std::time::Duration::from_secs(20), events.recv()).await {
            Ok(Ok(reportflow_driver::Event::Changed {
                id,
                to: StateName::Downloaded,
                ..
            })) => {
                done.insert(id);
            }
            Ok(Ok(_)) => {}
            other => panic!("no progress: {other:?}"),
        }
    }
    assert_eq!(done, [a, b].into_iter().collect());
    let c = engine
        .submit(inventory(3), None)
        .await
        .expect("submit")
        .job
        .id;
    let cancelled = engine.cancel(c).await.expect("cancel");
    assert_eq!(cancelled.state.name(), StateName::Cancelled);
    engine.shutdown();
    let summary = runner.await.expect("joined").expect("run");
    assert!(summary.interrupted);
    assert!(summary.count(StateName::Downloaded) <= 2);
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), 2);
    assert_eq!(count(&by_state, StateName::Cancelled), 1);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_needed_only_when_there_is_work() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let mut setup = Setup::new(&sim);
    setup.config.credentials = None;
    let engine = setup.engine().await;
    let idle = engine
        .run_until_idle()
        .await
        .expect("nothing to do needs no credentials");
    assert_eq!(idle.live_at_start, 0);
    engine
        .submit(inventory(1), None)
        .await
        .expect("submitting needs no credentials");
    let refused = engine
        .run_until_idle()
        .await
        .expect_err("work needs credentials");
    assert!(
        matches!(refused, reportflow_driver::DriverError::NoCredentials),
        "{refused}"
    );
    assert!(refused.to_string().contains("BANDWIDTH_USERNAME"));
    assert_eq!(
        sim.stats().requests.values().sum::<u64>(),
        0,
        "nothing was sent"
    );
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_several_blocks_download_on_both_write_paths_through_cut_bodies() {
    // Larger than one block, so they stream through the pipeline (smaller ones are received
    // whole in memory); the first answers on the file endpoint break off halfway.
    let sim = Sim::start(SimConfig {
        file_size: reportflow_sim::SizeRange::between(3 << 20, (3 << 20) + 4_321),
        ..quick_sim()
    })
    .await
    .expect("sim starts");
    for writes in [DownloadWrites::Direct, DownloadWrites::PageCache] {
        sim.script(
            reportflow_sim::Endpoint::File,
            vec![reportflow_sim::Fault::CutShortBody; 2],
        );
        let mut setup = Setup::new(&sim);
        setup.config.download_writes = writes;
        let engine = setup.engine().await;
        for site in 1..=3 {
            engine.submit(inventory(site), None).await.expect("submit");
        }
        let summary = engine.run_until_idle().await.expect("run");
        assert_eq!(
            summary.count(StateName::Downloaded),
            3,
            "{writes:?}: {summary:?}"
        );
        let by_state = verify(&engine, &sim, &setup.out_dir()).await;
        for job in &by_state[&StateName::Downloaded] {
            let JobState::Downloaded { file, .. } = &job.state else {
                unreachable!("listed as downloaded")
            };
            assert!(file.bytes >= 3 << 20, "{writes:?}: {} bytes", file.bytes);
        }
    }
    assert!(sim.stats().fault_count(reportflow_sim::Fault::CutShortBody) >= 2);
    sim.shutdown();
}
