//! The figures, the table and `target/bench-results.json`.

use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// The scenario that measured it.
    pub scenario: &'static str,
    /// What it is.
    pub name: String,
    /// The median over the runs.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
    /// What it is compared with, measured in the same invocation.
    pub baseline: Option<Baseline>,
    /// `value / baseline` (or as the target defines it).
    pub ratio: Option<f64>,
    /// The target, in words.
    pub target: Option<String>,
    /// Whether the target is met.
    pub met: Option<bool>,
    /// Every run's value.
    pub runs: Vec<f64>,
}

/// A baseline figure.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// What it is.
    pub name: String,
    /// Its median.
    pub value: f64,
    /// Every run's value.
    pub runs: Vec<f64>,
}

impl Figure {
    /// A figure with no baseline and no target.
    pub fn plain(scenario: &'static str, name: &str, unit: &'static str, runs: &[f64]) -> Figure {
        Figure {
            scenario,
            name: name.to_string(),
            value: crate::measure::median(runs),
            unit,
            baseline: None,
            ratio: None,
            target: None,
            met: None,
            runs: runs.to_vec(),
        }
    }

    /// Compares with a baseline: the ratio is `value / baseline`.
    pub fn against(mut self, name: &str, runs: &[f64]) -> Figure {
        let value = crate::measure::median(runs);
        self.ratio = Some(self.value / value);
        self.baseline = Some(Baseline {
            name: name.to_string(),
            value,
            runs: runs.to_vec(),
        });
        self
    }

    /// Sets the target and whether it is met.
    pub fn target(mut self, text: &str, met: bool) -> Figure {
        self.target = Some(text.to_string());
        self.met = Some(met);
        self
    }
}

/// Rounds a figure for the table.
pub fn show(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .to_path_buf()
}

/// The load average now (1, 5 and 15 minutes), as `/proc/loadavg` says.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_default();
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": model,
        "memory_gib": (memory_kib as f64 / (1024.0 * 1024.0)).round(),
        "kernel": kernel.trim(),
        "load_average_at_end": load_average(),
    })
}

/// Prints the table (stdout) and writes the JSON.
pub fn finish(figures: &[Figure], scenarios: &[&str], took: Duration, load_at_start: &str) {
    println!();
    println!("| scenario | figure | value | baseline | ratio | target | met |");
    println!("|---|---|---|---|---|---|---|");
    for f in figures {
        let baseline = f
            .baseline
            .as_ref()
            .map(|b| format!("{}: {} {}", b.name, show(b.value), f.unit))
            .unwrap_or_default();
        let ratio = f.ratio.map(show).unwrap_or_default();
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "| {} | {} | {} {} | {} | {} | {} | {} |",
            f.scenario,
            f.name,
            show(f.value),
            f.unit,
            baseline,
            ratio,
            f.target.as_deref().unwrap_or(""),
            met
        );
    }
    let machine = machine();
    println!();
    println!(
        "suite ran in {:.0} s (without compiling) on {} cpus, {}; load average {} at the start, {} at the end",
        took.as_secs_f64(),
        machine["cpus"],
        machine["cpu_model"].as_str().unwrap_or(""),
        load_at_start,
        machine["load_average_at_end"].as_str().unwrap_or(""),
    );
    let path = target_dir().join("bench-results.json");
    let document = json!({
        "command": "cargo bench --bench suite",
        "scenarios": scenarios,
        "seconds": took.as_secs_f64(),
        "machine": machine,
        "load_average_at_start": load_at_start,
        "figures": figures,
    });
    let text = serde_json::to_string_pretty(&document).expect("the results serialize");
    std::fs::write(&path, text).expect("write the results");
    println!("results: {}", path.display());
}
