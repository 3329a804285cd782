//! The store's behaviour through its public API: insert, apply, queries, purge, reopen.

mod common;

use common::*;
use reportflow_core::{CoreError, Input, Job, JobId, JobSpec, JobState, Millis, StateName};
use reportflow_store::{Durability, PurgeReport, Store, StoreError};
use std::collections::BTreeSet;

fn open() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&tmp.path().join("store")).expect("a new store opens");
    (tmp, store)
}

/// Drives a job through `inputs`, one step at a time, at times 10, 20, ...
fn drive(store: &Store, id: JobId, inputs: Vec<Input>) {
    for (i, input) in inputs.into_iter().enumerate() {
        let job = store.get(id).unwrap().unwrap();
        store
            .apply(id, job.version, input, Millis(10 * (i as u64 + 1)))
            .unwrap();
    }
}

/// Inserts a new job and returns it.
fn submit(store: &Store, spec: JobSpec, name: &str, at: u64) -> Job {
    let inserted = store.insert(spec, key(name), policy(), Millis(at)).unwrap();
    assert!(inserted.created);
    inserted.job
}

fn to_downloaded() -> Vec<Input> {
    vec![
        Input::CreateSending,
        Input::CreateAccepted {
            location: "https://upstream.invalid/r/1".to_string(),
        },
        Input::StatusSeen {
            progress: reportflow_core::Progress::Ready,
            raw: "Ready".to_string(),
        },
        Input::FileStored { file: file(1) },
    ]
}

#[test]
fn insert_is_idempotent_on_the_key_and_ids_start_at_one() {
    let (_tmp, store) = open();
    let first = store
        .insert(spec(0), key("a"), policy(), Millis(5))
        .unwrap();
    assert!(first.created);
    assert_eq!(first.job.id, JobId(1));
    assert_eq!(first.job.state, JobState::requested(Millis(5)));
    let again = store
        .insert(spec(0), key("a"), policy(), Millis(99))
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.job, first.job);
    let other = store
        .insert(spec(0), key("b"), policy(), Millis(5))
        .unwrap();
    assert_eq!(other.job.id, JobId(2));
    assert_eq!(store.get_by_key(&key("a")).unwrap(), Some(first.job));
    assert_eq!(store.get_by_key(&key("zzz")).unwrap(), None);
}

#[test]
fn the_same_key_with_another_spec_is_refused_naming_both() {
    let (_tmp, store) = open();
    store
        .insert(account_spec(1), key("nightly"), policy(), Millis(5))
        .unwrap();
    let err = store
        .insert(billing_spec(3), key("nightly"), policy(), Millis(6))
        .unwrap_err();
    let StoreError::KeyConflict { existing, .. } = &err else {
        panic!("expected a key conflict, got {err:?}");
    };
    assert_eq!(*existing, JobId(1));
    let message = err.to_string();
    assert!(message.contains("\"nightly\""), "{message}");
    assert!(
        message.contains("account report 2 of account 12345"),
        "{message}"
    );
    assert!(
        message.contains("billing report BDR of account 12345"),
        "{message}"
    );
    assert_eq!(store.list(None, None, 10).unwrap().len(), 1);
}

#[test]
fn apply_with_a_stale_version_is_a_conflict_and_writes_nothing() {
    let (_tmp, store) = open();
    let job = submit(&store, spec(0), "a", 5);
    let moved = store
        .apply(job.id, 0, Input::CreateSending, Millis(6))
        .unwrap();
    assert_eq!(moved.version, 1);
    assert_eq!(moved.creations, 1);
    let err = store
        .apply(job.id, 0, Input::CreateSending, Millis(7))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { id, expected: 0, found: 1 } if id == job.id),
        "{err:?}"
    );
    assert_eq!(store.get(job.id).unwrap(), Some(moved));
    assert_eq!(store.history(job.id).unwrap().len(), 2);
}

#[test]
fn an_input_the_core_refuses_is_rejected_and_writes_nothing() {
    let (_tmp, store) = open();
    let job = submit(&store, spec(0), "a", 5);
    let err = store
        .apply(job.id, 0, Input::FileNotReady, Millis(6))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Rejected(CoreError::Rejected { .. })),
        "{err:?}"
    );
    assert_eq!(store.get(job.id).unwrap(), Some(job.clone()));
    assert_eq!(store.history(job.id).unwrap().len(), 1);
    let missing = store
        .apply(JobId(42), 0, Input::Cancel, Millis(6))
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { id: JobId(42) }));
    assert!(matches!(
        store.history(JobId(42)),
        Err(StoreError::NotFound { id: JobId(42) })
    ));
}

