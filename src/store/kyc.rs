//! KYC submissions and the admin decisions on them. Transitions are decided by
//! `domain::kyc::transition`; every decision writes its audit row and email in the same
//! transaction.

use super::{StoreResult, accounts, audit, optional, outbox, secrets};
use crate::domain::kyc::{DocumentKind, KycDetails, TransitionRefused, transition};
use crate::domain::{KycAction, KycStatus};
use crate::emails::OutgoingEmail;
use rusqlite::{Connection, params};

/// A stored submission, without the document bytes.
#[derive(Debug, Clone)]
pub struct Submission {
    pub id: String,
    pub merchant_id: String,
    pub details: KycDetails,
    pub document_type: String,
    pub document_name: String,
    pub document_size: i64,
    pub status: KycStatus,
    pub submitted_at: i64,
    pub reviewed_at: Option<i64>,
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
}

const COLUMNS: &str = "id, merchant_id, legal_name, registration_number, country, address, \
    contact_phone, document_type, document_name, document_size, status, submitted_at, \
    reviewed_at, reviewed_by, review_note";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Submission> {
    let status: String = r.get(10)?;
    Ok(Submission {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        details: KycDetails {
            legal_name: r.get(2)?,
            registration_number: r.get(3)?,
            country: r.get(4)?,
            address: r.get(5)?,
            contact_phone: r.get(6)?,
        },
        document_type: r.get(7)?,
        document_name: r.get(8)?,
        document_size: r.get(9)?,
        status: KycStatus::parse(&status).unwrap_or(KycStatus::Pending),
        submitted_at: r.get(11)?,
        reviewed_at: r.get(12)?,
        reviewed_by: r.get(13)?,
        review_note: r.get(14)?,
    })
}

/// A submission about to be stored (document already sealed under `document_context(id)`).
pub struct NewSubmission {
    pub id: String,
    pub details: KycDetails,
    pub document_kind: DocumentKind,
    pub document_name: String,
    pub document_size: i64,
    pub document_sealed: Vec<u8>,
}

/// The seal context of a KYC document.
pub fn document_context(kyc_id: &str) -> String {
    format!("kyc-document:{kyc_id}")
}

/// Submit KYC for a merchant, if their state allows it.
pub fn submit(
    conn: &Connection,
    merchant_id: &str,
    new: &NewSubmission,
    now: i64,
) -> StoreResult<Result<(), TransitionRefused>> {
    let Some(merchant) = accounts::get(conn, merchant_id)? else {
        return Err(super::StoreError::Internal(
            "submitting merchant vanished".into(),
        ));
    };
    let next = match transition(merchant.kyc_status, KycAction::Submit) {
        Ok(next) => next,
        Err(refused) => return Ok(Err(refused)),
    };
    let d = &new.details;
    conn.execute(
        &format!(
            "INSERT INTO kyc_submissions ({COLUMNS}, document_sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, NULL, NULL, ?13)"
        ),
        params![
            new.id,
            merchant_id,
            d.legal_name,
            d.registration_number,
            d.country,
            d.address,
            d.contact_phone,
            new.document_kind.mime(),
            new.document_name,
            new.document_size,
            next.as_str(),
            now,
            new.document_sealed
        ],
    )?;
    conn.execute(
        "UPDATE merchants SET kyc_status = ?2 WHERE id = ?1",
        params![merchant_id, next.as_str()],
    )?;
    audit::record(
        conn,
        now,
        &format!("merchant:{merchant_id}"),
        "kyc.submitted",
        &new.id,
        serde_json::json!({"merchant_id": merchant_id, "document_type": new.document_kind.mime(),
                           "document_size": new.document_size}),
    )?;
    Ok(Ok(()))
}

/// One submission by id.
pub fn get(conn: &Connection, kyc_id: &str) -> StoreResult<Option<Submission>> {
    let sql = format!("SELECT {COLUMNS} FROM kyc_submissions WHERE id = ?1");
    Ok(optional(conn.query_row(&sql, [kyc_id], row))?)
}

/// All submissions of a merchant, newest first.
pub fn history(conn: &Connection, merchant_id: &str) -> StoreResult<Vec<Submission>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kyc_submissions WHERE merchant_id = ?1
         ORDER BY submitted_at DESC, id DESC"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([merchant_id], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The document of a submission: (mime type, file name, sealed bytes).
