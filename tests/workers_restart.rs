//! The database restarted (`pg_ctl restart`) under running `reportflow` workers: they wait for
//! it and resume, and nothing is lost or created twice. One test in this binary: it owns the
//! test server, which it restarts.

mod common;
mod harness;

use common::{ACCOUNT, Env};
use harness::*;
use reportflow_sim::{SimConfig, SizeRange};
use std::time::{Duration, Instant};

#[test]
fn workers_wait_for_a_restarted_database_and_resume() {
    let db = reportflow_testpg::fresh_database();
    let server = reportflow_testpg::server().expect("the test server");
    let env = Env::new(SimConfig {
        processing_time: Duration::from_millis(500),
        billing_processing_time: Duration::from_millis(500),
        processing_jitter: Duration::from_millis(1_500),
        file_size: SizeRange::between(1_000, 20_000),
        ..SimConfig::default()
    });
    let dir = env.dir.path().to_path_buf();
    let mut batch = BatchText::new(ACCOUNT);
    for site in 1..=20 {
        batch.report(site);
    }
    for day in 1..=8 {
        let day = format!("2024-02-{day:02}");
        batch.billing("BDR", &day, &day);
    }
    let file = dir.join("jobs.toml");
    std::fs::write(&file, batch.text()).expect("write the batch");
    let submitted = env.run_with(
        &[("REPORTFLOW_STORE", Some(&db.url))],
        &["submit", "batch", &file.display().to_string()],
    );
    assert_eq!(submitted.code, 0, "{submitted:?}");
    let out = dir.join("out");
    let mut workers: Vec<_> = (0..2)
        .map(|n| {
            let log = dir.join(format!("worker-{n}.log"));
            let mut cmd = env.cmd();
            cmd.env("REPORTFLOW_STORE", &db.url).args([
                "run",
                "--lease",
                "3",
                "--concurrency",
                "6",
                "--out",
                &out.display().to_string(),
            ]);
            (spawn_logged(&mut cmd, &log), log)
        })
        .collect();
    // Once some work is done, the database goes away and comes back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (snapshot, _) = read_shared(&db.url).expect("the store reads");
        let steps: u64 = snapshot.jobs.values().map(|(j, _)| j.version).sum();
        if steps >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "the workers made no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    let restarted = Instant::now();
    server.restart().expect("pg_ctl restart");
    let restart_took = restarted.elapsed();
    for (child, log) in &mut workers {
        let status = wait_until(child, Instant::now() + Duration::from_secs(120));
        let log_text = std::fs::read_to_string(&*log).unwrap_or_default();
        let Some(status) = status else {
            let _ = child.kill();
            panic!("a worker did not end after the restart:\n{log_text}");
        };
        assert_eq!(
            status.code(),
            Some(0),
            "a worker rode out the restart and ended with every job done:\n{log_text}"
        );
    }
    let (last, leases) = read_shared(&db.url).expect("the store reads");
    assert_eq!(last.jobs.len(), 28, "nothing lost");
    // A create cut off by the restart (its answer never recorded) may be sent again for a
    // billing report; it is counted, and an account report is searched for first.
    let figures = end_checks_in(&env.sim, &last, &[&out], &[], true, &|_| false);
    assert_eq!(figures.downloaded, 28);
    for (id, steps) in &leases {
        check_one_lease_at_a_time(*id, steps).unwrap_or_else(|e| panic!("{e}"));
    }
    println!(
        "restart: pg_ctl restart took {restart_took:?}; 28 jobs downloaded, {} account and {} billing creations, {} billing answers lost to the restart",
        figures.account_creations, figures.billing_creations, figures.billing_answers_lost
    );
}
