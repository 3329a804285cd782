//! The operating system's side of a download: its temporary file written directly to the disk
//! (`O_DIRECT`) or through the page cache with its write-back started block by block, space
//! reserved up front, the one `fdatasync` at the end, a small file written whole, and a rename
//! that never overwrites. The only `unsafe` code of downloads lives here.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The alignment of blocks in memory, in the file and in length for direct writes.
pub(super) const ALIGN: usize = 4096;

/// How a download's bytes reach the disk ([`crate::EngineConfig::download_writes`]). Either way
/// the file is complete and synced (one `fdatasync`) before it gets its final name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DownloadWrites {
    /// Directly to the disk (`O_DIRECT`), several writes in flight, so that the speed follows
    /// the disk's bandwidth rather than the latency of one write: no copy into the page cache,
    /// no write-back left for the final sync. Where the file system refuses direct writes (or
    /// for the file's unaligned tail), through the page cache as [`DownloadWrites::PageCache`].
    /// The default: the faster on the disks measured (`docs/benchmarks.md`).
    #[default]
    Direct,
    /// Through the page cache, each block's write-back started as soon as it is written (and
    /// waited for a few blocks later, so dirty pages stay bounded): the file stays cached for
    /// whoever reads it next, at the cost of one more copy of every byte.
    PageCache,
}

/// The temporary file of a large download, written block by block at known offsets, several
/// blocks at a time from several threads (`pwrite`). Direct writes stay on while the blocks
/// allow them; the first write that cannot be direct (the file's unaligned tail, or a refusal)
/// turns them off for the rest of the file, which then goes through the page cache with its
/// write-back started block by block (see [`Output::write_at`]). Either way [`Output::sync`] is
/// what makes the file durable.
#[derive(Debug)]
pub(super) struct Output {
    file: File,
    /// Direct writes are on.
    direct: AtomicBool,
    /// Write-back can be started and waited for range by range (`sync_file_range`, Linux).
    writeback: AtomicBool,
}

/// Page-cache writes wait for the write-back of the bytes this far behind them: a download
/// holds at most about this much dirty data.
const WRITEBACK_LAG: u64 = 8 * 1024 * 1024;

impl Output {
    /// Opens `path` for writing, created or truncated, mode 0644, the way `writes` says
    /// (direct writes fall back to the page cache where the file system refuses them), with
    /// room for `reserve` bytes when the size is known (see [`Output::reserve`]).
    pub(super) fn open(
        path: &Path,
        writes: DownloadWrites,
        reserve: Option<u64>,
    ) -> io::Result<Output> {
        Output::open_with(writes, reserve, |flags| create(path, flags))
    }

