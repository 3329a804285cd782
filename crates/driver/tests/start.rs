//! A run starting on more live jobs than it plans in one page: every job is planned once, the
//! first steps start before the last jobs are read, and each job is created upstream once.

mod common;

use common::*;
use reportflow_core::StateName;
use reportflow_sim::Sim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_plans_many_live_jobs_page_by_page_and_steps_each_once() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let jobs = 600;
    {
        let engine = setup.engine().await;
        let submitted = engine
            .submit_many((0..jobs).map(|n| (inventory(n), None)))
            .await
            .expect("submit");
        assert_eq!(submitted.len(), jobs as usize);
    }
    // A new engine, as after a restart: the jobs are found in the store.
    let engine = setup.engine().await;
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.live_at_start, jobs as usize);
    assert_eq!(
        summary.count(StateName::Downloaded),
        u64::from(jobs),
        "{summary:?}"
    );
    let by_state = verify(&engine, &sim, &setup.out_dir()).await;
    assert_eq!(count(&by_state, StateName::Downloaded), jobs as usize);
    assert_eq!(sim.stats().total_instance_creations(), u64::from(jobs));
    for job in engine.jobs(None).await.expect("jobs") {
        assert_eq!(job.creations, 1, "job {} created once", job.id);
    }
    sim.shutdown();
}
