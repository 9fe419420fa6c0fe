//! Merchant accounts, email verification codes and merchant bearer tokens.

use super::{StoreResult, audit, optional, outbox};
use crate::domain::KycStatus;
use rusqlite::{Connection, params};

/// A merchant account.
#[derive(Debug, Clone)]
pub struct Merchant {
    pub id: String,
    pub email: String,
    pub business_name: String,
    pub password_hash: String,
    pub email_verified: bool,
    pub kyc_status: KycStatus,
    pub key_id: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, email, business_name, password_hash, email_verified, kyc_status, key_id, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Merchant> {
    let kyc: String = r.get(5)?;
    Ok(Merchant {
        id: r.get(0)?,
        email: r.get(1)?,
        business_name: r.get(2)?,
        password_hash: r.get(3)?,
        email_verified: r.get(4)?,
        // The CHECK constraint guarantees a known value.
        kyc_status: KycStatus::parse(&kyc).unwrap_or(KycStatus::None),
        key_id: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// Look a merchant up by id.
pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<Merchant>> {
    let sql = format!("SELECT {COLUMNS} FROM merchants WHERE id = ?1");
    Ok(optional(conn.prepare_cached(&sql)?.query_row([id], row))?)
}

/// Look a merchant up by email (case-insensitive).
pub fn find_by_email(conn: &Connection, email: &str) -> StoreResult<Option<Merchant>> {
    let sql = format!("SELECT {COLUMNS} FROM merchants WHERE email = ?1");
    Ok(optional(
        conn.prepare_cached(&sql)?.query_row([email], row),
    )?)
}

/// Look a merchant up by public key id.
pub fn find_by_key_id(conn: &Connection, key_id: &str) -> StoreResult<Option<Merchant>> {
    let sql = format!("SELECT {COLUMNS} FROM merchants WHERE key_id = ?1");
    Ok(optional(
        conn.prepare_cached(&sql)?.query_row([key_id], row),
    )?)
}

/// Merchants whose email or business name contains `search`, newest first.
pub fn list(conn: &Connection, search: Option<&str>, limit: u32) -> StoreResult<Vec<Merchant>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM merchants
         WHERE ?1 IS NULL OR email LIKE '%' || ?1 || '%' OR business_name LIKE '%' || ?1 || '%'
         ORDER BY created_at DESC, id DESC LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![search, limit], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A verification code ready to store: its MAC, lifetime and the email carrying it.
pub struct CodeToStore {
    pub code_mac: Vec<u8>,
    pub expires_at: i64,
    pub email: crate::emails::OutgoingEmail,
}

/// What registration needs.
pub struct NewMerchant {
    pub id: String,
    pub email: String,
    pub business_name: String,
    pub password_hash: String,
}

/// Register a merchant with its first verification code; `false` when the email is taken.
pub fn register(
    conn: &Connection,
    new: &NewMerchant,
    code: &CodeToStore,
    now: i64,
) -> StoreResult<bool> {
    if find_by_email(conn, &new.email)?.is_some() {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO merchants (id, email, business_name, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![new.id, new.email, new.business_name, new.password_hash, now],
    )?;
    store_code(conn, &new.id, code, now)?;
    audit::record(
        conn,
        now,
        &format!("merchant:{}", new.id),
        "merchant.registered",
        &new.id,
        serde_json::json!({"email": new.email}),
    )?;
    Ok(true)
}

/// The two kinds of one-time code, one table each: one live code per merchant and purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// Proving the email address after sign-up.
    VerifyEmail,
    /// Setting a new password after "Forgot password?".
    ResetPassword,
}

impl CodePurpose {
    fn table(self) -> &'static str {
        match self {
            CodePurpose::VerifyEmail => "email_codes",
            CodePurpose::ResetPassword => "password_reset_codes",
        }
    }
}

/// Replace the merchant's verification code (resend).
pub fn store_code(
    conn: &Connection,
    merchant_id: &str,
    code: &CodeToStore,
    now: i64,
) -> StoreResult<()> {
    put_code(conn, CodePurpose::VerifyEmail, merchant_id, code, now)
}

/// Make `code` the merchant's one live code of `purpose` (an earlier one stops working) and
/// queue the email carrying it.
pub fn put_code(
    conn: &Connection,
    purpose: CodePurpose,
    merchant_id: &str,
    code: &CodeToStore,
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO {} (merchant_id, code_mac, attempts, created_at, expires_at)
             VALUES (?1, ?2, 0, ?3, ?4)
             ON CONFLICT (merchant_id) DO UPDATE
               SET code_mac = excluded.code_mac, attempts = 0,
                   created_at = excluded.created_at, expires_at = excluded.expires_at",
            purpose.table()
        ),
        params![merchant_id, code.code_mac, now, code.expires_at],
    )?;
    outbox::enqueue(conn, &code.email, now)?;
    Ok(())
}

/// What checking a one-time code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matched; it is deleted (used once).
    Matched,
    /// Wrong code; `burned` when this was the last allowed try.
    Wrong {
        burned: bool,
    },
    Expired,
    /// No live code (burned or never issued).
    NoCode,
}

