//! Downloads: streamed to a temporary file in the output folder, checked, synced, then linked
//! under the final name. A partial file never appears under a final name. The body goes through
//! a pipeline (see [`Sink`]): received in large blocks, hashed on one thread, written (directly
//! to the disk where possible) on another.

use crate::api::{Api, shown, unreadable};
use crate::call::CallError;
use crate::error::DriverError;
use crate::events::Event;
use crate::gate::Endpoint;
use crate::layout::FileLayout;
use http::HeaderMap;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH};
use reportflow_core::{Job, JobId, JobKind, JobSpec, StoredFile};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::broadcast;

/// Progress is reported every this many bytes.
const PROGRESS_STEP: u64 = 1024 * 1024;
/// The most name suffixes tried on collisions.
const MAX_SUFFIX: u32 = 10_000;

/// The temporary file of a job's download.
pub(crate) fn part_path(out_dir: &Path, id: JobId) -> PathBuf {
    out_dir.join(format!(".reportflow-job{id}.part"))
}

/// Removes a job's temporary file, if any.
pub(crate) fn remove_part(out_dir: &Path, id: JobId) -> Result<(), DriverError> {
    let part = part_path(out_dir, id);
    match fs::remove_file(&part) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(DriverError::io("remove the temporary file", part, e))
        }
        _ => Ok(()),
    }
}

struct Fetched {
    bytes: u64,
    sha256: String,
    disposition: Option<String>,
}

/// Downloads the file at `{location}/file` for `job` into `out_dir` and returns it as stored.
pub(crate) async fn download(
    api: &Api,
    job: &Job,
    location: &str,
    out_dir: &Path,
    layout: Option<&FileLayout>,
    events: &broadcast::Sender<Event>,
) -> Result<StoredFile, CallError> {
    let request = format!("the report file ({})", file_endpoint(location));
    let fetched = api
        .retrying(job.id, Endpoint::File, &request, || {
            fetch_once(api, job, location, out_dir, events)
        })
        .await?;
    let part = part_path(out_dir, job.id);
    let name = reportflow_wire::file_name_from_disposition(
        fetched.disposition.as_deref(),
        &fallback_name(job),
    );
    let target = crate::layout::target(layout, job, &name).map_err(CallError::Local)?;
    let out = out_dir.to_path_buf();
    let (bytes, sha256) = (fetched.bytes, fetched.sha256.clone());
    let placed = tokio::task::spawn_blocking(move || {
        let (dir, name) = crate::layout::make_room(&out, &target)?;
        place(&part, &dir, &name, bytes, &sha256)
    })
    .await
    .map_err(|e| {
        CallError::Local(DriverError::io(
            "finish the download",
            out_dir,
            io::Error::other(e.to_string()),
        ))
    })?
    .map_err(|e| CallError::Local(DriverError::io("store the download in", out_dir, e)))?;
    Ok(StoredFile {
        path: placed.to_string_lossy().into_owned(),
        bytes: fetched.bytes,
        sha256: fetched.sha256,
    })
}

/// `GET {location}/file` as messages show it.
fn file_endpoint(location: &str) -> String {
    format!("GET {}/file", shown(location.trim_end_matches('/')))
}

