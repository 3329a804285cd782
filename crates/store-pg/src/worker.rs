//! Worker names: who holds a lease, and who wrote a step.

use crate::PgStoreError;
use std::fmt;

/// The longest worker name accepted, in bytes.
const MAX_LEN: usize = 200;

/// The name of a worker process, stored as the owner of the leases it holds and with every
/// step it writes. Two live workers must not share a name: a lease is the worker's by name and
/// token. A good name says where the worker runs, e.g. `host-4711-1733040000` (host, process
/// id, start time).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(String);

impl WorkerId {
    /// A worker name: 1 to 200 bytes of printable characters.
    pub fn new(name: impl Into<String>) -> Result<WorkerId, PgStoreError> {
        let name = name.into();
        let invalid = |reason| PgStoreError::InvalidWorker {
            shown: name.clone(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid(
                "it is empty; name the worker, e.g. after its host and process id",
            ));
        }
        if name.len() > MAX_LEN {
            return Err(invalid("it is longer than 200 bytes; use a shorter name"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid(
                "it contains control characters; use printable characters",
            ));
        }
        Ok(WorkerId(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(WorkerId::new("host-1").expect("valid").as_str(), "host-1");
        assert!(WorkerId::new("").is_err());
        assert!(WorkerId::new("a\nb").is_err());
        assert!(WorkerId::new("x".repeat(201)).is_err());
        assert!(WorkerId::new("x".repeat(200)).is_ok());
    }
}
