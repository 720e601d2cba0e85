//! A fixed pool of hashing threads.
//!
//! Why not the runtime's blocking pool: an argon2id hash allocates its 19 MiB working memory on
//! every call. On the same long-lived thread the allocator hands that memory back each time;
//! spread over ever-changing blocking threads it is fresh memory to fault in and zero on every
//! login, which costs a measurable share of the hash itself. Invariant: at most `threads` hashes
//! run at once; a job's result comes back through a one-shot channel, so async threads never
//! block.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use portcullis_engine::hashing::PasswordHashing;

type Job = Box<dyn FnOnce(&dyn PasswordHashing) + Send>;

/// Jobs that may wait per hashing thread before new logins are refused (about 1–3 s of work at
/// default cost, well inside the 60 s a reservation lives).
const QUEUE_PER_THREAD: usize = 64;

/// The pool; dropping it lets the threads end once the queue is empty.
pub(crate) struct HashPool {
    jobs: Mutex<Sender<Job>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl HashPool {
    /// Starts `threads` threads sharing `hasher`.
    pub(crate) fn new(hasher: Arc<dyn PasswordHashing>, threads: usize) -> HashPool {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let (rx, hasher) = (rx.clone(), hasher.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("portcullis-hash-{i}"))
                .spawn(move || work(&rx, hasher.as_ref()));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        HashPool {
            jobs: Mutex::new(tx),
            queued: Arc::new(AtomicUsize::new(0)),
            capacity: threads.max(1) * QUEUE_PER_THREAD,
        }
    }

    /// Whether a new job would find room in the queue.
    pub(crate) fn has_room(&self) -> bool {
        self.queued.load(Ordering::Relaxed) < self.capacity
    }

    /// Runs `job` on a hashing thread and answers its result (`None` if the pool is gone).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&dyn PasswordHashing) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = self.queued.clone();
        queued.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move |hasher| {
            queued.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(job(hasher));
        });
        self.jobs.lock().ok()?.send(job).ok()?;
        rx.await.ok()
    }
}

fn work(jobs: &Mutex<Receiver<Job>>, hasher: &dyn PasswordHashing) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(hasher),
            Err(_) => return, // the pool was dropped
        }
    }
}
