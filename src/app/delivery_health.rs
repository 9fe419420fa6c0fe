//! How the outbound deliveries are doing (CONTRACT section 10): a destination's `stats_24h`, the
//! delivery part of the health verdict, and the gauges `/metrics` reads at scrape time.
//!
//! Health, precisely (issues are added after the webhook ones, so those keep their place):
//! - **warning** while an enabled destination's circuit is `open` or `half_open` (as the worker
//!   last stored it), and while a destination has a delivery that became `failed` in the last
//!   24 hours;
//! - **critical** while a destination is disabled by its own answer (`disabled_reason`, e.g.
//!   `gone`; a destination an admin switched off is a decision, not a problem), and while the
//!   oldest pending delivery was created more than an hour ago — waiting for a retry, a closed
//!   circuit's cool-down or a disabled destination alike.

use super::{AppResult, health::Health};
use crate::{
    metrics::deliveries::DeliveryGauges,
    state::AppState,
    store::delivery_stats::{self, Overview, Window},
};

/// The stats window.
const DAY_MS: i64 = 24 * 3600 * 1000;
/// A pending delivery older than this makes health critical, in seconds.
pub const STUCK_AFTER_SECS: i64 = 3600;

/// A destination's attempts over the last 24 hours (`stats_24h`).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats24h {
    pub attempts: u64,
    /// Attempts answered 2xx.
    pub succeeded: u64,
    /// Other attempts (410 uses no attempt and is not counted).
    pub failed: u64,
    /// Deliveries that succeeded in the window after at least one failed attempt.
    pub recovered: u64,
    /// `succeeded / attempts` in percent with 2 decimals; `None` without attempts.
    pub success_rate: Option<f64>,
    /// 95th percentile of the attempts' durations (nearest rank); `None` without attempts.
    pub p95_ms: Option<i64>,
}

/// The stats of a window of attempts.
pub fn summarize(mut w: Window) -> Stats24h {
    let attempts = w.succeeded + w.failed;
    let success_rate =
        (attempts > 0).then(|| (w.succeeded as f64 * 10_000.0 / attempts as f64).round() / 100.0);
    Stats24h {
        attempts,
        succeeded: w.succeeded,
        failed: w.failed,
        recovered: w.recovered,
        success_rate,
        p95_ms: nearest_rank(&mut w.durations_ms, 95),
    }
}

/// The `percent`th percentile of `values` by nearest rank (an observed value); `None` when
/// empty. Reorders `values`.
fn nearest_rank(values: &mut [i64], percent: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = (values.len() * percent).div_ceil(100).max(1);
    let (_, nth, _) = values.select_nth_unstable(rank - 1);
    Some(*nth)
}

/// `stats_24h` of a destination, at the state's clock.
pub async fn stats_24h(state: &AppState, destination_id: &str) -> AppResult<Stats24h> {
    let id = destination_id.to_string();
    let since = state.now_ms() - DAY_MS;
    let window = state
        .store
        .read(move |c| delivery_stats::window(c, &id, since))
        .await?;
    Ok(summarize(window))
}

/// Every destination and the queue now, with the dead letters of the last 24 hours.
pub async fn overview(state: &AppState) -> AppResult<Overview> {
    let since = state.now_ms() - DAY_MS;
    Ok(state
        .store
        .read(move |c| delivery_stats::overview(c, since))
        .await?)
}

/// The gauges of an overview at `now` (unix seconds).
pub fn gauges(o: &Overview, now: i64) -> DeliveryGauges {
    DeliveryGauges {
        pending: o.pending,
        oldest_pending_secs: o
            .oldest_pending
            .as_ref()
            .map_or(0, |p| (now - p.created_at).max(0)),
        circuits: o
            .destinations
            .iter()
            .map(|d| (d.id.clone(), d.circuit_state != "closed"))
            .collect(),
    }
}

/// The verdict's levels, mildest first.
const LEVELS: [&str; 3] = ["healthy", "warning", "critical"];

