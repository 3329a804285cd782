//! Scenario 2, download: one 1 GiB file through the engine (a child process: submit, run until
//! idle), with its default direct writes and with page-cache writes, against raw hyper
//! streaming the same kind of file to disk (a child process; also with an `fsync` at the end,
//! as the engine does), against `curl -o` (when installed), and the disk itself: `dd` writing
//! 1 GiB with `oflag=direct bs=1M` (one write in flight, what a pipeline with one write in
//! flight can reach). Throughput and peak RSS of each process; the simulator runs in this
//! process. Every file is deleted right after its run and dirty pages are written out (`sync`)
//! before the next, so that no run pays for another's writes.

use crate::measure::{ChildRun, cpu_time, hwm_kib, median, num, settle_disk, tell};
use crate::raw::Raw;
use crate::report::Figure;
use crate::setup::{self, PASSWORD, USERNAME, engine_config, immediate_poll, scratch, spec};
use reportflow_core::JobState;
use reportflow_driver::{DownloadWrites, Engine};
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

/// Who writes the file; each contender's runs are `Runs[contender]`.
#[derive(Clone, Copy, PartialEq)]
enum Contender {
    /// The engine with its default (direct) writes.
    Engine,
    /// Raw hyper into the page cache.
    Raw,
    /// Raw hyper with an `fsync` at the end.
    RawFsync,
    /// `curl -o`.
    Curl,
    /// The engine with page-cache writes.
    EnginePageCache,
    /// `dd oflag=direct bs=1M` from `/dev/zero`: the disk alone.
    DdDirect,
}

impl Contender {
    /// Every contender, in the order of the enum (its discriminant is its place in `Runs`).
    const ALL: [Contender; 6] = [
        Contender::Engine,
        Contender::Raw,
        Contender::RawFsync,
        Contender::Curl,
        Contender::EnginePageCache,
        Contender::DdDirect,
    ];
}

/// The runs of each contender, indexed by the contender.
#[derive(Default)]
struct Runs([Vec<Run>; Contender::ALL.len()]);

impl std::ops::Index<Contender> for Runs {
    type Output = Vec<Run>;
    fn index(&self, who: Contender) -> &Vec<Run> {
        &self.0[who as usize]
    }
}

impl std::ops::IndexMut<Contender> for Runs {
    fn index_mut(&mut self, who: Contender) -> &mut Vec<Run> {
        &mut self.0[who as usize]
    }
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
    let dd = Path::new("/bin/dd").exists();
    let mut runs = Runs::default();
    for round in 0..ROUNDS {
        for k in 0..Contender::ALL.len() {
            let who = Contender::ALL[(k + round) % Contender::ALL.len()];
            let dir = scratch();
            let run = match who {
                engine @ (Contender::Engine | Contender::EnginePageCache) => {
                    let writes = if engine == Contender::Engine {
                        "direct"
                    } else {
                        "page-cache"
                    };
                    let args = [base.clone(), path_arg(&dir), writes.to_string()];
                    let mut child = ChildRun::start("engine-download", &args);
                    let done = child.expect("done");
                    child.wait();
                    if round == 0 {
                        let location = done["location"].as_str().expect("a location");
                        let expected = sim.expected_file(location).expect("known");
                        assert_eq!(done["sha256"].as_str(), Some(expected.sha256.as_str()));
                    }
                    reported(&done)
                }
                raw_kind @ (Contender::Raw | Contender::RawFsync) => {
                    let location = runtime.block_on(raw.create(0));
                    let path = dir.join("raw.csv");
                    let fsync = if raw_kind == Contender::RawFsync {
                        "fsync"
                    } else {
                        "plain"
                    };
                    let args = [location, path_arg(&path), fsync.to_string()];
                    let mut child = ChildRun::start("raw-download", &args);
                    let done = child.expect("done");
                    child.wait();
                    assert_eq!(std::fs::metadata(&path).expect("the file").len(), SIZE);
                    reported(&done)
                }
                Contender::Curl if curl => {
                    let location = runtime.block_on(raw.create(0));
                    curl_run(&format!("{location}/file"), &dir.join("curl.csv"), time_v)
                }
                Contender::DdDirect if dd => dd_direct(&dir.join("dd.bin")),
                Contender::Curl | Contender::DdDirect => continue,
            };
            std::fs::remove_dir_all(&dir).expect("remove the downloads");
            settle_disk();
            runs[who].push(run);
        }
        let last = |who: Contender| {
            runs[who]
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
            "   round {round}: engine {}; engine, page-cache writes {}; raw {}; raw + fsync {}; curl {}; dd oflag=direct {:.0} MiB/s",
            last(Contender::Engine),
            last(Contender::EnginePageCache),
            last(Contender::Raw),
            last(Contender::RawFsync),
            last(Contender::Curl),
            runs[Contender::DdDirect]
                .last()
                .map_or(f64::NAN, |r| r.mib_s),
        );
    }
    figures(&runs)
}

