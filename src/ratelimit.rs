//! In-process rate limits for login, registration, password reset and joining, keyed by client
//! address or account. (Behind several instances each instance limits on its own.)

use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::Settings;
use crate::error::AppError;

/// What is being limited.
#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    /// Login attempts.
    Login,
    /// Registrations.
    Register,
    /// Password resets and verification re-sends.
    Reset,
    /// Joins.
    Join,
}

/// The limiters of one server process.
#[derive(Debug)]
pub struct RateLimits {
    login: DefaultKeyedRateLimiter<String>,
    register: DefaultKeyedRateLimiter<String>,
    reset: DefaultKeyedRateLimiter<String>,
    join: DefaultKeyedRateLimiter<String>,
    trust_forwarded_for: bool,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    /// Limiters sized from the settings.
    #[must_use]
    pub fn new(s: &Settings) -> Self {
        Self {
            login: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(s.login_per_minute))),
            register: DefaultKeyedRateLimiter::keyed(Quota::per_hour(nz(s.register_per_hour))),
            reset: DefaultKeyedRateLimiter::keyed(Quota::per_hour(nz(s.reset_per_hour))),
            join: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(s.join_per_minute))),
            trust_forwarded_for: s.trust_forwarded_for,
        }
    }

    /// Counts one request for `key` in `bucket`.
    ///
    /// # Errors
    /// 429 with the seconds to wait once the limit is reached.
    pub fn check(&self, bucket: Bucket, key: &str) -> Result<(), AppError> {
        let limiter = match bucket {
            Bucket::Login => &self.login,
            Bucket::Register => &self.register,
            Bucket::Reset => &self.reset,
            Bucket::Join => &self.join,
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
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

    /// Forgets keys that are back to full quota, to bound memory.
    pub fn shrink(&self) {
        for l in [&self.login, &self.register, &self.reset, &self.join] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
