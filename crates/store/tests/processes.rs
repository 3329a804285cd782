//! Tests with real processes: a child killed with SIGKILL at random moments while it applies
//! transitions, and a second process opening a store that is in use.
//!
//! The test binary runs itself as the child (`--exact <child test> --ignored`), passing what
//! the child needs in environment variables; the child tests do nothing without them.

mod common;

use common::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reportflow_core::{Job, JobId, JobKey, StateName};
use reportflow_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENV_DIR: &str = "REPORTFLOW_STORE_TEST_DIR";
const ENV_LOG: &str = "REPORTFLOW_STORE_TEST_LOG";
const ENV_SEED: &str = "REPORTFLOW_STORE_TEST_SEED";
/// Seeds the kill schedule of the crash test (default: a fixed seed).
const ENV_CRASH_SEED: &str = "REPORTFLOW_STORE_CRASH_SEED";
/// When set, the crash test keeps its directory (and prints where it is), to look into a failure.
const ENV_CRASH_KEEP: &str = "REPORTFLOW_STORE_CRASH_KEEP";

const KILLS: u64 = 24;
/// The child stops submitting new jobs once the store holds this many.
const MAX_JOBS: usize = 150;

/// Starts this test binary as the child running `test`.
fn spawn_child(test: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            test,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("the child starts")
}

/// Reads the child's stdout until a line holding `prefix`; returns that line from `prefix` on
/// (the test harness may print the test's name before it on the same line).
fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.as_mut().expect("the child's stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .expect("the child's stdout reads");
        assert!(n > 0, "the child ended before printing {prefix:?}");
        if let Some(at) = line.find(prefix) {
            return line[at..].trim_end().to_string();
        }
    }
}

/// What the child has flushed: the highest version per job in lines `job <id> <version> end`
/// (written and synced after the store's flush returned, so each names a state that must
/// survive).
fn flushed(log: &Path) -> BTreeMap<JobId, u64> {
    let text = fs::read_to_string(log).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // A line cut short by a kill runs into the next child's first line; the two then never
        // read as one `job <id> <version> end`.
        let words: Vec<&str> = line.split(' ').collect();
        let ["job", id, version, "end"] = words[..] else {
            continue;
        };
        let (Ok(id), Ok(version)) = (id.parse(), version.parse()) else {
            continue;
        };
        let entry = out.entry(JobId(id)).or_insert(0);
        *entry = (*entry).max(version);
    }
    out
}

/// Replays a job's scripted inputs from its submission; the stored job must be exactly where
/// the replay arrives after `version` steps, and its history must be that path.
fn check_job(store: &Store, job: &Job) {
    let history = store.history(job.id).unwrap();
    let seqs: Vec<u64> = history.iter().map(|t| t.seq).collect();
    let want: Vec<u64> = (0..=job.version).collect();
    assert_eq!(seqs, want, "the history of job {} has gaps", job.id);
    assert_eq!(history[0].from, None);
    assert_eq!(history[0].to, StateName::Requested);
    assert_eq!(history[0].at, job.submitted_at);
    let mut replay = Job::new(
        job.id,
        job.key.clone(),
        job.spec.clone(),
        reportflow_core::Policies {
            poll: job.poll.clone(),
            retry: job.retry.clone(),
        },
        job.submitted_at,
    );
    for step in &history[1..] {
        let (input, now) = scripted_input(&replay).expect("a scripted step exists");
        assert_eq!(step.from, Some(replay.state.name()), "job {}", job.id);
        assert_eq!(
            step.input,
            input.summary(),
            "job {} step {}",
            job.id,
            step.seq
        );
        assert_eq!(step.at, now);
        replay = replay.apply(input, now).expect("scripted inputs are legal");
        assert_eq!(step.to, replay.state.name(), "job {}", job.id);
    }
    assert_eq!(&replay, job, "job {} is not in a state it reached", job.id);
    assert_eq!(store.get_by_key(&job.key).unwrap().as_ref(), Some(job));
}

/// Checks every invariant of a store reopened after a kill; returns its jobs.
fn check_store(dir: &Path, log: &Path) -> Vec<Job> {
    let store = Store::open(dir).unwrap_or_else(|e| panic!("the store reopens: {e}"));
    let jobs = store.list(None, None, usize::MAX).unwrap();
    for job in &jobs {
        check_job(&store, job);
    }
    let not_ended: Vec<Job> = jobs
        .iter()
        .filter(|j| !j.state.is_terminal())
        .cloned()
        .collect();
    assert_eq!(
        store.live_jobs().unwrap(),
        not_ended,
        "the live index is not the set of live jobs"
    );
    let counts = store.counts().unwrap();
    for state in StateName::ALL {
        let listed = store.list(Some(state), None, usize::MAX).unwrap();
        assert!(listed.iter().all(|j| j.state.name() == state));
        let n = jobs.iter().filter(|j| j.state.name() == state).count();
        assert_eq!(listed.len(), n, "the {state} index");
        assert_eq!(counts[&state], n as u64, "the {state} counter");
    }
    let by_id: BTreeMap<JobId, &Job> = jobs.iter().map(|j| (j.id, j)).collect();
    for (id, version) in flushed(log) {
        let job = by_id.get(&id).unwrap_or_else(|| {
            panic!(
                "job {id} was flushed but is gone (the store holds {} jobs, the last {:?})",
                jobs.len(),
                jobs.last().map(|j| j.id)
            )
        });
        assert!(
            job.version >= version,
            "job {id} was flushed at version {version} but is back at {}",
            job.version
        );
    }
    jobs
}

