//! A status that says ready is recorded with the download that follows it (one write instead
//! of two) when the download ends within `Job::RIDE_ALONG_MS`; a longer download has the job
//! recorded as ready while its file streams.

mod common;

use common::*;
use reportflow_core::StateName;
use reportflow_sim::{Endpoint, Fault, Sim};
use std::time::Duration;

/// The transition of `history` into `state`.
fn into(
    history: &[reportflow_store::TransitionRecord],
    state: StateName,
) -> &reportflow_store::TransitionRecord {
    history
        .iter()
        .find(|t| t.to == state)
        .unwrap_or_else(|| panic!("no transition into {state:?} in {history:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_status_is_recorded_in_one_write_with_its_small_download() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    let setup = Setup::new(&sim);
    let engine = setup.engine().await;
    let mut ids = Vec::new();
    for site in 1..=4 {
        ids.push(
            engine
                .submit(inventory(site), None)
                .await
                .expect("submit")
                .job
                .id,
        );
    }
    let summary = engine.run_until_idle().await.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 4, "{summary:?}");
    verify(&engine, &sim, &setup.out_dir()).await;
    let mut together = 0;
    for id in ids {
        let history = engine.history(id).await.expect("history");
        let (ready, stored) = (
            into(&history, StateName::Ready),
            into(&history, StateName::Downloaded),
        );
        assert_eq!(stored.seq, ready.seq + 1, "{history:#?}");
        assert_eq!(stored.from, Some(StateName::Ready));
        if stored.at == ready.at {
            // Both steps were written by one transaction: they carry the same time.
            together += 1;
        } else {
            // Recorded alone, the ready status may only have waited out the whole window (a
            // loaded machine can take that long over a small file): it is written at least
            // the window after the step before it, which came before the status was asked.
            let before = history
                .iter()
                .find(|t| t.seq + 1 == ready.seq)
                .unwrap_or_else(|| panic!("no step before the ready status: {history:#?}"));
            assert!(
                ready.at.since(before.at) >= reportflow_core::Job::RIDE_ALONG_MS,
                "the ready status was recorded alone before its window passed: {history:#?}"
            );
        }
    }
    // A small file's download takes milliseconds: four of them all outlasting the window
    // would mean the ready status never rides along.
    assert!(
        together >= 1,
        "no ready status was recorded with its download"
    );
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_longer_than_the_window_is_seen_ready_while_it_runs() {
    let sim = Sim::start(quick_sim()).await.expect("sim starts");
    // The first file body stops half way and stays open: the download waits for the idle-body
    // timeout, then asks again.
    sim.script(Endpoint::File, vec![Fault::StalledBody]);
    let mut setup = Setup::new(&sim);
    setup.config.idle_body_timeout = Duration::from_secs(3);
    let engine = setup.engine().await;
    let id = engine
        .submit(inventory(1), None)
        .await
        .expect("submit")
        .job
        .id;
    let look = async {
        // Until the status has been seen, then until the store shows the job past polling: it
        // must be ready (recorded once the window passed, the download stalled for its 3 s),
        // not downloaded. Asked again and again rather than once after a fixed sleep past the
        // window: on a loaded machine the lone write of the ready status may come later than
        // any such sleep allows, and a look after the stall would see it downloaded.
        let started = tokio::time::Instant::now();
        while sim.stats().requests_to(Endpoint::File) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no download began"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        loop {
            let state = engine
                .job(&id.to_string())
                .await
                .expect("read the job")
                .state
                .name();
            if !matches!(state, StateName::Created | StateName::Polling) {
                return state;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "still {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (summary, seen) = tokio::join!(engine.run_until_idle(), look);
    assert_eq!(
        seen,
        StateName::Ready,
        "the store shows the job ready while its file streams"
    );
    let summary = summary.expect("run");
    assert_eq!(summary.count(StateName::Downloaded), 1, "{summary:?}");
    verify(&engine, &sim, &setup.out_dir()).await;
    let history = engine.history(id).await.expect("history");
    let (ready, stored) = (
        into(&history, StateName::Ready),
        into(&history, StateName::Downloaded),
    );
    assert_eq!(stored.seq, ready.seq + 1, "{history:#?}");
    assert!(
        stored.at.since(ready.at) >= 2_000,
        "recorded apart, the stalled download between them: {history:#?}"
    );
    sim.shutdown();
}
