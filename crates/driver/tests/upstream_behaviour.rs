//! Redirects, OAuth2, rate limits, bad credentials and scale, against the simulator.

mod common;

use common::*;
use reportflow_core::{Date, FailureKind, JobSpec, JobState, StateName};
use reportflow_driver::Credentials;
use reportflow_sim::{Endpoint, Fault, FixedAnswer, RateLimit, Sim, SimConfig, SizeRange};
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
    let engine = setup.engine().await;
    engine.submit(inventory(1), None).await.expect("submit");
    engine.submit(inventory(2), None).await.expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 2, "{summary:?}");
    verify(&engine, &sim, &setup.out_dir()).await;
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
    let engine = setup.engine().await;
    engine.submit(inventory(3), None).await.expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 1, "{summary:?}");
    verify(&engine, &sim, &setup.out_dir()).await;
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
    let engine = setup.engine().await;
    engine.submit(inventory(1), None).await.expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Failed), 1);
    let job = engine.jobs(None).await.expect("jobs").remove(0);
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
    let engine = setup.engine().await;
    let jobs = 12;
    for site in 0..jobs {
        engine.submit(inventory(site), None).await.expect("submit");
    }
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(
        summary.count(StateName::Downloaded),
        u64::from(jobs),
        "{summary:?}"
    );
    verify(&engine, &sim, &setup.out_dir()).await;
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
    let engine = setup.engine().await;
    engine.submit(inventory(1), None).await.expect("submit");
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
    let engine = setup.engine().await;
    let jobs = 10_000;
    for site in 0..jobs {
        engine.submit(inventory(site), None).await.expect("submit");
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

/// A real body from Bandwidth's SDK tests or API spec (crates/wire/tests/fixtures/bandwidth/).
fn bandwidth_body(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wire/tests/fixtures/bandwidth")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// php-bandwidth-iris's billing flow, answered with its own bodies: a `Location` whose id is no
/// UUID is followed as given, `COMPLETED` leads to the file, and the SDK's placeholder file
/// (`zipcontent`) or the spec's XML `200` of `/file` fail the job, after one more try, with
/// what the answer was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_billing_flow_follows_its_location_and_refuses_a_file_that_is_no_zip() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let id = "a12b456c8-abcd-1a3b-a1b2-0a2b4c6d8e0f2";
    let mut answers = Vec::new();
    for (account, file) in [
        ("9900001", "php-billing-file.bin"),
        ("9900002", "docs-billing-file-200-xml.xml"),
    ] {
        let location = format!("/accounts/{account}/billingreports/{id}");
        answers.push(FixedAnswer {
            method: "POST".into(),
            path: format!("/accounts/{account}/billingReports"),
            status: 201,
            headers: vec![("Location".into(), format!("{}{location}", sim.base_url()))],
            body: bandwidth_body("php-billing-creation-201.xml"),
        });
        answers.push(FixedAnswer::get(
            &location,
            bandwidth_body("php-billing-retrieval-completed.xml"),
        ));
        answers.push(FixedAnswer {
            headers: vec![("Content-Type".into(), "application/zip".into())],
            ..FixedAnswer::get(format!("{location}/file"), bandwidth_body(file))
        });
    }
    sim.configure(|c| c.fixed_answers = answers)
        .expect("configure");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    for account in ["9900001", "9900002"] {
        let JobSpec::Billing(mut spec) = billing(
            "BDR",
            Date::constant(2017, 11, 1),
            Date::constant(2017, 11, 2),
        ) else {
            unreachable!("a billing spec")
        };
        spec.account = account.into();
        engine
            .submit(JobSpec::Billing(spec), None)
            .await
            .expect("submit");
    }
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Failed), 2, "{summary:?}");
    let jobs = engine.jobs(None).await.expect("jobs");
    let messages: Vec<String> = jobs
        .iter()
        .map(|job| match &job.state {
            JobState::Failed { failure } => {
                assert_eq!(failure.kind, FailureKind::BadAnswer, "{failure}");
                failure.message.clone()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        messages[0].contains(&format!("/billingreports/{id}/file answered: it is not a zip archive; the body (10 bytes) starts \"zipcontent\"")),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains(
            "it is a status document (COMPLETED: The report archive is constructed), not the zip archive"
        ),
        "{}",
        messages[1]
    );
    let history = engine.history(jobs[0].id).await.expect("history");
    assert!(
        format!("{history:?}").contains(id),
        "the job kept the Location as given: {history:?}"
    );
    assert_eq!(
        sim.stats().requests_to(Endpoint::File),
        4,
        "each file asked for twice"
    );
    assert!(
        std::fs::read_dir(setup.out_dir())
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no file left"
    );
    sim.shutdown();
}
