//! The delivery queue (CONTRACT section 10, ARCHITECTURE "Storage"): one row per (event,
//! destination), written in the event's own transaction; claimed by the worker with a lease, so a
//! crash re-sends after the lease (at least once); every attempt logged.

use super::{StoreResult, optional};
use rusqlite::{Connection, params};

/// Create a pending delivery of `event_id` to each of `destination_ids`, due now.
pub fn enqueue(
    conn: &Connection,
    event_id: &str,
    destination_ids: &[String],
    now_ms: i64,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO deliveries (id, event_id, destination_id, status, next_attempt_ms, created_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
    )?;
    for destination_id in destination_ids {
        stmt.execute(params![
            super::new_id("dlv"),
            event_id,
            destination_id,
            now_ms,
            now_ms.div_euclid(1000)
        ])?;
    }
    Ok(())
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub event_id: String,
    pub destination_id: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// Claim up to `limit` due deliveries of one destination until `lease_until_ms` (index-driven:
/// `deliveries_due`).
pub fn claim(
    conn: &Connection,
    destination_id: &str,
    now_ms: i64,
    lease_until_ms: i64,
    limit: u32,
) -> StoreResult<Vec<Claimed>> {
    let rows = conn
        .prepare_cached(
            "UPDATE deliveries SET lease_until_ms = ?3 WHERE id IN (
                 SELECT id FROM deliveries
                 WHERE destination_id = ?1 AND status = 'pending' AND next_attempt_ms <= ?2
                   AND (lease_until_ms IS NULL OR lease_until_ms <= ?2)
                 ORDER BY next_attempt_ms LIMIT ?4)
             RETURNING id, event_id, destination_id, attempts",
        )?
        .query_map(
            params![destination_id, now_ms, lease_until_ms, limit],
            |r| {
                Ok(Claimed {
                    id: r.get(0)?,
                    event_id: r.get(1)?,
                    destination_id: r.get(2)?,
                    attempts: r.get(3)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// What an attempt (or a decision not to attempt) did to a delivery.
#[derive(Debug, Clone)]
pub struct Report {
    pub delivery_id: String,
    pub at_ms: i64,
    /// Whether an attempt was made (and counts); false for a release without sending.
    pub attempted: bool,
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: &'static str,
    pub next_attempt_ms: i64,
    /// The attempt failed (for the "recovered" count).
    pub failed: bool,
}

/// Record a report: the attempt log entry, and the delivery's new state (lease released). The
/// entry carries its delivery's destination, for the per-destination stats.
pub fn report(conn: &Connection, r: &Report) -> StoreResult<()> {
    if r.attempted {
        conn.prepare_cached(
            "INSERT INTO delivery_attempts
                 (delivery_id, destination_id, at_ms, status_code, duration_ms, error, excerpt)
             SELECT ?1, destination_id, ?2, ?3, ?4, ?5, ?6 FROM deliveries WHERE id = ?1",
        )?
        .execute(params![
            r.delivery_id,
            r.at_ms,
            r.status_code,
            r.duration_ms,
            r.error,
            r.excerpt
        ])?;
    }
    conn.prepare_cached(
        "UPDATE deliveries SET status = ?2, next_attempt_ms = ?3, lease_until_ms = NULL,
             attempts = attempts + ?4, failed_attempts = failed_attempts + ?5,
             last_status_code = CASE WHEN ?4 = 1 OR ?6 IS NOT NULL THEN ?6
                                     ELSE last_status_code END,
             last_error = CASE WHEN ?4 = 1 OR ?7 IS NOT NULL THEN ?7 ELSE last_error END,
             delivered_at = CASE WHEN ?2 = 'succeeded' THEN ?8 ELSE delivered_at END
         WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![
        r.delivery_id,
        r.status,
        r.next_attempt_ms,
        i64::from(r.attempted),
        i64::from(r.failed),
        r.status_code,
        r.error,
        r.at_ms.div_euclid(1000)
    ])?;
    Ok(())
}

/// Give back a claimed delivery that was not sent: another claim may take it at once.
pub fn release(conn: &Connection, delivery_id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE deliveries SET lease_until_ms = NULL WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![delivery_id])?;
    Ok(())
}

/// A delivery as listed.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub destination_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str = "id, event_id, destination_id, status, attempts, next_attempt_ms, \
    last_status_code, last_error, created_at, delivered_at, rowid";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Delivery, i64)> {
    Ok((
        Delivery {
            id: r.get(0)?,
            event_id: r.get(1)?,
            destination_id: r.get(2)?,
            status: r.get(3)?,
            attempts: r.get(4)?,
            next_attempt_ms: r.get(5)?,
            last_status_code: r.get(6)?,
            last_error: r.get(7)?,
            created_at: r.get(8)?,
            delivered_at: r.get(9)?,
        },
        r.get(10)?,
    ))
}

/// Filters of the delivery list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub destination_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<String>,
    /// Rowid cursor: older than this.
    pub before: Option<i64>,
}

/// Deliveries newest first, with their rowid (the cursor).
pub fn list(conn: &Connection, f: &Filter, limit: u32) -> StoreResult<Vec<(Delivery, i64)>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM deliveries
         WHERE (?1 IS NULL OR destination_id = ?1) AND (?2 IS NULL OR event_id = ?2)
           AND (?3 IS NULL OR status = ?3) AND rowid < ?4
         ORDER BY rowid DESC LIMIT ?5"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            params![
                f.destination_id,
                f.event_id,
                f.status,
                f.before.unwrap_or(i64::MAX),
                limit
            ],
            row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One delivery.
pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<Delivery>> {
    let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1");
    Ok(optional(conn.query_row(&sql, [id], row))?.map(|(d, _)| d))
}

/// One logged attempt.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub at_ms: i64,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
}

