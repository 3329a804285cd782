//! Whole stores of every schema, held fixed: `tests/golden/store-schema<N>.dump` is every key
//! and value of every tree of a store that a build of schema `N` wrote with [`script`]
//! (`store-schema1.dump`: the release before issue 16, commit 6a008a7). A store of an older
//! schema is rebuilt from its dump, tree by tree, and opened: it must come out migrated with
//! every job, history, key, index and count as it was. If the dump of a store written now
//! differs from the current schema's file, the layout changed: add a schema version and a
//! migration instead of regenerating the file.

mod common;

use common::{failure, file, key, labelled, policy, spec};
use reportflow_core::{Input, Job, JobId, JobKey, Millis, Progress, StateName};
use reportflow_store::{Durability, Store, TransitionRecord, decode_job, decode_transitions};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The trees of schema 1, in the order its dump lists them.
const TREES_V1: [&str; 8] = [
    "meta", "jobs", "history", "live", "keys", "by_state", "counts", "ended",
];

/// The trees of schema 2, in the order its dump lists them.
const TREES_V2: [&str; 7] = [
    "meta", "jobs", "history", "live", "keys", "by_state", "ended",
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
    step(failed, Input::PermanentError { failure: failure() }, 13);
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

/// The sled database in `dir`, once the last handle that had it open has let go of its lock
/// (sled's threads may hold it a moment after the handle is dropped).
fn open_db(dir: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("open the database in {}: {e}", dir.display()),
        }
    }
}

/// Closes `db` (in `dir`) and waits until its lock is released, so that the store can be
/// opened at once.
fn close(db: sled::Db, dir: &Path) {
    drop(db);
    let file = std::fs::File::open(dir.join("db")).expect("the database file");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while fs2::FileExt::try_lock_exclusive(&file).is_err() {
        assert!(std::time::Instant::now() < deadline, "sled keeps its lock");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    fs2::FileExt::unlock(&file).expect("unlock");
}

/// Every key and value of `trees` of the sled database in `dir` (closed), as text.
pub fn dump(dir: &Path, trees: &[&str]) -> String {
    let db = open_db(dir);
    let mut out = String::new();
    for name in trees {
        writeln!(out, "tree {name}").expect("a string");
        let tree = db.open_tree(name).expect("a tree");
        for entry in tree.iter() {
            let (k, v) = entry.expect("an entry");
            writeln!(out, "{} {}", hex(&k), hex(&v)).expect("a string");
        }
    }
    close(db, dir);
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

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("a hex byte"))
        .collect()
}

/// A tree's keys and values, in order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The trees of a dump: name, then its keys and values in order.
fn parse(dump: &str) -> Vec<(String, Entries)> {
    let mut trees: Vec<(String, Entries)> = Vec::new();
    for line in dump.lines().filter(|l| !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix("tree ") {
            trees.push((name.to_string(), Vec::new()));
        } else {
            let (k, v) = line.split_once(' ').expect("a key and a value");
            let tree = trees.last_mut().expect("a tree before its entries");
            tree.1.push((unhex(k), unhex(v)));
        }
    }
    trees
}

/// Rebuilds, in `dir`, the store of schema `schema` that `dump` lists: its trees as they were
/// and its marker.
fn rebuild(dir: &Path, dump: &str, schema: u32) {
    {
        let db = open_db(dir);
        for (name, entries) in parse(dump) {
            let tree = db.open_tree(&name).expect("a tree");
            for (k, v) in entries {
                tree.insert(k, v).expect("an entry");
            }
        }
        db.flush().expect("flush");
        close(db, dir);
    }
    std::fs::write(
        dir.join("REPORTFLOW-STORE"),
        format!("reportflow-store\nschema {schema}\ndatabase ready\n"),
    )
    .expect("the marker");
}

