//! Health, readiness and hourly statistics of the webhook traffic.

use super::{AppResult, Error};
use crate::{
    metrics::{Bucket, hour_of},
    state::AppState,
    store,
};
use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
};

/// How long after a failed commit the server still says it is not ready, even if a probe write
/// succeeds: on a full disk a tiny probe can fit in pages the database already has while real
/// writes fail.
pub const NOT_READY_AFTER_FAILURE_MS: i64 = 10_000;

/// What readiness remembers between probes: the writer's failure count it last saw, and when
/// (by the application clock) that count last changed.
#[derive(Debug, Default)]
pub struct Readiness {
    failures_seen: AtomicU64,
    last_failure_ms: AtomicI64,
}

/// Readiness: no write group failed in the last `NOT_READY_AFTER_FAILURE_MS`, and a real probe
/// write commits through the writer now.
pub async fn ready(state: &AppState) -> AppResult<()> {
    let now = state.now_ms();
    let failures = state
        .store
        .writer()
        .stats()
        .failed_commits
        .load(Ordering::Relaxed);
    let r = &state.readiness;
    if r.failures_seen.swap(failures, Ordering::Relaxed) != failures {
        r.last_failure_ms.store(now, Ordering::Relaxed);
    }
    let last_failure = r.last_failure_ms.load(Ordering::Relaxed);
    if last_failure > 0 && now - last_failure < NOT_READY_AFTER_FAILURE_MS {
        return Err(Error::Storage(store::StoreError::Unavailable(
            "a write group failed in the last seconds".into(),
        )));
    }
    let now = state.now();
    state
        .store
        .write(move |c| store::probe_write(c, now))
        .await
        .map_err(|e: store::StoreError| {
            tracing::warn!(error = %e, "readiness probe failed");
            Error::Storage(e)
        })
}

/// Hourly buckets covering the last `hours` hours: database roll-ups overlaid with memory.
async fn hourly(state: &AppState, hours: i64) -> AppResult<BTreeMap<i64, Bucket>> {
    let from = hour_of(state.now()) - (hours - 1) * 3600;
    let rows = state
        .store
        .read(move |c| store::metrics::load_hours(c, from))
        .await?;
    let mut buckets: BTreeMap<i64, Bucket> = rows
        .into_iter()
        .filter_map(|(h, data)| serde_json::from_str(&data).ok().map(|b| (h, b)))
        .collect();
    for (h, b) in state.metrics.live_hours() {
        if h >= from {
            buckets.insert(h, b);
        }
    }
    Ok(buckets)
}

/// The health verdict over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub status: &'static str,
    pub issues: Vec<String>,
    pub recommendations: Vec<String>,
    pub window: Bucket,
}

/// Apply the contract's thresholds to a 24 h window.
pub fn assess(window: Bucket, public_url: &str) -> Health {
    let mut level = 0; // 0 healthy, 1 warning, 2 critical
    let mut issues = Vec::new();
    let mut recommendations = Vec::new();
    if window.received == 0 {
        level = 1;
        issues.push("No webhooks received in the last 24 hours.".to_string());
        recommendations.push(format!(
            "Check that merchants' systems send to {public_url}/api/v1/webhooks/orders/ and can reach it."
        ));
    } else {
        let rate = window.succeeded() as f64 / window.received as f64;
        if rate < 0.95 {
            level = level.max(if rate < 0.80 { 2 } else { 1 });
            issues.push(format!(
                "Success rate is {:.1}% over the last 24 hours.",
                rate * 100.0
            ));
            if let Some((reason, count)) = window.rejected.iter().max_by_key(|(_, c)| **c) {
                recommendations.push(format!(
                    "Most rejections are {reason} ({count}); see /api/v1/stats for the breakdown by hour."
                ));
            }
        }
        if let Some(p95) = window.quantile_ms(0.95)
            && p95 > 5000.0
        {
            level = level.max(if p95 > 10000.0 { 2 } else { 1 });
            issues.push(format!("p95 response time is {p95:.0} ms."));
            recommendations.push(
                "Check disk latency and the writer's commit time (hookgate_writer_commit_seconds in /metrics)."
                    .to_string(),
            );
        }
    }
    let status = ["healthy", "warning", "critical"][level];
    Health {
        status,
        issues,
        recommendations,
        window,
    }
}

