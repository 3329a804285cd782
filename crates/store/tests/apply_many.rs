//! `apply_many`: a batch of steps in one transaction has exactly the effect of applying them
//! one by one with `apply`, each step with its own result, and says when it must be flushed.

mod common;

use common::*;
use proptest::prelude::*;
use reportflow_core::{Input, JobId, Millis};
use reportflow_store::{Durability, Step, Store, StoreError};

const JOBS: u64 = 6;

/// A store of `JOBS` new jobs.
fn store_with_jobs(dir: &std::path::Path, durability: Durability) -> Store {
    let store = Store::open_with(dir, durability).expect("a new store opens");
    let batch = (0..JOBS as u32).map(|n| (spec(n), key(&format!("job-{n}"))));
    store
        .insert_many(batch, &policy(), Millis(1))
        .expect("the jobs are stored");
    store
}

/// How a step ended, comparable across the two stores.
fn outcome(result: &Result<reportflow_core::Job, StoreError>) -> String {
    match result {
        Ok(job) => format!("ok {job:?}"),
        Err(StoreError::Conflict {
            id,
            expected,
            found,
        }) => format!("conflict {id} {expected} {found}"),
        Err(StoreError::Rejected(e)) => format!("rejected {e}"),
        Err(StoreError::NotFound { id }) => format!("not found {id}"),
        Err(other) => format!("other {other}"),
    }
}

/// Everything a reader can see of a store.
fn contents(store: &Store) -> String {
    let mut seen = format!("{:?}\n", store.counts().expect("counts"));
    for n in 1..=JOBS + 1 {
        let id = JobId(n);
        seen += &format!("{:?}\n", store.get(id).expect("get"));
        seen += &format!("{:?}\n", store.history(id).map_err(|e| e.to_string()));
    }
    let live: Vec<_> = store
        .live_jobs()
        .expect("the live jobs")
        .iter()
        .map(|j| j.id)
        .collect();
    seen + &format!("{live:?}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random batches (legal and illegal inputs, stale versions, unknown jobs, several steps
    /// of one job) give the same results and the same store as one `apply` per step.
    #[test]
    fn a_batch_is_the_same_as_its_steps_one_by_one(
        batches in prop::collection::vec(
            prop::collection::vec((0..JOBS + 1, any::<u64>(), 0u8..10), 1..12), 1..6)
    ) {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let batched = store_with_jobs(&tmp.path().join("batched"), Durability::Manual);
        let single = store_with_jobs(&tmp.path().join("single"), Durability::Manual);
        for (b, batch) in batches.iter().enumerate() {
            // Steps are planned from the jobs as they were before the batch: later steps of
            // one job in the batch carry stale versions, as concurrent callers would.
            let steps: Vec<Step> = batch
                .iter()
                .map(|&(n, pick, odd)| {
                    let id = JobId(n + 1);
                    let job = batched.get(id).expect("get");
                    let version = job.as_ref().map_or(0, |j| j.version);
                    let input = job
                        .as_ref()
                        .and_then(|j| legal_input(j, pick))
                        .filter(|_| odd != 0)
                        .unwrap_or(Input::FileNotReady);
                    let expected_version = if odd == 1 { version + 1 } else { version };
                    Step::new(id, expected_version, input)
                })
                .collect();
            let now = Millis(1_000 + b as u64);
            let applied = batched.apply_many(&steps, now).expect("the batch is stored");
            prop_assert_eq!(applied.results.len(), steps.len());
            prop_assert!(!applied.flush_needed, "a Manual store never asks for a flush");
            for (step, got) in steps.iter().zip(&applied.results) {
                let want = single.apply(step.id, step.expected_version, step.input.clone(), now);
                prop_assert_eq!(outcome(got), outcome(&want));
            }
            prop_assert_eq!(contents(&batched), contents(&single));
        }
    }
}

/// A batch at a durability point asks for a flush under `DesignPoints`; one without does not.
#[test]
fn a_batch_asks_for_a_flush_only_at_a_durability_point() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let store = store_with_jobs(tmp.path(), Durability::DesignPoints);
    let refused = store
        .apply_many(&[Step::new(JobId(1), 0, Input::FileNotReady)], Millis(2))
        .unwrap();
    assert!(!refused.flush_needed, "a refused step writes nothing");
    assert!(matches!(refused.results[0], Err(StoreError::Rejected(_))));
    let sending = |id| Step::new(JobId(id), 0, Input::CreateSending);
    let applied = store
        .apply_many(&[sending(1), sending(2)], Millis(3))
        .unwrap();
    assert!(
        applied.flush_needed,
        "a create about to be sent must be durable"
    );
    assert!(applied.results.iter().all(Result::is_ok));
    store.flush().expect("the flush");
}

/// A batch of the writer's largest size, bigger than one of sled's 512 KiB log segments, is
/// stored whole and survives a reopen.
#[test]
fn a_batch_larger_than_a_log_segment_is_stored_whole() {
    const STEPS: u64 = 1024;
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("store");
    let store = Store::open(&dir).expect("a new store opens");
    let batch = (0..STEPS as u32).map(|n| (spec(n), key(&format!("big-{n}"))));
    store
        .insert_many(batch, &policy(), Millis(1))
        .expect("the jobs are stored");
    let long = "x".repeat(600);
    let steps: Vec<Step> = (1..=STEPS)
        .map(|n| {
            let failure = reportflow_core::Failure {
                message: format!("{long} {n}"),
                ..failure()
            };
            Step::new(JobId(n), 0, Input::PermanentError { failure })
        })
        .collect();
    let applied = store.apply_many(&steps, Millis(2)).expect("the batch");
    assert!(applied.results.iter().all(Result::is_ok));
    assert!(applied.flush_needed, "every job ended");
    store.flush().expect("the flush");
    drop(store);
    let store = Store::open(&dir).expect("the store opens again");
    let counts = store.counts().expect("counts");
    assert_eq!(counts[&reportflow_core::StateName::Failed], STEPS);
    for n in [1, STEPS / 2, STEPS] {
        let job = store.get(JobId(n)).unwrap().expect("the job");
        assert_eq!(job.version, 1);
        assert_eq!(store.history(JobId(n)).unwrap().len(), 2);
    }
}
