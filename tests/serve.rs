//! `reportflow serve` as pipelines and supervisors meet it, every process a real `reportflow`
//! against the simulator over loopback: concurrent submitters and readers through the control
//! socket, a killed and a stopped engine, SIGTERM, the HTTP endpoints (`/metrics` parsed by a
//! Prometheus text-format parser and checked against what the simulator counted), a submit
//! through the socket against one straight into the store, and `run --watch` as `serve`.

mod common;
mod serving;

use common::*;
use reportflow_core::{JobId, JobState, Millis};
use reportflow_sim::{Endpoint, Fault, SimConfig, SizeRange};
use serde_json::Value;
use serving::{Serving, all_downloaded, http, metric, wait_for_jobs};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The socket a serving engine answers on.
fn socket_of(store: &Path) -> PathBuf {
    store.join("reportflow.sock")
}

#[test]
fn three_pipelines_submit_and_look_while_serve_runs() {
    let env = Env::new(quick_sim());
    let mut serving = Serving::start(&env, &[]);
    // A second engine on the store is refused naming the one that runs.
    let second = env.run(&["run"]);
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        second.stderr.contains(&format!(
            "is held by the engine (pid {})",
            serving.child.id()
        )),
        "{second:?}"
    );
    let done = AtomicBool::new(false);
    let slowest = Mutex::new(Duration::ZERO);
    let (statuses, twice) = std::thread::scope(|s| {
        let looker = s.spawn(|| {
            let mut looks = 0;
            while !done.load(Ordering::Relaxed) {
                let ran = env.run(&["status", "--json"]);
                assert_eq!(ran.code, 0, "status fails while serve runs: {ran:?}");
                serde_json::from_str::<Value>(&ran.stdout).expect("JSON");
                looks += 1;
            }
            looks
        });
        let pipelines: Vec<_> = (0..3)
            .map(|p| {
                let (env, slowest) = (&env, &slowest);
                s.spawn(move || {
                    for i in 0..5 {
                        let day = p * 5 + i + 1;
                        let started = Instant::now();
                        let ran = env.line(&format!(
                            "submit billing BDR --from 2026-10-{day:02} --to 2026-10-{day:02} --label pipeline-{p}"
                        ));
                        let took = started.elapsed();
                        assert_eq!(ran.code, 0, "{ran:?}");
                        assert!(took < Duration::from_secs(10), "a submit took {took:?}");
                        let mut slowest = slowest.lock().expect("slowest");
                        *slowest = (*slowest).max(took);
                    }
                })
            })
            .collect();
        // The same key at once from two processes is one job.
        let same = "submit billing MDR --from 2026-10-01 --to 2026-10-31 --key same-night --json";
        let both: Vec<_> = (0..2).map(|_| s.spawn(|| env.line(same))).collect();
        let twice: Vec<Ran> = both.into_iter().map(|t| t.join().expect("joins")).collect();
        for pipeline in pipelines {
            pipeline.join().expect("a pipeline");
        }
        done.store(true, Ordering::Relaxed);
        (looker.join().expect("the looker"), twice)
    });
    assert!(statuses > 0, "status ran meanwhile");
    let created: Vec<bool> = twice
        .iter()
        .map(|ran| {
            assert_eq!(ran.code, 0, "{ran:?}");
            let view: Value = serde_json::from_str(&ran.stdout).expect("JSON");
            view["created"].as_bool().expect("created")
        })
        .collect();
    assert_eq!(
        created.iter().filter(|c| **c).count(),
        1,
        "one of the two created the job"
    );
    let jobs = wait_for_jobs(|| env.status(), Duration::from_secs(60), all_downloaded(16));
    assert_eq!(
        jobs.iter().filter(|j| j["key"] == "same-night").count(),
        1,
        "one job for the key"
    );
    assert_eq!(env.verify_files(&jobs), 16);
    let log = serving.log();
    assert!(log.contains("submitted (control socket)"), "{log}");
    assert_eq!(serving.stop(Duration::from_secs(10)).code(), Some(0));
    assert!(
        !socket_of(&env.store()).exists(),
        "the socket goes with serve"
    );
    eprintln!(
        "slowest submit through the socket: {:?}; {statuses} status runs meanwhile",
        *slowest.lock().expect("slowest")
    );
}

