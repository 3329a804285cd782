//! Scenario 2, download: one 1 GiB file through the engine (a child process: submit, run until
//! idle), against raw hyper streaming the same kind of file to disk (a child process; also
//! with an `fsync` at the end, as the engine does) and against `curl -o` (when installed). Throughput and peak RSS of each process; the simulator
//! runs in this process. Every file is deleted right after its run and dirty pages are written
//! out (`sync`) before the next, so that no run pays for another's writes.

use crate::measure::{ChildRun, cpu_time, hwm_kib, median, num, settle_disk, tell};
use crate::raw::Raw;
use crate::report::Figure;
use crate::setup::{self, PASSWORD, USERNAME, engine_config, immediate_poll, scratch, spec};
use reportflow_core::JobState;
use reportflow_driver::Engine;
use reportflow_sim::{SimConfig, SizeRange};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SIZE: u64 = 1 << 30;
const ROUNDS: usize = 3;
const MIB: f64 = 1024.0 * 1024.0;

/// One download: MiB/s, the process's peak RSS in MiB and its CPU time in seconds.
struct Run {
    mib_s: f64,
    hwm_mib: f64,
    cpu_s: f64,
}

pub fn run() -> Vec<Figure> {
    let sim = setup::sim(SimConfig {
        processing_time: Duration::ZERO,
        file_size: SizeRange::fixed(SIZE),
        ..SimConfig::default()
    });
    let base = sim.base_url();
    let runtime = setup::runtime();
    let raw = Raw::new(&base, 1);
    let curl = Path::new("/usr/bin/curl").exists();
    let time_v = Path::new("/usr/bin/time").exists();
    let mut runs: [Vec<Run>; 4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for k in 0..4 {
            let who = (k + round) % 4;
            let dir = scratch();
            let run = match who {
                0 => {
                    let mut child =
                        ChildRun::start("engine-download", &[base.clone(), path_arg(&dir)]);
                    let done = child.expect("done");
                    child.wait();
                    if round == 0 {
                        let location = done["location"].as_str().expect("a location");
                        let expected = sim.expected_file(location).expect("known");
                        assert_eq!(done["sha256"].as_str(), Some(expected.sha256.as_str()));
                    }
                    reported(&done)
                }
                1 | 2 => {
                    let location = runtime.block_on(raw.create(0));
                    let path = dir.join("raw.csv");
                    let fsync = if who == 2 { "fsync" } else { "plain" };
                    let args = [location, path_arg(&path), fsync.to_string()];
                    let mut child = ChildRun::start("raw-download", &args);
                    let done = child.expect("done");
                    child.wait();
                    assert_eq!(std::fs::metadata(&path).expect("the file").len(), SIZE);
                    reported(&done)
                }
                _ if curl => {
                    let location = runtime.block_on(raw.create(0));
                    curl_run(&format!("{location}/file"), &dir.join("curl.csv"), time_v)
                }
                _ => continue,
            };
            std::fs::remove_dir_all(&dir).expect("remove the downloads");
            settle_disk();
            runs[who].push(run);
        }
        let last = |i: usize| {
            runs[i]
                .last()
                .map(|r| {
                    format!(
                        "{:.0} MiB/s, peak RSS {:.1} MiB, CPU {:.2} s",
                        r.mib_s, r.hwm_mib, r.cpu_s
                    )
                })
                .unwrap_or_else(|| "-".into())
        };
        eprintln!(
            "   round {round}: engine {}; raw {}; raw + fsync {}; curl {}",
            last(0),
            last(1),
            last(2),
            last(3)
        );
    }
    figures(&runs)
}

