//! Redirects, OAuth2, rate limits, bad credentials and scale, against the simulator.

mod common;

use common::*;
use reportflow_core::{JobState, StateName};
use reportflow_driver::Credentials;
use reportflow_sim::{Endpoint, Fault, RateLimit, Sim, SimConfig, SizeRange};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_307_to_another_origin_is_followed_without_authorization() {
    let sim = Sim::start(SimConfig {
        redirect_files: true,
        ..quick_sim()
    })
    .await
    .expect("sim");
    let setup = Setup::new(&sim);
    let engine = setup.engine();
    engine.submit(inventory(1), None).expect("submit");
    engine.submit(inventory(2), None).expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 2, "{summary:?}");
    verify(&engine, &sim, &setup.out_dir());
    let stats = sim.stats();
    assert_eq!(
        stats.status_count(Endpoint::File, 307),
        2,
        "both files were redirected"
    );
    assert_eq!(stats.status_count(Endpoint::RedirectedFile, 200), 2);
    assert_eq!(
        stats.status_count(Endpoint::RedirectedFile, 400),
        0,
        "no Authorization went to the other origin"
    );
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_tokens_are_fetched_and_refreshed_before_expiry() {
    let sim = Sim::start(SimConfig {
        basic_auth: false,
        token_lifetime: Duration::from_secs(2),
        processing_time: Duration::from_millis(2_500),
        ..quick_sim()
    })
    .await
    .expect("sim");
    let mut setup = Setup::new(&sim);
    setup.config.credentials = Some(Credentials::OAuth2 {
        client_id: "demo-client".into(),
        client_secret: "demo-client-secret".into(),
        token_url: sim.token_url(),
    });
    let engine = setup.engine();
    engine.submit(inventory(3), None).expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 1, "{summary:?}");
    verify(&engine, &sim, &setup.out_dir());
    let stats = sim.stats();
    assert!(
        stats.status_count(Endpoint::Token, 200) >= 2,
        "the token was refreshed: {:?}",
        stats.requests
    );
    let unauthorized: u64 = Endpoint::ALL
        .iter()
        .map(|e| stats.status_count(*e, 401))
        .sum();
    assert_eq!(unauthorized, 0, "refreshed before it expired");
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_job_with_a_401_and_never_leak() {
    let sim = Sim::start(quick_sim()).await.expect("sim");
    let mut setup = Setup::new(&sim);
    setup.config.credentials = Some(Credentials::Basic {
        username: "demo".into(),
        password: "not-the-password-9f8e7d".into(),
    });
    let engine = setup.engine();
    engine.submit(inventory(1), None).expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Failed), 1);
    let job = engine.jobs(None).expect("jobs").remove(0);
    let JobState::Failed { failure } = &job.state else {
        panic!("{:?}", job.state)
    };
    assert_eq!(failure.http_status, Some(401));
    assert!(
        failure.message.contains("check the credentials"),
        "{failure}"
    );
    assert!(
        !format!("{job:?}").contains("not-the-password"),
        "no secret in the job"
    );
    assert!(
        !format!("{:?}", setup.config).contains("not-the-password"),
        "no secret in the config's Debug"
    );
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_holds_every_job_until_its_reset() {
    let mut limits = BTreeMap::new();
    limits.insert(
        Endpoint::Status,
        RateLimit {
            capacity: 2,
            refill_per_second: 4.0,
        },
    );
    let sim = Sim::start(SimConfig {
        rate_limits: limits,
        ..quick_sim()
    })
    .await
    .expect("sim");
    let setup = Setup::new(&sim);
    let engine = setup.engine();
    let jobs = 12;
    for site in 0..jobs {
        engine.submit(inventory(site), None).expect("submit");
    }
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(
        summary.count(StateName::Downloaded),
        u64::from(jobs),
        "{summary:?}"
    );
    verify(&engine, &sim, &setup.out_dir());
    let stats = sim.stats();
    let limited = stats.status_count(Endpoint::Status, 429);
    let served = stats.status_count(Endpoint::Status, 200);
    assert!(limited >= 1, "the limit was hit");
    // Retrying at the backoff's 10 ms floor instead of waiting for each reset would cost
    // hundreds of requests per job; waiting costs at most a few per job (one per reset wave).
    assert!(
        limited <= 3 * u64::from(jobs),
        "no hammering: {limited} answers 429 against {served} served"
    );
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_429_in_milliseconds_is_waited_out_once() {
    let sim = Sim::start(SimConfig {
        faults: reportflow_sim::FaultPlan {
            rate_limit_reset_after: Duration::from_millis(400),
            ..reportflow_sim::FaultPlan::none()
        },
        ..quick_sim()
    })
    .await
    .expect("sim");
    sim.script(Endpoint::Create, vec![Fault::RateLimitedMillis]);
    let setup = Setup::new(&sim);
    let engine = setup.engine();
    engine.submit(inventory(1), None).expect("submit");
    let started = std::time::Instant::now();
    engine.run_until_idle().await.expect("run");
    let stats = sim.stats();
    assert_eq!(stats.status_count(Endpoint::Create, 429), 1);
    assert_eq!(
        stats.status_count(Endpoint::Create, 201),
        1,
        "one more request, after the reset"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the reset was waited for"
    );
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_jobs_with_zero_processing_time_all_complete() {
    let sim = Sim::start(SimConfig {
        processing_time: Duration::ZERO,
        billing_processing_time: Duration::ZERO,
        file_size: SizeRange::fixed(64),
        ..quick_sim()
    })
    .await
    .expect("sim");
    let mut setup = Setup::new(&sim);
    setup.config.concurrency = 64;
    setup.config.per_account_concurrency = 64;
    let engine = setup.engine();
    let jobs = 10_000;
    for site in 0..jobs {
        engine.submit(inventory(site), None).expect("submit");
    }
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(
        summary.count(StateName::Downloaded),
        u64::from(jobs),
        "{summary:?}"
    );
    assert_eq!(sim.stats().total_instance_creations(), u64::from(jobs));
    let files = std::fs::read_dir(setup.out_dir()).expect("out dir").count();
    assert_eq!(files, jobs as usize, "one file per job");
    sim.shutdown();
}
