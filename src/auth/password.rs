//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1), always off
//! the async runtime.

use std::sync::OnceLock;

use anyhow::Context as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash: PasswordHash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(hash.to_string())
}

/// Hashes `password` into a PHC string.
///
/// # Errors
/// Only on an internal failure of the hasher or the blocking pool.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .context("password hashing task")?
}

/// Checks `password` against a stored PHC string. With no stored hash (unknown account) a dummy
/// hash is checked instead, so the answer takes as long either way.
///
/// # Errors
/// Only on an internal failure of the blocking pool.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash();
        let (phc, real) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (dummy, false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return Ok(false);
        };
        // The parameters come from the stored hash, so older hashes keep verifying.
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && real)
    })
    .await
    .context("password verification task")?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("lianming-dummy-password").unwrap_or_default())
}
