//! Wall-clock helpers: the one place that reads the system time, and RFC 3339 formatting.

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Current unix time in seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Current unix time in milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
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
    #[test]
    fn times_round_trip() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::parse_time("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(super::parse_time("42"), Some(42));
        assert_eq!(super::parse_time("yesterday"), None);
    }
}
