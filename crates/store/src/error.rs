//! The one error type of the store interface, shared by every backend, and how sled's errors
//! map onto it.
//!
//! Three groups: the refusals any backend answers with the same words (a key naming another
//! spec, an unknown job, a version or lease that moved on, an input the core refuses), which
//! write nothing; the failures of the sled directory; and the failures of a PostgreSQL database
//! ([`StoreError::Postgres`], [`PgError`]).

use crate::lease::LeaseLoss;
pub use crate::postgres_error::PgError;
use reportflow_core::{CoreError, JobId, JobKey};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Everything the store can fail with. Every message says what was wrong and what to do.
#[derive(Debug, Error)]
pub enum StoreError {
    // ---- refusals every backend shares: nothing was written ----
    /// The key already names a job with another spec.
    #[error(
        "the job key {shown:?} already names job {existing} ({existing_spec}), which differs from the new request ({new_spec}); use another key, or leave the key out to derive one from the request",
        shown = .key.as_str()
    )]
    KeyConflict {
        /// The key.
        key: JobKey,
        /// The job it names.
        existing: JobId,
        /// What that job asks for.
        existing_spec: String,
        /// What the new request asks for.
        new_spec: String,
    },
    /// No job has this id.
    #[error(
        "there is no job {id} in the store; list the jobs to find its id (it may have been purged)"
    )]
    NotFound {
        /// The id asked for.
        id: JobId,
    },
    /// The job moved on since the caller read it (optimistic concurrency); nothing was written.
    #[error(
        "job {id} changed meanwhile (expected version {expected}, found {found}); nothing was written: read the job again and retry"
    )]
    Conflict {
        /// The job.
        id: JobId,
        /// The version the caller expected.
        expected: u64,
        /// The version in the store.
        found: u64,
    },
    /// The core refused the input in the job's state; nothing was written.
    #[error("{0}")]
    Rejected(CoreError),
    /// The step's lease is no longer the worker's; nothing was written (fencing).
    #[error(
        "job {id}: this worker's lease on it is lost ({reason}); nothing was written: let the job go, another worker has it or will claim it"
    )]
    LeaseLost {
        /// The job.
        id: JobId,
        /// How it was lost.
        reason: LeaseLoss,
    },
    /// A create intent was to be recorded on a shared store without a lease.
    #[error(
        "job {id}: a create intent is recorded only under a lease; claim the job first (nothing was written)"
    )]
    LeaseRequired {
        /// The job.
        id: JobId,
    },
    /// The lease would not last as long as the step needs (a create request's longest time).
    #[error(
        "job {id}: the lease lasts {lease_ms} ms from this step, less than the {needed_ms} ms the step must be covered for; nothing was written: configure a lease longer than the longest create request"
    )]
    LeaseTooShort {
        /// The job.
        id: JobId,
        /// How long a lease lasts after a step (the store's lease duration).
        lease_ms: u64,
        /// How long the step needed it to last.
        needed_ms: u64,
    },
    /// A worker name cannot be used.
    #[error("the worker name {shown:?} cannot be used: {reason}")]
    InvalidWorker {
        /// The name as given.
        shown: String,
        /// Why, and what to do.
        reason: &'static str,
    },
    /// A backend broke its own contract (an answer missing); nothing is known to be wrong with
    /// the data.
    #[error(
        "the store {store} did not answer as expected ({detail}); this is a bug of reportflow: report it"
    )]
    Internal {
        /// The store, as [`crate::JobStore::describe`] names it.
        store: String,
        /// What was missing.
        detail: String,
    },
    // ---- the sled directory ----
    /// The store directory does not exist and could not be created.
    #[error(
        "cannot create the store directory {}: {source}; create it yourself or choose another --store",
        dir.display()
    )]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// The store path exists but is not a directory.
    #[error(
        "the store path {} exists but is not a directory; choose a directory with --store",
        dir.display()
    )]
    NotADirectory {
        /// The path.
        dir: PathBuf,
    },
    /// The store directory (or a file in it) cannot be written.
    #[error(
        "the store directory {} is not writable ({source}); fix its permissions or choose another --store",
        dir.display()
    )]
    NotWritable {
        /// The directory.
        dir: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// Another process holds the store open.
    #[error(
        "the store {} is in use by another process (another reportflow may be running); wait for it to finish or use another --store",
        dir.display()
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory holds files but is not a reportflow store; nothing was changed in it.
    #[error(
        "{} is not empty and is not a reportflow store (it has no {marker} file); nothing in it was changed; choose an empty or new directory with --store",
        dir.display(),
        marker = crate::open::MARKER
    )]
    NotAStore {
        /// The directory.
        dir: PathBuf,
    },
    /// The store was written by a newer reportflow with a schema this one does not know.
    #[error(
        "the store {} has schema version {found}, newer than this reportflow understands ({supported}); use a newer reportflow (nothing was changed)",
        dir.display()
    )]
    NewerSchema {
        /// The directory.
        dir: PathBuf,
        /// The schema version found.
        found: u32,
        /// The newest schema version this build understands.
        supported: u32,
    },
    /// A record was written by a newer reportflow.
    #[error(
        "{what} in the store {} has record version {found}, newer than this reportflow understands ({supported}); use a newer reportflow",
        dir.display()
    )]
    NewerRecord {
        /// The directory.
        dir: PathBuf,
        /// Which record.
        what: String,
        /// The record version found.
        found: u16,
        /// The newest record version this build understands.
        supported: u16,
    },
    /// The database or one of its records is damaged.
    #[error(
        "the store {} is corrupt ({detail}); nothing was deleted: move the directory aside (or restore it from a backup) and start with a new --store",
        dir.display()
    )]
    Corrupt {
        /// The directory.
        dir: PathBuf,
        /// What was found damaged.
        detail: String,
    },
    /// A disk operation failed.
    #[error(
        "could not {action} in the store {}: {source}; check the disk (space, permissions, health) and try again",
        dir.display()
    )]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What the store was doing.
        action: &'static str,
        /// What the file system said.
        source: io::Error,
    },
    /// sled refused or failed in a way that is neither corruption nor I/O.
    #[error(
        "the database in {} failed: {detail}; this is unexpected: keep the directory as it is and report it",
        dir.display()
    )]
    Database {
        /// The directory.
        dir: PathBuf,
        /// sled's words.
        detail: String,
    },
    // ---- a PostgreSQL database ----
    /// The PostgreSQL database failed or refused (see [`PgError`]).
    #[error(transparent)]
    Postgres(#[from] PgError),
    // ---- a running engine's control socket (a sled store another process holds) ----
    /// The engine that holds the store (`reportflow serve` or `run`) answered a request made
    /// through its control socket with this error, in its own words; `refusal` when the request
    /// was refused as given (as [`StoreError::Rejected`] is) rather than failed.
    #[error("{message}")]
    Answered {
        /// The error as the engine's store put it.
        message: String,
        /// True for a refusal of the request as given; false for a failure of the store.
        refusal: bool,
    },
    /// The engine that holds the store could not be asked through its control socket, or did
    /// not answer in time; `detail` says what happened and what to do.
    #[error(
        "cannot reach the reportflow engine that holds the store {} through its control socket: {detail}",
        dir.display()
    )]
    Engine {
        /// The store directory.
        dir: PathBuf,
        /// What happened, and what to do.
        detail: String,
    },
}

