//! The append-only audit trail, written in the same transaction as the change it records.

use super::StoreResult;
use rusqlite::{Connection, params};
use serde::Serialize;

/// One audit entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    #[serde(skip)]
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

/// Append an entry.
pub fn record(
    conn: &Connection,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, target, details) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at, actor, action, target, details.to_string()])?;
    Ok(())
}

/// Newest first, entries older than the `before` id cursor.
pub fn list(
    conn: &Connection,
    limit: u32,
    before: Option<i64>,
    target: Option<&str>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, details FROM audit_log
         WHERE id < ?1 AND (?2 IS NULL OR target = ?2)
         ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), target, limit], |r| {
        let details: String = r.get(5)?;
        Ok(AuditEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What people call each target that still exists, by its id: a merchant's business name and
/// email, a destination's or source's name. Ids of other kinds, and gone ones, are left out.
pub fn target_names(
    conn: &Connection,
    targets: &[String],
) -> StoreResult<std::collections::HashMap<String, String>> {
    let mut names = std::collections::HashMap::new();
    for target in targets {
        if names.contains_key(target) {
            continue;
        }
        let sql = match target.split_once('_').map(|(kind, _)| kind) {
            Some("mer") => {
                "SELECT business_name || ' (' || email || ')' FROM merchants WHERE id = ?1"
            }
            Some("dst") => "SELECT name FROM destinations WHERE id = ?1",
            Some("src") => "SELECT name || ' (/in/' || slug || ')' FROM sources WHERE id = ?1",
            _ => continue,
        };
        let name: Option<String> = conn
            .prepare_cached(sql)?
            .query_row(params![target], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        if let Some(name) = name {
            names.insert(target.clone(), name);
        }
    }
    Ok(names)
}
