//! In-memory rate limiters (governor). Login throttling is per account and per IP with short
//! replenish periods, so an attacker can slow a real user down for seconds, not lock them out.
//! Webhooks: failing requests count against their client IP (and an IP over its budget is turned
//! away before verification); accepted ones count against their merchant.

use crate::config::{Config, Rate};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// A request refused by a limiter: retry after this many seconds (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after_secs: u64,
}

impl RateLimited {
    fn after(wait: Duration) -> RateLimited {
        RateLimited {
            retry_after_secs: (wait.as_secs_f64().ceil() as u64).max(1),
        }
    }
}

/// All limiters of the process.
pub struct Limits {
    /// Login and code attempts per client IP.
    pub auth_ip: Keyed<IpAddr>,
    /// Login attempts per account (email).
    pub auth_account: Keyed<String>,
    /// Verification-code emails per account.
    pub resend: Keyed<String>,
    /// Accepted webhooks per merchant (`--merchant-rate`).
    pub merchant: Keyed<String>,
    /// Failing webhook requests per client IP (`--ip-rate`).
    pub ip_failures: Keyed<IpAddr>,
    /// IPs over their failure budget, until when.
    penalty: Mutex<HashMap<IpAddr, Instant>>,
}

fn quota(burst: u32, replenish_one_per: Duration) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(replenish_one_per)
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

/// A configured rate as a quota whose burst is one second's worth.
pub fn rate_quota(rate: Rate) -> Quota {
    let per_request = rate.per / rate.count.get();
    let per_second = (rate.count.get() as f64 / rate.per.as_secs_f64()).ceil() as u32;
    quota(per_second, per_request.max(Duration::from_nanos(1)))
}

impl Limits {
    pub fn new(config: &Config) -> Limits {
        Limits {
            auth_ip: RateLimiter::keyed(quota(30, Duration::from_secs(2))),
            auth_account: RateLimiter::keyed(quota(10, Duration::from_secs(6))),
            resend: RateLimiter::keyed(quota(3, Duration::from_secs(60))),
            merchant: RateLimiter::keyed(rate_quota(config.merchant_rate)),
            ip_failures: RateLimiter::keyed(rate_quota(config.ip_rate)),
            penalty: Mutex::new(HashMap::new()),
        }
    }

    /// Forget idle keys; called periodically so memory stays bounded.
    pub fn retain_recent(&self) {
        self.auth_ip.retain_recent();
        self.auth_account.retain_recent();
        self.resend.retain_recent();
        self.merchant.retain_recent();
        self.ip_failures.retain_recent();
        let now = Instant::now();
        self.penalty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
    }

    /// Whether `ip` is currently over its failure budget (checked before verification).
    pub fn ip_blocked(&self, ip: IpAddr) -> Result<(), RateLimited> {
        let penalty = self.penalty.lock().unwrap_or_else(|p| p.into_inner());
        match penalty.get(&ip) {
            Some(until) if *until > Instant::now() => {
                Err(RateLimited::after(until.duration_since(Instant::now())))
            }
            _ => Ok(()),
        }
    }

    /// Count a failing request from `ip`; past the budget the IP is turned away for a while and
    /// this request is answered 429 instead of its own error.
    pub fn ip_failed(&self, ip: IpAddr) -> Result<(), RateLimited> {
        if let Err(not_until) = self.ip_failures.check_key(&ip) {
            let wait = not_until
                .wait_time_from(DefaultClock::default().now())
                .max(Duration::from_secs(1));
            self.penalty
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ip, Instant::now() + wait);
            return Err(RateLimited::after(wait));
        }
        Ok(())
    }
}

/// Take one cell for `key`, or say how long to wait.
pub fn check<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Result<(), RateLimited> {
    limiter.check_key(key).map_err(|not_until| {
        RateLimited::after(not_until.wait_time_from(DefaultClock::default().now()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_rate;

    #[test]
    fn a_rate_allows_one_seconds_worth_as_burst() {
        let q = rate_quota(parse_rate("100/s").unwrap());
        assert_eq!(q.burst_size().get(), 100);
        assert_eq!(q.replenish_interval(), Duration::from_millis(10));
        let q = rate_quota(parse_rate("6000/m").unwrap());
        assert_eq!(q.burst_size().get(), 100);
        let q = rate_quota(parse_rate("10/h").unwrap());
        assert_eq!(q.burst_size().get(), 1);
    }
}
