//! Webhook signing secrets, sealed at rest. Lifecycle decisions come from `domain::secret`.

use super::{StoreResult, audit, optional, outbox};
use crate::domain::secret::{Rotation, SecretTimes, grace_after_rotation};
use rusqlite::{Connection, params};

/// A freshly generated secret, already sealed (the context binds it to its id).
pub struct NewSecret {
    pub id: String,
    pub sealed: Vec<u8>,
}

/// A stored secret (still sealed).
#[derive(Debug, Clone)]
pub struct SecretRow {
    pub id: String,
    pub merchant_id: String,
    pub sealed: Vec<u8>,
    pub times: SecretTimes,
    pub reason: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRow> {
    let revoked_at: Option<i64> = r.get(7)?;
    Ok(SecretRow {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        sealed: r.get(2)?,
        times: SecretTimes {
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
            superseded_at: r.get(5)?,
            grace_until: r.get(6)?,
            revoked: revoked_at.is_some(),
        },
        reason: r.get(8)?,
    })
}

const COLUMNS: &str = "id, merchant_id, secret_sealed, created_at, expires_at, superseded_at, \
                       grace_until, revoked_at, reason";

/// The seal context of a secret: binds ciphertext to its row.
pub fn seal_context(secret_id: &str) -> String {
    format!("webhook-secret:{secret_id}")
}

/// All secrets of a merchant, newest first.
pub fn for_merchant(conn: &Connection, merchant_id: &str) -> StoreResult<Vec<SecretRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_secrets WHERE merchant_id = ?1
         ORDER BY created_at DESC, id DESC"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([merchant_id], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The merchant's current secret: newest, not superseded, not revoked (it may have expired).
pub fn current(secrets: &[SecretRow]) -> Option<&SecretRow> {
    secrets
        .iter()
        .find(|s| s.times.superseded_at.is_none() && !s.times.revoked)
}

/// The most recently superseded secret still verifying at `now`.
pub fn previous_in_grace(secrets: &[SecretRow], now: i64) -> Option<&SecretRow> {
    secrets
        .iter()
        .find(|s| s.times.superseded_at.is_some() && s.times.verifies_at(now))
}

/// What `issue` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    /// The merchant had no live secret.
    Created { expires_at: i64 },
    /// A current secret was superseded; it verifies until `previous_valid_until`.
    Regenerated {
        expires_at: i64,
        previous_valid_until: i64,
    },
}

/// Why a secret is being issued (recorded on the row and in the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueReason {
    Approval,
    Manual,
    Automatic,
    /// A signature arrived under an expired secret: a replacement is issued at once.
    Expired,
    /// A revoked merchant was reinstated: a fresh secret, the revoked ones stay revoked.
    Reinstatement,
}

impl IssueReason {
    fn as_str(self) -> &'static str {
        match self {
            IssueReason::Approval => "approval",
            IssueReason::Manual => "manual",
            IssueReason::Automatic => "automatic",
            IssueReason::Expired => "expired",
            IssueReason::Reinstatement => "reinstatement",
        }
    }
}

/// Issue `new` as the merchant's current secret, superseding the existing one if any.
#[allow(clippy::too_many_arguments)]
pub fn issue(
    conn: &Connection,
    merchant_id: &str,
    new: &NewSecret,
    reason: IssueReason,
    ttl_secs: i64,
    grace_secs: i64,
    actor: &str,
    now: i64,
) -> StoreResult<Issued> {
    let existing = for_merchant(conn, merchant_id)?;
    let mut previous_valid_until = None;
    if let Some(old) = current(&existing) {
        let rotation = match reason {
            IssueReason::Manual => Rotation::Manual { grace_secs },
            _ => Rotation::Automatic,
        };
        let grace_until = grace_after_rotation(&old.times, now, rotation);
        conn.execute(
            "UPDATE webhook_secrets SET superseded_at = ?2, grace_until = ?3 WHERE id = ?1",
            params![old.id, now, grace_until],
        )?;
        let mut superseded = old.times;
        superseded.superseded_at = Some(now);
        superseded.grace_until = grace_until;
        previous_valid_until = Some(superseded.valid_until().max(now));
    }
    let expires_at = now + ttl_secs;
    conn.execute(
        "INSERT INTO webhook_secrets (id, merchant_id, secret_sealed, created_at, expires_at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![new.id, merchant_id, new.sealed, now, expires_at, reason.as_str()],
    )?;
    let action = if previous_valid_until.is_some() {
        "secret.rotated"
    } else {
        "secret.issued"
    };
    audit::record(
        conn,
        now,
        actor,
        action,
        merchant_id,
        serde_json::json!({
            "secret_id": new.id, "reason": reason.as_str(), "expires_at": expires_at,
            "previous_valid_until": previous_valid_until,
        }),
    )?;
    Ok(match previous_valid_until {
        None => Issued::Created { expires_at },
        Some(previous_valid_until) => Issued::Regenerated {
            expires_at,
            previous_valid_until,
        },
    })
}