/// The health verdict over the last 24 hours (the webhooks, then the deliveries), and those hours
/// one by one (oldest first).
pub async fn last_day(state: &AppState) -> AppResult<(Health, Vec<(i64, Bucket)>)> {
    let hours = stats(state, 24).await?;
    let mut window = Bucket::default();
    for (_, b) in &hours {
        window.merge(b);
    }
    let deliveries = super::delivery_health::overview(state).await?;
    let health = super::delivery_health::assess(
        assess(window, &state.config.public_url),
        &deliveries,
        state.now(),
    );
    Ok((health, hours))
}

/// Hours of the stats window (1 to 720).
pub fn stats_hours(raw: Option<i64>) -> AppResult<i64> {
    let hours = raw.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(crate::domain::Violation::new("hours", "must be between 1 and 720").into());
    }
    Ok(hours)
}

/// Every hour of the last `hours` hours, oldest first, with its counts (empty hours included).
pub async fn stats(state: &AppState, hours: i64) -> AppResult<Vec<(i64, Bucket)>> {
    let buckets = hourly(state, hours).await?;
    let first = hour_of(state.now()) - (hours - 1) * 3600;
    Ok((0..hours)
        .map(|i| {
            let hour = first + i * 3600;
            (hour, buckets.get(&hour).cloned().unwrap_or_default())
        })
        .collect())
}

/// Every hour of the last `hours` of a provider source, oldest first, with its counts by
/// reason. Per-source counts are kept in memory for 24 hours: older hours are empty.
pub fn source_stats(
    state: &AppState,
    slug: &str,
    hours: i64,
) -> AppResult<Vec<(i64, std::collections::BTreeMap<&'static str, u64>)>> {
    if !super::sources::valid_slug(slug) {
        return Err(
            crate::domain::Violation::new("source", "must be orders or a source's slug").into(),
        );
    }
    let mut kept = state.metrics.source_hours(slug);
    let first = hour_of(state.now()) - (hours - 1) * 3600;
    Ok((0..hours)
        .map(|i| {
            let hour = first + i * 3600;
            (hour, kept.remove(&hour).unwrap_or_default())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, Outcome};
    use std::time::Duration;

    fn window(ok: u32, bad: u32, latency: Duration) -> Bucket {
        let m = Metrics::default();
        for _ in 0..ok {
            m.record(Outcome::Created, latency, 3600);
        }
        for _ in 0..bad {
            m.record(Outcome::Rejected("invalid_signature"), latency, 3600);
        }
        m.totals()
    }

    #[test]
    fn thresholds_follow_the_contract() {
        let ms = Duration::from_millis(2);
        assert_eq!(assess(window(100, 0, ms), "u").status, "healthy");
        assert_eq!(assess(window(96, 4, ms), "u").status, "healthy");
        assert_eq!(assess(window(94, 6, ms), "u").status, "warning");
        assert_eq!(assess(window(80, 20, ms), "u").status, "warning");
        let critical = assess(window(79, 21, ms), "u");
        assert_eq!(critical.status, "critical");
        assert!(critical.recommendations[0].contains("invalid_signature"));
        assert_eq!(
            assess(window(10, 0, Duration::from_secs(6)), "u").status,
            "warning"
        );
        assert_eq!(
            assess(window(10, 0, Duration::from_secs(11)), "u").status,
            "critical"
        );
        let idle = assess(Bucket::default(), "https://x");
        assert_eq!(idle.status, "warning");
        assert!(idle.recommendations[0].contains("https://x/api/v1/webhooks/orders/"));
    }
}
