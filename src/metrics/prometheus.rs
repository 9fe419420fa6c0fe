//! The `/metrics` exposition, encoded by prometheus-client (OpenMetrics text).
//!
//! The counters stay in hookgate's own structures, because the dashboards and `/api/v1/stats`
//! read their hourly buckets; at scrape time they are copied into a [`Snapshot`], a
//! [`Collector`] that encodes them as constant metrics, beside the process's own figures and the
//! build info. Series names are the ones dashboards were written against: a counter is declared
//! under its name without `_total`, which the encoder appends to every sample.
//!
//! prometheus-client writes label values as given: every value here is an error code, a source
//! slug (`a-z 0-9 -`), a destination id or the version, none of which needs escaping.

use super::{
    Bucket, JobStats, LATENCY_BOUNDS_US,
    deliveries::{ATTEMPT_BOUNDS_MS, DeliveryGauges, DeliveryTotals},
    process::ProcessStats,
};
use crate::store::WriterStats;
use prometheus_client::{
    collector::Collector,
    encoding::{
        DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric, NoLabelSet, text,
    },
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};
use std::{fmt, sync::atomic::Ordering};

/// The content type of what [`render`] returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The writer's statistics at one moment.
#[derive(Debug, Clone, Default)]
pub struct WriterCounts {
    pub batches: u64,
    pub jobs: u64,
    pub failed_commits: u64,
    pub reruns: u64,
    pub last_batch_size: u64,
    pub commit_micros_total: u64,
    pub last_commit_micros: u64,
    pub queued: u64,
}

impl From<&WriterStats> for WriterCounts {
    fn from(w: &WriterStats) -> Self {
        WriterCounts {
            batches: w.batches.load(Ordering::Relaxed),
            jobs: w.jobs.load(Ordering::Relaxed),
            failed_commits: w.failed_commits.load(Ordering::Relaxed),
            reruns: w.reruns.load(Ordering::Relaxed),
            last_batch_size: w.last_batch_size.load(Ordering::Relaxed),
            commit_micros_total: w.commit_micros_total.load(Ordering::Relaxed),
            last_commit_micros: w.last_commit_micros.load(Ordering::Relaxed),
            queued: w.queued.load(Ordering::Relaxed),
        }
    }
}

/// What the background jobs that write had done at one moment.
#[derive(Debug, Clone, Default)]
pub struct JobCounts {
    pub retention_runs: u64,
    pub rollup_runs: u64,
    pub deleted_events: u64,
    pub deleted_emails: u64,
}

impl From<&JobStats> for JobCounts {
    fn from(j: &JobStats) -> Self {
        JobCounts {
            retention_runs: j.retention_runs.load(Ordering::Relaxed),
            rollup_runs: j.rollup_runs.load(Ordering::Relaxed),
            deleted_events: j.deleted_events.load(Ordering::Relaxed),
            deleted_emails: j.deleted_emails.load(Ordering::Relaxed),
        }
    }
}

/// Everything `/metrics` shows, copied at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Webhook counters since start.
    pub webhooks: Bucket,
    pub writer: WriterCounts,
    pub jobs: JobCounts,
    /// The database and its WAL.
    pub database_bytes: u64,
    pub dropped_log_lines: u64,
    pub password_refusals: u64,
    /// Source requests by (slug, outcome, reason).
    pub sources: Vec<((String, &'static str, &'static str), u64)>,
    pub deliveries: DeliveryTotals,
    /// The queue and circuits; `None` when the database could not be read, and then left out.
    pub delivery_gauges: Option<DeliveryGauges>,
    /// `None` where the process cannot be inspected (not Linux), and then left out.
    pub process: Option<ProcessStats>,
}

/// The whole exposition, ending in `# EOF`, to serve as [`CONTENT_TYPE`].
pub fn render(snapshot: Snapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut out = String::with_capacity(8192);
    text::encode(&mut out, &registry)?;
    Ok(out)
}

/// A counter named as its samples are (`…_total`).
fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeCounterValue,
) -> fmt::Result {
    let family = name.strip_suffix("_total").unwrap_or(name);
    ConstCounter::new(value).encode(e.encode_descriptor(family, help, None, MetricType::Counter)?)
}

