//! [`IndexWriter`]: ascending hashes in, one index file out, renamed into place whole.
//!
//! Invariants: the destination's name only ever holds a complete, fsynced index (the file is
//! written under a temporary name in the same directory, then renamed); the writer's memory does
//! not grow with the input (hashes are spooled to disk); the temporary files are removed when the
//! writer is dropped, finished or not.

use super::{COUNT_CEILING, HEADER_LEN, Header, Layout, MAX_ENTRIES, bucket_bits, key_of};
use crate::Error;
use sha1::{Digest, Sha1};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of one spooled entry: the 8-byte key, big-endian, and the count byte.
const SPOOL_RECORD: usize = 9;
/// Buffer size of the spool and of the index file.
const BUFFER: usize = 1 << 20;

/// Writes an index file from SHA-1 hashes given in ascending order.
///
/// ```text
/// let mut writer = IndexWriter::create("pwned.idx")?;
/// writer.push(&sha1_a, 3)?;    // sha1_a < sha1_b
/// writer.push(&sha1_b, 1000)?; // stored as 255
/// let summary = writer.finish()?;
/// ```
#[derive(Debug)]
pub struct IndexWriter {
    dest: PathBuf,
    spool_path: PathBuf,
    spool: Option<BufWriter<File>>,
    temp_path: PathBuf,
    pending: Option<(u64, u64)>,
    summary: IndexSummary,
}

/// What [`IndexWriter::finish`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSummary {
    /// Entries in the index (distinct 64-bit keys with a count above zero).
    pub entries: u64,
    /// Hashes folded into the entry before them because they share its 64-bit key.
    pub merged: u64,
    /// Entries whose count reached 255 and is stored as 255 ("255 times or more").
    pub saturated: u64,
    /// The bucket bits chosen for `entries`.
    pub bucket_bits: u32,
    /// The index file's length in bytes.
    pub file_size: u64,
}

impl IndexWriter {
    /// Starts an index that [`finish`](Self::finish) will put at `dest`, replacing any file
    /// there. The temporary files go beside it, so `dest`'s directory must be writable.
    pub fn create(dest: impl AsRef<Path>) -> Result<Self, Error> {
        let dest = dest.as_ref().to_owned();
        let name = dest.file_name().ok_or_else(|| {
            Error::io(
                &dest,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
            )
        })?;
        let unique = unique_suffix();
        let sibling = |kind: &str| {
            let mut temp = std::ffi::OsString::from(".");
            temp.push(name);
            temp.push(format!(".{unique}.{kind}"));
            dest.with_file_name(temp)
        };
        let (spool_path, temp_path) = (sibling("spool"), sibling("tmp"));
        let spool = create_new(&spool_path)?;
        Ok(IndexWriter {
            dest,
            spool_path,
            spool: Some(BufWriter::with_capacity(BUFFER, spool)),
            temp_path,
            pending: None,
            summary: IndexSummary::default(),
        })
    }

    /// Adds a breached hash seen `count` times. Hashes come in ascending order; one whose first
    /// 8 bytes equal the previous hash's is merged into its entry (counts added, saturating).
    /// A count of 0 (padding) is ignored.
    pub fn push(&mut self, sha1: &[u8; 20], count: u64) -> Result<(), Error> {
        if count == 0 {
            return Ok(());
        }
        let key = key_of(sha1);
        match self.pending {
            Some((last, total)) if last == key => {
                self.pending = Some((key, total.saturating_add(count)));
                self.summary.merged += 1;
            }
            Some((last, _)) if key < last => {
                return Err(Error::KeyOutOfOrder {
                    path: self.dest.clone(),
                });
            }
            previous => {
                if let Some(entry) = previous {
                    self.spill(entry)?;
                }
                self.pending = Some((key, count));
            }
        }
        Ok(())
    }

    /// The entries so far, counting the one still being merged.
    pub fn entries(&self) -> u64 {
        self.summary.entries + u64::from(self.pending.is_some())
    }

    fn spill(&mut self, (key, count): (u64, u64)) -> Result<(), Error> {
        if self.summary.entries >= MAX_ENTRIES {
            return Err(Error::TooManyEntries {
                path: self.dest.clone(),
                max: MAX_ENTRIES,
            });
        }
        // COUNT_CEILING is u8::MAX: every count that does not fit in a byte is stored as it.
        let stored = u8::try_from(count).unwrap_or(COUNT_CEILING);
        if stored == COUNT_CEILING {
            self.summary.saturated += 1;
        }
        let mut record = [0u8; SPOOL_RECORD];
        record[..8].copy_from_slice(&key.to_be_bytes());
        record[8] = stored;
        let spool = self
            .spool
            .as_mut()
            .ok_or_else(|| finished(&self.spool_path))?;
        spool
            .write_all(&record)
            .map_err(|e| Error::io(&self.spool_path, e))?;
        self.summary.entries += 1;
        Ok(())
    }

