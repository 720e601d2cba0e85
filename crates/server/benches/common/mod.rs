//! What the load and scale benches share: the release binary they start on loopback, and the
//! raw argon2id rate their login figures are divided by. Only 127.0.0.1 is ever served.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use portcullis_engine::hashing::{HashParams, Hasher, PasswordHashing};
use portcullis_model::HashAlgorithm;

/// A running server; killed (and its directory, if any, removed) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    dir: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts the release binary on `database_url` at a free loopback port with the bootstrap
/// token `root`, trusting 127.0.0.1 as a proxy, logging warnings only, with `env` added; `dir`
/// (emptied first) is removed when the server is dropped.
///
/// `LOAD_SERVER_CPUS=0` runs the server on those CPUs only, with one hashing thread per CPU
/// listed, so the load generator can be kept off them (`taskset -c 1 cargo bench …`).
pub(crate) fn start_server(
    database_url: &str,
    root: &str,
    env: &[(&str, &str)],
    dir: Option<PathBuf>,
) -> Server {
    if let Some(dir) = &dir {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
    }
    let binary = env!("CARGO_BIN_EXE_portcullis");
    let mut command = match std::env::var("LOAD_SERVER_CPUS") {
        Ok(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpus, binary]).env(
                "PORTCULLIS_HASHING__CONCURRENCY",
                cpus.split(',').count().to_string(),
            );
            c
        }
        Err(_) => Command::new(binary),
    };
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--database-url")
        .arg(database_url)
        .env("PORTCULLIS_BOOTSTRAP_TOKEN", root)
        .env("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1")
        .env("PORTCULLIS_LOG_LEVEL", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    Server {
        child,
        base: format!("http://{addr}"),
        dir,
    }
}

/// Raw argon2id verifications of `password` per second at the server's default cost, on
/// `LOAD_THREADS` threads (default: every core), for `seconds`.
pub(crate) fn raw_hashes_per_second(password: &str, seconds: f64) -> f64 {
    let hasher = Arc::new(Hasher::new(HashParams::default()).unwrap());
    let hash = hasher.hash(HashAlgorithm::Argon2id, password).unwrap();
    let threads = std::env::var("LOAD_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (hasher, hash, password) = (hasher.clone(), hash.clone(), password.to_owned());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while started.elapsed().as_secs_f64() < seconds {
                    assert!(hasher.verify(&password, &hash).unwrap());
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}
