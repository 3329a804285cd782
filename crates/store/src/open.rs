//! Opening a store: the directory, its marker file, sled's lock, the schema version.
//!
//! A directory is a reportflow store when it holds the marker file [`MARKER`]. reportflow
//! writes the marker before it lets sled write anything, and refuses any existing non-empty
//! directory without one, so sled never writes into a directory that is not ours.

use crate::error::{from_io, from_sled};
use crate::layout::{self, SCHEMA_VERSION};
use crate::trees::Trees;
use crate::{Durability, Store, StoreError};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// The marker file that makes a directory a reportflow store.
pub(crate) const MARKER: &str = "REPORTFLOW-STORE";
/// Where the marker is written before it is renamed into place.
const MARKER_TMP: &str = ".REPORTFLOW-STORE.tmp";
/// The marker's first line.
const MARKER_HEADER: &str = "reportflow-store";
/// The marker's last line once the database holds its schema version.
const MARKER_READY: &str = "database ready\n";
/// sled's data file inside the directory (sled 0.34: `<dir>/db`).
const SLED_DATA_FILE: &str = "db";
/// The size of sled's page cache, as sled counts it (its pages take about three times that in
/// memory). sled's default, 1 GiB, lets the cache grow with the store: an engine waiting on
/// 100,000 live jobs held 3 KiB per job, most of it pages of jobs it was not touching. The
/// pages in use (the live index, the jobs being stepped) stay cached by recency; the others are
/// read back from the file (usually from the kernel's page cache) when needed. See
/// `docs/benchmarks.md` (scale) and `docs/store.md` (memory).
const CACHE_CAPACITY: u64 = 8 * 1024 * 1024;

impl Store {
    /// Opens the store in `dir` with [`Durability::DesignPoints`], creating the directory
    /// (owner-only on Unix) and the store when they do not exist.
    ///
    /// Refuses, changing nothing: a path that is not a directory, a non-empty directory that is
    /// not a reportflow store, a store of a newer schema, a store another process holds open,
    /// and a corrupt database.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, Durability::default())
    }

    /// [`Store::open`] with a chosen [`Durability`].
    pub fn open_with(dir: &Path, durability: Durability) -> Result<Store, StoreError> {
        let initialized = prepare_dir(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_CAPACITY)
            .open()
            .map_err(|e| match e {
                // At open, sled says "unsupported" when it cannot make sense of its files.
                sled::Error::Unsupported(detail) => StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    detail: format!("sled cannot read its files: {detail}"),
                },
                e => from_sled(dir, "open the database", e),
            })?;
        let trees = Trees::open(db, dir)?;
        // Writable where syncing needs it (Windows); Unix syncs through any descriptor.
        let data_file = fs::OpenOptions::new()
            .read(true)
            .write(cfg!(not(unix)))
            .open(dir.join(SLED_DATA_FILE))
            .map_err(|e| from_io(dir.to_path_buf(), "open the database file", e))?;
        let store = Store {
            dir: dir.to_path_buf(),
            trees: Some(trees),
            data_file,
            durability,
            group: crate::group::GroupCommit::default(),
            flush_observer: std::sync::OnceLock::new(),
        };
        let migrated = store.check_schema(initialized)?;
        if !initialized {
            store.flush()?;
        }
        if !initialized || migrated {
            write_marker(dir, true)?;
        }
        Ok(store)
    }

    /// Checks the schema version in `meta`, writing it into a store whose marker does not say
    /// its database is initialized yet, and migrates a store of an older schema (see
    /// [`crate::migrate`]); returns whether it did. In an initialized store a missing version
    /// means the database lost its contents (sled opens a log damaged at its start as empty).
    fn check_schema(&self, initialized: bool) -> Result<bool, StoreError> {
        let read = |e| from_sled(&self.dir, "read the schema version", e);
        match self.trees().meta.get(layout::META_SCHEMA).map_err(read)? {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(&bytes[..])
                    .map(u32::from_be_bytes)
                    .map_err(|_| self.corrupt("the schema version is not 4 bytes"))?;
                check_version(&self.dir, found)?;
                if found == 1 {
                    self.migrate_from_schema_1()?;
                    return Ok(true);
                }
                Ok(false)
            }
            None => {
                if initialized {
                    return Err(
                        self.corrupt("its database holds no schema version: sled read it as empty")
                    );
                }
                self.trees()
                    .meta
                    .insert(layout::META_SCHEMA, &SCHEMA_VERSION.to_be_bytes()[..])
                    .map_err(|e| from_sled(&self.dir, "write the schema version", e))?;
                Ok(false)
            }
        }
    }

    fn corrupt(&self, detail: &str) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.clone(),
            detail: detail.to_string(),
        }
    }
}

