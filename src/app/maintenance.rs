//! The work of the background jobs: metric roll-ups, retention and email delivery.

use super::AppResult;
use crate::{config::format_duration, state::AppState, store};
use std::time::Duration;

/// Rows deleted per retention write, so the writer is never held for long.
const RETENTION_BATCH: u32 = 5000;

/// Write the in-memory metric hours to `metrics_hourly`; on failure they are kept for the next
/// run.
pub async fn roll_up_metrics(state: &AppState) -> AppResult<()> {
    let hours = state.metrics.take_rollup();
    if hours.is_empty() {
        return Ok(());
    }
    let rows: Vec<(i64, String)> = hours
        .iter()
        .filter_map(|(h, b)| serde_json::to_string(b).ok().map(|json| (*h, json)))
        .collect();
    let result = state
        .store
        .write(move |c| {
            for (hour, json) in &rows {
                store::metrics::save_hour(c, *hour, json)?;
            }
            Ok::<_, store::StoreError>(())
        })
        .await;
    if let Err(e) = result {
        state.metrics.restore_unflushed(hours);
        return Err(e.into());
    }
    Ok(())
}

/// Load this hour's rolled-up counts so a restart continues them.
pub async fn resume_metrics(state: &AppState) -> AppResult<()> {
    let hour = crate::metrics::hour_of(state.now());
    let rows = state
        .store
        .read(move |c| store::metrics::load_hours(c, hour))
        .await?;
    for (h, json) in rows {
        if let Ok(bucket) = serde_json::from_str(&json) {
            state.metrics.resume(h, bucket);
        }
    }
    Ok(())
}

/// Delete events (and their bodies) and outbox emails older than `--retention`, a bounded batch
/// per write; returns how many rows went. A table that fails is retried on the next run; the
/// other is still cleaned.
pub async fn enforce_retention(state: &AppState) -> AppResult<usize> {
    let cutoff_ms = state.now_ms() - state.config.retention.as_millis() as i64;
    let cutoff_secs = cutoff_ms.div_euclid(1000);
    let mut total = 0;
    let mut failure = None;
    for table in ["events", "outbox"] {
        loop {
            let deleted = state
                .store
                .write(move |c| match table {
                    "events" => store::orders::delete_events_before(c, cutoff_ms, RETENTION_BATCH),
                    _ => store::outbox::delete_before(c, cutoff_secs, RETENTION_BATCH),
                })
                .await;
            match deleted {
                Ok(n) => {
                    total += n;
                    if n > 0 {
                        tracing::info!(table, deleted = n, "retention: old rows deleted");
                    }
                    if n < RETENTION_BATCH as usize {
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(total),
    }
}

/// Redact unsent emails whose one-time code expired (sent ones are redacted when sent).
pub async fn redact_expired_codes(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    Ok(state
        .store
        .write(move |c| store::outbox::redact_expired(c, now))
        .await?)
}

/// Send due outbox emails over SMTP, backing off exponentially per email on failure.
pub async fn deliver_outbox(state: &AppState) -> AppResult<()> {
    let Some(smtp) = state.config.smtp_url.clone() else {
        return Ok(());
    };
    let now = state.now();
    let due = state
        .store
        .read(move |c| store::outbox::due(c, now, 50))
        .await?;
    for email in due {
        let result = crate::mailer::send(&smtp, &email.to, &email.subject, &email.body).await;
        let now = state.now();
        let id = email.id;
        let write = match result {
            Ok(()) => {
                state
                    .store
                    .write(move |c| store::outbox::mark_sent(c, id, now))
                    .await
            }
            Err(reason) => {
                let backoff = retry_backoff(state.config.jobs_interval, email.attempts);
                tracing::warn!(email_id = id, %reason, retry_in = %format_duration(backoff),
                    "email delivery failed");
                let next = now + backoff.as_secs() as i64;
                state
                    .store
                    .write(move |c| store::outbox::mark_failed(c, id, &reason, next))
                    .await
            }
        };
        if let Err(e) = write {
            tracing::warn!(error = %e, "mailer could not record a delivery attempt");
        }
    }
    Ok(())
}

/// Delay before the next delivery attempt: the jobs interval (at least 1 s) doubled per failed
/// attempt, capped at one hour.
pub fn retry_backoff(interval: Duration, attempts: i64) -> Duration {
    let base = interval.max(Duration::from_secs(1));
    base.saturating_mul(1 << attempts.clamp(0, 12) as u32)
        .min(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::retry_backoff;
    use std::time::Duration;

    #[test]
    fn delivery_retries_back_off_exponentially_up_to_an_hour() {
        let i = Duration::from_secs(30);
        assert_eq!(retry_backoff(i, 0), Duration::from_secs(30));
        assert_eq!(retry_backoff(i, 1), Duration::from_secs(60));
        assert_eq!(retry_backoff(i, 3), Duration::from_secs(240));
        assert_eq!(retry_backoff(i, 50), Duration::from_secs(3600));
        assert_eq!(
            retry_backoff(Duration::from_millis(10), 0),
            Duration::from_secs(1)
        );
    }
}
