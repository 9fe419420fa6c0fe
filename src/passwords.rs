//! argon2id password hashing with a bounded number of hashes at once and reused memory.
//!
//! One argon2id hash (the crate's defaults: 19 MiB, 2 passes) takes tens of milliseconds of one
//! core and 19 MiB of memory. Unbounded, a burst of logins from many IPs, each within its own
//! rate limit, runs hundreds at once: every core busy, gigabytes allocated, `/healthz` slow. So
//! at most `slots` hashes run at a time (about the core count), each on a memory buffer taken
//! from a pool that never holds more than `slots` buffers; a request that finds every slot taken
//! waits up to `wait` in a queue of at most `queue`, then is turned away (`Busy`, answered 429
//! with `Retry-After`). A hash that started always finishes and returns its slot, even when the
//! client has gone.

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::sync::Semaphore;

/// Every hashing slot stayed taken for the whole wait: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Memory blocks of the largest hash this process computes with reused memory; a stored hash
/// with more is verified with memory of its own (argon2's limit applies).
const POOLED_BLOCKS: usize = Params::DEFAULT_M_COST as usize;

/// The process's password hashing.
pub struct Passwords {
    slots: Arc<Semaphore>,
    queue: Semaphore,
    wait: Duration,
    memory: Mutex<Vec<Vec<Block>>>,
    dummy: OnceLock<String>,
    refused: AtomicU64,
}

impl Passwords {
    /// `slots` hashes at once, at most `queue` more waiting, each for at most `wait`.
    pub fn new(slots: usize, queue: usize, wait: Duration) -> Passwords {
        Passwords {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            queue: Semaphore::new(queue),
            wait,
            memory: Mutex::new(Vec::new()),
            dummy: OnceLock::new(),
            refused: AtomicU64::new(0),
        }
    }

    /// One slot per core, a queue of 16 per slot, and a 2-second wait: at ~50 ms a hash, a
    /// queued login is served well within the wait unless the server is flooded.
    pub fn for_this_machine() -> Passwords {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Passwords::new(cores, cores * 16, Duration::from_secs(2))
    }

    /// A PHC string of `password` under `salt` (16 random bytes).
    pub async fn hash(&self, password: String, salt: [u8; 16]) -> Result<String, Busy> {
        self.run(move |memory| hash_with(memory, password.as_bytes(), &salt))
            .await
    }

    /// Whether `password` matches the PHC string `stored`. With `None` (no such account) it
    /// verifies against a fixed dummy hash, so an unknown account costs the same time and gets
    /// the same answer as a wrong password; the dummy is made once per process, with `salt`.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
        salt: [u8; 16],
    ) -> Result<bool, Busy> {
        let dummy = match stored {
            Some(_) => None,
            None => match self.dummy.get() {
                Some(d) => Some(d.clone()),
                None => {
                    let made = self
                        .run(move |memory| hash_with(memory, b"no such account", &salt))
                        .await?;
                    Some(self.dummy.get_or_init(|| made).clone())
                }
            },
        };
        let (phc, is_dummy) = match (stored, dummy) {
            (Some(phc), _) => (phc, false),
            (None, Some(d)) => (d, true),
            (None, None) => unreachable!("the dummy is made when there is no stored hash"),
        };
        let matched = self
            .run(move |memory| verify_with(memory, password.as_bytes(), &phc))
            .await?;
        Ok(matched && !is_dummy)
    }

    /// Count a request turned away because every slot stayed busy.
    pub fn count_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests turned away since the process started.
    pub fn refusals(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Run `work` on a slot with a pooled buffer, on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let _waiting = self.queue.try_acquire().map_err(|_| Busy)?;
                let acquire = Arc::clone(&self.slots).acquire_owned();
                tokio::time::timeout(self.wait, acquire)
                    .await
                    .map_err(|_| Busy)?
                    .map_err(|_| Busy)?
            }
        };
        let mut memory = self.take_buffer();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The slot and the buffer move into the task: they come back when the hash is done,
        // not when the request is (a client that hangs up does not free a slot early).
        tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            drop(slot);
            let _ = tx.send((result, memory));
        });
        let (result, memory) = rx.await.map_err(|_| {
            // Only a panic inside argon2 drops the sender; its slot was released on unwind.
            tracing::error!("a password hash panicked");
            Busy
        })?;
        self.return_buffer(memory);
        Ok(result)
    }

    fn take_buffer(&self) -> Vec<Block> {
        self.lock_pool()
            .pop()
            .unwrap_or_else(|| vec![Block::default(); POOLED_BLOCKS])
    }

    fn return_buffer(&self, mut memory: Vec<Block>) {
        // A buffer grown for an unusually large stored hash is not kept.
        memory.truncate(POOLED_BLOCKS);
        memory.shrink_to(POOLED_BLOCKS);
        self.lock_pool().push(memory);
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// argon2id with the crate's default parameters over `memory`, as a PHC string.
pub fn hash_with(memory: &mut Vec<Block>, password: &[u8], salt: &[u8]) -> String {
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    fit(memory, &params);
    argon2
        .hash_password_into_with_memory(password, salt, &mut out, memory.as_mut_slice())
        .expect("argon2id with default parameters and a 16-byte salt cannot fail");
    let salt = argon2::password_hash::phc::Salt::new(salt).expect("a 16-byte salt is valid");
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().expect("default parameters encode"),
        salt: Some(salt),
        hash: Some(argon2::password_hash::phc::Output::new(&out).expect("32-byte output")),
    };
    hash.to_string()
}

