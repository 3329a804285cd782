//! The download pipeline of a large file: the body received in large blocks, each block hashed
//! (in order) then written at its offset, several writes in flight (see [`Sink`]). Each block
//! travels with the blocking operation that works on it and comes back with its result, the
//! way tokio's `fs::File` hands its buffer to the blocking pool: no side channel of free
//! blocks, and memory stays bounded whatever the file's size.

use super::direct::{ALIGN, Output};
use super::hex;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use tokio::task::{JoinHandle, JoinSet};

/// Bytes per block handed from the network to the hasher and the writer: one write each.
pub(super) const BLOCK: usize = 1024 * 1024;
/// Blocks a download uses at most: its memory is bounded by `BLOCKS * BLOCK`.
const BLOCKS: usize = 8;
/// Writes in flight at most: the disk sees this many at once, so the speed follows its
/// bandwidth rather than the latency of one write.
const IN_FLIGHT: usize = 4;

/// A block of the file: bytes starting at an [`ALIGN`]ed address (for direct writes).
struct Block {
    /// Padding up to the aligned start, then the bytes; never reallocated.
    buf: Vec<u8>,
    /// Where the bytes start.
    start: usize,
}

impl Block {
    /// An empty block with room for [`BLOCK`] bytes.
    fn new() -> Block {
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + ALIGN);
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

/// What a finished hash gives back: the hasher, and the block with its offset in the file.
type Hashed = (Sha256, u64, Block);
/// What a finished write gives back: the block and how the write went.
type Written = (Block, io::Result<()>);

/// Where a large download's body goes. The receiving task copies the body's frames into
/// blocks of [`BLOCK`] bytes (letting the HTTP client reuse its read buffer at once); each full
/// block goes to the blocking pool to be hashed, one after the other in order, then to be
/// written at its offset, up to [`IN_FLIGHT`] writes at once. At most [`BLOCKS`] blocks exist:
/// when none is free the receiving task waits for one (without blocking its runtime thread),
/// which also slows the network to the disk's pace. Finished work is collected whenever the
/// task pushes a frame or waits.
pub(super) struct Sink {
    out: Arc<Output>,
    /// The block being filled.
    current: Option<Block>,
    /// Empty blocks.
    free: Vec<Block>,
    /// Blocks allocated so far.
    allocated: usize,
    /// Where the next full block goes in the file.
    offset: u64,
    /// Full blocks waiting for the hasher, in order.
    unhashed: VecDeque<(u64, Block)>,
    /// The hasher while it is idle.
    hasher: Option<Sha256>,
    /// The hash running, with the hasher and its block.
    hashing: Option<JoinHandle<Hashed>>,
    /// Hashed blocks waiting for a write.
    unwritten: VecDeque<(u64, Block)>,
    /// The writes running, each with its block.
    writing: JoinSet<Written>,
    /// The first failure; once there is one, no more work starts.
    failed: Option<io::Error>,
    /// The body will not be whole: no more work starts.
    abandoned: bool,
}

/// A piece of running work that finished.
enum Done {
    Hash(Result<Hashed, tokio::task::JoinError>),
    Write(Result<Written, tokio::task::JoinError>),
}

impl Sink {
    /// A pipeline writing into `out`.
    pub(super) fn start(out: Output) -> Sink {
        Sink {
            out: Arc::new(out),
            current: None,
            free: Vec::new(),
            allocated: 0,
            offset: 0,
            unhashed: VecDeque::new(),
            hasher: Some(Sha256::new()),
            hashing: None,
            unwritten: VecDeque::new(),
            writing: JoinSet::new(),
            failed: None,
            abandoned: false,
        }
    }

    /// Adds a frame of the body; false when the pipeline has stopped (a write failed).
    pub(super) async fn push(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            let current = match &mut self.current {
                Some(block) => block,
                None => match self.take_block().await {
                    Some(block) => self.current.insert(block),
                    None => return false,
                },
            };
            let n = (BLOCK - current.len()).min(data.len());
            current.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if current.len() >= BLOCK {
                self.hand_on();
            }
        }
        self.collect().await;
        self.start_work();
        self.failed.is_none()
    }

