//! The breached-password index end to end: import of both input forms, lookups, merging and
//! saturation, every refused input, every refused index file, the size of one million entries,
//! replacement by rename, and the range-API helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portcullis_breached::index::{HEADER_LEN, MAGIC, VERSION};
use portcullis_breached::range::{count_in_range_body, prefix_and_suffix};
use portcullis_breached::{BreachedIndex, Error, IndexWriter, import, import_dir, import_file};
use sha1::{Digest, Sha1};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

// ---- helpers ------------------------------------------------------------------------------

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "portcullis-breached-{}-{unique}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn sha1(password: &str) -> [u8; 20] {
    Sha1::digest(password.as_bytes()).into()
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` distinct ascending pseudo-random digests: evenly spaced first 8 bytes with random low
/// bits, random remaining bytes.
fn synthetic_hashes(n: u64, seed: u64) -> impl Iterator<Item = [u8; 20]> {
    let step = u64::MAX / n;
    let mut state = seed;
    (0..n).map(move |i| {
        let key = i * step + splitmix64(&mut state) % step;
        let mut hash = [0u8; 20];
        hash[..8].copy_from_slice(&key.to_be_bytes());
        hash[8..16].copy_from_slice(&splitmix64(&mut state).to_be_bytes());
        hash[16..].copy_from_slice(&splitmix64(&mut state).to_be_bytes()[..4]);
        hash
    })
}

/// Known passwords with counts, and synthetic ones, sorted by hash: the test corpus.
fn corpus() -> Vec<([u8; 20], u64)> {
    let mut entries: Vec<([u8; 20], u64)> = [
        ("password1", 2_418_984),
        ("123456", 37_359_195),
        ("letmein", 98),
        ("qwerty", 100),
        ("hunter2", 254),
        ("Tr0ub4dor&3", 1),
    ]
    .iter()
    .map(|&(password, count)| (sha1(password), count))
    .collect();
    entries.extend((0..3000).map(|i| (sha1(&format!("synthetic-{i}")), 1 + i % 300)));
    entries.sort();
    entries
}

/// The corpus as one downloader file: upper case, CRLF.
fn write_single_file(path: &Path, entries: &[([u8; 20], u64)]) {
    let text: String = entries
        .iter()
        .map(|(hash, count)| format!("{}:{count}\r\n", upper_hex(hash)))
        .collect();
    fs::write(path, text).unwrap();
}

/// The corpus as a directory of range files; some names get `.txt`, some contents lower case
/// and LF line ends, plus two entries that are not range files.
fn write_range_dir(dir: &Path, entries: &[([u8; 20], u64)]) {
    fs::create_dir_all(dir).unwrap();
    let mut files: std::collections::BTreeMap<String, String> = Default::default();
    for (hash, count) in entries {
        let hex = upper_hex(hash);
        let (prefix, suffix) = hex.split_at(5);
        let line = if prefix.ends_with('0') {
            format!("{}:{count}\n", suffix.to_lowercase())
        } else {
            format!("{suffix}:{count}\r\n")
        };
        files.entry(prefix.to_owned()).or_default().push_str(&line);
    }
    for (i, (prefix, text)) in files.iter().enumerate() {
        let name = if i % 2 == 0 {
            format!("{prefix}.txt")
        } else {
            prefix.clone()
        };
        fs::write(dir.join(name), text).unwrap();
    }
    fs::write(dir.join("README.md"), "not a range file").unwrap();
    fs::create_dir_all(dir.join("ABCDE")).unwrap();
}

fn write_index(path: &Path, entries: &[([u8; 20], u64)]) -> BreachedIndex {
    let mut writer = IndexWriter::create(path).unwrap();
    for (hash, count) in entries {
        writer.push(hash, *count).unwrap();
    }
    writer.finish().unwrap();
    BreachedIndex::open(path).unwrap()
}

// ---- import -------------------------------------------------------------------------------

#[test]
fn a_single_file_and_a_range_directory_give_the_same_index() {
    let temp = TempDir::new("same");
    let entries = corpus();
    write_single_file(&temp.path("pwned.txt"), &entries);
    write_range_dir(&temp.path("ranges"), &entries);

    let from_file = import(temp.path("pwned.txt"), temp.path("file.idx")).unwrap();
    let from_dir = import(temp.path("ranges"), temp.path("dir.idx")).unwrap();

    assert_eq!(
        fs::read(temp.path("file.idx")).unwrap(),
        fs::read(temp.path("dir.idx")).unwrap()
    );
    assert_eq!((from_file.files, from_file.ignored_files), (1, 0));
    assert_eq!(from_dir.ignored_files, 2, "README.md and the folder ABCDE");
    assert!(from_dir.files > 1000, "{from_dir:?}");
    for summary in [from_file, from_dir] {
        assert_eq!(summary.lines, entries.len() as u64);
        assert_eq!(summary.padding, 0);
        assert_eq!(summary.index.entries, entries.len() as u64);
        assert_eq!(summary.index.merged, 0);
        assert_eq!(
            summary.index.file_size,
            fs::metadata(temp.path("dir.idx")).unwrap().len()
        );
    }
    // Nothing but the inputs and the two indexes is left in the directory.
    assert_eq!(temp.names(), ["dir.idx", "file.idx", "pwned.txt", "ranges"]);
}

#[test]
fn known_passwords_are_found_with_their_counts_and_others_are_not() {
    let temp = TempDir::new("known");
    write_single_file(&temp.path("pwned.txt"), &corpus());
    import_file(temp.path("pwned.txt"), temp.path("pwned.idx")).unwrap();
    let index = BreachedIndex::open(temp.path("pwned.idx")).unwrap();

    assert_eq!(
        index.count_password("password1"),
        255,
        "2.4 million, saturated"
    );
    assert_eq!(index.count_password("123456"), 255);
    assert_eq!(index.count_password("letmein"), 98);
    assert_eq!(index.count_password("qwerty"), 100);
    assert_eq!(index.count_password("hunter2"), 254);
    assert_eq!(index.count_password("Tr0ub4dor&3"), 1);
    assert_eq!(index.count(&sha1("letmein")), 98);
    for i in 0..3000u64 {
        assert_eq!(
            index.count_password(&format!("synthetic-{i}")),
            (1 + i % 300).min(255) as u32
        );
    }
    for absent in [
        "correct horse battery staple",
        "Password1",
        "password1 ",
        "",
        "synthetic-3000",
    ] {
        assert_eq!(index.count_password(absent), 0, "{absent:?}");
    }
    assert_eq!(index.len(), 3006);
    assert!(!index.is_empty());
    assert_eq!(
        index.file_size(),
        fs::metadata(temp.path("pwned.idx")).unwrap().len()
    );
    index.verify().unwrap();
}

#[test]
fn every_size_and_bucket_layout_answers_like_a_map() {
    let temp = TempDir::new("sizes");
    // 1, 32: one bucket of 9-byte entries; 5,000: 8 bits, 8-byte entries.
    for n in [1u64, 2, 32, 33, 300, 5_000] {
        let hashes: Vec<[u8; 20]> = synthetic_hashes(n, n).collect();
        let entries: Vec<([u8; 20], u64)> = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| (*h, 1 + i as u64 % 254))
            .collect();
        let path = temp.path(&format!("{n}.idx"));
        let index = write_index(&path, &entries);
        assert_eq!(index.len(), n);
        for (hash, count) in &entries {
            assert_eq!(u64::from(index.count(hash)), *count);
        }
        for hash in synthetic_hashes(n, n + 1_000) {
            assert_eq!(index.count(&hash), 0);
        }
        // A digest one below and one above a stored key, and the extremes, are absent.
        for (hash, _) in entries.iter().take(50) {
            let key = u64::from_be_bytes(hash[..8].try_into().unwrap());
            for neighbour in [key.wrapping_sub(1), key.wrapping_add(1)] {
                let mut probe = *hash;
                probe[..8].copy_from_slice(&neighbour.to_be_bytes());
                assert_eq!(index.count(&probe), 0);
            }
        }
        assert_eq!(index.count(&[0; 20]), 0);
        assert_eq!(index.count(&[0xff; 20]), 0);
        index.verify().unwrap();
    }
}

#[test]
fn hashes_sharing_their_first_eight_bytes_are_merged() {
    let temp = TempDir::new("merge");
    let with_prefix = |prefix: u8, rest: u8| {
        let mut hash = [rest; 20];
        hash[..8].copy_from_slice(&[prefix; 8]);
        hash
    };
    let lines = [
        (with_prefix(0x11, 0x00), 3),
        (with_prefix(0x11, 0x01), 4),
        (with_prefix(0x22, 0x00), 200),
        (with_prefix(0x22, 0x05), 100),
        (with_prefix(0x22, 0x09), 1),
        (with_prefix(0x33, 0x00), 9),
    ];
    write_single_file(&temp.path("in.txt"), &lines);
    let summary = import(temp.path("in.txt"), temp.path("out.idx")).unwrap();
    assert_eq!(
        (
            summary.index.entries,
            summary.index.merged,
            summary.index.saturated
        ),
        (3, 3, 1)
    );

    let index = BreachedIndex::open(temp.path("out.idx")).unwrap();
    assert_eq!(index.count(&with_prefix(0x11, 0x00)), 7);
    assert_eq!(index.count(&with_prefix(0x11, 0x01)), 7);
    assert_eq!(
        index.count(&with_prefix(0x11, 0xee)),
        7,
        "only 64 bits are kept"
    );
    assert_eq!(
        index.count(&with_prefix(0x22, 0x00)),
        255,
        "200 + 100 + 1 saturates"
    );
    assert_eq!(index.count(&with_prefix(0x33, 0x00)), 9);
    assert_eq!(index.count(&with_prefix(0x44, 0x00)), 0);
}

#[test]
fn counts_saturate_at_255() {
    let temp = TempDir::new("saturate");
    let counts = [1u64, 100, 254, 255, 256, 1_000_000, u64::MAX];
    let entries: Vec<([u8; 20], u64)> = synthetic_hashes(counts.len() as u64, 7)
        .zip(counts)
        .collect();
    write_single_file(&temp.path("in.txt"), &entries);
    let summary = import(temp.path("in.txt"), temp.path("out.idx")).unwrap();
    assert_eq!(summary.index.saturated, 4, "255 and above");
    let index = BreachedIndex::open(temp.path("out.idx")).unwrap();
    let stored: Vec<u32> = entries.iter().map(|(hash, _)| index.count(hash)).collect();
    assert_eq!(stored, [1, 100, 254, 255, 255, 255, 255]);
}

#[test]
fn padding_blank_lines_and_mixed_case_are_accepted() {
    let temp = TempDir::new("padding");
    let [a, b, c] = [sha1("alpha"), sha1("bravo"), sha1("charlie")].map(|h| upper_hex(&h));
    let mut sorted = [a.clone(), b.clone(), c.clone()];
    sorted.sort();
    let text = format!(
        "\r\n{}:5\r\n\n{}:0\n{}:6\r\n\r\n",
        sorted[0].to_lowercase(),
        sorted[1],
        sorted[2]
    );
    fs::write(temp.path("in.txt"), text).unwrap();
    let summary = import(temp.path("in.txt"), temp.path("out.idx")).unwrap();
    assert_eq!(
        (summary.lines, summary.padding, summary.index.entries),
        (3, 1, 2)
    );
    let index = BreachedIndex::open(temp.path("out.idx")).unwrap();
    let count_of = |hex: &str| index.count(&hex_digest(hex));
    assert_eq!(
        (
            count_of(&sorted[0]),
            count_of(&sorted[1]),
            count_of(&sorted[2])
        ),
        (5, 0, 6)
    );
}

fn hex_digest(hex: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Imports `text` as a single file, expecting an error; the destination must stay absent and
/// no temporary file may be left behind.
fn import_error(text: &str) -> Error {
    let temp = TempDir::new("error");
    fs::write(temp.path("in.txt"), text).unwrap();
    let error = import(temp.path("in.txt"), temp.path("out.idx")).unwrap_err();
    assert_eq!(temp.names(), ["in.txt"], "{error}");
    error
}

#[test]
fn a_line_out_of_order_names_its_file_and_line() {
    let [low, high] = {
        let mut pair = [upper_hex(&sha1("a")), upper_hex(&sha1("b"))];
        pair.sort();
        pair
    };
    let error = import_error(&format!("{low}:1\r\n{high}:2\r\n{low}:3\r\n"));
    assert!(
        matches!(error, Error::OutOfOrder { line: 3, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("in.txt:3: hash is not greater"),
        "{message}"
    );

    // A repeated hash is out of order too; count-0 padding is not checked for order.
    let error = import_error(&format!("{low}:1\n{low}:1\n"));
    assert!(
        matches!(error, Error::OutOfOrder { line: 2, .. }),
        "{error:?}"
    );
    let temp = TempDir::new("padding-order");
    fs::write(temp.path("in.txt"), format!("{high}:1\n{low}:0\n")).unwrap();
    assert_eq!(
        import(temp.path("in.txt"), temp.path("out.idx"))
            .unwrap()
            .padding,
        1
    );
}

#[test]
fn malformed_lines_name_their_file_and_line() {
    let good = upper_hex(&sha1("good"));
    for (bad, reason) in [
        (format!("{}:1", &good[..39]), "found 39 characters"),
        (format!("{good}0:1"), "found 41 characters"),
        (format!("{}Z:1", &good[..39]), "character 40"),
        (good.clone(), "expected HASH:COUNT"),
        (format!("{good}:"), "missing"),
        (format!("{good}:12a"), "not a decimal"),
        (format!("{good}: 1"), "not a decimal"),
        (format!("{good}:99999999999999999999"), "64 bits"),
        (format!("{good}:1 "), "not a decimal"),
        ("x".repeat(300), "longer than 128 bytes"),
    ] {
        let error = import_error(&format!("\r\n{bad}\r\n"));
        let message = error.to_string();
        assert!(
            matches!(error, Error::Malformed { line: 2, .. }),
            "{message}"
        );
        assert!(message.contains("in.txt:2: "), "{message}");
        assert!(message.contains(reason), "{message} should say {reason}");
    }
}

#[test]
fn a_range_file_wants_35_digit_suffixes() {
    let temp = TempDir::new("range-form");
    let hex = upper_hex(&sha1("x"));
    fs::create_dir_all(temp.path("ranges")).unwrap();
    fs::write(temp.path("ranges").join(&hex[..5]), format!("{hex}:1\r\n")).unwrap();
    let error = import(temp.path("ranges"), temp.path("out.idx")).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::Malformed { line: 1, .. }),
        "{message}"
    );
    assert!(
        message.contains(&format!("{}:1: expected 35", &hex[..5])),
        "{message}"
    );
}

#[test]
fn empty_input_is_refused() {
    for text in ["", "\r\n\n", &format!("{}:0\r\n", upper_hex(&sha1("pad")))] {
        let error = import_error(text);
        assert!(matches!(error, Error::Empty { .. }), "{text:?}: {error:?}");
        assert!(error.to_string().contains("nothing to import"), "{error}");
    }
    let temp = TempDir::new("empty-dir");
    fs::create_dir_all(temp.path("ranges")).unwrap();
    let error = import(temp.path("ranges"), temp.path("out.idx")).unwrap_err();
    assert!(matches!(error, Error::Empty { .. }), "{error:?}");
    fs::write(temp.path("ranges").join("notes.txt"), "hello").unwrap();
    let error = import(temp.path("ranges"), temp.path("out.idx")).unwrap_err();
    assert!(matches!(error, Error::Empty { .. }), "{error:?}");
    let error = import(temp.path("missing"), temp.path("out.idx")).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
}

#[test]
fn two_range_files_for_one_prefix_are_refused() {
    let temp = TempDir::new("dup-range");
    let dir = temp.path("ranges");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("0A1B2"), format!("{}:1\n", "0".repeat(35))).unwrap();
    fs::write(dir.join("0a1b2.txt"), format!("{}:1\n", "0".repeat(35))).unwrap();
    let error = import_dir(&dir, temp.path("out.idx")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("range files 0A1B2 and 0a1b2.txt"),
        "{error}"
    );
}

// ---- the writer ---------------------------------------------------------------------------

#[test]
fn the_writer_refuses_descending_hashes_and_no_hashes_and_cleans_up() {
    let temp = TempDir::new("writer");
    let mut writer = IndexWriter::create(temp.path("out.idx")).unwrap();
    writer.push(&[5; 20], 1).unwrap();
    writer.push(&[5; 20], 1).unwrap(); // same 64-bit key: merged
    writer.push(&[6; 20], 0).unwrap(); // padding: ignored, even out of order later
    let error = writer.push(&[4; 20], 1).unwrap_err();
    assert!(matches!(error, Error::KeyOutOfOrder { .. }), "{error:?}");
    assert_eq!(writer.entries(), 1);
    drop(writer);
    assert!(temp.names().is_empty(), "{:?}", temp.names());

    let writer = IndexWriter::create(temp.path("out.idx")).unwrap();
    assert!(matches!(writer.finish(), Err(Error::Empty { .. })));
    assert!(temp.names().is_empty(), "{:?}", temp.names());
}

#[test]
fn an_open_index_keeps_answering_when_a_new_one_is_renamed_over_it() {
    let temp = TempDir::new("replace");
    let path = temp.path("pwned.idx");
    let old = write_index(&path, &[(sha1("old"), 1)]);
    let new = write_index(&path, &[(sha1("new"), 2)]);
    assert_eq!(
        (old.count_password("old"), old.count_password("new")),
        (1, 0)
    );
    assert_eq!(
        (new.count_password("old"), new.count_password("new")),
        (0, 2)
    );
    assert_eq!(temp.names(), ["pwned.idx"]);
}

/// The size figure the format promises: at most 9 bytes per entry, table included (7.26 here).
#[test]
fn one_million_entries_take_at_most_nine_bytes_each() {
    const N: u64 = 1_000_000;
    let temp = TempDir::new("million");
    let path = temp.path("million.idx");
    let mut writer = IndexWriter::create(&path).unwrap();
    for (i, hash) in synthetic_hashes(N, 42).enumerate() {
        writer.push(&hash, 1 + i as u64 % 300).unwrap();
    }
    let summary = writer.finish().unwrap();
    let index = BreachedIndex::open(&path).unwrap();
    assert_eq!((summary.entries, index.len()), (N, N));
    let per_entry = index.file_size() as f64 / index.len() as f64;
    assert!(per_entry <= 9.0, "{per_entry} bytes per entry");
    assert_eq!(index.bucket_bits(), 16);
    assert_eq!(index.file_size(), 64 + 4 * 65_537 + 7 * N);
    for (i, hash) in synthetic_hashes(N, 42).enumerate().step_by(97) {
        assert_eq!(u64::from(index.count(&hash)), (1 + i as u64 % 300).min(255));
    }
    for hash in synthetic_hashes(10_000, 43) {
        assert_eq!(index.count(&hash), 0);
    }
}

// ---- refused index files ------------------------------------------------------------------

/// A small valid index's bytes.
fn valid_index(temp: &TempDir) -> Vec<u8> {
    let entries: Vec<([u8; 20], u64)> = synthetic_hashes(1_000, 9).map(|h| (h, 3)).collect();
    write_index(&temp.path("valid.idx"), &entries);
    fs::read(temp.path("valid.idx")).unwrap()
}

fn open_bytes(temp: &TempDir, bytes: &[u8]) -> Error {
    let path = temp.path("candidate.idx");
    fs::write(&path, bytes).unwrap();
    BreachedIndex::open(&path).unwrap_err()
}

/// Rewrites the header's own check after a field was changed on purpose.
fn reseal(bytes: &mut [u8]) {
    let check: [u8; 20] = Sha1::digest(&bytes[..56]).into();
    bytes[56..64].copy_from_slice(&check[..8]);
}

#[test]
fn truncated_or_extended_files_are_refused() {
    let temp = TempDir::new("truncated");
    let bytes = valid_index(&temp);
    for len in [0, 5, 8, 30, HEADER_LEN - 1] {
        let error = open_bytes(&temp, &bytes[..len]);
        match len {
            0 | 5 => assert!(
                matches!(error, Error::NotAnIndex { .. }),
                "{len}: {error:?}"
            ),
            _ => assert!(matches!(error, Error::Corrupt { .. }), "{len}: {error:?}"),
        }
    }
    for len in [HEADER_LEN, HEADER_LEN + 100, bytes.len() - 1] {
        let error = open_bytes(&temp, &bytes[..len]);
        assert!(matches!(error, Error::Corrupt { .. }), "{len}: {error:?}");
        assert!(
            error.to_string().contains("truncated or extended"),
            "{error}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(open_bytes(&temp, &longer), Error::Corrupt { .. }));
}

#[test]
fn foreign_files_and_other_versions_are_refused() {
    let temp = TempDir::new("foreign");
    let bytes = valid_index(&temp);

    let mut foreign = bytes.clone();
    foreign[..8].copy_from_slice(b"SQLite f");
    let error = open_bytes(&temp, &foreign);
    assert!(matches!(error, Error::NotAnIndex { .. }), "{error:?}");
    assert!(
        error.to_string().contains("not a breached-password index"),
        "{error}"
    );
    let error = open_bytes(&temp, b"3F2A...:12\r\n".repeat(20).as_slice());
    assert!(matches!(error, Error::NotAnIndex { .. }), "{error:?}");

    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    let error = open_bytes(&temp, &newer);
    assert!(
        matches!(error, Error::UnsupportedVersion { found, supported: VERSION, .. } if found == VERSION + 1),
        "{error:?}"
    );
    assert_eq!(&bytes[..8], &MAGIC);
}

#[test]
fn damaged_headers_and_tables_are_refused_and_verify_reads_the_body() {
    let temp = TempDir::new("damaged");
    let bytes = valid_index(&temp);

    // A changed field without a matching check.
    let mut changed = bytes.clone();
    changed[16] ^= 1;
    let error = open_bytes(&temp, &changed);
    assert!(error.to_string().contains("header's check"), "{error}");

    // Consistent-looking headers whose numbers do not fit the file.
    for (at, value) in [(12usize, 40u64), (12, 9), (16, 0), (16, 1 << 33)] {
        let mut changed = bytes.clone();
        if at == 12 {
            changed[at..at + 4].copy_from_slice(&(value as u32).to_le_bytes());
        } else {
            changed[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        reseal(&mut changed);
        let error = open_bytes(&temp, &changed);
        assert!(
            matches!(error, Error::Corrupt { .. }),
            "{at}={value}: {error:?}"
        );
    }

    // A bucket table that decreases, or does not start at 0.
    for at in [HEADER_LEN, HEADER_LEN + 4 * 5] {
        let mut changed = bytes.clone();
        changed[at..at + 4].copy_from_slice(&900u32.to_le_bytes());
        let error = open_bytes(&temp, &changed);
        assert!(error.to_string().contains("bucket table"), "{error}");
    }

    // A flipped count opens (the body is not read on open) but fails `verify`.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    let path = temp.path("flipped.idx");
    fs::write(&path, &flipped).unwrap();
    let index = BreachedIndex::open(&path).unwrap();
    let error = index.verify().unwrap_err();
    assert!(
        error.to_string().contains("SHA-1 does not match"),
        "{error}"
    );
}

// ---- the range API helpers ----------------------------------------------------------------

#[test]
fn prefix_and_suffix_split_the_upper_case_sha1() {
    let (prefix, suffix) = prefix_and_suffix("password1");
    assert_eq!(format!("{prefix}{suffix}"), upper_hex(&sha1("password1")));
    assert_eq!((prefix.len(), suffix.len()), (5, 35));
    // The well-known example of HIBP's documentation: SHA-1("password").
    assert_eq!(
        prefix_and_suffix("password"),
        (
            "5BAA6".to_owned(),
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8".to_owned()
        )
    );
}

#[test]
fn range_bodies_are_read_with_padding_and_crlf() {
    let (_, suffix) = prefix_and_suffix("password");
    let body = format!(
        "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n\
         {}:0\r\n\
         1E4C9B93F3F0682250B6CF8331B7EE68FD7:0\r\n\
         {suffix}:10434004\r\n\
         1E4C9B93F3F0682250B6CF8331B7EE68FD9:3\r\n",
        "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"
    );
    assert_eq!(count_in_range_body(&body, &suffix).unwrap(), 10_434_004);
    assert_eq!(
        count_in_range_body(&body, &suffix.to_lowercase()).unwrap(),
        10_434_004
    );
    assert_eq!(
        count_in_range_body(&body.replace("\r\n", "\n"), &suffix).unwrap(),
        10_434_004
    );
    assert_eq!(
        count_in_range_body(&body, "1E4C9B93F3F0682250B6CF8331B7EE68FD7").unwrap(),
        0
    );
    assert_eq!(count_in_range_body(&body, &"F".repeat(35)).unwrap(), 0);
    assert_eq!(count_in_range_body("", &suffix).unwrap(), 0);
    let only_padding = format!("{suffix}:0\r\n");
    assert_eq!(count_in_range_body(&only_padding, &suffix).unwrap(), 0);
    let huge = format!("{suffix}:99999999999\r\n");
    assert_eq!(count_in_range_body(&huge, &suffix).unwrap(), u32::MAX);
}

#[test]
fn malformed_range_bodies_and_suffixes_are_errors() {
    let (_, suffix) = prefix_and_suffix("password");
    let body = format!("{suffix}:7\r\n<html>rate limited</html>\r\n");
    let error = count_in_range_body(&body, &suffix).unwrap_err();
    assert!(
        matches!(error, Error::RangeBody { line: 2, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("range body line 2: expected HASH:COUNT"),
        "{error}"
    );
    let error = count_in_range_body(&format!("{suffix}0:7"), &suffix).unwrap_err();
    assert!(error.to_string().contains("found 36 characters"), "{error}");
    for bad in [
        "",
        "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
        &"G".repeat(35),
    ] {
        let error = count_in_range_body("", bad).unwrap_err();
        assert!(
            matches!(error, Error::InvalidSuffix { .. }),
            "{bad:?}: {error:?}"
        );
    }
}