/// Add the deliveries' issues to a health verdict at `now` (unix seconds), raising its status.
pub fn assess(mut h: Health, o: &Overview, now: i64) -> Health {
    let mut level = LEVELS.iter().position(|l| *l == h.status).unwrap_or(0);
    let mut raise = |to: usize, issue: String, recommendation: String| {
        level = level.max(to);
        h.issues.push(issue);
        h.recommendations.push(recommendation);
    };
    for d in &o.destinations {
        let (name, id) = (&d.name, &d.id);
        if let Some(reason) = d.disabled_reason.as_deref().filter(|_| !d.enabled) {
            raise(
                2,
                format!("Destination {name} is disabled ({reason}): its deliveries wait."),
                format!(
                    "Fix or re-point {name}, then enable it again: PATCH \
                     /api/v1/admin/destinations/{id} with {{\"enabled\": true}}."
                ),
            );
        } else if d.enabled && d.circuit_state != "closed" {
            raise(
                1,
                format!("Destination {name} has its circuit open: nothing is sent to it for now."),
                format!(
                    "Check that {name} is up; its attempts are at \
                     /api/v1/admin/deliveries?destination_id={id}."
                ),
            );
        }
        if d.failed_recently > 0 {
            let n = d.failed_recently;
            let deliveries = if n == 1 { "delivery" } else { "deliveries" };
            raise(
                1,
                format!("{n} {deliveries} to {name} failed in the last 24 hours."),
                format!(
                    "Once {name} is fixed, replay them: POST \
                     /api/v1/admin/destinations/{id}/replay with {{\"status\": \"failed\"}}."
                ),
            );
        }
    }
    if let Some(oldest) = &o.oldest_pending {
        let waited = now - oldest.created_at;
        if waited > STUCK_AFTER_SECS {
            let id = &oldest.destination_id;
            let name = o
                .destinations
                .iter()
                .find(|d| &d.id == id)
                .map_or(id.as_str(), |d| d.name.as_str());
            raise(
                2,
                format!(
                    "The oldest pending delivery (to {name}) has waited {} minutes.",
                    waited / 60
                ),
                format!(
                    "See why at /api/v1/admin/destinations/{id} (circuit, disabled) and \
                     /api/v1/admin/deliveries?destination_id={id}&status=pending."
                ),
            );
        }
    }
    h.status = LEVELS[level];
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        metrics::Bucket,
        store::delivery_stats::{DestinationHealth, OldestPending},
    };

    fn healthy() -> Health {
        Health {
            status: "healthy",
            issues: vec!["webhooks".into()],
            recommendations: vec![],
            window: Bucket::default(),
        }
    }

    fn destination(circuit: &str, enabled: bool, reason: Option<&str>, failed: i64) -> Overview {
        Overview {
            destinations: vec![DestinationHealth {
                id: "dst_1".into(),
                name: "Fulfilment".into(),
                enabled,
                disabled_reason: reason.map(str::to_string),
                circuit_state: circuit.into(),
                failed_recently: failed,
            }],
            ..Overview::default()
        }
    }

    #[test]
    fn stats_give_the_rate_with_two_decimals_and_the_nearest_rank_p95() {
        let s = summarize(Window {
            succeeded: 2,
            failed: 1,
            recovered: 1,
            durations_ms: vec![30, 10, 20],
        });
        assert_eq!(s.attempts, 3);
        assert_eq!(s.success_rate, Some(66.67));
        assert_eq!(s.p95_ms, Some(30));
        let empty = summarize(Window::default());
        assert_eq!(
            (empty.attempts, empty.success_rate, empty.p95_ms),
            (0, None, None)
        );
        let mut hundred: Vec<i64> = (1..=100).rev().collect();
        assert_eq!(nearest_rank(&mut hundred, 95), Some(95));
        assert_eq!(nearest_rank(&mut [7], 95), Some(7));
    }

    #[test]
    fn deliveries_warn_or_make_health_critical_after_the_webhook_issues() {
        let quiet = destination("closed", true, None, 0);
        assert_eq!(assess(healthy(), &quiet, 0), healthy());

        let open = assess(healthy(), &destination("open", true, None, 0), 0);
        assert_eq!(open.status, "warning");
        assert_eq!(open.issues[0], "webhooks", "the webhook issues come first");
        assert!(open.issues[1].contains("circuit open"), "{open:?}");
        assert!(open.recommendations[0].contains("dst_1"));

        let dead = assess(healthy(), &destination("closed", true, None, 2), 0);
        assert_eq!(dead.status, "warning");
        assert!(dead.issues[1].contains("2 deliveries to Fulfilment failed"));

        let gone = assess(healthy(), &destination("open", false, Some("gone"), 0), 0);
        assert_eq!(gone.status, "critical");
        assert_eq!(gone.issues.len(), 2, "disabled, not also open: {gone:?}");
        assert!(gone.issues[1].contains("disabled (gone)"));

        let paused = assess(healthy(), &destination("closed", false, None, 0), 0);
        assert_eq!(paused.status, "healthy", "an admin's decision");
    }

    #[test]
    fn a_delivery_pending_for_over_an_hour_is_critical() {
        let mut o = destination("closed", true, None, 0);
        o.pending = 1;
        o.oldest_pending = Some(OldestPending {
            destination_id: "dst_1".into(),
            created_at: 1000,
        });
        assert_eq!(
            assess(healthy(), &o, 1000 + STUCK_AFTER_SECS).status,
            "healthy"
        );
        let stuck = assess(healthy(), &o, 1000 + STUCK_AFTER_SECS + 60);
        assert_eq!(stuck.status, "critical");
        assert!(stuck.issues[1].contains("(to Fulfilment) has waited 61 minutes"));
        let mut critical = healthy();
        critical.status = "critical";
        assert_eq!(assess(critical, &o, 0).status, "critical", "never lowered");
    }

    #[test]
    fn gauges_read_the_queue_and_circuits() {
        let mut o = destination("half_open", true, None, 0);
        o.pending = 3;
        o.oldest_pending = Some(OldestPending {
            destination_id: "dst_1".into(),
            created_at: 100,
        });
        let g = gauges(&o, 160);
        assert_eq!((g.pending, g.oldest_pending_secs), (3, 60));
        assert_eq!(g.circuits, [("dst_1".to_string(), true)]);
        assert_eq!(gauges(&Overview::default(), 5).oldest_pending_secs, 0);
    }
}
