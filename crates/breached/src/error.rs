//! The crate's one error type. Every error that comes from a file names it; errors about a line
//! of input name the file and the 1-based line number, so an operator can open the spot.

use std::io;
use std::path::PathBuf;

/// Why an import, a write, an open or a range-body parse failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory being read or written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A line of the input is not `HASH:COUNT` (or `SUFFIX:COUNT` in a range file).
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        /// The input file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with the line.
        reason: String,
    },
    /// A hash is not greater than the hash before it: the input is not sorted ascending, or
    /// repeats a hash.
    #[error(
        "{}:{line}: hash is not greater than the one before it (the input must be sorted \
         ascending, as the downloader writes it, without repeats)",
        path.display()
    )]
    OutOfOrder {
        /// The input file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
    },
    /// Two range files of a directory are for the same prefix (e.g. `0A1B2` and `0a1b2.txt`).
    #[error("{}: range files {first} and {second} are for the same prefix", dir.display())]
    DuplicateRange {
        /// The input directory.
        dir: PathBuf,
        /// The first file's name.
        first: String,
        /// The second file's name.
        second: String,
    },
    /// The input holds no hash with a count above zero (or the directory no range file).
    #[error("{}: nothing to import (no hash with a count above zero)", path.display())]
    Empty {
        /// The input file or directory, or the index being written.
        path: PathBuf,
    },
    /// [`IndexWriter::push`](crate::IndexWriter::push) was given a hash below the previous one.
    #[error("{}: hashes must be pushed in ascending order", path.display())]
    KeyOutOfOrder {
        /// The index being written.
        path: PathBuf,
    },
    /// The index would hold more entries than the format can count.
    #[error("{}: more than {max} entries", path.display())]
    TooManyEntries {
        /// The index being written.
        path: PathBuf,
        /// The format's limit.
        max: u64,
    },
    /// The file is not a breached-password index (too short for a header, or other magic bytes).
    #[error("{}: not a breached-password index ({reason})", path.display())]
    NotAnIndex {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The file is an index of a format version this build does not read.
    #[error(
        "{}: index format version {found}; this build reads version {supported}",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file's header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The file has an index header but its contents do not agree with it (truncated, extended,
    /// or damaged).
    #[error("{}: damaged index: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which check failed.
        reason: String,
    },
    /// A line of a range-API response body is not `SUFFIX:COUNT`.
    #[error("range body line {line}: {reason}")]
    RangeBody {
        /// The 1-based line number.
        line: u64,
        /// What is wrong with the line.
        reason: String,
    },
    /// The suffix to look for is not 35 hexadecimal characters.
    #[error("a range suffix is 35 hexadecimal characters; this one has {len} characters")]
    InvalidSuffix {
        /// The length of the suffix given, in characters.
        len: usize,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
