//! The engine against the simulator over loopback: every report, every billing type, no faults.

mod common;

use common::*;
use reportflow_core::{Date, KNOWN_BILLING_TYPES, StateName};
use reportflow_driver::sample_parameters;
use reportflow_sim::Sim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_and_every_billing_type_downloads_and_verifies() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine();
    let catalogue = engine.report_types(ACCOUNT).await.expect("report list");
    assert_eq!(catalogue.len(), 18, "the seed's 18 reports");
    let today = Date::constant(2026, 11, 26);
    for report in &catalogue {
        let id: u32 = report.id.parse().expect("numeric report id");
        let detail = engine
            .report_detail(ACCOUNT, id)
            .await
            .expect("report detail");
        let reportflow_core::JobSpec::Account(mut spec) = account(id, &[]) else {
            unreachable!()
        };
        spec.params = sample_parameters(&detail, ACCOUNT, today);
        engine
            .submit(reportflow_core::JobSpec::Account(spec), None)
            .expect("submit");
    }
    for t in KNOWN_BILLING_TYPES {
        engine
            .submit(
                billing(t, Date::constant(2026, 5, 21), Date::constant(2026, 5, 29)),
                None,
            )
            .expect("submit billing");
    }
    let summary = engine.run_until_idle().await.expect("run");
    let jobs = 18 + KNOWN_BILLING_TYPES.len();
    assert_eq!(summary.live_at_start, jobs);
    assert_eq!(
        summary.count(StateName::Downloaded),
        jobs as u64,
        "{summary:?}"
    );
    let by_state = verify(&engine, &sim, &setup.out_dir());
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
    for job in engine.jobs(None).expect("jobs") {
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
    let engine = setup.engine();
    engine
        .submit(
            billing(
                "BDR",
                Date::constant(2001, 3, 1),
                Date::constant(2001, 3, 31),
            ),
            None,
        )
        .expect("submit");
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::NoData), 1);
    assert!(summary.all_succeeded());
    let by_state = verify(&engine, &sim, &setup.out_dir());
    assert_eq!(count(&by_state, StateName::NoData), 1);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitting_the_same_spec_twice_is_one_job() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine();
    let first = engine.submit(inventory(1), None).expect("submit");
    let second = engine.submit(inventory(1), None).expect("submit again");
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
