//! Browser sessions and the one-time first-admin setup token.

use super::{StoreResult, audit, optional};
use rusqlite::{Connection, params};

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Admin,
    Merchant,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Admin => "admin",
            SessionKind::Merchant => "merchant",
        }
    }
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub kind: SessionKind,
    pub subject_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub authenticated_at: i64,
}

/// Create a session (the caller made the random id and hashed it).
pub fn create(
    conn: &Connection,
    id_hash: &[u8],
    kind: SessionKind,
    subject_id: &str,
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sessions (id_hash, kind, subject_id, created_at, last_seen_at, authenticated_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
        params![id_hash, kind.as_str(), subject_id, now],
    )?;
    Ok(())
}

/// Look a session up.
pub fn get(conn: &Connection, id_hash: &[u8]) -> StoreResult<Option<Session>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT kind, subject_id, created_at, last_seen_at, authenticated_at FROM sessions WHERE id_hash = ?1",
        )?
        .query_row([id_hash], |r| {
            let kind: String = r.get(0)?;
            Ok(Session {
                kind: if kind == "admin" { SessionKind::Admin } else { SessionKind::Merchant },
                subject_id: r.get(1)?,
                created_at: r.get(2)?,
                last_seen_at: r.get(3)?,
                authenticated_at: r.get(4)?,
            })
        }),
    )?)
}

/// Record activity (the caller throttles how often).
pub fn touch(conn: &Connection, id_hash: &[u8], now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
        params![id_hash, now],
    )?;
    Ok(())
}

/// Record a fresh password entry.
pub fn reauthenticated(conn: &Connection, id_hash: &[u8], now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE sessions SET authenticated_at = ?2, last_seen_at = ?2 WHERE id_hash = ?1",
        params![id_hash, now],
    )?;
    Ok(())
}

/// End a session.
pub fn delete(conn: &Connection, id_hash: &[u8]) -> StoreResult<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// End every session of `kind` belonging to `subject_id`, except the one hashed as `keep`;
/// returns how many ended.
pub fn end_all_of(
    conn: &Connection,
    kind: SessionKind,
    subject_id: &str,
    keep: Option<&[u8]>,
) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE subject_id = ?1 AND kind = ?2
             AND (?3 IS NULL OR id_hash <> ?3)",
        params![subject_id, kind.as_str(), keep],
    )?)
}

pub(crate) const PURGE_IDLE: &str = "DELETE FROM sessions WHERE id_hash IN
     (SELECT id_hash FROM sessions WHERE last_seen_at < ?1 LIMIT ?2)";
pub(crate) const PURGE_OLD: &str = "DELETE FROM sessions WHERE id_hash IN
     (SELECT id_hash FROM sessions WHERE created_at < ?1 LIMIT ?2)";

/// Drop up to `limit` sessions idle since before `idle_cutoff`, and up to `limit` created
/// before `absolute_cutoff`; returns how many went (under `limit` means done).
pub fn purge(
    conn: &Connection,
    idle_cutoff: i64,
    absolute_cutoff: i64,
    limit: u32,
) -> StoreResult<usize> {
    let idle = conn
        .prepare_cached(PURGE_IDLE)?
        .execute(params![idle_cutoff, limit])?;
    let old = conn
        .prepare_cached(PURGE_OLD)?
        .execute(params![absolute_cutoff, limit])?;
    Ok(idle.max(old))
}

/// Store a new first-admin setup token (hash and expiry), replacing any earlier one.
pub fn set_setup_token(conn: &Connection, token_hash: &[u8], expires_at: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('setup_token', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [format!("{}:{expires_at}", hex::encode(token_hash))],
    )?;
    Ok(())
}

/// Whether a setup token is valid now (no admin yet, not expired, matching).
pub fn setup_token_valid(conn: &Connection, token_hash: &[u8], now: i64) -> StoreResult<bool> {
    if super::admins::count(conn)? > 0 {
        return Ok(false);
    }
    let stored: Option<String> = optional(conn.query_row(
        "SELECT value FROM meta WHERE key = 'setup_token'",
        [],
        |r| r.get(0),
    ))?;
    let Some((hash, expires)) = stored.as_deref().and_then(|v| v.split_once(':')) else {
        return Ok(false);
    };
    let expires: i64 = expires.parse().unwrap_or(0);
    Ok(now < expires
        && crate::crypto::constant_time_eq(hash.as_bytes(), hex::encode(token_hash).as_bytes()))
}

/// Create the first admin with a setup token, consuming it; `false` if the token is not valid.
pub fn consume_setup_token(
    conn: &Connection,
    token_hash: &[u8],
    admin_id: &str,
    email: &str,
    password_hash: &str,
    now: i64,
) -> StoreResult<bool> {
    if !setup_token_valid(conn, token_hash, now)? {
        return Ok(false);
    }
    conn.execute("DELETE FROM meta WHERE key = 'setup_token'", [])?;
    super::admins::create(conn, admin_id, email, password_hash, "setup", now)?;
    audit::record(
        conn,
        now,
        "setup",
        "admin.setup_completed",
        admin_id,
        serde_json::json!({"email": email}),
    )?;
    Ok(true)
}
