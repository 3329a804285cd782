//! The temporary file of a download, and placing the finished file under its final name. The
//! `.part` file is created and removed here only: a [`PartFile`] removes its file when it is
//! dropped (a failed try, an abandoned step, a shutdown) unless the file was placed. Folders
//! are synced through [`DirSyncs`], so that downloads finishing together share one sync.

use super::direct;
use super::hex;
use reportflow_core::JobId;
use reportflow_store::GroupCommit;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// The most name suffixes tried on collisions.
const MAX_SUFFIX: u32 = 10_000;

/// A job's temporary download file in the output folder.
#[derive(Debug)]
pub(super) struct PartFile {
    dir: PathBuf,
    path: PathBuf,
    /// The file went under its final name (or is gone): nothing to remove.
    placed: bool,
}

impl PartFile {
    /// Job `id`'s temporary file in `dir` (not created yet): the job's name, or under a lease
    /// of a shared store (`lease` is its token) the lease's.
    fn named(dir: &Path, id: JobId, lease: Option<u64>) -> PartFile {
        let name = match lease {
            None => format!(".reportflow-job{id}.part"),
            Some(token) => format!(".reportflow-job{id}-lease{token}.part"),
        };
        PartFile {
            dir: dir.to_path_buf(),
            path: dir.join(name),
            placed: false,
        }
    }

    /// Creates (or truncates) the temporary file of job `id` in `dir` with `open`, which also
    /// gives what writes to it.
    ///
    /// On a store one process holds its name is the job's (`.reportflow-job<id>.part`), so a
    /// killed run's file is the one truncated. Under a lease of a shared store (`lease` is its
    /// token) the name is the lease's (`.reportflow-job<id>-lease<token>.part`): several workers
    /// may share the output folder, and a worker paused past its lease that wakes up mid-write
    /// writes only into its own file; the files of the job's earlier leases (a killed or paused
    /// worker's) are removed first.
    pub(super) fn create<W>(
        dir: &Path,
        id: JobId,
        lease: Option<u64>,
        open: impl FnOnce(&Path) -> io::Result<W>,
    ) -> io::Result<(PartFile, W)> {
        let part = PartFile::named(dir, id, lease);
        if let Some(token) = lease {
            remove_earlier_leases(dir, id, token)?;
        }
        let writer = open(&part.path)?;
        Ok((part, writer))
    }

    /// Writes `bytes` whole as the temporary file of job `id` in `dir` (under `lease`, as in
    /// [`PartFile::create`]), synced (a small file: one write, one `fdatasync`).
    pub(super) fn write_whole(
        dir: &Path,
        id: JobId,
        lease: Option<u64>,
        bytes: &[u8],
    ) -> io::Result<PartFile> {
        Ok(PartFile::create(dir, id, lease, |path| direct::write_whole(path, bytes))?.0)
    }