/// A delivery's attempts, oldest first.
pub fn attempts(conn: &Connection, delivery_id: &str) -> StoreResult<Vec<AttemptRow>> {
    let rows = conn
        .prepare_cached(
            "SELECT at_ms, status_code, duration_ms, error, excerpt FROM delivery_attempts
             WHERE delivery_id = ?1 ORDER BY id",
        )?
        .query_map([delivery_id], |r| {
            Ok(AttemptRow {
                at_ms: r.get(0)?,
                status_code: r.get(1)?,
                duration_ms: r.get(2)?,
                error: r.get(3)?,
                excerpt: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// What an attempt sends: the event's raw body, its content type, source and topic.
#[derive(Debug, Clone)]
pub struct Payload {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub source: String,
    pub topic: String,
}

/// The payload of an event (`None` once retention deleted it).
pub fn payload(conn: &Connection, event_id: &str) -> StoreResult<Option<Payload>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT body, json_extract(headers, '$.\"content-type\"'), source, topic
             FROM events WHERE id = ?1",
        )?
        .query_row([event_id], |r| {
            Ok(Payload {
                body: r.get::<_, Option<Vec<u8>>>(0)?.unwrap_or_default(),
                content_type: r.get(1)?,
                source: r.get(2)?,
                topic: r.get(3)?,
            })
        }),
    )?)
}

// Recovery (CONTRACT section 10: retry, replay, redeliver). A reset puts a delivery back in the
// queue with a fresh set of attempts, due at once: `pending`, `attempts` 0 (the retry policy
// counts from there; the attempt log keeps every earlier attempt), no lease, no `delivered_at`.
// It never touches a row whose lease is live: that attempt is in flight and will report, and
// resetting under it would send twice at the same time and let the late report overwrite the
// reset. `failed_attempts` stays (a reset delivery that then succeeds was recovered).

/// The guarded reset: by rowid, only from `?2`'s status and only without a live lease at `?3`.
const RESET: &str = "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_ms = ?3,
         lease_until_ms = NULL, delivered_at = NULL
     WHERE rowid = ?1 AND status = ?2 AND (lease_until_ms IS NULL OR lease_until_ms <= ?3)
       AND EXISTS (SELECT 1 FROM events WHERE events.id = deliveries.event_id)";

/// What retrying one delivery needs to know about it.
#[derive(Debug, Clone)]
pub struct RetryTarget {
    pub rowid: i64,
    pub status: String,
    pub attempts: i64,
    /// An attempt holds the delivery until then.
    pub lease_until_ms: Option<i64>,
    /// The event (and its body) is still there, not yet deleted by retention.
    pub event_kept: bool,
}

/// Look up a delivery for a retry.
pub fn retry_target(conn: &Connection, id: &str) -> StoreResult<Option<RetryTarget>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT rowid, status, attempts, lease_until_ms,
                    EXISTS (SELECT 1 FROM events WHERE events.id = deliveries.event_id)
             FROM deliveries WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(RetryTarget {
                rowid: r.get(0)?,
                status: r.get(1)?,
                attempts: r.get(2)?,
                lease_until_ms: r.get(3)?,
                event_kept: r.get(4)?,
            })
        }),
    )?)
}

