//! Scenario 4, recovery: the time from the start of `reportflow run` to its first request, on a
//! store holding 1,000,000 finished jobs and 10,000 live ones (submitted, not yet created).
//!
//! The store is built once (without flushing, then flushed) into
//! `target/tmp/bench-suite/recovery-template` and reused; each round copies it (and writes the
//! copy out with `sync` before the clock starts, so that it is a store at rest) and runs the
//! real `reportflow run` against the simulator (in this process), which counts the requests:
//! the first one is the run's pre-flight check of the credentials (the report list), then come
//! the jobs' creates. A second contender is the engine API alone (`Engine::open` and
//! `run_until_idle` in a child process, no pre-flight), whose first request is a create.
//!
//! sled (0.34) writes a snapshot of its page table only when a database is opened, and replays
//! on opening everything logged since the last snapshot: the template is built in one session
//! (1,000,000 jobs), opened once (which writes the snapshot; that first opening is reported as
//! the worst case), then the 10,000 live jobs are submitted in a second session, as a nightly
//! batch would be.

use crate::measure::{ChildRun, settle_disk, tell};
use crate::report::Figure;
use crate::setup::{
    self, PASSWORD, USERNAME, engine_config, immediate_poll, scratch, spec, work_dir,
};
use reportflow_core::{Input, JobKey, Millis, StateName};
use reportflow_driver::Engine;
use reportflow_sim::{Endpoint, SimConfig, SimHandle};
use reportflow_store::{Durability, Step, Store};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FINISHED: u64 = 1_000_000;
const LIVE: u64 = 10_000;
const ROUNDS: usize = 5;
/// Bump when the template's content changes, so an old one is rebuilt (v3: the store's
/// schema 2, issue 16; an older template would be migrated in every round).
const TEMPLATE: &str = "recovery-template-v3";
/// Finished jobs submitted per `insert_many` call while building the template.
const BUILD_BATCH: u64 = 1_000;
/// Cancels per `apply_many` call (one transaction each) while building the template.
const CANCEL_CHUNK: usize = 128;

pub fn run() -> Vec<Figure> {
    let template = template();
    let sim = setup::sim(SimConfig::default());
    let (mut cli_first, mut cli_create, mut api_create) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (first, create) = cli_round(&sim, &template.store);
        let api = api_round(&sim, &template.store);
        eprintln!(
            "   round {round}: reportflow run: first request {first:.0} ms, first create {create:.0} ms; engine API: first create {api:.0} ms"
        );
        cli_first.push(first);
        cli_create.push(create);
        api_create.push(api);
    }
    let headline = Figure::plain(
        "recovery",
        "reportflow run, start to first request (1M finished, 10k live)",
        "ms",
        &cli_first,
    );
    let met = headline.value < 1000.0;
    vec![
        headline.target("< 1 s", met),
        Figure::plain(
            "recovery",
            "reportflow run, start to first create",
            "ms",
            &cli_create,
        ),
        Figure::plain(
            "recovery",
            "engine API (open + run), start to first create",
            "ms",
            &api_create,
        ),
        Figure::plain(
            "recovery",
            "first opening after 1M jobs were written in one session (sled replays its log)",
            "ms",
            &[template.first_open_ms],
        ),
        Figure::plain(
            "recovery",
            "building the store (once, then reused)",
            "s",
            &[template.build_s],
        ),
    ]
}

/// The template store and what building it measured.
struct Template {
    store: PathBuf,
    first_open_ms: f64,
    build_s: f64,
}

