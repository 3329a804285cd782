//! `insert_many`: a batch of inserts made durable by one flush, with the semantics of `insert`.

mod common;

use common::*;
use reportflow_core::{Input, JobId, Label, Millis, NewJob};
use reportflow_store::{Store, StoreError};

#[test]
fn a_batch_is_stored_in_order_and_survives_a_reopen() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("store");
    let store = Store::open(&dir).expect("a new store opens");
    let batch = (0..3).map(|n| (spec(n), key(&format!("job-{n}"))));
    let inserted = store.insert_many(batch, &policy(), Millis(5)).unwrap();
    let ids: Vec<JobId> = inserted.iter().map(|i| i.job.id).collect();
    assert_eq!(ids, vec![JobId(1), JobId(2), JobId(3)]);
    assert!(inserted.iter().all(|i| i.created));

    // The same keys with the same specs name the same jobs, as with `insert`.
    let again = (0..3).map(|n| (spec(n), key(&format!("job-{n}"))));
    let again = store.insert_many(again, &policy(), Millis(6)).unwrap();
    assert!(again.iter().all(|i| !i.created));
    assert_eq!(again.iter().map(|i| i.job.id).collect::<Vec<_>>(), ids);

    drop(store);
    let store = Store::open(&dir).expect("the store opens again");
    for (n, id) in ids.iter().enumerate() {
        let job = store.get(*id).unwrap().expect("the job is stored");
        assert_eq!(job.spec, spec(n as u32));
    }
}

#[test]
fn a_conflict_stops_the_batch_and_keeps_the_jobs_before_it() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&tmp.path().join("store")).expect("a new store opens");
    store
        .insert(spec(0), key("taken"), policy(), Millis(1))
        .unwrap();
    let batch = vec![
        (spec(1), key("first")),
        (spec(2), key("taken")),
        (spec(3), key("never")),
    ];
    let err = store.insert_many(batch, &policy(), Millis(2)).unwrap_err();
    assert!(matches!(err, StoreError::KeyConflict { .. }), "{err}");
    assert!(store.get_by_key(&key("first")).unwrap().is_some());
    assert!(store.get_by_key(&key("never")).unwrap().is_none());
    assert_eq!(
        store.get_by_key(&key("taken")).unwrap().unwrap().spec,
        spec(0)
    );
}

#[test]
fn an_empty_batch_stores_nothing() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&tmp.path().join("store")).expect("a new store opens");
    let none: Vec<reportflow_core::NewJob> = Vec::new();
    assert!(
        store
            .insert_many(none, &policy(), Millis(1))
            .unwrap()
            .is_empty()
    );
    assert!(store.list(None, None, 10).unwrap().is_empty());
}

/// A batch larger than one transaction (128 jobs): ids stay consecutive across transactions,
/// a key repeated inside the batch names the job stored earlier in it, the counters and
/// indexes agree, and a conflict in a later transaction keeps every job before it.
#[test]
fn a_large_batch_spans_transactions_with_the_semantics_of_insert() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("store");
    let store = Store::open(&dir).expect("a new store opens");
    let mut batch: Vec<_> = (0..300)
        .map(|n| (spec(n), key(&format!("job-{n}"))))
        .collect();
    // Job 5 again, in a later transaction than its first submit, and in the same one.
    batch.insert(200, (spec(5), key("job-5")));
    batch.insert(7, (spec(5), key("job-5")));
    let inserted = store.insert_many(batch, &policy(), Millis(5)).unwrap();
    assert_eq!(inserted.len(), 302);
    let created: Vec<u64> = inserted
        .iter()
        .filter(|i| i.created)
        .map(|i| i.job.id.0)
        .collect();
    assert_eq!(created, (1..=300).collect::<Vec<_>>());
    assert!(!inserted[7].created && inserted[7].job.id == JobId(6));
    assert!(!inserted[201].created && inserted[201].job.id == JobId(6));
    assert_eq!(store.live_jobs().unwrap().len(), 300);
    assert_eq!(
        store.counts().unwrap()[&reportflow_core::StateName::Requested],
        300
    );

    let mut more: Vec<_> = (300..600)
        .map(|n| (spec(n), key(&format!("job-{n}"))))
        .collect();
    more[250] = (spec(9999), key("job-3"));
    let err = store.insert_many(more, &policy(), Millis(6)).unwrap_err();
    assert!(matches!(err, StoreError::KeyConflict { .. }), "{err}");
    drop(store);
    let store = Store::open(&dir).expect("the store opens again");
    assert_eq!(store.live_jobs().unwrap().len(), 550);
    assert!(store.get_by_key(&key("job-549")).unwrap().is_some());
    assert!(store.get_by_key(&key("job-551")).unwrap().is_none());
    assert_eq!(store.get(JobId(550)).unwrap().unwrap().key, key("job-549"));
    let next = store
        .insert(spec(7777), key("after"), policy(), Millis(7))
        .unwrap();
    assert_eq!(next.job.id, JobId(551));
}

#[test]
fn a_label_and_the_origin_of_dates_are_stored_with_the_job_and_kept() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("store");
    let store = Store::open(&dir).expect("a new store opens");
    let night = labelled(1, "night", "nightly-2024-01-02");
    let batch = vec![night.clone(), NewJob::new(spec(2), Some(key("plain")))];
    let inserted = store.insert_many(batch, &policy(), Millis(5)).unwrap();
    assert_eq!(inserted[0].job.label, night.label);
    assert_eq!(inserted[0].job.origin, night.origin);
    assert_eq!(inserted[1].job.label, None);
    assert_eq!(inserted[1].job.origin, None);

    // A repeated submit under another label is the same job, its label unchanged.
    let again = labelled(1, "night", "another-label");
    let again = store.insert_many([again], &policy(), Millis(6)).unwrap();
    assert!(!again[0].created);
    assert_eq!(again[0].job.label, night.label);

    // A step keeps them, and so does a reopen.
    let id = inserted[0].job.id;
    store.apply(id, 0, Input::Cancel, Millis(7)).unwrap();
    drop(store);
    let store = Store::open(&dir).expect("the store opens again");
    let job = store.get(id).unwrap().expect("the job is stored");
    assert_eq!(job.version, 1);
    assert_eq!(job.label, Some(Label::new("nightly-2024-01-02").unwrap()));
    assert_eq!(job.origin, night.origin);
    let plain = store.get(inserted[1].job.id).unwrap().expect("stored");
    assert_eq!((plain.label, plain.origin), (None, None));
}
