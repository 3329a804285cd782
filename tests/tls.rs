//! The CLI over TLS against the simulator: the CA is taken from `--ca-file`,
//! `REPORTFLOW_CA_FILE` or `SSL_CERT_FILE`; without it (or with a certificate for another host
//! name) the run fails with the clear error, before any job is touched; `sim --tls` writes its
//! CA where it says.

mod common;
mod harness;

use common::*;
use harness::read_store;
use reportflow_sim::{SimConfig, SimTls};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// The quick simulator over TLS, OAuth2 only, account files behind a 307 to its second origin.
fn tls_sim(tls: SimTls) -> SimConfig {
    SimConfig {
        tls: Some(tls),
        basic_auth: false,
        redirect_files: true,
        ..quick_sim()
    }
}

/// The OAuth2 variables for `env`'s simulator (Basic is refused by it).
fn oauth2(env: &Env) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("BANDWIDTH_USERNAME", None),
        ("BANDWIDTH_PASSWORD", None),
        ("BANDWIDTH_CLIENT_ID", Some("demo-client".into())),
        ("BANDWIDTH_CLIENT_SECRET", Some("demo-client-secret".into())),
        ("BANDWIDTH_TOKEN_URL", Some(env.sim.token_url())),
    ]
}

fn run_with(env: &Env, extra: &[(&str, Option<&str>)], args: &[&str]) -> Ran {
    let base = oauth2(env);
    let mut vars: Vec<(&str, Option<&str>)> =
        base.iter().map(|(n, v)| (*n, v.as_deref())).collect();
    vars.extend_from_slice(extra);
    env.run_with(&vars, args)
}

/// Variables to set (`Some`) or remove (`None`).
type Vars<'a> = Vec<(&'a str, Option<&'a str>)>;

const SUBMIT: [&str; 3] = [
    "submit billing BDR --from 2026-05-01 --to 2026-05-31",
    "submit report 4 --param AccountId=9900000 --param SiteId=1",
    "submit report 2 --param AccountId=9900000",
];

#[test]
fn the_ca_is_taken_from_the_flag_the_variable_or_ssl_cert_file() {
    let env = Env::new(tls_sim(SimTls::default()));
    let ca = env
        .ca_file()
        .expect("a TLS simulator")
        .display()
        .to_string();
    let flag = ["--ca-file", ca.as_str()];
    let ways: [(&str, Vars, Vec<&str>); 3] = [
        (
            "--ca-file",
            vec![("REPORTFLOW_CA_FILE", None)],
            flag.to_vec(),
        ),
        ("REPORTFLOW_CA_FILE", vec![], vec![]),
        (
            "SSL_CERT_FILE",
            vec![("REPORTFLOW_CA_FILE", None), ("SSL_CERT_FILE", Some(&ca))],
            vec![],
        ),
    ];
    for (round, (way, vars, flags)) in ways.into_iter().enumerate() {
        let list: Vec<&str> = flags.iter().copied().chain(["reports", "list"]).collect();
        let listed = run_with(&env, &vars, &list);
        assert_eq!(listed.code, 0, "{way}: {listed:?}");
        assert!(
            listed.stdout.contains("Phone Number Inventory"),
            "{listed:?}"
        );
        let line = SUBMIT[round];
        assert_eq!(env.line(line).code, 0, "{line}");
        let run: Vec<&str> = flags.iter().copied().chain(["run"]).collect();
        let ran = run_with(&env, &vars, &run);
        assert_eq!(ran.code, 0, "{way}: {ran:?}");
    }
    let jobs = env.status();
    assert_eq!(in_state(&jobs, "downloaded").len(), 3, "{jobs:?}");
    assert_eq!(env.verify_files(&jobs), 3);
    let stats = env.sim.stats();
    assert_eq!(
        stats.status_count(reportflow_sim::Endpoint::RedirectedFile, 200),
        2
    );
    assert_eq!(
        stats.status_count(reportflow_sim::Endpoint::RedirectedFile, 400),
        0
    );
    assert_eq!(stats.tls_handshake_failures, 0);
}

/// A run that must fail on the certificate: exit 1, one error line saying `says`, and the
/// store exactly as it was, no file written, no request served.
fn assert_refused_before_any_job(env: &Env, vars: &[(&str, Option<&str>)], says: &[&str]) {
    for line in SUBMIT {
        assert_eq!(env.line(line).code, 0, "{line}");
    }
    let before = read_store(&env.store()).expect("the store opens");
    let ran = run_with(env, vars, &["run"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .starts_with("error: the TLS certificate of 127.0.0.1:"),
        "{ran:?}"
    );
    assert_eq!(ran.stderr.lines().count(), 1, "one line: {ran:?}");
    for needle in says {
        assert!(ran.stderr.contains(needle), "says {needle:?}: {ran:?}");
    }
    assert_eq!(
        read_store(&env.store()).expect("opens"),
        before,
        "nothing changed"
    );
    assert!(final_or_part_files(env).is_empty(), "no file written");
    // The simulator counts the failed handshake when it reads the client's alert, which can
    // come a moment after the command has exited: wait for it (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env.sim.stats().tls_handshake_failures == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let stats = env.sim.stats();
    assert_eq!(stats.requests.values().sum::<u64>(), 0, "{stats:?}");
    assert!(stats.tls_handshake_failures >= 1, "{stats:?}");
}

fn final_or_part_files(env: &Env) -> Vec<std::path::PathBuf> {
    harness::all_files(&env.out())
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn an_unknown_ca_fails_the_run_saying_what_failed_and_what_to_do() {
    let env = Env::new(tls_sim(SimTls::default()));
    assert_refused_before_any_job(
        &env,
        &[("REPORTFLOW_CA_FILE", None)],
        &[
            "unknown issuer",
            "--ca-file",
            "REPORTFLOW_CA_FILE",
            "SSL_CERT_FILE",
        ],
    );
    // The catalogue says the same.
    let listed = run_with(&env, &[("REPORTFLOW_CA_FILE", None)], &["reports", "list"]);
    assert_eq!(listed.code, 1, "{listed:?}");
    assert!(listed.stderr.contains("unknown issuer"), "{listed:?}");
}

#[test]
fn a_certificate_for_another_host_fails_the_run_the_same_way() {
    let env = Env::new(tls_sim(SimTls {
        names: vec!["reports.example.com".into()],
        ..SimTls::default()
    }));
    assert_refused_before_any_job(
        &env,
        &[],
        &[
            "not valid for that name",
            "reports.example.com",
            "--base-url",
        ],
    );
}

#[test]
fn a_ca_file_that_holds_no_certificate_is_refused_at_once() {
    let env = Env::new(tls_sim(SimTls::default()));
    let bogus = env.dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").expect("write");
    let bogus = bogus.display().to_string();
    let ran = run_with(
        &env,
        &[("REPORTFLOW_CA_FILE", Some(&bogus))],
        &["reports", "list"],
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("holds no certificate"), "{ran:?}");
    assert!(ran.stderr.contains(&bogus), "{ran:?}");
}

#[test]
fn sim_tls_writes_its_ca_and_prints_where() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    let mut child = bare_cmd(dir.path())
        .args([
            "--json",
            "sim",
            "--tls",
            "--processing-ms",
            "10",
            "--ca-out",
        ])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    let read = BufReader::new(stdout).read_line(&mut first);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("a line");
    let started: serde_json::Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(started["event"], "sim_started", "{first}");
    assert!(
        started["base_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.1:")),
        "{first}"
    );
    assert_eq!(started["ca_file"].as_str(), ca.to_str(), "{first}");
    let pem = std::fs::read_to_string(&ca).expect("the CA was written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
}