fn fallback_name(job: &Job) -> String {
    match &job.spec {
        JobSpec::Account(a) => format!("report-{}.{}", job.id, a.format),
        JobSpec::Billing(b) => format!(
            "billing-{}-{}.zip",
            b.report_type.to_ascii_lowercase(),
            job.id
        ),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

async fn fetch_once(
    api: &Api,
    job: &Job,
    location: &str,
    out_dir: &Path,
    events: &broadcast::Sender<Event>,
) -> Result<Fetched, CallError> {
    let response = api.open_file(location).await?;
    let total = content_length(response.headers());
    let disposition = response
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if disposition.is_none() && job.kind() == JobKind::Account {
        // The upstream always names its files; an unnamed 200 is an error page or a glitch.
        let body = api
            .http
            .read_xml(response.into_body(), "report file")
            .await?;
        return Err(reportflow_wire::parse_error_envelope(&body)
            .as_ref()
            .and_then(crate::call::by_code)
            .unwrap_or_else(|| {
                CallError::Malformed(unreadable(
                    "the report file",
                    "the answer has no Content-Disposition, so it is not a report file",
                    &file_endpoint(location),
                    &body,
                ))
            }));
    }
    let part = part_path(out_dir, job.id);
    let mut sink = Sink::start(part.clone(), total);
    let mut body = response.into_body();
    let mut received = 0u64;
    let mut reported = 0u64;
    let mut head = Vec::with_capacity(4);
    let streamed = loop {
        match api.http.next_chunk(&mut body).await {
            Ok(Some(chunk)) => {
                received += chunk.len() as u64;
                api.counters.bytes(chunk.len() as u64);
                if head.len() < 4 {
                    head.extend(chunk.iter().take(4 - head.len()));
                }
                if !sink.push(&chunk).await {
                    break Ok(());
                }
                if received - reported >= PROGRESS_STEP {
                    reported = received;
                    let _ = events.send(Event::Progress {
                        id: job.id,
                        bytes: received,
                        total,
                    });
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let (bytes, sha256) = sink
        .finish(streamed.is_ok())
        .await
        .map_err(|e| CallError::Local(DriverError::io("write", &part, e)))?;
    streamed?;
    let _ = events.send(Event::Progress {
        id: job.id,
        bytes,
        total,
    });
    if let Some(total) = total
        && bytes != total
    {
        return Err(CallError::Ambiguous(format!(
            "the file ended after {bytes} of {total} bytes"
        )));
    }
    if job.kind() == JobKind::Billing && !reportflow_wire::is_zip_archive(&head) {
        let mut start = Vec::new();
        File::open(&part)
            .and_then(|f| f.take(64 * 1024).read_to_end(&mut start))
            .ok();
        if let Some(known) = reportflow_wire::parse_error_envelope(&start)
            .as_ref()
            .and_then(crate::call::by_code)
        {
            return Err(known);
        }
        let detail = match reportflow_wire::parse_billing_retrieval(&start) {
            Ok(status) => format!(
                "it is a status document ({}{}), not the zip archive",
                status.status,
                status
                    .description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            Err(_) => "it is not a zip archive".to_string(),
        };
        return Err(CallError::Malformed(unreadable(
            "the billing report file",
            &detail,
            &file_endpoint(location),
            &start,
        )));
    }
    Ok(Fetched {
        bytes,
        sha256,
        disposition,
    })
}

/// Bytes per block handed from the network to the hasher and the writer: one `write` each.
const BLOCK: usize = 1024 * 1024;
/// The smallest block (for files announced smaller than [`BLOCK`]).
const MIN_BLOCK: usize = 64 * 1024;
/// Blocks a download uses at most: its memory is bounded by `BLOCKS * BLOCK`.
const BLOCKS: usize = 8;
/// The alignment of blocks in memory, in the file and in length for direct writes.
const ALIGN: usize = 4096;

/// A block of the file: bytes starting at an [`ALIGN`]ed address (for direct writes).
struct Block {
    /// Padding up to the aligned start, then the bytes; never reallocated.
    buf: Vec<u8>,
    /// Where the bytes start.
    start: usize,
}

impl Block {
    /// An empty block with room for `size` bytes.
    fn new(size: usize) -> Block {
        let mut buf: Vec<u8> = Vec::with_capacity(size + ALIGN);
        // (Should the offset be unknown, the block is merely unaligned: written through the
        // page cache.)
        let start = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
        buf.resize(start, 0);
        Block { buf, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    fn clear(&mut self) {
        self.buf.truncate(self.start);
    }
}

/// What goes down the pipeline: a block of the file, or the news that it is complete.
enum Piece {
    Block(Block),
    End,
}

/// Where a download's body goes: a pipeline of three stages, so that receiving, hashing and
/// writing overlap. The receiving task copies the body's frames into large blocks (letting
/// the HTTP client reuse its read buffer at once, instead of allocating a new one for every
/// frame held downstream); a blocking thread hashes each full block and passes it on; another
/// writes it (see [`Output`]) and returns it for reuse. At most [`BLOCKS`] blocks exist, so
/// memory stays bounded, and the receiving task waits for a free block without blocking its
/// runtime thread.
struct Sink {
    /// To the hasher; `None` once the pipeline has been ended.
    to_hasher: Option<mpsc::Sender<Piece>>,
    /// Blocks the writer is done with.
    free: tokio::sync::mpsc::UnboundedReceiver<Block>,
    /// The block being filled.
    current: Option<Block>,
    /// The size of a block.
    block: usize,
    /// Blocks allocated so far.
    allocated: usize,
    hasher: tokio::task::JoinHandle<Option<String>>,
    writer: tokio::task::JoinHandle<io::Result<(u64, bool)>>,
}

impl Sink {
    /// Starts the hasher and the writer of `path` (truncated) for a body of `total` bytes
    /// when known.
    fn start(path: PathBuf, total: Option<u64>) -> Sink {
        let block = total.map_or(BLOCK, |t| {
            usize::try_from(t).map_or(BLOCK, |t| t.clamp(MIN_BLOCK, BLOCK))
        });
        let (to_hasher, hasher_rx) = mpsc::channel::<Piece>();
        let (to_writer, writer_rx) = mpsc::channel::<Piece>();
        let (freed, free) = tokio::sync::mpsc::unbounded_channel();
        let hasher = tokio::task::spawn_blocking(move || hash_blocks(hasher_rx, to_writer));
        let writer = tokio::task::spawn_blocking(move || write_blocks(&path, writer_rx, freed));
        Sink {
            to_hasher: Some(to_hasher),
            free,
            current: None,
            block,
            allocated: 0,
            hasher,
            writer,
        }
    }

    /// Adds a frame of the body; false when the pipeline has stopped (a write failed).
    async fn push(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            let current = match &mut self.current {
                Some(block) => block,
                None => match self.take_block().await {
                    Some(block) => self.current.insert(block),
                    None => return false,
                },
            };
            let n = (self.block - current.len()).min(data.len());
            current.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if current.len() >= self.block && !self.send_current() {
                return false;
            }
        }
        true
    }

    /// An empty block: a new one while fewer than [`BLOCKS`] exist, else the next one the
    /// writer frees; `None` when the writer has stopped.
    async fn take_block(&mut self) -> Option<Block> {
        if let Ok(block) = self.free.try_recv() {
            return Some(block);
        }
        if self.allocated < BLOCKS {
            self.allocated += 1;
            return Some(Block::new(self.block));
        }
        self.free.recv().await
    }

    /// Hands the current block on; false when the pipeline has stopped.
    fn send_current(&mut self) -> bool {
        match (self.current.take(), &self.to_hasher) {
            (Some(block), Some(tx)) => tx.send(Piece::Block(block)).is_ok(),
            _ => false,
        }
    }

    /// Ends the pipeline and waits for it: when the body is `complete`, the file is synced and
    /// its size and sha256 are returned; otherwise the file is left as it is (a write error
    /// still comes first).
    async fn finish(mut self, complete: bool) -> io::Result<(u64, String)> {
        if complete && self.current.as_ref().is_some_and(|b| b.len() > 0) {
            self.send_current();
        }
        if let Some(tx) = self.to_hasher.take()
            && complete
        {
            let _ = tx.send(Piece::End);
        }
        let joined = |e: tokio::task::JoinError| io::Error::other(e.to_string());
        let (bytes, synced) = self.writer.await.map_err(joined)??;
        let sha256 = self.hasher.await.map_err(joined)?;
        match sha256 {
            Some(sha256) if synced => Ok((bytes, sha256)),
            _ if complete => Err(io::Error::other("the download pipeline stopped early")),
            _ => Ok((bytes, String::new())),
        }
    }
}

/// The hasher's thread: hashes each block and passes it to the writer; the digest (hex) once
/// the end has come, `None` when the pipeline stopped before.
fn hash_blocks(blocks: mpsc::Receiver<Piece>, to_writer: mpsc::Sender<Piece>) -> Option<String> {
    let mut hasher = Sha256::new();
    for piece in blocks {
        match piece {
            Piece::Block(block) => {
                hasher.update(block.bytes());
                to_writer.send(Piece::Block(block)).ok()?;
            }
            Piece::End => {
                to_writer.send(Piece::End).ok()?;
                return Some(hex(&hasher.finalize()));
            }
        }
    }
    None
}

/// The writer's thread: writes the blocks to `path` (truncating it) and frees them; at the end,
/// syncs the file. Returns the bytes written and whether the end came (and the file is synced).
fn write_blocks(
    path: &Path,
    blocks: mpsc::Receiver<Piece>,
    freed: tokio::sync::mpsc::UnboundedSender<Block>,
) -> io::Result<(u64, bool)> {
    let mut out = Output::open(path)?;
    for piece in blocks {
        match piece {
            Piece::Block(mut block) => {
                out.write(block.bytes())?;
                block.clear();
                // The receiving side may have finished already; then the block just goes.
                let _ = freed.send(block);
            }
            Piece::End => {
                out.file.sync_all()?;
                return Ok((out.written, true));
            }
        }
    }
    Ok((out.written, false))
}

/// The temporary file being written. Where the system allows it (Linux, a file system with
/// `O_DIRECT`), aligned blocks are written directly to the disk, bypassing the page cache:
/// no copy into the cache, no write-back work later, and no dirty pages piling up. The first
/// write that cannot be direct (the file's unaligned tail, or a refusal) turns it off for the
/// rest of the file, which then goes through the page cache, written back while it streams
/// (see [`Writeback`]). Either way the final `fsync` is what makes the file durable.
struct Output {
    file: File,
    written: u64,
    direct: bool,
    writeback: Writeback,
}

impl Output {
    fn open(path: &Path) -> io::Result<Output> {
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

    fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
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

/// Lower-case hex of a digest.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Links the synced temporary file under `name` (or `name-1`, `name-2`, ... when taken; never
/// overwriting), removes the temporary name and syncs the folder. A file already there with the
/// same size and sha256 is this job's own file from a run that crashed before recording it.
fn place(part: &Path, dir: &Path, name: &str, bytes: u64, sha256: &str) -> io::Result<PathBuf> {
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
        let linked = match fs::hard_link(part, &path) {
            // A file system without hard links: rename, having checked the name is free.
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists && !path.exists() => {
                tracing::debug!(error = %e, "no hard links here; renaming instead");
                fs::rename(part, &path).map(|()| true)
            }
            other => other.map(|()| false),
        };
        match linked {
            Ok(true) => return sync_dir(dir, path),
            Ok(false) => return finish(part, dir, path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let same = fs::metadata(&path).is_ok_and(|m| m.len() == bytes)
                    && sha256_of(&path)? == sha256;
                if same {
                    return finish(part, dir, path);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{MAX_SUFFIX} files named like {name:?} already exist"
    )))
}

fn finish(part: &Path, dir: &Path, path: PathBuf) -> io::Result<PathBuf> {
    fs::remove_file(part)?;
    sync_dir(dir, path)
}

fn sync_dir(dir: &Path, path: PathBuf) -> io::Result<PathBuf> {
    File::open(dir)?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_with(dir: &Path, content: &[u8]) -> PathBuf {
        let part = dir.join(".p.part");
        fs::write(&part, content).expect("write part");
        part
    }

    #[test]
    fn blocks_are_written_in_order_direct_or_through_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".p.part");
        let (tx, rx) = mpsc::channel();
        let (freed, mut free) = tokio::sync::mpsc::unbounded_channel();
        let mut expected = Vec::new();
        // Aligned blocks (direct where possible), an unaligned one (the rest goes through the
        // page cache), then aligned ones again.
        for (i, len) in [BLOCK, BLOCK, 5_000, BLOCK, 3].into_iter().enumerate() {
            let mut block = Block::new(len);
            let bytes: Vec<u8> = (0..len).map(|n| (n % 251) as u8 ^ i as u8).collect();
            block.buf.extend_from_slice(&bytes);
            expected.extend_from_slice(&bytes);
            tx.send(Piece::Block(block)).expect("send");
        }
        tx.send(Piece::End).expect("send");
        let (bytes, synced) = write_blocks(&path, rx, freed).expect("written");
        assert!(synced);
        assert_eq!(bytes, expected.len() as u64);
        assert!(fs::read(&path).expect("read") == expected, "the same bytes");
        let mut returned = 0;
        while let Ok(block) = free.try_recv() {
            assert_eq!(block.len(), 0, "freed blocks are empty");
            returned += 1;
        }
        assert_eq!(returned, 5);
    }

    #[test]
    fn placing_never_overwrites_and_recognises_its_own_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("r.csv"), b"someone else's").expect("write");
        let sha = |c: &[u8]| hex(&Sha256::digest(c));
        let placed = place(&part_with(d, b"mine"), d, "r.csv", 4, &sha(b"mine")).expect("place");
        assert_eq!(placed, d.join("r-1.csv"));
        assert_eq!(fs::read(d.join("r.csv")).expect("read"), b"someone else's");
        assert_eq!(fs::read(&placed).expect("read"), b"mine");
        let again = place(&part_with(d, b"mine"), d, "r.csv", 4, &sha(b"mine")).expect("place");
        assert_eq!(
            again, placed,
            "the same content is recognised, not duplicated"
        );
        assert!(!d.join(".p.part").exists());
        assert_eq!(with_suffix("noext", 2), "noext-2");
        assert_eq!(with_suffix("a.tar.gz", 1), "a.tar-1.gz");
    }
}