/// Refuses a schema version this build does not understand.
fn check_version(dir: &Path, found: u32) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            dir: dir.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == 0 {
        return Err(StoreError::Corrupt {
            dir: dir.to_path_buf(),
            detail: "schema version 0 was never written".to_string(),
        });
    }
    Ok(())
}

/// Makes sure `dir` is a reportflow store, creating it when it does not exist or is empty.
/// Returns whether its marker says the database was initialized. Writes nothing into a
/// directory it refuses.
fn prepare_dir(dir: &Path) -> Result<bool, StoreError> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_dir(dir)?;
            write_marker(dir, false)?;
            return Ok(false);
        }
        // A parent of the path is a file: the directory can never be created there.
        Err(source) if source.kind() == io::ErrorKind::NotADirectory => {
            return Err(StoreError::CreateDir {
                dir: dir.to_path_buf(),
                source,
            });
        }
        Err(e) => return Err(from_io(dir.to_path_buf(), "look at the store directory", e)),
        Ok(meta) if !meta.is_dir() => {
            return Err(StoreError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        Ok(_) => {}
    }
    match fs::read(dir.join(MARKER)) {
        Ok(bytes) => read_marker(dir, &bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !is_empty(dir)? {
                return Err(StoreError::NotAStore {
                    dir: dir.to_path_buf(),
                });
            }
            write_marker(dir, false)?;
            Ok(false)
        }
        Err(e) => Err(from_io(
            dir.to_path_buf(),
            "read the store's marker file",
            e,
        )),
    }
}

/// Creates the store directory (and its parents); owner-only on Unix.
fn create_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| StoreError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })
}

/// True when the directory holds nothing but, perhaps, a marker left half-written.
fn is_empty(dir: &Path) -> Result<bool, StoreError> {
    let list = |e| from_io(dir.to_path_buf(), "list the store directory", e);
    for entry in fs::read_dir(dir).map_err(list)? {
        if entry.map_err(list)?.file_name() != MARKER_TMP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The marker's text for the current schema; `initialized` once the database holds its schema
/// version durably.
fn marker_text(initialized: bool) -> String {
    let state = if initialized { MARKER_READY } else { "" };
    format!("{MARKER_HEADER}\nschema {SCHEMA_VERSION}\n{state}")
}

/// Checks a marker's contents; returns whether it says the database is initialized.
fn read_marker(dir: &Path, bytes: &[u8]) -> Result<bool, StoreError> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    if lines.next() != Some(MARKER_HEADER) {
        return Err(StoreError::NotAStore {
            dir: dir.to_path_buf(),
        });
    }
    let version = lines
        .next()
        .and_then(|l| l.strip_prefix("schema "))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| StoreError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("the {MARKER} file does not name a schema version"),
        })?;
    check_version(dir, version)?;
    Ok(lines.next() == Some(MARKER_READY.trim_end()))
}

/// Writes the marker durably: a temporary file, synced, renamed into place, directory synced.
fn write_marker(dir: &Path, initialized: bool) -> Result<(), StoreError> {
    let io = |e| from_io(dir.to_path_buf(), "write the store's marker file", e);
    let tmp = dir.join(MARKER_TMP);
    let mut file = File::create(&tmp).map_err(io)?;
    file.write_all(marker_text(initialized).as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, dir.join(MARKER)).map_err(io)?;
    sync_dir(dir)
}

/// Makes the directory's entries durable (Unix; elsewhere a no-op).
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| from_io(dir.to_path_buf(), "sync the store directory", e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
