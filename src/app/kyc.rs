//! KYC: a merchant's submission, the admin's decisions (approve, reject, request changes,
//! revoke) and reading the case. Every decision commits its audit row and email with it.

use super::{AppResult, Error, Missing};
use crate::{
    domain::{
        KycAction, KycStatus, Violation,
        kyc::{DocumentKind, KycForm, transition},
        text,
    },
    emails::{self, OutgoingEmail},
    state::AppState,
    store::{
        self, StoreResult,
        accounts::Merchant,
        kyc::{self as kyc_store, Decided, Decision, DecisionContext, QueueItem, Submission},
    },
};
use rusqlite::Connection;

/// An uploaded document, typed by its content.
pub struct Document {
    pub kind: DocumentKind,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A decoded document ready to be served.
pub struct OpenedDocument {
    pub mime: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Whether a merchant in `status` may submit now (checked before reading a large upload).
pub fn may_submit(status: KycStatus) -> AppResult<()> {
    transition(status, KycAction::Submit)?;
    Ok(())
}

/// Validate and store a submission for `merchant_id`; returns the new kyc id.
pub async fn submit(
    state: &AppState,
    merchant_id: &str,
    form: KycForm,
    document: Option<Document>,
) -> AppResult<String> {
    // Every violation at once: the form's fields and a missing document.
    let (details, document) = match (form.validate(), document) {
        (Ok(details), Some(document)) => (details, document),
        (result, document) => {
            let mut violations = result.err().unwrap_or_default();
            if document.is_none() {
                violations.push(Violation::new(
                    "document",
                    "is required (PDF, PNG or JPEG, at most 5 MiB)",
                ));
            }
            return Err(Error::Invalid(violations));
        }
    };
    let id = store::new_id("kyc");
    let new = kyc_store::NewSubmission {
        document_sealed: state
            .crypto
            .seal(&kyc_store::document_context(&id), &document.bytes),
        id: id.clone(),
        details,
        document_kind: document.kind,
        document_name: document.name,
        document_size: document.bytes.len() as i64,
    };
    let merchant_id = merchant_id.to_string();
    let now = state.now();
    state
        .store
        .write(move |c| kyc_store::submit(c, &merchant_id, &new, now))
        .await??;
    Ok(id)
}

/// An admin's verdict on a pending submission.
#[derive(Debug, Clone)]
pub enum Verdict {
    Approve { note: Option<String> },
    Reject { reason: String },
    RequestChanges { reason: String },
}

impl Verdict {
    /// Build a verdict from its action name (`approve`, `reject`, `request_changes`) and the
    /// admin's text: a note for approvals, a required reason otherwise.
    pub fn parse(action: &str, text_raw: Option<&str>) -> AppResult<Verdict> {
        match action {
            "approve" => Ok(Verdict::Approve {
                note: text::optional_note(text_raw)?,
            }),
            "reject" => Ok(Verdict::Reject {
                reason: text::reason(text_raw)?,
            }),
            "request_changes" => Ok(Verdict::RequestChanges {
                reason: text::reason(text_raw)?,
            }),
            _ => Err(Violation::new("action", "must be approve, reject or request_changes").into()),
        }
    }
}

/// What a decision did.
pub struct Outcome {
    pub status: KycStatus,
    /// The merchant's key id, after an approval.
    pub key_id: Option<String>,
}

/// Apply an admin's verdict; an approval issues the first signing secret in the same
/// transaction.
pub async fn decide(
    state: &AppState,
    actor: &str,
    kyc_id: &str,
    verdict: Verdict,
) -> AppResult<Outcome> {
    let decision = match verdict.clone() {
        Verdict::Approve { note } => Decision::Approve {
            note,
            secret: super::secrets::generate(state).1,
            key_id: new_key_id(state),
        },
        Verdict::Reject { reason } => Decision::Reject { reason },
        Verdict::RequestChanges { reason } => Decision::RequestChanges { reason },
    };
    let public_url = state.config.public_url.clone();
    let notify = move |m: &Merchant, key_id: Option<&str>| match &verdict {
        Verdict::Approve { .. } => emails::kyc_approved(
            &m.email,
            &m.business_name,
            key_id.unwrap_or_default(),
            &public_url,
        ),
        Verdict::Reject { reason } => emails::kyc_rejected(&m.email, reason, &public_url),
        Verdict::RequestChanges { reason } => {
            emails::kyc_changes_requested(&m.email, reason, &public_url)
        }
    };
    let kyc_id = kyc_id.to_string();
    let decided = commit_decision(state, actor, notify, move |c, ctx| {
        kyc_store::decide(c, &kyc_id, &decision, ctx)
    })
    .await?;
    settle(state, decided, Missing::Kyc)
}

/// Revoke an approved merchant: KYC to revoked and every secret deactivated, at once.
pub async fn revoke_merchant(
    state: &AppState,
    actor: &str,
    merchant_id: &str,
    reason: Option<&str>,
) -> AppResult<()> {
    let reason = text::reason(reason)?;
    let told = reason.clone();
    let notify = move |m: &Merchant, _: Option<&str>| emails::kyc_revoked(&m.email, &told);
    let merchant_id = merchant_id.to_string();
    let decided = commit_decision(state, actor, notify, move |c, ctx| {
        kyc_store::revoke_merchant(c, &merchant_id, &reason, ctx)
    })
    .await?;
    settle(state, decided, Missing::Merchant).map(|_| ())
}

/// Reinstate a revoked merchant with a required reason: KYC approved again and a new signing
/// secret issued in the same transaction, like an approval (the revoked secrets stay revoked,
/// the key id stays). Audited as `kyc.reinstated` and `secret.issued`; the merchant is emailed.
pub async fn reinstate_merchant(
    state: &AppState,
    actor: &str,
    merchant_id: &str,
    reason: Option<&str>,
) -> AppResult<()> {
    let reason = text::reason(reason)?;
    let told = reason.clone();
    let public_url = state.config.public_url.clone();
    let notify = move |m: &Merchant, key_id: Option<&str>| {
        emails::kyc_reinstated(&m.email, key_id.unwrap_or_default(), &told, &public_url)
    };
    let secret = super::secrets::generate(state).1;
    let merchant_id = merchant_id.to_string();
    let decided = commit_decision(state, actor, notify, move |c, ctx| {
        kyc_store::reinstate_merchant(c, &merchant_id, &reason, &secret, ctx)
    })
    .await?;
    settle(state, decided, Missing::Merchant).map(|_| ())
}

/// Run a decision through the writer with its context: who decides, when, the secret lifetime
/// of an approval, and the email telling the merchant.
async fn commit_decision(
    state: &AppState,
    actor: &str,
    notify: impl Fn(&Merchant, Option<&str>) -> OutgoingEmail + Send + 'static,
    mut apply: impl FnMut(&Connection, &DecisionContext<'_>) -> StoreResult<Decided> + Send + 'static,
) -> AppResult<Decided> {
    let actor = actor.to_string();
    let secret_ttl_secs = state.config.secret_ttl.as_secs() as i64;
    let now = state.now();
    Ok(state
        .store
        .write(move |c| {
            let ctx = DecisionContext {
                actor: &actor,
                now,
                secret_ttl_secs,
                notify: &notify,
            };
            apply(c, &ctx)
        })
        .await?)
}

/// Turn the store's answer into the use case's, invalidating the key cache after a change.
fn settle(state: &AppState, decided: Decided, missing: Missing) -> AppResult<Outcome> {
    match decided {
        Decided::NotFound => Err(Error::NotFound(missing)),
        Decided::Refused(r) => Err(Error::Refused(r)),
        Decided::Done { status, key_id } => {
            state.keys.invalidate();
            Ok(Outcome { status, key_id })
        }
    }
}

/// A new public key id.
fn new_key_id(state: &AppState) -> String {
    format!("hgk_{}", hex::encode(state.crypto.random_bytes::<12>()))
}

/// A submission with its merchant and the merchant's other submissions (newest first).
pub struct Case {
    pub submission: Submission,
    pub merchant: Option<Merchant>,
    pub history: Vec<Submission>,
}

/// One KYC case by submission id.
pub async fn case(state: &AppState, kyc_id: &str) -> AppResult<Case> {
    let id = kyc_id.to_string();
    state
        .store
        .read(move |c| {
            let Some(submission) = kyc_store::get(c, &id)? else {
                return Ok(None);
            };
            let merchant = store::accounts::get(c, &submission.merchant_id)?;
            let history = kyc_store::history(c, &submission.merchant_id)?
                .into_iter()
                .filter(|h| h.id != submission.id)
                .collect();
            Ok(Some(Case {
                submission,
                merchant,
                history,
            }))
        })
        .await?
        .ok_or(Error::NotFound(Missing::Kyc))
}

/// A merchant's submissions, newest first.
pub async fn history(state: &AppState, merchant_id: &str) -> AppResult<Vec<Submission>> {
    let id = merchant_id.to_string();
    Ok(state
        .store
        .read(move |c| kyc_store::history(c, &id))
        .await?)
}

/// The review queue, oldest first, optionally of one status.
pub async fn queue(
    state: &AppState,
    status: Option<KycStatus>,
    limit: u32,
) -> AppResult<Vec<QueueItem>> {
    Ok(state
        .store
        .read(move |c| kyc_store::queue(c, status, limit))
        .await?)
}

/// The decrypted document of a submission.
pub async fn document(state: &AppState, kyc_id: &str) -> AppResult<OpenedDocument> {
    let id = kyc_id.to_string();
    let (mime, name, sealed) = state
        .store
        .read(move |c| kyc_store::document(c, &id))
        .await?
        .ok_or(Error::NotFound(Missing::Kyc))?;
    let bytes = state
        .crypto
        .open(&kyc_store::document_context(kyc_id), &sealed)
        .map_err(|_| {
            tracing::error!(%kyc_id, "a stored document does not open with the master key");
            Error::Internal
        })?;
    Ok(OpenedDocument { mime, name, bytes })
}

/// A safe download name for a document: its id and the extension of its type.
pub fn document_file_name(kyc_id: &str, mime: &str) -> String {
    let ext = DocumentKind::from_mime(mime).map_or("bin", |k| k.extension());
    format!("{kyc_id}.{ext}")
}

/// Parse an optional KYC status filter (`all` or empty means none).
pub fn status_filter(raw: Option<&str>) -> AppResult<Option<KycStatus>> {
    match raw.filter(|s| !s.is_empty() && *s != "all") {
        None => Ok(None),
        Some(s) => KycStatus::parse(s).map(Some).ok_or_else(|| {
            Violation::new(
                "status",
                "must be one of pending, approved, rejected, changes_requested, revoked",
            )
            .into()
        }),
    }
}
