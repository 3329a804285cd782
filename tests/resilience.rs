//! The binary under stress: `run` killed with SIGKILL and run again, the standalone simulator,
//! and the demo. (`serve` and `run --watch` under SIGTERM and SIGKILL: `tests/serve.rs`.)

mod common;

use common::*;
use reportflow_sim::{SimConfig, SizeRange};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn sigterm(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("the process did not end within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finished_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".part"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn run_killed_with_sigkill_resumes_and_completes_every_job() {
    let env = Env::new(SimConfig {
        processing_time: Duration::from_millis(300),
        billing_processing_time: Duration::from_millis(300),
        processing_jitter: Duration::from_millis(1_500),
        file_size: SizeRange::between(1_000_000, 3_000_000),
        billing_file_size: SizeRange::between(200_000, 1_000_000),
        ..SimConfig::default()
    });
    for site in 1..=12 {
        env.ok(&format!(
            "submit report 4 --param AccountId=9900000 --param SiteId={site}"
        ));
    }
    for t in [
        "BDR", "MDR", "INVOICE", "STMTBDR", "DIDSNAP", "CNAMBDR", "CONFBDR", "AMDBDR",
    ] {
        env.ok(&format!(
            "submit billing {t} --from 2026-10-01 --to 2026-10-31"
        ));
    }
    let mut child = env
        .cmd()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run starts");
    // Kill it once some files are in place and others are still on their way.
    let start = Instant::now();
    while finished_files(&env.out()) < 3 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed mid-run");
    let done_before = finished_files(&env.out());
    assert!(
        done_before < 20,
        "the kill came before the end ({done_before} files)"
    );

    let again = env.run(&["run"]);
    assert_eq!(again.code, 0, "{again:?}");
    let jobs = env.status();
    assert_eq!(in_state(&jobs, "downloaded").len(), 20, "{jobs:?}");
    assert_eq!(env.verify_files(&jobs), 20);
    assert_eq!(finished_files(&env.out()), 20, "one file per job");
    let stats = env.sim.stats();
    assert_eq!(
        stats.total_instance_creations(),
        12,
        "each account report created once"
    );
    for job in &jobs {
        assert_eq!(job["attempt"], 1);
    }
}

#[test]
fn the_standalone_simulator_serves_the_commands_until_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sim = bare_cmd(dir.path())
        .args(["sim", "--json", "--processing-ms", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim starts");
    let mut lines = BufReader::new(sim.stdout.take().expect("stdout")).lines();
    let started: Value =
        serde_json::from_str(&lines.next().expect("a line").expect("text")).expect("JSON");
    assert_eq!(started["event"], "sim_started");
    let value = |name: &str| started[name].as_str().expect("a string").to_string();
    let cmd = |line: &str| -> Ran {
        bare_cmd(dir.path())
            .env("REPORTFLOW_BASE_URL", value("base_url"))
            .env("BANDWIDTH_ACCOUNT_ID", value("account"))
            .env("BANDWIDTH_CLIENT_ID", value("client_id"))
            .env("BANDWIDTH_CLIENT_SECRET", value("client_secret"))
            .env("BANDWIDTH_TOKEN_URL", value("token_url"))
            .args(line.split_whitespace())
            .output()
            .expect("runs")
            .into()
    };
    assert_eq!(cmd("reports list").code, 0);
    assert_eq!(
        cmd("submit billing BDR --from 2026-10-01 --to 2026-10-31").code,
        0
    );
    let run = cmd("run");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("1 downloaded"), "{run:?}");
    sigterm(&sim);
    assert_eq!(
        wait_with_deadline(&mut sim, Duration::from_secs(10)).code(),
        Some(0)
    );
    let stopped: Value =
        serde_json::from_str(&lines.next().expect("a line").expect("text")).expect("JSON");
    assert_eq!(stopped["event"], "sim_stopped");
}

#[test]
fn the_demo_completes_and_shows_its_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ran = run_bare(dir.path(), &["demo", "--jobs", "2", "--out", "demo"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains("42 jobs ended: 42 downloaded; 42 files verified"),
        "{ran:?}"
    );
    let folder = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("files in "))
        .expect("the output folder is shown");
    assert!(
        folder.starts_with(&dir.path().join("demo").display().to_string()),
        "{folder}"
    );
    assert_eq!(
        finished_files(std::path::Path::new(folder)),
        42 + 1,
        "42 files and .store"
    );
}