/// Maps a sled error met while working in `dir`.
pub(crate) fn from_sled(dir: &Path, action: &'static str, err: sled::Error) -> StoreError {
    let dir = dir.to_path_buf();
    match err {
        sled::Error::Io(source) => from_io(dir, action, source),
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            dir,
            detail: match at {
                Some(at) => format!("sled found damaged data at {at:?}"),
                None => "sled found damaged data".to_string(),
            },
        },
        sled::Error::Unsupported(detail) | sled::Error::ReportableBug(detail) => {
            StoreError::Database { dir, detail }
        }
        sled::Error::CollectionNotFound(name) => StoreError::Database {
            dir,
            detail: format!(
                "the tree {:?} does not exist",
                String::from_utf8_lossy(&name)
            ),
        },
    }
}

/// Maps an I/O error met while working in `dir`, recognising sled's lock failure.
pub(crate) fn from_io(dir: PathBuf, action: &'static str, source: io::Error) -> StoreError {
    // sled 0.34 reports a failed `try_lock_exclusive` on its `db` file as an `Other` error
    // whose text starts with "could not acquire lock"; the tests hold this mapping in place.
    if source.kind() == io::ErrorKind::Other
        && source.to_string().contains("could not acquire lock")
    {
        return StoreError::Locked { dir };
    }
    if source.kind() == io::ErrorKind::PermissionDenied
        || source.kind() == io::ErrorKind::ReadOnlyFilesystem
    {
        return StoreError::NotWritable { dir, source };
    }
    StoreError::Io {
        dir,
        action,
        source,
    }
}

