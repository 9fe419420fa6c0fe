//! Webhook signing secrets: issue, open, reveal, regenerate, replace an expired one, rotate
//! before expiry. Every change here invalidates the key cache after it committed.

use super::{AppResult, Error};
use crate::{
    clock,
    domain::{KycStatus, WebhookSecret, secret::SECRET_BYTES},
    emails,
    state::AppState,
    store::{self, accounts::Merchant, secrets},
};

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
pub fn open(state: &AppState, row: &secrets::SecretRow) -> AppResult<String> {
    state
        .crypto
        .open(&secrets::seal_context(&row.id), &row.sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            tracing::error!(secret_id = %row.id, "a stored secret does not open with the master key");
            Error::Internal
        })
}

fn require_approved(m: &Merchant) -> AppResult<()> {
    if m.kyc_status != KycStatus::Approved {
        return Err(Error::KycRequired { revoked: false });
    }
    Ok(())
}

/// The merchant's secrets as revealed to them.
pub struct Revealed {
    pub key_id: String,
    pub secret_key: String,
    pub is_active: bool,
    pub expires_at: i64,
    /// The superseded secret still in its grace period, and until when it verifies.
    pub previous: Option<(String, i64)>,
}

/// Reveal the current secret (and the previous one in grace); writes a `secret.revealed` entry.
pub async fn reveal(state: &AppState, m: &Merchant) -> AppResult<Revealed> {
    require_approved(m)?;
    let id = m.id.clone();
    let rows = state
        .store
        .read(move |c| secrets::for_merchant(c, &id))
        .await?;
    let now = state.now();
    let current = secrets::current(&rows).ok_or(Error::KycRequired { revoked: true })?;
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

/// Issue a new secret at the merchant's request (manual rotation; the old one keeps verifying
/// for `--secret-grace`).
pub async fn regenerate(
    state: &AppState,
    m: &Merchant,
) -> AppResult<(WebhookSecret, secrets::Issued)> {
    require_approved(m)?;
    let (secret, new) = generate(state);
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let grace = state.config.secret_grace.as_secs() as i64;
    let id = m.id.clone();
    let now = state.now();
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

/// Issue a replacement when the merchant's current secret has expired (a webhook arrived signed
/// with it), and email the merchant.
pub async fn replace_expired(
    state: &AppState,
    merchant_id: &str,
    merchant_email: &str,
) -> AppResult<()> {
    let (_, new) = generate(state);
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let email = emails::secret_replaced(merchant_email, &state.config.public_url);
    let merchant_id = merchant_id.to_string();
    let now = state.now();
    let issued = state
        .store
        .write(move |c| secrets::replace_expired(c, &merchant_id, &new, ttl, &email, now))
        .await?;
    if issued {
        state.keys.invalidate();
    }
    Ok(())
}

/// Issue successors for secrets within `--rotate-before` of expiry and email the merchants;
/// returns how many were rotated. A failure for one merchant is logged and retried next run.
pub async fn rotate_due(state: &AppState) -> AppResult<usize> {
    let before = state.config.rotate_before.as_secs() as i64;
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let now = state.now();
    let due = state
        .store
        .read(move |c| secrets::due_for_rotation(c, now, before))
        .await?;
    let mut rotated = 0;
    for d in due {
        let (_, new) = generate(state);
        let now = state.now();
        let email = emails::secret_rotated(
            &d.merchant_email,
            &clock::rfc3339(d.expires_at.max(now)),
            &state.config.public_url,
        );
        let merchant = d.merchant_id.clone();
        match state
            .store
            .write(move |c| secrets::rotate_if_still_due(c, &d, &new, ttl, before, &email, now))
            .await
        {
            Ok(true) => {
                state.keys.invalidate();
                rotated += 1;
                tracing::info!(%merchant, "rotated signing secret");
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(%merchant, error = %e, "secret rotation failed; will retry"),
        }
    }
    Ok(rotated)
}