/// What a schema-1 dump holds, read from its trees (every record in `jobs`).
struct Expected {
    jobs: BTreeMap<JobId, Job>,
    history: BTreeMap<JobId, Vec<TransitionRecord>>,
    keys: BTreeMap<String, JobId>,
    next_id: u64,
}

fn expected_of_schema_1(dump: &str) -> Expected {
    let dir = Path::new("/golden");
    let trees: BTreeMap<String, Entries> = parse(dump).into_iter().collect();
    let id = |bytes: &[u8]| u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
    let jobs = trees["jobs"]
        .iter()
        .map(|(k, v)| {
            let id = JobId(id(k));
            (id, decode_job(dir, id, v).expect("a job record"))
        })
        .collect();
    let mut history: BTreeMap<JobId, Vec<TransitionRecord>> = BTreeMap::new();
    for (k, v) in &trees["history"] {
        let (job, seq) = (JobId(id(k)), id(&k[8..]));
        let run = decode_transitions(dir, job, seq, v).expect("a transition record");
        history.entry(job).or_default().extend(run);
    }
    let keys = trees["keys"]
        .iter()
        .map(|(k, v)| (String::from_utf8(k.clone()).expect("UTF-8"), JobId(id(v))))
        .collect();
    let next_id = trees["meta"]
        .iter()
        .find(|(k, _)| k == b"next_id")
        .map(|(_, v)| id(v))
        .expect("the next id");
    Expected {
        jobs,
        history,
        keys,
        next_id,
    }
}

/// Checks every query of `store` against what was expected.
fn assert_holds(store: &Store, expected: &Expected) {
    let all: Vec<Job> = expected.jobs.values().cloned().collect();
    for job in &all {
        assert_eq!(store.get(job.id).expect("get").as_ref(), Some(job));
        assert_eq!(
            &store.history(job.id).expect("history"),
            &expected.history[&job.id],
            "the history of job {}",
            job.id
        );
    }
    assert_eq!(store.list(None, None, usize::MAX).expect("list"), all);
    let paged: Vec<Job> = [None, Some(JobId(2)), Some(JobId(5))]
        .into_iter()
        .flat_map(|after| store.list(None, after, 2).expect("a page"))
        .collect();
    let by_page: Vec<JobId> = paged.iter().map(|j| j.id).collect();
    assert_eq!(by_page, [1, 2, 3, 4, 6, 8].map(JobId));
    let live: Vec<Job> = all
        .iter()
        .filter(|j| !j.state.is_terminal())
        .cloned()
        .collect();
    assert_eq!(store.live_jobs().expect("live"), live);
    let mut counts: BTreeMap<StateName, u64> = StateName::ALL.into_iter().map(|s| (s, 0)).collect();
    for state in StateName::ALL {
        let in_state: Vec<Job> = all
            .iter()
            .filter(|j| j.state.name() == state)
            .cloned()
            .collect();
        counts.insert(state, in_state.len() as u64);
        assert_eq!(
            store.list(Some(state), None, usize::MAX).expect("list"),
            in_state
        );
    }
    assert_eq!(store.counts().expect("counts"), counts);
    for (k, id) in &expected.keys {
        let key = JobKey::user(k).expect("a key");
        assert_eq!(
            store.get_by_key(&key).expect("by key").map(|j| j.id),
            Some(*id)
        );
    }
    assert_eq!(store.get(JobId(7)).expect("get"), None, "purged");
    assert!(store.history(JobId(7)).is_err(), "purged with its history");
}

fn write_now(dir: &Path) -> String {
    {
        let store = Store::open_with(dir, Durability::Manual).expect("open");
        script(&store);
    }
    dump(dir, &TREES_V2)
}

#[test]
fn a_store_written_now_has_the_layout_of_schema_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = write_now(&tmp.path().join("store"));
    if let Ok(path) = std::env::var("REPORTFLOW_WRITE_GOLDEN_STORE") {
        std::fs::write(path, &now).expect("write the dump");
    }
    assert_eq!(
        now,
        body(&golden("store-schema2.dump")),
        "the store's layout changed: add a schema version and its migration"
    );
}

