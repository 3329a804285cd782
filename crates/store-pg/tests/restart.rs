//! The database restarted (`pg_ctl restart`) or stopped under a running store: operations
//! wait and resume, the listener reconnects, nothing is lost; a database that stays away is an
//! error naming the URL without its password. One test in this binary: it owns the server.

mod common;

use common::*;
use reportflow_core::{Input, Millis};
use reportflow_store_pg::{PgError, PgOptions, PgStore, Step, StepLease, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const T0: Millis = Millis(1_700_000_000_000);

/// What the working loop saw.
struct Worked {
    rounds: u64,
    /// The longest round: one that met the restart waited for the database.
    longest: Duration,
    /// Errors, which may only be "the commit's outcome is unknown" (a connection cut during a
    /// COMMIT).
    errors: Vec<StoreError>,
}

/// Submits, claims, steps and reads in a loop until told to stop.
async fn keep_working(store: PgStore, stop: Arc<AtomicBool>) -> Worked {
    let w = worker("busy");
    let mut done = 0;
    let mut longest = Duration::ZERO;
    let mut errors = Vec::new();
    let mut n = 0u32;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let started = Instant::now();
        let result: Result<(), StoreError> = async {
            store
                .insert(spec(n), key(&format!("loop-{n}")), policy(), T0)
                .await?;
            for claimed in store.claim(&w, 4, 100, T0).await? {
                let step = Step {
                    id: claimed.job.id,
                    expected_version: claimed.job.version,
                    input: Input::CreateSending,
                    lease: Some(StepLease::new(&w, claimed.lease)),
                };
                if let Err(e) = store.apply(step, T0.plus_ms(1)).await {
                    // A job whose earlier step's outcome was unknown has moved on.
                    if !matches!(e, StoreError::Conflict { .. }) {
                        return Err(e);
                    }
                }
            }
            store.counts().await?;
            Ok(())
        }
        .await;
        longest = longest.max(started.elapsed());
        match result {
            Ok(()) => done += 1,
            Err(e) => errors.push(e),
        }
    }
    Worked {
        rounds: done,
        longest,
        errors,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_waits_for_a_restarted_database_and_resumes() {
    let pg = reportflow_testpg::server().expect("the test server");
    if pg.port().is_none() {
        eprintln!(
            "NOT RUN: the server {} names is not this test's to restart",
            reportflow_testpg::EXTERNAL_URL_VAR
        );
        return;
    }
    let (db, store) = fresh_store().await;
    let listener = store.listen().await.expect("listens");
    let stop = Arc::new(AtomicBool::new(false));
    let worker_task = tokio::spawn(keep_working(store.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    tokio::task::spawn_blocking(|| reportflow_testpg::server().expect("server").restart())
        .await
        .expect("a task")
        .expect("pg_ctl restart");
    let back = Instant::now();
    // Work goes on after the restart.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::SeqCst);
    let worked = worker_task.await.expect("the loop");
    assert!(worked.rounds > 3, "only {} rounds", worked.rounds);
    assert!(
        worked.longest >= Duration::from_millis(50),
        "a round met the restart and waited ({:?})",
        worked.longest
    );
    for e in &worked.errors {
        assert!(
            matches!(e, StoreError::Postgres(PgError::OutcomeUnknown { .. })),
            "only a commit cut by the restart may fail: {e}"
        );
        assert!(!e.to_string().contains(reportflow_testpg::PASSWORD), "{e}");
    }
    let resumed = store
        .insert(spec(0), key("after"), policy(), T0)
        .await
        .expect("works after the restart");
    assert!(back.elapsed() < Duration::from_secs(30));
    assert_eq!(
        store.counts().await.expect("counts"),
        recount(&db.url).await
    );
    assert!(
        store.get(resumed.job.id).await.expect("reads").is_some(),
        "nothing lost"
    );
    // The listener reconnected: once the hints of the loop are drained, a submit hints.
    while tokio::time::timeout(Duration::from_millis(500), listener.hint())
        .await
        .is_ok()
    {}
    store
        .insert(spec(1), key("after-2"), policy(), T0)
        .await
        .expect("stores");
    assert!(
        tokio::time::timeout(Duration::from_secs(10), listener.hint())
            .await
            .is_ok(),
        "a submit after the restart hints"
    );

    // Stopped for longer than the store waits: a clear error, then it works again.
    let impatient = PgStore::open_with(
        &db.url,
        PgOptions {
            reconnect_wait: Duration::from_secs(1),
            ..PgOptions::default()
        },
    )
    .await
    .expect("opens");
    tokio::task::spawn_blocking(|| reportflow_testpg::server().expect("server").stop())
        .await
        .expect("a task")
        .expect("pg_ctl stop");
    let err = impatient
        .counts()
        .await
        .expect_err("the database is stopped");
    tokio::task::spawn_blocking(|| reportflow_testpg::server().expect("server").start_again())
        .await
        .expect("a task")
        .expect("pg_ctl start");
    assert!(
        matches!(err, StoreError::Postgres(PgError::Unavailable { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("stayed unreachable"), "{text}");
    assert!(text.contains("postgres:***@127.0.0.1"), "{text}");
    assert!(!text.contains(reportflow_testpg::PASSWORD), "{text}");
    assert!(
        impatient
            .get(resumed.job.id)
            .await
            .expect("works again")
            .is_some()
    );
    assert_eq!(
        impatient.counts().await.expect("counts"),
        recount(&db.url).await
    );
}