    /// An empty block: a free one, a new one while fewer than [`BLOCKS`] exist, else the next
    /// one that running work gives back; `None` once the pipeline has failed.
    async fn take_block(&mut self) -> Option<Block> {
        loop {
            self.collect().await;
            self.start_work();
            if self.failed.is_some() {
                return None;
            }
            if let Some(block) = self.free.pop() {
                return Some(block);
            }
            if self.allocated < BLOCKS {
                self.allocated += 1;
                return Some(Block::new());
            }
            self.wait().await;
        }
    }

    /// Queues the current block for the hasher.
    fn hand_on(&mut self) {
        if let Some(block) = self.current.take() {
            let offset = self.offset;
            self.offset += block.len() as u64;
            self.unhashed.push_back((offset, block));
        }
    }

    /// Starts what can start: the next hash when the hasher is idle, writes while fewer than
    /// [`IN_FLIGHT`] run. Nothing once the pipeline has failed.
    fn start_work(&mut self) {
        if self.failed.is_some() || self.abandoned {
            return;
        }
        if self.hashing.is_none()
            && let Some(mut hasher) = self.hasher.take()
        {
            match self.unhashed.pop_front() {
                Some((offset, block)) => {
                    self.hashing = Some(tokio::task::spawn_blocking(move || {
                        hasher.update(block.bytes());
                        (hasher, offset, block)
                    }));
                }
                None => self.hasher = Some(hasher),
            }
        }
        while self.writing.len() < IN_FLIGHT
            && let Some((offset, block)) = self.unwritten.pop_front()
        {
            let out = Arc::clone(&self.out);
            self.writing.spawn_blocking(move || {
                let written = out.write_at(offset, block.bytes());
                (block, written)
            });
        }
    }

    /// Collects the work that has finished, without waiting for any that runs.
    async fn collect(&mut self) {
        if self.hashing.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(handle) = self.hashing.take()
        {
            self.finished(Done::Hash(handle.await));
        }
        while let Some(done) = self.writing.try_join_next() {
            self.finished(Done::Write(done));
        }
    }

    /// Waits until some running work finishes and collects it (at once when nothing runs).
    async fn wait(&mut self) {
        let done = {
            let hashing = &mut self.hashing;
            let writing = &mut self.writing;
            tokio::select! {
                done = async { hashing.as_mut().expect("guarded").await }, if hashing.is_some() => {
                    *hashing = None;
                    Done::Hash(done)
                }
                Some(done) = writing.join_next(), if !writing.is_empty() => Done::Write(done),
                else => return,
            }
        };
        self.finished(done);
    }

    /// Takes in what a piece of finished work gave back.
    fn finished(&mut self, done: Done) {
        let lost = |e: tokio::task::JoinError| io::Error::other(format!("the download's {e}"));
        match done {
            Done::Hash(Ok((hasher, offset, block))) => {
                self.hasher = Some(hasher);
                self.unwritten.push_back((offset, block));
            }
            Done::Write(Ok((mut block, written))) => {
                block.clear();
                self.free.push(block);
                if let Err(e) = written {
                    self.failed.get_or_insert(e);
                }
            }
            Done::Hash(Err(e)) | Done::Write(Err(e)) => {
                self.failed.get_or_insert(lost(e));
            }
        }
    }

    /// Whether work runs, or is queued and will still start.
    fn busy(&self) -> bool {
        let queued = !self.unhashed.is_empty() || !self.unwritten.is_empty();
        let starts = queued && self.failed.is_none() && !self.abandoned;
        self.hashing.is_some() || !self.writing.is_empty() || starts
    }

