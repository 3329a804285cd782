//! `insert_many`: a batch of inserts made durable by one flush, with the semantics of `insert`.

mod common;

use common::*;
use reportflow_core::{JobId, Millis};
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
    let none: Vec<_> = Vec::new();
    assert!(
        store
            .insert_many(none, &policy(), Millis(1))
            .unwrap()
            .is_empty()
    );
    assert!(store.list(None, None, 10).unwrap().is_empty());
}