    /// Removes the temporary file job `id` may have in `dir` under `lease` (what a killed run
    /// left), and under a lease those of the job's earlier leases, after a download that failed
    /// before it wrote one.
    pub(super) fn discard(dir: &Path, id: JobId, lease: Option<u64>) {
        if let Some(token) = lease
            && let Err(e) = remove_earlier_leases(dir, id, token)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove the temporary files of earlier leases; remove them by hand");
        }
        drop(PartFile::named(dir, id, lease));
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the synced file under `name` in `dir` (the output folder, or a folder of the file
    /// layout inside it; `name-1`, `name-2`, ... when taken; never overwriting) and syncs the
    /// folders. A file already there with the same size and sha256 is this job's own file from
    /// a run that crashed before recording it. Returns the final path.
    pub(super) fn place(
        mut self,
        dir: &Path,
        name: &str,
        bytes: u64,
        sha256: &str,
    ) -> io::Result<PathBuf> {
        for n in 0..MAX_SUFFIX {
            let candidate = if n == 0 {
                name.to_string()
            } else {
                with_suffix(name, n)
            };
            let path = dir.join(&candidate);
            if path.parent() != Some(dir) {
                return Err(io::Error::other(format!(
                    "the file name {candidate:?} leaves the output folder"
                )));
            }
            match self.move_to(&path) {
                Ok(()) => {
                    self.placed = true;
                    return self.sync_dirs(dir, path);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let same = fs::metadata(&path).is_ok_and(|m| m.len() == bytes)
                        && sha256_of(&path)? == sha256;
                    if same {
                        fs::remove_file(&self.path)?;
                        self.placed = true;
                        return self.sync_dirs(dir, path);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "{MAX_SUFFIX} files named like {name:?} already exist"
        )))
    }

    /// Gives the file the name `path` unless that name is taken (`AlreadyExists`): one rename
    /// that never replaces where the system has it, else a hard link and the removal of the
    /// temporary name, else (no hard links either) a rename once the name was seen free.
    fn move_to(&self, path: &Path) -> io::Result<()> {
        match direct::rename_no_replace(&self.path, path) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            other => return other,
        }
        match fs::hard_link(&self.path, path) {
            Ok(()) => fs::remove_file(&self.path),
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists && !path.exists() => {
                tracing::debug!(error = %e, "no hard links here; renaming instead");
                fs::rename(&self.path, path)
            }
            Err(e) => Err(e),
        }
    }

    /// Syncs `dir`, which now holds the file at `path`, and the temporary file's folder when it
    /// is another one (it lost the temporary name).
    fn sync_dirs(&self, dir: &Path, path: PathBuf) -> io::Result<PathBuf> {
        if dir != self.dir {
            DIR_SYNCS.sync(&self.dir)?;
        }
        DIR_SYNCS.sync(dir)?;
        Ok(path)
    }
}

/// The folder syncs of this process's downloads.
static DIR_SYNCS: LazyLock<DirSyncs> = LazyLock::new(DirSyncs::default);

/// Folder syncs shared by the downloads that finish together: for each folder, a group commit
/// (the store's [`GroupCommit`]), so that `n` files placed in one folder at about the same time
/// cost about two `fsync`s of it instead of `n`, and each placing still returns only after a
/// sync that started after its rename. A folder's entry lives while someone syncs it.
#[derive(Default)]
struct DirSyncs {
    groups: Mutex<HashMap<PathBuf, Arc<GroupCommit>>>,
}

impl DirSyncs {
    /// Makes the entries of `dir` durable, sharing the `fsync` with concurrent callers.
    fn sync(&self, dir: &Path) -> io::Result<()> {
        self.run(dir, |dir| File::open(dir)?.sync_all())
    }

    /// Runs `sync` of `dir`, or waits for a run of it by a concurrent caller that started after
    /// this call began.
    fn run(&self, dir: &Path, sync: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
        let group = Arc::clone(self.lock().entry(dir.to_path_buf()).or_default());
        let synced = group.run(|| sync(dir));
        let mut groups = self.lock();
        // This caller's hold goes under the lock, so that the last caller out sees only the
        // map's: nobody else syncs this folder now. (Dropped after the lock, two callers that
        // finished together could each see the other's hold and leave the entry for good.)
        drop(group);
        if groups.get(dir).is_some_and(|g| Arc::strong_count(g) == 1) {
            groups.remove(dir);
        }
        synced
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<GroupCommit>>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove a temporary file; remove it by hand");
            }
            _ => {}
        }
    }
}

