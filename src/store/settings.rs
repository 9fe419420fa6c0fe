//! Merchants' own settings (columns of `merchants` that only the merchant changes): whether
//! their orders email the shoppers.

use super::{StoreResult, audit, optional};
use rusqlite::{Connection, params};

/// Whether the merchant's orders email their shoppers; false for an unknown merchant.
pub fn order_emails(conn: &Connection, merchant_id: &str) -> StoreResult<bool> {
    Ok(optional(
        conn.prepare_cached("SELECT order_emails FROM merchants WHERE id = ?1")?
            .query_row([merchant_id], |r| r.get(0)),
    )?
    .unwrap_or(false))
}

/// Switch the merchant's order emails on or off, audited; `false` when nothing changed.
pub fn set_order_emails(
    conn: &Connection,
    merchant_id: &str,
    on: bool,
    now: i64,
) -> StoreResult<bool> {
    let changed = conn.execute(
        "UPDATE merchants SET order_emails = ?2 WHERE id = ?1 AND order_emails != ?2",
        params![merchant_id, on],
    )? > 0;
    if changed {
        audit::record(
            conn,
            now,
            &format!("merchant:{merchant_id}"),
            if on {
                "merchant.order_emails_on"
            } else {
                "merchant.order_emails_off"
            },
            merchant_id,
            serde_json::json!({"order_emails": on}),
        )?;
    }
    Ok(changed)
}
