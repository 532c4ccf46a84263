//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1), never on
//! the async runtime: a fixed pool of one thread per core, each reusing one 19 MiB work area.
//!
//! Why a pool of its own rather than `spawn_blocking`: every argon2 hash needs 19 MiB. On
//! tokio's blocking pool (up to 512 threads) a login flood ran one hash per thread at once,
//! and glibc gave each thread its own arena; after the first freed mapping raises glibc's
//! dynamic mmap threshold, the 19 MiB areas came from those arenas and stayed resident —
//! 4.6 GB for 32 concurrent wrong-password logins. Here at most one hash per core runs, each
//! in the area its thread allocated once, so memory stays at cores × 19 MiB whatever the load,
//! and the runtime's threads stay free to serve pages. A request waits in a bounded queue for
//! at most [`MAX_WAIT`]; past that, or with the queue full, it is answered 429 with
//! `Retry-After`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::Rng as _;

use crate::error::{AppError, AppResult};

/// The OWASP-recommended memory cost, KiB (one block per KiB).
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// The longest a request waits for a hashing thread before it is told to retry.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
/// Requests waiting per hashing thread, beyond which new ones are refused at once.
const QUEUE_PER_THREAD: usize = 64;
/// The counter of requests refused because the hashing threads were too busy.
pub const REFUSED: &str = "lianming_password_hash_refused_total";
/// What a refused request is told.
const RETRY_AFTER_SECS: u64 = 2;

fn params() -> Params {
    // Constant, valid parameters.
    Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default()
}

enum Work {
    Hash(String),
    /// The password, and the stored PHC string (`None`: an unknown account, checked against a
    /// dummy hash so the answer takes as long).
    Verify(String, Option<String>),
}

struct Job {
    work: Work,
    /// Past this, nobody waits for the answer any more: the job is skipped.
    deadline: Instant,
    answer: tokio::sync::oneshot::Sender<anyhow::Result<Answer>>,
}

enum Answer {
    Hashed(String),
    Verified(bool),
}

struct Pool {
    queue: SyncSender<Job>,
}

/// Jobs queued and not yet taken by a hashing thread (for `/metrics`).
static WAITING: AtomicUsize = AtomicUsize::new(0);
/// Jobs a hashing thread is computing now.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// The hashing pool's load, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct QueueStats {
    /// Hashing threads (one per core).
    pub threads: usize,
    /// Jobs the queue holds at most; past that requests are refused at once.
    pub capacity: usize,
    /// Jobs waiting for a thread.
    pub waiting: usize,
    /// Jobs being hashed now.
    pub in_flight: usize,
}

/// The hashing pool's load now (without starting the pool).
#[must_use]
pub fn queue_stats() -> QueueStats {
    let threads = threads();
    QueueStats {
        threads,
        capacity: threads * QUEUE_PER_THREAD,
        waiting: WAITING.load(Ordering::Relaxed),
        in_flight: IN_FLIGHT.load(Ordering::Relaxed),
    }
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let threads = threads();
    let (queue, jobs) = sync_channel::<Job>(threads * QUEUE_PER_THREAD);
    let jobs = Arc::new(Mutex::new(jobs));
    for i in 0..threads {
        let jobs = Arc::clone(&jobs);
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || worker(&jobs));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a password hashing thread");
        }
    }
    Pool { queue }
});

fn worker(jobs: &Mutex<Receiver<Job>>) {
    // The work area, allocated once and reused by every hash this thread computes.
    let mut memory = vec![Block::default(); params().block_count()];
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        WAITING.fetch_sub(1, Ordering::Relaxed);
        if Instant::now() > job.deadline || job.answer.is_closed() {
            continue;
        }
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let result = match job.work {
            Work::Hash(password) => hash_with(&mut memory, &password).map(Answer::Hashed),
            Work::Verify(password, stored) => Ok(Answer::Verified(verify_with(
                &mut memory,
                &password,
                stored.as_deref(),
            ))),
        };
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        // The requester may have given up meanwhile; nothing to do then.
        let _ = job.answer.send(result);
    }
}

