//! The operating system's side of writing a download: direct writes (`O_DIRECT`) where the
//! system allows them, write-back started while the file streams (`sync_file_range`), the
//! final sync. The only `unsafe` code of downloads lives here.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The alignment of blocks in memory, in the file and in length for direct writes.
pub(super) const ALIGN: usize = 4096;

/// The temporary file being written. Where the system allows it (Linux, a file system with
/// `O_DIRECT`), aligned blocks are written directly to the disk, bypassing the page cache:
/// no copy into the cache, no write-back work later, and no dirty pages piling up. The first
/// write that cannot be direct (the file's unaligned tail, or a refusal) turns it off for the
/// rest of the file, which then goes through the page cache, written back while it streams
/// (see [`Writeback`]). Either way the final `fsync` is what makes the file durable.
pub(super) struct Output {
    file: File,
    written: u64,
    direct: bool,
    writeback: Writeback,
}

impl Output {
    /// Opens `path` for writing, created or truncated, owner-writable (direct where possible).
    pub(super) fn open(path: &Path) -> io::Result<Output> {
        let open = |flags: i32| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .custom_flags(flags)
                .open(path)
        };
        let output = |file, direct| Output {
            file,
            written: 0,
            direct,
            writeback: Writeback::default(),
        };
        #[cfg(target_os = "linux")]
        match open(libc::O_DIRECT) {
            Ok(file) => return Ok(output(file, true)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
        Ok(output(open(0)?, false))
    }

    /// Writes `bytes` whole after what was written before.
    pub(super) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let aligned =
            bytes.len().is_multiple_of(ALIGN) && bytes.as_ptr().addr().is_multiple_of(ALIGN);
        if self.direct && !aligned {
            self.through_cache()?;
        }
        while !bytes.is_empty() {
            match self.file.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bytes = &bytes[n..];
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Refused as a direct write (an alignment the device does not accept, or a
                // short write before): write the rest through the page cache.
                Err(e) if self.direct && e.raw_os_error() == Some(EINVAL) => {
                    self.through_cache()?;
                }
                Err(e) => return Err(e),
            }
        }
        if !self.direct {
            self.writeback.advance(&self.file, self.written)?;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub(super) fn written(&self) -> u64 {
        self.written
    }

    /// Makes the file durable (its data and its size).
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    /// Turns direct writes off.
    fn through_cache(&mut self) -> io::Result<()> {
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
        self.direct = false;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

/// Bytes written between two write-back starts (see [`Writeback`]).
const WRITEBACK_WINDOW: u64 = 8 * 1024 * 1024;

/// Writes a download back to disk while it streams, window by window: each full window is
/// handed to the disk at once (`sync_file_range`, Linux), and the window before it is waited
/// for. The final `fsync` then finds little left to write instead of the whole file, so a large
/// download costs about the slower of the network and the disk rather than their sum, and it
/// never holds more than two windows of dirty pages. The `fsync` before the rename stays what
/// makes the file durable; this only starts the work earlier. Elsewhere than on Linux (or where
/// the call is not supported) it does nothing. (Only for what goes through the page cache; see
/// [`Output`].)
#[derive(Default)]
struct Writeback {
    /// Write-back has been started for `..started`.
    started: u64,
    /// Write-back has completed for `..waited`.
    waited: u64,
    /// The system does not support it.
    off: bool,
}

impl Writeback {
    /// `written` bytes of `file` have been handed to the kernel.
    fn advance(&mut self, file: &File, written: u64) -> io::Result<()> {
        if self.off || written < self.started + WRITEBACK_WINDOW {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let range = |fd, from: u64, to: u64, flags| {
                // SAFETY: sync_file_range reads no memory of ours; a bad range is an error.
                let done =
                    unsafe { libc::sync_file_range(fd, from as i64, (to - from) as i64, flags) };
                if done == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            };
            let fd = file.as_raw_fd();
            match range(fd, self.started, written, libc::SYNC_FILE_RANGE_WRITE) {
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSYS | libc::EINVAL | libc::ESPIPE)
                    ) =>
                {
                    self.off = true;
                    return Ok(());
                }
                other => other?,
            }
            // Errors of this wait are the file's write errors: they must reach the caller,
            // since the final fsync would not report them again.
            let wait = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER;
            // (A length of zero would mean "to the end of the file".)
            if self.started > self.waited {
                range(fd, self.waited, self.started, wait)?;
                self.waited = self.started;
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = file;
            self.off = true;
        }
        self.started = written;
        Ok(())
    }
}