fn figures(runs: &Runs) -> Vec<Figure> {
    let speed = |who: Contender| -> Vec<f64> { runs[who].iter().map(|r| r.mib_s).collect() };
    let memory = |who: Contender| -> Vec<f64> { runs[who].iter().map(|r| r.hwm_mib).collect() };
    let cpu = |who: Contender| -> Vec<f64> { runs[who].iter().map(|r| r.cpu_s).collect() };
    let (raw, curl) = (speed(Contender::Raw), speed(Contender::Curl));
    let faster = if !curl.is_empty() && median(&curl) > median(&raw) {
        ("curl -o", curl.clone())
    } else {
        ("raw hyper", raw.clone())
    };
    let engine = || {
        Figure::plain(
            "download",
            "engine, 1 GiB file",
            "MiB/s",
            &speed(Contender::Engine),
        )
    };
    let durable = engine().against("raw hyper + fsync at the end", &speed(Contender::RawFsync));
    let durable_met = durable.ratio.is_some_and(|r| r >= 1.0);
    let headline = engine().against(faster.0, &faster.1);
    let met = headline.ratio.is_some_and(|r| r >= 0.9);
    let engine_rss = Figure::plain(
        "download",
        "engine process, peak RSS",
        "MiB",
        &memory(Contender::Engine),
    );
    let rss_met = engine_rss.value < 32.0;
    let mut figures = vec![
        durable.target(">= 1.0 x raw + fsync (issue 16)", durable_met),
        headline.target(">= 0.9 of the faster baseline (issue 8)", met),
        engine_rss
            .against("raw hyper process", &memory(Contender::Raw))
            .target("< 32 MiB (issue 16)", rss_met),
        Figure::plain(
            "download",
            "engine, page-cache writes, 1 GiB file",
            "MiB/s",
            &speed(Contender::EnginePageCache),
        )
        .against("raw hyper + fsync at the end", &speed(Contender::RawFsync)),
        engine().against(
            "engine, page-cache writes",
            &speed(Contender::EnginePageCache),
        ),
        Figure::plain(
            "download",
            "engine, CPU per GiB",
            "s",
            &cpu(Contender::Engine),
        )
        .against("raw hyper", &cpu(Contender::Raw)),
        Figure::plain(
            "download",
            "engine, page-cache writes, CPU per GiB",
            "s",
            &cpu(Contender::EnginePageCache),
        ),
        Figure::plain(
            "download",
            "engine, page-cache writes, peak RSS",
            "MiB",
            &memory(Contender::EnginePageCache),
        ),
        Figure::plain("download", "raw hyper, 1 GiB file", "MiB/s", &raw),
        Figure::plain(
            "download",
            "raw hyper + fsync at the end, 1 GiB file",
            "MiB/s",
            &speed(Contender::RawFsync),
        ),
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
            &memory(Contender::Curl),
        ));
    }
    if !runs[Contender::DdDirect].is_empty() {
        figures.push(engine().against(
            "the disk: dd oflag=direct bs=1M (one write in flight)",
            &speed(Contender::DdDirect),
        ));
    }
    figures
}

/// `dd if=/dev/zero of=<path> bs=1M count=1024 oflag=direct`, timed: how fast this disk takes
/// direct writes one at a time (no network, no hash).
fn dd_direct(path: &Path) -> Run {
    let started = Instant::now();
    let output = Command::new("/bin/dd")
        .args(["if=/dev/zero", "bs=1M", "count=1024", "oflag=direct"])
        .arg(format!("of={}", path.display()))
        .output()
        .expect("run dd");
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "dd failed: {output:?}");
    assert_eq!(std::fs::metadata(path).expect("dd's file").len(), SIZE);
    Run {
        mib_s: SIZE as f64 / MIB / seconds,
        hwm_mib: f64::NAN,
        cpu_s: f64::NAN,
    }
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
    let [base, dir, writes] = args else {
        panic!("engine-download needs <base url> <dir> <direct|page-cache>")
    };
    let runtime = setup::runtime();
    let mut config = engine_config(&PathBuf::from(dir), base, 1, immediate_poll());
    config.download_writes = match writes.as_str() {
        "direct" => DownloadWrites::Direct,
        "page-cache" => DownloadWrites::PageCache,
        other => panic!("unknown writes {other:?}"),
    };
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