/// Check `purpose`'s code of a merchant: expiry, the attempt limit, then `matches(code_mac)`,
/// the caller's constant-time comparison. A wrong try is counted; a match deletes the code.
pub fn check_code(
    conn: &Connection,
    purpose: CodePurpose,
    merchant_id: &str,
    now: i64,
    matches: impl Fn(&[u8]) -> bool,
) -> StoreResult<CodeCheck> {
    let table = purpose.table();
    let code: Option<(Vec<u8>, i64, i64)> = optional(conn.query_row(
        &format!("SELECT code_mac, attempts, expires_at FROM {table} WHERE merchant_id = ?1"),
        [merchant_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    ))?;
    let Some((mac, attempts, expires_at)) = code else {
        return Ok(CodeCheck::NoCode);
    };
    if attempts >= MAX_CODE_ATTEMPTS {
        return Ok(CodeCheck::NoCode);
    }
    if now >= expires_at {
        return Ok(CodeCheck::Expired);
    }
    if !matches(&mac) {
        let attempts = attempts + 1;
        conn.execute(
            &format!("UPDATE {table} SET attempts = ?2 WHERE merchant_id = ?1"),
            params![merchant_id, attempts],
        )?;
        return Ok(CodeCheck::Wrong {
            burned: attempts >= MAX_CODE_ATTEMPTS,
        });
    }
    conn.execute(
        &format!("DELETE FROM {table} WHERE merchant_id = ?1"),
        [merchant_id],
    )?;
    Ok(CodeCheck::Matched)
}

/// How a verification attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified,
    AlreadyVerified,
    /// Wrong code; `burned` when this was the last allowed try.
    WrongCode {
        burned: bool,
    },
    Expired,
    /// Unknown email, or no live code (burned or never issued).
    NoCode,
}

/// Wrong tries that burn a code.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// Check a code. `matches(merchant_id, code_mac)` does the constant-time comparison.
pub fn verify_email(
    conn: &Connection,
    email: &str,
    now: i64,
    matches: impl Fn(&str, &[u8]) -> bool,
) -> StoreResult<VerifyOutcome> {
    let Some(m) = find_by_email(conn, email)? else {
        return Ok(VerifyOutcome::NoCode);
    };
    if m.email_verified {
        return Ok(VerifyOutcome::AlreadyVerified);
    }
    match check_code(conn, CodePurpose::VerifyEmail, &m.id, now, |mac| {
        matches(&m.id, mac)
    })? {
        CodeCheck::Matched => {}
        CodeCheck::Wrong { burned } => return Ok(VerifyOutcome::WrongCode { burned }),
        CodeCheck::Expired => return Ok(VerifyOutcome::Expired),
        CodeCheck::NoCode => return Ok(VerifyOutcome::NoCode),
    }
    conn.execute(
        "UPDATE merchants SET email_verified = 1 WHERE id = ?1",
        [&m.id],
    )?;
    audit::record(
        conn,
        now,
        &format!("merchant:{}", m.id),
        "merchant.email_verified",
        &m.id,
        serde_json::json!({}),
    )?;
    Ok(VerifyOutcome::Verified)
}

/// Store a new bearer token (by hash).
pub fn insert_token(
    conn: &Connection,
    token_hash: &[u8],
    merchant_id: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO merchant_tokens (token_hash, merchant_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, merchant_id, now, expires_at],
    )?;
    // Opportunistic clean-up of this merchant's expired tokens.
    conn.execute(
        "DELETE FROM merchant_tokens WHERE merchant_id = ?1 AND expires_at <= ?2",
        params![merchant_id, now],
    )?;
    Ok(())
}

/// The merchant owning a live token.
pub fn merchant_for_token(
    conn: &Connection,
    token_hash: &[u8],
    now: i64,
) -> StoreResult<Option<Merchant>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT m.id, m.email, m.business_name, m.password_hash, m.email_verified,
                    m.kyc_status, m.key_id, m.created_at
             FROM merchant_tokens t JOIN merchants m ON m.id = t.merchant_id
             WHERE t.token_hash = ?1 AND t.expires_at > ?2",
        )?
        .query_row(params![token_hash, now], row),
    )?)
}

/// A password reset: the merchant's email, the new password's hash, and the email telling the
/// merchant that their password changed (rendered by the caller).
pub struct Reset<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub notice: &'a dyn Fn(&Merchant) -> crate::emails::OutgoingEmail,
}

/// Set a new password with a reset code. On a match, in this one transaction: the password
/// changes, every browser session and bearer token of the merchant ends, the email counts as
/// verified (the code proved it), and the change is audited and emailed. An unknown email is
/// `NoCode`, like an account without a live code.
pub fn reset_password(
    conn: &Connection,
    reset: &Reset<'_>,
    now: i64,
    matches: impl Fn(&str, &[u8]) -> bool,
) -> StoreResult<CodeCheck> {
    let Some(m) = find_by_email(conn, reset.email)? else {
        return Ok(CodeCheck::NoCode);
    };
    let checked = check_code(conn, CodePurpose::ResetPassword, &m.id, now, |mac| {
        matches(&m.id, mac)
    })?;
    if checked != CodeCheck::Matched {
        return Ok(checked);
    }
    conn.execute(
        "UPDATE merchants SET password_hash = ?2, email_verified = 1 WHERE id = ?1",
        params![m.id, reset.password_hash],
    )?;
    conn.execute("DELETE FROM email_codes WHERE merchant_id = ?1", [&m.id])?;
    let tokens = conn.execute(
        "DELETE FROM merchant_tokens WHERE merchant_id = ?1",
        [&m.id],
    )?;
    let sessions =
        super::sessions::end_all_of(conn, super::sessions::SessionKind::Merchant, &m.id, None)?;
    audit::record(
        conn,
        now,
        &format!("merchant:{}", m.id),
        "merchant.password_reset",
        &m.id,
        serde_json::json!({"sessions_ended": sessions, "tokens_revoked": tokens}),
    )?;
    outbox::enqueue(conn, &(reset.notice)(&m), now)?;
    Ok(CodeCheck::Matched)
}