fn figures(runs: &[Vec<Run>; 4]) -> Vec<Figure> {
    let speed = |i: usize| -> Vec<f64> { runs[i].iter().map(|r| r.mib_s).collect() };
    let memory = |i: usize| -> Vec<f64> { runs[i].iter().map(|r| r.hwm_mib).collect() };
    let cpu = |i: usize| -> Vec<f64> { runs[i].iter().map(|r| r.cpu_s).collect() };
    let (raw, curl) = (speed(1), speed(3));
    let faster = if !curl.is_empty() && median(&curl) > median(&raw) {
        ("curl -o", curl.clone())
    } else {
        ("raw hyper", raw.clone())
    };
    let headline = Figure::plain("download", "engine, 1 GiB file", "MiB/s", &speed(0))
        .against(faster.0, &faster.1);
    let met = headline.ratio.is_some_and(|r| r >= 0.9);
    let engine_rss = Figure::plain("download", "engine process, peak RSS", "MiB", &memory(0));
    let rss_met = engine_rss.value <= 64.0;
    let mut figures = vec![
        headline.target(">= 0.9 of the faster baseline", met),
        engine_rss
            .against("raw hyper process", &memory(1))
            .target("<= 64 MiB", rss_met),
        Figure::plain("download", "engine, 1 GiB file", "MiB/s", &speed(0))
            .against("raw hyper + fsync at the end", &speed(2)),
        Figure::plain("download", "engine, CPU per GiB", "s", &cpu(0))
            .against("raw hyper", &cpu(1)),
        Figure::plain("download", "raw hyper, 1 GiB file", "MiB/s", &raw),
    ];
    if !curl.is_empty() {
        figures.push(Figure::plain(
            "download",
            "curl -o, 1 GiB file",
            "MiB/s",
            &curl,
        ));
        figures.push(Figure::plain(
            "download",
            "curl process, peak RSS",
            "MiB",
            &memory(3),
        ));
    }
    figures
}

/// A child's run, from its `done` line.
fn reported(done: &serde_json::Value) -> Run {
    Run {
        mib_s: SIZE as f64 / MIB / num(done, "seconds"),
        hwm_mib: num(done, "hwm_kib") / 1024.0,
        cpu_s: num(done, "cpu_seconds"),
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

/// `curl -o`, timed from its start to its end (under `/usr/bin/time -v` for its peak RSS).
fn curl_run(url: &str, path: &Path, time_v: bool) -> Run {
    let mut command = if time_v {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg("/usr/bin/curl");
        c
    } else {
        Command::new("/usr/bin/curl")
    };
    command
        .args(["-sS", "--fail", "-u"])
        .arg(format!("{USERNAME}:{PASSWORD}"))
        .arg("-o")
        .arg(path)
        .arg(url);
    let started = Instant::now();
    let output = command.output().expect("run curl");
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "curl failed: {output:?}");
    assert_eq!(std::fs::metadata(path).expect("curl's file").len(), SIZE);
    let hwm_kib = String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    Run {
        mib_s: SIZE as f64 / MIB / seconds,
        hwm_mib: hwm_kib / 1024.0,
        cpu_s: f64::NAN,
    }
}

/// Child: an engine downloads one 1 GiB report (create, poll, download, verify, store).
pub fn engine_child(args: &[String]) {
    let [base, dir] = args else {
        panic!("engine-download needs <base url> <dir>")
    };
    let runtime = setup::runtime();
    let config = engine_config(&PathBuf::from(dir), base, 1, immediate_poll());
    let engine = runtime
        .block_on(Engine::open(config))
        .expect("the engine opens");
    let (started, cpu) = (Instant::now(), cpu_time());
    runtime
        .block_on(engine.submit(spec(0), None))
        .expect("submit");
    runtime
        .block_on(engine.run_until_idle())
        .expect("the run ends");
    let (seconds, cpu) = (started.elapsed().as_secs_f64(), cpu_time() - cpu);
    let job = runtime
        .block_on(engine.jobs(None))
        .expect("jobs")
        .pop()
        .expect("the job");
    let JobState::Downloaded { upstream, file } = &job.state else {
        panic!("the job ended {:?}", job.state.name());
    };
    assert_eq!(file.bytes, SIZE);
    tell(json!({
        "event": "done",
        "seconds": seconds,
        "cpu_seconds": cpu.as_secs_f64(),
        "hwm_kib": hwm_kib(),
        "location": upstream.location,
        "sha256": file.sha256,
    }));
}

/// Child: raw hyper streams `<location>/file` to a path.
pub fn raw_child(args: &[String]) {
    let [location, path, fsync] = args else {
        panic!("raw-download needs <location> <path> <fsync|plain>")
    };
    let runtime = setup::runtime();
    let raw = Raw::new(location, 1);
    let (started, cpu) = (Instant::now(), cpu_time());
    let bytes = runtime.block_on(raw.download(location, Path::new(path), fsync == "fsync"));
    let (seconds, cpu) = (started.elapsed().as_secs_f64(), cpu_time() - cpu);
    assert_eq!(bytes, SIZE);
    tell(json!({
        "event": "done",
        "seconds": seconds,
        "cpu_seconds": cpu.as_secs_f64(),
        "hwm_kib": hwm_kib(),
    }));
}
