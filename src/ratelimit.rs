//! Rate limits for login, registration, password reset and joining, keyed by client address
//! or account. The limits that protect accounts hold across instances: login failures per
//! account, and registrations and resets per address and account, are counted in the database
//! (`limit_hits`, see [`shared`]). The burst limits (login attempts per minute per account and
//! address, and per address) and joins per user stay in each process: they are brakes against
//! one client hammering one instance, a load balancer spreads a client over N instances at most
//! N times as fast, and counting every attempt or join in the database would add a write to
//! the hottest paths. (Two instances checking at the same instant may each let one request
//! past a shared limit.)
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

use std::num::NonZeroU32;

use actix_web::HttpRequest;
use chrono::{DateTime, Duration, Utc};
use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use sea_orm::ConnectionTrait;

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

/// The limiters of one server process.
#[derive(Debug)]
pub struct RateLimits {
    /// Per (account, address) login attempts.
    login: KeyedLimiter,
    /// Per address login attempts over all accounts.
    login_address: KeyedLimiter,
    login_failures_per_hour: u64,
    register_per_hour: u64,
    reset_per_hour: u64,
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
            login_failures_per_hour: u64::from(s.login_failures_per_hour.max(1)),
            register_per_hour: u64::from(s.register_per_hour.max(1)),
            reset_per_hour: u64::from(s.reset_per_hour.max(1)),
            join: keyed(Quota::per_minute(nz(s.join_per_minute))),
            trust_forwarded_for: s.trust_forwarded_for,
        }
    }

    /// Counts one request for `key` in `bucket` (registrations and resets in the database, so
    /// across instances; joins in this process).
    ///
    /// # Errors
    /// 429 with the seconds to wait once the limit is reached; a database failure.
    pub async fn check(
        &self,
        db: &impl ConnectionTrait,
        bucket: Bucket,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let (name, limit) = match bucket {
            Bucket::Join => return self.check_in(&self.join, key),
            Bucket::Register => (shared::REGISTER, self.register_per_hour),
            Bucket::Reset => (shared::RESET, self.reset_per_hour),
        };
        let since = now - Duration::hours(1);
        let (count, oldest) = shared::count(db, name, key, None, since).await?;
        if count >= limit {
            return Err(too_many(oldest, Duration::hours(1), now));
        }
        shared::hit(db, name, key, None, now).await?;
        Ok(())
    }

    /// Counts one login attempt on `account` (the normalised address) from `client`, before
    /// the password is checked.
    ///
    /// # Errors
    /// 429 when the pair or the address is over its per-minute limit, or the account is over
    /// its failure bound and this address has itself failed on it within the hour; a database
    /// failure.
    pub async fn login_attempt(
        &self,
        db: &impl ConnectionTrait,
        account: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.check_in(&self.login_address, client)?;
        self.check_in(&self.login, &format!("{account}\n{client}"))?;
        let since = now - failure_window();
        let (failures, oldest) =
            shared::count(db, shared::LOGIN_FAILURE, account, None, since).await?;
        if failures >= self.login_failures_per_hour {
            let (own, _) =
                shared::count(db, shared::LOGIN_FAILURE, account, Some(client), since).await?;
            if own > 0 {
                return Err(too_many(oldest, failure_window(), now));
            }
        }
        Ok(())
    }

    /// Records a failed login on `account` from `client`.
    ///
    /// # Errors
    /// 429 (instead of the caller's 401) once the account has more failures within the hour
    /// than `login_failures_per_hour`; a database failure.
    pub async fn login_failed(
        &self,
        db: &impl ConnectionTrait,
        account: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let since = now - failure_window();
        let (failures, oldest) =
            shared::count(db, shared::LOGIN_FAILURE, account, None, since).await?;
        shared::hit(db, shared::LOGIN_FAILURE, account, Some(client), now).await?;
        if failures >= self.login_failures_per_hour {
            return Err(too_many(oldest, failure_window(), now));
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

    /// Forgets keys that are back to full quota, to bound memory, and the shared limits' hits
    /// older than their windows.
    ///
    /// # Errors
    /// A database failure.
    pub async fn shrink(
        &self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        for l in [&self.login, &self.login_address, &self.join] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        shared::prune(db, now - failure_window().max(Duration::hours(1))).await
    }
}

/// 429 with the seconds until the oldest counted hit leaves `window`.
fn too_many(oldest: Option<DateTime<Utc>>, window: Duration, now: DateTime<Utc>) -> AppError {
    let wait = oldest.map_or(1, |t| {
        u64::try_from((t + window - now).num_seconds()).unwrap_or(1)
    });
    AppError::TooManyRequests {
        retry_after_secs: wait.max(1),
    }
}

/// The hits of the limits shared across instances, in `limit_hits`.
pub mod shared {
    use chrono::{DateTime, Utc};
    use sea_orm::{
        ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
        QuerySelect,
    };

    use crate::entities::limit_hits;

    /// Failed logins per account (with the address).
    pub const LOGIN_FAILURE: &str = "login_failure";
    /// Registrations per address and per email.
    pub const REGISTER: &str = "register";
    /// Password resets and verification re-sends per address, email and account.
    pub const RESET: &str = "reset";

    /// Hits of `bucket`/`key` (and `address`, when given) after `since`, and the oldest one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn count(
        db: &impl ConnectionTrait,
        bucket: &str,
        key: &str,
        address: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
        let mut q = limit_hits::Entity::find()
            .select_only()
            .column_as(limit_hits::Column::Id.count(), "n")
            .column_as(limit_hits::Column::At.min(), "oldest")
            .filter(limit_hits::Column::Bucket.eq(bucket))
            .filter(limit_hits::Column::Key.eq(key))
            .filter(limit_hits::Column::At.gt(since));
        if let Some(a) = address {
            q = q.filter(limit_hits::Column::Address.eq(a));
        }
        let row: Option<(i64, Option<DateTime<Utc>>)> = q.into_tuple().one(db).await?;
        let (n, oldest) = row.unwrap_or((0, None));
        Ok((u64::try_from(n).unwrap_or(0), oldest))
    }

    /// Counts one hit.
    ///
    /// # Errors
    /// A database failure.
    pub async fn hit(
        db: &impl ConnectionTrait,
        bucket: &str,
        key: &str,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        limit_hits::Entity::insert(limit_hits::ActiveModel {
            bucket: Set(bucket.to_owned()),
            key: Set(key.chars().take(400).collect()),
            address: Set(address.map(|a| a.chars().take(64).collect())),
            at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
        Ok(())
    }

    /// Forgets hits from before `before`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<(), DbErr> {
        limit_hits::Entity::delete_many()
            .filter(limit_hits::Column::At.lt(before))
            .exec(db)
            .await?;
        Ok(())
    }
}
