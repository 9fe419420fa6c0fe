//! Hourly metric roll-ups (`metrics_hourly`): what health and stats read after a restart.

use super::StoreResult;
use rusqlite::{Connection, params};

/// Upsert an hour of rolled-up metrics.
pub fn save_hour(conn: &Connection, hour: i64, data: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO metrics_hourly (hour, data) VALUES (?1, ?2)
         ON CONFLICT (hour) DO UPDATE SET data = excluded.data",
    )?
    .execute(params![hour, data])?;
    Ok(())
}

/// Rolled-up hours from `from_hour` on.
pub fn load_hours(conn: &Connection, from_hour: i64) -> StoreResult<Vec<(i64, String)>> {
    let rows = conn
        .prepare_cached("SELECT hour, data FROM metrics_hourly WHERE hour >= ?1 ORDER BY hour")?
        .query_map([from_hour], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
