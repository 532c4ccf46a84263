//! In-process rate limits for login, registration, password reset and joining, keyed by client
//! address or account. (Behind several instances each instance limits on its own.)
//!
//! Login is limited so that guessing stops without locking the owner out:
//! - per (account, client address), every attempt counts, `login_per_minute`;
//! - per client address over all accounts, every attempt counts, ten times that (one address
//!   spraying many accounts; a shared NAT with a few people logging in is not refused);
//! - per account over all addresses, only *failures* count, `login_failures_per_hour` in a
//!   sliding hour: past it every further wrong password answers 429, and an address that has
//!   itself failed on the account in that hour is refused before its password is checked. An
//!   address without failures of its own still gets its password checked, so the owner with
//!   the right password is never refused because of other addresses' failures; a distributed
//!   guesser gets one guess per fresh address per hour instead of `login_per_minute`.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};

use actix_web::HttpRequest;
use chrono::{DateTime, Duration, Utc};
use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::SharedClock;

use crate::config::Settings;
use crate::error::AppError;

/// What is being limited.
#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    /// Registrations.
    Register,
    /// Password resets and verification re-sends.
    Reset,
    /// Joins.
    Join,
}

/// The application clock as the limiters' clock, so tests that move it (or hold it still) get
/// the same answers however slowly the machine runs. Time since the Unix epoch; governor's
/// arithmetic saturates, so a wall clock stepping back only limits a little longer.
#[derive(Debug, Clone)]
pub struct LimiterClock(SharedClock);

impl governor::clock::Clock for LimiterClock {
    type Instant = std::time::Duration;

    fn now(&self) -> std::time::Duration {
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or(0);
        std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}

/// A keyed limiter on the application clock.
type KeyedLimiter = RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    LimiterClock,
    NoOpMiddleware<std::time::Duration>,
>;

/// How many times `login_per_minute` one address may try over all accounts.
const LOGIN_PER_ADDRESS_FACTOR: u32 = 10;

/// The window of the per-account failure bound.
fn failure_window() -> Duration {
    Duration::hours(1)
}

/// Failed logins of the last hour, on the application clock (so tests can move it).
#[derive(Debug, Default)]
struct FailureLog {
    /// Account → times of its most recent failures, oldest first, at most `bound + 1`.
    by_account: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// (account, address) → time of the pair's latest failure.
    by_pair: HashMap<(String, String), DateTime<Utc>>,
}

impl FailureLog {
    /// The account's failures within the window, after forgetting older ones.
    fn recent(&mut self, account: &str, now: DateTime<Utc>) -> usize {
        let Some(times) = self.by_account.get_mut(account) else {
            return 0;
        };
        while times.front().is_some_and(|t| *t <= now - failure_window()) {
            times.pop_front();
        }
        times.len()
    }

    /// Seconds until the account's oldest remembered failure leaves the window.
    fn wait_secs(&self, account: &str, now: DateTime<Utc>) -> u64 {
        self.by_account
            .get(account)
            .and_then(|t| t.front())
            .map_or(1, |oldest| {
                u64::try_from((*oldest + failure_window() - now).num_seconds()).unwrap_or(1)
            })
            .max(1)
    }
}

/// The limiters of one server process.
#[derive(Debug)]
pub struct RateLimits {
    /// Per (account, address) login attempts.
    login: KeyedLimiter,
    /// Per address login attempts over all accounts.
    login_address: KeyedLimiter,
    login_failures: Mutex<FailureLog>,
    login_failures_per_hour: usize,
    register: KeyedLimiter,
    reset: KeyedLimiter,
    join: KeyedLimiter,
    trust_forwarded_for: bool,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    /// Limiters sized from the settings, on the application clock.
    #[must_use]
    pub fn new(s: &Settings, clock: SharedClock) -> Self {
        let clock = LimiterClock(clock);
        let keyed = |quota: Quota| {
            RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
        };
        Self {
            login: keyed(Quota::per_minute(nz(s.login_per_minute))),
            login_address: keyed(Quota::per_minute(nz(s
                .login_per_minute
                .saturating_mul(LOGIN_PER_ADDRESS_FACTOR)))),
            login_failures: Mutex::new(FailureLog::default()),
            login_failures_per_hour: usize::try_from(s.login_failures_per_hour.max(1))
                .unwrap_or(usize::MAX),
            register: keyed(Quota::per_hour(nz(s.register_per_hour))),
            reset: keyed(Quota::per_hour(nz(s.reset_per_hour))),
            join: keyed(Quota::per_minute(nz(s.join_per_minute))),
            trust_forwarded_for: s.trust_forwarded_for,
        }
    }

