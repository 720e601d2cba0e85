//! [`BreachedIndex`]: an index file mapped read-only, validated once, then looked up in place.
//!
//! Invariants: after [`BreachedIndex::open`] has returned `Ok`, the header, the file length and
//! the bucket table agree (the table starts at 0, never decreases and ends at the entry count),
//! so every lookup reads inside the mapping; lookups also go through checked slicing, so even a
//! file changed in place after the checks gives wrong answers rather than out-of-bounds reads.
//! The mapping is never written.

use super::{HEADER_LEN, Header, Layout, key_of};
use crate::{Error, password_sha1};
use memmap2::Mmap;
use sha1::{Digest, Sha1};
use std::cmp::Ordering;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Probes next to the estimated position before a lookup falls back to bisection.
const GUIDED_STEPS: u32 = 4;

/// A breached-password index, mapped read-only.
///
/// The operating system pages the file in as lookups touch it; the process's own memory holds
/// only this small struct. It is `Send` and `Sync`: share one behind an `Arc`.
///
/// To replace an index that a running process has open, write the new one to another name in
/// the same directory and rename it over the old one ([`IndexWriter`](crate::IndexWriter) does
/// exactly that): the open mapping keeps the old file's contents until it is dropped, and the
/// next `open` sees the new file. Never truncate or rewrite the file in place: a page of a
/// mapped file that was cut off faults (`SIGBUS`) when a lookup touches it.
#[derive(Debug)]
pub struct BreachedIndex {
    map: Mmap,
    path: PathBuf,
    layout: Layout,
    body_sha1: [u8; 20],
}

