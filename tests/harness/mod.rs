//! Helpers of the reliability tests (`crash_kill`, `fault_matrix`, `security`, `disk_full`,
//! `bad_inputs`): reading a store the way the next run will find it, checking that each job's
//! history is a gap-free chain and that nothing went back, listing the output folder, and a
//! small seeded generator.
#![allow(dead_code)]

pub mod batch;
pub mod hostile;

#[allow(unused_imports)]
pub use batch::{BatchText, days_after};

use reportflow_core::{Job, JobId, JobState, StateName};
use reportflow_store::{LeasedTransition, Store, StoreError, TransitionRecord};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// SplitMix64: a tiny seeded generator, so a failing run is reproduced by its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// Milliseconds since the Unix epoch, the clock the store's history records use.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A variable of the environment as a number, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Every job of a store with its history, as read by opening the store (the process that
/// wrote it must have ended, or the store is locked).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub jobs: BTreeMap<u64, (Job, Vec<TransitionRecord>)>,
}

impl Snapshot {
    pub fn job(&self, id: u64) -> &Job {
        &self.jobs[&id].0
    }

    pub fn all_terminal(&self) -> bool {
        self.jobs.values().all(|(job, _)| job.state.is_terminal())
    }

    /// How many jobs are in each state.
    pub fn counts(&self) -> BTreeMap<StateName, usize> {
        let mut counts = BTreeMap::new();
        for (job, _) in self.jobs.values() {
            *counts.entry(job.state.name()).or_default() += 1;
        }
        counts
    }
}

/// Every job of a PostgreSQL store with its history (read while workers may run), and each
/// step's lease.
pub fn read_shared(
    url: &str,
) -> Result<(Snapshot, BTreeMap<u64, Vec<LeasedTransition>>), StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = reportflow_store_pg::PgStore::open(url).await?;
        let mut jobs = BTreeMap::new();
        let mut leases = BTreeMap::new();
        let mut after: Option<JobId> = None;
        loop {
            let page = store.list(None, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for job in page {
                let steps = store.history_with_leases(job.id).await?;
                let history = steps.iter().map(|s| s.transition.clone()).collect();
                leases.insert(job.id.0, steps);
                jobs.insert(job.id.0, (job, history));
            }
        }
        Ok((Snapshot { jobs }, leases))
    })
}

/// Checks that every step of a job after its submit was written under a lease, one lease after
/// another, never interleaved: tokens never go down along the history and one token is always
/// one worker's (no job was stepped by two workers at once). Returns the workers that wrote.
pub fn check_one_lease_at_a_time(
    id: u64,
    steps: &[LeasedTransition],
) -> Result<std::collections::BTreeSet<String>, String> {
    let mut workers = std::collections::BTreeSet::new();
    let mut last: Option<(String, u64)> = None;
    for step in steps.iter().skip(1) {
        let Some((worker, token)) = &step.lease else {
            return Err(format!(
                "job {id}: step {} has no lease: {steps:#?}",
                step.transition.seq
            ));
        };
        workers.insert(worker.to_string());
        if let Some((last_worker, last_token)) = &last {
            if token < last_token {
                return Err(format!("job {id}: the lease token went back: {steps:#?}"));
            }
            if token == last_token && worker.as_str() != last_worker {
                return Err(format!(
                    "job {id}: token {token} by two workers: {steps:#?}"
                ));
            }
        }
        last = Some((worker.to_string(), *token));
    }
    Ok(workers)
}

