//! The work of the background jobs: metric roll-ups, retention and email delivery.

use super::AppResult;
use crate::{config::format_duration, state::AppState, store};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

/// How a background job shares the single writer with ingest: it works in batches, each one
/// write of its own, sized so that one takes about `BATCH_TARGET` on this machine (measured
/// from submission to commit, so the commit's own cost counts), and rests `REST_FACTOR` times
/// as long as the batch took before the next. No request then waits behind more than one short
/// batch, and the job takes at most a fifth of the writer's time, while a backlog of millions of
/// rows still drains at thousands of rows a second.
const BATCH_TARGET: Duration = Duration::from_millis(1);
const REST_FACTOR: u32 = 4;
const MIN_REST: Duration = Duration::from_millis(1);
const FIRST_BATCH: u32 = 64;
const BATCH_BOUNDS: (u32, u32) = (8, 4096);

/// Run `work(conn, limit)` in paced batches until it returns fewer than `limit` rows; returns
/// the rows it handled in all.
pub(crate) async fn in_batches<F>(state: &AppState, work: F) -> AppResult<usize>
where
    F: Fn(&rusqlite::Connection, u32) -> store::StoreResult<usize> + Send + Sync + 'static,
{
    in_batches_carrying(state, 0, move |c, total: &usize, limit| {
        let n = work(c, limit)?;
        Ok((n, total + n))
    })
    .await
}

/// `in_batches` for work that carries state from one batch to the next (a keyset cursor, running
/// counts): `work(conn, carried, limit)` returns the rows it handled and the state after its
/// batch. The state moves on only once its batch committed: the writer may run a batch a second
/// time after a rollback (its jobs are `FnMut`), and the second run must start from the same
/// place as the first. Stops once a batch handles fewer than `limit` rows; returns the state then.
pub(crate) async fn in_batches_carrying<S, F>(state: &AppState, start: S, work: F) -> AppResult<S>
where
    S: Clone + Send + 'static,
    F: Fn(&rusqlite::Connection, &S, u32) -> store::StoreResult<(usize, S)> + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let mut size = FIRST_BATCH;
    let mut carried = start;
    loop {
        let (batch, from) = (Arc::clone(&work), carried.clone());
        let started = Instant::now();
        let (done, next) = state.store.write(move |c| batch(c, &from, size)).await?;
        let took = started.elapsed();
        carried = next;
        if done < size as usize {
            return Ok(carried);
        }
        size = next_batch_size(size, took);
        tokio::time::sleep((took * REST_FACTOR).max(MIN_REST)).await;
    }
}

/// Halve the batch when it took over twice the target, double it under half, within bounds.
fn next_batch_size(size: u32, took: Duration) -> u32 {
    let size = if took > BATCH_TARGET * 2 {
        size / 2
    } else if took < BATCH_TARGET / 2 {
        size.saturating_mul(2)
    } else {
        size
    };
    size.clamp(BATCH_BOUNDS.0, BATCH_BOUNDS.1)
}

/// Write the in-memory metric hours to `metrics_hourly`; on failure they are kept for the next
/// run.
pub async fn roll_up_metrics(state: &AppState) -> AppResult<()> {
    state
        .metrics
        .jobs
        .rollup_runs
        .fetch_add(1, Ordering::Relaxed);
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

/// Delete events (and their bodies) and outbox emails older than `--retention`, in paced
/// batches (`in_batches`); returns how many rows went. A table that fails is retried on the
/// next run; the other is still cleaned. The counters move per batch, so a long run over a
/// backlog shows its progress.
pub async fn enforce_retention(state: &AppState) -> AppResult<usize> {
    let cutoff_ms = state.now_ms() - state.config.retention.as_millis() as i64;
    let cutoff_secs = cutoff_ms.div_euclid(1000);
    let jobs = Arc::clone(&state.metrics);
    jobs.jobs.retention_runs.fetch_add(1, Ordering::Relaxed);
    let counted = Arc::clone(&jobs);
    let events = in_batches(state, move |c, limit| {
        let n = store::orders::delete_events_before(c, cutoff_ms, limit)?;
        counted
            .jobs
            .deleted_events
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    })
    .await;
    let counted = Arc::clone(&jobs);
    let outbox = in_batches(state, move |c, limit| {
        let n = store::outbox::delete_before(c, cutoff_secs, limit)?;
        counted
            .jobs
            .deleted_emails
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    })
    .await;
    let mut total = 0;
    for (table, deleted) in [("events", &events), ("outbox", &outbox)] {
        if let Ok(n) = deleted {
            total += n;
            if *n > 0 {
                tracing::info!(table, deleted = n, "retention: old rows deleted");
            }
        }
    }
    events?;
    outbox?;
    Ok(total)
}

/// Redact unsent emails whose one-time code expired (sent ones are redacted when sent).
pub async fn redact_expired_codes(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    in_batches(state, move |c, limit| {
        store::outbox::redact_expired(c, now, limit)
    })
    .await
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
        let ca = &state.config.smtp_ca;
        let result = crate::mailer::send(&smtp, ca, &email.to, &email.subject, &email.body).await;
        let now = state.now();
        let id = email.id;
        let write = match result {
            Ok(_answer) => {
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
    use super::{BATCH_BOUNDS, BATCH_TARGET, next_batch_size, retry_backoff};
    use std::time::Duration;

    #[test]
    fn batches_grow_while_fast_and_shrink_when_slow_within_bounds() {
        let fast = BATCH_TARGET / 4;
        let slow = BATCH_TARGET * 3;
        assert_eq!(next_batch_size(256, fast), 512);
        assert_eq!(next_batch_size(256, BATCH_TARGET), 256);
        assert_eq!(next_batch_size(256, slow), 128);
        assert_eq!(next_batch_size(BATCH_BOUNDS.1, fast), BATCH_BOUNDS.1);
        assert_eq!(next_batch_size(BATCH_BOUNDS.0, slow), BATCH_BOUNDS.0);
    }

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