    /// Writes the index to a temporary file, fsyncs it, renames it to the destination and
    /// fsyncs the directory. An index has at least one entry: with none, [`Error::Empty`].
    pub fn finish(self) -> Result<IndexSummary, Error> {
        self.finish_with(bucket_bits)
    }

    /// [`finish`](Self::finish) with the bucket bits chosen by `choose_bits` from the entry
    /// count (tests force every layout through it).
    fn finish_with(mut self, choose_bits: impl Fn(u64) -> u32) -> Result<IndexSummary, Error> {
        if let Some(entry) = self.pending.take() {
            self.spill(entry)?;
        }
        let spool = self
            .spool
            .take()
            .ok_or_else(|| finished(&self.spool_path))?;
        let mut spool = spool
            .into_inner()
            .map_err(|e| Error::io(&self.spool_path, e.into_error()))?;
        let entries = self.summary.entries;
        if entries == 0 {
            return Err(Error::Empty {
                path: self.dest.clone(),
            });
        }
        let layout = Layout {
            bits: choose_bits(entries),
            entries,
        };
        let file_len = layout.file_len().ok_or_else(|| Error::TooManyEntries {
            path: self.dest.clone(),
            max: MAX_ENTRIES,
        })?;

        let fail = |e: io::Error| Error::io(&self.temp_path, e);
        let mut temp = create_new(&self.temp_path)?;
        // The header's place, written last; the checksum covers what follows it.
        temp.write_all(&[0u8; HEADER_LEN]).map_err(fail)?;
        let mut body = BufWriter::with_capacity(
            BUFFER,
            Hashing {
                inner: temp,
                sha1: Sha1::new(),
            },
        );
        self.write_table(&mut spool, layout, &mut body)?;
        self.write_entries(&mut spool, layout, &mut body)?;
        let Hashing {
            inner: mut temp,
            sha1,
        } = body.into_inner().map_err(|e| fail(e.into_error()))?;
        let header = Header {
            layout,
            file_len,
            body_sha1: sha1.finalize().into(),
        };
        temp.seek(SeekFrom::Start(0)).map_err(fail)?;
        temp.write_all(&header.encode()).map_err(fail)?;
        let written = temp.seek(SeekFrom::End(0)).map_err(fail)?;
        if written != file_len {
            return Err(fail(io::Error::other(format!(
                "wrote {written} bytes, the layout gives {file_len}"
            ))));
        }
        temp.sync_all().map_err(fail)?;
        drop(temp);
        fs::rename(&self.temp_path, &self.dest).map_err(fail)?;
        sync_parent(&self.dest)?;
        self.summary.bucket_bits = layout.bits;
        self.summary.file_size = file_len;
        Ok(self.summary)
    }

    /// The bucket table: for each bucket the index of its first entry, then `entries`.
    fn write_table(
        &self,
        spool: &mut File,
        layout: Layout,
        out: &mut impl Write,
    ) -> Result<(), Error> {
        let mut table = TableOut {
            out,
            chunk: Vec::with_capacity(TABLE_CHUNK),
            path: &self.temp_path,
        };
        let mut next_bucket = 0u64;
        let mut index = 0u32;
        self.each_spooled(spool, layout.entries, |key, _| {
            let bucket = layout.bucket_of(key);
            if next_bucket <= bucket {
                table.repeat(index, bucket + 1 - next_bucket)?;
                next_bucket = bucket + 1;
            }
            index += 1;
            Ok(())
        })?;
        table.repeat(index, layout.buckets() + 1 - next_bucket)?;
        table.flush()
    }

    /// The entries: each key without its implied bytes, then its count.
    fn write_entries(
        &self,
        spool: &mut File,
        layout: Layout,
        out: &mut impl Write,
    ) -> Result<(), Error> {
        let fail = |e: io::Error| Error::io(&self.temp_path, e);
        let implied = layout.implied_bytes();
        self.each_spooled(spool, layout.entries, |key, count| {
            out.write_all(&key.to_be_bytes()[implied..]).map_err(fail)?;
            out.write_all(&[count]).map_err(fail)
        })
    }