/// Opens the store at `dir`, reads every job and its history, and closes it again.
pub fn read_store(dir: &Path) -> Result<Snapshot, StoreError> {
    let store = Store::open(dir)?;
    let mut jobs = BTreeMap::new();
    let mut after: Option<JobId> = None;
    loop {
        let page = store.list(None, after, 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for job in page {
            let history = store.history(job.id)?;
            jobs.insert(job.id.0, (job, history));
        }
    }
    Ok(Snapshot { jobs })
}

/// The order of a state within one attempt: a job never moves to a lower rank without a
/// retry (`Ready`/`Completed` may go back to `Polling` on a 202: same rank).
pub fn rank(state: StateName) -> u8 {
    match state {
        StateName::Requested => 0,
        StateName::Created => 1,
        StateName::Polling | StateName::Ready | StateName::Completed => 2,
        _ => 3,
    }
}

/// Checks that `history` is the gap-free chain of transitions that leads to `job`: sequence
/// numbers `0..=version`, the submit first, each step starting where the previous one ended,
/// the last ending in the job's state.
pub fn check_chain(job: &Job, history: &[TransitionRecord]) -> Result<(), String> {
    let id = job.id;
    if history.len() as u64 != job.version + 1 {
        return Err(format!(
            "job {id}: version {} but {} history records",
            job.version,
            history.len()
        ));
    }
    let mut previous: Option<StateName> = None;
    for (i, record) in history.iter().enumerate() {
        if record.seq != i as u64 {
            return Err(format!("job {id}: record {i} has seq {}", record.seq));
        }
        if record.from != previous {
            return Err(format!(
                "job {id}: record {i} starts from {:?}, the previous ended in {previous:?}",
                record.from
            ));
        }
        if i == 0 && (record.to != StateName::Requested || record.input != "submit") {
            return Err(format!("job {id}: the first record is {record:?}"));
        }
        previous = Some(record.to);
    }
    if previous != Some(job.state.name()) {
        return Err(format!(
            "job {id}: history ends in {previous:?}, the job is {}",
            job.state.name()
        ));
    }
    Ok(())
}

/// Checks that nothing in `now` went back from `before`: no job vanished, versions never
/// decrease, the earlier history is a prefix of the later one, and within an attempt the
/// state's rank never decreases.
pub fn check_no_regression(before: &Snapshot, now: &Snapshot) -> Result<(), String> {
    for (id, (old, old_history)) in &before.jobs {
        let Some((new, new_history)) = now.jobs.get(id) else {
            return Err(format!("job {id} vanished"));
        };
        if new.version < old.version {
            return Err(format!(
                "job {id} went from version {} back to {}",
                old.version, new.version
            ));
        }
        if !new_history.starts_with(old_history) {
            return Err(format!(
                "job {id}: the history seen before is no longer a prefix:\nbefore {old_history:#?}\nnow {new_history:#?}"
            ));
        }
        if new.attempt == old.attempt && rank(new.state.name()) < rank(old.state.name()) {
            return Err(format!(
                "job {id} went back from {} to {}",
                old.state.name(),
                new.state.name()
            ));
        }
    }
    Ok(())
}

/// Waits for `child` up to `deadline`; `None` if it is still running.
pub fn wait_until(
    child: &mut std::process::Child,
    deadline: std::time::Instant,
) -> Option<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Starts `cmd` with stdout dropped and stderr into `log` (read back when a run fails).
pub fn spawn_logged(cmd: &mut std::process::Command, log: &Path) -> std::process::Child {
    let stderr = std::fs::File::create(log).expect("log file");
    cmd.stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("the binary starts")
}

/// Whether a download is under way (or was cut off) in `out`: a `.part` file exists.
pub fn has_part_file(out: &Path) -> bool {
    temp_files(out).iter().any(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".part"))
    })
}

/// The store at `store` as the next run will find it, checked against `before`: it opens,
/// each history is a gap-free chain, no job went back, and every file under a final name in
/// `out` is a complete served file.
pub fn checked_snapshot(
    before: &Snapshot,
    store: &Path,
    sim: &reportflow_sim::SimHandle,
    out: &Path,
) -> Snapshot {
    let snapshot = read_store(store).expect("the store opens after a kill");
    for (job, history) in snapshot.jobs.values() {
        check_chain(job, history).expect("a gap-free history");
    }
    check_no_regression(before, &snapshot).expect("no job went back");
    check_final_files(sim, out);
    snapshot
}

/// Every file under a final name is complete: its bytes are a file the simulator served to
/// its end (size and sha256).
pub fn check_final_files(sim: &reportflow_sim::SimHandle, out: &Path) {
    let served: std::collections::BTreeSet<(u64, String)> = sim
        .stats()
        .file_sha256
        .values()
        .map(|d| (d.size, d.sha256.clone()))
        .collect();
    for path in final_files(out) {
        let bytes = std::fs::read(&path).expect("read a final file");
        let digest = (bytes.len() as u64, sha256_hex(&bytes));
        assert!(
            served.contains(&digest),
            "{} ({} bytes) under a final name is not a complete served file",
            path.display(),
            bytes.len()
        );
    }
}

/// Files of `dir` (not recursive) under a final name: not hidden, not `.part`.
pub fn final_files(dir: &Path) -> Vec<PathBuf> {
    list(dir, |name| {
        !name.starts_with('.') && !name.ends_with(".part")
    })
}

