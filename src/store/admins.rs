//! Administrators and their API tokens.

use super::{StoreResult, audit, optional};
use rusqlite::{Connection, params};

/// An administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: String,
    pub email: String,
    pub password_hash: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Admin> {
    Ok(Admin {
        id: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
    })
}

/// How many admins exist.
pub fn count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT count(*) FROM admins", [], |r| r.get(0))?)
}

/// Look an admin up by email.
pub fn find_by_email(conn: &Connection, email: &str) -> StoreResult<Option<Admin>> {
    Ok(optional(conn.query_row(
        "SELECT id, email, password_hash FROM admins WHERE email = ?1",
        [email],
        row,
    ))?)
}

/// Create an admin; `false` when the email is taken.
pub fn create(
    conn: &Connection,
    id: &str,
    email: &str,
    password_hash: &str,
    actor: &str,
    now: i64,
) -> StoreResult<bool> {
    if find_by_email(conn, email)?.is_some() {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO admins (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, email, password_hash, now],
    )?;
    audit::record(
        conn,
        now,
        actor,
        "admin.created",
        id,
        serde_json::json!({"email": email}),
    )?;
    Ok(true)
}

/// Store a new admin API token (by hash).
pub fn insert_token(
    conn: &Connection,
    token_hash: &[u8],
    admin: &Admin,
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO admin_tokens (token_hash, admin_id, created_at) VALUES (?1, ?2, ?3)",
        params![token_hash, admin.id, now],
    )?;
    audit::record(
        conn,
        now,
        actor,
        "admin.token_minted",
        &admin.id,
        serde_json::json!({"email": admin.email}),
    )?;
    Ok(())
}

/// The admin owning a token.
pub fn admin_for_token(conn: &Connection, token_hash: &[u8]) -> StoreResult<Option<Admin>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT a.id, a.email, a.password_hash FROM admin_tokens t
             JOIN admins a ON a.id = t.admin_id WHERE t.token_hash = ?1",
        )?
        .query_row([token_hash], row),
    )?)
}

/// Look an admin up by id.
pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<Admin>> {
    Ok(optional(conn.query_row(
        "SELECT id, email, password_hash FROM admins WHERE id = ?1",
        [id],
        row,
    ))?)
}

/// Every admin's email address, in order: who hears about destinations in trouble.
pub fn emails(conn: &Connection) -> StoreResult<Vec<String>> {
    Ok(conn
        .prepare_cached("SELECT email FROM admins ORDER BY email")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}
