//! Whole stores of every schema, held fixed: `tests/golden/store-schema<N>.dump` is every key
//! and value of every tree of a store that a build of schema `N` wrote with [`script`]. If the
//! dump of a store written now differs from the current schema's file, the layout changed:
//! add a schema version and a migration instead of regenerating the file.

mod common;

use common::{failure, file, key, labelled, policy, spec};
use reportflow_core::{Input, JobId, Millis, Progress};
use reportflow_store::{Durability, Store};
use std::fmt::Write as _;
use std::path::Path;

/// The trees of schema 1, in the order the dump lists them.
const TREES: [&str; 8] = [
    "meta", "jobs", "history", "live", "keys", "by_state", "counts", "ended",
];

/// The time of step `n` of the script.
fn at(n: u64) -> Millis {
    Millis(1_700_000_000_000 + n * 1_000)
}

/// Writes the scripted store: jobs in every kind of state, live and ended, with histories, a
/// label and relative dates, a retried job, and a purged one (its id is not reused).
pub fn script(store: &Store) {
    let p = policy();
    let insert = |n: u32, name: &str, t: u64| {
        store
            .insert(spec(n), key(name), p.clone(), at(t))
            .expect("insert")
            .job
            .id
    };
    let step = |id: JobId, input: Input, t: u64| {
        let job = store.get(id).expect("get").expect("stored");
        store.apply(id, job.version, input, at(t)).expect("apply");
    };
    let created = |id: JobId, t: u64| {
        step(id, Input::CreateSending, t);
        step(
            id,
            Input::CreateAccepted {
                location: format!("https://upstream.invalid/r/{id}"),
            },
            t + 1,
        );
    };
    let not_ready = || Input::StatusSeen {
        progress: Progress::NotReady,
        raw: "Processing".to_string(),
    };
    // 1: polling, after two status requests.
    let polling = insert(0, "polling", 1);
    created(polling, 2);
    step(polling, not_ready(), 4);
    step(polling, not_ready(), 5);
    // 2: a billing report downloaded.
    let downloaded = insert(1, "downloaded", 6);
    created(downloaded, 7);
    step(
        downloaded,
        Input::StatusSeen {
            progress: Progress::Ready,
            raw: "COMPLETED".to_string(),
        },
        9,
    );
    step(
        downloaded,
        Input::FileStored {
            file: file(downloaded.0),
        },
        10,
    );
    // 3: failed for good.
    let failed = insert(2, "failed", 11);
    step(failed, Input::CreateSending, 12);
    step(
        failed,
        Input::PermanentError { failure: failure() },
        13,
    );
    // 4: a create in doubt.
    let in_doubt = insert(3, "in-doubt", 14);
    step(in_doubt, Input::CreateSending, 15);
    step(
        in_doubt,
        Input::CreateUnanswered {
            reason: "the connection was reset".to_string(),
        },
        16,
    );
    // 5: cancelled, then retried.
    let retried = insert(4, "retried", 17);
    step(retried, Input::Cancel, 18);
    step(retried, Input::Retry, 19);
    // 6: labelled, with relative dates, created upstream.
    let new = labelled(5, "labelled", "nightly");
    let labelled = store.insert_many([new], &p, at(20)).expect("insert")[0]
        .job
        .id;
    created(labelled, 21);
    // 7: cancelled long ago and purged (its id is never reused).
    let purged = insert(6, "purged", 0);
    step(purged, Input::Cancel, 0);
    // 8: ready, with a failed step counted before.
    let ready = insert(7, "ready", 23);
    created(ready, 24);
    step(
        ready,
        Input::StepFailed {
            reason: "HTTP 503".to_string(),
        },
        26,
    );
    step(
        ready,
        Input::StatusSeen {
            progress: Progress::Ready,
            raw: "Ready".to_string(),
        },
        27,
    );
    // 9: expired.
    let expired = insert(8, "expired", 28);
    created(expired, 29);
    step(
        expired,
        Input::OutputGone {
            reason: "expired".to_string(),
        },
        31,
    );
    let report = store.purge(Millis(1_700_000_000_500)).expect("purge");
    assert_eq!(report.ids, vec![purged]);
    insert(9, "after-purge", 32);
    store.flush().expect("flush");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every key and value of `trees` of the sled database in `dir` (closed), as text.
pub fn dump(dir: &Path, trees: &[&str]) -> String {
    let db = sled::open(dir).expect("open the database");
    let mut out = String::new();
    for name in trees {
        writeln!(out, "tree {name}").expect("a string");
        let tree = db.open_tree(name).expect("a tree");
        for entry in tree.iter() {
            let (k, v) = entry.expect("an entry");
            writeln!(out, "{} {}", hex(&k), hex(&v)).expect("a string");
        }
    }
    out
}

/// The golden dump of `file`.
fn golden(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The dump's lines without its comments.
fn body(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_store_written_now_has_the_layout_of_schema_1() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    {
        let store = Store::open_with(&dir, Durability::Manual).expect("open");
        script(&store);
    }
    let now = dump(&dir, &TREES);
    if let Ok(path) = std::env::var("REPORTFLOW_WRITE_GOLDEN_STORE") {
        std::fs::write(path, &now).expect("write the dump");
    }
    assert_eq!(
        now,
        body(&golden("store-schema1.dump")),
        "the store's layout changed: add a schema version and its migration"
    );
}
