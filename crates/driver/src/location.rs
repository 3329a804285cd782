//! Where the jobs are: a directory (the sled store, one process) or a PostgreSQL URL (shared by
//! any number of processes). The one place that tells the two apart, and that opens either
//! behind the store interface.

use reportflow_store::{JobStore, SledStore, StoreError};
use reportflow_store_pg::{PgOptions, PgStore, redact};
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The schemes that name a PostgreSQL store.
const PG_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// Where a store is. `Display` and `Debug` never show a password.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A sled store in this directory (created when missing): one process at a time.
    Dir(PathBuf),
    /// A PostgreSQL database at this `postgres://` (or `postgresql://`) URL, shared by any
    /// number of workers and submitting processes.
    Postgres {
        /// The URL (it may hold a password: never shown).
        url: String,
        /// The password when the URL has none, e.g. from `PGPASSWORD` (never shown).
        password: Option<String>,
    },
}

impl StoreLocation {
    /// The store named by a `--store` argument: a `postgres://` or `postgresql://` URL names a
    /// PostgreSQL store, anything else a directory.
    pub fn parse(arg: &OsStr) -> StoreLocation {
        match arg.to_str() {
            Some(text) if PG_SCHEMES.iter().any(|s| text.starts_with(s)) => {
                StoreLocation::Postgres {
                    url: text.to_string(),
                    password: None,
                }
            }
            _ => StoreLocation::Dir(PathBuf::from(arg)),
        }
    }

    /// This location with `password` for a PostgreSQL URL that has none (e.g. `PGPASSWORD`);
    /// a directory is unchanged.
    pub fn with_password(self, password: Option<String>) -> StoreLocation {
        match self {
            StoreLocation::Postgres { url, .. } => StoreLocation::Postgres { url, password },
            dir => dir,
        }
    }

    /// True for a store several processes share (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres { .. })
    }

    /// The directory of a sled store.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            StoreLocation::Dir(dir) => Some(dir),
            StoreLocation::Postgres { .. } => None,
        }
    }

    /// Whether there is a store to read: a sled directory that exists; a database is assumed
    /// to (opening it says otherwise).
    pub fn exists(&self) -> bool {
        match self {
            StoreLocation::Dir(dir) => dir.exists(),
            StoreLocation::Postgres { .. } => true,
        }
    }

    /// Opens the store behind the interface: the sled store in its directory (created when
    /// missing; no thread until something is written), or the PostgreSQL store (connected,
    /// its schema migrated), whose leases last `lease`.
    pub(crate) async fn open(&self, lease: Duration) -> Result<Arc<dyn JobStore>, StoreError> {
        Ok(match self {
            StoreLocation::Dir(dir) => Arc::new(SledStore::open(dir)?),
            StoreLocation::Postgres { url, password } => {
                let options = PgOptions {
                    lease,
                    password: password.clone(),
                    ..PgOptions::default()
                };
                Arc::new(PgStore::open_with(url, options).await?)
            }
        })
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Dir(dir) => write!(f, "{}", dir.display()),
            StoreLocation::Postgres { url, .. } => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            StoreLocation::Postgres { url, password } => f
                .debug_struct("Postgres")
                .field("url", &redact(url))
                .field("password", &password.as_ref().map(|_| "***"))
                .finish(),
        }
    }
}

impl From<&OsStr> for StoreLocation {
    fn from(arg: &OsStr) -> StoreLocation {
        StoreLocation::parse(arg)
    }
}

impl From<&str> for StoreLocation {
    fn from(arg: &str) -> StoreLocation {
        StoreLocation::parse(OsStr::new(arg))
    }
}

impl From<String> for StoreLocation {
    fn from(arg: String) -> StoreLocation {
        StoreLocation::parse(OsStr::new(&arg))
    }
}

impl From<&Path> for StoreLocation {
    fn from(path: &Path) -> StoreLocation {
        StoreLocation::parse(path.as_os_str())
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(path: PathBuf) -> StoreLocation {
        StoreLocation::parse(path.as_os_str())
    }
}

impl From<&PathBuf> for StoreLocation {
    fn from(path: &PathBuf) -> StoreLocation {
        StoreLocation::parse(path.as_os_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_a_database_anything_else_a_directory() {
        assert!(StoreLocation::from("postgres://u@h/db").is_shared());
        assert!(StoreLocation::from("postgresql://h/db").is_shared());
        assert_eq!(
            StoreLocation::from("./store"),
            StoreLocation::Dir(PathBuf::from("./store"))
        );
        assert_eq!(
            StoreLocation::from("postgres-store"),
            StoreLocation::Dir(PathBuf::from("postgres-store"))
        );
    }

    #[test]
    fn passwords_are_never_shown() {
        let location =
            StoreLocation::from("postgres://u:s3cret@h/db").with_password(Some("p4ss".into()));
        let shown = format!("{location} {location:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("p4ss"),
            "{shown}"
        );
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
    }
}
