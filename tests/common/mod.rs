//! Shared set-up of the CLI tests: a simulator on loopback, a temp folder, and the real
//! `reportflow` binary pointed at both with the simulator's credentials.
#![allow(dead_code)]

use reportflow_sim::{Sim, SimConfig, SimHandle, SizeRange};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const ACCOUNT: &str = "9900000";

/// A simulator answering within a few tens of milliseconds, with small files.
pub fn quick_sim() -> SimConfig {
    SimConfig {
        processing_time: Duration::from_millis(30),
        billing_processing_time: Duration::from_millis(30),
        file_size: SizeRange::between(1_000, 20_000),
        ..SimConfig::default()
    }
}

/// A temp folder, a simulator, and the binary.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
}

/// What a run of the binary left.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Env {
    pub fn new(config: SimConfig) -> Env {
        let sim = Sim::start_blocking(config).expect("the simulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        Env { dir, sim }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    /// The binary in the temp folder, with the store, the simulator's URL, its Basic
    /// credentials and the account set (and its CA, when it serves TLS), and nothing else from
    /// the caller's environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = bare_cmd(self.dir.path());
        cmd.env("REPORTFLOW_STORE", self.store())
            .env("REPORTFLOW_BASE_URL", self.sim.base_url())
            .env("REPORTFLOW_OUT", self.out())
            .env("BANDWIDTH_ACCOUNT_ID", ACCOUNT)
            .env("BANDWIDTH_USERNAME", "demo")
            .env("BANDWIDTH_PASSWORD", "demo-secret");
        if let Some(ca) = self.ca_file() {
            cmd.env("REPORTFLOW_CA_FILE", ca);
        }
        cmd
    }

    /// The CA of a simulator serving TLS, written into the temp folder (`None` for plain http).
    pub fn ca_file(&self) -> Option<PathBuf> {
        let pem = self.sim.ca_pem()?;
        let path = self.dir.path().join("sim-ca.pem");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(pem.as_str()) {
            std::fs::write(&path, pem).expect("write the simulator's CA");
        }
        Some(path)
    }

    /// Runs the binary with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Ran {
        self.run_with(&[], args)
    }

    /// Runs the binary with some variables changed (`Some` sets, `None` removes).
    pub fn run_with(&self, vars: &[(&str, Option<&str>)], args: &[&str]) -> Ran {
        let mut cmd = self.cmd();
        for (name, value) in vars {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        cmd.args(args).output().expect("the binary runs").into()
    }

    /// Runs the binary with the words of `line` as arguments (`"submit billing BDR ..."`).
    pub fn line(&self, line: &str) -> Ran {
        self.run(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// Like [`Env::line`], and checks that it succeeded.
    pub fn ok(&self, line: &str) -> Ran {
        let ran = self.line(line);
        assert_eq!(ran.code, 0, "{line}: {ran:?}");
        ran
    }

    /// `status --json`, parsed.
    pub fn status(&self) -> Vec<Value> {
        let ran = self.run(&["status", "--json"]);
        assert_eq!(ran.code, 0, "{ran:?}");
        match serde_json::from_str(&ran.stdout) {
            Ok(Value::Array(jobs)) => jobs,
            other => panic!("status --json is an array: {other:?}\n{ran:?}"),
        }
    }

    /// Every downloaded job's file exists, has the recorded size and sha256, and matches what
    /// the simulator served; no temporary file is left in the output folder. Returns how
    /// many files were checked.
    pub fn verify_files(&self, jobs: &[Value]) -> usize {
        let mut checked = 0;
        for job in jobs.iter().filter(|j| j["state"] == "downloaded") {
            let path = Path::new(job["file"].as_str().expect("a downloaded job has a file"));
            assert!(path.is_absolute(), "{} is absolute", path.display());
            let bytes = std::fs::read(path).expect("the file exists");
            assert_eq!(Some(bytes.len() as u64), job["bytes"].as_u64());
            let sha = hex(&Sha256::digest(&bytes));
            assert_eq!(
                Some(sha.as_str()),
                job["sha256"].as_str(),
                "{}",
                path.display()
            );
            let served = self
                .sim
                .expected_file(job["location"].as_str().expect("location"))
                .expect("the simulator knows the file");
            assert_eq!(served.sha256, sha, "served sha256 of {}", path.display());
            checked += 1;
        }
        assert_eq!(
            part_files(&self.out()),
            Vec::<String>::new(),
            "temporary files left"
        );
        checked
    }
}

/// Runs the binary in `dir` with `args` and a clean environment.
pub fn run_bare(dir: &Path, args: &[&str]) -> Ran {
    bare_cmd(dir)
        .args(args)
        .output()
        .expect("the binary runs")
        .into()
}

/// Variables of the caller's network set-up the binary would honour: a proxy or CA bundle of
/// the machine running the tests must not reach the simulator's loopback runs.
const NETWORK_VARS: [&str; 5] = [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
];

/// The binary in `dir` with no reportflow, Bandwidth, proxy or CA variable from the caller's
/// environment.
pub fn bare_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reportflow"));
    cmd.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("REPORTFLOW_")
            || name.starts_with("BANDWIDTH_")
            || name == "RUST_LOG"
            || name == "PGPASSWORD"
            || NETWORK_VARS.contains(&name.to_ascii_uppercase().as_str())
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Names of `.part` files in `dir`.
pub fn part_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".part"))
                .collect()
        })
        .unwrap_or_default()
}

/// The jobs of `status --json` in `state`.
pub fn in_state<'a>(jobs: &'a [Value], state: &str) -> Vec<&'a Value> {
    jobs.iter().filter(|j| j["state"] == state).collect()
}