impl BreachedIndex {
    /// Maps the index at `path` and checks its header, its length and its bucket table.
    ///
    /// A file that is not an index, an index of another format version, and a truncated or
    /// damaged index are errors; the file's body checksum is checked only by
    /// [`verify`](Self::verify).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len < HEADER_LEN as u64 {
            // Too short to map usefully: read what there is so the error says what it is.
            let mut start = Vec::with_capacity(HEADER_LEN);
            file.read_to_end(&mut start)
                .map_err(|e| Error::io(&path, e))?;
            Header::decode(&start, &path)?;
            return Err(corrupt(&path, "shorter than its header".to_owned()));
        }
        // SAFETY: `Mmap::map` is unsafe because the mapped bytes change, or vanish, if another
        // process modifies or truncates the file while it is mapped. The file is opened read-only
        // and the mapping is never written. Index files are written whole under a temporary name
        // and renamed into place (`IndexWriter`), never modified in place, and operators replace
        // an index the same way (documented on this type and in docs/breached-passwords.md): a
        // rename leaves this mapping on the old file's contents. Content changes could only give
        // wrong answers, since every read below is bounds-checked; truncation by another process
        // while mapped would fault when a lookup touches a page past the new end, which is why
        // in-place replacement is documented as unsupported.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        let header = Header::decode(&map, &path)?;
        if map.len() as u64 != header.file_len {
            return Err(corrupt(
                &path,
                format!(
                    "the file has {} bytes, its header says {} (truncated or extended)",
                    map.len(),
                    header.file_len
                ),
            ));
        }
        let index = BreachedIndex {
            map,
            path,
            layout: header.layout,
            body_sha1: header.body_sha1,
        };
        index.check_table()?;
        Ok(index)
    }

    /// How many times the SHA-1 digest `sha1` was seen in breaches: 0 if it was not, up to 254
    /// exactly, 255 for "255 times or more".
    ///
    /// A digest that was never breached answers non-zero only if its first 64 bits equal a
    /// stored key: probability at most `len() / 2^64`.
    pub fn count(&self, sha1: &[u8; 20]) -> u32 {
        let key = key_of(sha1);
        let bucket = self.layout.bucket_of(key);
        let (Some(mut lo), Some(mut hi)) = (self.table(bucket), self.table(bucket + 1)) else {
            return 0;
        };
        let target = key & self.stored_mask();
        // SHA-1 spreads keys evenly within a bucket, so the bits after the bucket's own say where
        // the key should be: look there first, step towards it a few times (usually in the same
        // cache line), then binary-search whatever is left. The target, if stored, is always in
        // `lo..hi`.
        let within = key.checked_shl(self.layout.bits).unwrap_or(0);
        let span = hi.saturating_sub(lo);
        let mut probe = lo + ((u128::from(within) * u128::from(span)) >> 64) as u64;
        let mut steps = 0;
        while lo < hi {
            let at = if steps < GUIDED_STEPS {
                probe.clamp(lo, hi - 1)
            } else {
                lo + (hi - lo) / 2
            };
            steps += 1;
            let Some((stored, count)) = self.entry(at) else {
                return 0;
            };
            match stored.cmp(&target) {
                Ordering::Less => (lo, probe) = (at + 1, at + 1),
                Ordering::Greater => (hi, probe) = (at, at.saturating_sub(1)),
                Ordering::Equal => return u32::from(count),
            }
        }
        0
    }

    /// [`count`](Self::count) of the SHA-1 of the password's UTF-8 bytes, exactly as given.
    pub fn count_password(&self, password: &str) -> u32 {
        self.count(&password_sha1(password))
    }

    /// The number of entries (distinct 64-bit keys).
    pub fn len(&self) -> u64 {
        self.layout.entries
    }

    /// Whether the index has no entries; never true for a file that opened, since an index
    /// holds at least one.
    pub fn is_empty(&self) -> bool {
        self.layout.entries == 0
    }

    /// The file's length in bytes.
    pub fn file_size(&self) -> u64 {
        self.map.len() as u64
    }

    /// The bucket bits of the file's layout (see [`index`](crate::index)).
    pub fn bucket_bits(&self) -> u32 {
        self.layout.bits
    }

    /// The path the index was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the whole file and checks the SHA-1 of its body against the header; also checks
    /// that the entries of every bucket ascend. Takes about as long as reading the file.
    pub fn verify(&self) -> Result<(), Error> {
        let body = self.map.get(HEADER_LEN..).unwrap_or_default();
        let digest: [u8; 20] = Sha1::digest(body).into();
        if digest != self.body_sha1 {
            return Err(corrupt(
                &self.path,
                "the body's SHA-1 does not match the header".into(),
            ));
        }
        for bucket in 0..self.layout.buckets() {
            let (Some(lo), Some(hi)) = (self.table(bucket), self.table(bucket + 1)) else {
                return Err(corrupt(
                    &self.path,
                    format!("bucket {bucket} is out of the table"),
                ));
            };
            let mut previous = None;
            for i in lo..hi {
                let Some((key, count)) = self.entry(i) else {
                    return Err(corrupt(&self.path, format!("entry {i} is out of the file")));
                };
                if count == 0 || previous.is_some_and(|p| p >= key) {
                    return Err(corrupt(&self.path, format!("entry {i} is out of order")));
                }
                previous = Some(key);
            }
        }
        Ok(())
    }

    /// Checks that the table starts at 0, never decreases and ends at the entry count.
    fn check_table(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(corrupt(&self.path, reason));
        let start = HEADER_LEN;
        let end = usize::try_from(self.layout.entries_offset()).unwrap_or(usize::MAX);
        let Some(table) = self.map.get(start..end) else {
            return bad("the file ends inside the bucket table".to_owned());
        };
        let mut values = table
            .chunks_exact(4)
            .map(|le| u32::from_le_bytes([le[0], le[1], le[2], le[3]]));
        if values.next() != Some(0) {
            return bad("the bucket table does not start at entry 0".to_owned());
        }
        let mut previous = 0;
        for (bucket, start) in values.enumerate() {
            if start < previous {
                return bad(format!(
                    "the bucket table decreases at bucket {}",
                    bucket + 1
                ));
            }
            previous = start;
        }
        if u64::from(previous) != self.layout.entries {
            return bad(format!(
                "the bucket table ends at entry {previous}, not at the entry count {}",
                self.layout.entries
            ));
        }
        Ok(())
    }

    /// The table's value for `bucket`: the index of the bucket's first entry.
    fn table(&self, bucket: u64) -> Option<u64> {
        let at = usize::try_from(bucket)
            .ok()?
            .checked_mul(4)?
            .checked_add(HEADER_LEN)?;
        let bytes = self.map.get(at..at.checked_add(4)?)?;
        let mut le = [0u8; 4];
        le.copy_from_slice(bytes);
        Some(u64::from(u32::from_le_bytes(le)))
    }

    /// Entry `i`'s stored key bytes (as a number) and its count.
    fn entry(&self, i: u64) -> Option<(u64, u8)> {
        let width = self.layout.entry_width();
        let offset = i
            .checked_mul(width as u64)?
            .checked_add(self.layout.entries_offset())?;
        let at = usize::try_from(offset).ok()?;
        let bytes = self.map.get(at..at.checked_add(width)?)?;
        let (key, count) = bytes.split_at(width - 1);
        let key = key.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        Some((key, *count.first()?))
    }

    /// The key bits an entry stores: all but the implied leading bytes.
    fn stored_mask(&self) -> u64 {
        u64::MAX
            .checked_shr(8 * self.layout.implied_bytes() as u32)
            .unwrap_or(0)
    }
}

fn corrupt(path: &Path, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        reason,
    }
}