/// A counter with labels, one sample per label set; labels are written in the order given.
fn labelled_counter<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, u64)>,
) -> fmt::Result {
    let family = name.strip_suffix("_total").unwrap_or(name);
    let mut metric = e.encode_descriptor(family, help, None, MetricType::Counter)?;
    for (labels, n) in series {
        ConstCounter::new(n).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> fmt::Result {
    ConstGauge::new(value).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A histogram from per-bucket counts (`counts[i]` for `bounds[i]`, then one overflow bucket),
/// the sum and the count.
fn histogram(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    bounds: impl Iterator<Item = f64>,
    counts: &[u64],
    sum: f64,
    count: u64,
) -> fmt::Result {
    // prometheus-client marks the +Inf bucket with f64::MAX.
    let buckets: Vec<(f64, u64)> = bounds
        .chain([f64::MAX])
        .enumerate()
        .map(|(i, bound)| (bound, counts.get(i).copied().unwrap_or(0)))
        .collect();
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        self.encode_webhooks(&mut e)?;
        self.encode_store(&mut e)?;
        self.encode_deliveries(&mut e)?;
        self.encode_process(&mut e)?;
        let mut info = e.encode_descriptor(
            "hookgate_build_info",
            "The running hookgate's version (always 1).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1).encode(info.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)
    }
}

impl Snapshot {
    fn encode_webhooks(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let t = &self.webhooks;
        let accepted = [
            ("created", t.created),
            ("updated", t.updated),
            ("duplicate", t.duplicates),
        ]
        .map(|(reason, n)| (vec![("outcome", "accepted"), ("reason", reason)], n));
        let rejected = t.rejected.iter().map(|(reason, n)| {
            (
                vec![("outcome", "rejected"), ("reason", reason.as_str())],
                *n,
            )
        });
        labelled_counter(
            e,
            "hookgate_webhook_requests_total",
            "Webhook requests by outcome and reason.",
            accepted.into_iter().chain(rejected),
        )?;
        counter(
            e,
            "hookgate_webhook_duplicates_total",
            "Duplicate webhooks answered from the first delivery.",
            t.duplicates,
        )?;
        counter(
            e,
            "hookgate_webhook_rate_limited_total",
            "Webhooks refused by a rate limit.",
            t.rate_limited,
        )?;
        histogram(
            e,
            "hookgate_webhook_response_seconds",
            "Webhook response time.",
            LATENCY_BOUNDS_US.iter().map(|us| *us as f64 / 1e6),
            &t.latency,
            t.latency_sum_us as f64 / 1e6,
            t.received,
        )?;
        labelled_counter(
            e,
            "hookgate_source_requests_total",
            "Requests to provider sources by outcome and reason.",
            self.sources.iter().map(|((source, outcome, reason), n)| {
                (
                    vec![
                        ("source", source.as_str()),
                        ("outcome", *outcome),
                        ("reason", *reason),
                    ],
                    *n,
                )
            }),
        )
    }

    fn encode_store(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let j = &self.jobs;
        labelled_counter(
            e,
            "hookgate_job_runs_total",
            "Runs of the background jobs that write.",
            [
                (vec![("job", "retention")], j.retention_runs),
                (vec![("job", "rollup")], j.rollup_runs),
            ],
        )?;
        labelled_counter(
            e,
            "hookgate_retention_deleted_rows_total",
            "Rows deleted by retention.",
            [
                (vec![("table", "events")], j.deleted_events),
                (vec![("table", "outbox")], j.deleted_emails),
            ],
        )?;
        let w = &self.writer;
        counter(
            e,
            "hookgate_writer_batches_total",
            "Write groups committed (or failed).",
            w.batches,
        )?;
        counter(
            e,
            "hookgate_writer_jobs_total",
            "Writes run by the writer.",
            w.jobs,
        )?;
        counter(
            e,
            "hookgate_writer_failed_commits_total",
            "Write groups that failed to commit.",
            w.failed_commits,
        )?;
        counter(
            e,
            "hookgate_writer_reruns_total",
            "Write groups run again job by job because one of their writes failed.",
            w.reruns,
        )?;
        gauge(
            e,
            "hookgate_writer_batch_size",
            "Jobs in the last write group.",
            w.last_batch_size,
        )?;
        counter(
            e,
            "hookgate_writer_commit_seconds_total",
            "Time spent in write groups, including commit.",
            w.commit_micros_total as f64 / 1e6,
        )?;
        gauge(
            e,
            "hookgate_writer_last_commit_seconds",
            "Duration of the last write group.",
            w.last_commit_micros as f64 / 1e6,
        )?;
        gauge(
            e,
            "hookgate_writer_queue_depth",
            "Writes waiting for the writer.",
            w.queued,
        )?;
        counter(
            e,
            "hookgate_log_lines_dropped_total",
            "Log lines dropped because the log could not be written (e.g. a full disk).",
            self.dropped_log_lines,
        )?;
        counter(
            e,
            "hookgate_password_hashing_refused_total",
            "Logins and sign-ups answered 429 because every password-hashing slot stayed busy.",
            self.password_refusals,
        )?;
        gauge(
            e,
            "hookgate_database_size_bytes",
            "Size of the database and its WAL.",
            self.database_bytes,
        )
    }

    fn encode_deliveries(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let t = &self.deliveries;
        labelled_counter(
            e,
            "hookgate_deliveries_total",
            "Delivery attempts by destination and outcome (succeeded, failed: the last attempt \
             failed, retried, gone: answered 410).",
            t.by_outcome.iter().map(|((destination, outcome), n)| {
                (
                    vec![
                        ("destination", destination.as_str()),
                        ("outcome", outcome.as_str()),
                    ],
                    *n,
                )
            }),
        )?;
        histogram(
            e,
            "hookgate_delivery_attempt_seconds",
            "Duration of delivery attempts.",
            ATTEMPT_BOUNDS_MS.iter().map(|ms| *ms as f64 / 1e3),
            &t.latency,
            t.latency_sum_ms as f64 / 1e3,
            t.attempts,
        )?;
        let Some(g) = &self.delivery_gauges else {
            return Ok(());
        };
        gauge(
            e,
            "hookgate_delivery_queue_depth",
            "Pending deliveries.",
            g.pending,
        )?;
        gauge(
            e,
            "hookgate_delivery_oldest_pending_seconds",
            "Age of the oldest pending delivery (0 when none is pending).",
            g.oldest_pending_secs,
        )?;
        let mut circuits = e.encode_descriptor(
            "hookgate_destination_circuit_open",
            "Whether a destination's circuit is open (1, also while a probe is in flight) or \
             closed (0).",
            None,
            MetricType::Gauge,
        )?;
        for (destination, open) in &g.circuits {
            ConstGauge::new(i64::from(*open))
                .encode(circuits.encode_family(&[("destination", destination.as_str())])?)?;
        }
        Ok(())
    }

    fn encode_process(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let Some(p) = &self.process else {
            return Ok(());
        };
        gauge(
            e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            p.resident_memory_bytes,
        )?;
        gauge(
            e,
            "process_open_fds",
            "Number of open file descriptors.",
            p.open_fds,
        )?;
        if let Some(max) = p.max_fds {
            gauge(
                e,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                max,
            )?;
        }
        counter(
            e,
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        )?;
        gauge(
            e,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            p.start_time_seconds,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Outcome, deliveries::DeliveryOutcome};
    use std::time::Duration;

    fn rendered() -> String {
        let mut webhooks = Bucket::default();
        for (outcome, ms) in [
            (Outcome::Created, 1),
            (Outcome::Rejected("invalid_signature"), 2),
            (Outcome::Created, 20_000),
        ] {
            webhooks.record(outcome, Duration::from_millis(ms), 0);
        }
        let deliveries = crate::metrics::deliveries::DeliveryMetrics::default();
        deliveries.record(
            "dst_1",
            DeliveryOutcome::Succeeded,
            Duration::from_millis(7),
        );
        render(Snapshot {
            webhooks,
            deliveries: deliveries.totals(),
            delivery_gauges: Some(DeliveryGauges {
                pending: 2,
                oldest_pending_secs: 30,
                circuits: vec![("dst_1".into(), true)],
            }),
            process: Some(ProcessStats {
                resident_memory_bytes: 1 << 20,
                open_fds: 9,
                max_fds: Some(1024),
                cpu_seconds: 1.5,
                start_time_seconds: 1_700_000_000.0,
            }),
            sources: vec![(("gh".into(), "accepted", "accepted"), 4)],
            ..Snapshot::default()
        })
        .unwrap()
    }

    #[test]
    fn counters_keep_their_total_names_and_labels() {
        let text = rendered();
        for line in [
            "# TYPE hookgate_webhook_requests counter",
            "hookgate_webhook_requests_total{outcome=\"accepted\",reason=\"created\"} 2",
            "hookgate_webhook_requests_total{outcome=\"rejected\",reason=\"invalid_signature\"} 1",
            "hookgate_source_requests_total{source=\"gh\",outcome=\"accepted\",reason=\"accepted\"} 4",
            "hookgate_deliveries_total{destination=\"dst_1\",outcome=\"succeeded\"} 1",
            "hookgate_destination_circuit_open{destination=\"dst_1\"} 1",
            "hookgate_delivery_queue_depth 2",
            "process_cpu_seconds_total 1.5",
            "process_max_fds 1024",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let build = format!(
            "hookgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(
            text.lines().any(|l| l == build),
            "{build} missing in\n{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn histograms_are_cumulative_and_end_in_the_overflow() {
        let text = rendered();
        for line in [
            "hookgate_webhook_response_seconds_bucket{le=\"0.001\"} 1",
            "hookgate_webhook_response_seconds_bucket{le=\"0.002\"} 2",
            "hookgate_webhook_response_seconds_bucket{le=\"10.0\"} 2",
            "hookgate_webhook_response_seconds_bucket{le=\"+Inf\"} 3",
            "hookgate_webhook_response_seconds_count 3",
            "hookgate_webhook_response_seconds_sum 20.003",
            "hookgate_delivery_attempt_seconds_bucket{le=\"0.005\"} 0",
            "hookgate_delivery_attempt_seconds_bucket{le=\"0.01\"} 1",
            "hookgate_delivery_attempt_seconds_bucket{le=\"+Inf\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn what_could_not_be_read_is_left_out() {
        let text = render(Snapshot::default()).unwrap();
        assert!(!text.contains("process_"), "{text}");
        assert!(!text.contains("hookgate_delivery_queue_depth"), "{text}");
        assert!(text.contains("hookgate_webhook_response_seconds_bucket{le=\"+Inf\"} 0"));
    }
}
