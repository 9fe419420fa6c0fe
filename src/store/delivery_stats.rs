//! What the delivery stats, health and `/metrics` read (CONTRACT section 10): a destination's
//! attempts over a window, and the state of every destination and of the queue. Every query is a
//! range of an index of migration 6 (see `queries_follow_indexes`), so it costs the rows it
//! counts, never a walk over the whole log.

use super::{StoreResult, optional};
use rusqlite::{Connection, params};

/// A destination's attempts logged since a moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// Attempts answered 2xx.
    pub succeeded: u64,
    /// Every other attempt (410 is not logged as an attempt).
    pub failed: u64,
    /// Deliveries that succeeded in the window after at least one failed attempt.
    pub recovered: u64,
    /// Every attempt's duration, in log order.
    pub durations_ms: Vec<i64>,
}

pub(crate) const WINDOW_ATTEMPTS: &str = "SELECT status_code BETWEEN 200 AND 299, duration_ms
     FROM delivery_attempts WHERE destination_id = ?1 AND at_ms >= ?2";

pub(crate) const WINDOW_RECOVERED: &str = "SELECT count(*) FROM deliveries
     WHERE destination_id = ?1 AND failed_attempts > 0 AND delivered_at >= ?2
       AND status = 'succeeded'";

/// The attempts of `destination_id` since `since_ms` (unix ms), and the deliveries that
/// recovered since then.
pub fn window(conn: &Connection, destination_id: &str, since_ms: i64) -> StoreResult<Window> {
    let mut w = Window::default();
    let mut stmt = conn.prepare_cached(WINDOW_ATTEMPTS)?;
    let mut rows = stmt.query(params![destination_id, since_ms])?;
    while let Some(r) = rows.next()? {
        if r.get::<_, Option<bool>>(0)?.unwrap_or(false) {
            w.succeeded += 1;
        } else {
            w.failed += 1;
        }
        w.durations_ms.push(r.get(1)?);
    }
    let recovered: i64 = conn
        .prepare_cached(WINDOW_RECOVERED)?
        .query_row(params![destination_id, since_ms.div_euclid(1000)], |r| {
            r.get(0)
        })?;
    w.recovered = recovered.unsigned_abs();
    Ok(w)
}

/// A destination as health and `/metrics` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationHealth {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// `closed`, `open` or `half_open`, as last persisted by the worker.
    pub circuit_state: String,
    /// Its deliveries that became `failed` since the moment asked about.
    pub failed_recently: i64,
}

/// The oldest pending delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldestPending {
    pub destination_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Every destination and the queue, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub destinations: Vec<DestinationHealth>,
    /// Pending deliveries, all destinations together.
    pub pending: i64,
    pub oldest_pending: Option<OldestPending>,
}

pub(crate) const DESTINATIONS: &str = "SELECT id, name, enabled, disabled_reason, circuit_state,
         (SELECT count(*) FROM deliveries f
          WHERE f.destination_id = d.id AND f.status = 'failed' AND f.next_attempt_ms >= ?1)
     FROM destinations d ORDER BY created_at, id";

pub(crate) const PENDING: &str = "SELECT count(*) FROM deliveries WHERE status = 'pending'";

pub(crate) const OLDEST_PENDING: &str = "SELECT destination_id, created_at FROM deliveries
     WHERE status = 'pending' ORDER BY created_at LIMIT 1";

