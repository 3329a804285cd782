//! What every scenario sets up the same way: the simulator, engines, job specs, scratch space.

use reportflow_core::{AccountReportSpec, JobSpec, OutputFormat, PollPolicy};
use reportflow_driver::{Credentials, Engine, EngineConfig};
use reportflow_sim::{Sim, SimConfig, SimHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The simulator's account.
pub const ACCOUNT: &str = "9900000";
/// The simulator's Basic credentials.
pub const USERNAME: &str = "demo";
/// The simulator's Basic password.
pub const PASSWORD: &str = "demo-secret";
/// The account report every scenario asks for (Phone Number Inventory: AccountId, SiteId).
pub const REPORT: u32 = 4;

/// A simulator on its own runtime (two worker threads) in a background thread.
pub fn sim(config: SimConfig) -> SimHandle {
    Sim::start_blocking(config).expect("the simulator starts")
}

/// Job number `n`: report 4 for site `n`, so that every job has its own spec and key.
pub fn spec(n: u64) -> JobSpec {
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    params.insert("AccountId".into(), BTreeSet::from([ACCOUNT.to_string()]));
    params.insert("SiteId".into(), BTreeSet::from([n.to_string()]));
    JobSpec::Account(AccountReportSpec {
        account: ACCOUNT.into(),
        report_id: REPORT,
        format: OutputFormat::Csv,
        params,
        expires_at: None,
    })
}

/// The `<Instance>` body the engine sends for job `n` (the raw baselines send the same).
pub fn instance_body(n: u64) -> String {
    let JobSpec::Account(spec) = spec(n) else {
        unreachable!("spec() makes account reports")
    };
    reportflow_wire::InstanceRequest {
        output_format: spec.format.as_str().to_string(),
        parameters: spec
            .params
            .into_iter()
            .map(|(name, values)| reportflow_wire::Parameter {
                name,
                values: values.into_iter().collect(),
            })
            .collect(),
        expires_at: None,
    }
    .to_xml()
    .expect("the body renders")
}

/// A poll policy that asks for the first status at once (1 ms): the simulator's reports of the
/// throughput scenarios are ready as soon as they are created.
pub fn immediate_poll() -> PollPolicy {
    PollPolicy {
        first_delay_ms: 1,
        ..PollPolicy::default()
    }
}

/// An engine configuration against `base_url` with its store and output folder under `root`:
/// `concurrency` jobs at once, all of them allowed for the one account.
pub fn engine_config(
    root: &Path,
    base_url: &str,
    concurrency: usize,
    poll: PollPolicy,
) -> EngineConfig {
    let mut config = EngineConfig::new(root.join("store"), root.join("out"), base_url);
    config.credentials = Some(Credentials::Basic {
        username: USERNAME.into(),
        password: PASSWORD.into(),
    });
    config.concurrency = concurrency;
    config.per_account_concurrency = concurrency;
    config.poll = poll;
    config
}

/// Where the suite keeps its scratch directories and cached stores (`target/tmp/bench-suite`).
pub fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-suite");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).expect("create the bench work directory");
        // On ext4, spread the runs' directories over the disk like top-level ones (`chattr +T`,
        // where available): see `scratch`.
        let _ = std::process::Command::new("chattr")
            .arg("+T")
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status();
    }
    dir
}

/// This run's scratch space: `target/tmp/bench-suite/run-<pid>`, removed by [`cleanup`].
fn run_dir() -> PathBuf {
    work_dir().join(format!("run-{}", std::process::id()))
}

/// A fresh directory in this run's scratch space. Scratch directories are removed only at the
/// end of the suite: on ext4, creating files right after thousands were deleted costs a lot
/// of kernel time (the inode allocator skips recently deleted inodes one by one), which would
/// slow down whichever round follows a cleanup.
pub fn scratch() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = run_dir().join(n.to_string());
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Removes this run's scratch space.
pub fn cleanup() {
    let _ = std::fs::remove_dir_all(run_dir());
}

/// A multi-threaded runtime with one worker per core, as `#[tokio::main]` builds it.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Jobs submitted per `Engine::submit_many` call (one flush each).
const SUBMIT_BATCH: u64 = 1_000;

/// Submits jobs `range` (each a new job), in batches of [`SUBMIT_BATCH`].
pub async fn submit_all(engine: &Engine, range: std::ops::Range<u64>) {
    let mut start = range.start;
    while start < range.end {
        let end = (start + SUBMIT_BATCH).min(range.end);
        let submitted = engine
            .submit_many((start..end).map(|n| (spec(n), None)))
            .await
            .expect("submit");
        assert_eq!(submitted.len() as u64, end - start);
        assert!(submitted.iter().all(|s| s.created));
        start = end;
    }
}
