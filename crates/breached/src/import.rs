//! Streaming import of Have I Been Pwned's "Pwned Passwords" SHA-1 list into an index file.
//!
//! Two inputs, as HIBP's downloader writes them:
//!
//! - one file of `HASH:COUNT` lines, `HASH` the 40 hexadecimal digits of a SHA-1 digest;
//! - a directory of range files, one per 5-digit prefix, named by it (`0A1B2` or `0A1B2.txt`),
//!   of `SUFFIX:COUNT` lines, `SUFFIX` the other 35 digits. The files are read in prefix order;
//!   other entries of the directory (files or folders not named like that) are ignored and
//!   counted in [`ImportSummary::ignored_files`].
//!
//! Either case of hexadecimal, `\r\n` or `\n` line ends, and blank lines are accepted; a line
//! with count 0 (padding) is checked for form and skipped. Anything else is an error naming the
//! file and the line: a malformed line ([`Error::Malformed`]), or a hash not greater than the one
//! before it ([`Error::OutOfOrder`]), across files too. Because the downloader's output is sorted,
//! the import never sorts: it reads each line once, keeps one previous hash, and the memory it
//! uses does not grow with the input (a directory's file names aside, 16 bytes each).

use crate::index::{IndexSummary, IndexWriter};
use crate::{Error, hex, line};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The longest line accepted, line end included (a valid line has at most 63 bytes).
const MAX_LINE: u64 = 128;
/// Read buffer of each input file.
const BUFFER: usize = 1 << 18;

/// What an import read and wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Input files read (1 for a single file).
    pub files: u64,
    /// Directory entries not named like a range file, skipped (always 0 for a single file).
    pub ignored_files: u64,
    /// Hash lines read, padding included; blank lines not.
    pub lines: u64,
    /// Lines with count 0 (padding), skipped.
    pub padding: u64,
    /// The index written.
    pub index: IndexSummary,
}

