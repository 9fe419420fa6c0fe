//! Every email the system produces is written here first; the mailer job sends it if SMTP is
//! configured. The outbox is both the delivery queue and the record.

use super::StoreResult;
use crate::emails::{OutgoingEmail, REDACTED_BODY, REDACTED_SUBJECT};
use rusqlite::{Connection, params};

/// An email as stored.
#[derive(Debug, Clone)]
pub struct StoredEmail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Queue an email.
pub fn enqueue(conn: &Connection, email: &OutgoingEmail, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (to_addr, subject, body, created_at, next_attempt_at, redact_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    )?
    .execute(params![
        email.to,
        email.subject,
        email.body,
        now,
        email.redact_at
    ])?;
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEmail> {
    Ok(StoredEmail {
        id: r.get(0)?,
        to: r.get(1)?,
        subject: r.get(2)?,
        body: r.get(3)?,
        created_at: r.get(4)?,
        sent_at: r.get(5)?,
        attempts: r.get(6)?,
        last_error: r.get(7)?,
    })
}

const COLUMNS: &str = "id, to_addr, subject, body, created_at, sent_at, attempts, last_error";

/// Newest first, optionally only those to one address, older than the `before` id cursor.
pub fn list(
    conn: &Connection,
    to: Option<&str>,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Vec<StoredEmail>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE (?1 IS NULL OR to_addr = ?1 COLLATE NOCASE)
         AND id < ?2 ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![to, before.unwrap_or(i64::MAX), limit], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Unsent emails whose next attempt is due, the longest-due first. The order follows the
/// `outbox_unsent` index, so a backlog of millions (SMTP down for days) costs `limit` rows.
pub fn due(conn: &Connection, now: i64, limit: u32) -> StoreResult<Vec<StoredEmail>> {
    let mut stmt = conn.prepare_cached(&due_sql())?;
    let rows = stmt.query_map(params![now, limit], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn due_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2"
    )
}

/// Record a delivery; an email carrying a one-time code is redacted at once.
pub fn mark_sent(conn: &Connection, id: i64, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL,
             subject = CASE WHEN redact_at IS NULL THEN subject ELSE ?3 END,
             body = CASE WHEN redact_at IS NULL THEN body ELSE ?4 END,
             redact_at = NULL
         WHERE id = ?1",
        params![id, now, REDACTED_SUBJECT, REDACTED_BODY],
    )?;
    Ok(())
}

pub(crate) const REDACT_EXPIRED: &str =
    "UPDATE outbox SET subject = ?2, body = ?3, redact_at = NULL
     WHERE id IN (SELECT id FROM outbox WHERE redact_at IS NOT NULL AND redact_at <= ?1 LIMIT ?4)";

/// Redact up to `limit` unsent emails whose one-time code has expired; returns how many.
pub fn redact_expired(conn: &Connection, now: i64, limit: u32) -> StoreResult<usize> {
    Ok(conn.prepare_cached(REDACT_EXPIRED)?.execute(params![
        now,
        REDACTED_SUBJECT,
        REDACTED_BODY,
        limit
    ])?)
}

/// Record a failed attempt and when to try again.
pub fn mark_failed(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
         WHERE id = ?1",
        params![id, error, next_attempt_at],
    )?;
    Ok(())
}

pub(crate) const DELETE_BEFORE: &str =
    "DELETE FROM outbox WHERE id < (SELECT min(id) FROM outbox) + ?2 AND created_at < ?1";

/// Delete emails created before `cutoff` (sent or not) among the `limit` oldest ids; returns
/// how many went. Ids grow with creation time, so the old emails are the lowest ids and the
/// work is a range of the primary key: no scan, however large the table (`created_at` has no
/// index, which would cost every order a b-tree insert). Fewer than `limit` means done.
pub fn delete_before(conn: &Connection, cutoff: i64, limit: u32) -> StoreResult<usize> {
    Ok(conn
        .prepare_cached(DELETE_BEFORE)?
        .execute(params![cutoff, limit])?)
}
