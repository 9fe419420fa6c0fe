//! Request metrics kept in memory (no write per request) and rolled up into `metrics_hourly` by
//! a background job, so that health and stats survive restarts.

pub mod deliveries;
pub mod process;
pub mod prometheus;

use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    sync::{Mutex, atomic::AtomicU64},
    time::Duration,
};

/// Upper bounds (µs) of the response-time histogram buckets; the last bucket is +Inf.
pub const LATENCY_BOUNDS_US: [u64; 14] = [
    250, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    5_000_000, 10_000_000,
];

/// How a webhook request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Duplicate,
    /// Rejected with this error code.
    Rejected(&'static str),
}

/// Counters of one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub received: u64,
    pub created: u64,
    pub updated: u64,
    pub duplicates: u64,
    pub rate_limited: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Counts per `LATENCY_BOUNDS_US` bucket plus one overflow bucket.
    pub latency: Vec<u64>,
    pub latency_sum_us: u64,
    /// Unix seconds of the last request.
    pub last_received_at: Option<i64>,
}

impl Bucket {
    fn record(&mut self, outcome: Outcome, elapsed: Duration, now: i64) {
        self.received += 1;
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Rejected(code) => {
                if code == "rate_limited" {
                    self.rate_limited += 1;
                }
                *self.rejected.entry(code.to_string()).or_default() += 1;
            }
        }
        let us = elapsed.as_micros() as u64;
        if self.latency.len() != LATENCY_BOUNDS_US.len() + 1 {
            self.latency.resize(LATENCY_BOUNDS_US.len() + 1, 0);
        }
        let i = LATENCY_BOUNDS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(LATENCY_BOUNDS_US.len());
        self.latency[i] += 1;
        self.latency_sum_us += us;
        self.last_received_at = Some(now);
    }

    /// Rejections of the webhook itself: every one is listed for admins, as a stored event or a
    /// refusal before authentication (see `TURNED_AWAY` for the others).
    pub fn webhook_rejections(&self) -> u64 {
        self.rejected
            .iter()
            .filter(|(code, _)| !TURNED_AWAY.contains(&code.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests turned away before their webhook was judged: over a limit, or hookgate's own
    /// failure.
    pub fn turned_away(&self) -> u64 {
        TURNED_AWAY
            .iter()
            .filter_map(|code| self.rejected.get(*code))
            .sum()
    }

    /// Requests answered 2xx (new, updated, duplicate).
    pub fn succeeded(&self) -> u64 {
        self.created + self.updated + self.duplicates
    }

    /// Add another bucket's counts to this one.
    pub fn merge(&mut self, other: &Bucket) {
        self.received += other.received;
        self.created += other.created;
        self.updated += other.updated;
        self.duplicates += other.duplicates;
        self.rate_limited += other.rate_limited;
        for (k, v) in &other.rejected {
            *self.rejected.entry(k.clone()).or_default() += v;
        }
        if self.latency.len() < other.latency.len() {
            self.latency.resize(other.latency.len(), 0);
        }
        for (i, v) in other.latency.iter().enumerate() {
            self.latency[i] += v;
        }
        self.latency_sum_us += other.latency_sum_us;
        self.last_received_at = self.last_received_at.max(other.last_received_at);
    }

    /// Estimated quantile (0..1) of response time in ms, interpolated inside the histogram bucket.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.latency.iter().enumerate() {
            if *count > 0 && seen + count >= rank {
                let lower = if i == 0 { 0 } else { LATENCY_BOUNDS_US[i - 1] };
                let upper = LATENCY_BOUNDS_US.get(i).copied().unwrap_or(lower * 2);
                let within = (rank - seen) as f64 / *count as f64;
                return Some((lower as f64 + within * (upper - lower) as f64) / 1000.0);
            }
            seen += count;
        }
        None
    }

    /// Mean response time in ms.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.received > 0).then(|| self.latency_sum_us as f64 / self.received as f64 / 1000.0)
    }
}

