//! A `reportflow serve` process as the tests drive it (its log collected, signals, the exit
//! status within a bound), one HTTP request over a real loopback connection, a sample of a
//! `/metrics` scrape, and polling `status --json` until the jobs are done: shared by
//! `tests/serve.rs` (a directory store) and `tests/serve_shared.rs` (PostgreSQL).
#![allow(dead_code)]

use super::common::Env;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `reportflow serve` child, its stderr collected line by line.
pub struct Serving {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serving {
    /// Starts `serve` with `args` on `env` and waits until it serves.
    pub fn start(env: &Env, args: &[&str]) -> Serving {
        Serving::start_with(env.cmd(), args)
    }

    pub fn start_with(mut cmd: std::process::Command, args: &[&str]) -> Serving {
        let mut child = cmd
            .arg("serve")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        let serving = Serving { child, lines };
        serving.wait_for("serve: engine on", Duration::from_secs(20));
        serving
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Waits until a log line contains `needle`; returns it.
    pub fn wait_for(&self, needle: &str, deadline: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .find(|l| l.contains(needle))
            {
                return line.clone();
            }
            assert!(
                start.elapsed() < deadline,
                "no log line with {needle:?} within {deadline:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address of the HTTP endpoints, from the log.
    pub fn http_addr(&self) -> String {
        let line = self.wait_for(
            "/healthz, /metrics, /jobs on http://",
            Duration::from_secs(10),
        );
        let at = line.find("http://").expect("an address") + "http://".len();
        line[at..]
            .split(|c: char| c.is_whitespace() || c == '"')
            .next()
            .expect("an address")
            .to_string()
    }

    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to end, at most `deadline`.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if start.elapsed() > deadline {
                let _ = self.child.kill();
                panic!("serve did not end within {deadline:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status (within `deadline`).
    pub fn stop(&mut self, deadline: Duration) -> ExitStatus {
        self.signal("TERM");
        self.wait(deadline)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 request over a real loopback connection: the status and the body.
pub fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_string())
}

/// A sample's value in a scrape of `/metrics` (summed over the series matching `labels`), read
/// by a Prometheus text-format parser.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the Prometheus text format");
    scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
        })
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            other => panic!("{name} is not a number: {other:?}"),
        })
        .sum()
}

/// Polls `status` (the jobs as `status --json` lists them) until `done` holds for them, at most
/// `deadline`; the jobs.
pub fn wait_for_jobs(
    status: impl Fn() -> Vec<Value>,
    deadline: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let jobs = status();
        if done(&jobs) {
            return jobs;
        }
        assert!(
            start.elapsed() < deadline,
            "not done within {deadline:?}: {jobs:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `n` jobs are stored and all downloaded.
pub fn all_downloaded(n: usize) -> impl Fn(&[Value]) -> bool {
    move |jobs: &[Value]| jobs.len() == n && jobs.iter().all(|j| j["state"] == "downloaded")
}
