//! The operator's SQL: schema version, integrity checks and online backups (`hookgate check`,
//! `hookgate backup`). These open their own connections, so they work beside a running server.

use super::{SCHEMA_VERSION, StoreResult, optional};
use rusqlite::{Connection, OpenFlags};
use std::{path::Path, time::Duration};

/// Open the database read-only (it must exist).
pub fn open_read_only(path: &Path) -> StoreResult<Connection> {
    Ok(Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?)
}

/// What `PRAGMA user_version` says of the schema, as a problem line if any.
pub fn schema_problem(conn: &Connection) -> Option<String> {
    match conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)) {
        Ok(0) => Some("the database has no hookgate schema (user_version 0)".into()),
        // An older schema is fine: `serve` migrates it forward at start.
        Ok(v) if v <= SCHEMA_VERSION => None,
        Ok(v) => Some(format!(
            "database schema version {v} is newer than this binary's {SCHEMA_VERSION}; run a newer hookgate"
        )),
        Err(e) => Some(format!("database is not readable: {e}")),
    }
}

/// One stored sealed secret `(id, sealed bytes)`, to prove the master key opens them.
pub fn sample_sealed_secret(conn: &Connection) -> StoreResult<Option<(String, Vec<u8>)>> {
    Ok(optional(conn.query_row(
        "SELECT id, secret_sealed FROM webhook_secrets LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?)
}

/// `PRAGMA integrity_check` and `foreign_key_check`, as problem lines.
pub fn integrity_problems(conn: &Connection) -> Vec<String> {
    let mut problems = Vec::new();
    match conn.prepare("PRAGMA integrity_check").and_then(|mut s| {
        s.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
    }) {
        Ok(lines) if lines == ["ok"] => {}
        Ok(lines) => problems.extend(lines.into_iter().map(|l| format!("integrity: {l}"))),
        Err(e) => problems.push(format!("integrity check failed to run: {e}")),
    }
    match conn.prepare("PRAGMA foreign_key_check").and_then(|mut s| {
        s.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
    }) {
        Ok(tables) => problems.extend(
            tables
                .into_iter()
                .map(|t| format!("foreign key violation in {t}")),
        ),
        Err(e) => problems.push(format!("foreign key check failed to run: {e}")),
    }
    problems
}

/// Copy the live database at `db` into a new file `to` with SQLite's online backup API, turn
/// the copy into one self-contained file (out of WAL) and verify it. On any failure `to` is
/// removed.
pub fn backup(db: &Path, to: &Path) -> Result<(), String> {
    let result = (|| {
        let src = open_read_only(db).map_err(|e| format!("opening {}: {e}", db.display()))?;
        src.busy_timeout(Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        {
            let mut dst =
                Connection::open(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
            let backup =
                rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| e.to_string())?;
            backup
                .run_to_completion(256, Duration::from_millis(5), None)
                .map_err(|e| format!("backup failed: {e}"))?;
        }
        let copy = Connection::open(to).map_err(|e| e.to_string())?;
        let _: String = copy
            .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
            .map_err(|e| e.to_string())?;
        let problems = integrity_problems(&copy);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the copy failed verification: {}",
                problems.join("; ")
            ))
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(to);
    }
    result
}
