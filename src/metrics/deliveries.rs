//! Delivery counters kept in memory since the process started (CONTRACT section 10, "/metrics"):
//! deliveries by destination and outcome, and the attempts' durations. The queue and the circuits
//! are read from the database at scrape time instead ([`DeliveryGauges`]).

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

/// Upper bounds (ms) of the attempt-duration histogram buckets; the last bucket is +Inf.
/// Attempts run up to the 60 s timeout.
pub const ATTEMPT_BOUNDS_MS: [u64; 14] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 15_000, 30_000, 60_000,
];

/// What one attempt did to its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryOutcome {
    /// 2xx: the delivery is `succeeded`.
    Succeeded,
    /// A failed last attempt: the delivery is `failed`.
    Failed,
    /// A failed attempt with attempts left: the delivery waits for the next.
    Retried,
    /// 410: the destination was disabled; the delivery waits.
    Gone,
}

impl DeliveryOutcome {
    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Succeeded => "succeeded",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Retried => "retried",
            DeliveryOutcome::Gone => "gone",
        }
    }
}

/// The delivery counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryTotals {
    /// By (destination id, outcome). Destinations are few (admins create them): bounded series.
    pub by_outcome: BTreeMap<(String, DeliveryOutcome), u64>,
    /// Attempts per `ATTEMPT_BOUNDS_MS` bucket plus one overflow bucket.
    pub latency: Vec<u64>,
    pub latency_sum_ms: u64,
    /// Attempts recorded.
    pub attempts: u64,
}

/// The process's delivery counters.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    totals: Mutex<DeliveryTotals>,
}

impl DeliveryMetrics {
    /// Count one attempt to `destination` that ended in `outcome` after `elapsed`.
    pub fn record(&self, destination: &str, outcome: DeliveryOutcome, elapsed: Duration) {
        let mut t = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        *t.by_outcome
            .entry((destination.to_string(), outcome))
            .or_default() += 1;
        if t.latency.len() != ATTEMPT_BOUNDS_MS.len() + 1 {
            t.latency.resize(ATTEMPT_BOUNDS_MS.len() + 1, 0);
        }
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let i = ATTEMPT_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(ATTEMPT_BOUNDS_MS.len());
        t.latency[i] += 1;
        t.latency_sum_ms = t.latency_sum_ms.saturating_add(ms);
        t.attempts += 1;
    }

    /// The counters now.
    pub fn totals(&self) -> DeliveryTotals {
        self.totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The delivery queue and circuits, read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryGauges {
    /// Pending deliveries.
    pub pending: i64,
    /// Age of the oldest pending delivery, in seconds; 0 when none is pending.
    pub oldest_pending_secs: i64,
    /// Each destination's id and whether its circuit is open (or half-open: probing).
    pub circuits: Vec<(String, bool)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_by_destination_outcome_and_duration() {
        let m = DeliveryMetrics::default();
        m.record(
            "dst_a",
            DeliveryOutcome::Succeeded,
            Duration::from_millis(3),
        );
        m.record(
            "dst_a",
            DeliveryOutcome::Succeeded,
            Duration::from_millis(40),
        );
        m.record("dst_b", DeliveryOutcome::Gone, Duration::from_secs(90));
        let t = m.totals();
        assert_eq!(
            t.by_outcome[&("dst_a".to_string(), DeliveryOutcome::Succeeded)],
            2
        );
        assert_eq!(
            t.by_outcome[&("dst_b".to_string(), DeliveryOutcome::Gone)],
            1
        );
        assert_eq!((t.attempts, t.latency_sum_ms), (3, 90_043));
        assert_eq!(t.latency[0], 1, "3 ms is in the first bucket");
        assert_eq!(t.latency[3], 1, "40 ms is at most 50 ms");
        assert_eq!(t.latency[ATTEMPT_BOUNDS_MS.len()], 1, "90 s overflows");
    }
}
