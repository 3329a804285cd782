//! The crash test against every backend, from one body (`reportflow_store_conformance::crash`):
//! a child process killed with SIGKILL at random moments loses nothing it made durable. The
//! test binary runs itself as the child (`--exact <child test> --ignored`); the child tests do
//! nothing when run on their own.

use reportflow_store_conformance::crash::{
    child_applies_steps_until_killed, sigkill_at_random_moments,
};
use reportflow_store_conformance::{Postgres, Sled};
use std::path::PathBuf;
use std::time::Duration;

/// The lease of the PostgreSQL children: short, so that a killed child's jobs are claimable
/// by the next one soon.
const CHILD_LEASE: Duration = Duration::from_secs(1);

#[test]
fn sled_sigkill_at_random_moments_loses_nothing_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let sled = Sled {
        dir: tmp.path().join("store"),
    };
    sigkill_at_random_moments(&sled, "sled_child_applies_steps_until_killed", 24);
}

#[test]
fn postgres_sigkill_at_random_moments_loses_nothing_durable() {
    let postgres = Postgres::fresh(CHILD_LEASE);
    sigkill_at_random_moments(&postgres, "postgres_child_applies_steps_until_killed", 16);
}

#[test]
#[ignore = "runs only as the child of sled_sigkill_at_random_moments_loses_nothing_durable"]
fn sled_child_applies_steps_until_killed() {
    child_applies_steps_until_killed(|dir| Sled {
        dir: PathBuf::from(dir),
    });
}

#[test]
#[ignore = "runs only as the child of postgres_sigkill_at_random_moments_loses_nothing_durable"]
fn postgres_child_applies_steps_until_killed() {
    child_applies_steps_until_killed(|url| Postgres {
        url,
        lease: CHILD_LEASE,
    });
}