/// Revoke every secret of a merchant at once; returns how many were live.
pub fn revoke_all(conn: &Connection, merchant_id: &str, now: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE webhook_secrets SET revoked_at = ?2 WHERE merchant_id = ?1 AND revoked_at IS NULL",
        params![merchant_id, now],
    )?)
}

/// Record that a merchant revealed their secret.
pub fn record_reveal(
    conn: &Connection,
    merchant_id: &str,
    secret_id: &str,
    now: i64,
) -> StoreResult<()> {
    audit::record(
        conn,
        now,
        &format!("merchant:{merchant_id}"),
        "secret.revealed",
        merchant_id,
        serde_json::json!({"secret_id": secret_id}),
    )?;
    Ok(())
}

/// A merchant whose current secret needs a successor.
#[derive(Debug, Clone)]
pub struct DueRotation {
    pub merchant_id: String,
    pub merchant_email: String,
    pub secret_id: String,
    pub expires_at: i64,
}

pub(crate) const DUE_FOR_ROTATION: &str =
    "SELECT s.merchant_id, m.email, s.id, s.expires_at FROM webhook_secrets s
     JOIN merchants m ON m.id = s.merchant_id
     WHERE s.superseded_at IS NULL AND s.revoked_at IS NULL AND m.kyc_status = 'approved'
       AND s.expires_at <= ?1 + ?2
     ORDER BY s.expires_at LIMIT 500";

/// Approved merchants whose current secret expires within `rotate_before_secs` (or already has).
pub fn due_for_rotation(
    conn: &Connection,
    now: i64,
    rotate_before_secs: i64,
) -> StoreResult<Vec<DueRotation>> {
    let mut stmt = conn.prepare_cached(DUE_FOR_ROTATION)?;
    let rows = stmt.query_map(params![now, rotate_before_secs], |r| {
        Ok(DueRotation {
            merchant_id: r.get(0)?,
            merchant_email: r.get(1)?,
            secret_id: r.get(2)?,
            expires_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Issue the successor for a due rotation, unless someone else already did (the check runs
/// inside the write transaction, so the job and a manual rotation cannot both supersede).
#[allow(clippy::too_many_arguments)]
pub fn rotate_if_still_due(
    conn: &Connection,
    due: &DueRotation,
    new: &NewSecret,
    ttl_secs: i64,
    rotate_before_secs: i64,
    email: &crate::emails::OutgoingEmail,
    now: i64,
) -> StoreResult<bool> {
    let secrets = for_merchant(conn, &due.merchant_id)?;
    let still_due = current(&secrets).is_some_and(|c| {
        c.id == due.secret_id
            && crate::domain::secret::rotation_due(&c.times, now, rotate_before_secs)
    });
    if !still_due {
        return Ok(false);
    }
    let reason = if now >= due.expires_at {
        IssueReason::Expired
    } else {
        IssueReason::Automatic
    };
    issue(
        conn,
        &due.merchant_id,
        new,
        reason,
        ttl_secs,
        0,
        "system",
        now,
    )?;
    outbox::enqueue(conn, email, now)?;
    Ok(true)
}

/// Look one secret up by id.
pub fn get(conn: &Connection, secret_id: &str) -> StoreResult<Option<SecretRow>> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_secrets WHERE id = ?1");
    Ok(optional(conn.query_row(&sql, [secret_id], row))?)
}

/// After a signature under an expired secret: make sure a fresh, valid secret exists (issue one
/// when the current secret no longer verifies). Returns whether a secret was issued.
pub fn replace_expired(
    conn: &Connection,
    merchant_id: &str,
    new: &NewSecret,
    ttl_secs: i64,
    email: &crate::emails::OutgoingEmail,
    now: i64,
) -> StoreResult<bool> {
    let secrets = for_merchant(conn, merchant_id)?;
    match current(&secrets) {
        Some(c) if c.times.verifies_at(now) => Ok(false),
        Some(_) => {
            issue(
                conn,
                merchant_id,
                new,
                IssueReason::Expired,
                ttl_secs,
                0,
                "system",
                now,
            )?;
            outbox::enqueue(conn, email, now)?;
            Ok(true)
        }
        None => Ok(false), // revoked: no secret is issued
    }
}