/// Codes of requests turned away without judging the webhook: rate limits (counted, never
/// recorded one by one) and storage or internal failures (which cannot be recorded).
pub const TURNED_AWAY: [&str; 3] = ["rate_limited", "storage_unavailable", "internal_error"];

/// Start of the hour containing `ts`.
pub fn hour_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(3600)
}

#[derive(Default)]
struct State {
    hour: i64,
    current: Bucket,
    /// Finished hours not yet written to the database.
    unflushed: Vec<(i64, Bucket)>,
    /// Since process start, for Prometheus counters.
    total: Bucket,
}

/// The process's webhook metrics.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
    pub jobs: JobStats,
    /// Source requests since start, by (source slug, outcome, reason).
    sources: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    /// The same per hour (start of the hour, slug, reason), the last 25 hours.
    source_hours: Mutex<BTreeMap<(i64, String, &'static str), u64>>,
    /// Outbound deliveries since start.
    pub deliveries: deliveries::DeliveryMetrics,
}

/// What the background jobs that write have done since the process started.
#[derive(Default)]
pub struct JobStats {
    pub retention_runs: AtomicU64,
    pub rollup_runs: AtomicU64,
    pub deleted_events: AtomicU64,
    pub deleted_emails: AtomicU64,
}

impl Metrics {
    /// Continue the current hour from what an earlier process rolled up.
    pub fn resume(&self, hour: i64, bucket: Bucket) {
        let mut s = self.lock();
        if s.hour == 0 || s.hour == hour {
            let mut resumed = bucket;
            resumed.merge(&s.current);
            s.current = resumed;
            s.hour = hour;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere while counting; the counts stay usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count one request to a source: `outcome` accepted or rejected, `reason` accepted,
    /// duplicate, rate_limited or the refusal's code. Sources are few (admins create them), so
    /// the series are bounded.
    pub fn record_source(
        &self,
        source: &str,
        outcome: &'static str,
        reason: &'static str,
        now: i64,
    ) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        *sources
            .entry((source.to_string(), outcome, reason))
            .or_default() += 1;
        drop(sources);
        let hour = hour_of(now);
        let mut hours = self.source_hours.lock().unwrap_or_else(|p| p.into_inner());
        *hours.entry((hour, source.to_string(), reason)).or_default() += 1;
        let oldest = hour - 24 * 3600;
        if hours
            .first_key_value()
            .is_some_and(|((h, _, _), _)| *h < oldest)
        {
            hours.retain(|(h, _, _), _| *h >= oldest);
        }
    }

    /// A source's counts per hour and reason (the hours still kept: the last 24).
    pub fn source_hours(&self, source: &str) -> BTreeMap<i64, BTreeMap<&'static str, u64>> {
        let hours = self.source_hours.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: BTreeMap<i64, BTreeMap<&'static str, u64>> = BTreeMap::new();
        for ((h, s, reason), n) in hours.iter() {
            if s == source {
                *out.entry(*h).or_default().entry(*reason).or_default() += n;
            }
        }
        out
    }