    /// Ends the pipeline and waits for its work to finish: when the body is `complete`, every
    /// block is hashed and written and the file synced, and its size and sha256 are returned;
    /// otherwise only what runs is waited for, and what was written so far is returned with no
    /// digest (a write error comes first either way).
    pub(super) async fn finish(mut self, complete: bool) -> io::Result<(u64, String)> {
        if !complete {
            self.abandoned = true;
        } else if self.current.as_ref().is_some_and(|b| b.len() > 0) {
            self.hand_on();
        }
        loop {
            self.collect().await;
            self.start_work();
            if !self.busy() {
                break;
            }
            self.wait().await;
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if !complete {
            return Ok((0, String::new()));
        }
        let hasher = self
            .hasher
            .take()
            .ok_or_else(|| io::Error::other("the download's hash was lost"))?;
        let out = Arc::clone(&self.out);
        tokio::task::spawn_blocking(move || out.sync())
            .await
            .map_err(|e| io::Error::other(format!("the download's sync: {e}")))??;
        Ok((self.offset, hex(&hasher.finalize())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::direct::DownloadWrites;
    use super::*;
    use std::fs;

    /// A body of `len` bytes.
    fn body(len: usize) -> Vec<u8> {
        (0..len)
            .map(|n| (n % 251) as u8 ^ (n >> 20) as u8)
            .collect()
    }

    /// Frames of uneven sizes, as the network delivers them.
    fn frames(body: &[u8]) -> Vec<&[u8]> {
        let mut frames = Vec::new();
        let (mut at, mut n) = (0, 0usize);
        while at < body.len() {
            let len = [16_384, 65_536, 1, 100_000, 4_096][n % 5].min(body.len() - at);
            frames.push(&body[at..at + len]);
            at += len;
            n += 1;
        }
        frames
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_write_paths_write_every_block_in_place_and_hash_them_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        // More blocks than exist at once, and an unaligned tail.
        let content = body(BLOCKS * 2 * BLOCK + 12_345);
        for writes in [DownloadWrites::Direct, DownloadWrites::PageCache] {
            let path = dir.path().join(format!("{writes:?}.part"));
            let out = Output::open(&path, writes, Some(content.len() as u64)).expect("opens");
            let mut sink = Sink::start(out);
            for frame in frames(&content) {
                assert!(sink.push(frame).await, "{writes:?}: accepted");
            }
            assert!(sink.allocated <= BLOCKS, "memory stays bounded");
            let (bytes, sha256) = sink.finish(true).await.expect("finished");
            assert_eq!(bytes, content.len() as u64, "{writes:?}");
            assert_eq!(sha256, hex(&Sha256::digest(&content)), "{writes:?}");
            assert!(
                fs::read(&path).expect("read") == content,
                "{writes:?}: same bytes"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_body_ends_without_a_digest_and_waits_for_its_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let content = body(5 * BLOCK + 100);
        for writes in [DownloadWrites::Direct, DownloadWrites::PageCache] {
            let path = dir.path().join(format!("{writes:?}.part"));
            let out = Output::open(&path, writes, Some(2 * content.len() as u64)).expect("opens");
            let mut sink = Sink::start(out);
            for frame in frames(&content) {
                assert!(sink.push(frame).await);
            }
            let (_, sha256) = sink.finish(false).await.expect("ended");
            assert_eq!(sha256, "", "no digest for a file that is not whole");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_stops_the_pipeline_with_its_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("read-only.part");
        fs::write(&path, b"").expect("create");
        // A file opened read-only: every write fails.
        let out = Output::from_file(fs::File::open(&path).expect("open"));
        let mut sink = Sink::start(out);
        let content = body(BLOCKS * BLOCK * 2);
        let mut refused = false;
        for frame in frames(&content) {
            if !sink.push(frame).await {
                refused = true;
                break;
            }
        }
        assert!(refused, "the pipeline stopped taking frames");
        let error = sink.finish(true).await.expect_err("the write error");
        assert!(error.raw_os_error().is_some(), "{error}");
    }
}
