//! Background loops. Each runs one `app` use case on a period and logs what fails; the next
//! tick retries. The handles are aborted when the server stops.

pub mod deliver;

use crate::{app, state::AppState};
use std::{future::Future, time::Duration};
use tokio::task::JoinHandle;

/// Start every background loop.
pub fn spawn_all(state: AppState) -> Vec<JoinHandle<()>> {
    let interval = state.config.jobs_interval;
    let mut jobs = vec![
        every(interval, state.clone(), |s| async move {
            if let Err(e) = app::secrets::rotate_due(&s).await {
                tracing::warn!(error = %e, "rotation job could not read due secrets");
            }
        }),
        every(Duration::from_secs(60), state.clone(), |s| async move {
            s.limits.retain_recent();
            if let Err(e) = app::sessions::purge_expired(&s).await {
                tracing::warn!(error = %e, "could not purge sessions");
            }
        }),
        every(interval, state.clone(), |s| async move {
            if let Err(e) = app::maintenance::roll_up_metrics(&s).await {
                tracing::warn!(error = %e, "metrics roll-up failed; will retry");
            }
        }),
        every(interval, state.clone(), |s| async move {
            if let Err(e) = app::maintenance::enforce_retention(&s).await {
                tracing::warn!(error = %e, "retention failed; will retry");
            }
            if let Err(e) = app::maintenance::redact_expired_codes(&s).await {
                tracing::warn!(error = %e, "code redaction failed; will retry");
            }
        }),
    ];
    if state.config.smtp_url.is_some() {
        jobs.push(every(
            interval.min(Duration::from_secs(10)),
            state,
            |s| async move {
                if let Err(e) = app::maintenance::deliver_outbox(&s).await {
                    tracing::warn!(error = %e, "mailer could not read the outbox");
                }
            },
        ));
    }
    jobs
}

/// Run `f` every `period` (the first run at once), never two runs at the same time.
fn every<F, Fut>(period: Duration, state: AppState, f: F) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
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