#[test]
fn a_killed_engine_leaves_clear_errors_and_the_next_serve_resumes_every_job() {
    let env = Env::new(SimConfig {
        processing_time: Duration::from_millis(600),
        billing_processing_time: Duration::from_millis(600),
        ..quick_sim()
    });
    for day in 1..=4 {
        env.ok(&format!(
            "submit billing BDR --from 2026-10-{day:02} --to 2026-10-{day:02}"
        ));
    }
    let mut serving = Serving::start(&env, &[]);
    // A stopped engine: a command gives up within its bounds, with a clear error.
    serving.signal("STOP");
    let started = Instant::now();
    let stuck = env.run(&["status"]);
    let took = started.elapsed();
    serving.signal("CONT");
    assert_eq!(stuck.code, 1, "{stuck:?}");
    assert!(stuck.stderr.contains("did not answer within"), "{stuck:?}");
    assert!(took < Duration::from_secs(8), "status waited {took:?}");
    // Commands keep talking to the engine while it is killed.
    let stop = AtomicBool::new(false);
    let submitted = std::thread::scope(|s| {
        let talker = s.spawn(|| {
            let mut accepted = Vec::new();
            let mut day = 10;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("talk-{day}");
                let ran = env.line(&format!(
                    "submit billing MDR --from 2026-10-{day:02} --to 2026-10-{day:02} --key {key}"
                ));
                match ran.code {
                    0 => accepted.push(key),
                    1 => assert!(
                        ran.stderr.contains("control socket") || ran.stderr.contains("in use"),
                        "a clear error: {ran:?}"
                    ),
                    _ => panic!("{ran:?}"),
                }
                let status = env.run(&["status"]);
                assert!(
                    status.code == 0 || status.stderr.contains("control socket"),
                    "{status:?}"
                );
                day += 1;
                if day > 28 {
                    break;
                }
            }
            accepted
        });
        std::thread::sleep(Duration::from_millis(400));
        serving.signal("KILL");
        serving.wait(Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        talker.join().expect("the talker")
    });
    // An engine killed with nobody talking to it leaves its socket behind: the next serve
    // removes it and resumes every job.
    let mut second = Serving::start(&env, &[]);
    second.signal("KILL");
    second.wait(Duration::from_secs(5));
    assert!(socket_of(&env.store()).exists(), "a stale socket is left");
    let mut third = Serving::start(&env, &[]);
    assert!(
        third.log().contains("removed the stale control socket"),
        "{}",
        third.log()
    );
    let jobs = env.status();
    let n = jobs.len();
    for key in &submitted {
        assert!(
            jobs.iter().any(|j| j["key"] == key.as_str()),
            "an accepted submit is stored: {key}"
        );
    }
    let jobs = wait_for_jobs(|| env.status(), Duration::from_secs(60), all_downloaded(n));
    assert_eq!(env.verify_files(&jobs), n);
    assert_eq!(third.stop(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn sigterm_stops_within_the_bound_leaving_no_part_file_and_every_job_resumable() {
    // Files of two blocks: a file smaller than one block is received in memory and never has
    // a temporary file, and this test watches for one.
    let env = Env::new(SimConfig {
        file_size: SizeRange::fixed(2 * 1024 * 1024),
        billing_file_size: SizeRange::fixed(2 * 1024 * 1024),
        ..quick_sim()
    });
    for day in 1..=3 {
        env.ok(&format!(
            "submit billing BDR --from 2026-10-{day:02} --to 2026-10-{day:02}"
        ));
    }
    // The first download stalls half way: its step is in flight when the stop comes.
    env.sim.script(Endpoint::File, vec![Fault::StalledBody]);
    let mut serving = Serving::start(&env, &["--stop-timeout", "3", "--listen", "127.0.0.1:0"]);
    let addr = serving.http_addr();
    let start = Instant::now();
    while part_files(&env.out()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no download started:\n{}",
            serving.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(http(&addr, "GET", "/healthz").0, 200);
    serving.signal("TERM");
    let stopping = Instant::now();
    // While the steps in flight get their time, the supervisor sees the engine stopping (once
    // the signal has been handled: asked again for up to 2.5 s of the 3 s bound, which a
    // loaded machine may need before the signal is handled; the process is still up then).
    let (health, body) = loop {
        let (health, body) = http(&addr, "GET", "/healthz");
        if health == 503 || stopping.elapsed() > Duration::from_millis(2_500) {
            break (health, body);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(health, 503, "{body}");
    assert!(body.contains("stopping"), "{body}");
    let status = serving.wait(Duration::from_secs(8));
    let took = stopping.elapsed();
    assert_eq!(status.code(), Some(0), "{}", serving.log());
    assert!(took < Duration::from_secs(8), "stopped after {took:?}");
    assert!(serving.log().contains("abandoning the steps still going"));
    assert_eq!(
        part_files(&env.out()),
        Vec::<String>::new(),
        "no .part file left"
    );
    assert!(!socket_of(&env.store()).exists());
    // Every job resumes.
    let run = env.run(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let jobs = env.status();
    assert!(all_downloaded(3)(&jobs), "{jobs:#?}");
    assert_eq!(env.verify_files(&jobs), 3);
}

#[test]
fn health_metrics_and_jobs_over_http_match_what_the_simulator_counted() {
    let env = Env::new(quick_sim());
    let mut serving = Serving::start(&env, &["--listen", "127.0.0.1:0"]);
    let addr = serving.http_addr();
    env.ok("submit billing BDR --from 2026-10-01 --to 2026-10-31");
    env.ok("submit billing MDR --from 2026-10-01 --to 2026-10-31");
    env.ok("submit report 4 --param AccountId=9900000");
    let jobs = wait_for_jobs(|| env.status(), Duration::from_secs(60), all_downloaded(3));

    let (code, body) = http(&addr, "GET", "/healthz");
    assert_eq!(code, 200, "{body}");
    let health: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "ok");

    let (code, text) = http(&addr, "GET", "/metrics");
    assert_eq!(code, 200, "{text}");
    let value = |name: &str, labels: &[(&str, &str)]| metric(&text, name, labels);
    let sim = env.sim.stats();
    let requests = "reportflow_upstream_requests_total";
    for (endpoint, sim_endpoint) in [
        ("create", Endpoint::Create),
        ("status", Endpoint::Status),
        ("file", Endpoint::File),
        ("catalogue", Endpoint::Catalogue),
    ] {
        assert_eq!(
            value(requests, &[("endpoint", endpoint)]) as u64,
            sim.requests_to(sim_endpoint),
            "{endpoint} requests\n{text}"
        );
    }
    assert_eq!(
        value(requests, &[("endpoint", "create"), ("class", "2xx")]) as u64,
        sim.status_count(Endpoint::Create, 201),
        "creates answered 201"
    );
    assert_eq!(
        value("reportflow_downloaded_bytes_total", &[]) as u64,
        sim.bytes_served
    );
    assert_eq!(value("reportflow_jobs", &[("state", "downloaded")]), 3.0);
    assert_eq!(value("reportflow_jobs", &[("state", "requested")]), 0.0);
    assert_eq!(
        value(
            "reportflow_transitions_total",
            &[("from", "requested"), ("to", "created")]
        ),
        3.0
    );
    assert_eq!(value("reportflow_create_duration_seconds_count", &[]), 3.0);
    assert_eq!(
        value("reportflow_download_duration_seconds_count", &[]),
        3.0
    );
    assert!(value("reportflow_store_flush_duration_seconds_count", &[]) > 0.0);
    assert_eq!(value("reportflow_oldest_live_job_age_seconds", &[]), 0.0);
    assert_eq!(value("reportflow_retries_total", &[]), 0.0);
    assert_eq!(value("reportflow_rate_limited_total", &[]), 0.0);

    // /jobs is `status --json`; /jobs/ID one of its objects.
    let (code, body) = http(&addr, "GET", "/jobs");
    assert_eq!(code, 200);
    let listed: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(listed, Value::Array(jobs.clone()));
    let (code, body) = http(&addr, "GET", "/jobs/2");
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON"), jobs[1]);
    let key = jobs[0]["key"].as_str().expect("a key");
    let (code, body) = http(&addr, "GET", &format!("/jobs/{key}"));
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON"), jobs[0]);
    let (code, body) = http(&addr, "GET", "/jobs?state=downloaded&label=none");
    assert_eq!((code, body.trim()), (200, "[]"));
    assert_eq!(http(&addr, "GET", "/jobs/99").0, 404);
    assert_eq!(http(&addr, "GET", "/jobs?state=done").0, 400);
    assert_eq!(http(&addr, "GET", "/nothing").0, 404);
    assert_eq!(
        http(&addr, "POST", "/jobs").0,
        405,
        "the endpoints only read"
    );
    assert_eq!(serving.stop(Duration::from_secs(10)).code(), Some(0));
}

/// A job's record with the times of its submit set to zero: what two submits of the same job
/// at different instants must share.
fn timeless(store: &Path, id: JobId) -> Vec<u8> {
    let opened = reportflow_store::Store::open(store).expect("the store opens");
    let mut job = opened.get(id).expect("reads").expect("stored");
    job.submitted_at = Millis(0);
    job.updated_at = Millis(0);
    job.attempt_started_at = Millis(0);
    if let JobState::Requested { next_at, .. } = &mut job.state {
        *next_at = Millis(0);
    }
    let mut history = opened.history(id).expect("history");
    for step in &mut history {
        step.at = Millis(0);
    }
    let mut bytes = reportflow_store::encode_job(store, &job).expect("encodes");
    bytes.extend(format!("{history:?}").into_bytes());
    bytes
}

#[test]
fn a_submit_through_the_socket_stores_the_same_record_as_one_straight_into_the_store() {
    let env = Env::new(quick_sim());
    // A store path longer than a socket address can hold: the socket is reached through the
    // directory's descriptor.
    let long = env.dir.path().join("d".repeat(100)).join("served");
    let direct = env.dir.path().join("direct");
    let submits = [
        "submit billing BDR --range yesterday --tz Europe/Berlin --label nightly",
        "submit report 4 --param AccountId=9900000 --param StartDate=today-7d --key weekly",
    ];
    let mut cmd = env.cmd();
    cmd.env("REPORTFLOW_STORE", &long);
    // The engine drives only another label's jobs: the submitted ones stay as submitted.
    let mut serving = Serving::start_with(cmd, &["--label", "someone-else"]);
    for line in submits {
        let through = env.run_with(
            &[("REPORTFLOW_STORE", Some(long.to_str().expect("utf-8")))],
            &line.split_whitespace().collect::<Vec<_>>(),
        );
        assert_eq!(through.code, 0, "{through:?}");
        let straight = env.run_with(
            &[("REPORTFLOW_STORE", Some(direct.to_str().expect("utf-8")))],
            &line.split_whitespace().collect::<Vec<_>>(),
        );
        assert_eq!(straight.code, 0, "{straight:?}");
        // The same output, but for the closing hint: who downloads the job.
        let (through_head, through_hint) = through.stdout.rsplit_once("; ").expect("a hint");
        let (straight_head, straight_hint) = straight.stdout.rsplit_once("; ").expect("a hint");
        assert_eq!(
            through_head.replace(long.to_str().expect("utf-8"), "STORE"),
            straight_head.replace(direct.to_str().expect("utf-8"), "STORE"),
            "the same output"
        );
        assert!(
            through_hint.starts_with("the engine running on this store (pid "),
            "{through_hint}"
        );
        assert!(
            straight_hint.starts_with("`reportflow run` downloads it"),
            "{straight_hint}"
        );
        let json = |store: &Path| {
            let mut args: Vec<&str> = line.split_whitespace().collect();
            args.push("--json");
            let ran = env.run_with(
                &[("REPORTFLOW_STORE", Some(store.to_str().expect("utf-8")))],
                &args,
            );
            assert_eq!(ran.code, 0, "{ran:?}");
            serde_json::from_str::<Value>(&ran.stdout).expect("JSON")
        };
        assert_eq!(json(&long), json(&direct), "the same JSON, submitted again");
    }
    assert_eq!(
        serving.log().matches("submitted (control socket)").count(),
        2,
        "{}",
        serving.log()
    );
    // Refusals and the other commands: the same exit code, output and error either way.
    for line in [
        "submit billing MDR --from 2026-10-01 --to 2026-10-02 --key weekly",
        "retry 99",
        "retry weekly",
        "cancel weekly",
        "cancel weekly",
        "history weekly",
        "status --state cancelled",
        "status --state requested",
        "purge --older-than 30",
        "submit billing BDR --from 2026-13-01 --to 2026-13-02",
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        let on = |store: &Path| {
            let text = store.to_str().expect("utf-8");
            let ran = env.run_with(&[("REPORTFLOW_STORE", Some(text))], &args);
            let times = |s: &str| {
                s.lines()
                    .map(|l| {
                        // `history` shows when each step was recorded.
                        l.split("  ")
                            .filter(|w| !w.trim_start().starts_with("20"))
                            .collect::<Vec<_>>()
                            .join("  ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    .replace(text, "STORE")
            };
            (ran.code, times(&ran.stdout), times(&ran.stderr))
        };
        let (through, straight) = (on(&long), on(&direct));
        assert_eq!(through, straight, "{line}");
    }
    assert_eq!(serving.stop(Duration::from_secs(10)).code(), Some(0));
    for id in [JobId(1), JobId(2)] {
        assert_eq!(timeless(&long, id), timeless(&direct, id), "job {id}");
    }
}

#[test]
fn run_watch_is_serve() {
    let env = Env::new(quick_sim());
    env.ok("submit billing BDR --from 2026-10-01 --to 2026-10-31");
    let mut child = env
        .cmd()
        .args(["run", "--watch", "--interval", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run --watch starts");
    let start = Instant::now();
    while !socket_of(&env.store()).exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.ok("submit billing MDR --from 2026-10-01 --to 2026-10-31");
    wait_for_jobs(|| env.status(), Duration::from_secs(30), all_downloaded(2));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("waits");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("reads");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--interval has no effect"), "{stderr}");
    assert_eq!(env.verify_files(&env.status()), 2);
}

#[test]
fn the_socket_is_the_owners_alone_and_json_logs_have_a_line_per_change_and_a_summary() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new(quick_sim());
    let mut cmd = env.cmd();
    cmd.arg("--json");
    let mut serving = Serving::start_with(cmd, &["--summary-every", "1"]);
    let socket = std::fs::symlink_metadata(socket_of(&env.store())).expect("the socket");
    assert_eq!(socket.permissions().mode() & 0o777, 0o600, "mode 0600");
    let store = std::fs::metadata(env.store()).expect("the store");
    assert_eq!(socket.uid(), store.uid(), "owned by the store's owner");
    assert_eq!(store.permissions().mode() & 0o077, 0, "an owner-only store");
    env.ok("submit billing BDR --from 2026-10-01 --to 2026-10-02");
    wait_for_jobs(|| env.status(), Duration::from_secs(30), all_downloaded(1));
    serving.wait_for("serve: up ", Duration::from_secs(10));
    assert_eq!(serving.stop(Duration::from_secs(10)).code(), Some(0));
    let log = serving.log();
    let messages: Vec<String> = log
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            value["fields"]["message"]
                .as_str()
                .unwrap_or_else(|| panic!("no message: {line}"))
                .to_string()
        })
        .collect();
    for wanted in [
        "serve: engine on",
        "submitted (control socket)",
        "requested -> created",
        "created -> completed",
        "completed -> downloaded",
        "serve: up 0h 0m",
        "serve: stopped; 1 jobs ended: 1 downloaded",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(wanted)),
            "no {wanted:?} line in {messages:#?}"
        );
    }
}
