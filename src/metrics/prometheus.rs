//! Prometheus exposition of hookgate's counters.

use super::{
    Bucket, JobStats, LATENCY_BOUNDS_US,
    deliveries::{ATTEMPT_BOUNDS_MS, DeliveryGauges, DeliveryTotals},
};
use crate::store::WriterStats;
use std::{fmt::Write, sync::atomic::Ordering};

/// The Prometheus text exposition (format 0.0.4) of the webhook counters, the writer's
/// statistics, the background jobs and the database size.
pub fn render(
    t: &Bucket,
    w: &WriterStats,
    jobs: &JobStats,
    database_bytes: u64,
    dropped_log_lines: u64,
    password_refusals: u64,
    sources: &[((String, &'static str, &'static str), u64)],
) -> String {
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

    let _ = writeln!(
        out,
        "# HELP hookgate_job_runs_total Runs of the background jobs that write.\n\
         # TYPE hookgate_job_runs_total counter"
    );
    for (job, n) in [
        ("retention", &jobs.retention_runs),
        ("rollup", &jobs.rollup_runs),
    ] {
        let n = n.load(Ordering::Relaxed);
        let _ = writeln!(out, "hookgate_job_runs_total{{job=\"{job}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP hookgate_retention_deleted_rows_total Rows deleted by retention.\n\
         # TYPE hookgate_retention_deleted_rows_total counter"
    );
    for (table, n) in [
        ("events", &jobs.deleted_events),
        ("outbox", &jobs.deleted_emails),
    ] {
        let n = n.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "hookgate_retention_deleted_rows_total{{table=\"{table}\"}} {n}"
        );
    }

    let _ = writeln!(
        out,
        "# HELP hookgate_source_requests_total Requests to provider sources by outcome and reason.\n\
         # TYPE hookgate_source_requests_total counter"
    );
    for ((source, outcome, reason), n) in sources {
        let _ = writeln!(
            out,
            "hookgate_source_requests_total{{source=\"{source}\",outcome=\"{outcome}\",reason=\"{reason}\"}} {n}"
        );
    }

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
            "hookgate_log_lines_dropped_total",
            "counter",
            "Log lines dropped because the log could not be written (e.g. a full disk).",
            dropped_log_lines as f64,
        ),
        (
            "hookgate_password_hashing_refused_total",
            "counter",
            "Logins and sign-ups answered 429 because every password-hashing slot stayed busy.",
            password_refusals as f64,
        ),
        (
            "hookgate_database_size_bytes",
            "gauge",
            "Size of the database and its WAL.",
            database_bytes as f64,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}

/// The Prometheus text exposition of the outbound deliveries: counters since start and, when
/// they could be read, the queue and circuit gauges.
pub fn render_deliveries(t: &DeliveryTotals, gauges: Option<&DeliveryGauges>) -> String {
    let mut out = String::with_capacity(2048);
    let _ = writeln!(
        out,
        "# HELP hookgate_deliveries_total Delivery attempts by destination and outcome \
         (succeeded, failed: the last attempt failed, retried, gone: answered 410).\n\
         # TYPE hookgate_deliveries_total counter"
    );
    for ((destination, outcome), n) in &t.by_outcome {
        let _ = writeln!(
            out,
            "hookgate_deliveries_total{{destination=\"{destination}\",outcome=\"{}\"}} {n}",
            outcome.as_str()
        );
    }
    let _ = writeln!(
        out,
        "# HELP hookgate_delivery_attempt_seconds Duration of delivery attempts.\n\
         # TYPE hookgate_delivery_attempt_seconds histogram"
    );
    let mut cumulative = 0;
    for (i, bound) in ATTEMPT_BOUNDS_MS.iter().enumerate() {
        cumulative += t.latency.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "hookgate_delivery_attempt_seconds_bucket{{le=\"{}\"}} {cumulative}",
            *bound as f64 / 1e3
        );
    }
    let _ = writeln!(
        out,
        "hookgate_delivery_attempt_seconds_bucket{{le=\"+Inf\"}} {}\n\
         hookgate_delivery_attempt_seconds_sum {}\n\
         hookgate_delivery_attempt_seconds_count {}",
        t.attempts,
        t.latency_sum_ms as f64 / 1e3,
        t.attempts
    );
    let Some(g) = gauges else {
        return out;
    };
    for (name, help, value) in [
        (
            "hookgate_delivery_queue_depth",
            "Pending deliveries.",
            g.pending,
        ),
        (
            "hookgate_delivery_oldest_pending_seconds",
            "Age of the oldest pending delivery (0 when none is pending).",
            g.oldest_pending_secs,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP hookgate_destination_circuit_open Whether a destination's circuit is open \
         (1, also while a probe is in flight) or closed (0).\n\
         # TYPE hookgate_destination_circuit_open gauge"
    );
    for (destination, open) in &g.circuits {
        let _ = writeln!(
            out,
            "hookgate_destination_circuit_open{{destination=\"{destination}\"}} {}",
            u8::from(*open)
        );
    }
    out
}