    /// [`Output::open`] with the opening itself given (`open(extra flags)`), so that tests can
    /// play a file system that refuses direct I/O.
    fn open_with(
        writes: DownloadWrites,
        reserve: Option<u64>,
        open: impl Fn(i32) -> io::Result<File>,
    ) -> io::Result<Output> {
        let mut direct = false;
        let mut file = None;
        #[cfg(target_os = "linux")]
        if writes == DownloadWrites::Direct {
            match open(libc::O_DIRECT) {
                Ok(f) => {
                    file = Some(f);
                    direct = true;
                }
                // This file system has no direct I/O (ramfs, some FUSE and network ones).
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!("direct writes refused here; writing through the page cache");
                }
                Err(e) => return Err(e),
            }
        }
        let file = match file {
            Some(file) => file,
            None => open(0)?,
        };
        let output = Output {
            file,
            direct: AtomicBool::new(direct),
            writeback: AtomicBool::new(true),
        };
        if let Some(len) = reserve {
            output.reserve(len)?;
        }
        Ok(output)
    }

    /// Allocates `len` bytes for the file (`fallocate`, Linux): a disk without room says so
    /// before the download, and writes inside the reserved size are not extending writes,
    /// which file systems such as ext4 serialize (so that several direct writes can be in
    /// flight at once). Where the system cannot reserve, nothing happens.
    fn reserve(&self, len: u64) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let Ok(len) = libc::off_t::try_from(len) else {
                return Ok(());
            };
            if len == 0 {
                return Ok(());
            }
            loop {
                // SAFETY: fallocate on a descriptor we own, with integer arguments only.
                let done = unsafe { libc::fallocate(self.file.as_raw_fd(), 0, 0, len) };
                if done == 0 {
                    return Ok(());
                }
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => return Ok(()),
                    _ => return Err(e),
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = len;
            Ok(())
        }
    }

    /// An output writing into `file` through the page cache (tests).
    #[cfg(test)]
    pub(super) fn from_file(file: File) -> Output {
        Output {
            file,
            direct: AtomicBool::new(false),
            writeback: AtomicBool::new(true),
        }
    }

    /// Whether writes still go directly to the disk.
    pub(super) fn is_direct(&self) -> bool {
        self.direct.load(Ordering::Relaxed)
    }

    /// Writes `bytes` whole at `offset`. Safe to call from several threads at once for
    /// distinct ranges.
    pub(super) fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let aligned = bytes.len().is_multiple_of(ALIGN)
            && bytes.as_ptr().addr().is_multiple_of(ALIGN)
            && offset.is_multiple_of(ALIGN as u64);
        if self.is_direct() && !aligned {
            self.through_cache()?;
        }
        let (mut at, mut rest) = (offset, bytes);
        while !rest.is_empty() {
            match self.file.write_at(rest, at) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    rest = &rest[n..];
                    at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Refused as a direct write (an alignment the device does not accept, or the
                // rest of a short write): write the rest through the page cache.
                Err(e) if self.is_direct() && e.raw_os_error() == Some(EINVAL) => {
                    self.through_cache()?;
                }
                Err(e) => return Err(e),
            }
        }
        if !self.is_direct() {
            self.write_back(offset, bytes.len() as u64)?;
        }
        Ok(())
    }

    /// Makes the file durable: its data and what is needed to read it back (`fdatasync`).
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Turns direct writes off for the rest of the file.
    fn through_cache(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = self.file.as_raw_fd();
            // SAFETY: fcntl on a descriptor we own, with integer arguments only.
            let done = unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) == 0
            };
            if !done {
                return Err(io::Error::last_os_error());
            }
        }
        self.direct.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Hands the `len` bytes just written at `offset` to the disk at once, and waits for those
    /// [`WRITEBACK_LAG`] bytes before them to be written (`sync_file_range`, Linux): the final
    /// `fdatasync` then finds little left to write instead of the whole file, so a large
    /// download costs about the slower of the network and the disk rather than their sum, and
    /// never holds much more than the lag in dirty pages. The `fdatasync` stays what makes the
    /// file durable; this only starts the work earlier. Elsewhere (or where the call is not
    /// supported) it does nothing.
    fn write_back(&self, offset: u64, len: u64) -> io::Result<()> {
        if !self.writeback.load(Ordering::Relaxed) || len == 0 {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = self.file.as_raw_fd();
            let range = |from: u64, len: u64, flags| {
                // SAFETY: sync_file_range reads no memory of ours; a bad range is an error.
                let done = unsafe { libc::sync_file_range(fd, from as i64, len as i64, flags) };
                if done == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            };
            match range(offset, len, libc::SYNC_FILE_RANGE_WRITE) {
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSYS | libc::EINVAL | libc::ESPIPE)
                    ) =>
                {
                    self.writeback.store(false, Ordering::Relaxed);
                    return Ok(());
                }
                other => other?,
            }
            // Errors of this wait are the file's write errors: they must reach the caller,
            // since the final fdatasync would not report them again.
            if let Some(behind) = offset.checked_sub(WRITEBACK_LAG) {
                let wait = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER;
                range(behind, len, wait)?;
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = offset;
            self.writeback.store(false, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

/// Writes a small file whole at `path` (created or truncated, mode 0644) through the page
/// cache and syncs it (`fdatasync`): one write and one sync, no thread of its own.
pub(super) fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create(path, 0)?;
    file.write_all(bytes)?;
    file.sync_data()
}

/// Opens `path` for writing, created or truncated, mode 0644, with the extra open `flags`.
fn create(path: &Path, flags: i32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(flags)
        .open(path)
}

/// Renames `from` to `to` unless `to` exists (`renameat2` with `RENAME_NOREPLACE`, Linux): one
/// change of the folder instead of a link and an unlink. `AlreadyExists` when `to` exists;
/// `Unsupported` where the system or the file system cannot (the caller links instead).
pub(super) fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))
        };
        let (from, to) = (c(from)?, c(to)?);
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => {
                Err(io::Error::new(io::ErrorKind::Unsupported, e))
            }
            _ => Err(e),
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (from, to);
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// An aligned buffer of `len` bytes, each `fill(i)`.
    fn aligned(len: usize, fill: impl Fn(usize) -> u8) -> (Vec<u8>, usize) {
        let mut buf = vec![0u8; len + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        for (i, b) in buf[start..start + len].iter_mut().enumerate() {
            *b = fill(i);
        }
        (buf, start)
    }

    #[test]
    fn both_paths_write_the_same_bytes_at_their_offsets_and_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        for writes in [DownloadWrites::Direct, DownloadWrites::PageCache] {
            let path = dir.path().join(format!("{writes:?}.part"));
            let (a, sa) = aligned(2 * 1024 * 1024, |i| (i % 251) as u8);
            let (b, sb) = aligned(1024 * 1024, |i| (i % 13) as u8);
            let tail = b"an unaligned tail";
            let total = (2 * 1024 * 1024 + 1024 * 1024 + tail.len()) as u64;
            let out = Output::open(&path, writes, Some(total)).expect("opens");
            // Out of order, as concurrent writes finish.
            out.write_at(2 * 1024 * 1024, &b[sb..sb + 1024 * 1024])
                .expect("second block");
            out.write_at(0, &a[sa..sa + 2 * 1024 * 1024])
                .expect("first block");
            if writes == DownloadWrites::PageCache {
                assert!(!out.is_direct());
            }
            out.write_at(3 * 1024 * 1024, tail).expect("the tail");
            assert!(
                !out.is_direct(),
                "the unaligned tail goes through the cache"
            );
            out.sync().expect("syncs");
            let written = fs::read(&path).expect("read");
            assert_eq!(written.len() as u64, total);
            assert!(written[..2 * 1024 * 1024] == a[sa..sa + 2 * 1024 * 1024]);
            assert!(written[2 * 1024 * 1024..3 * 1024 * 1024] == b[sb..sb + 1024 * 1024]);
            assert_eq!(&written[3 * 1024 * 1024..], tail);
        }
    }

    #[test]
    fn a_file_system_that_refuses_direct_io_gets_page_cache_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("refused.part");
        let refusing = |flags: i32| {
            #[cfg(target_os = "linux")]
            if flags & libc::O_DIRECT != 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(flags)
                .open(&path)
        };
        let out = Output::open_with(DownloadWrites::Direct, Some(3 * ALIGN as u64), refusing)
            .expect("opens through the cache");
        assert!(!out.is_direct());
        let (a, sa) = aligned(3 * ALIGN, |i| (i % 7) as u8);
        out.write_at(0, &a[sa..sa + 3 * ALIGN]).expect("written");
        out.sync().expect("syncs");
        assert!(fs::read(&path).expect("read") == a[sa..sa + 3 * ALIGN]);
        // Any other failure to open is the caller's.
        let denied = Output::open_with(DownloadWrites::Direct, None, |_| {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        });
        assert_eq!(
            denied.expect_err("refused").kind(),
            io::ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn a_rename_never_replaces_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (from, to) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&from, b"new").expect("write");
        fs::write(&to, b"old").expect("write");
        match rename_no_replace(&from, &to) {
            // Elsewhere than on Linux (glibc) the caller links instead; see place.rs's tests.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                #[cfg(all(target_os = "linux", target_env = "gnu"))]
                panic!("renameat2 is supported on Linux: {e}");
                #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
                return;
            }
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}"),
            Ok(()) => panic!("replaced a file"),
        }
        assert_eq!(fs::read(&to).expect("read"), b"old");
        fs::remove_file(&to).expect("remove");
        rename_no_replace(&from, &to).expect("renamed");
        assert_eq!(fs::read(&to).expect("read"), b"new");
        assert!(!from.exists());
    }
}