/// Imports `source`, a single file or a directory of range files, into a new index at `dest`
/// (replacing any file there, by rename, only once the whole index is written).
pub fn import(source: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<ImportSummary, Error> {
    let source = source.as_ref();
    let metadata = fs::metadata(source).map_err(|e| Error::io(source, e))?;
    if metadata.is_dir() {
        import_dir(source, dest)
    } else {
        import_file(source, dest)
    }
}

/// Imports one file of `HASH:COUNT` lines into a new index at `dest`.
pub fn import_file(file: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<ImportSummary, Error> {
    let file = file.as_ref();
    let mut feed = Feed::new(IndexWriter::create(dest)?);
    feed.read_file(file, None)?;
    feed.finish(file)
}

/// Imports a directory of range files (`PREFIX` or `PREFIX.txt`, lines `SUFFIX:COUNT`) into a
/// new index at `dest`.
pub fn import_dir(dir: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<ImportSummary, Error> {
    let dir = dir.as_ref();
    let (ranges, ignored) = range_files(dir)?;
    let mut feed = Feed::new(IndexWriter::create(dest)?);
    feed.summary.ignored_files = ignored;
    for range in &ranges {
        feed.read_file(&dir.join(range.name()), Some(range.prefix_text()))?;
    }
    feed.finish(dir)
}

/// The import's state between lines: the writer, the previous hash, the tallies.
struct Feed {
    writer: IndexWriter,
    previous: Option<[u8; 20]>,
    summary: ImportSummary,
}

impl Feed {
    fn new(writer: IndexWriter) -> Self {
        Feed {
            writer,
            previous: None,
            summary: ImportSummary::default(),
        }
    }

    /// Reads one input file; `prefix` is the range file's 5 digits, `None` for a single file.
    fn read_file(&mut self, path: &Path, prefix: Option<[u8; 5]>) -> Result<(), Error> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(BUFFER, file);
        let hex_len = if prefix.is_some() { 35 } else { 40 };
        let mut text = [0u8; 40];
        if let Some(prefix) = prefix {
            text[..5].copy_from_slice(&prefix);
        }
        let mut buf = Vec::with_capacity(MAX_LINE as usize);
        let mut number = 0u64;
        self.summary.files += 1;
        loop {
            buf.clear();
            let read = (&mut reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io(path, e))?;
            if read == 0 {
                return Ok(());
            }
            number += 1;
            let malformed = |reason: String| Error::Malformed {
                path: path.to_owned(),
                line: number,
                reason,
            };
            let mut content = buf.as_slice();
            if let Some(rest) = content.strip_suffix(b"\n") {
                content = rest;
            } else if read as u64 == MAX_LINE {
                return Err(malformed(format!("longer than {MAX_LINE} bytes")));
            }
            if let Some(rest) = content.strip_suffix(b"\r") {
                content = rest;
            }
            if content.is_empty() {
                continue;
            }
            let parsed = line::parse(content, hex_len).map_err(malformed)?;
            self.summary.lines += 1;
            if parsed.count == 0 {
                self.summary.padding += 1;
                continue;
            }
            text[40 - hex_len..].copy_from_slice(parsed.hex);
            let Some(sha1) = hex::decode_sha1(&text) else {
                return Err(malformed("the hash is not hexadecimal".to_owned()));
            };
            if self.previous.is_some_and(|previous| sha1 <= previous) {
                return Err(Error::OutOfOrder {
                    path: path.to_owned(),
                    line: number,
                });
            }
            self.previous = Some(sha1);
            self.writer.push(&sha1, parsed.count)?;
        }
    }

    fn finish(self, source: &Path) -> Result<ImportSummary, Error> {
        if self.writer.entries() == 0 {
            return Err(Error::Empty {
                path: source.to_owned(),
            });
        }
        let index = self.writer.finish()?;
        Ok(ImportSummary {
            index,
            ..self.summary
        })
    }
}

/// A range file's name: 5 hexadecimal digits, then nothing or `.txt`.
#[derive(Clone, Copy, Debug)]
struct RangeFile {
    prefix: u32,
    name: [u8; 9],
    name_len: u8,
}

impl RangeFile {
    fn parse(name: &str) -> Option<RangeFile> {
        let bytes = name.as_bytes();
        let digits = match bytes.len() {
            5 => bytes,
            9 if bytes[5..].eq_ignore_ascii_case(b".txt") => &bytes[..5],
            _ => return None,
        };
        let prefix = digits
            .iter()
            .try_fold(0u32, |acc, &c| Some(acc << 4 | u32::from(hex::nibble(c)?)))?;
        let mut stored = [0u8; 9];
        stored[..bytes.len()].copy_from_slice(bytes);
        Some(RangeFile {
            prefix,
            name: stored,
            name_len: bytes.len() as u8,
        })
    }

    fn name(&self) -> &str {
        std::str::from_utf8(&self.name[..usize::from(self.name_len)]).unwrap_or_default()
    }

    fn prefix_text(&self) -> [u8; 5] {
        let mut text = [0u8; 5];
        text.copy_from_slice(&self.name[..5]);
        text
    }
}

/// The directory's range files in prefix order, and how many entries were ignored.
fn range_files(dir: &Path) -> Result<(Vec<RangeFile>, u64), Error> {
    let mut ranges = Vec::new();
    let mut ignored = 0u64;
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path: PathBuf = entry.path();
        let range = entry.file_name().to_str().and_then(RangeFile::parse);
        // `fs::metadata` follows symbolic links: a link to a range file counts as one.
        match range {
            Some(range)
                if fs::metadata(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .is_file() =>
            {
                ranges.push(range);
            }
            _ => ignored += 1,
        }
    }
    ranges.sort_unstable_by_key(|r| r.prefix);
    if let Some(pair) = ranges
        .windows(2)
        .find(|pair| pair[0].prefix == pair[1].prefix)
    {
        let mut names = [pair[0].name().to_owned(), pair[1].name().to_owned()];
        names.sort();
        let [first, second] = names;
        return Err(Error::DuplicateRange {
            dir: dir.to_owned(),
            first,
            second,
        });
    }
    if ranges.is_empty() {
        return Err(Error::Empty {
            path: dir.to_owned(),
        });
    }
    Ok((ranges, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_file_names() {
        let range = RangeFile::parse("0a1B2.txt").unwrap();
        assert_eq!(
            (range.prefix, range.name(), range.prefix_text()),
            (0x0A1B2, "0a1B2.txt", *b"0a1B2")
        );
        assert_eq!(RangeFile::parse("FFFFF").unwrap().prefix, 0xFFFFF);
        assert!(RangeFile::parse("0A1B2.TXT").is_some());
        for name in [
            "0A1B",
            "0A1B2C",
            "0A1BG",
            "0A1B2.csv",
            "0A1B2.txt.bak",
            ".0A1B",
            "README",
        ] {
            assert!(RangeFile::parse(name).is_none(), "{name}");
        }
    }
}
