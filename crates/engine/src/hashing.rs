//! Password hashing behind one small interface ([`PasswordHashing`]): argon2id (PHC strings) and
//! bcrypt (modular-crypt `$2b$` strings), verification of either, re-hash detection, and a dummy
//! hash per algorithm so an unknown user costs the same as a known one.
//!
//! Invariants: hashes carry their parameters, so verification never needs configuration; a
//! dummy hash uses exactly the configured parameters; bcrypt never silently truncates (a password
//! over 72 bytes does not verify); no error message contains a password.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use portcullis_model::{BCRYPT_MAX_BYTES, HashAlgorithm};
use rand_core::{OsRng, RngCore};

/// Hashing failures. None carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The configured parameters are not usable.
    #[error("invalid hashing parameters: {0}")]
    InvalidParams(String),
    /// bcrypt reads only 72 bytes; a longer password is refused rather than truncated.
    #[error("password longer than 72 bytes cannot be hashed with bcrypt")]
    TooLongForBcrypt,
    /// A stored hash is not a hash this server understands.
    #[error("unrecognized password hash format")]
    UnknownFormat,
    /// The hashing library failed.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Cost parameters of both algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    /// argon2id memory, KiB (default 19456 = 19 MiB).
    pub argon2_memory_kib: u32,
    /// argon2id iterations (default 2).
    pub argon2_iterations: u32,
    /// argon2id parallelism (default 1).
    pub argon2_parallelism: u32,
    /// bcrypt cost (default 12).
    pub bcrypt_cost: u32,
}

impl Default for HashParams {
    fn default() -> HashParams {
        HashParams {
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            bcrypt_cost: 12,
        }
    }
}

impl HashParams {
    /// The cheapest parameters the libraries accept, for tests that hash a lot. Never for
    /// production: a test asserts `Default` is what docs/design.md §2.2 says.
    pub fn insecure_for_tests() -> HashParams {
        HashParams {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            bcrypt_cost: 4,
        }
    }
}

/// Whether `password` can be hashed with `algorithm` at all (bcrypt reads at most
/// [`BCRYPT_MAX_BYTES`] bytes): a login re-hashes a stored hash into the policy's algorithm only
/// when this holds, and otherwise keeps the stored one.
pub fn can_hash_with(password: &str, algorithm: HashAlgorithm) -> bool {
    algorithm != HashAlgorithm::Bcrypt || password.len() as u64 <= BCRYPT_MAX_BYTES
}

/// What the login flow and password changes need from a hasher.
pub trait PasswordHashing: Send + Sync {
    /// Hashes `password` with `algorithm` at the configured cost.
    fn hash(&self, algorithm: HashAlgorithm, password: &str) -> Result<String, HashError>;
    /// Whether `password` matches `stored` (either algorithm, whatever its parameters).
    fn verify(&self, password: &str, stored: &str) -> Result<bool, HashError>;
    /// Whether `stored` should be re-hashed: other algorithm or other parameters than configured.
    fn needs_rehash(&self, stored: &str, algorithm: HashAlgorithm) -> bool;
    /// A hash of a random secret with the configured parameters, for unknown users and hidden
    /// locks: verifying against it costs what a real verification costs, and never succeeds.
    fn dummy_hash(&self, algorithm: HashAlgorithm) -> &str;
}