/// Grows `memory` when a stored hash asks for more than the current parameters (an older,
/// stronger setting); the area is then kept at that size.
fn area<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    &mut memory[..needed]
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> anyhow::Result<String> {
    let params = params();
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0_u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, area(memory, &params))
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("{e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (dummy_hash(memory), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The parameters come from the stored hash, so older hashes keep verifying.
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut out = vec![0_u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        area(memory, &params),
    );
    // `Output`'s equality is constant-time.
    let ok = computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected);
    ok && real
}

fn dummy_hash(memory: &mut Vec<Block>) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(d) = DUMMY.get() {
        return d;
    }
    let made = hash_with(memory, "lianming-dummy-password").unwrap_or_default();
    DUMMY.get_or_init(|| made)
}

async fn run(work: Work) -> AppResult<Answer> {
    let busy = || AppError::TooManyRequests {
        retry_after_secs: RETRY_AFTER_SECS,
    };
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job = Job {
        work,
        deadline: Instant::now() + MAX_WAIT,
        answer,
    };
    // Counted before it is queued, so a thread taking it at once never counts below zero.
    WAITING.fetch_add(1, Ordering::Relaxed);
    match POOL.queue.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            WAITING.fetch_sub(1, Ordering::Relaxed);
            metrics::counter!(REFUSED, "reason" => "queue_full").increment(1);
            tracing::warn!("password hashing queue full: request refused");
            return Err(busy());
        }
        Err(TrySendError::Disconnected(_)) => {
            WAITING.fetch_sub(1, Ordering::Relaxed);
            return Err(AppError::Internal(anyhow::anyhow!(
                "no password hashing thread is running"
            )));
        }
    }
    match tokio::time::timeout(MAX_WAIT, answered).await {
        Ok(Ok(result)) => Ok(result?),
        // The job was skipped (its deadline passed in the queue) or timed out here.
        Ok(Err(_)) | Err(_) => {
            metrics::counter!(REFUSED, "reason" => "waited_too_long").increment(1);
            tracing::warn!("password hashing took too long to start: request refused");
            Err(busy())
        }
    }
}

/// Hashes `password` into a PHC string.
///
/// # Errors
/// 429 with `Retry-After` when the hashing threads are too busy to start within [`MAX_WAIT`];
/// an internal failure of the hasher.
pub async fn hash(password: String) -> AppResult<String> {
    match run(Work::Hash(password)).await? {
        Answer::Hashed(phc) => Ok(phc),
        Answer::Verified(_) => Err(AppError::Internal(anyhow::anyhow!("wrong answer"))),
    }
}

/// Checks `password` against a stored PHC string. With no stored hash (unknown account) a dummy
/// hash is checked instead, so the answer takes as long either way.
///
/// # Errors
/// 429 with `Retry-After` when the hashing threads are too busy to start within [`MAX_WAIT`].
pub async fn verify(password: String, stored: Option<String>) -> AppResult<bool> {
    match run(Work::Verify(password, stored)).await? {
        Answer::Verified(ok) => Ok(ok),
        Answer::Hashed(_) => Err(AppError::Internal(anyhow::anyhow!("wrong answer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_stay_compatible_with_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let phc = hash("correct horse".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("correct horse".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong horse".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(!verify("correct horse".into(), None).await.expect("verify"));
        assert!(
            !verify("x".into(), Some("not a hash".into()))
                .await
                .expect("verify")
        );
        // The argon2 crate's own verifier accepts ours, and ours accepts its hashes, including
        // ones with other (older) parameters.
        let parsed = PasswordHash::new(&phc).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32 * 1024, 3, 1, None).expect("params"),
        )
        .hash_password(b"old password")
        .expect("hash")
        .to_string();
        assert!(
            verify("old password".into(), Some(older.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("new password".into(), Some(older))
                .await
                .expect("verify")
        );
    }
}