pub fn document(conn: &Connection, kyc_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
    Ok(optional(conn.query_row(
        "SELECT document_type, document_name, document_sealed FROM kyc_submissions WHERE id = ?1",
        [kyc_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    ))?)
}

/// A row of the review queue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueItem {
    pub kyc_id: String,
    pub merchant_id: String,
    pub business_name: String,
    pub legal_name: String,
    pub country: String,
    pub status: String,
    pub submitted_at: i64,
}

/// Submissions, oldest first, optionally of one status.
pub fn queue(
    conn: &Connection,
    status: Option<KycStatus>,
    limit: u32,
) -> StoreResult<Vec<QueueItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.id, k.merchant_id, m.business_name, k.legal_name, k.country, k.status, k.submitted_at
         FROM kyc_submissions k JOIN merchants m ON m.id = k.merchant_id
         WHERE ?1 IS NULL OR k.status = ?1 ORDER BY k.submitted_at, k.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![status.map(KycStatus::as_str), limit], |r| {
        Ok(QueueItem {
            kyc_id: r.get(0)?,
            merchant_id: r.get(1)?,
            business_name: r.get(2)?,
            legal_name: r.get(3)?,
            country: r.get(4)?,
            status: r.get(5)?,
            submitted_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Everything a decision needs besides the decision itself.
pub struct DecisionContext<'a> {
    /// `admin:<email>`
    pub actor: &'a str,
    pub now: i64,
    pub secret_ttl_secs: i64,
    /// The email telling the merchant, rendered by the caller from the merchant and the key id.
    pub notify: &'a dyn Fn(&accounts::Merchant, Option<&str>) -> OutgoingEmail,
}

/// An admin decision.
pub enum Decision {
    /// Approve; `secret` becomes the first signing secret, `key_id` the key id if none yet.
    Approve {
        note: Option<String>,
        secret: secrets::NewSecret,
        key_id: String,
    },
    Reject {
        reason: String,
    },
    RequestChanges {
        reason: String,
    },
}

/// The result of a decision.
#[derive(Debug)]
pub enum Decided {
    Done {
        status: KycStatus,
        key_id: Option<String>,
    },
    NotFound,
    Refused(TransitionRefused),
}

/// Apply a decision to a pending submission.
pub fn decide(
    conn: &Connection,
    kyc_id: &str,
    decision: &Decision,
    ctx: &DecisionContext<'_>,
) -> StoreResult<Decided> {
    let Some(sub) = get(conn, kyc_id)? else {
        return Ok(Decided::NotFound);
    };
    let Some(merchant) = accounts::get(conn, &sub.merchant_id)? else {
        return Ok(Decided::NotFound);
    };
    let (action, note) = match decision {
        Decision::Approve { note, .. } => (KycAction::Approve, note.clone()),
        Decision::Reject { reason } => (KycAction::Reject, Some(reason.clone())),
        Decision::RequestChanges { reason } => (KycAction::RequestChanges, Some(reason.clone())),
    };
    // Only the merchant's live case can be decided: the submission and the merchant agree.
    let next = match transition(sub.status, action) {
        Ok(next) if merchant.kyc_status == sub.status => next,
        Ok(_) => {
            return Ok(Decided::Refused(TransitionRefused {
                from: merchant.kyc_status,
                action,
            }));
        }
        Err(refused) => return Ok(Decided::Refused(refused)),
    };
    conn.execute(
        "UPDATE kyc_submissions SET status = ?2, reviewed_at = ?3, reviewed_by = ?4, review_note = ?5
         WHERE id = ?1",
        params![kyc_id, next.as_str(), ctx.now, ctx.actor, note],
    )?;
    let mut key_id = merchant.key_id.clone();
    if let Decision::Approve {
        secret,
        key_id: fresh_key_id,
        ..
    } = decision
    {
        let kid = key_id.get_or_insert_with(|| fresh_key_id.clone()).clone();
        conn.execute(
            "UPDATE merchants SET kyc_status = ?2, key_id = ?3 WHERE id = ?1",
            params![merchant.id, next.as_str(), kid],
        )?;
        secrets::issue(
            conn,
            &merchant.id,
            secret,
            secrets::IssueReason::Approval,
            ctx.secret_ttl_secs,
            0,
            ctx.actor,
            ctx.now,
        )?;
    } else {
        conn.execute(
            "UPDATE merchants SET kyc_status = ?2 WHERE id = ?1",
            params![merchant.id, next.as_str()],
        )?;
    }
    let action_name = match action {
        KycAction::Approve => "kyc.approved",
        KycAction::Reject => "kyc.rejected",
        _ => "kyc.changes_requested",
    };
    audit::record(
        conn,
        ctx.now,
        ctx.actor,
        action_name,
        kyc_id,
        serde_json::json!({"merchant_id": merchant.id, "note": note, "key_id": key_id}),
    )?;
    outbox::enqueue(conn, &(ctx.notify)(&merchant, key_id.as_deref()), ctx.now)?;
    Ok(Decided::Done {
        status: next,
        key_id: if action == KycAction::Approve {
            key_id
        } else {
            None
        },
    })
}

/// Move a merchant (and their live submission, with `reason` as its note) along `action`:
/// the merchant as it was and the new status, or the answer when there is no such merchant or
/// the lifecycle refuses.
fn move_merchant(
    conn: &Connection,
    merchant_id: &str,
    action: KycAction,
    reason: &str,
    ctx: &DecisionContext<'_>,
) -> StoreResult<Result<(accounts::Merchant, KycStatus), Decided>> {
    let Some(merchant) = accounts::get(conn, merchant_id)? else {
        return Ok(Err(Decided::NotFound));
    };
    let next = match transition(merchant.kyc_status, action) {
        Ok(next) => next,
        Err(refused) => return Ok(Err(Decided::Refused(refused))),
    };
    conn.execute(
        "UPDATE merchants SET kyc_status = ?2 WHERE id = ?1",
        params![merchant_id, next.as_str()],
    )?;
    conn.execute(
        "UPDATE kyc_submissions SET status = ?5, reviewed_at = ?2, reviewed_by = ?3,
             review_note = ?4
         WHERE merchant_id = ?1 AND status = ?6",
        params![
            merchant_id,
            ctx.now,
            ctx.actor,
            reason,
            next.as_str(),
            merchant.kyc_status.as_str()
        ],
    )?;
    Ok(Ok((merchant, next)))
}

/// Revoke an approved merchant: KYC to revoked and every secret deactivated, at once.
pub fn revoke_merchant(
    conn: &Connection,
    merchant_id: &str,
    reason: &str,
    ctx: &DecisionContext<'_>,
) -> StoreResult<Decided> {
    let (merchant, next) = match move_merchant(conn, merchant_id, KycAction::Revoke, reason, ctx)? {
        Ok(moved) => moved,
        Err(refused) => return Ok(refused),
    };
    let revoked = secrets::revoke_all(conn, merchant_id, ctx.now)?;
    audit::record(
        conn,
        ctx.now,
        ctx.actor,
        "kyc.revoked",
        merchant_id,
        serde_json::json!({"reason": reason}),
    )?;
    audit::record(
        conn,
        ctx.now,
        ctx.actor,
        "secret.revoked",
        merchant_id,
        serde_json::json!({"secrets_revoked": revoked}),
    )?;
    outbox::enqueue(conn, &(ctx.notify)(&merchant, None), ctx.now)?;
    Ok(Decided::Done {
        status: next,
        key_id: merchant.key_id,
    })
}

/// Reinstate a revoked merchant: KYC back to approved, the revoked submission approved again
/// with the reason, and `secret` issued as the current signing secret, at once. The secrets
/// revoked with the approval stay revoked (they may be why it was revoked); the key id stays.
pub fn reinstate_merchant(
    conn: &Connection,
    merchant_id: &str,
    reason: &str,
    secret: &secrets::NewSecret,
    ctx: &DecisionContext<'_>,
) -> StoreResult<Decided> {
    let (merchant, next) =
        match move_merchant(conn, merchant_id, KycAction::Reinstate, reason, ctx)? {
            Ok(moved) => moved,
            Err(refused) => return Ok(refused),
        };
    audit::record(
        conn,
        ctx.now,
        ctx.actor,
        "kyc.reinstated",
        merchant_id,
        serde_json::json!({"reason": reason}),
    )?;
    secrets::issue(
        conn,
        merchant_id,
        secret,
        secrets::IssueReason::Reinstatement,
        ctx.secret_ttl_secs,
        0,
        ctx.actor,
        ctx.now,
    )?;
    outbox::enqueue(
        conn,
        &(ctx.notify)(&merchant, merchant.key_id.as_deref()),
        ctx.now,
    )?;
    Ok(Decided::Done {
        status: next,
        key_id: merchant.key_id,
    })
}
