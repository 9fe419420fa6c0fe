//! When the admins were last alerted about each destination (CONTRACT section 10, "Dead letters
//! and alerts"): persisted, so the once-an-hour limit holds across restarts.

use super::{StoreResult, optional};
use rusqlite::{Connection, params};

/// A destination's name and when its admins were last alerted (unix seconds); `None` when there
/// is no such destination.
pub fn last_alert(
    conn: &Connection,
    destination_id: &str,
) -> StoreResult<Option<(String, Option<i64>)>> {
    Ok(optional(
        conn.prepare_cached("SELECT name, alerted_at FROM destinations WHERE id = ?1")?
            .query_row([destination_id], |r| Ok((r.get(0)?, r.get(1)?))),
    )?)
}

/// Remember that the admins were alerted about `destination_id` at `now` (unix seconds).
pub fn mark_alerted(conn: &Connection, destination_id: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE destinations SET alerted_at = ?2 WHERE id = ?1")?
        .execute(params![destination_id, now])?;
    Ok(())
}
