//! Retry budgets against the simulator: an upstream that drops every create of one account
//! unapplied (a reset before any answer, nothing created) ends those jobs `Failed` within the
//! create budget, proven by the simulator's request count, while the other account's jobs in
//! the same run complete; a crash in the middle does not reset the count. And an upstream
//! whose statuses keep failing ends a job after its budget of failed steps, never re-creating.

mod common;

use common::*;
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, FailureKind, JobSpec, JobState, OutputFormat,
    RetryPolicy, StateName,
};
use reportflow_sim::{Endpoint, Fault, FaultPlan, Sim, SimConfig, SimHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The account whose creates the simulator drops.
const DEAD: &str = "1111";

/// The default budgets with waits 100 times shorter (10 ms doubling to 450 ms).
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        first_delay_ms: 10,
        cap_ms: 450,
        ..RetryPolicy::default()
    }
}

fn dead_inventory() -> JobSpec {
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    params.insert("AccountId".into(), BTreeSet::from([DEAD.to_string()]));
    JobSpec::Account(AccountReportSpec {
        account: DEAD.into(),
        report_id: 4,
        format: OutputFormat::Csv,
        params,
        expires_at: None,
    })
}

fn dead_billing() -> JobSpec {
    JobSpec::Billing(BillingReportSpec {
        account: DEAD.into(),
        report_type: "BDR".into(),
        start: Date::constant(2026, 1, 1),
        end: Date::constant(2026, 1, 31),
    })
}

