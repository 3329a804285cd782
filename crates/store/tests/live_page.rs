//! `live_page`: the live jobs a page at a time, in id order, without the ended ones.

mod common;

use common::*;
use reportflow_core::{Input, JobId, Millis};
use reportflow_store::Store;

#[test]
fn pages_of_live_jobs_cover_the_live_index_in_id_order() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&tmp.path().join("store")).expect("a new store opens");
    let jobs = (0..25).map(|n| (spec(n), key(&format!("job-{n}"))));
    let inserted = store.insert_many(jobs, &policy(), Millis(1)).unwrap();
    // Every third job ends.
    for i in inserted.iter().step_by(3) {
        store
            .apply(i.job.id, i.job.version, Input::Cancel, Millis(2))
            .unwrap();
    }
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.live_page(after, 4).unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        pages.extend(page);
    }
    assert_eq!(pages, store.live_jobs().unwrap());
    assert_eq!(pages.len(), 16);
    assert!(pages.iter().all(|j| !j.state.is_terminal()));
    assert!(
        store
            .live_page(Some(JobId(u64::MAX)), 4)
            .unwrap()
            .is_empty()
    );
    assert!(store.live_page(None, 0).unwrap().is_empty());
}