fn template() -> Template {
    let dir = work_dir().join(TEMPLATE);
    let done = dir.join("built.json");
    if let Ok(text) = std::fs::read_to_string(&done) {
        let value: serde_json::Value = serde_json::from_str(&text).expect("built.json");
        return Template {
            store: dir.join("store"),
            first_open_ms: value["first_open_ms"].as_f64().unwrap_or(f64::NAN),
            build_s: value["build_s"].as_f64().unwrap_or(f64::NAN),
        };
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the template directory");
    let store_dir = dir.join("store");
    eprintln!("   building the recovery store (once): {FINISHED} finished jobs, {LIVE} live");
    let started = Instant::now();
    let store = Store::open_with(&store_dir, Durability::Manual).expect("open");
    let policy = reportflow_core::Policies {
        poll: immediate_poll(),
        ..reportflow_core::Policies::default()
    };
    // Through the store's batch calls: `insert_many` stores up to 128 jobs per transaction and
    // `apply_many` cancels a chunk of them in one.
    let mut start = 0;
    while start < FINISHED {
        let end = (start + BUILD_BATCH).min(FINISHED);
        let jobs = (start..end).map(|n| {
            let key = JobKey::user(&format!("finished-{n}")).expect("a key");
            (spec(n), key)
        });
        let inserted = store
            .insert_many(jobs, &policy, Millis(start))
            .expect("insert");
        assert!(inserted.iter().all(|i| i.created));
        let cancels: Vec<Step> = inserted
            .iter()
            .map(|i| Step {
                id: i.job.id,
                expected_version: i.job.version,
                input: Input::Cancel,
                lease: None,
            })
            .collect();
        for chunk in cancels.chunks(CANCEL_CHUNK) {
            let applied = store.apply_many(chunk, Millis(start + 1)).expect("cancel");
            assert!(applied.results.iter().all(Result::is_ok), "a cancel failed");
        }
        if start / 100_000 != end / 100_000 {
            eprintln!(
                "   {end} finished jobs, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        start = end;
    }
    store.flush().expect("flush");
    drop(store);
    let build_s = started.elapsed().as_secs_f64();
    let opening = Instant::now();
    let store = Store::open_with(&store_dir, Durability::Manual).expect("reopen");
    let first_open_ms = opening.elapsed().as_secs_f64() * 1e3;
    let live = (0..LIVE).map(|n| {
        let key = JobKey::user(&format!("live-{n}")).expect("a key");
        (spec(FINISHED + n), key)
    });
    let inserted = store
        .insert_many(live, &policy, Millis(FINISHED))
        .expect("insert");
    assert_eq!(inserted.len() as u64, LIVE);
    store.flush().expect("flush");
    let counts = store.counts().expect("counts");
    assert_eq!(counts[&StateName::Requested], LIVE);
    assert_eq!(counts[&StateName::Cancelled], FINISHED);
    drop(store);
    let built = json!({ "build_s": build_s, "first_open_ms": first_open_ms });
    std::fs::write(&done, built.to_string()).expect("write built.json");
    eprintln!("   built in {build_s:.0} s; first opening {first_open_ms:.0} ms");
    Template {
        store: store_dir,
        first_open_ms,
        build_s,
    }
}

/// A copy of the template store in a scratch directory, written out to disk: a store at rest,
/// as a finished or killed run leaves it (sled's background flush leaves at most 500 ms of
/// writes in the page cache). Without the `sync`, sled's recovery `fsync` would write the
/// whole fresh copy (about 900 MB) inside the timed window.
fn copy_of(template: &Path) -> PathBuf {
    let dir = scratch();
    let copy = dir.join("store");
    let status = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(&copy)
        .status()
        .expect("run cp");
    assert!(status.success(), "copying the template store failed");
    settle_disk();
    copy
}

/// Polls the simulator until `seen` says yes; returns the milliseconds since `since`.
fn wait_for(
    sim: &SimHandle,
    since: Instant,
    seen: impl Fn(&reportflow_sim::SimStats) -> bool,
) -> f64 {
    let deadline = since + Duration::from_secs(120);
    loop {
        if seen(&sim.stats()) {
            return since.elapsed().as_secs_f64() * 1e3;
        }
        assert!(Instant::now() < deadline, "no request within two minutes");
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn total_requests(stats: &reportflow_sim::SimStats) -> u64 {
    stats.requests.values().sum()
}

/// `reportflow run` on a copy: milliseconds to its first request and to its first create.
fn cli_round(sim: &SimHandle, template: &Path) -> (f64, f64) {
    let store = copy_of(template);
    let out = store.with_file_name("out");
    sim.reset_stats();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reportflow"))
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg("--out")
        .arg(&out)
        .env("REPORTFLOW_BASE_URL", sim.base_url())
        .env("BANDWIDTH_USERNAME", USERNAME)
        .env("BANDWIDTH_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start reportflow run");
    let first = wait_for(sim, started, |s| total_requests(s) > 0);
    let create = wait_for(sim, started, |s| s.requests_to(Endpoint::Create) > 0);
    let _ = child.kill();
    let _ = child.wait();
    (first, create)
}

/// The engine API in a child process on a copy: milliseconds to its first create.
fn api_round(sim: &SimHandle, template: &Path) -> f64 {
    let store = copy_of(template);
    sim.reset_stats();
    let started = Instant::now();
    let child = ChildRun::start(
        "recovery",
        &[
            sim.base_url(),
            store
                .parent()
                .expect("a parent")
                .to_str()
                .expect("UTF-8")
                .to_string(),
        ],
    );
    let create = wait_for(sim, started, |s| s.requests_to(Endpoint::Create) > 0);
    child.kill();
    create
}

/// Child: opens the engine on `<dir>/store` and runs it (the parent kills it).
pub fn engine_child(args: &[String]) {
    let [base, dir] = args else {
        panic!("recovery needs <base url> <dir>")
    };
    let runtime = setup::runtime();
    let config = engine_config(&PathBuf::from(dir), base, 16, immediate_poll());
    let engine = runtime
        .block_on(Engine::open(config))
        .expect("the engine opens");
    tell(json!({ "event": "opened" }));
    runtime
        .block_on(engine.run_until_idle())
        .expect("the run ends");
}