/// Whether `password` matches the PHC string `phc`, computed over `memory`; the comparison of
/// the outputs is constant-time (`Output`'s equality). Malformed strings never match.
pub fn verify_with(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> bool {
    let Ok(stored) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&stored) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    fit(memory, &params);
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt.as_ref(),
        &mut out,
        memory.as_mut_slice(),
    );
    computed.is_ok()
        && argon2::password_hash::phc::Output::new(&out).is_ok_and(|output| &output == expected)
}

/// Grow `memory` to the blocks `params` needs (never shrinks here).
fn fit(memory: &mut Vec<Block>, params: &Params) {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    const SALT: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher_both_ways() {
        let mut memory = Vec::new();
        let ours = hash_with(&mut memory, b"correct horse battery", &SALT);
        // The reference path allocates its own memory and formats its own PHC string.
        let reference = Argon2::default()
            .hash_password_with_salt(b"correct horse battery", &SALT)
            .unwrap()
            .to_string();
        assert_eq!(ours, reference);
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", ours.as_str())
                .is_ok()
        );
        assert!(verify_with(
            &mut memory,
            b"correct horse battery",
            &reference
        ));
    }

    #[test]
    fn only_the_right_password_verifies_and_garbage_never_does() {
        let mut memory = Vec::new();
        let phc = hash_with(&mut memory, b"correct horse battery", &SALT);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_with(&mut memory, b"correct horse battery", &phc));
        assert!(!verify_with(&mut memory, b"correct horse batterx", &phc));
        assert!(!verify_with(&mut memory, b"x", "not a phc string"));
        assert!(!verify_with(
            &mut memory,
            b"x",
            "$argon2id$v=19$m=19456,t=2,p=1$"
        ));
        assert!(!verify_with(
            &mut memory,
            b"x",
            "$argon2id$v=99$m=8,t=1,p=1$c2FsdHNhbHQ$AAAA"
        ));
    }

    #[test]
    fn a_hash_with_other_parameters_verifies_with_its_own() {
        // A smaller stored cost (e.g. from an older release) is read from the PHC string.
        let params = Params::new(1024, 1, 1, None).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(b"pw", &SALT)
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, b"pw", &phc));
        assert!(!verify_with(&mut memory, b"pv", &phc));
    }

    #[tokio::test]
    async fn the_dummy_hash_is_made_once_and_never_matches() {
        let p = Passwords::new(1, 4, Duration::from_secs(5));
        assert!(!p.verify("".into(), None, SALT).await.unwrap());
        let dummy = p.dummy.get().unwrap().clone();
        assert!(
            !p.verify("no such account".into(), None, SALT)
                .await
                .unwrap()
        );
        assert_eq!(p.dummy.get().unwrap(), &dummy, "reused, not re-hashed");
    }

    // Paused time: the 300 ms wait passes as soon as nothing else can run.
    #[tokio::test(start_paused = true)]
    async fn hashes_beyond_the_slots_and_the_queue_are_turned_away_and_memory_is_reused() {
        let p = Arc::new(Passwords::new(1, 1, Duration::from_millis(300)));
        // Hold the only slot, as a long hash would.
        let held = Arc::clone(&p.slots).try_acquire_owned().unwrap();
        let waiting = tokio::spawn({
            let p = Arc::clone(&p);
            async move { p.hash("queued".into(), SALT).await }
        });
        tokio::task::yield_now().await;
        while p.queue.available_permits() != 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            p.hash("third".into(), SALT).await,
            Err(Busy),
            "the queue is full: refused at once"
        );
        assert_eq!(
            waiting.await.unwrap(),
            Err(Busy),
            "waited 300 ms, then refused"
        );
        drop(held);
        let phc = p.hash("now".into(), SALT).await.unwrap();
        assert!(
            p.verify("now".into(), Some(phc.clone()), SALT)
                .await
                .unwrap()
        );
        assert!(!p.verify("not".into(), Some(phc), SALT).await.unwrap());
        assert_eq!(p.lock_pool().len(), 1, "one slot, so one buffer, reused");
    }
}