/// A hasher that counts its verifications (real and dummy ones alike), for tests that prove
/// what a path costs in hashes. Clones share one count.
#[derive(Clone, Debug)]
pub struct CountingHasher {
    inner: std::sync::Arc<Hasher>,
    verified: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CountingHasher {
    /// Counts the verifications of `inner`.
    pub fn new(inner: Hasher) -> CountingHasher {
        CountingHasher {
            inner: std::sync::Arc::new(inner),
            verified: std::sync::Arc::default(),
        }
    }

    /// Verifications so far.
    pub fn verifications(&self) -> u64 {
        self.verified.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl PasswordHashing for CountingHasher {
    fn hash(&self, algorithm: HashAlgorithm, password: &str) -> Result<String, HashError> {
        self.inner.hash(algorithm, password)
    }
    fn verify(&self, password: &str, stored: &str) -> Result<bool, HashError> {
        self.verified
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.verify(password, stored)
    }
    fn needs_rehash(&self, stored: &str, algorithm: HashAlgorithm) -> bool {
        self.inner.needs_rehash(stored, algorithm)
    }
    fn dummy_hash(&self, algorithm: HashAlgorithm) -> &str {
        self.inner.dummy_hash(algorithm)
    }
}

/// The production hasher.
#[derive(Debug)]
pub struct Hasher {
    params: HashParams,
    argon2: Argon2<'static>,
    /// Dummy hashes for argon2id and bcrypt, made once when the hasher is built.
    dummies: [String; 2],
}

impl Hasher {
    /// A hasher with these parameters, checked now, with its dummy hashes made now (one hash
    /// per algorithm), so neither can fail or add latency later on the login path.
    pub fn new(params: HashParams) -> Result<Hasher, HashError> {
        let argon_params = Params::new(
            params.argon2_memory_kib,
            params.argon2_iterations,
            params.argon2_parallelism,
            None,
        )
        .map_err(|e| HashError::InvalidParams(e.to_string()))?;
        if !(4..=31).contains(&params.bcrypt_cost) {
            return Err(HashError::InvalidParams(format!(
                "bcrypt cost {} is not in 4..=31",
                params.bcrypt_cost
            )));
        }
        let mut hasher = Hasher {
            params,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
            dummies: [String::new(), String::new()],
        };
        hasher.dummies = [
            hasher.hash(HashAlgorithm::Argon2id, &random_secret())?,
            hasher.hash(HashAlgorithm::Bcrypt, &random_secret())?,
        ];
        Ok(hasher)
    }

    /// The parameters in use.
    pub fn params(&self) -> HashParams {
        self.params
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

thread_local! {
    /// argon2id working memory of this thread, kept between verifications: a fresh 19 MiB per
    /// login would be faulted in and zeroed by the kernel every time, a cost that is not the
    /// hash's and that an attacker does not pay.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies against an argon2id PHC string with the parameters it carries, in this thread's
/// reusable working memory; the comparison of outputs is constant-time.
fn verify_argon2id(password: &[u8], parsed: &PasswordHash<'_>) -> Result<bool, HashError> {
    let params = Params::try_from(parsed).map_err(|_| HashError::UnknownFormat)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|_| HashError::UnknownFormat)?,
        None => Version::V0x13,
    };
    let expected = parsed.hash.ok_or(HashError::UnknownFormat)?;
    let mut salt = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or(HashError::UnknownFormat)?
        .decode_b64(&mut salt)
        .map_err(|_| HashError::UnknownFormat)?;
    let mut out = [0u8; 64];
    let out = out
        .get_mut(..expected.len())
        .ok_or(HashError::UnknownFormat)?;
    let blocks = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, version, params);
    ARGON2_MEMORY
        .with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < blocks {
                memory.resize(blocks, Block::new());
            }
            argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        })
        .map_err(|e| HashError::Internal(e.to_string()))?;
    let actual = Output::new(out).map_err(|e| HashError::Internal(e.to_string()))?;
    Ok(actual == expected)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

impl PasswordHashing for Hasher {
    fn hash(&self, algorithm: HashAlgorithm, password: &str) -> Result<String, HashError> {
        match algorithm {
            HashAlgorithm::Argon2id => {
                let salt = SaltString::generate(&mut OsRng);
                self.argon2
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| HashError::Internal(e.to_string()))
            }
            HashAlgorithm::Bcrypt => {
                if password.len() as u64 > BCRYPT_MAX_BYTES {
                    return Err(HashError::TooLongForBcrypt);
                }
                bcrypt::hash(password, self.params.bcrypt_cost)
                    .map_err(|e| HashError::Internal(e.to_string()))
            }
        }
    }

    fn verify(&self, password: &str, stored: &str) -> Result<bool, HashError> {
        if is_bcrypt(stored) {
            // bcrypt reads 72 bytes: a longer password would match on its first 72 alone.
            if password.len() as u64 > BCRYPT_MAX_BYTES {
                return Ok(false);
            }
            return bcrypt::verify(password, stored).map_err(|_| HashError::UnknownFormat);
        }
        let parsed = PasswordHash::new(stored).map_err(|_| HashError::UnknownFormat)?;
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return Err(HashError::UnknownFormat);
        }
        verify_argon2id(password.as_bytes(), &parsed)
    }

    fn needs_rehash(&self, stored: &str, algorithm: HashAlgorithm) -> bool {
        match algorithm {
            HashAlgorithm::Bcrypt => {
                !is_bcrypt(stored)
                    || stored.get(4..6).and_then(|c| c.parse::<u32>().ok())
                        != Some(self.params.bcrypt_cost)
            }
            HashAlgorithm::Argon2id => {
                let Ok(parsed) = PasswordHash::new(stored) else {
                    return true;
                };
                let Ok(params) = Params::try_from(&parsed) else {
                    return true;
                };
                parsed.algorithm != Algorithm::Argon2id.ident()
                    || parsed.version != Some(Version::V0x13.into())
                    || params.m_cost() != self.params.argon2_memory_kib
                    || params.t_cost() != self.params.argon2_iterations
                    || params.p_cost() != self.params.argon2_parallelism
            }
        }
    }

    fn dummy_hash(&self, algorithm: HashAlgorithm) -> &str {
        match algorithm {
            HashAlgorithm::Argon2id => &self.dummies[0],
            HashAlgorithm::Bcrypt => &self.dummies[1],
        }
    }
}
