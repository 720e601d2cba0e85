//! The breached-password index at scale: generates `BREACHED_ENTRIES` synthetic SHA-1 hashes
//! (default 1,000,000) as the downloader's single-file text, imports it, writes the same hashes
//! straight through `IndexWriter`, opens and verifies the index, and times lookups on one thread:
//! a 50/50 mix of present and absent hashes (target ≥ 1,000,000 lookups/s), and whole-password
//! lookups (SHA-1 included).
//!
//! The hashes are generated in ascending order, streaming: entry `i`'s first 8 bytes are
//! `i × step` plus an even random offset below `step`, so 100,000,000 entries need no sort and no
//! memory; an absent probe is a present key plus one (odd, so never stored).
//!
//! Run: `cargo bench -p portcullis-breached` (1 M entries, a few seconds), or
//! `BREACHED_ENTRIES=100000000 cargo bench -p portcullis-breached` (≈ 6.5 GB of temporary files
//! at the peak, the text being most of it; several minutes). `BREACHED_LOOKUPS` sets the number of
//! timed lookups (default 2,000,000); `BREACHED_DIR` the directory for the temporary files
//! (default: the system's temporary directory). Every file is deleted at the end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]
#![allow(clippy::disallowed_methods)] // a benchmark measures wall time

use portcullis_breached::{BreachedIndex, IndexWriter, import_file};
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

const SEED: u64 = 0x5EED_B4EA_C4ED;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text}")),
        Err(_) => default,
    }
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's output function
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The synthetic corpus: entry `i` of `n`, computable in any order.
struct Corpus {
    step: u64,
}

impl Corpus {
    fn new(n: u64) -> Corpus {
        Corpus {
            step: (u64::MAX / n) & !1,
        }
    }

    fn hash(&self, i: u64) -> [u8; 20] {
        let r = mix(SEED ^ i);
        let key = i * self.step + (r % (self.step / 2)) * 2;
        let mut hash = [0u8; 20];
        hash[..8].copy_from_slice(&key.to_be_bytes());
        hash[8..16].copy_from_slice(&mix(r).to_be_bytes());
        hash[16..].copy_from_slice(&mix(r ^ 1).to_be_bytes()[..4]);
        hash
    }

    fn count(&self, i: u64) -> u64 {
        1 + mix(SEED.wrapping_add(i)) % 300
    }

    /// A hash that is not stored: entry `i`'s key plus one.
    fn absent(&self, i: u64) -> [u8; 20] {
        let mut hash = self.hash(i);
        let key = u64::from_be_bytes(hash[..8].try_into().unwrap()) + 1;
        hash[..8].copy_from_slice(&key.to_be_bytes());
        hash
    }
}

