//! In-memory rate limiters (governor). Login throttling is per account and per IP with short
//! replenish periods, so an attacker can slow a real user down for seconds, not lock them out.

use crate::config::Config;
use crate::error::ApiError;
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use std::{hash::Hash, net::IpAddr, num::NonZeroU32, time::Duration};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// All limiters of the process.
pub struct Limits {
    /// Login and code attempts per client IP.
    pub auth_ip: Keyed<IpAddr>,
    /// Login attempts per account (email).
    pub auth_account: Keyed<String>,
    /// Verification-code emails per account.
    pub resend: Keyed<String>,
}

fn quota(burst: u32, replenish_one_per: Duration) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(replenish_one_per)
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

impl Limits {
    pub fn new(_config: &Config) -> Limits {
        Limits {
            auth_ip: RateLimiter::keyed(quota(30, Duration::from_secs(2))),
            auth_account: RateLimiter::keyed(quota(10, Duration::from_secs(6))),
            resend: RateLimiter::keyed(quota(3, Duration::from_secs(60))),
        }
    }

    /// Forget idle keys; called periodically so memory stays bounded.
    pub fn retain_recent(&self) {
        self.auth_ip.retain_recent();
        self.auth_account.retain_recent();
        self.resend.retain_recent();
    }
}

/// Take one cell for `key`, or answer 429 with Retry-After.
pub fn check<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Result<(), ApiError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::rate_limited(wait.as_secs_f64().ceil() as u64)
    })
}