/// Temporary files of `dir`: hidden names or `.part`.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    list(dir, |name| name.starts_with('.') || name.ends_with(".part"))
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| keep(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

/// Every file under `dir` (recursively), by path relative to `dir`, with its bytes' sha256:
/// compares a directory before and after a command that must not touch it.
pub fn tree_digest(dir: &Path) -> BTreeMap<PathBuf, String> {
    all_files(dir)
        .into_iter()
        .map(|(path, bytes)| {
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            (relative, sha256_hex(&bytes))
        })
        .collect()
}

/// The file a downloaded job recorded.
pub fn stored_file(job: &Job) -> Option<&reportflow_core::StoredFile> {
    match &job.state {
        JobState::Downloaded { file, .. } => Some(file),
        _ => None,
    }
}

/// What the end checks counted.
#[derive(Debug, Default)]
pub struct EndFigures {
    pub jobs: u64,
    pub downloaded: u64,
    pub no_data: u64,
    pub account_jobs: u64,
    pub account_creations: u64,
    pub billing_jobs: u64,
    pub billing_creations: u64,
    /// Create requests of account reports whose answer a kill cut off (then reconciled).
    pub account_creates_cut_by_kills: u64,
    /// Billing creates whose answer a kill cut off: a kill fell between the POST and its
    /// stored Location (one kill may cut off several jobs' creates).
    pub billing_creates_cut_by_kills: u64,
    /// Kills that fell between some billing report's POST and its stored Location.
    pub kills_between_post_and_location: u64,
    /// Billing creates whose answer was lost while the process lived (a fault).
    pub billing_answers_lost: u64,
    /// Jobs that ended `failed` with a reason the scenario allows (see [`end_checks_allowing`]).
    pub failed: u64,
}

impl EndFigures {
    /// Billing reports created more than once.
    pub fn duplicate_creations(&self) -> u64 {
        self.billing_creations.saturating_sub(self.billing_jobs)
    }
}

/// The end checks every reliability scenario shares, on the store as `run` left it:
/// - every job is `downloaded`, its file inside `out` with the recorded size and sha256, equal
///   to what the simulator serves at its location; or `nodata` exactly when its billing range
///   lies in 2001 (the simulator's range without data);
/// - each history is a gap-free chain;
/// - each account report was created once upstream;
/// - each billing report was created at most once plus the kills that fell between one of its
///   POSTs and the next record (`kill_times`, epoch ms), plus, when `lost_answers_may_create`,
///   the answers lost while the process lived; and never more often than the job counted;
/// - the output folder holds exactly the recorded files, and no temporary file.
pub fn end_checks(
    sim: &reportflow_sim::SimHandle,
    last: &Snapshot,
    out: &Path,
    kill_times: &[u64],
    lost_answers_may_create: bool,
) -> EndFigures {
    end_checks_in(
        sim,
        last,
        &[out],
        kill_times,
        lost_answers_may_create,
        &|_| false,
    )
}

/// [`end_checks`], where a job may also end `failed` for a reason `may_fail` accepts (such a
/// job's account report was created at most once, and it left no file).
pub fn end_checks_allowing(
    sim: &reportflow_sim::SimHandle,
    last: &Snapshot,
    out: &Path,
    kill_times: &[u64],
    lost_answers_may_create: bool,
    may_fail: &dyn Fn(&reportflow_core::Failure) -> bool,
) -> EndFigures {
    end_checks_in(
        sim,
        last,
        &[out],
        kill_times,
        lost_answers_may_create,
        may_fail,
    )
}

/// [`end_checks_allowing`] where the files may be in any of the folders `outs` (workers of a
/// shared store, each with its own `--out`): every recorded file lies in one of them, and
/// together they hold exactly the recorded files and no temporary file.
pub fn end_checks_in(
    sim: &reportflow_sim::SimHandle,
    last: &Snapshot,
    outs: &[&Path],
    kill_times: &[u64],
    lost_answers_may_create: bool,
    may_fail: &dyn Fn(&reportflow_core::Failure) -> bool,
) -> EndFigures {
    use reportflow_core::JobSpec;
    let stats = sim.stats();
    let mut figures = EndFigures {
        jobs: last.jobs.len() as u64,
        ..EndFigures::default()
    };
    let mut recorded_files = std::collections::BTreeSet::new();
    let mut kills_in_billing_windows = std::collections::BTreeSet::new();
    for (job, history) in last.jobs.values() {
        check_chain(job, history).unwrap_or_else(|e| panic!("{e}"));
        // Windows between a create-sending and the next record: a create may have been out
        // and its answer was not (yet) recorded.
        let mut windows_with_kill = 0;
        let mut lost_without_kill = 0;
        let mut kills_in_windows = Vec::new();
        for pair in history.windows(2) {
            if pair[0].input == "create-sending" {
                let window = pair[0].at.0..=pair[1].at.0;
                // The first kill in the window stopped the process that sent the POST; later
                // ones stopped runs that had not come back to this job yet.
                let first_kill = kill_times
                    .iter()
                    .copied()
                    .filter(|k| window.contains(k))
                    .min();
                if let Some(kill) = first_kill {
                    windows_with_kill += 1;
                    kills_in_windows.push(kill);
                } else if pair[1].input == "create-sending"
                    || pair[1].input.starts_with("create-unanswered")
                {
                    // The answer was lost: recorded as such, or not at all (a step abandoned
                    // before its answer came) before the next create.
                    lost_without_kill += 1;
                }
            }
        }
        let no_data_range = match &job.spec {
            JobSpec::Account(_) => {
                figures.account_jobs += 1;
                figures.account_creates_cut_by_kills += windows_with_kill;
                false
            }
            JobSpec::Billing(b) => {
                figures.billing_jobs += 1;
                let key = reportflow_sim::BillingKey {
                    account: b.account.clone(),
                    report_type: b.report_type.clone(),
                    start: b.start.to_string(),
                    end: b.end.to_string(),
                };
                let created = stats
                    .billing_creations
                    .get(&key)
                    .copied()
                    .unwrap_or_default()
                    + stats.billing_no_data.get(&key).copied().unwrap_or_default();
                figures.billing_creations += created;
                figures.billing_creates_cut_by_kills += windows_with_kill;
                kills_in_billing_windows.extend(kills_in_windows);
                figures.billing_answers_lost += lost_without_kill;
                let allowed = 1
                    + windows_with_kill
                    + if lost_answers_may_create {
                        lost_without_kill
                    } else {
                        0
                    };
                assert!(
                    created <= allowed,
                    "billing job {} was created {created} times with {windows_with_kill} kill(s) between its POST and its Location and {lost_without_kill} answer(s) lost otherwise: {history:#?}",
                    job.id
                );
                assert!(
                    u64::from(job.creations) >= created,
                    "job {}: every POST was counted",
                    job.id
                );
                b.start.year() == 2001
            }
        };
        match &job.state {
            JobState::Downloaded { upstream, file } => {
                figures.downloaded += 1;
                assert!(!no_data_range, "job {} has data in 2001: {job:?}", job.id);
                let path = Path::new(&file.path);
                assert!(
                    outs.iter().any(|out| path.starts_with(out)),
                    "{} is outside the output folders",
                    file.path
                );
                let bytes = std::fs::read(path).expect("a recorded file exists");
                assert_eq!(bytes.len() as u64, file.bytes, "size of {}", file.path);
                assert_eq!(sha256_hex(&bytes), file.sha256, "sha256 of {}", file.path);
                let served = sim
                    .expected_file(&upstream.location)
                    .expect("the simulator knows the file");
                assert_eq!(file.sha256, served.sha256, "served sha256 of {}", file.path);
                recorded_files.insert(path.to_path_buf());
            }
            JobState::NoData => {
                figures.no_data += 1;
                assert!(no_data_range, "job {} ended nodata: {job:?}", job.id);
            }
            JobState::Failed { failure } if may_fail(failure) => figures.failed += 1,
            other => panic!(
                "job {} ended {}: {other:?}\n{history:#?}",
                job.id,
                other.name()
            ),
        }
    }
    figures.kills_between_post_and_location = kills_in_billing_windows.len() as u64;
    figures.account_creations = stats.total_instance_creations();
    for (key, creations) in &stats.instance_creations {
        assert_eq!(*creations, 1, "account report {key:?} created once");
    }
    // Every account job's report was created (once); a job allowed to fail may have failed
    // before its create got through.
    assert!(
        figures.account_creations <= figures.account_jobs
            && figures.account_creations + figures.failed >= figures.account_jobs,
        "{figures:?}"
    );
    let on_disk: std::collections::BTreeSet<PathBuf> =
        outs.iter().flat_map(|out| final_files(out)).collect();
    assert_eq!(
        on_disk, recorded_files,
        "one file per downloaded job, no other"
    );
    let temporary: Vec<PathBuf> = outs.iter().flat_map(|out| temp_files(out)).collect();
    assert_eq!(temporary, Vec::<PathBuf>::new(), "temporary files left");
    figures
}

/// Standard base64 with padding (how HTTP Basic carries `user:password`).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every file under `dir` (recursively) with its bytes.
pub fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The peak resident memory of a running process, in KiB (`VmHWM`), if it can be read.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `cmd` (its program, environment and folder) run as `sh -c "PRELUDE; exec PROGRAM ARGS"`: to
/// set a umask or a resource limit for the child alone.
pub fn in_shell(cmd: &std::process::Command, prelude: &str, args: &str) -> std::process::Command {
    let mut shell = std::process::Command::new("sh");
    if let Some(dir) = cmd.get_current_dir() {
        shell.current_dir(dir);
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    shell
        .args(["-c", &format!("{prelude}; exec \"{program}\" {args}")])
        .stdin(std::process::Stdio::null());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => shell.env(name, value),
            None => shell.env_remove(name),
        };
    }
    shell
}