    /// Counts one request for `key` in `bucket`.
    ///
    /// # Errors
    /// 429 with the seconds to wait once the limit is reached.
    pub fn check(&self, bucket: Bucket, key: &str) -> Result<(), AppError> {
        let limiter = match bucket {
            Bucket::Register => &self.register,
            Bucket::Reset => &self.reset,
            Bucket::Join => &self.join,
        };
        self.check_in(limiter, key)
    }

    /// Counts one login attempt on `account` (the normalised address) from `client`, before
    /// the password is checked.
    ///
    /// # Errors
    /// 429 when the pair or the address is over its per-minute limit, or the account is over
    /// its failure bound and this address has itself failed on it within the hour.
    pub fn login_attempt(
        &self,
        account: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.check_in(&self.login_address, client)?;
        self.check_in(&self.login, &format!("{account}\n{client}"))?;
        let mut log = self
            .login_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if log.recent(account, now) >= self.login_failures_per_hour {
            let pair = (account.to_owned(), client.to_owned());
            if log
                .by_pair
                .get(&pair)
                .is_some_and(|t| *t > now - failure_window())
            {
                return Err(AppError::TooManyRequests {
                    retry_after_secs: log.wait_secs(account, now),
                });
            }
        }
        Ok(())
    }

    /// Records a failed login on `account` from `client`.
    ///
    /// # Errors
    /// 429 (instead of the caller's 401) once the account has more failures within the hour
    /// than `login_failures_per_hour`.
    pub fn login_failed(
        &self,
        account: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let mut log = self
            .login_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = log.recent(account, now);
        let times = log.by_account.entry(account.to_owned()).or_default();
        times.push_back(now);
        // Only whether the bound is passed matters, so more than `bound + 1` need not be kept.
        while times.len() > self.login_failures_per_hour.saturating_add(1) {
            times.pop_front();
        }
        log.by_pair
            .insert((account.to_owned(), client.to_owned()), now);
        if count >= self.login_failures_per_hour {
            return Err(AppError::TooManyRequests {
                retry_after_secs: log.wait_secs(account, now),
            });
        }
        Ok(())
    }

    fn check_in(&self, limiter: &KeyedLimiter, key: &str) -> Result<(), AppError> {
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            AppError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// The client address used as a rate-limit key.
    #[must_use]
    pub fn client_key(&self, req: &HttpRequest) -> String {
        let info = req.connection_info();
        let addr = if self.trust_forwarded_for {
            info.realip_remote_addr()
        } else {
            info.peer_addr()
        };
        let addr = addr.unwrap_or("unknown");
        // Strip the port so every connection of one host counts together.
        match addr.parse::<std::net::SocketAddr>() {
            Ok(sa) => sa.ip().to_string(),
            Err(_) => addr.to_owned(),
        }
    }

    /// Forgets keys that are back to full quota and failures older than the window, to bound
    /// memory.
    pub fn shrink(&self, now: DateTime<Utc>) {
        for l in [
            &self.login,
            &self.login_address,
            &self.register,
            &self.reset,
            &self.join,
        ] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        let mut log = self
            .login_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let cutoff = now - failure_window();
        log.by_account.retain(|_, times| {
            times.retain(|t| *t > cutoff);
            !times.is_empty()
        });
        log.by_pair.retain(|_, t| *t > cutoff);
        log.by_account.shrink_to_fit();
        log.by_pair.shrink_to_fit();
    }
}
