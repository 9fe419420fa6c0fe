//! Liveness, readiness, health status, hourly stats and Prometheus metrics.

use super::extract::AuthAdmin;
use crate::{
    clock,
    error::{ApiError, Violation},
    metrics::{Bucket, LATENCY_BOUNDS_US, hour_of},
    startup::AppState,
    store,
};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use std::{collections::BTreeMap, fmt::Write, sync::atomic::Ordering};

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database accepts writes (a real write that commits through the writer).
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .store
        .write(|c| store::probe_write(c, clock::now()))
        .await
        .map_err(|e: store::StoreError| {
            tracing::warn!(error = %e, "readiness probe failed");
            ApiError::storage_unavailable()
        })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

/// Hourly buckets covering the last `hours` hours: database roll-ups overlaid with memory.
pub async fn hourly(state: &AppState, hours: i64) -> Result<BTreeMap<i64, Bucket>, ApiError> {
    let from = hour_of(clock::now()) - (hours - 1) * 3600;
    let rows = state
        .store
        .read(move |c| store::orders::load_metrics_hours(c, from))
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

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `GET /api/v1/health`
pub async fn health(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
) -> Result<HttpResponse, ApiError> {
    let mut window = Bucket::default();
    for b in hourly(&state, 24).await?.values() {
        window.merge(b);
    }
    let h = assess(window, &state.config.public_url);
    let w = &h.window;
    Ok(HttpResponse::Ok().json(json!({
        "status": h.status,
        "issues": h.issues,
        "recommendations": h.recommendations,
        "metrics": {
            "total": w.received,
            "success_rate": (w.received > 0).then(|| round2(w.succeeded() as f64 * 100.0 / w.received as f64)),
            "avg_response_ms": w.mean_ms().map(round2),
            "p95_response_ms": w.quantile_ms(0.95).map(round2),
            "duplicates": w.duplicates,
            "rate_limited": w.rate_limited,
            "last_received_at": w.last_received_at.map(clock::rfc3339),
        },
    })))
}

#[derive(Deserialize)]
pub struct StatsQuery {
    hours: Option<i64>,
}

/// `GET /api/v1/stats?hours=24`
pub async fn stats(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let hours = q.hours.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::validation(vec![Violation::new(
            "hours",
            "must be between 1 and 720",
        )]));
    }
    let buckets = hourly(&state, hours).await?;
    let first = hour_of(clock::now()) - (hours - 1) * 3600;
    let items: Vec<_> = (0..hours)
        .map(|i| {
            let hour = first + i * 3600;
            let b = buckets.get(&hour).cloned().unwrap_or_default();
            json!({
                "hour": clock::rfc3339(hour),
                "received": b.received,
                "accepted": b.created + b.updated,
                "rejected": b.rejected,
                "duplicates": b.duplicates,
                "rate_limited": b.rate_limited,
                "p50_response_ms": b.quantile_ms(0.5).map(round2),
                "p95_response_ms": b.quantile_ms(0.95).map(round2),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"hours": hours, "buckets": items})))
}

/// `GET /metrics` (admin token): Prometheus text format.
pub async fn prometheus(state: web::Data<AppState>, _admin: AuthAdmin) -> HttpResponse {
    let t = state.metrics.totals();
    let mut out = String::with_capacity(4096);
    let _ = writeln!(
        out,
        "# HELP hookgate_webhook_requests_total Webhook requests by outcome and reason."
    );
    let _ = writeln!(out, "# TYPE hookgate_webhook_requests_total counter");
    for (outcome, reason, n) in [
        ("accepted", "created", t.created),
        ("accepted", "updated", t.updated),
        ("accepted", "duplicate", t.duplicates),
    ] {
        let _ = writeln!(
            out,
            "hookgate_webhook_requests_total{{outcome=\"{outcome}\",reason=\"{reason}\"}} {n}"
        );
    }
    for (reason, n) in &t.rejected {
        let _ = writeln!(
            out,
            "hookgate_webhook_requests_total{{outcome=\"rejected\",reason=\"{reason}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP hookgate_webhook_duplicates_total Duplicate webhooks answered from the first delivery."
    );
    let _ = writeln!(out, "# TYPE hookgate_webhook_duplicates_total counter");
    let _ = writeln!(out, "hookgate_webhook_duplicates_total {}", t.duplicates);
    let _ = writeln!(
        out,
        "# HELP hookgate_webhook_rate_limited_total Webhooks refused by a rate limit."
    );
    let _ = writeln!(out, "# TYPE hookgate_webhook_rate_limited_total counter");
    let _ = writeln!(
        out,
        "hookgate_webhook_rate_limited_total {}",
        t.rate_limited
    );
    let _ = writeln!(
        out,
        "# HELP hookgate_webhook_response_seconds Webhook response time."
    );
    let _ = writeln!(out, "# TYPE hookgate_webhook_response_seconds histogram");
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BOUNDS_US.iter().enumerate() {
        cumulative += t.latency.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "hookgate_webhook_response_seconds_bucket{{le=\"{}\"}} {cumulative}",
            *bound as f64 / 1e6
        );
    }
    let _ = writeln!(
        out,
        "hookgate_webhook_response_seconds_bucket{{le=\"+Inf\"}} {}",
        t.received
    );
    let _ = writeln!(
        out,
        "hookgate_webhook_response_seconds_sum {}",
        t.latency_sum_us as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "hookgate_webhook_response_seconds_count {}",
        t.received
    );

    let w = state.store.writer().stats();
    let batches = w.batches.load(Ordering::Relaxed);
    for (name, kind, help, value) in [
        (
            "hookgate_writer_batches_total",
            "counter",
            "Write groups committed (or failed).",
            batches as f64,
        ),
        (
            "hookgate_writer_jobs_total",
            "counter",
            "Writes run by the writer.",
            w.jobs.load(Ordering::Relaxed) as f64,
        ),
        (
            "hookgate_writer_failed_commits_total",
            "counter",
            "Write groups that failed to commit.",
            w.failed_commits.load(Ordering::Relaxed) as f64,
        ),
        (
            "hookgate_writer_reruns_total",
            "counter",
            "Write groups run again job by job because one of their writes failed.",
            w.reruns.load(Ordering::Relaxed) as f64,
        ),
        (
            "hookgate_writer_batch_size",
            "gauge",
            "Jobs in the last write group.",
            w.last_batch_size.load(Ordering::Relaxed) as f64,
        ),
        (
            "hookgate_writer_commit_seconds_total",
            "counter",
            "Time spent in write groups, including commit.",
            w.commit_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
        ),
        (
            "hookgate_writer_last_commit_seconds",
            "gauge",
            "Duration of the last write group.",
            w.last_commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
        ),
        (
            "hookgate_writer_queue_depth",
            "gauge",
            "Writes waiting for the writer.",
            w.queued.load(Ordering::Relaxed) as f64,
        ),
        (
            "hookgate_database_size_bytes",
            "gauge",
            "Size of the database and its WAL.",
            database_size(&state) as f64,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}

fn database_size(state: &AppState) -> u64 {
    let db = crate::startup::DataPaths::new(&state.config).database;
    let wal = db.with_extension("db-wal");
    [db, wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
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
