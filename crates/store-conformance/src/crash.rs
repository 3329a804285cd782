//! The crash test, one body for every backend: a child process (the test binary run again as
//! one of its ignored tests) submits jobs and applies scripted inputs until it is killed with
//! SIGKILL at a random moment, many times; after every kill the store must open and hold only
//! states each job really reached, with its whole history, and every index and count must agree
//! with the jobs; nothing the child saw acknowledged as durable may be lost.
//!
//! The child appends `job <id> <version> end` to a log (synced) after every step the backend
//! made durable before answering (every step on PostgreSQL, the design's durability points on
//! sled). On a shared store the child claims jobs before it records a create intent, under a
//! short lease, so that the next child can claim what a killed one held.

use crate::backend::{Backend, Leases};
use crate::fixtures::child::{spawn_child, wait_for_line};
use crate::fixtures::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reportflow_core::{Input, Job, JobId, JobKey, StateName};
use reportflow_store::{JobStore, Step, StoreError};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Where the child finds the store (the backend's location).
pub const ENV_STORE: &str = "REPORTFLOW_CONFORMANCE_STORE";
/// Where the child appends what it made durable.
pub const ENV_LOG: &str = "REPORTFLOW_CONFORMANCE_LOG";
/// The child's seed.
pub const ENV_SEED: &str = "REPORTFLOW_CONFORMANCE_SEED";
/// Seeds the kill schedule (default: a fixed seed).
pub const ENV_CRASH_SEED: &str = "REPORTFLOW_STORE_CRASH_SEED";

/// The child stops submitting new jobs once the store holds this many.
const MAX_JOBS: usize = 150;

/// What the children made durable: the highest version per job of the log's whole lines.
fn durable(log: &Path) -> BTreeMap<JobId, u64> {
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

/// Replays a job's scripted inputs from its submission: the stored job must be exactly where
/// the replay arrives after `version` steps, and its history must be that path.
async fn check_job(store: &dyn JobStore, job: &Job) {
    let history = store.history(job.id).await.unwrap();
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
    assert_eq!(
        store.get_by_key(&job.key).await.unwrap().as_ref(),
        Some(job)
    );
}

/// Checks every invariant of a store opened after a kill; returns its jobs.
async fn check_store(backend: &dyn Backend, log: &Path) -> Vec<Job> {
    let store = backend.open().await;
    let store = store.as_ref();
    let jobs = store.list(None, None, usize::MAX).await.unwrap();
    for job in &jobs {
        check_job(store, job).await;
    }
    let not_ended: Vec<Job> = jobs
        .iter()
        .filter(|j| !j.state.is_terminal())
        .cloned()
        .collect();
    assert_eq!(
        store.live_page(None, usize::MAX).await.unwrap(),
        not_ended,
        "the live index is not the set of live jobs"
    );
    let counts = store.counts().await.unwrap();
    for state in StateName::ALL {
        let listed = store.list(Some(state), None, usize::MAX).await.unwrap();
        assert!(listed.iter().all(|j| j.state.name() == state));
        let n = jobs.iter().filter(|j| j.state.name() == state).count();
        assert_eq!(listed.len(), n, "the {state} index");
        assert_eq!(counts[&state], n as u64, "the {state} counter");
    }
    let by_id: BTreeMap<JobId, &Job> = jobs.iter().map(|j| (j.id, j)).collect();
    for (id, version) in durable(log) {
        let job = by_id.get(&id).unwrap_or_else(|| {
            panic!(
                "job {id} was made durable but is gone (the store holds {} jobs)",
                jobs.len()
            )
        });
        assert!(
            job.version >= version,
            "job {id} was durable at version {version} but is back at {}",
            job.version
        );
    }
    jobs
}

/// The parent: `kills` children of `child_test` killed at random moments, the store checked
/// after each. Some kills fall while the child opens (and recovers) the store.
pub fn sigkill_at_random_moments(backend: &dyn Backend, child_test: &str, kills: u64) {
    let seed: u64 = std::env::var(ENV_CRASH_SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_240_601);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("durable.log");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    let mut during_open = 0;
    // On a loaded machine a child may do little before its kill: past `kills`, children go
    // on being killed (up to four times as many) until the store holds enough work to test.
    let mut kill = 0;
    let mut enough = false;
    while kill < kills || (!enough && kill < kills * 4) {
        let mut child = spawn_child(
            child_test,
            &[
                (ENV_STORE, backend.location()),
                (ENV_LOG, log.display().to_string()),
                (ENV_SEED, format!("{}", seed.wrapping_mul(1_000) + kill)),
            ],
        );
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
        let jobs = runtime.block_on(check_store(backend, &log));
        enough = enough_work(&jobs);
        kill += 1;
    }
    let kills = kill;
    let jobs = runtime.block_on(check_store(backend, &log));
    let steps: u64 = jobs.iter().map(|j| j.version).sum();
    let ended = jobs.iter().filter(|j| j.state.is_terminal()).count();
    eprintln!(
        "{}: {kills} kills ({during_open} while opening) in {:?}: {} jobs, {steps} transitions, {ended} ended, {} durable log entries",
        backend.name(),
        started.elapsed(),
        jobs.len(),
        durable(&log).len()
    );
    assert!(
        enough_work(&jobs),
        "the children did too little work to test: {} jobs, {steps} transitions, {ended} ended",
        jobs.len()
    );
}

/// Whether the store holds enough work for the crash test to mean something: 20 jobs, 100
/// transitions, and at least one job that ended.
fn enough_work(jobs: &[Job]) -> bool {
    let steps: u64 = jobs.iter().map(|j| j.version).sum();
    jobs.len() >= 20 && steps >= 100 && jobs.iter().any(|j| j.state.is_terminal())
}

/// The child: opens the store `open` gives for the location in the environment, then submits
/// jobs and applies scripted inputs until it is killed. Does nothing outside the crash test.
pub fn child_applies_steps_until_killed<B: Backend>(backend_at: impl FnOnce(String) -> B) {
    let (Ok(location), Ok(log), Ok(seed)) = (
        std::env::var(ENV_STORE),
        std::env::var(ENV_LOG),
        std::env::var(ENV_SEED),
    ) else {
        return;
    };
    let backend = backend_at(location);
    let seed: u64 = seed.parse().expect("a numeric seed");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(child_loop(&backend, Path::new(&log), seed));
}

async fn child_loop(backend: &dyn Backend, log: &Path, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let store = backend.open().await;
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
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    let mut leases = Leases::of(&format!("crash-child-{seed}"));
    println!("ready");
    let mut submitted = 0u64;
    loop {
        if ids.len() < MAX_JOBS && (ids.len() < 10 || rng.random_ratio(1, 8)) {
            let n: u32 = rng.random_range(0..1_000);
            let key = JobKey::user(&format!("crash-{seed}-{submitted}")).expect("a valid key");
            submitted += 1;
            let now = scripted_time(0, seed * 1_000 + submitted);
            let inserted = store.insert(spec(n), key, policy(), now).await.unwrap();
            ids.push(inserted.job.id);
            note(&mut log, &inserted.job);
            continue;
        }
        let id = ids[rng.random_range(0..ids.len())];
        let job = store
            .get(id)
            .await
            .unwrap()
            .expect("a listed job is stored");
        // Ended jobs are retried now and then, so that jobs keep moving.
        if job.state.is_terminal() && !rng.random_ratio(1, 3) {
            continue;
        }
        let Some((input, now)) = scripted_input(&job) else {
            continue;
        };
        if input == Input::CreateSending {
            leases.claim_all(store.as_ref()).await.unwrap();
        }
        let lease = leases.step_lease(id);
        if store.shared().is_some() && input == Input::CreateSending && lease.is_none() {
            // Held by a killed child until its lease expires.
            continue;
        }
        let step = Step::new(id, job.version, input).under(lease);
        match store.apply(step, now).await {
            Ok(applied) => {
                let next = applied.job;
                leases.settle(id, Some(&next));
                if backend.durable_at_every_step() || Job::must_flush(&job, &next) {
                    note(&mut log, &next);
                }
            }
            Err(StoreError::LeaseLost { .. }) => leases.forget(id),
            Err(e) => panic!("a scripted step failed: {e}"),
        }
    }
}