/// Reset one delivery (see `RESET`) from `status`; false when the guard refused it.
pub fn reset(conn: &Connection, rowid: i64, status: &str, now_ms: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(RESET)?
        .execute(params![rowid, status, now_ms])?;
    Ok(n > 0)
}

/// The deliveries of one destination a replay resets: those in `status` created (unix seconds)
/// in `since..until` (half-open) whose event is still kept and that no attempt holds.
#[derive(Debug, Clone)]
pub struct ReplayFilter {
    pub destination_id: String,
    pub status: &'static str,
    pub since: i64,
    pub until: i64,
}

/// A position in a destination's deliveries, in `deliveries_by_destination` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey {
    pub created_at: i64,
    pub rowid: i64,
}

/// One replay batch: how many rows it looked at, how many it reset and where it stopped.
#[derive(Debug, Clone, Copy)]
pub struct ReplayBatch {
    pub examined: usize,
    pub reset: u64,
    pub last: Option<ReplayKey>,
}

const COUNT_REPLAYABLE: &str = "SELECT count(*) FROM deliveries
     WHERE destination_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND status = ?4
       AND (lease_until_ms IS NULL OR lease_until_ms <= ?5)
       AND EXISTS (SELECT 1 FROM events WHERE events.id = deliveries.event_id)";

/// How many deliveries `f` matches at `now_ms` (a dry run; the same guard as the reset).
pub fn count_replayable(conn: &Connection, f: &ReplayFilter, now_ms: i64) -> StoreResult<u64> {
    Ok(conn
        .prepare_cached(COUNT_REPLAYABLE)?
        .query_row(
            params![f.destination_id, f.since, f.until, f.status, now_ms],
            |r| r.get::<_, i64>(0),
        )?
        .max(0) as u64)
}

/// Look at the next `limit` deliveries of `f`'s destination and window after `after`, and reset
/// those that match. Each batch costs `limit` index steps and row updates whatever the mix of
/// statuses, and a row is looked at once per replay (a reset row that fails again at once is
/// not picked up again).
pub fn replay_batch(
    conn: &Connection,
    f: &ReplayFilter,
    after: Option<ReplayKey>,
    now_ms: i64,
    limit: u32,
) -> StoreResult<ReplayBatch> {
    let keys = next_keys(conn, f, after, limit)?;
    let mut reset_rows = 0;
    let mut stmt = conn.prepare_cached(RESET)?;
    for key in &keys {
        reset_rows += stmt.execute(params![key.rowid, f.status, now_ms])? as u64;
    }
    Ok(ReplayBatch {
        examined: keys.len(),
        reset: reset_rows,
        last: keys.last().copied(),
    })
}