    /// Reads the spool from its start and calls `each` with every key and stored count.
    fn each_spooled(
        &self,
        spool: &mut File,
        entries: u64,
        mut each: impl FnMut(u64, u8) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let fail = |e: io::Error| Error::io(&self.spool_path, e);
        spool.seek(SeekFrom::Start(0)).map_err(fail)?;
        let mut reader = BufReader::with_capacity(BUFFER, spool);
        let mut record = [0u8; SPOOL_RECORD];
        for _ in 0..entries {
            reader.read_exact(&mut record).map_err(fail)?;
            let mut key = [0u8; 8];
            key.copy_from_slice(&record[..8]);
            each(u64::from_be_bytes(key), record[8])?;
        }
        Ok(())
    }
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        // Best effort: after a successful finish the temporary file has been renamed away.
        let _ = fs::remove_file(&self.spool_path);
        let _ = fs::remove_file(&self.temp_path);
    }
}

/// Bytes of the bucket table gathered before each write.
const TABLE_CHUNK: usize = 1 << 16;

/// The bucket table on its way out, gathered in chunks (it has up to 2^28 values).
struct TableOut<'a, W> {
    out: &'a mut W,
    chunk: Vec<u8>,
    path: &'a Path,
}

impl<W: Write> TableOut<'_, W> {
    /// Appends `times` copies of `value`.
    fn repeat(&mut self, value: u32, times: u64) -> Result<(), Error> {
        for _ in 0..times {
            self.chunk.extend_from_slice(&value.to_le_bytes());
            if self.chunk.len() >= TABLE_CHUNK {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out
            .write_all(&self.chunk)
            .map_err(|e| Error::io(self.path, e))?;
        self.chunk.clear();
        Ok(())
    }
}

/// A writer that hashes what it passes on.
struct Hashing<W> {
    inner: W,
    sha1: Sha1,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.sha1.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn create_new(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Makes the rename durable: fsync the directory that holds `path`.
fn sync_parent(path: &Path) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// A suffix no other writer of this process, or of another live process, uses.
fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn finished(path: &Path) -> Error {
    Error::io(path, io::Error::other("the writer has already finished"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BreachedIndex;

    /// Every entry width, 9 bytes (no implied byte) to 6 (three), answers every stored key and
    /// no neighbour of one. The natural choice reaches 24 bits only past 268 million entries.
    #[test]
    fn every_entry_width_answers_exactly() {
        let dir =
            std::env::temp_dir().join(format!("portcullis-breached-widths-{}", unique_suffix()));
        fs::create_dir_all(&dir).unwrap();
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let z = (state ^ (state >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut keys: Vec<u64> = (0..2_000).map(|_| next()).collect();
        keys.extend([
            0,
            1,
            u64::MAX,
            u64::MAX - 1,
            0x00FF_FFFF_FFFF_FFFF,
            0x0100_0000_0000_0000,
        ]);
        keys.sort_unstable();
        keys.dedup();
        let digest = |key: u64| {
            let mut sha1 = [0xA5u8; 20];
            sha1[..8].copy_from_slice(&key.to_be_bytes());
            sha1
        };
        for bits in [0, 1, 7, 8, 9, 15, 16, 17, 23, 24] {
            let path = dir.join(format!("{bits}.idx"));
            let mut writer = IndexWriter::create(&path).unwrap();
            for (i, &key) in keys.iter().enumerate() {
                writer.push(&digest(key), 1 + i as u64 % 200).unwrap();
            }
            let summary = writer.finish_with(|_| bits).unwrap();
            let index = BreachedIndex::open(&path).unwrap();
            assert_eq!((summary.bucket_bits, index.bucket_bits()), (bits, bits));
            let width = 9 - bits as u64 / 8;
            assert_eq!(
                index.file_size(),
                64 + 4 * ((1 << bits) + 1) + width * keys.len() as u64
            );
            for (i, &key) in keys.iter().enumerate() {
                assert_eq!(
                    u64::from(index.count(&digest(key))),
                    1 + i as u64 % 200,
                    "{bits}: {key:x}"
                );
                for neighbour in [key ^ 1, key ^ (1 << 40), key ^ (1 << 63)] {
                    if keys.binary_search(&neighbour).is_err() {
                        assert_eq!(index.count(&digest(neighbour)), 0, "{bits}: {neighbour:x}");
                    }
                }
            }
            if bits < 20 {
                // Reading a 64 MiB table through unoptimized SHA-1 takes seconds; spare it.
                index.verify().unwrap();
            }
            drop(index);
            fs::remove_file(&path).unwrap();
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
