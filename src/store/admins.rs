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

/// A new admin API token: its public id, name and optional expiry.
pub struct NewToken {
    pub id: String,
    pub name: String,
    pub expires_at: Option<i64>,
}

/// Store a new admin API token (by hash).
pub fn insert_token(
    conn: &Connection,
    token_hash: &[u8],
    admin: &Admin,
    token: &NewToken,
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO admin_tokens (token_hash, admin_id, created_at, id, name, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            token_hash,
            admin.id,
            now,
            token.id,
            token.name,
            token.expires_at
        ],
    )?;
    audit::record(
        conn,
        now,
        actor,
        "admin.token_minted",
        &admin.id,
        serde_json::json!({"email": admin.email, "token_id": token.id, "name": token.name,
                           "expires_at": token.expires_at}),
    )?;
    Ok(())
}

/// An admin API token as listed (never the token itself).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub admin_email: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// Tokens, newest first: of one admin, or of every admin.
pub fn tokens(conn: &Connection, admin_id: Option<&str>) -> StoreResult<Vec<TokenRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT t.id, a.email, t.name, t.created_at, t.expires_at, t.last_used_at
             FROM admin_tokens t JOIN admins a ON a.id = t.admin_id
             WHERE ?1 IS NULL OR t.admin_id = ?1
             ORDER BY t.created_at DESC, t.id",
        )?
        .query_map([admin_id], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                admin_email: r.get(1)?,
                name: r.get(2)?,
                created_at: r.get(3)?,
                expires_at: r.get(4)?,
                last_used_at: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Revoke (delete) a token by its public id; `false` when there is none.
pub fn revoke_token(conn: &Connection, id: &str, actor: &str, now: i64) -> StoreResult<bool> {
    let owner: Option<(String, String, String)> = optional(conn.query_row(
        "SELECT a.id, a.email, t.name FROM admin_tokens t JOIN admins a ON a.id = t.admin_id
         WHERE t.id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    ))?;
    let Some((admin_id, email, name)) = owner else {
        return Ok(false);
    };
    conn.execute("DELETE FROM admin_tokens WHERE id = ?1", [id])?;
    audit::record(
        conn,
        now,
        actor,
        "admin.token_revoked",
        &admin_id,
        serde_json::json!({"email": email, "token_id": id, "name": name}),
    )?;
    Ok(true)
}

/// A token's use as the API sees it: which token, and when it was last recorded as used.
#[derive(Debug, Clone)]
pub struct TokenUse {
    pub id: String,
    pub last_used_at: Option<i64>,
}

/// The admin owning a token that has not expired at `now`.
pub fn admin_for_token(
    conn: &Connection,
    token_hash: &[u8],
    now: i64,
) -> StoreResult<Option<(Admin, TokenUse)>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT a.id, a.email, a.password_hash, t.id, t.last_used_at FROM admin_tokens t
             JOIN admins a ON a.id = t.admin_id
             WHERE t.token_hash = ?1 AND (t.expires_at IS NULL OR t.expires_at > ?2)",
        )?
        .query_row(params![token_hash, now], |r| {
            Ok((
                row(r)?,
                TokenUse {
                    id: r.get(3)?,
                    last_used_at: r.get(4)?,
                },
            ))
        }),
    )?)
}

/// Record that a token was used at `now`.
pub fn token_used(conn: &Connection, id: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE admin_tokens SET last_used_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// An admin as listed.
#[derive(Debug, Clone)]
pub struct AdminSummary {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    /// Tokens not expired at the time of listing.
    pub live_tokens: i64,
}

/// Every admin, by email, with their count of live tokens at `now`.
pub fn list(conn: &Connection, now: i64) -> StoreResult<Vec<AdminSummary>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.email, a.created_at,
                    (SELECT count(*) FROM admin_tokens t WHERE t.admin_id = a.id
                        AND (t.expires_at IS NULL OR t.expires_at > ?1))
             FROM admins a ORDER BY a.email",
        )?
        .query_map([now], |r| {
            Ok(AdminSummary {
                id: r.get(0)?,
                email: r.get(1)?,
                created_at: r.get(2)?,
                live_tokens: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Set an admin's password and end their other browser sessions (all but `keep`); returns how
/// many sessions ended. Their API tokens stay: they are revoked one by one.
pub fn set_password(
    conn: &Connection,
    admin: &Admin,
    password_hash: &str,
    keep: Option<&[u8]>,
    actor: &str,
    now: i64,
) -> StoreResult<usize> {
    conn.execute(
        "UPDATE admins SET password_hash = ?2 WHERE id = ?1",
        params![admin.id, password_hash],
    )?;
    let ended =
        super::sessions::end_all_of(conn, super::sessions::SessionKind::Admin, &admin.id, keep)?;
    audit::record(
        conn,
        now,
        actor,
        "admin.password_changed",
        &admin.id,
        serde_json::json!({"email": admin.email, "sessions_ended": ended}),
    )?;
    Ok(ended)
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