/// A copy of the error for each caller a failed batch answers (see [`crate::Store::apply_many`]);
/// an I/O error is copied by its OS code, or by its kind and text.
impl Clone for StoreError {
    fn clone(&self) -> Self {
        use StoreError::*;
        let io = |e: &io::Error| match e.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(e.kind(), e.to_string()),
        };
        match self {
            CreateDir { dir, source } => CreateDir {
                dir: dir.clone(),
                source: io(source),
            },
            NotADirectory { dir } => NotADirectory { dir: dir.clone() },
            NotWritable { dir, source } => NotWritable {
                dir: dir.clone(),
                source: io(source),
            },
            Locked { dir } => Locked { dir: dir.clone() },
            NotAStore { dir } => NotAStore { dir: dir.clone() },
            NewerSchema {
                dir,
                found,
                supported,
            } => NewerSchema {
                dir: dir.clone(),
                found: *found,
                supported: *supported,
            },
            NewerRecord {
                dir,
                what,
                found,
                supported,
            } => NewerRecord {
                dir: dir.clone(),
                what: what.clone(),
                found: *found,
                supported: *supported,
            },
            Corrupt { dir, detail } => Corrupt {
                dir: dir.clone(),
                detail: detail.clone(),
            },
            Io {
                dir,
                action,
                source,
            } => Io {
                dir: dir.clone(),
                action,
                source: io(source),
            },
            Database { dir, detail } => Database {
                dir: dir.clone(),
                detail: detail.clone(),
            },
            KeyConflict {
                key,
                existing,
                existing_spec,
                new_spec,
            } => KeyConflict {
                key: key.clone(),
                existing: *existing,
                existing_spec: existing_spec.clone(),
                new_spec: new_spec.clone(),
            },
            NotFound { id } => NotFound { id: *id },
            Conflict {
                id,
                expected,
                found,
            } => Conflict {
                id: *id,
                expected: *expected,
                found: *found,
            },
            Rejected(e) => Rejected(e.clone()),
            LeaseLost { id, reason } => LeaseLost {
                id: *id,
                reason: *reason,
            },
            LeaseRequired { id } => LeaseRequired { id: *id },
            LeaseTooShort {
                id,
                lease_ms,
                needed_ms,
            } => LeaseTooShort {
                id: *id,
                lease_ms: *lease_ms,
                needed_ms: *needed_ms,
            },
            InvalidWorker { shown, reason } => InvalidWorker {
                shown: shown.clone(),
                reason,
            },
            Internal { store, detail } => Internal {
                store: store.clone(),
                detail: detail.clone(),
            },
            Postgres(e) => Postgres(e.clone()),
            Answered { message, refusal } => Answered {
                message: message.clone(),
                refusal: *refusal,
            },
            Engine { dir, detail } => Engine {
                dir: dir.clone(),
                detail: detail.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;
    use std::io;
    use std::path::PathBuf;

    /// A copied I/O error keeps its OS code, kind and message.
    #[test]
    fn copies_keep_what_the_system_said() {
        let dir = PathBuf::from("/s");
        let full = StoreError::Io {
            dir: dir.clone(),
            action: "flush",
            source: io::Error::from_raw_os_error(28),
        };
        let copy = full.clone();
        assert_eq!(copy.to_string(), full.to_string());
        let StoreError::Io { source, .. } = copy else {
            panic!("the copy is another variant: {copy:?}");
        };
        assert_eq!(source.raw_os_error(), Some(28));
        let odd = StoreError::NotWritable {
            dir,
            source: io::Error::other("read-only mount"),
        };
        assert_eq!(odd.clone().to_string(), odd.to_string());
    }
}
