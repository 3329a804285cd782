//! Opening stores: creation, refusals that change nothing, newer versions, corruption.

mod common;

use common::*;
use reportflow_core::{JobId, Millis};
use reportflow_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Every file and directory below `dir` with its bytes (directories: `None`).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            if path.is_dir() {
                todo.push(path);
                out.insert(rel, None);
            } else {
                out.insert(rel, Some(fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// A store in `dir` with a few jobs, closed again.
fn make_store(dir: &Path) {
    let store = Store::open(dir).unwrap();
    for n in 0..20 {
        store
            .insert(spec(n), key(&format!("k{n}")), policy(), Millis(1))
            .unwrap();
    }
}

fn garbage_dir(root: &Path) -> PathBuf {
    let dir = root.join("not-a-store");
    fs::create_dir_all(dir.join("blobs")).unwrap();
    fs::write(dir.join("db"), b"this is not a database\x00\x01\x02").unwrap();
    fs::write(dir.join("conf"), vec![0xAB; 64]).unwrap();
    fs::write(dir.join("notes.txt"), "keep me").unwrap();
    fs::write(dir.join("blobs").join("1"), "keep me too").unwrap();
    dir
}

#[test]
fn a_new_store_is_an_owner_only_directory_with_a_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("store");
    drop(Store::open(&dir).unwrap());
    let marker = fs::read_to_string(dir.join("REPORTFLOW-STORE")).unwrap();
    assert!(
        marker.starts_with("reportflow-store\nschema 2\n"),
        "{marker}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "mode {mode:o}");
    }
    // It opens again, and an empty existing directory becomes a store too.
    drop(Store::open(&dir).unwrap());
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    drop(Store::open(&empty).unwrap());
    assert!(empty.join("REPORTFLOW-STORE").exists());
}

#[test]
fn a_directory_of_other_files_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = garbage_dir(tmp.path());
    let before = snapshot(&dir);
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("nothing in it was changed"), "{message}");
    assert_eq!(snapshot(&dir), before);

    // A marker of someone else's is not ours either.
    fs::write(dir.join("REPORTFLOW-STORE"), "something else\n").unwrap();
    let before = snapshot(&dir);
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn paths_that_cannot_be_a_store_directory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let err = Store::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::NotADirectory { .. }), "{err:?}");
    assert_eq!(fs::read(&file).unwrap(), b"x");

    let err = Store::open(&file.join("store")).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot create the store directory")
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_store_directory_is_reported_as_not_writable() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
    if fs::write(dir.join("probe"), "x").is_ok() {
        // Running as root: permissions do not stop writes, so there is nothing to test.
        return;
    }
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn a_store_of_a_newer_schema_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    make_store(&dir);
    fs::write(
        dir.join("REPORTFLOW-STORE"),
        "reportflow-store\nschema 3\ndatabase ready\n",
    )
    .unwrap();
    let before = snapshot(&dir);
    let err = Store::open(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 3,
                supported: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("use a newer reportflow"));
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_newer_schema_inside_the_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    make_store(&dir);
    {
        let db = sled::open(&dir).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema", &4u32.to_be_bytes()[..]).unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(&dir).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn newer_and_damaged_records_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    make_store(&dir);
    {
        let db = sled::open(&dir).unwrap();
        // A live job's record is in its `live` value (schema 2), after its state byte and the
        // record's 4-byte length.
        let jobs = db.open_tree("live").unwrap();
        let mut record = jobs.get(1u64.to_be_bytes()).unwrap().unwrap().to_vec();
        record[5 + 1] = 9;
        jobs.insert(1u64.to_be_bytes(), record).unwrap();
        jobs.insert(2u64.to_be_bytes(), &b"\x00\x01garbage"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&dir).unwrap();
    let err = store.get(JobId(1)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerRecord {
                found: 9,
                supported: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("the record of job 1"), "{err}");
    let err = store.get(JobId(2)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("move the directory aside"),
        "{err}"
    );
    assert_eq!(store.get(JobId(3)).unwrap().unwrap().id, JobId(3));
}

#[test]
fn a_damaged_database_is_reported_as_corrupt_and_nothing_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();

    // sled reads a log damaged at its start as an empty database: that must not pass for a
    // new store.
    let dir = tmp.path().join("head");
    make_store(&dir);
    let mut bytes = fs::read(dir.join("db")).unwrap();
    for b in bytes.iter_mut().take(256) {
        *b ^= 0x5A;
    }
    fs::write(dir.join("db"), &bytes).unwrap();
    let names: Vec<PathBuf> = snapshot(&dir).into_keys().collect();
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("nothing was deleted"), "{message}");
    let after: Vec<PathBuf> = snapshot(&dir).into_keys().collect();
    assert!(
        names.iter().all(|n| after.contains(n)),
        "{names:?} {after:?}"
    );

    // A damaged sled configuration file.
    let dir = tmp.path().join("conf");
    make_store(&dir);
    fs::write(dir.join("conf"), vec![0xAB; 64]).unwrap();
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(dir.join("db").exists());
}

#[test]
fn a_store_whose_creation_was_interrupted_opens() {
    let tmp = tempfile::tempdir().unwrap();
    // The marker was written but the database was never initialized.
    let dir = tmp.path().join("store");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("REPORTFLOW-STORE"), "reportflow-store\nschema 1\n").unwrap();
    let store = Store::open(&dir).unwrap();
    assert!(store.list(None, None, 10).unwrap().is_empty());
    drop(store);
    let marker = fs::read_to_string(dir.join("REPORTFLOW-STORE")).unwrap();
    assert!(marker.ends_with("database ready\n"), "{marker}");

    // Only a half-written marker: the directory still counts as empty.
    let dir = tmp.path().join("tmp-only");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join(".REPORTFLOW-STORE.tmp"), "repo").unwrap();
    drop(Store::open(&dir).unwrap());
    assert!(!dir.join(".REPORTFLOW-STORE.tmp").exists());
}
