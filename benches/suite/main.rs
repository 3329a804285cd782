//! The benchmark suite: the engine against raw baselines, on the simulator over loopback.
//!
//! ```sh
//! cargo bench --bench suite                      # every scenario (a few minutes)
//! cargo bench --bench suite -- overhead download # some of them
//! ```
//!
//! Scenarios: `overhead` (2,000 small jobs, engine against a raw hyper loop), `download`
//! (1 GiB, engine against raw hyper and curl), `scale` (100,000 jobs waiting at once),
//! `recovery` (first request of a run over 1,000,000 finished and 10,000 live jobs),
//! `polling` (detection delay and polls per job of the poll schedule) and `workers` (worker
//! processes on a PostgreSQL store against one sled process: throughput, the shared store's
//! cost per job, submit latency, takeover of a killed worker). Baselines run in the
//! same invocation as the engine, rounds alternate, and the table shows medians. Memory is
//! measured in separate processes (this binary runs itself with `--child`); the simulator
//! always runs in the parent. Prints a table and writes `target/bench-results.json`;
//! `docs/benchmarks.md` explains every figure.

mod download;
mod measure;
mod overhead;
mod polling;
mod raw;
mod recovery;
mod report;
mod scale;
mod setup;
mod workers;

use report::Figure;
use std::time::Instant;

/// The allocator the `reportflow` binary uses (`src/allocator.rs`), so that the engine measured
/// here in process is the one users run; the raw baselines share it.
#[global_allocator]
static ALLOCATOR: reportflow::allocator::Allocator = reportflow::allocator::ALLOCATOR;

/// Every scenario, in the order they run.
const SCENARIOS: [&str; 6] = [
    "overhead", "download", "scale", "recovery", "polling", "workers",
];

fn main() {
    reportflow::allocator::settle();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    // `cargo bench` adds `--bench`; other flags are libtest's and mean nothing here.
    let names: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for name in &names {
        if !SCENARIOS.contains(name) {
            eprintln!(
                "unknown scenario {name:?}; the scenarios are {}",
                SCENARIOS.join(", ")
            );
            std::process::exit(2);
        }
    }
    let chosen: Vec<&str> = SCENARIOS
        .into_iter()
        .filter(|s| names.is_empty() || names.contains(s))
        .collect();
    let started = Instant::now();
    let load_at_start = report::load_average();
    let mut figures: Vec<Figure> = Vec::new();
    for scenario in &chosen {
        eprintln!("== {scenario}");
        let began = Instant::now();
        let found = match *scenario {
            "overhead" => overhead::run(),
            "download" => download::run(),
            "scale" => scale::run(),
            "recovery" => recovery::run(),
            "polling" => polling::run(),
            "workers" => workers::run(),
            _ => unreachable!("checked above"),
        };
        eprintln!("   {scenario} took {:.1} s", began.elapsed().as_secs_f64());
        figures.extend(found);
    }
    setup::cleanup();
    report::finish(&figures, &chosen, started.elapsed(), &load_at_start);
}

/// A scenario's part that must run in its own process (for its memory figures).
fn child(args: &[String]) {
    let (name, rest) = args.split_first().expect("--child needs a part name");
    match name.as_str() {
        "engine-download" => download::engine_child(rest),
        "raw-download" => download::raw_child(rest),
        "scale" => scale::child(rest),
        "recovery" => recovery::engine_child(rest),
        "submitter" => workers::submitter_child(rest),
        other => panic!("unknown child part {other:?}"),
    }
}
