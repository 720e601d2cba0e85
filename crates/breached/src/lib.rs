//! An offline index of breached passwords (NIST SP 800-63B §3.1.1.2: a new password is checked
//! against lists of values known to be compromised).
//!
//! Operators download Have I Been Pwned's "Pwned Passwords" SHA-1 list with HIBP's downloader;
//! [`import()`] compiles that text into one compact file, and [`BreachedIndex`] maps the file and
//! answers "how often was this password seen in breaches?" without any network access.
//!
//! - [`import`](mod@import): streaming import of the downloader's output, one file of `HASH:COUNT` lines or
//!   a directory of range files of `SUFFIX:COUNT` lines; sorted input, flat memory.
//! - [`index`]: the file format, [`IndexWriter`] (temporary file, fsync, rename) and
//!   [`BreachedIndex`] (read-only mapping, validated on open, binary search in a bucket).
//! - [`range`]: pure helpers for the k-anonymity range API (`GET {base}/range/{PREFIX5}`), for a
//!   caller that asks a self-hosted mirror instead; this crate makes no HTTP requests.
//!
//! Invariants: an index file is only ever written whole under a temporary name and renamed into
//! place; the reader never reads outside the mapped file, whatever the file holds (a foreign,
//! truncated or damaged file is an [`Error`] on open, never a panic); a lookup keeps 64 bits of
//! the SHA-1, so it answers a false "found" with probability at most `n / 2^64`.

mod error;
mod hex;
pub mod import;
pub mod index;
mod line;
pub mod range;

pub use error::Error;
pub use import::{ImportSummary, import, import_dir, import_file};
pub use index::{BreachedIndex, IndexSummary, IndexWriter};

use sha1::{Digest, Sha1};

/// The SHA-1 digest of a password's UTF-8 bytes: the hash the Pwned Passwords list is keyed by.
///
/// The password is hashed exactly as given: no trimming, no Unicode normalization.
pub fn password_sha1(password: &str) -> [u8; 20] {
    Sha1::digest(password.as_bytes()).into()
}
