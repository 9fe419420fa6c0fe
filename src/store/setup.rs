//! What an installation has been given so far, for the admin's first-run checklist.

use super::StoreResult;
use rusqlite::Connection;

/// Whether each first step was taken.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub source: bool,
    pub destination: bool,
    pub merchant: bool,
    pub kyc_reviewed: bool,
}

/// One read, four existence checks (each stops at the first row).
pub fn progress(conn: &Connection) -> StoreResult<Progress> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sources),
                EXISTS (SELECT 1 FROM destinations),
                EXISTS (SELECT 1 FROM merchants),
                EXISTS (SELECT 1 FROM kyc_submissions WHERE status <> 'pending')",
        [],
        |r| {
            Ok(Progress {
                source: r.get(0)?,
                destination: r.get(1)?,
                merchant: r.get(2)?,
                kyc_reviewed: r.get(3)?,
            })
        },
    )?)
}
