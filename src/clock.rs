//! Time: the `Clock` the application reads (real in production, movable in tests) and RFC 3339
//! formatting. Nothing else in the crate reads the system time for application decisions.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Where the application gets the current time from.
pub trait Clock: Send + Sync + 'static {
    /// Current unix time in milliseconds.
    fn now_ms(&self) -> i64;

    /// Current unix time in seconds.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// The wall clock shifted by an offset that tests move forward, so that expiry, rotation and
/// retention are tested without waiting. It keeps ticking like the real clock in between.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_ms: AtomicI64,
}

impl ShiftedClock {
    /// Move time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

/// Format unix seconds as RFC 3339 (UTC).
pub fn rfc3339(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ts.to_string())
}

/// Format unix milliseconds as RFC 3339 with milliseconds (UTC).
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parse RFC 3339 (or plain unix seconds) into unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_time("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_time("42"), Some(42));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn a_shifted_clock_moves_forward_by_what_it_is_told() {
        let clock = ShiftedClock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(90 * 86_400));
        let after = clock.now();
        assert!((90 * 86_400..90 * 86_400 + 5).contains(&(after - before)));
    }
}
