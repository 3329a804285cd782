//! Crash and resume: the engine and its runtime are dropped at random moments mid-run, the
//! store is reopened and the run continues. Whatever the cut points, every job ends with a
//! verified file, no temporary file is left, and each account report is created once upstream.

mod common;

use common::*;
use proptest::prelude::*;
use reportflow_core::{Date, JobKind, RetryPolicy, StateName};
use reportflow_sim::{Endpoint, Fault, FaultPlan, Sim, SimConfig};
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn crash_and_resume(seed: u64, cuts_ms: &[u64]) {
    let sim = Sim::start_blocking(SimConfig {
        seed,
        processing_time: Duration::from_millis(60),
        billing_processing_time: Duration::from_millis(60),
        processing_jitter: Duration::from_millis(120),
        faults: FaultPlan::none()
            .on(Endpoint::Create, Fault::AppliedResponseLost, 0.2)
            .on(Endpoint::Status, Fault::ServiceUnavailable, 0.1)
            .on(Endpoint::File, Fault::CutShortBody, 0.1),
        ..quick_sim()
    })
    .expect("sim starts");
    let mut setup = Setup::new(&sim);
    // A create budget that fits 20 % lost create answers plus the cuts: each cut that lands
    // while a create is out costs one more unconfirmed create, and under the default budget
    // of 8 a billing job failed when its creates were lost 8 times in a row, or 7 and a cut
    // (roughly 0.2^8 + 0.2^7 per cut that lands mid-create, some 1 in 3,000 per CI run over
    // 16 cases of 3 billing jobs). 20: about 0.2^17, nothing. The waits stay the default.
    setup.config.retry_policy = RetryPolicy {
        max_unconfirmed_creates: 20,
        ..RetryPolicy::default()
    };
    {
        let rt = runtime();
        let engine = rt.block_on(setup.engine());
        for site in 0..4 {
            rt.block_on(engine.submit(inventory(site), None))
                .expect("submit");
        }
        for (i, t) in ["BDR", "MDR", "DIDSNAP"].iter().enumerate() {
            let day = Date::constant(2026, 3, 1 + i as i8);
            rt.block_on(engine.submit(billing(t, day, day), None))
                .expect("submit");
        }
    }
    for cut in cuts_ms {
        let rt = runtime();
        let engine = rt.block_on(setup.engine());
        rt.block_on(async {
            let _ =
                tokio::time::timeout(Duration::from_millis(*cut), engine.run_until_idle()).await;
        });
        drop(rt);
        drop(engine);
    }
    let rt = runtime();
    let engine = rt.block_on(setup.engine());
    let summary = rt.block_on(engine.run_until_idle()).expect("final run");
    assert!(!summary.interrupted);
    let by_state = rt.block_on(verify(&engine, &sim, &setup.out_dir()));
    assert_eq!(count(&by_state, StateName::Downloaded), 7, "{by_state:#?}");
    let stats = sim.stats();
    for (key, creations) in &stats.instance_creations {
        assert_eq!(*creations, 1, "account report {key:?} created once");
    }
    assert_eq!(stats.total_instance_creations(), 4);
    let jobs = rt.block_on(engine.jobs(None)).expect("jobs");
    for job in &jobs {
        if job.kind() == JobKind::Billing {
            assert!(job.creations >= 1);
        }
    }
    assert!(
        u64::from(
            jobs.iter()
                .filter(|j| j.kind() == JobKind::Billing)
                .map(|j| j.creations)
                .sum::<u32>()
        ) >= stats.total_billing_creations(),
        "every billing creation upstream was counted"
    );
    sim.shutdown();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn dropped_mid_run_and_resumed_every_job_completes(
        seed in any::<u64>(),
        cuts in proptest::collection::vec(1u64..400, 1..4),
    ) {
        crash_and_resume(seed, &cuts);
    }
}
