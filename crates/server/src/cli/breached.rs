//! `portcullis breached`: build and inspect the offline breached-password index (no server, no
//! database): `import` compiles the Pwned Passwords SHA-1 list as HIBP's downloader writes it
//! (one `HASH:COUNT` file or a directory of range files) into the index that `breached.index_path`
//! names; `info` checks an index whole and prints its size.
//!
//! Invariants: the index is written under a temporary name and renamed into place, so a
//! running server's mapped file is never modified (point `breached.index_path` at the new file,
//! or rename it over the old one, and restart); no password is ever read or printed here.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `portcullis breached …`
#[derive(Debug, clap::Subcommand)]
pub enum BreachedCommand {
    /// Compiles a Pwned Passwords SHA-1 list (one `HASH:COUNT` file, or a directory of range
    /// files named by their 5-character prefix) into an index file.
    Import {
        /// The downloaded list: a file or a directory.
        source: PathBuf,
        /// The index file to write (replaced whole when it exists).
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
    },
    /// Reads an index whole (checksum included) and prints its entries and size.
    Info {
        /// The index file.
        index: PathBuf,
    },
}

impl BreachedCommand {
    /// Runs the command; errors go to standard error with exit status 1.
    pub fn run(self) -> ExitCode {
        let mut out = std::io::stdout().lock();
        let outcome = match self {
            BreachedCommand::Import { source, out: dest } => portcullis_breached::import(
                &source, &dest,
            )
            .map(|summary| {
                let index = &summary.index;
                let per_entry = index.file_size as f64 / index.entries.max(1) as f64;
                format!(
                    "{}: {} entries ({} lines read from {} file(s), {} padding line(s) skipped, \
                         {} merged, {} counts capped), {} bytes ({per_entry:.2} per entry)",
                    dest.display(),
                    index.entries,
                    summary.lines,
                    summary.files,
                    summary.padding,
                    index.merged,
                    index.saturated,
                    index.file_size,
                )
            }),
            BreachedCommand::Info { index } => portcullis_breached::BreachedIndex::open(&index)
                .and_then(|opened| {
                    opened.verify()?;
                    Ok(format!(
                        "{}: {} entries, {} bytes, checksum verified",
                        index.display(),
                        opened.len(),
                        opened.file_size()
                    ))
                }),
        };
        match outcome {
            Ok(line) => {
                let _ = writeln!(out, "{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "portcullis: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
