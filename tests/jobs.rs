//! Jobs through the binary against the simulator: submit, run, status, history, retry,
//! cancel, purge, batch files, and the exit codes of a run.

mod common;

use common::*;
use serde_json::Value;

/// The lines of `text` parsed as JSON, one value each.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON value per line"))
        .collect()
}

#[test]
fn submit_run_status_history_cancel_retry_purge() {
    let env = Env::new(quick_sim());
    let numbers = "submit report 2 --param AccountId=9900000 --param TnStatus=Inservice --param TnStatus=Aging --key numbers";
    let first = env.ok(numbers);
    assert_eq!(
        first.stdout,
        "submitted job 1 (key numbers); `reportflow run` downloads it\n"
    );
    let again = env.ok("submit report 2 --param TnStatus=Aging --param AccountId=9900000 --param TnStatus=Inservice --key numbers");
    assert!(
        again
            .stdout
            .contains("job 1 (key numbers) was already submitted"),
        "{again:?}"
    );
    let billing = env.ok("--json submit billing bdr --from 2026-11-01 --to 2026-11-20");
    let billing: Value = serde_json::from_str(&billing.stdout).expect("JSON");
    assert_eq!(billing["key"], "billing-9900000-BDR-2026-11-01-2026-11-20");
    assert_eq!(billing["created"], true);
    env.ok("submit billing MDR --from 2001-03-01 --to 2001-03-31");
    env.ok("submit billing INVOICE --from 2026-10-01 --to 2026-10-31 --key invoice");
    let cancelled = env.ok("cancel invoice");
    assert!(
        cancelled.stdout.contains("requested -> cancelled"),
        "{cancelled:?}"
    );
    assert_eq!(
        env.sim.stats().total_instance_creations(),
        0,
        "submit sends nothing"
    );

    let run = env.ok("run");
    assert!(
        run.stdout
            .contains("run: 3 jobs ended: 2 downloaded, 1 nodata"),
        "{run:?}"
    );
    let folder = format!("files in {}", env.out().display());
    assert!(run.stdout.contains(&folder), "{run:?}");

    let jobs = env.status();
    assert_eq!(jobs.len(), 4);
    for field in [
        "id",
        "key",
        "kind",
        "state",
        "file",
        "bytes",
        "sha256",
        "error",
        "creations",
        "created_at",
        "updated_at",
    ] {
        assert!(jobs[0].get(field).is_some(), "status --json has {field}");
    }
    assert_eq!(in_state(&jobs, "downloaded").len(), 2);
    assert_eq!(in_state(&jobs, "nodata").len(), 1);
    assert_eq!(
        in_state(&jobs, "cancelled")[0]["error"],
        "cancelled by the user"
    );
    assert_eq!(jobs[0]["kind"], "account");
    assert_eq!(jobs[0]["creations"], 1);
    assert_eq!(env.verify_files(&jobs), 2);

    let table = env.ok("status numbers 2");
    assert!(table.stdout.starts_with("ID  KEY"), "{table:?}");
    assert!(table.stdout.contains("2 job(s): 2 downloaded"), "{table:?}");

    let history = env.ok("history numbers");
    for step in ["submit", "create-sending", "create-accepted", "file-stored"] {
        assert!(history.stdout.contains(step), "{step}: {history:?}");
    }
    let steps: Value = serde_json::from_str(&env.ok("history 1 --json").stdout).expect("JSON");
    assert_eq!(steps[0]["to"], "requested");
    let last_step = steps.as_array().and_then(|s| s.last()).map(|s| &s["to"]);
    assert_eq!(last_step, Some(&Value::from("downloaded")));

    let refused = env.line("retry numbers");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("already downloaded; submit a new job"),
        "{refused:?}"
    );
    let nothing = env.ok("run");
    assert!(nothing.stdout.starts_with("nothing to do"), "{nothing:?}");

    let retried = env.ok("retry invoice");
    assert!(
        retried.stdout.contains("cancelled -> requested"),
        "{retried:?}"
    );
    let events = json_lines(&env.ok("run --json").stdout);
    assert_eq!(events[0]["event"], "run_started");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "changed" && e["to"] == "downloaded")
    );
    let last = events.last().expect("events");
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["ended"]["downloaded"], 1);
    assert_eq!(last["exit_code"], 0);

    let purged = env.ok("purge --older-than 0");
    assert!(purged.stdout.starts_with("purged 4 job(s)"), "{purged:?}");
    assert!(env.status().is_empty());
    let file = jobs[0]["file"].as_str().expect("file");
    assert!(
        std::path::Path::new(file).exists(),
        "purge leaves files alone"
    );
}

