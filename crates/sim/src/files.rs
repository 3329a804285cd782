//! Deterministic file contents: account report bodies generated chunk by chunk from a
//! counter-based stream keyed by (seed, instance), and billing zips holding a generated CSV.

use std::io::Write as _;

use bytes::{Bytes, BytesMut};
use jiff::civil::Date;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::config::SizeRange;

/// Size of the chunks a generated body is produced in.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Account report bytes are the 64 printable characters `0x30..=0x6f` (`0-9`, `:;<=>?@`,
/// `A-Z`, `[\\]^_\``, `a-o`): each generated word is masked to 6 bits per byte and offset.
const TEXT_MASK: u64 = 0x3f3f_3f3f_3f3f_3f3f;
const TEXT_BASE: u64 = 0x3030_3030_3030_3030;

/// 32 bytes derived from the seed and a key (`instance/100001`, `billing/<uuid>`, ...).
pub(crate) fn derive(seed: u64, key: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(key.as_bytes());
    hasher.finalize().into()
}

/// A number in `lo..=hi` derived from the seed and a key.
pub(crate) fn pick(seed: u64, key: &str, lo: u64, hi: u64) -> u64 {
    let bytes = derive(seed, key);
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    let v = u64::from_le_bytes(word);
    match (hi - lo).checked_add(1) {
        Some(span) => lo + v % span,
        None => v,
    }
}

/// A size in the range, derived from the seed and the file's key.
pub(crate) fn size_in(range: SizeRange, seed: u64, key: &str) -> u64 {
    pick(seed, &format!("{key}/size"), range.min, range.max)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function.
fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a body's bytes come from.
#[derive(Clone)]
pub(crate) enum Source {
    /// Bytes held in memory (XML, billing zips).
    Bytes(Bytes),
    /// An endless deterministic stream (its key); the body's length says where it stops.
    Generated(u64),
}

impl Source {
    /// The generated content of the file with this key.
    pub(crate) fn generated(seed: u64, key: &str) -> Self {
        let bytes = derive(seed, &format!("{key}/content"));
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[..8]);
        Source::Generated(u64::from_le_bytes(word))
    }

    /// `len` bytes from `offset`. Generated content is a counter-based stream (SplitMix64 of
    /// the key and the word index), so any range can be produced on its own, whatever the
    /// chunking, and fast even in debug builds.
    pub(crate) fn chunk(&mut self, offset: u64, len: usize) -> Bytes {
        match self {
            Source::Bytes(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(len).min(bytes.len());
                bytes.slice(start..end)
            }
            Source::Generated(key) => {
                let skip = (offset % 8) as usize;
                let mut buf = BytesMut::with_capacity(len + 16);
                let mut index = offset / 8;
                while buf.len() < skip + len {
                    let word = (splitmix(key.wrapping_add(index.wrapping_mul(GOLDEN))) & TEXT_MASK)
                        + TEXT_BASE;
                    buf.extend_from_slice(&word.to_le_bytes());
                    index += 1;
                }
                buf.freeze().slice(skip..skip + len)
            }
        }
    }

    /// The sha256 (hex) of the first `len` bytes, computed in chunks.
    pub(crate) fn sha256(mut self, len: u64) -> String {
        let mut hasher = Sha256::new();
        let mut done = 0u64;
        while done < len {
            let n = usize::try_from((len - done).min(CHUNK as u64)).unwrap_or(CHUNK);
            hasher.update(self.chunk(done, n));
            done += n as u64;
        }
        hex(&hasher.finalize())
    }
}

/// The CSV inside a billing zip: rows until `target` bytes are reached.
fn billing_csv(seed: u64, id: &str, start: Date, target: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::from_seed(derive(seed, &format!("billing/{id}/csv")));
    let mut out = b"RecordId,StartTime,From,To,DurationSeconds,RatePerMinute,Charge\n".to_vec();
    let mut row = 0u64;
    while (out.len() as u64) < target {
        row += 1;
        let a = rng.next_u64();
        let b = rng.next_u64();
        let seconds = a % 86_400;
        let duration = b % 3_600;
        let rate = (a >> 32) % 100;
        let _ = writeln!(
            out,
            "{row},{start}T{:02}:{:02}:{:02}Z,+1919{:07},+1984{:07},{duration},0.{rate:04},{:.4}",
            seconds / 3600,
            (seconds / 60) % 60,
            seconds % 60,
            (a >> 8) % 10_000_000,
            (b >> 8) % 10_000_000,
            duration as f64 / 60.0 * rate as f64 / 10_000.0,
        );
    }
    out
}

/// A real zip (stored, fixed timestamps, so deterministic) holding one CSV named `csv_name`.
pub(crate) fn billing_zip(
    seed: u64,
    id: &str,
    csv_name: &str,
    start: Date,
    csv_size: u64,
) -> Result<Bytes, String> {
    let csv = billing_csv(seed, id, start, csv_size);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(csv.len() + 512)));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    writer
        .start_file(csv_name, options)
        .map_err(|e| e.to_string())?;
    writer.write_all(&csv).map_err(|e| e.to_string())?;
    let cursor = writer.finish().map_err(|e| e.to_string())?;
    Ok(Bytes::from(cursor.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_content_is_deterministic_and_chunk_independent() {
        let mut a = Source::generated(1, "instance/7");
        let whole = a.chunk(0, 1000);
        let mut b = Source::generated(1, "instance/7");
        let mut parts = b.chunk(0, 301).to_vec();
        parts.extend_from_slice(&b.chunk(301, 3));
        parts.extend_from_slice(&b.chunk(304, 696));
        assert_eq!(whole.as_ref(), parts.as_slice());
        let mut c = Source::generated(2, "instance/7");
        assert_ne!(whole, c.chunk(0, 1000));
        assert!(whole.iter().all(|b| (0x30..=0x6f).contains(b)));
    }

    #[test]
    fn sizes_stay_in_range() {
        for i in 0..100 {
            let s = size_in(SizeRange::between(10, 20), 3, &format!("k{i}"));
            assert!((10..=20).contains(&s));
        }
        assert_eq!(size_in(SizeRange::fixed(5), 3, "k"), 5);
        let _ = pick(1, "x", 0, u64::MAX);
    }

    #[test]
    fn billing_zip_is_a_zip_and_deterministic() {
        let start = jiff::civil::date(2024, 1, 1);
        let a = billing_zip(1, "id", "bdrs.csv", start, 2000).expect("zip");
        let b = billing_zip(1, "id", "bdrs.csv", start, 2000).expect("zip");
        assert_eq!(a, b);
        assert_eq!(&a[..2], b"PK");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a.to_vec())).expect("read");
        assert_eq!(archive.len(), 1);
        let file = archive.by_index(0).expect("entry");
        assert_eq!(file.name().expect("name"), "bdrs.csv");
        assert!(file.size() >= 2000);
    }
}