#[test]
fn a_store_of_schema_1_is_migrated_on_open_with_every_job_and_history() {
    let old = golden("store-schema1.dump");
    let expected = expected_of_schema_1(&old);
    // What the script wrote, by hand: the dump is the store the release before wrote.
    let states: Vec<(u64, StateName)> = expected
        .jobs
        .values()
        .map(|j| (j.id.0, j.state.name()))
        .collect();
    use StateName::*;
    assert_eq!(
        states,
        [
            (1, Polling),
            (2, Downloaded),
            (3, Failed),
            (4, Requested),
            (5, Requested),
            (6, Created),
            (8, Completed),
            (9, Expired),
            (10, Requested),
        ]
    );
    assert_eq!(expected.history[&JobId(1)].len(), 5);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    std::fs::create_dir_all(&dir).expect("the directory");
    rebuild(&dir, &old, 1);
    assert_eq!(dump(&dir, &TREES_V1), body(&old), "rebuilt as it was");
    {
        let store = Store::open(&dir).expect("open a store of schema 1");
        assert_holds(&store, &expected);
        // The next job takes the next id, as it would have.
        let next = store
            .insert(spec(20), key("next"), policy(), Millis(1_700_000_100_000))
            .expect("insert");
        assert_eq!(next.job.id, JobId(expected.next_id));
    }
    let marker = std::fs::read_to_string(dir.join("REPORTFLOW-STORE")).expect("the marker");
    assert_eq!(marker, "reportflow-store\nschema 2\ndatabase ready\n");
    let db = open_db(&dir);
    let names: Vec<String> = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    close(db, &dir);
    assert!(!names.contains(&"counts".to_string()), "{names:?}");
    // Opened again: nothing more to migrate, the same store.
    {
        let store = Store::open(&dir).expect("open again");
        let mut expected = expected;
        let next = store.get(JobId(11)).expect("get").expect("the new job");
        expected.jobs.insert(next.id, next);
        expected
            .history
            .insert(JobId(11), store.history(JobId(11)).expect("history"));
        assert_holds(&store, &expected);
    }
}

#[test]
fn a_store_written_now_holds_what_the_release_before_wrote() {
    // Schema 2 writes other keys (history in runs, a live job's latest transitions in its
    // value) for the same jobs, histories, keys, indexes and counts.
    let expected = expected_of_schema_1(&golden("store-schema1.dump"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    write_now(&dir);
    assert_holds(&Store::open(&dir).expect("open"), &expected);
}

#[test]
fn the_migration_gives_a_live_job_without_its_copy_its_record() {
    // A live job whose copy in `live` is missing (schema 1 never left one so, but the state
    // index says what is live) keeps its record in `live` after the migration.
    let old = golden("store-schema1.dump");
    let expected = expected_of_schema_1(&old);
    let polling = hex(&1u64.to_be_bytes());
    let damaged: String = {
        let mut tree = "";
        old.lines()
            .filter(|l| {
                if let Some(name) = l.strip_prefix("tree ") {
                    tree = name;
                }
                !(tree == "live" && l.starts_with(&format!("{polling} ")))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_ne!(damaged, old);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    std::fs::create_dir_all(&dir).expect("the directory");
    rebuild(&dir, &damaged, 1);
    let store = Store::open(&dir).expect("open");
    assert_holds(&store, &expected);
}

#[test]
fn a_store_of_schema_2_is_opened_as_it_is() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    std::fs::create_dir_all(&dir).expect("the directory");
    let v2 = golden("store-schema2.dump");
    rebuild(&dir, &v2, 2);
    let expected = expected_of_schema_1(&golden("store-schema1.dump"));
    let store = Store::open(&dir).expect("open");
    assert_holds(&store, &expected);
    drop(store);
    assert_eq!(dump(&dir, &TREES_V2), body(&v2));
}