    /// A source's counts by reason over the 24 hours before `now` (since this process started).
    pub fn source_day(&self, source: &str, now: i64) -> BTreeMap<&'static str, u64> {
        let from = hour_of(now) - 23 * 3600;
        let hours = self.source_hours.lock().unwrap_or_else(|p| p.into_inner());
        let mut by_reason = BTreeMap::new();
        for ((h, s, reason), n) in hours.iter() {
            if *h >= from && s == source {
                *by_reason.entry(*reason).or_default() += n;
            }
        }
        by_reason
    }

    /// The source counters, for Prometheus.
    pub fn source_totals(&self) -> Vec<((String, &'static str, &'static str), u64)> {
        let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        sources.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Count one request.
    pub fn record(&self, outcome: Outcome, elapsed: Duration, now: i64) {
        let hour = hour_of(now);
        let mut s = self.lock();
        if s.hour != hour {
            if s.hour != 0 && s.current.received > 0 {
                let finished = (s.hour, std::mem::take(&mut s.current));
                s.unflushed.push(finished);
            }
            s.current = Bucket::default();
            s.hour = hour;
        }
        s.current.record(outcome, elapsed, now);
        s.total.record(outcome, elapsed, now);
    }

    /// Hours to write to the database: finished ones and the current one.
    pub fn take_rollup(&self) -> Vec<(i64, Bucket)> {
        let mut s = self.lock();
        let mut out = std::mem::take(&mut s.unflushed);
        if s.hour != 0 {
            out.push((s.hour, s.current.clone()));
        }
        out
    }

    /// Put back hours whose roll-up failed, to retry later.
    pub fn restore_unflushed(&self, hours: Vec<(i64, Bucket)>) {
        let mut s = self.lock();
        let current = s.hour;
        s.unflushed
            .extend(hours.into_iter().filter(|(h, _)| *h != current));
    }

    /// In-memory hours (current and unflushed), which win over the database's copy.
    pub fn live_hours(&self) -> Vec<(i64, Bucket)> {
        let s = self.lock();
        let mut out = s.unflushed.clone();
        if s.hour != 0 {
            out.push((s.hour, s.current.clone()));
        }
        out
    }

    /// Counters since process start.
    pub fn totals(&self) -> Bucket {
        self.lock().total.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_by_kind_and_reason() {
        let m = Metrics::default();
        let t = 7200 + 10;
        m.record(Outcome::Created, Duration::from_millis(1), t);
        m.record(Outcome::Duplicate, Duration::from_millis(1), t);
        m.record(
            Outcome::Rejected("rate_limited"),
            Duration::from_millis(1),
            t,
        );
        m.record(
            Outcome::Rejected("invalid_signature"),
            Duration::from_millis(1),
            t,
        );
        let b = m.totals();
        assert_eq!(
            (b.received, b.created, b.duplicates, b.rate_limited),
            (4, 1, 1, 1)
        );
        assert_eq!(b.rejected["invalid_signature"], 1);
        assert_eq!(b.succeeded(), 2);
        assert_eq!(b.last_received_at, Some(t));
    }

    #[test]
    fn a_new_hour_moves_the_old_one_to_the_rollup() {
        let m = Metrics::default();
        m.record(Outcome::Created, Duration::from_millis(1), 3600 + 5);
        m.record(Outcome::Created, Duration::from_millis(1), 7200 + 5);
        let hours: Vec<i64> = m.take_rollup().into_iter().map(|(h, _)| h).collect();
        assert_eq!(hours, [3600, 7200]);
        assert_eq!(
            m.take_rollup().len(),
            1,
            "finished hours are handed out once"
        );
    }

    #[test]
    fn quantiles_come_from_the_histogram() {
        let mut b = Bucket::default();
        for _ in 0..95 {
            b.record(Outcome::Created, Duration::from_micros(800), 0);
        }
        for _ in 0..5 {
            b.record(Outcome::Created, Duration::from_secs(7), 0);
        }
        let p50 = b.quantile_ms(0.5).unwrap();
        assert!((0.5..=1.0).contains(&p50), "{p50}");
        let p95 = b.quantile_ms(0.95).unwrap();
        assert!(p95 <= 1.0, "{p95}");
        let p99 = b.quantile_ms(0.99).unwrap();
        assert!((5000.0..=10000.0).contains(&p99), "{p99}");
        assert_eq!(Bucket::default().quantile_ms(0.5), None);
    }

    #[test]
    fn resuming_adds_to_what_was_rolled_up() {
        let m = Metrics::default();
        let mut earlier = Bucket::default();
        earlier.record(Outcome::Created, Duration::from_millis(1), 3600);
        m.resume(3600, earlier);
        m.record(Outcome::Created, Duration::from_millis(1), 3601);
        assert_eq!(m.live_hours()[0].1.created, 2);
    }
}
