//! CPU per job of the store alone, for the life the engine's overhead scenario gives a job
//! (submit; create about to be sent; location received; ready; file stored), its steps
//! recorded in batches as the sled writer records them when many jobs run at once
//! (`Store::apply_many`, no flush: the flushes are the disk's, measured by the suite).
//!
//! `cargo bench -p reportflow-store --bench batched_steps`; the figures are kept in
//! `docs/benchmarks.md` (issue 16). CPU is the whole process's (sled's threads included),
//! from `getrusage`, as the suite reads it.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "shared/cpu_time.rs"]
mod cpu_time;

use common::{account_spec, key, policy};
use cpu_time::cpu_time;
use reportflow_core::{Input, Millis, NewJob, Progress};
use reportflow_store::{Durability, Step, Store};
use std::time::{Duration, Instant};

/// Jobs per measured run.
const JOBS: usize = 20_000;

/// Stores `JOBS` jobs, `batch` at a time, and steps each batch through the life above, one
/// transaction per step of the batch. Returns the CPU per job in all and in the steps alone.
fn run(batch: usize) -> (Duration, Duration) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open_with(tmp.path(), Durability::Manual).expect("open");
    let mut n = 0u32;
    let mut steps_cpu = Duration::ZERO;
    let started = cpu_time();
    for round in 0..JOBS / batch {
        let new: Vec<NewJob> = (0..batch)
            .map(|_| {
                n += 1;
                NewJob::new(account_spec(n), Some(key(&format!("job-{n}"))))
            })
            .collect();
        let inserted = store
            .insert_many(new, &policy(), Millis(1))
            .expect("insert");
        let mut jobs: Vec<_> = inserted.into_iter().map(|i| i.job).collect();
        let before = cpu_time();
        for k in 0..4 {
            let steps: Vec<Step> = jobs
                .iter()
                .map(|j| {
                    let input = match k {
                        0 => Input::CreateSending,
                        1 => Input::CreateAccepted {
                            location: format!("https://upstream.invalid/r/{}", j.id),
                        },
                        2 => Input::StatusSeen {
                            progress: Progress::Ready,
                            raw: "Ready".to_string(),
                        },
                        _ => Input::FileStored {
                            file: common::file(j.id.0),
                        },
                    };
                    Step::new(j.id, j.version, input)
                })
                .collect();
            let applied = store
                .apply_many(&steps, Millis(2 + round as u64))
                .expect("apply");
            jobs = applied
                .results
                .into_iter()
                .map(|r| r.expect("a step"))
                .collect();
        }
        steps_cpu += cpu_time() - before;
    }
    let per_job = |d: Duration| d / JOBS as u32;
    (per_job(cpu_time() - started), per_job(steps_cpu))
}

fn main() {
    for batch in [1, 8, 32] {
        let wall = Instant::now();
        let (all, steps) = run(batch);
        println!(
            "batches of {batch:>2}: {:>4} us CPU per job ({:>4} us in its four steps), {:.1} s",
            all.as_micros(),
            steps.as_micros(),
            wall.elapsed().as_secs_f64()
        );
    }
}
