//! The download pipeline: the body received in large blocks, hashed on one thread, written on
//! another (see [`Sink`]); the blocks travel with the work and come back for reuse, so memory
//! stays bounded whatever the file's size.

use super::direct::{ALIGN, Output};
use super::hex;
use sha2::{Digest, Sha256};
use std::io;
use std::sync::mpsc;

/// Bytes per block handed from the network to the hasher and the writer: one `write` each.
const BLOCK: usize = 1024 * 1024;
/// The smallest block (for files announced smaller than [`BLOCK`]).
const MIN_BLOCK: usize = 64 * 1024;
/// Blocks a download uses at most: its memory is bounded by `BLOCKS * BLOCK`.
const BLOCKS: usize = 8;

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
pub(super) struct Sink {
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
    /// Starts the hasher and the writer of `output` for a body of `total` bytes when known.
    pub(super) fn start(output: Output, total: Option<u64>) -> Sink {
        let block = total.map_or(BLOCK, |t| {
            usize::try_from(t).map_or(BLOCK, |t| t.clamp(MIN_BLOCK, BLOCK))
        });
        let (to_hasher, hasher_rx) = mpsc::channel::<Piece>();
        let (to_writer, writer_rx) = mpsc::channel::<Piece>();
        let (freed, free) = tokio::sync::mpsc::unbounded_channel();
        let hasher = tokio::task::spawn_blocking(move || hash_blocks(hasher_rx, to_writer));
        let writer = tokio::task::spawn_blocking(move || write_blocks(output, writer_rx, freed));
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
    pub(super) async fn push(&mut self, mut data: &[u8]) -> bool {
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
    pub(super) async fn finish(mut self, complete: bool) -> io::Result<(u64, String)> {
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

/// The writer's thread: writes the blocks to `out` and frees them; at the end, syncs the file.
/// Returns the bytes written and whether the end came (and the file is synced).
fn write_blocks(
    mut out: Output,
    blocks: mpsc::Receiver<Piece>,
    freed: tokio::sync::mpsc::UnboundedSender<Block>,
) -> io::Result<(u64, bool)> {
    for piece in blocks {
        match piece {
            Piece::Block(mut block) => {
                out.write(block.bytes())?;
                block.clear();
                // The receiving side may have finished already; then the block just goes.
                let _ = freed.send(block);
            }
            Piece::End => {
                out.sync()?;
                return Ok((out.written(), true));
            }
        }
    }
    Ok((out.written(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
        let output = Output::open(&path).expect("opens");
        let (bytes, synced) = write_blocks(output, rx, freed).expect("written");
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
}