/// Removes the temporary files job `id` has in `dir` under leases before `token` (and under
/// the name a store one process holds gives).
fn remove_earlier_leases(dir: &Path, id: JobId, token: u64) -> io::Result<()> {
    let prefix = format!(".reportflow-job{id}");
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let earlier = match rest.strip_suffix(".part") {
            Some("") => true,
            Some(lease) => lease
                .strip_prefix("-lease")
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t < token),
            None => false,
        };
        if earlier {
            match fs::remove_file(entry.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `name` with `-n` before its extension.
fn with_suffix(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{n}.{ext}"),
        _ => format!("{name}-{n}"),
    }
}

fn sha256_of(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_with(dir: &Path, content: &[u8]) -> PartFile {
        PartFile::create(dir, JobId(1), None, |p| fs::write(p, content))
            .expect("create part")
            .0
    }

    #[test]
    fn a_lease_writes_its_own_part_file_and_removes_the_earlier_leases_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for name in [
            ".reportflow-job7-lease2.part",
            ".reportflow-job7-lease5.part",
            ".reportflow-job7.part",
            ".reportflow-job70-lease1.part",
            "report.csv",
        ] {
            fs::write(d.join(name), b"x").expect("write");
        }
        let (part, ()) =
            PartFile::create(d, JobId(7), Some(4), |p| fs::write(p, b"mine")).expect("create");
        assert_eq!(part.path(), d.join(".reportflow-job7-lease4.part"));
        assert!(!d.join(".reportflow-job7-lease2.part").exists());
        assert!(!d.join(".reportflow-job7.part").exists());
        assert!(
            d.join(".reportflow-job7-lease5.part").exists(),
            "a later lease's"
        );
        assert!(
            d.join(".reportflow-job70-lease1.part").exists(),
            "another job's"
        );
        assert!(d.join("report.csv").exists());
        drop(part);
        assert!(!d.join(".reportflow-job7-lease4.part").exists());
    }

    #[test]
    fn placing_never_overwrites_and_recognises_its_own_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("r.csv"), b"someone else's").expect("write");
        let sha = |c: &[u8]| hex(&Sha256::digest(c));
        let placed = part_with(d, b"mine")
            .place(d, "r.csv", 4, &sha(b"mine"))
            .expect("place");
        assert_eq!(placed, d.join("r-1.csv"));
        assert_eq!(fs::read(d.join("r.csv")).expect("read"), b"someone else's");
        assert_eq!(fs::read(&placed).expect("read"), b"mine");
        let again = part_with(d, b"mine")
            .place(d, "r.csv", 4, &sha(b"mine"))
            .expect("place");
        assert_eq!(
            again, placed,
            "the same content is recognised, not duplicated"
        );
        assert!(!d.join(".reportflow-job1.part").exists());
        assert_eq!(with_suffix("noext", 2), "noext-2");
        assert_eq!(with_suffix("a.tar.gz", 1), "a.tar-1.gz");
    }

    #[test]
    fn downloads_placed_together_share_their_folder_syncs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let syncs = Arc::new(DirSyncs::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let dir = tempfile::tempdir().expect("tempdir");
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (syncs, runs, dir) = (
                    Arc::clone(&syncs),
                    Arc::clone(&runs),
                    dir.path().to_path_buf(),
                );
                std::thread::spawn(move || {
                    syncs.run(&dir, |d| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        File::open(d)?.sync_all()
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a thread").expect("synced");
        }
        let runs = runs.load(Ordering::SeqCst);
        assert!((1..16).contains(&runs), "{runs} syncs for 16 callers");
        assert!(syncs.lock().is_empty(), "no folder is kept once synced");
        let missing = syncs.sync(&dir.path().join("gone"));
        assert_eq!(
            missing.expect_err("no folder").kind(),
            io::ErrorKind::NotFound
        );
        assert!(syncs.lock().is_empty());
    }

    #[test]
    fn a_part_file_not_placed_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let part = part_with(dir.path(), b"half a file");
        let path = part.path().to_path_buf();
        assert!(path.exists());
        drop(part);
        assert!(!path.exists(), "dropped, removed");
        let part = part_with(dir.path(), b"x");
        let escapes = part.place(dir.path(), "../outside.csv", 1, "00");
        assert!(escapes.is_err());
        assert!(!path.exists(), "a failed placing removes it too");
        assert!(!dir.path().join("../outside.csv").exists());
    }

    #[test]
    fn a_file_goes_into_a_folder_of_the_layout_and_its_part_file_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let folder = d.join("billing").join("BDR");
        fs::create_dir_all(&folder).expect("folders");
        let sha = hex(&Sha256::digest(b"bdrs"));
        let placed = part_with(d, b"bdrs")
            .place(&folder, "2024-01-01.zip", 4, &sha)
            .expect("place");
        assert_eq!(placed, folder.join("2024-01-01.zip"));
        assert_eq!(fs::read(&placed).expect("read"), b"bdrs");
        assert!(!d.join(".reportflow-job1.part").exists());
        assert!(
            !d.join("2024-01-01.zip").exists(),
            "not in the output folder"
        );
        // A name taken in that folder by another file is not overwritten.
        let other = part_with(d, b"else")
            .place(&folder, "2024-01-01.zip", 4, &hex(&Sha256::digest(b"else")))
            .expect("place");
        assert_eq!(other, folder.join("2024-01-01-1.zip"));
        assert_eq!(fs::read(&placed).expect("read"), b"bdrs");
    }
}
