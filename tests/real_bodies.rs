//! The CLI against the simulator serving Bandwidth's own bodies (from its SDK tests and API
//! spec, kept in crates/wire/tests/fixtures/bandwidth/), a whole answer that cannot be read,
//! and a cut one: what a user sees, how fast, and what a printed command does when pasted.

mod common;

use common::{ACCOUNT, Env, quick_sim};
use reportflow_sim::{Endpoint, Fault, FaultPlan, FixedAnswer, SimConfig};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A real body from Bandwidth's repositories.
fn bandwidth_body(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/wire/tests/fixtures/bandwidth")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A simulator answering `GET .../reports/123` with the real body `name`.
fn serving_detail(name: &str) -> Env {
    Env::new(SimConfig {
        fixed_answers: vec![FixedAnswer::get(
            format!("/accounts/{ACCOUNT}/reports/123"),
            bandwidth_body(name),
        )],
        ..quick_sim()
    })
}

#[test]
fn reports_show_reads_the_sdk_detail_and_says_what_the_upstream_did_not_state() {
    // php-bandwidth-iris's body: root <ReportsResponse>, a second parameter with only a name.
    let env = serving_detail("php-report-detail-123.xml");
    let show = env.run(&["reports", "show", "123"]);
    assert_eq!(show.code, 0, "{show:?}");
    let row = |name: &str| {
        show.stdout
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("a row for {name}: {show:?}"))
            .to_string()
    };
    let first = row("Report Parameter 1");
    for cell in [
        "Enum",
        "no",
        "yes",
        "Value1 (Display Value1)",
        "Report Parameter 1 Description",
        "Report Parameter 1 Help Text",
    ] {
        assert!(first.contains(cell), "{cell} in {first:?}");
    }
    let second = row("Report Parameter 2");
    assert_eq!(
        second.matches("not stated").count(),
        2,
        "required and multi-select were not stated: {second:?}"
    );
    let cells: Vec<&str> = second.split("  ").map(str::trim).collect();
    assert!(!cells.contains(&"no"), "{second:?}");

    let json = env.run(&["--json", "reports", "show", "123"]);
    let detail: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(detail["parameters"][0]["required"], false);
    assert_eq!(
        detail["parameters"][0]["values"][0]["display_name"],
        "Display Value1"
    );
    assert!(detail["parameters"][1]["required"].is_null(), "{detail}");
    assert!(
        detail["parameters"][1]["multi_select"].is_null(),
        "{detail}"
    );
}

#[test]
fn the_sample_command_for_a_name_with_spaces_is_accepted_when_pasted_into_a_shell() {
    // The spec's body: a required String parameter named "Report Parameter 1".
    let env = serving_detail("docs-report-detail-123.xml");
    let show = env.run(&["reports", "show", "123"]);
    assert_eq!(show.code, 0, "{show:?}");
    let sample = show
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("submit with"))
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("a sample command: {show:?}"))
        .to_string();
    assert_eq!(
        sample,
        "reportflow submit report 123 --param 'Report Parameter 1=all'"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_reportflow"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("the binary's folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // A shell with the environment the binary gets in these tests (store, simulator, account).
    let binary = env.cmd();
    let mut sh = Command::new("sh");
    sh.current_dir(env.dir.path()).env("PATH", path);
    for (name, value) in binary.get_envs() {
        match value {
            Some(value) => sh.env(name, value),
            None => sh.env_remove(name),
        };
    }
    let pasted: common::Ran = sh.args(["-c", &sample]).output().expect("sh runs").into();
    assert_eq!(pasted.code, 0, "{sample}: {pasted:?}");
    assert!(pasted.stdout.starts_with("submitted job 1"), "{pasted:?}");
    // The shell passed the parameter whole: the same request, made without a shell, is the
    // job the pasted line submitted.
    let again = env.run(&[
        "--json",
        "submit",
        "report",
        "123",
        "--param",
        "Report Parameter 1=all",
    ]);
    let again: serde_json::Value = serde_json::from_str(&again.stdout).expect("JSON");
    assert_eq!(
        (&again["id"], &again["created"]),
        (&1.into(), &false.into())
    );
}

#[test]
fn a_whole_answer_that_cannot_be_read_fails_reports_show_after_two_requests() {
    let env = Env::new(SimConfig {
        faults: FaultPlan::none().on(Endpoint::Catalogue, Fault::MalformedXml, 1.0),
        ..quick_sim()
    });
    let started = Instant::now();
    let show = env.run(&["reports", "show", "8"]);
    let took = started.elapsed();
    assert_eq!(show.code, 1, "{show:?}");
    assert_eq!(
        env.sim.stats().requests_to(Endpoint::Catalogue),
        2,
        "asked once more, then gave up: {show:?}"
    );
    // It took 165 s of silent retries before; a generous bound, not a benchmark.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let error = show
        .stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {show:?}"));
    for part in [
        "could not read the report detail XML that GET http://127.0.0.1:",
        "/api/accounts/9900000/reports/8 answered: ",
        "starts \"<?xml version=",
        "<ReportResponse><Status>Rea<dy</Status>",
    ] {
        assert!(error.contains(part), "{part} in {error}");
    }
    // The one retry was said at the default log level, with what, when and why.
    let retry = show
        .stderr
        .lines()
        .find(|line| line.contains("retrying the report detail (GET http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("a retry line: {show:?}"));
    assert!(
        retry.contains(" ms: could not read the report detail XML"),
        "{retry}"
    );
    assert!(!show.stderr.contains("demo-secret"), "{show:?}");
}

#[test]
fn a_cut_body_is_still_retried_and_each_retry_is_said() {
    let env = Env::new(quick_sim());
    env.sim.script(
        Endpoint::Catalogue,
        vec![Fault::CutShortBody, Fault::CutShortBody],
    );
    let show = env.run(&["reports", "show", "8"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert!(show.stdout.contains("Port-out Orders"), "{show:?}");
    assert_eq!(env.sim.stats().requests_to(Endpoint::Catalogue), 3);
    let retries = show
        .stderr
        .lines()
        .filter(|line| line.contains("retrying the report detail (GET http://127.0.0.1:"))
        .count();
    assert_eq!(retries, 2, "{show:?}");
}
