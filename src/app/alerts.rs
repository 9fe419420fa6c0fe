//! Alerts about destinations in trouble (CONTRACT section 10, "Dead letters and alerts"): when a
//! destination's circuit opens, when it is disabled, or when one of its deliveries becomes a dead
//! letter, every admin is emailed, at most once per destination per hour.
//!
//! The worker's report decides what happened with the pure functions here ([`raised_by`],
//! [`collect`], [`due`]); [`notify`] then runs inside the same writer job that records the outcomes, so
//! an outcome and its alert commit together. Precisely:
//! - **circuit opened**: the circuit breaker reports that an attempt opened it, also a re-open
//!   after a failed probe.
//! - **disabled**: an attempt's answer disabled the destination (410 Gone). An admin switching a
//!   destination off is not alerted.
//! - **first failed delivery**: a delivery of the destination became `failed` (its last attempt
//!   failed) while the destination was not alerted in the last hour. Later dead letters within
//!   that hour are not emailed (they are listed by the API, counted by health); the first one
//!   after the hour is.
//! - **once per destination per hour**: `destinations.alerted_at` keeps when the admins were last
//!   emailed about the destination, whatever the cause; nothing more goes before an hour has
//!   passed ([`due`]). What happens to one destination in one report is one email listing all of
//!   it. With no admin nothing is sent and nothing is marked.

use crate::{
    clock,
    domain::delivery::{DisableReason, Step},
    emails::{self, DestinationAlert},
    store::{self, StoreResult},
};
use rusqlite::Connection;

/// The least time between two alerts about one destination, in seconds.
pub const QUIET_SECS: i64 = 3600;

/// One thing that happened to a destination that its admins hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its circuit opened (or re-opened), until this moment (unix ms).
    CircuitOpened { until_ms: i64 },
    /// Its answer disabled it.
    Disabled { reason: DisableReason },
    /// A delivery to it failed its last attempt.
    DeadLetter,
}

/// What a finished attempt whose delivery takes `step` raises, apart from opening the circuit
/// (the circuit breaker says that).
pub fn raised_by(step: &Step) -> Option<Trigger> {
    match *step {
        Step::DisableDestination { reason } => Some(Trigger::Disabled { reason }),
        Step::Failed => Some(Trigger::DeadLetter),
        Step::Succeeded | Step::RetryAt { .. } => None,
    }
}

/// Everything that happened to one destination in one report: one email per admin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alert {
    pub destination_id: String,
    /// The circuit opened, until then (unix ms; the latest if it opened more than once).
    pub circuit_open_until_ms: Option<i64>,
    pub disabled: Option<DisableReason>,
    pub dead_letters: u32,
}

/// Group `(destination_id, trigger)` pairs into one alert per destination, in the order the
/// destinations first appear.
pub fn collect(raised: impl IntoIterator<Item = (String, Trigger)>) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = Vec::new();
    for (destination_id, trigger) in raised {
        let i = match alerts
            .iter()
            .position(|a| a.destination_id == destination_id)
        {
            Some(i) => i,
            None => {
                alerts.push(Alert {
                    destination_id,
                    ..Alert::default()
                });
                alerts.len() - 1
            }
        };
        let alert = &mut alerts[i];
        match trigger {
            Trigger::CircuitOpened { until_ms } => {
                alert.circuit_open_until_ms = alert.circuit_open_until_ms.max(Some(until_ms));
            }
            Trigger::Disabled { reason } => alert.disabled = Some(reason),
            Trigger::DeadLetter => alert.dead_letters = alert.dead_letters.saturating_add(1),
        }
    }
    alerts
}

/// Whether a destination whose admins were last alerted at `last_alerted_at` may be alerted
/// again at `now` (unix seconds).
pub fn due(last_alerted_at: Option<i64>, now: i64) -> bool {
    last_alerted_at.is_none_or(|last| now - last >= QUIET_SECS)
}

/// Inside the writer job that records the outcomes: email every admin about each alert that is
/// [`due`], and remember when. `now` is unix seconds.
pub fn notify(conn: &Connection, alerts: &[Alert], now: i64, public_url: &str) -> StoreResult<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let admins = store::admins::emails(conn)?;
    if admins.is_empty() {
        return Ok(());
    }
    let at = clock::rfc3339(now);
    for alert in alerts {
        let Some((name, last)) = store::alerts::last_alert(conn, &alert.destination_id)? else {
            continue;
        };
        if !due(last, now) {
            tracing::info!(destination = %alert.destination_id, "alert held: one went out in the last hour");
            continue;
        }
        let until = alert.circuit_open_until_ms.map(clock::rfc3339_ms);
        let view = DestinationAlert {
            destination_id: &alert.destination_id,
            name: &name,
            at: &at,
            circuit_open_until: until.as_deref(),
            disabled_reason: alert.disabled.map(DisableReason::as_str),
            dead_letters: alert.dead_letters,
        };
        for to in &admins {
            store::outbox::enqueue(conn, &emails::destination_alert(to, &view, public_url), now)?;
        }
        store::alerts::mark_alerted(conn, &alert.destination_id, now)?;
        tracing::warn!(destination = %alert.destination_id, admins = admins.len(), "destination alert emailed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GONE: DisableReason = DisableReason::Gone;

    #[test]
    fn a_dead_letter_and_a_disabling_answer_raise_alerts() {
        assert_eq!(raised_by(&Step::Succeeded), None);
        assert_eq!(raised_by(&Step::RetryAt { not_before_ms: 5 }), None);
        assert_eq!(raised_by(&Step::Failed), Some(Trigger::DeadLetter));
        assert_eq!(
            raised_by(&Step::DisableDestination { reason: GONE }),
            Some(Trigger::Disabled { reason: GONE })
        );
    }

    #[test]
    fn one_alert_per_destination_gathers_what_happened_to_it() {
        let raised = [
            ("b", Trigger::DeadLetter),
            ("a", Trigger::CircuitOpened { until_ms: 5 }),
            ("b", Trigger::DeadLetter),
            ("a", Trigger::CircuitOpened { until_ms: 7 }),
            ("a", Trigger::Disabled { reason: GONE }),
        ]
        .map(|(id, t)| (id.to_string(), t));
        assert_eq!(
            collect(raised),
            [
                Alert {
                    destination_id: "b".into(),
                    dead_letters: 2,
                    ..Alert::default()
                },
                Alert {
                    destination_id: "a".into(),
                    circuit_open_until_ms: Some(7),
                    disabled: Some(GONE),
                    dead_letters: 0,
                },
            ]
        );
        assert_eq!(collect([]), []);
    }

    #[test]
    fn a_destination_is_alerted_at_most_once_an_hour() {
        assert!(due(None, 0), "never alerted");
        assert!(!due(Some(1000), 1000));
        assert!(!due(Some(1000), 1000 + QUIET_SECS - 1));
        assert!(due(Some(1000), 1000 + QUIET_SECS));
        assert!(due(Some(1000), 1000 + 10 * QUIET_SECS));
    }
}
