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
             last_status_code = CASE WHEN ?4 = 1 THEN ?6 ELSE last_status_code END,
             last_error = CASE WHEN ?4 = 1 THEN ?7 ELSE last_error END,
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
