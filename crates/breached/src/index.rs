//! The index file format, its writer and its reader.
//!
//! # Keys
//!
//! An entry's key is the first 8 bytes (64 bits) of a SHA-1 digest, read big-endian, so keys
//! sort like the hexadecimal text of the digests. Two breached hashes that share those 64 bits
//! are one entry whose count is the sum of theirs. A lookup of a password that was never
//! breached answers "found" only if its 64-bit prefix equals one of the `n` stored keys: for
//! SHA-1's uniformly spread digests that is a probability of at most `n / 2^64` per lookup,
//! about 5 × 10⁻¹¹ for the full list of roughly 10⁹ hashes.
//!
//! # Counts
//!
//! A count is one byte: the number of times the hash was seen, saturating at 255 (255 means
//! "255 times or more"). Policies compare against at most 100, so every count a policy can
//! distinguish, up to 254, is stored exactly. A count of 0 is never stored: 0 means "not found".
//!
//! # Layout (format version 1)
//!
//! All integers are unsigned; the header's and the table's are little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `PCBREACH` |
//! | 8 | 4 | format version, `1` |
//! | 12 | 4 | bucket bits `b` (at most 32) |
//! | 16 | 8 | entry count `n` (1 to 2³² − 1) |
//! | 24 | 8 | file length in bytes |
//! | 32 | 20 | SHA-1 of every byte after the header (the table and the entries) |
//! | 52 | 4 | zero |
//! | 56 | 8 | the first 8 bytes of the SHA-1 of bytes 0..56 (the header's own check) |
//! | 64 | 4 × (2^b + 1) | bucket table: entry index where each bucket starts, then `n` |
//! | 64 + 4 × (2^b + 1) | w × n | entries, ascending by key |
//!
//! Bucket `p` holds the keys whose top `b` bits are `p`, entries `table[p] .. table[p + 1]`.
//! The first `k = b / 8` bytes of such a key are implied by the bucket, so an entry stores the
//! other `8 − k` key bytes (big-endian) and then the count byte: `w = 9 − k` bytes. `b` is
//! chosen from `n` ([`bucket_bits`]): the smallest `b` whose buckets hold at most 32 entries
//! on average (so 16 to 32), raised by one bit when that reaches a byte boundary and saves a
//! byte per entry. One million entries: `b = 16`, 7-byte entries, 7.26 bytes per entry with the
//! table. The full list (about 10⁹): `b = 25`, 6-byte entries, about 6.1 bytes per entry.
//!
//! # Checks on open
//!
//! [`BreachedIndex::open`] refuses a file that is shorter than a header or has other magic bytes
//! ([`Error::NotAnIndex`]), another format version ([`Error::UnsupportedVersion`]), a header whose
//! check does not match, a length other than the one the header's `b` and `n` give, or a table
//! that does not start at 0, decrease, or end at `n` ([`Error::Corrupt`]). After that, every
//! lookup stays inside the file. The SHA-1 of the body is checked only by
//! [`BreachedIndex::verify`], which reads the whole file.
//!
//! # Writing
//!
//! [`IndexWriter`] takes hashes in ascending order. It spools them (9 bytes each) to a
//! temporary file beside the destination, because the entry width depends on the final count;
//! [`IndexWriter::finish`] then writes the index to a second temporary file, fsyncs it, renames
//! it over the destination and fsyncs the directory. A crash leaves either the old file or the
//! new one under the destination's name, never a part of one; the temporary files (names
//! starting with `.` and the destination's name) are removed when the writer is dropped.
//! During a write the destination directory needs about 16 bytes per entry of free space.

mod reader;
mod writer;

pub use reader::BreachedIndex;
pub use writer::{IndexSummary, IndexWriter};

use crate::Error;
use sha1::{Digest, Sha1};
use std::path::Path;

/// The magic bytes every index file starts with.
pub const MAGIC: [u8; 8] = *b"PCBREACH";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// The header's length in bytes; the bucket table starts right after it.
pub const HEADER_LEN: usize = 64;
/// The most entries one index holds (the table's entry indexes are `u32`).
pub const MAX_ENTRIES: u64 = u32::MAX as u64;
/// The most bucket bits a file may declare.
pub const MAX_BUCKET_BITS: u32 = 32;
/// A count at or above this is stored as this: "this many times or more".
pub const COUNT_CEILING: u8 = u8::MAX;

/// Average entries per bucket that [`bucket_bits`] does not exceed.
const TARGET_PER_BUCKET: u64 = 32;

/// The bucket bits the writer chooses for `entries` entries (see the module's documentation).
pub fn bucket_bits(entries: u64) -> u32 {
    let mut bits = 0;
    while bits < MAX_BUCKET_BITS && entries > TARGET_PER_BUCKET << bits {
        bits += 1;
    }
    if bits % 8 == 7 && bits < MAX_BUCKET_BITS {
        bits += 1;
    }
    bits
}

/// The 64-bit key of a SHA-1 digest: its first 8 bytes, big-endian.
pub(crate) fn key_of(sha1: &[u8; 20]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&sha1[..8]);
    u64::from_be_bytes(first)
}

/// Where everything is in a file of `entries` entries with `bits` bucket bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) bits: u32,
    pub(crate) entries: u64,
}

impl Layout {
    /// The number of buckets, `2^bits`.
    pub(crate) fn buckets(self) -> u64 {
        1u64 << self.bits
    }

    /// The key bytes implied by the bucket, `bits / 8`.
    pub(crate) fn implied_bytes(self) -> usize {
        (self.bits / 8) as usize
    }