/// Every destination (with its dead letters since `failed_since_ms`), the queue depth and the
/// oldest pending delivery.
pub fn overview(conn: &Connection, failed_since_ms: i64) -> StoreResult<Overview> {
    let destinations = conn
        .prepare_cached(DESTINATIONS)?
        .query_map([failed_since_ms], |r| {
            Ok(DestinationHealth {
                id: r.get(0)?,
                name: r.get(1)?,
                enabled: r.get(2)?,
                disabled_reason: r.get(3)?,
                circuit_state: r.get(4)?,
                failed_recently: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let pending = conn.prepare_cached(PENDING)?.query_row([], |r| r.get(0))?;
    let oldest_pending = optional(conn.prepare_cached(OLDEST_PENDING)?.query_row([], |r| {
        Ok(OldestPending {
            destination_id: r.get(0)?,
            created_at: r.get(1)?,
        })
    }))?;
    Ok(Overview {
        destinations,
        pending,
        oldest_pending,
    })
}

pub(crate) const ATTEMPT_TIMES: &str = "SELECT at_ms, coalesce(status_code BETWEEN 200 AND 299, 0)
     FROM delivery_attempts WHERE destination_id = ?1 AND at_ms >= ?2";

/// When each attempt of `destination_id` since `since_ms` was made and whether it got a 2xx, for
/// the hourly chart (the same covering index as `window`).
pub fn attempt_times(
    conn: &Connection,
    destination_id: &str,
    since_ms: i64,
) -> StoreResult<Vec<(i64, bool)>> {
    let rows = conn
        .prepare_cached(ATTEMPT_TIMES)?
        .query_map(params![destination_id, since_ms], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrations::migrate;

    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        crate::store::plan::steps(conn, sql)
    }

    /// The queries over deliveries and attempts search an index; only the few destinations are
    /// scanned (and sorted).
    #[test]
    fn queries_follow_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for (sql, index) in [
            (WINDOW_ATTEMPTS, "delivery_attempts_by_destination"),
            (ATTEMPT_TIMES, "delivery_attempts_by_destination"),
            (WINDOW_RECOVERED, "deliveries_recovered"),
            (DESTINATIONS, "deliveries_failed_by_time"),
            (PENDING, "deliveries_pending_by_age"),
            (OLDEST_PENDING, "deliveries_pending_by_age"),
        ] {
            let steps = plan(&conn, sql);
            assert!(
                steps.iter().any(|s| s.contains(index)),
                "{sql}\ndoes not use {index}: {steps:#?}"
            );
            let tables = steps
                .iter()
                .filter(|s| s.starts_with("SCAN") && !s.contains("INDEX"));
            assert!(
                tables.into_iter().all(|s| s == "SCAN d"),
                "{sql}\nscans a table: {steps:#?}"
            );
        }
    }

    #[test]
    fn the_window_counts_attempts_recoveries_and_keeps_durations() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO destinations (id, name, url, retry, timeout_ms, circuit, created_at,
                 updated_at) VALUES ('dst_1', 'D', 'http://x/', '{}', 1000, '{}', 0, 0);
             INSERT INTO deliveries (id, event_id, destination_id, status, attempts,
                 next_attempt_ms, failed_attempts, created_at, delivered_at) VALUES
                 ('dlv_old', 'e0', 'dst_1', 'succeeded', 1, 0, 0, 0, 0),
                 ('dlv_ok', 'e1', 'dst_1', 'succeeded', 1, 0, 0, 100, 100),
                 ('dlv_rec', 'e2', 'dst_1', 'succeeded', 2, 0, 1, 100, 101),
                 ('dlv_dead', 'e3', 'dst_1', 'failed', 1, 102000, 1, 100, NULL);",
        )
        .unwrap();
        for (delivery, at_ms, status, duration) in [
            ("dlv_old", 0, Some(200), 1),
            ("dlv_ok", 100_000, Some(200), 10),
            ("dlv_rec", 100_000, Some(500), 20),
            ("dlv_rec", 101_000, Some(204), 30),
            ("dlv_dead", 102_000, None, 40),
        ] {
            let r = crate::store::deliveries::Report {
                delivery_id: delivery.into(),
                at_ms,
                attempted: true,
                status_code: status,
                duration_ms: duration,
                error: None,
                excerpt: None,
                status: "pending",
                next_attempt_ms: 0,
                failed: false,
            };
            crate::store::deliveries::report(&conn, &r).unwrap();
        }
        let w = window(&conn, "dst_1", 50_000).unwrap();
        assert_eq!((w.succeeded, w.failed, w.recovered), (2, 2, 1));
        assert_eq!(w.durations_ms, [10, 20, 30, 40]);
        assert_eq!(window(&conn, "dst_2", 0).unwrap(), Window::default());

        let o = overview(&conn, 101_000).unwrap();
        assert_eq!(o.destinations[0].failed_recently, 1);
        assert_eq!(
            overview(&conn, 103_000).unwrap().destinations[0].failed_recently,
            0
        );
        assert_eq!((o.pending, o.oldest_pending), (0, None));
    }
}
