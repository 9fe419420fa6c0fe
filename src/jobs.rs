//! Background loops: secret rotation, email delivery, limiter clean-up.

use crate::{clock, config::format_duration, emails, http, startup::AppState, store};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Start every background loop; the handles are aborted when the server stops.
pub fn spawn_all(state: AppState) -> Vec<JoinHandle<()>> {
    let interval = state.config.jobs_interval;
    let mut jobs = vec![
        every(interval, state.clone(), |s| async move {
            rotate_due_secrets(&s).await
        }),
        every(Duration::from_secs(60), state.clone(), |s| async move {
            s.limits.retain_recent();
            purge_sessions(&s).await;
        }),
        every(interval, state.clone(), |s| async move {
            roll_up_metrics(&s).await
        }),
        every(interval, state.clone(), |s| async move {
            enforce_retention(&s).await
        }),
    ];
    if state.config.smtp_url.is_some() {
        jobs.push(every(
            interval.min(Duration::from_secs(10)),
            state,
            |s| async move { deliver_outbox(&s).await },
        ));
    }
    jobs
}

fn every<F, Fut>(period: Duration, state: AppState, f: F) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            f(state.clone()).await;
        }
    })
}

/// Issue successors for secrets within `rotate-before` of expiry, and email the merchants.
pub async fn rotate_due_secrets(state: &AppState) {
    let before = state.config.rotate_before.as_secs() as i64;
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let now = clock::now();
    let due = match state
        .store
        .read(move |c| store::secrets::due_for_rotation(c, now, before))
        .await
    {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "rotation job could not read due secrets");
            return;
        }
    };
    for d in due {
        let (_, new) = http::secret::generate(state);
        let now = clock::now();
        let email = emails::secret_rotated(
            &d.merchant_email,
            &clock::rfc3339(d.expires_at.max(now)),
            &state.config.public_url,
        );
        let merchant = d.merchant_id.clone();
        match state
            .store
            .write(move |c| {
                store::secrets::rotate_if_still_due(c, &d, &new, ttl, before, &email, now)
            })
            .await
        {
            Ok(true) => {
                state.keys.invalidate();
                tracing::info!(%merchant, "rotated signing secret");
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(%merchant, error = %e, "secret rotation failed; will retry"),
        }
    }
}

/// Send due outbox emails over SMTP, backing off exponentially on failure.
pub async fn deliver_outbox(state: &AppState) {
    let Some(smtp) = state.config.smtp_url.clone() else {
        return;
    };
    let now = clock::now();
    let due = match state
        .store
        .read(move |c| store::outbox::due(c, now, 50))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "mailer could not read the outbox");
            return;
        }
    };
    for email in due {
        let result = crate::mailer::send(&smtp, &email.to, &email.subject, &email.body).await;
        let now = clock::now();
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
}

/// Delete expired browser sessions.
pub async fn purge_sessions(state: &AppState) {
    use crate::http::session::{ABSOLUTE_TIMEOUT_SECS, IDLE_TIMEOUT_SECS};
    let now = clock::now();
    let (idle, absolute) = (now - IDLE_TIMEOUT_SECS, now - ABSOLUTE_TIMEOUT_SECS);
    if let Err(e) = state
        .store
        .write(move |c| store::sessions::purge(c, idle, absolute))
        .await
    {
        tracing::warn!(error = %e, "could not purge sessions");
    }
}

/// Write the in-memory metric hours to `metrics_hourly`.
pub async fn roll_up_metrics(state: &AppState) {
    let hours = state.metrics.take_rollup();
    if hours.is_empty() {
        return;
    }
    let rows: Vec<(i64, String)> = hours
        .iter()
        .filter_map(|(h, b)| serde_json::to_string(b).ok().map(|json| (*h, json)))
        .collect();
    let result = state
        .store
        .write(move |c| {
            for (hour, json) in &rows {
                store::orders::save_metrics_hour(c, *hour, json)?;
            }
            Ok::<_, store::StoreError>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "metrics roll-up failed; will retry");
        state.metrics.restore_unflushed(hours);
    }
}

/// Load this hour's rolled-up counts so a restart continues them.
pub async fn resume_metrics(state: &AppState) {
    let hour = crate::metrics::hour_of(clock::now());
    match state
        .store
        .read(move |c| store::orders::load_metrics_hours(c, hour))
        .await
    {
        Ok(rows) => {
            for (h, json) in rows {
                if let Ok(bucket) = serde_json::from_str(&json) {
                    state.metrics.resume(h, bucket);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not resume metrics"),
    }
}

/// Delete events (and their bodies) and outbox emails older than `--retention`, a bounded batch
/// per write so the writer is never held for long.
pub async fn enforce_retention(state: &AppState) {
    let cutoff_ms = clock::now_ms() - state.config.retention.as_millis() as i64;
    let cutoff_secs = cutoff_ms / 1000;
    for table in ["events", "outbox"] {
        loop {
            let deleted = state
                .store
                .write(move |c| match table {
                    "events" => store::orders::delete_events_before(c, cutoff_ms, 5000),
                    _ => store::outbox::delete_before(c, cutoff_secs, 5000),
                })
                .await;
            match deleted {
                Ok(5000) => continue,
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(table, deleted = n, "retention: old rows deleted");
                    break;
                }
                Err(e) => {
                    tracing::warn!(table, error = %e, "retention failed; will retry");
                    break;
                }
            }
        }
    }
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