#[test]
fn a_run_with_a_failed_job_exits_3() {
    let env = Env::new(quick_sim());
    // Report 16 requires UcAccount: the upstream refuses the create with 400/19032.
    env.ok("submit report 16 --param AccountId=9900000");
    env.ok("submit report 4 --param AccountId=9900000");
    let run = env.line("run");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("1 downloaded, 1 failed"), "{run:?}");
    assert!(run.stderr.contains("some jobs ended failed"), "{run:?}");
    let failed = env.ok("--json status --state failed");
    let failed: Value = serde_json::from_str(&failed.stdout).expect("JSON");
    let error = failed[0]["error"].as_str().expect("an error");
    assert!(
        error.contains("19032") && error.contains("UcAccount"),
        "{error}"
    );
    env.ok("retry 1");
    assert_eq!(env.line("run").code, 3, "it fails again the same way");
}

const BATCH: &str = r#"# the night's reports
account = "9900000"
out = "nightly"

[[report]]
id = 8
format = "csv"
params = { AccountId = "9900000", StartDate = 2026-11-01, EndDate = 2026-11-30, OrderStatus = ["COMPLETE", "PENDING"] }
key = "port-outs"

[[report]]
id = 47
params = { AccountId = 9900000, InactiveDays = 90 }

[[billing]]
type = "BDR"
from = 2026-11-01
to = 2026-11-30
"#;

#[test]
fn a_batch_file_is_submitted_whole_and_run_into_its_folder() {
    let env = Env::new(quick_sim());
    std::fs::write(env.dir.path().join("nightly.toml"), BATCH).expect("write");
    let submitted = env.ok("submit batch nightly.toml");
    let says = "submitted 3 job(s) (3 new) from nightly.toml";
    assert!(submitted.stdout.contains(says), "{submitted:?}");
    let again = env.ok("submit batch nightly.toml");
    assert!(
        again.stdout.contains("submitted 3 job(s) (0 new)"),
        "{again:?}"
    );
    let run = env.run_with(&[("REPORTFLOW_OUT", None)], &["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let jobs = env.status();
    assert_eq!(in_state(&jobs, "downloaded").len(), 3, "{jobs:?}");
    let folder = env.dir.path().join("nightly").display().to_string();
    for job in &jobs {
        let file = job["file"].as_str().expect("file");
        assert!(file.starts_with(&folder), "{file} is in the batch's folder");
    }
}

/// Exit 2 with these `error:` lines, in this order.
fn assert_batch_errors(ran: &Ran, starts: &[&str]) {
    assert_eq!(ran.code, 2, "{ran:?}");
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), starts.len(), "{ran:?}");
    for (line, start) in lines.iter().zip(starts) {
        assert!(
            line.starts_with(&format!("error: {start}")),
            "{start}: {ran:?}"
        );
    }
}

#[test]
fn a_bad_batch_file_reports_every_problem_with_its_line_and_stores_nothing() {
    let env = Env::new(quick_sim());
    let bad = r#"account = "9900000"

[[report]]
id = 8
format = "docx"
params = { AccountId = "9900000", StartDate = "2026-11-01" }

[[report]]
id = 2
expires = 2020-01-01

[[billing]]
type = "BDR"
from = 2026-11-30
to = 2026-11-01
"#;
    std::fs::write(env.dir.path().join("bad.toml"), bad).expect("write");
    assert_batch_errors(
        &env.line("submit batch bad.toml"),
        &[
            "bad.toml:5: the output format \"docx\" is unknown",
            "bad.toml:10: the expiry date 2020-01-01 is in the past",
            "bad.toml:14: the date range starts on 2026-11-30",
        ],
    );
    let typo = "account = \"1\"\n[[billing]]\ntype = \"BDR\"\nform = 2026-11-01\nto = 2026-11-02\n";
    std::fs::write(env.dir.path().join("typo.toml"), typo).expect("write");
    assert_batch_errors(
        &env.line("submit batch typo.toml"),
        &["typo.toml:4: unknown field `form`"],
    );
    assert_batch_errors(
        &env.line("submit batch nowhere.toml"),
        &["cannot read the batch file nowhere.toml"],
    );
    assert!(!env.store().exists(), "nothing stored");

    // A key that names another job in the store is found before anything is stored.
    env.ok("submit billing MDR --from 2026-11-01 --to 2026-11-02 --key port-outs");
    std::fs::write(env.dir.path().join("nightly.toml"), BATCH).expect("write");
    assert_batch_errors(
        &env.line("submit batch nightly.toml"),
        &["nightly.toml:6: the key \"port-outs\" already names job 1"],
    );
    assert_eq!(env.status().len(), 1, "nothing more stored");
}