const REST_OF_SECOND: &str = "SELECT created_at, rowid FROM deliveries
     WHERE destination_id = ?1 AND created_at = ?2 AND rowid > ?3 ORDER BY rowid LIMIT ?4";
const LATER_SECONDS: &str = "SELECT created_at, rowid FROM deliveries
     WHERE destination_id = ?1 AND created_at >= ?2 AND created_at < ?3
     ORDER BY created_at, rowid LIMIT ?4";

/// The next `limit` keys of the window after `after`. Two index seeks: the rest of `after`'s
/// second, then the seconds after it (a row-value comparison on `(created_at, rowid)` would scan
/// every row of a busy second from its start).
fn next_keys(
    conn: &Connection,
    f: &ReplayFilter,
    after: Option<ReplayKey>,
    limit: u32,
) -> StoreResult<Vec<ReplayKey>> {
    let key = |r: &rusqlite::Row<'_>| {
        Ok(ReplayKey {
            created_at: r.get(0)?,
            rowid: r.get(1)?,
        })
    };
    let mut keys: Vec<ReplayKey> = Vec::new();
    let from = match after {
        None => f.since,
        Some(a) => {
            keys = conn
                .prepare_cached(REST_OF_SECOND)?
                .query_map(params![f.destination_id, a.created_at, a.rowid, limit], key)?
                .collect::<rusqlite::Result<_>>()?;
            a.created_at.saturating_add(1)
        }
    };
    let wanted = limit.saturating_sub(keys.len() as u32);
    if wanted > 0 {
        let rest = conn
            .prepare_cached(LATER_SECONDS)?
            .query_map(params![f.destination_id, from, f.until, wanted], key)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        keys.extend(rest);
    }
    Ok(keys)
}

/// What redelivering an event needs: where it came from, and whether it was accepted.
#[derive(Debug, Clone)]
pub struct EventRoute {
    pub source: String,
    pub topic: String,
    pub accepted: bool,
}

/// The source, topic and outcome of an event (without its body).
pub fn event_route(conn: &Connection, event_id: &str) -> StoreResult<Option<EventRoute>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT source, topic, outcome = 'accepted' FROM events WHERE id = ?1",
        )?
        .query_row([event_id], |r| {
            Ok(EventRoute {
                source: r.get(0)?,
                topic: r.get(1)?,
                accepted: r.get(2)?,
            })
        }),
    )?)
}

