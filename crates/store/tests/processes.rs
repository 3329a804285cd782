//! A second process opening a sled store that is in use gets the lock error. (The crash test,
//! a child killed with SIGKILL at random moments, is the conformance suite's, run against every
//! backend: `crates/store-conformance/tests/crash.rs`.)
//!
//! The test binary runs itself as the child (`--exact <child test> --ignored`), passing what
//! the child needs in environment variables; the child tests do nothing without them.

mod common;

use common::child::{spawn_child, wait_for_line};
use reportflow_store::{Store, StoreError};
use std::path::PathBuf;

const ENV_DIR: &str = "REPORTFLOW_STORE_TEST_DIR";

#[test]
fn a_second_process_gets_the_lock_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = Store::open(&dir).unwrap();
    let env = [(ENV_DIR, dir.display().to_string())];
    let mut child = spawn_child("child_opens_the_store", &env);
    let line = wait_for_line(&mut child, "result");
    assert!(child.wait().unwrap().success());
    assert!(line.starts_with("result locked: "), "{line}");
    assert!(line.contains(&dir.display().to_string()), "{line}");
    assert!(line.contains("another reportflow may be running"), "{line}");

    // Once the first process lets go, the second opens it.
    drop(store);
    let mut child = spawn_child("child_opens_the_store", &env);
    let line = wait_for_line(&mut child, "result");
    assert!(child.wait().unwrap().success());
    assert_eq!(line, "result opened");
}

/// The child of the lock test: opens the store and says what happened.
#[test]
#[ignore = "runs only as the child of a_second_process_gets_the_lock_error"]
fn child_opens_the_store() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    match Store::open(&PathBuf::from(dir)) {
        Ok(_) => println!("result opened"),
        Err(e @ StoreError::Locked { .. }) => println!("result locked: {e}"),
        Err(e) => println!("result failed: {e:?}"),
    }
}