/// The temporary directory, removed when dropped (also on a panic).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let n = env_u64("BREACHED_ENTRIES", 1_000_000);
    let lookups = env_u64("BREACHED_LOOKUPS", 2_000_000);
    assert!(
        n > 0 && n <= u64::from(u32::MAX),
        "BREACHED_ENTRIES must be 1 to 2^32 - 1"
    );
    let base = std::env::var_os("BREACHED_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let scratch = Scratch(base.join(format!("portcullis-breached-bench-{}", std::process::id())));
    fs::create_dir_all(&scratch.0).unwrap();
    let corpus = Corpus::new(n);
    println!(
        "breached-password index: {n} entries, {lookups} lookups, in {}",
        scratch.0.display()
    );

    // 1. The downloader's single file, streaming.
    let text = scratch.0.join("pwned.txt");
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&text).unwrap());
    let mut line = [0u8; 64];
    for i in 0..n {
        let len = format_line(&corpus.hash(i), corpus.count(i), &mut line);
        out.write_all(&line[..len]).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
    let text_bytes = fs::metadata(&text).unwrap().len();
    println!(
        "generate text:   {:>8.2} s ({} bytes)",
        started.elapsed().as_secs_f64(),
        text_bytes
    );

    // 2. Import: parse, check order, spool, write, fsync, rename.
    let index_path = scratch.0.join("pwned.idx");
    let started = Instant::now();
    let summary = import_file(&text, &index_path).unwrap();
    let import_secs = started.elapsed().as_secs_f64();
    fs::remove_file(&text).unwrap();
    assert_eq!(summary.index.entries, n);
    println!(
        "import (text):   {import_secs:>8.2} s ({:.2} M lines/s)",
        n as f64 / import_secs / 1e6
    );

    // 3. The same hashes straight into the writer: the format's own cost, without parsing.
    let direct = scratch.0.join("direct.idx");
    let started = Instant::now();
    let mut writer = IndexWriter::create(&direct).unwrap();
    for i in 0..n {
        writer.push(&corpus.hash(i), corpus.count(i)).unwrap();
    }
    writer.finish().unwrap();
    let write_secs = started.elapsed().as_secs_f64();
    assert_eq!(
        fs::read(&direct).unwrap().len() as u64,
        summary.index.file_size
    );
    fs::remove_file(&direct).unwrap();
    println!("write (hashes):  {write_secs:>8.2} s");

    // 4. Open (header, length, table) and verify (the whole body).
    let started = Instant::now();
    let index = BreachedIndex::open(&index_path).unwrap();
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    index.verify().unwrap();
    let verify_secs = started.elapsed().as_secs_f64();
    let size = index.file_size();
    println!(
        "index:           {size} bytes, {:.3} bytes/entry, {} bucket bits; open {open_ms:.1} ms, \
         verify {verify_secs:.2} s",
        size as f64 / n as f64,
        index.bucket_bits()
    );

    // 5. Lookups of digests, one thread, half present and half absent, in random order.
    let mut present = 0u64;
    let queries: Vec<([u8; 20], u32)> = (0..lookups)
        .map(|j| {
            let r = mix(!SEED ^ j);
            let i = (r >> 1) % n;
            if r & 1 == 0 {
                present += 1;
                (corpus.hash(i), corpus.count(i).min(255) as u32)
            } else {
                (corpus.absent(i), 0)
            }
        })
        .collect();
    let started = Instant::now();
    let mut found = 0u64;
    for (hash, _) in &queries {
        found += u64::from(index.count(black_box(hash)) > 0);
    }
    let lookup_secs = started.elapsed().as_secs_f64();
    assert_eq!(found, present, "every present hash found, no absent one");
    assert!(
        queries
            .iter()
            .take(100_000)
            .all(|(hash, count)| index.count(hash) == *count)
    );
    println!(
        "lookups:         {:>8.2} M/s ({:.0} ns each; {present} present, {} absent)",
        lookups as f64 / lookup_secs / 1e6,
        lookup_secs * 1e9 / lookups as f64,
        lookups - present
    );

    // 6. Whole passwords: SHA-1 and lookup (almost all absent).
    let passwords: Vec<String> = (0..lookups.min(1_000_000))
        .map(|j| format!("pw-{j:08}"))
        .collect();
    let started = Instant::now();
    let mut hits = 0u64;
    for password in &passwords {
        hits += u64::from(index.count_password(black_box(password)) > 0);
    }
    let password_secs = started.elapsed().as_secs_f64();
    println!(
        "count_password:  {:>8.2} M/s ({:.0} ns each, SHA-1 included; {hits} hits)",
        passwords.len() as f64 / password_secs / 1e6,
        password_secs * 1e9 / passwords.len() as f64
    );
    println!(
        "| {n} | {size} | {:.2} | {import_secs:.1} s | {:.2} M |",
        size as f64 / n as f64,
        lookups as f64 / lookup_secs / 1e6
    );
    drop(index);
    drop(scratch);
}

/// `HASH:COUNT\r\n` into `out`, upper-case hexadecimal; returns the length.
fn format_line(hash: &[u8; 20], count: u64, out: &mut [u8; 64]) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for (i, b) in hash.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out[40] = b':';
    let count = count.to_string();
    out[41..41 + count.len()].copy_from_slice(count.as_bytes());
    let end = 41 + count.len();
    out[end..end + 2].copy_from_slice(b"\r\n");
    end + 2
}