/// A new pending delivery of `event_id` to `destination_id`, due now; returns its id.
pub fn enqueue_one(
    conn: &Connection,
    event_id: &str,
    destination_id: &str,
    now_ms: i64,
) -> StoreResult<String> {
    let id = super::new_id("dlv");
    conn.prepare_cached(
        "INSERT INTO deliveries (id, event_id, destination_id, status, next_attempt_ms, created_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
    )?
    .execute(params![
        id,
        event_id,
        destination_id,
        now_ms,
        now_ms.div_euclid(1000)
    ])?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        c.execute(
            "INSERT INTO destinations (id, name, url, retry, timeout_ms, circuit, created_at,
                 updated_at)
             VALUES ('dst', 'Sink', 'http://127.0.0.1/', '{}', 1000, '{}', 0, 0)",
            [],
        )
        .unwrap();
        c
    }

    fn event(c: &Connection, id: &str) {
        c.execute(
            "INSERT INTO events (id, webhook_id, topic, received_at_ms, client_ip, body_hash,
                 outcome, reason, duration_us)
             VALUES (?1, ?1, 'order.created', 0, '127.0.0.1', x'00', 'accepted', 'created', 0)",
            [id],
        )
        .unwrap();
    }

    /// A delivery to `dst` created at `created_at` (seconds) in `status`; returns its rowid.
    fn delivery(c: &Connection, event_id: &str, created_at: i64, status: &str) -> i64 {
        c.execute(
            "INSERT INTO deliveries (id, event_id, destination_id, status, attempts,
                 next_attempt_ms, created_at)
             VALUES (?1, ?2, 'dst', ?3, 3, 0, ?4)",
            params![super::super::new_id("dlv"), event_id, status, created_at],
        )
        .unwrap();
        c.last_insert_rowid()
    }

    fn status_of(c: &Connection, rowid: i64) -> (String, i64) {
        c.query_row(
            "SELECT status, attempts FROM deliveries WHERE rowid = ?1",
            [rowid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    fn failed_between(since: i64, until: i64) -> ReplayFilter {
        ReplayFilter {
            destination_id: "dst".into(),
            status: "failed",
            since,
            until,
        }
    }

    /// Run a whole replay in batches of `limit`, as the app does: (examined, reset).
    fn replay_all(c: &Connection, f: &ReplayFilter, limit: u32) -> (usize, u64) {
        let (mut after, mut examined, mut reset) = (None, 0, 0);
        loop {
            let b = replay_batch(c, f, after, 1_000, limit).unwrap();
            examined += b.examined;
            reset += b.reset;
            after = b.last.or(after);
            if b.examined < limit as usize {
                return (examined, reset);
            }
        }
    }

    #[test]
    fn a_replay_looks_at_each_row_of_its_window_once_and_resets_the_matching_ones() {
        let c = db();
        event(&c, "evt_1");
        // Many rows in one second, so the cursor has to move inside a second.
        let mut failed = Vec::new();
        for _ in 0..5 {
            failed.push(delivery(&c, "evt_1", 100, "failed"));
        }
        let succeeded = delivery(&c, "evt_1", 100, "succeeded");
        failed.push(delivery(&c, "evt_1", 150, "failed"));
        let too_late = delivery(&c, "evt_1", 200, "failed");
        let too_early = delivery(&c, "evt_1", 99, "failed");
        let f = failed_between(100, 200);
        assert_eq!(count_replayable(&c, &f, 1_000).unwrap(), 6);
        assert_eq!(replay_all(&c, &f, 2), (7, 6));
        for rowid in failed {
            assert_eq!(status_of(&c, rowid), ("pending".into(), 0));
        }
        assert_eq!(status_of(&c, succeeded).0, "succeeded");
        assert_eq!(status_of(&c, too_late).0, "failed", "until is exclusive");
        assert_eq!(status_of(&c, too_early).0, "failed");
        assert_eq!(count_replayable(&c, &f, 1_000).unwrap(), 0);
    }

    #[test]
    fn a_live_lease_or_a_deleted_event_keeps_a_delivery_from_being_reset() {
        let c = db();
        event(&c, "evt_1");
        let leased = delivery(&c, "evt_1", 100, "pending");
        c.execute(
            "UPDATE deliveries SET lease_until_ms = 5000 WHERE rowid = ?1",
            [leased],
        )
        .unwrap();
        let expired_event = delivery(&c, "evt_gone", 100, "pending");
        assert!(!reset(&c, leased, "pending", 4_999).unwrap(), "in flight");
        assert!(!reset(&c, expired_event, "pending", 4_999).unwrap());
        assert!(reset(&c, leased, "pending", 5_000).unwrap(), "lease over");
        let (next, lease): (i64, Option<i64>) = c
            .query_row(
                "SELECT next_attempt_ms, lease_until_ms FROM deliveries WHERE rowid = ?1",
                [leased],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((next, lease), (5_000, None), "due now, unclaimed");
        assert!(
            !reset(&c, leased, "failed", 5_000).unwrap(),
            "only from the given status"
        );
    }

    /// A replay shares the writer with ingest: each of its statements follows an index.
    #[test]
    fn replay_queries_follow_indexes() {
        let c = db();
        for sql in [RESET, REST_OF_SECOND, LATER_SECONDS, COUNT_REPLAYABLE] {
            crate::store::plan::assert_indexed(&c, sql);
        }
    }
}
