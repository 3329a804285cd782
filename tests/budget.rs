//! Guarantee 6 through the binary: `reportflow run` against an upstream that never confirms a
//! create (the simulator resets every create of one account before applying it: nothing is
//! created, no answer comes back) gives up on those jobs after their create budget, with the
//! default retry policy, and exits 3 within the budget's time, though killed with SIGKILL in
//! the middle and run again; another account's job in the same run completes. `status` then
//! shows each failed job with the number of creates sent and what to do.

mod common;

use common::*;
use reportflow_core::RetryPolicy;
use reportflow_sim::{Endpoint, Fault, FaultPlan, SimConfig};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// An account whose creates go through.
const LIVE: &str = "1234567";

#[test]
fn a_run_against_an_upstream_that_never_confirms_exits_3_within_the_budget() {
    let env = Env::new(SimConfig {
        faults: FaultPlan::none().on_account(
            ACCOUNT,
            Endpoint::Create,
            Fault::ConnectionReset,
            1.0,
        ),
        ..quick_sim()
    });
    env.ok("submit report 4 --param AccountId=9900000");
    env.ok("submit billing BDR --from 2026-01-01 --to 2026-01-31");
    env.ok(&format!(
        "--account {LIVE} submit report 4 --param AccountId={LIVE}"
    ));
    let policy = RetryPolicy::default();
    let dropped = || env.sim.stats().status_count(Endpoint::Create, 0);
    let started = Instant::now();

    // The first run is killed once the simulator has dropped three creates.
    let mut first = env
        .cmd()
        .args(["run", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run starts");
    while dropped() < 3 {
        assert!(
            first.try_wait().expect("wait").is_none(),
            "the run ended before its budget"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "no creates");
        std::thread::sleep(Duration::from_millis(10));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let at_kill = dropped();

    // The second run carries on with the counts of the first.
    let second = env.run(&["run"]);
    let took = started.elapsed();
    assert_eq!(second.code, 3, "{second:?}");
    let budget = u64::from(policy.max_unconfirmed_creates);
    assert!(
        dropped() <= 2 * budget,
        "{} creates for two jobs with a budget of {budget} each",
        dropped()
    );
    assert!(dropped() > at_kill, "the second run went on");
    let most = Duration::from_millis(policy.create_budget_ms()) + Duration::from_secs(30);
    assert!(took <= most, "{took:?} for a budget of {most:?}");
    assert!(
        second.stderr.contains("some jobs ended failed"),
        "{second:?}"
    );

    let jobs = env.status();
    let failed = in_state(&jobs, "failed");
    assert_eq!(failed.len(), 2, "{jobs:#?}");
    for job in &failed {
        assert_eq!(job["creations"], 8, "{job}");
        let error = job["error"].as_str().expect("an error");
        for part in [
            "8 create request(s) were sent in attempt 1 and none was confirmed",
            "the last error:",
            "check that the upstream is reachable",
            "`reportflow retry",
        ] {
            assert!(error.contains(part), "{error}");
        }
    }
    assert_eq!(in_state(&jobs, "downloaded").len(), 1, "{jobs:#?}");
    let table = env.ok("status --state failed");
    assert!(
        table.stdout.contains("8 create request(s) were sent"),
        "{}",
        table.stdout
    );
    println!(
        "never-confirming upstream: exit 3 after {:.1} s (killed once after {at_kill} dropped creates), {} creates dropped for 2 jobs, budget {budget} each",
        took.as_secs_f64(),
        dropped()
    );
}