    /// The bytes of one entry: the key bytes not implied, then the count.
    pub(crate) fn entry_width(self) -> usize {
        9 - self.implied_bytes()
    }

    /// The bucket of `key`: its top `bits` bits.
    pub(crate) fn bucket_of(self, key: u64) -> u64 {
        key.checked_shr(64 - self.bits).unwrap_or(0)
    }

    /// The bytes of the bucket table (`2^bits + 1` `u32`s).
    pub(crate) fn table_len(self) -> u64 {
        (self.buckets() + 1) * 4
    }

    /// The offset of the first entry.
    pub(crate) fn entries_offset(self) -> u64 {
        HEADER_LEN as u64 + self.table_len()
    }

    /// The whole file's length, `None` if it overflows.
    pub(crate) fn file_len(self) -> Option<u64> {
        let entries = self.entries.checked_mul(self.entry_width() as u64)?;
        self.entries_offset().checked_add(entries)
    }
}

/// The decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) layout: Layout,
    pub(crate) file_len: u64,
    pub(crate) body_sha1: [u8; 20],
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.layout.bits.to_le_bytes());
        out[16..24].copy_from_slice(&self.layout.entries.to_le_bytes());
        out[24..32].copy_from_slice(&self.file_len.to_le_bytes());
        out[32..52].copy_from_slice(&self.body_sha1);
        let check = header_check(&out);
        out[56..64].copy_from_slice(&check);
        out
    }

    /// Decodes and checks the header at the start of `bytes`, the whole file or its first bytes.
    pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Header, Error> {
        let not_an_index = |reason: &str| Error::NotAnIndex {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let Some(magic) = bytes.get(0..8) else {
            return Err(not_an_index("shorter than the magic bytes"));
        };
        if magic != MAGIC {
            return Err(not_an_index("other magic bytes"));
        }
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(corrupt(format!(
                "{} bytes, shorter than the {HEADER_LEN}-byte header",
                bytes.len()
            )));
        };
        let version = u32_at(header, 8);
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
                supported: VERSION,
            });
        }
        if header[56..64] != header_check(header) {
            return Err(corrupt("the header's check does not match".to_owned()));
        }
        if header[52..56] != [0; 4] {
            return Err(corrupt("reserved header bytes are not zero".to_owned()));
        }
        let bits = u32_at(header, 12);
        if bits > MAX_BUCKET_BITS {
            return Err(corrupt(format!(
                "{bits} bucket bits (at most {MAX_BUCKET_BITS})"
            )));
        }
        let entries = u64_at(header, 16);
        if entries == 0 || entries > MAX_ENTRIES {
            return Err(corrupt(format!("{entries} entries (1 to {MAX_ENTRIES})")));
        }
        let layout = Layout { bits, entries };
        let file_len = u64_at(header, 24);
        if layout.file_len() != Some(file_len) {
            return Err(corrupt(format!(
                "the header gives {file_len} bytes, but {entries} entries in 2^{bits} buckets \
                 take a different length"
            )));
        }
        let mut body_sha1 = [0u8; 20];
        body_sha1.copy_from_slice(&header[32..52]);
        Ok(Header {
            layout,
            file_len,
            body_sha1,
        })
    }
}

/// The header's check over its first 56 bytes.
fn header_check(header: &[u8]) -> [u8; 8] {
    let digest = Sha1::digest(header.get(..56).unwrap_or(header));
    let mut check = [0u8; 8];
    check.copy_from_slice(&digest[..8]);
    check
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut le = [0u8; 4];
    le.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(le)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_sixteen_to_thirty_two_entries_unless_a_byte_is_saved() {
        assert_eq!(bucket_bits(1), 0);
        assert_eq!(bucket_bits(32), 0);
        assert_eq!(bucket_bits(33), 1);
        assert_eq!(bucket_bits(1_000_000), 16); // 15 bits, raised to the byte boundary
        assert_eq!(bucket_bits(100_000_000), 22);
        assert_eq!(bucket_bits(1_000_000_000), 25);
        assert_eq!(bucket_bits(MAX_ENTRIES), 27);
        for n in [100u64, 10_000, 123_456, 1 << 20, 5_000_000, 100_000_000] {
            let b = bucket_bits(n);
            let average = n as f64 / (1u64 << b) as f64;
            assert!((8.0..=32.0).contains(&average), "{n}: {average}");
            if !b.is_multiple_of(8) {
                assert!(average > 16.0, "{n}: {average}");
            }
        }
    }

    #[test]
    fn layout_of_one_million_entries() {
        let layout = Layout {
            bits: bucket_bits(1_000_000),
            entries: 1_000_000,
        };
        assert_eq!(layout.entry_width(), 7);
        assert_eq!(layout.file_len(), Some(64 + 4 * 65_537 + 7_000_000));
        assert_eq!(layout.bucket_of(0xABCD_0000_0000_0001), 0xABCD);
        let zero = Layout {
            bits: 0,
            entries: 3,
        };
        assert_eq!(zero.bucket_of(u64::MAX), 0);
        assert_eq!(zero.entry_width(), 9);
    }

    #[test]
    fn header_round_trips() {
        let header = Header {
            layout: Layout {
                bits: 3,
                entries: 100,
            },
            file_len: Layout {
                bits: 3,
                entries: 100,
            }
            .file_len()
            .unwrap(),
            body_sha1: [7; 20],
        };
        let bytes = header.encode();
        assert_eq!(Header::decode(&bytes, Path::new("x")).unwrap(), header);
        let mut flipped = bytes;
        flipped[20] ^= 1;
        assert!(matches!(
            Header::decode(&flipped, Path::new("x")),
            Err(Error::Corrupt { .. })
        ));
    }
}
