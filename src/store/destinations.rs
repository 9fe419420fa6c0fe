//! Destinations (CONTRACT section 10): the team's endpoints, their sealed signing secrets and
//! their persisted circuit state.

use super::{StoreResult, optional};
use rusqlite::{Connection, params};

/// A destination as stored (secrets apart). JSON columns are kept as text; `app` parses them.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub name: String,
    pub url: String,
    pub sources: Option<String>,
    pub topics: Option<String>,
    pub retry: String,
    pub timeout_ms: i64,
    pub circuit: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub circuit_state: String,
    pub circuit_until_ms: Option<i64>,
    pub consecutive_failures: i64,
    pub reopen_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A sealed signing secret; `valid_until` is `None` for the current one.
#[derive(Debug, Clone)]
pub struct DestinationSecret {
    pub id: String,
    pub sealed: Vec<u8>,
    pub valid_until: Option<i64>,
}

/// The context a destination secret is sealed under.
pub fn seal_context(secret_id: &str) -> String {
    format!("destination-secret:{secret_id}")
}

const COLUMNS: &str = "id, name, url, sources, topics, retry, timeout_ms, circuit, enabled, \
    disabled_reason, circuit_state, circuit_until_ms, consecutive_failures, reopen_count, \
    created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Destination> {
    Ok(Destination {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        sources: r.get(3)?,
        topics: r.get(4)?,
        retry: r.get(5)?,
        timeout_ms: r.get(6)?,
        circuit: r.get(7)?,
        enabled: r.get(8)?,
        disabled_reason: r.get(9)?,
        circuit_state: r.get(10)?,
        circuit_until_ms: r.get(11)?,
        consecutive_failures: r.get(12)?,
        reopen_count: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

/// Insert a destination and its first signing secret.
pub fn create(
    conn: &Connection,
    d: &Destination,
    secret_id: &str,
    sealed: &[u8],
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO destinations (id, name, url, sources, topics, retry, timeout_ms, circuit,
             enabled, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            d.id,
            d.name,
            d.url,
            d.sources,
            d.topics,
            d.retry,
            d.timeout_ms,
            d.circuit,
            d.enabled,
            d.created_at
        ],
    )?;
    conn.execute(
        "INSERT INTO destination_secrets (id, destination_id, secret_sealed, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![secret_id, d.id, sealed, d.created_at],
    )?;
    Ok(())
}

/// Every destination, in creation order.
pub fn list(conn: &Connection) -> StoreResult<Vec<Destination>> {
    let sql = format!("SELECT {COLUMNS} FROM destinations ORDER BY created_at, id");
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([], row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One destination.
pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<Destination>> {
    let sql = format!("SELECT {COLUMNS} FROM destinations WHERE id = ?1");
    Ok(optional(conn.query_row(&sql, [id], row))?)
}

/// The signing secrets in force at `now`: the current one first.
pub fn live_secrets(
    conn: &Connection,
    destination_id: &str,
    now: i64,
) -> StoreResult<Vec<DestinationSecret>> {
    let rows = conn
        .prepare_cached(
            "SELECT id, secret_sealed, valid_until FROM destination_secrets
             WHERE destination_id = ?1 AND (valid_until IS NULL OR valid_until > ?2)
             ORDER BY valid_until IS NOT NULL, created_at DESC",
        )?
        .query_map(params![destination_id, now], |r| {
            Ok(DestinationSecret {
                id: r.get(0)?,
                sealed: r.get(1)?,
                valid_until: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A circuit breaker's persisted state.
#[derive(Debug, Clone, Copy)]
pub struct CircuitRow<'a> {
    pub state: &'a str,
    pub until_ms: Option<i64>,
    pub consecutive_failures: i64,
    pub reopen_count: i64,
}

/// Persist a destination's circuit (and, when `disabled_reason` is given, disable it).
pub fn save_circuit(
    conn: &Connection,
    id: &str,
    circuit: &CircuitRow<'_>,
    disabled_reason: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE destinations SET circuit_state = ?2, circuit_until_ms = ?3,
             consecutive_failures = ?4, reopen_count = ?5,
             enabled = CASE WHEN ?6 IS NULL THEN enabled ELSE 0 END,
             disabled_reason = coalesce(?6, disabled_reason), updated_at = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        circuit.state,
        circuit.until_ms,
        circuit.consecutive_failures,
        circuit.reopen_count,
        disabled_reason,
        now
    ])?;
    Ok(())
}

/// Queue counts of a destination: (pending, failed, oldest pending created_at).
pub fn queue_state(conn: &Connection, id: &str) -> StoreResult<(i64, i64, Option<i64>)> {
    Ok(conn.query_row(
        "SELECT
             (SELECT count(*) FROM deliveries WHERE destination_id = ?1 AND status = 'pending'),
             (SELECT count(*) FROM deliveries WHERE destination_id = ?1 AND status = 'failed'),
             (SELECT min(created_at) FROM deliveries
                  WHERE destination_id = ?1 AND status = 'pending')",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// The changes a PATCH may make; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub name: Option<String>,
    pub url: Option<String>,
    /// `Some(None)`: all sources again.
    pub sources: Option<Option<String>>,
    pub topics: Option<Option<String>>,
    pub retry: Option<String>,
    pub timeout_ms: Option<i64>,
    pub circuit: Option<String>,
    /// Enabling clears `disabled_reason` and closes the circuit, its cool-down back to the
    /// configured one.
    pub enabled: Option<bool>,
}

/// Apply `changes`; false when there is no such destination.
pub fn update(conn: &Connection, id: &str, ch: &Changes, now: i64) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE destinations SET
             name = coalesce(?2, name), url = coalesce(?3, url),
             sources = CASE WHEN ?4 THEN ?5 ELSE sources END,
             topics = CASE WHEN ?6 THEN ?7 ELSE topics END,
             retry = coalesce(?8, retry), timeout_ms = coalesce(?9, timeout_ms),
             circuit = coalesce(?10, circuit),
             enabled = coalesce(?11, enabled),
             disabled_reason = CASE WHEN ?11 = 1 THEN NULL ELSE disabled_reason END,
             circuit_state = CASE WHEN ?11 = 1 THEN 'closed' ELSE circuit_state END,
             circuit_until_ms = CASE WHEN ?11 = 1 THEN NULL ELSE circuit_until_ms END,
             consecutive_failures = CASE WHEN ?11 = 1 THEN 0 ELSE consecutive_failures END,
             reopen_count = CASE WHEN ?11 = 1 THEN 0 ELSE reopen_count END,
             updated_at = ?12
         WHERE id = ?1",
        params![
            id,
            ch.name,
            ch.url,
            ch.sources.is_some(),
            ch.sources.clone().flatten(),
            ch.topics.is_some(),
            ch.topics.clone().flatten(),
            ch.retry,
            ch.timeout_ms,
            ch.circuit,
            ch.enabled,
            now
        ],
    )?;
    Ok(n > 0)
}

/// Make a new signing secret current; the current one keeps signing alongside until
/// `previous_valid_until`, and any older one stops now. False when there is no such destination.
pub fn rotate_secret(
    conn: &Connection,
    id: &str,
    secret_id: &str,
    sealed: &[u8],
    now: i64,
    previous_valid_until: i64,
) -> StoreResult<bool> {
    if get(conn, id)?.is_none() {
        return Ok(false);
    }
    conn.execute(
        "UPDATE destination_secrets SET valid_until = ?2
         WHERE destination_id = ?1 AND valid_until IS NOT NULL AND valid_until > ?2",
        params![id, now],
    )?;
    conn.execute(
        "UPDATE destination_secrets SET valid_until = ?2
         WHERE destination_id = ?1 AND valid_until IS NULL",
        params![id, previous_valid_until],
    )?;
    conn.execute(
        "INSERT INTO destination_secrets (id, destination_id, secret_sealed, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![secret_id, id, sealed, now],
    )?;
    Ok(true)
}