#[test]
fn history_is_a_gap_free_chain_from_the_submit() {
    let (_tmp, store) = open();
    let id = submit(&store, spec(0), "a", 5).id;
    drive(&store, id, to_downloaded());
    let history = store.history(id).unwrap();
    let path: Vec<(u64, Option<StateName>, StateName)> =
        history.iter().map(|t| (t.seq, t.from, t.to)).collect();
    use StateName::*;
    assert_eq!(
        path,
        vec![
            (0, None, Requested),
            (1, Some(Requested), Requested),
            (2, Some(Requested), Created),
            (3, Some(Created), Ready),
            (4, Some(Ready), Downloaded),
        ]
    );
    assert_eq!(history[0].input, "submit");
    assert_eq!(history[0].at, Millis(5));
    assert_eq!(
        history[2].input,
        "create-accepted https://upstream.invalid/r/1"
    );
    assert_eq!(history[4].at, Millis(40));
    assert_eq!(store.get(id).unwrap().unwrap().version, 4);
}

#[test]
fn indexes_follow_the_jobs_and_lists_page_by_id() {
    let (_tmp, store) = open();
    for n in 0..30u32 {
        let id = submit(&store, account_spec(n), &format!("k{n}"), 1).id;
        match n % 3 {
            0 => drive(&store, id, to_downloaded()),
            1 => drive(&store, id, vec![Input::CreateSending]),
            _ => {}
        }
    }
    let counts = store.counts().unwrap();
    assert_eq!(counts.len(), StateName::ALL.len());
    assert_eq!(counts[&StateName::Downloaded], 10);
    assert_eq!(counts[&StateName::Requested], 20);
    assert_eq!(counts.values().sum::<u64>(), 30);

    let live: Vec<u64> = store.live_jobs().unwrap().iter().map(|j| j.id.0).collect();
    let expected: Vec<u64> = (1..=30).filter(|i| (i - 1) % 3 != 0).collect();
    assert_eq!(live, expected);

    for state in [
        None,
        Some(StateName::Requested),
        Some(StateName::Downloaded),
    ] {
        let all = store.list(state, None, 1000).unwrap();
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = store.list(state, after, 7).unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 7);
            after = page.last().map(|j| j.id);
            paged.extend(page);
        }
        assert_eq!(paged, all);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        if let Some(state) = state {
            assert_eq!(all.len() as u64, counts[&state]);
            assert!(all.iter().all(|j| j.state.name() == state));
        }
    }
    assert_eq!(store.list(None, None, 1000).unwrap().len(), 30);
    assert!(store.list(None, None, 0).unwrap().is_empty());
    assert!(
        store
            .list(None, Some(JobId(u64::MAX)), 5)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list(Some(StateName::Polling), None, 5)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_retried_job_is_live_again_and_is_not_purged() {
    let (_tmp, store) = open();
    let id = submit(&store, spec(0), "a", 1).id;
    drive(&store, id, vec![Input::Cancel, Input::Retry]);
    let job = store.get(id).unwrap().unwrap();
    assert_eq!(job.state, JobState::requested(Millis(20)));
    assert_eq!(job.attempt, 2);
    assert_eq!(store.live_jobs().unwrap(), vec![job]);
    assert_eq!(
        store.purge(Millis(u64::MAX)).unwrap(),
        PurgeReport::default()
    );
    assert_eq!(store.counts().unwrap()[&StateName::Cancelled], 0);
}

#[test]
fn a_long_history_stays_a_gap_free_chain_across_runs_reopens_retries_and_purges() {
    // The sled store writes a live job's history in runs of 16 (its latest transitions ride
    // in its value): a job polled 40 times, reopened in the middle, ended, retried, ended again.
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("store");
    let chain = |store: &Store, id: JobId, len: u64| {
        let history = store.history(id).unwrap();
        let seqs: Vec<u64> = history.iter().map(|t| t.seq).collect();
        assert_eq!(seqs, (0..len).collect::<Vec<_>>());
        for pair in history.windows(2) {
            assert_eq!(
                pair[0].to,
                pair[1].from.expect("only the submit has no from")
            );
        }
        history
    };
    let not_ready = || Input::StatusSeen {
        progress: reportflow_core::Progress::NotReady,
        raw: "Processing".to_string(),
    };
    let id = {
        let store = Store::open(&dir).unwrap();
        let id = submit(&store, spec(0), "long", 1).id;
        let mut inputs = vec![
            Input::CreateSending,
            Input::CreateAccepted {
                location: "https://upstream.invalid/r/1".to_string(),
            },
        ];
        inputs.extend((0..20).map(|_| not_ready()));
        drive(&store, id, inputs);
        chain(&store, id, 23);
        id
    };
    let store = Store::open(&dir).unwrap();
    chain(&store, id, 23);
    drive(&store, id, (0..20).map(|_| not_ready()).collect());
    let live = chain(&store, id, 43);
    assert_eq!(live[42].input, "status-seen \"Processing\"");
    drive(&store, id, vec![Input::Cancel, Input::Retry, Input::Cancel]);
    let history = chain(&store, id, 46);
    let inputs: Vec<&str> = history[43..].iter().map(|t| t.input.as_str()).collect();
    assert_eq!(inputs, ["cancel", "retry", "cancel"]);
    assert_eq!(store.get(id).unwrap().unwrap().version, 45);
    let report = store.purge(Millis(1_000_000)).unwrap();
    assert_eq!(report.history_records, 46);
    assert!(store.history(id).is_err());
}

#[test]
fn purge_removes_old_ended_jobs_with_their_history_and_keys() {
    let (_tmp, store) = open();
    // Job 1 ends at 40, job 2 is cancelled at 10, job 3 stays live, job 4 ends at 40 too.
    for n in 0..4u32 {
        store
            .insert(account_spec(n), key(&format!("k{n}")), policy(), Millis(1))
            .unwrap();
    }
    drive(&store, JobId(1), to_downloaded());
    drive(&store, JobId(2), vec![Input::Cancel]);
    drive(&store, JobId(3), vec![Input::CreateSending]);
    drive(&store, JobId(4), to_downloaded());

    assert_eq!(store.purge(Millis(10)).unwrap(), PurgeReport::default());
    let report = store.purge(Millis(11)).unwrap();
    assert_eq!(
        report,
        PurgeReport {
            jobs: 1,
            history_records: 2,
            ids: vec![JobId(2)]
        }
    );
    let report = store.purge(Millis(1_000)).unwrap();
    assert_eq!(report.jobs, 2);
    assert_eq!(report.history_records, 10);
    assert_eq!(
        report.ids.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([JobId(1), JobId(4)])
    );
    for id in [1, 2, 4] {
        assert_eq!(store.get(JobId(id)).unwrap(), None);
        assert!(store.history(JobId(id)).is_err());
    }
    assert_eq!(store.get_by_key(&key("k0")).unwrap(), None);
    assert_eq!(store.list(None, None, 10).unwrap().len(), 1);
    assert_eq!(store.counts().unwrap().values().sum::<u64>(), 1);
    assert_eq!(store.live_jobs().unwrap().len(), 1);

    // A purged key may name a new job; its id is new.
    let again = store
        .insert(account_spec(0), key("k0"), policy(), Millis(2))
        .unwrap();
    assert!(again.created);
    assert_eq!(again.job.id, JobId(5));
}

#[test]
fn jobs_and_ids_survive_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = Store::open_with(&dir, Durability::Manual).unwrap();
    assert_eq!(store.durability(), Durability::Manual);
    store
        .insert(spec(0), key("a"), policy(), Millis(1))
        .unwrap();
    store
        .insert(spec(1), key("b"), policy(), Millis(1))
        .unwrap();
    drive(&store, JobId(2), vec![Input::CreateSending]);
    store.purge(Millis(u64::MAX)).unwrap();
    let before = store.list(None, None, 10).unwrap();
    drop(store);

    let store = Store::open_with(&dir, Durability::EveryChange).unwrap();
    assert_eq!(store.dir(), dir.as_path());
    assert_eq!(store.list(None, None, 10).unwrap(), before);
    assert_eq!(store.history(JobId(2)).unwrap().len(), 2);
    let third = store
        .insert(spec(2), key("c"), policy(), Millis(1))
        .unwrap();
    assert_eq!(third.job.id, JobId(3));
}

