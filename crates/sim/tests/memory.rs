//! Peak memory while streaming a 10 GiB file (ignored by default; the figure is recorded in
//! docs/simulator.md). Run it with:
//! `cargo test -p reportflow-sim --release --test memory -- --ignored --nocapture`

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use common::{base64, instance_body, split_url};
use reportflow_sim::{Sim, SimConfig, SizeRange};

const SIZE: u64 = 10 * 1024 * 1024 * 1024;
const LIMIT: u64 = 64 * 1024 * 1024;

/// Peak resident set size of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Sends a request with Basic auth and returns the reader positioned at the body, the status
/// and the headers.
fn request(method: &str, url: &str, body: &str) -> (u16, Vec<String>, BufReader<TcpStream>) {
    let (host, target) = split_url(url);
    let mut stream = TcpStream::connect(&host).expect("connect");
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Basic {}\r\nContent-Length: {}\r\n\r\n{body}",
        base64(b"demo:demo-secret"),
        body.len()
    )
    .expect("write");
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        if line.trim().is_empty() {
            break;
        }
        headers.push(line.trim().to_string());
    }
    let status = headers[0]
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, headers, reader)
}

#[test]
#[ignore = "streams 10 GiB; run in release mode"]
fn ten_gib_file_streams_with_bounded_memory() {
    let sim = Sim::start_blocking(SimConfig {
        file_size: SizeRange::fixed(SIZE),
        ..SimConfig::instant()
    })
    .expect("sim");
    let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
    let (status, headers, _) = request(
        "POST",
        &url,
        &instance_body("csv", &[("AccountId", &["1"])], None),
    );
    assert_eq!(status, 201);
    let location = headers
        .iter()
        .find_map(|h| {
            h.strip_prefix("location: ")
                .or_else(|| h.strip_prefix("Location: "))
        })
        .expect("location")
        .to_string();
    let before = peak_rss();
    let started = Instant::now();
    let (status, headers, mut reader) = request("GET", &format!("{location}/file"), "");
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("content-length: {SIZE}")))
    );
    let mut buf = vec![0u8; 1024 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let elapsed = started.elapsed();
    let peak = peak_rss();
    assert_eq!(total, SIZE);
    let stats = sim.stats();
    let digest = &stats.file_sha256[&location];
    assert_eq!(digest.size, SIZE);
    println!(
        "streamed {} GiB in {:.1} s ({:.0} MiB/s); peak RSS before {:.1} MiB, after {:.1} MiB; sha256 {}",
        SIZE >> 30,
        elapsed.as_secs_f64(),
        SIZE as f64 / 1048576.0 / elapsed.as_secs_f64(),
        before as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        digest.sha256
    );
    assert!(peak < LIMIT, "peak RSS {peak} bytes exceeds {LIMIT}");
}
