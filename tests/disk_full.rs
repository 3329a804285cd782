//! A download that fails for lack of space: on a 1 MiB tmpfs as the output folder (when this
//! process may mount one), and under `RLIMIT_FSIZE` (anywhere). Either way the job is not
//! `downloaded`, no partial file is under a final name, `run` exits 1 with a message about the
//! disk, the other job still completes, and a later run without the limit completes the job.

mod common;
mod harness;

use common::{Env, Ran};
use harness::*;
use reportflow_core::StateName;
use reportflow_sim::{SimConfig, SizeRange};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Account report files: larger than either limit.
const BIG_FILE: u64 = 4 << 20;

fn env() -> Env {
    let env = Env::new(SimConfig {
        processing_time: Duration::from_millis(20),
        billing_processing_time: Duration::from_millis(20),
        file_size: SizeRange::fixed(BIG_FILE),
        ..SimConfig::default()
    });
    env.ok("submit report 4 --param AccountId=9900000");
    env.ok("submit billing BDR --from 2026-10-01 --to 2026-10-31");
    env
}

/// The checks after a run that ran out of space, then a run without the limit.
fn out_of_space_then_completed(env: &Env, limited: &Ran, out: &Path, how: &str) {
    assert_eq!(limited.code, 1, "{how}: {limited:?}");
    let error = limited
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error.contains("could not write") && error.contains("check the disk space"),
        "{how}: one error line about the disk: {limited:?}"
    );
    assert_eq!(
        temp_files(out),
        Vec::<PathBuf>::new(),
        "{how}: the half file was removed"
    );
    let snapshot = read_store(&env.store()).expect("the store opens");
    let account = snapshot
        .jobs
        .values()
        .map(|(job, _)| job)
        .find(|job| job.kind() == reportflow_core::JobKind::Account)
        .expect("the account job");
    assert_ne!(account.state.name(), StateName::Downloaded, "{how}");
    assert!(
        !account.state.is_terminal(),
        "{how}: the job is resumable: {account:?}"
    );
    for file in final_files(out) {
        let size = std::fs::metadata(&file).expect("metadata").len();
        assert!(
            size < BIG_FILE,
            "{how}: {} under a final name",
            file.display()
        );
    }
    // The small billing file fitted and is complete.
    let served: Vec<String> = env
        .sim
        .stats()
        .file_sha256
        .values()
        .map(|d| d.sha256.clone())
        .collect();
    for file in final_files(out) {
        assert!(
            served.contains(&sha256_file(&file)),
            "{how}: {} is complete",
            file.display()
        );
    }
}

fn complete(env: &Env, out: &Path) {
    let again = env.run(&["run", "--out", &out.display().to_string()]);
    assert_eq!(again.code, 0, "{again:?}");
    let last = read_store(&env.store()).expect("the store opens");
    let figures = end_checks(&env.sim, &last, out, &[], false);
    assert_eq!(figures.downloaded, 2, "{figures:?}");
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_output_disk_fails_the_download_cleanly_and_a_later_run_completes_it() {
    let env = env();
    let small = env.dir.path().join("small");
    let Some(tmpfs) = Tmpfs::mount(&small, "1m") else {
        println!(
            "note: mounting a tmpfs is not permitted here; the RLIMIT_FSIZE test covers a full disk"
        );
        return;
    };
    let limited = env.run(&["run", "--out", &small.display().to_string()]);
    out_of_space_then_completed(&env, &limited, &small, "1 MiB tmpfs");
    // Room again: the same folder, bigger.
    let status = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&small)
        .status()
        .expect("remount");
    assert!(status.success());
    complete(&env, &small);
    drop(tmpfs);
}

#[test]
fn a_file_size_limit_fails_the_download_cleanly_and_a_later_run_completes_it() {
    let env = env();
    let out = env.out();
    // `ulimit -f` counts 512-byte blocks; SIGXFSZ ignored, so writes fail with EFBIG instead of
    // killing the process. 2 MiB: room for the store and the billing zip, not the report.
    let limited: Ran = in_shell(&env.cmd(), "ulimit -f 4096; trap '' XFSZ", "run")
        .output()
        .expect("sh runs")
        .into();
    out_of_space_then_completed(&env, &limited, &out, "RLIMIT_FSIZE 2 MiB");
    complete(&env, &out);
}
