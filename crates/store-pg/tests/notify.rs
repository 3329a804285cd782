//! Hints to idle workers: `NOTIFY` in the transactions that make work (submits, releases,
//! retries), none for a worker's own steps.

mod common;

use common::*;
use reportflow_core::{Input, Millis};
use reportflow_store_pg::{Step, StepLease, WorkListener};
use std::time::Duration;

const T0: Millis = Millis(1_700_000_000_000);

async fn hinted(listener: &WorkListener) -> bool {
    tokio::time::timeout(Duration::from_secs(5), listener.hint())
        .await
        .is_ok()
}

async fn quiet(listener: &WorkListener) -> bool {
    tokio::time::timeout(Duration::from_millis(300), listener.hint())
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_that_appears_wakes_listeners_and_a_workers_own_steps_do_not() {
    let (db, store) = fresh_store().await;
    let listener = store.listen().await.expect("listens");
    // Another process's store (its own pool) submits.
    let other = reportflow_store_pg::PgStore::open(&db.url)
        .await
        .expect("opens");
    assert!(quiet(&listener).await, "nothing happened yet");
    let job = other
        .insert(spec(0), key("a"), policy(), T0)
        .await
        .expect("stores")
        .job;
    assert!(hinted(&listener).await, "a submit hints");
    // Submitting a key that names a job already makes no work.
    other
        .insert(spec(0), key("a"), policy(), T0)
        .await
        .expect("finds it");
    assert!(quiet(&listener).await, "no new job, no hint");

    let w = worker("w1");
    let claimed = store.claim(&w, 1, 1, T0).await.expect("claims").remove(0);
    let sent = store
        .apply(
            Step {
                id: job.id,
                expected_version: 0,
                input: Input::CreateSending,
                lease: Some(StepLease::new(&w, claimed.lease)),
            },
            T0.plus_ms(1),
        )
        .await
        .expect("steps")
        .job;
    assert!(
        quiet(&listener).await,
        "claims and a worker's steps make no work"
    );
    store.release(&w, &[claimed.lease]).await.expect("releases");
    assert!(hinted(&listener).await, "a release hints");

    let cancelled = other
        .apply(
            Step {
                id: job.id,
                expected_version: sent.version,
                input: Input::Cancel,
                lease: None,
            },
            T0.plus_ms(2),
        )
        .await
        .expect("cancels")
        .job;
    assert!(quiet(&listener).await, "an ended job makes no work");
    other
        .apply(
            Step {
                id: job.id,
                expected_version: cancelled.version,
                input: Input::Retry,
                lease: None,
            },
            T0.plus_ms(3),
        )
        .await
        .expect("retries");
    assert!(hinted(&listener).await, "a retry hints");
}
