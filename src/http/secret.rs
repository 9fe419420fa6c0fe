//! The merchant's webhook signing secret: reveal and regenerate.

use super::extract::AuthMerchant;
use crate::{
    clock,
    domain::{KycStatus, WebhookSecret, secret::SECRET_BYTES},
    error::ApiError,
    startup::AppState,
    store::{self, accounts::Merchant, secrets},
};
use actix_web::{HttpResponse, web};
use serde_json::json;

/// A freshly generated secret, sealed for storage.
pub fn generate(state: &AppState) -> (WebhookSecret, secrets::NewSecret) {
    let secret = WebhookSecret::from_bytes(state.crypto.random_bytes::<SECRET_BYTES>());
    let id = store::new_id("sec");
    let sealed = state
        .crypto
        .seal(&secrets::seal_context(&id), secret.expose().as_bytes());
    (secret, secrets::NewSecret { id, sealed })
}

/// Open a stored secret.
pub fn open(state: &AppState, row: &secrets::SecretRow) -> Result<String, ApiError> {
    state
        .crypto
        .open(&secrets::seal_context(&row.id), &row.sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            tracing::error!(secret_id = %row.id, "a stored secret does not open with the master key");
            ApiError::internal()
        })
}

fn require_approved(m: &Merchant) -> Result<(), ApiError> {
    if m.kyc_status != KycStatus::Approved {
        return Err(ApiError::forbidden(
            "kyc_required",
            "Webhook secrets are available once your KYC is approved.",
        ));
    }
    Ok(())
}

/// The merchant's secrets as revealed to them (audited).
pub struct Revealed {
    pub key_id: String,
    pub secret_key: String,
    pub is_active: bool,
    pub expires_at: i64,
    pub previous: Option<(String, i64)>,
}

/// Reveal the current secret (and the previous one in grace); writes a `secret.revealed` entry.
pub async fn reveal_for(state: &AppState, m: &Merchant) -> Result<Revealed, ApiError> {
    require_approved(m)?;
    let id = m.id.clone();
    let rows = state
        .store
        .read(move |c| secrets::for_merchant(c, &id))
        .await?;
    let now = clock::now();
    let current = secrets::current(&rows).ok_or_else(|| {
        ApiError::forbidden(
            "kyc_required",
            "No active secret: your approval may have been revoked.",
        )
    })?;
    let previous = match secrets::previous_in_grace(&rows, now) {
        Some(p) => Some((open(state, p)?, p.times.valid_until())),
        None => None,
    };
    let revealed = Revealed {
        key_id: m.key_id.clone().unwrap_or_default(),
        secret_key: open(state, current)?,
        is_active: current.times.verifies_at(now),
        expires_at: current.times.expires_at,
        previous,
    };
    let (mid, sid) = (m.id.clone(), current.id.clone());
    state
        .store
        .write(move |c| secrets::record_reveal(c, &mid, &sid, now))
        .await?;
    Ok(revealed)
}

/// `GET /api/v1/webhook/secret/`
pub async fn reveal(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<HttpResponse, ApiError> {
    let r = reveal_for(&state, &m).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "key_id": r.key_id,
            "secret_key": r.secret_key,
            "is_active": r.is_active,
            "expires_at": clock::rfc3339(r.expires_at),
            "previous": r.previous.map(|(secret_key, until)| json!({
                "secret_key": secret_key,
                "valid_until": clock::rfc3339(until),
            })),
        })))
}

/// Issue a new secret at the merchant's request (manual rotation with grace).
pub async fn regenerate_for(
    state: &AppState,
    m: &Merchant,
) -> Result<(WebhookSecret, secrets::Issued), ApiError> {
    require_approved(m)?;
    let (secret, new) = generate(state);
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let grace = state.config.secret_grace.as_secs() as i64;
    let id = m.id.clone();
    let now = clock::now();
    let issued = state
        .store
        .write(move |c| {
            secrets::issue(
                c,
                &id,
                &new,
                secrets::IssueReason::Manual,
                ttl,
                grace,
                &format!("merchant:{id}"),
                now,
            )
        })
        .await?;
    state.keys.invalidate();
    Ok((secret, issued))
}

const STORE_SAFELY: &str = "Store this secret safely. Do not share it.";

/// `POST /api/v1/webhook/secret/`
pub async fn regenerate(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<HttpResponse, ApiError> {
    let (secret, issued) = regenerate_for(&state, &m).await?;
    let key_id = m.key_id.clone().unwrap_or_default();
    let res = match issued {
        secrets::Issued::Created { expires_at } => HttpResponse::Created()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({
                "status": "created",
                "key_id": key_id,
                "secret_key": secret.expose(),
                "expires_at": clock::rfc3339(expires_at),
                "message": STORE_SAFELY,
            })),
        secrets::Issued::Regenerated {
            expires_at,
            previous_valid_until,
        } => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({
                "status": "regenerated",
                "key_id": key_id,
                "secret_key": secret.expose(),
                "expires_at": clock::rfc3339(expires_at),
                "previous_valid_until": clock::rfc3339(previous_valid_until),
                "message": STORE_SAFELY,
            })),
    };
    Ok(res)
}