#[test]
fn a_store_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
    let (_tmp, store) = open();
    let store = std::sync::Arc::new(store);
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..10u32 {
                    let name = format!("t{t}-{n}");
                    let job = store
                        .insert(spec(n), key(&name), policy(), Millis(1))
                        .unwrap()
                        .job;
                    store
                        .apply(job.id, 0, Input::CreateSending, Millis(2))
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let ids: BTreeSet<JobId> = store
        .list(None, None, 100)
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, (1..=40).map(JobId).collect());
    assert_eq!(store.counts().unwrap()[&StateName::Requested], 40);
}

#[test]
fn the_create_count_and_the_backoff_survive_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (id, before) = {
        let store = Store::open(&dir).unwrap();
        let id = submit(&store, account_spec(1), "a", 1).id;
        drive(
            &store,
            id,
            vec![
                Input::CreateSending,
                Input::CreateUnanswered {
                    reason: "the connection was reset".to_string(),
                },
                Input::StepFailed {
                    reason: "HTTP 503".to_string(),
                },
                Input::ReconcileFoundNothing,
                Input::CreateSending,
            ],
        );
        (id, store.get(id).unwrap().unwrap())
    };
    let store = Store::open(&dir).unwrap();
    let after = store.get(id).unwrap().unwrap();
    assert_eq!(after, before, "a reopen changes nothing");
    assert_eq!(after.unconfirmed_creates(), 2, "both creates still count");
    assert_eq!(after.backoff.as_ref().map(|b| b.failures), Some(1));
    assert_eq!(
        after.effect(),
        before.effect(),
        "the same next step, at the same time"
    );
    assert_eq!(store.live_jobs().unwrap(), vec![after]);
}