fn dropping_creates_of_the_dead_account() -> SimConfig {
    SimConfig {
        faults: FaultPlan::none().on_account(DEAD, Endpoint::Create, Fault::ConnectionReset, 1.0),
        ..quick_sim()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Creates the simulator dropped (it answers every other create).
fn dropped_creates(sim: &SimHandle) -> u64 {
    sim.stats().status_count(Endpoint::Create, 0)
}

#[test]
fn an_upstream_that_never_confirms_fails_its_jobs_within_the_budget_and_the_others_complete() {
    let rt = runtime();
    let sim = rt
        .block_on(Sim::start(dropping_creates_of_the_dead_account()))
        .expect("sim starts");
    let mut setup = Setup::new(&sim);
    setup.config.retry_policy = fast_retries();
    let engine = rt.block_on(setup.engine());
    let account = rt
        .block_on(engine.submit(dead_inventory(), None))
        .expect("submit")
        .job
        .id;
    let billing = rt
        .block_on(engine.submit(dead_billing(), None))
        .expect("submit")
        .job
        .id;
    rt.block_on(engine.submit(inventory(1), None))
        .expect("submit");
    rt.block_on(engine.submit(
        common::billing(
            "MDR",
            Date::constant(2026, 2, 1),
            Date::constant(2026, 2, 28),
        ),
        None,
    ))
    .expect("submit");
    let started = Instant::now();
    let summary = rt.block_on(engine.run_until_idle()).expect("the run ends");
    let took = started.elapsed();
    assert_eq!(summary.count(StateName::Failed), 2, "{summary:?}");
    assert_eq!(summary.count(StateName::Downloaded), 2, "{summary:?}");
    let by_state = rt.block_on(verify(&engine, &sim, &setup.out_dir()));
    assert_eq!(count(&by_state, StateName::Downloaded), 2);
    let budget = fast_retries().max_unconfirmed_creates;
    // The simulator's count: every create of the dead account dropped, no more than the
    // budget allows per job.
    assert_eq!(dropped_creates(&sim), 2 * u64::from(budget));
    for id in [account, billing] {
        let job = rt.block_on(engine.job(&id.to_string())).expect("job");
        assert_eq!(job.creations, budget);
        let JobState::Failed { failure } = &job.state else {
            panic!("{:?}", job.state)
        };
        assert_eq!(failure.kind, FailureKind::Unavailable);
        assert!(
            failure
                .message
                .contains("8 create request(s) were sent in attempt 1 and none was confirmed"),
            "{failure}"
        );
        assert!(failure.message.contains("reportflow retry"), "{failure}");
    }
    // The account report's listing was searched after every lost answer, never a blind create.
    assert_eq!(
        sim.stats().total_instance_creations(),
        1,
        "only the live account's"
    );
    assert!(
        took < Duration::from_millis(fast_retries().create_budget_ms()) + Duration::from_secs(20),
        "{took:?}"
    );
    println!(
        "never-confirming upstream: 2 jobs failed after {} dropped creates, 2 downloaded, in {took:?}",
        dropped_creates(&sim)
    );
    sim.shutdown();
}

#[test]
fn a_crash_in_the_middle_of_the_budget_does_not_reset_the_count() {
    let sim = Sim::start_blocking(dropping_creates_of_the_dead_account()).expect("sim starts");
    let mut setup = Setup::new(&sim);
    setup.config.retry_policy = fast_retries();
    let id = {
        let rt = runtime();
        let engine = rt.block_on(setup.engine());
        rt.block_on(engine.submit(dead_inventory(), None))
            .expect("submit")
            .job
            .id
    };
    // Run until the simulator has dropped three creates, then crash: the runtime and the
    // engine go at once, in-flight steps and all.
    {
        let rt = runtime();
        let engine = rt.block_on(setup.engine());
        rt.block_on(async {
            let watch = async {
                while dropped_creates(&sim) < 3 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            };
            tokio::select! {
                _ = engine.run_until_idle() => panic!("the job ended before the crash"),
                () = watch => {}
            }
        });
        drop(rt);
        drop(engine);
    }
    let before = dropped_creates(&sim);
    assert!(before >= 3);
    let rt = runtime();
    let engine = rt.block_on(setup.engine());
    let resumed = rt.block_on(engine.job(&id.to_string())).expect("job");
    assert!(
        resumed.unconfirmed_creates() >= 3,
        "the count survived the crash: {:?}",
        resumed.state
    );
    let summary = rt.block_on(engine.run_until_idle()).expect("the run ends");
    assert_eq!(summary.count(StateName::Failed), 1, "{summary:?}");
    let job = rt.block_on(engine.job(&id.to_string())).expect("job");
    let budget = fast_retries().max_unconfirmed_creates;
    assert_eq!(job.creations, budget, "the budget spans both runs");
    assert!(
        dropped_creates(&sim) <= u64::from(budget),
        "{} creates for a budget of {budget}",
        dropped_creates(&sim)
    );
    assert!(
        dropped_creates(&sim) > before,
        "the second run went on counting"
    );
    println!(
        "crash after {before} dropped creates: {} in all, the job failed at {} of {budget}",
        dropped_creates(&sim),
        job.creations
    );
    sim.shutdown();
}

#[test]
fn statuses_that_keep_failing_end_the_job_after_its_budget_without_re_creating() {
    let rt = runtime();
    let sim = rt
        .block_on(Sim::start(SimConfig {
            faults: FaultPlan::none().on(Endpoint::Status, Fault::ServiceUnavailable, 1.0),
            ..quick_sim()
        }))
        .expect("sim starts");
    let mut setup = Setup::new(&sim);
    setup.config.retry_policy = fast_retries();
    setup.config.retry.max_times = 2;
    let engine = rt.block_on(setup.engine());
    let id = rt
        .block_on(engine.submit(inventory(3), None))
        .expect("submit")
        .job
        .id;
    let summary = rt.block_on(engine.run_until_idle()).expect("the run ends");
    assert_eq!(summary.count(StateName::Failed), 1, "{summary:?}");
    let job = rt.block_on(engine.job(&id.to_string())).expect("job");
    let JobState::Failed { failure } = &job.state else {
        panic!("{:?}", job.state)
    };
    assert!(
        failure
            .message
            .contains("10 tries in a row failed while asking for the report's status"),
        "{failure}"
    );
    let stats = sim.stats();
    assert_eq!(stats.total_instance_creations(), 1, "never re-created");
    // Each failed step is one status request and its two GET retries.
    let per_step = 1 + setup.config.retry.max_times as u64;
    assert_eq!(
        stats.requests_to(Endpoint::Status),
        u64::from(fast_retries().max_step_failures) * per_step
    );
    sim.shutdown();
}

#[test]
fn an_upstream_gone_mid_run_ends_its_jobs_after_their_budget_never_looping() {
    let rt = runtime();
    let sim = rt
        .block_on(Sim::start(SimConfig {
            processing_time: Duration::from_secs(600),
            billing_processing_time: Duration::from_secs(600),
            ..quick_sim()
        }))
        .expect("sim starts");
    let mut setup = Setup::new(&sim);
    setup.config.retry_policy = fast_retries();
    setup.config.retry.max_times = 2;
    let engine = rt.block_on(setup.engine());
    rt.block_on(engine.submit(inventory(5), None))
        .expect("submit");
    rt.block_on(engine.submit(
        common::billing(
            "BDR",
            Date::constant(2026, 3, 1),
            Date::constant(2026, 3, 31),
        ),
        None,
    ))
    .expect("submit");
    let summary = rt.block_on(async {
        let run = engine.run_until_idle();
        tokio::pin!(run);
        // Once both reports exist upstream, the upstream goes away for good.
        loop {
            tokio::select! {
                result = &mut run => panic!("the run ended with the upstream up: {result:?}"),
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
            let stats = sim.stats();
            if stats.total_instance_creations() + stats.total_billing_creations() == 2 {
                break;
            }
        }
        sim.shutdown();
        run.await
    });
    let summary = summary.expect("the run ends");
    assert_eq!(summary.count(StateName::Failed), 2, "{summary:?}");
    for job in rt.block_on(engine.jobs(None)).expect("jobs") {
        assert_eq!(job.creations, 1, "never re-created");
        let JobState::Failed { failure } = &job.state else {
            panic!("{:?}", job.state)
        };
        assert_eq!(failure.kind, FailureKind::Unavailable);
        assert!(
            failure.message.contains("10 tries in a row failed"),
            "{failure}"
        );
        assert!(failure.message.contains("could not connect"), "{failure}");
    }
}

#[test]
fn a_download_that_keeps_failing_leaves_no_temporary_file_not_even_a_killed_runs() {
    let rt = runtime();
    let sim = rt.block_on(Sim::start(quick_sim())).expect("sim starts");
    // Every file request answers an error inside a 200: no file ever comes.
    sim.script(Endpoint::File, vec![Fault::ErrorIn200; 200]);
    let mut setup = Setup::new(&sim);
    setup.config.retry_policy = fast_retries();
    setup.config.retry.max_times = 1;
    let engine = rt.block_on(setup.engine());
    let id = rt
        .block_on(engine.submit(inventory(8), None))
        .expect("submit")
        .job
        .id;
    // What a process killed mid-download leaves behind.
    let out = setup.out_dir();
    std::fs::create_dir_all(&out).expect("out dir");
    let stale = out.join(format!(".reportflow-job{id}.part"));
    std::fs::write(&stale, b"half of a file").expect("stale part");
    let summary = rt.block_on(engine.run_until_idle()).expect("the run ends");
    assert_eq!(summary.count(StateName::Failed), 1, "{summary:?}");
    let job = rt.block_on(engine.job(&id.to_string())).expect("job");
    let JobState::Failed { failure } = &job.state else {
        panic!("{:?}", job.state)
    };
    assert!(
        failure.message.contains("while downloading the file"),
        "{failure}"
    );
    assert!(!stale.exists(), "the temporary file is gone");
    rt.block_on(verify(&engine, &sim, &out));
    sim.shutdown();
}