#[test]
fn sigkill_at_random_moments_loses_nothing_flushed() {
    let seed: u64 = std::env::var(ENV_CRASH_SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_240_601);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tmp = tempfile::tempdir().unwrap();
    if std::env::var_os(ENV_CRASH_KEEP).is_some() {
        tmp.disable_cleanup(true);
        eprintln!("the crash test works in {}", tmp.path().display());
    }
    let dir = tmp.path().join("store");
    let log = tmp.path().join("flushed.log");
    let started = Instant::now();
    let mut during_open = 0;
    for kill in 0..KILLS {
        let mut child = spawn_child(
            "child_applies_transitions_until_killed",
            &[
                (ENV_DIR, dir.display().to_string()),
                (ENV_LOG, log.display().to_string()),
                (ENV_SEED, format!("{}", seed.wrapping_mul(1_000) + kill)),
            ],
        );
        // Most kills fall while the child works; some while it opens (and recovers) the store.
        if rng.random_ratio(1, 5) {
            during_open += 1;
            std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        } else {
            wait_for_line(&mut child, "ready");
            std::thread::sleep(Duration::from_millis(rng.random_range(5..250)));
        }
        child.kill().expect("the child can be killed");
        let status = child.wait().expect("the child is reaped");
        assert!(!status.success(), "the child ended on its own: {status}");
        eprintln!("kill {kill} checked");
        check_store(&dir, &log);
    }
    let jobs = check_store(&dir, &log);
    let steps: u64 = jobs.iter().map(|j| j.version).sum();
    let ended = jobs.iter().filter(|j| j.state.is_terminal()).count();
    eprintln!(
        "{KILLS} kills ({during_open} while opening) in {:?}: {} jobs, {steps} transitions, {ended} ended, {} flushed log entries",
        started.elapsed(),
        jobs.len(),
        flushed(&log).len()
    );
    assert!(jobs.len() >= 20, "the children did too little work to test");
    assert!(steps >= 100, "the children did too little work to test");
    assert!(ended > 0, "no job ever ended");
}

/// The child of the crash test: submits jobs and applies scripted inputs until it is killed,
/// appending `job <id> <version> end` to the log after every flushed step.
#[test]
#[ignore = "runs only as the child of sigkill_at_random_moments_loses_nothing_flushed"]
fn child_applies_transitions_until_killed() {
    let (Ok(dir), Ok(log), Ok(seed)) = (
        std::env::var(ENV_DIR),
        std::env::var(ENV_LOG),
        std::env::var(ENV_SEED),
    ) else {
        return;
    };
    let seed: u64 = seed.parse().expect("a numeric seed");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let store = Store::open(Path::new(&dir)).expect("the child opens the store");
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the log opens");
    let note = |log: &mut File, job: &Job| {
        writeln!(log, "job {} {} end", job.id, job.version).expect("the log is written");
        log.sync_data().expect("the log is synced");
    };
    let mut ids: Vec<JobId> = store
        .list(None, None, usize::MAX)
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    println!("ready");
    let mut submitted = 0u64;
    loop {
        if ids.len() < MAX_JOBS && (ids.len() < 10 || rng.random_ratio(1, 8)) {
            let n: u32 = rng.random_range(0..1_000);
            let key = JobKey::user(&format!("crash-{seed}-{submitted}")).expect("a valid key");
            submitted += 1;
            let now = scripted_time(0, seed * 1_000 + submitted);
            let inserted = store.insert(spec(n), key, policy(), now).unwrap();
            ids.push(inserted.job.id);
            note(&mut log, &inserted.job);
            continue;
        }
        let id = ids[rng.random_range(0..ids.len())];
        let job = store.get(id).unwrap().expect("a listed job is stored");
        // Ended jobs are retried now and then, so that jobs keep moving.
        if job.state.is_terminal() && !rng.random_ratio(1, 3) {
            continue;
        }
        let Some((input, now)) = scripted_input(&job) else {
            continue;
        };
        let next = store.apply(id, job.version, input, now).unwrap();
        if Job::must_flush(&job, &next) {
            note(&mut log, &next);
        }
    }
}

#[test]
fn a_second_process_gets_the_lock_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = Store::open(&dir).unwrap();
    let env = [(ENV_DIR, dir.display().to_string())];
    let mut child = spawn_child("child_opens_the_store", &env);
    let line = wait_for_line(&mut child, "result");
    assert!(child.wait().unwrap().success());
    assert!(line.starts_with("result locked: "), "{line}");
    assert!(line.contains(&dir.display().to_string()), "{line}");
    assert!(line.contains("another reportflow may be running"), "{line}");

    // Once the first process lets go, the second opens it.
    drop(store);
    let mut child = spawn_child("child_opens_the_store", &env);
    let line = wait_for_line(&mut child, "result");
    assert!(child.wait().unwrap().success());
    assert_eq!(line, "result opened");
}

/// The child of the lock test: opens the store and says what happened.
#[test]
#[ignore = "runs only as the child of a_second_process_gets_the_lock_error"]
fn child_opens_the_store() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    match Store::open(&PathBuf::from(dir)) {
        Ok(_) => println!("result opened"),
        Err(e @ StoreError::Locked { .. }) => println!("result locked: {e}"),
        Err(e) => println!("result failed: {e:?}"),
    }
}
