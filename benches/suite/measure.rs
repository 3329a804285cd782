//! Measuring: memory and CPU of a process, medians, and child processes that report in JSON.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// The CPU time of this process: one reading for the suite and the store's benches.
#[path = "../../crates/store/benches/shared/cpu_time.rs"]
mod cpu;
pub use cpu::cpu_time;

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`), for `pid` or `"self"`.
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's resident set now, in KiB.
pub fn rss_kib() -> u64 {
    status_kib("self", "VmRSS").expect("/proc/self/status has VmRSS")
}

/// This process's peak resident set so far, in KiB.
pub fn hwm_kib() -> u64 {
    status_kib("self", "VmHWM").expect("/proc/self/status has VmHWM")
}

/// The median of some values (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    assert!(n > 0, "the median of nothing");
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Flushes dirty pages system-wide so that one run's writes do not slow the next one down.
pub fn settle_disk() {
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// This bench binary run again as a child for one part of a scenario.
pub struct ChildRun {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl ChildRun {
    /// Starts `current_exe --child <part> <args>`; the child writes JSON lines on stdout.
    pub fn start(part: &str, args: &[String]) -> ChildRun {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .arg("--child")
            .arg(part)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child process");
        let lines = BufReader::new(child.stdout.take().expect("piped stdout"));
        ChildRun { child, lines }
    }

    /// The child's next JSON line whose `"event"` is `event` (earlier lines are skipped).
    pub fn expect(&mut self, event: &str) -> Value {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .lines
                .read_line(&mut line)
                .expect("read the child's output");
            assert!(n > 0, "the child ended before it said {event:?}");
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && value["event"] == event
            {
                return value;
            }
        }
    }

    /// Waits for the child to exit and checks it succeeded.
    pub fn wait(mut self) {
        let status = self.child.wait().expect("wait for the child");
        assert!(status.success(), "the child failed: {status}");
    }

    /// Kills the child (it is not needed any more) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes one JSON line for the parent (children only).
pub fn tell(value: Value) {
    println!("{value}");
}

/// A number from a child's JSON line.
pub fn num(value: &Value, field: &str) -> f64 {
    value[field]
        .as_f64()
        .unwrap_or_else(|| panic!("the child's line {value} has no number {field:?}"))
}
