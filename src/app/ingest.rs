//! Inbound merchant order webhooks: Standard Webhooks verification on the raw bytes, replay and
//! rate protection, validation, idempotent durable storage.
//!
//! Order of checks: per-IP limit → signature headers → key id → timestamp → signature (constant
//! time, every verifying secret) → KYC → expired secret → per-merchant limit (a redelivered
//! duplicate is still answered as one) → content type → JSON → payload → idempotency and write
//! (group commit). The body's size is bounded by the caller while reading it. KYC comes after
//! the signature so that only a holder of the merchant's secret learns the merchant is refused.

use super::{AppResult, Error, keys::MerchantKeys};
use crate::{
    crypto::sha256,
    domain::{
        KycStatus,
        order::OrderPayload,
        secret::SecretState,
        signature::{self, MAX_WEBHOOK_ID},
    },
    emails,
    limits::check,
    state::AppState,
    store::{self, orders::IncomingWebhook, orders::Ingested},
};
use std::{net::IpAddr, sync::Arc, time::Instant};

/// Why an inbound webhook was refused before it could be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// These signature headers are missing or empty.
    MissingHeaders(Vec<&'static str>),
    WebhookIdTooLong,
    UnknownKeyId,
    KycNotApproved,
    /// `webhook-timestamp` is not unix seconds.
    MalformedTimestamp,
    TimestampOutOfTolerance,
    InvalidSignature,
    /// Signed with an expired secret (a fresh one now exists).
    SecretExpired,
    UnsupportedMediaType,
    InvalidJson,
    /// The `webhook-id` was used before with a different body.
    IdempotencyConflict,
}

impl Rejection {
    /// The error code a client is answered with, and the reason a refusal is recorded under.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MissingHeaders(_) | Rejection::WebhookIdTooLong => "missing_signature",
            Rejection::UnknownKeyId => "invalid_api_key",
            Rejection::KycNotApproved => "kyc_not_approved",
            Rejection::MalformedTimestamp | Rejection::TimestampOutOfTolerance => {
                "timestamp_out_of_tolerance"
            }
            Rejection::InvalidSignature => "invalid_signature",
            Rejection::SecretExpired => "secret_expired",
            Rejection::UnsupportedMediaType => "unsupported_media_type",
            Rejection::InvalidJson => "invalid_json",
            Rejection::IdempotencyConflict => "idempotency_conflict",
        }
    }
}

/// The signature headers of a request, as sent (trimmed; empty counts as missing).
#[derive(Debug, Default, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub key_id: Option<&'a str>,
    pub webhook_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// An inbound webhook as read off the wire.
pub struct Inbound<'a> {
    pub ip: IpAddr,
    pub headers: SignedHeaders<'a>,
    /// Whether the content type is JSON (`application/json` or `application/*+json`).
    pub is_json: bool,
    pub body: &'a [u8],
    /// JSON of the non-secret request headers kept with the event.
    pub recorded_headers: String,
    /// When the request arrived, for the recorded response time.
    pub started: Instant,
}

/// What happened to an accepted webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Created { order_id: String, event_id: String },
    Updated { order_id: String, event_id: String },
    Duplicate { order_id: String, event_id: String },
}

/// The signature headers, all present and bounded.
struct Signed<'a> {
    key_id: &'a str,
    id: &'a str,
    timestamp: &'a str,
    signature: &'a str,
}

fn signed(h: SignedHeaders<'_>) -> Result<Signed<'_>, Rejection> {
    let named = [
        ("X-API-Key", h.key_id),
        ("webhook-id", h.webhook_id),
        ("webhook-timestamp", h.timestamp),
        ("webhook-signature", h.signature),
    ];
    let missing: Vec<&'static str> = named
        .iter()
        .filter(|(_, v)| v.is_none_or(str::is_empty))
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::MissingHeaders(missing));
    }
    let [key_id, id, timestamp, signature] = named.map(|(_, v)| v.unwrap_or_default());
    if id.len() > MAX_WEBHOOK_ID {
        return Err(Rejection::WebhookIdTooLong);
    }
    Ok(Signed {
        key_id,
        id,
        timestamp,
        signature,
    })
}

/// Receive one webhook: verify, store durably, and say what was stored.
pub async fn receive(state: &AppState, w: Inbound<'_>) -> AppResult<Accepted> {
    state.limits.ip_blocked(w.ip)?;
    let now = state.now();
    let (keys, webhook_id) = match authenticate(state, w.headers, w.body, now).await {
        Ok(ok) => ok,
        Err(e) => {
            state.limits.ip_failed(w.ip)?;
            if let Error::Webhook(r) = &e {
                note_refusal(state, &w, r.code()).await;
            }
            return Err(e);
        }
    };
    if let Err(limited) = check(&state.limits.merchant, &keys.merchant_id) {
        // A sender retrying after a timeout deserves its duplicate answer, not a 429.
        return match earlier_duplicate(state, &keys.merchant_id, &webhook_id, w.body).await? {
            Some(duplicate) => Ok(duplicate),
            None => Err(limited.into()),
        };
    }

    let incoming = IncomingWebhook {
        event_id: store::new_id("evt"),
        new_order_id: store::new_id("ord"),
        merchant_id: keys.merchant_id.clone(),
        business_name: keys.business_name.clone(),
        webhook_id,
        received_at_ms: state.now_ms(),
        client_ip: w.ip.to_string(),
        body_hash: sha256(w.body),
        body: w.body.to_vec(),
        duration_us: w.started.elapsed().as_micros() as i64,
        headers: w.recorded_headers,
        violations: None,
    };
    let parsed = if !w.is_json {
        Err(Error::Webhook(Rejection::UnsupportedMediaType))
    } else {
        serde_json::from_slice::<serde_json::Value>(w.body)
            .map_err(|_| Error::Webhook(Rejection::InvalidJson))
            .and_then(|v| OrderPayload::from_json(&v).map_err(Error::Invalid))
    };
    let order = match parsed {
        Ok(order) => order,
        Err(e) => {
            let mut incoming = incoming;
            if let Error::Invalid(violations) = &e {
                incoming.violations = serde_json::to_string(violations).ok();
            }
            record_rejection(state, incoming, reason_code(&e)).await;
            return Err(e);
        }
    };
    // Rendered here, off the single writer thread; queued only if the order is created and
    // the merchant has order emails on. None: the operator turned them off for everyone.
    let confirmation = state.config.order_emails.then(|| {
        emails::order_status(
            &order.customer_email,
            &incoming.business_name,
            &incoming.new_order_id,
            order.tracking_status,
            true,
        )
    });
    let now = state.now();
    let routes = state.routes.current(state).await?;
    let may_deliver = !routes.is_empty();
    let stored = state
        .store
        .write(move |c| {
            let route = |topic: &str| super::destinations::matching(&routes, "orders", topic);
            let status_email = |customer_email: &str, order_id: &str| {
                emails::order_status(
                    customer_email,
                    &incoming.business_name,
                    order_id,
                    order.tracking_status,
                    false,
                )
            };
            store::orders::ingest(
                c,
                &incoming,
                &order,
                confirmation.as_ref(),
                &status_email,
                &route,
                now,
            )
        })
        .await?;
    if may_deliver && matches!(stored, Ingested::Created { .. } | Ingested::Updated { .. }) {
        // The worker sends at once instead of at its next tick.
        state.delivery_wake.notify_one();
    }
    match stored {
        Ingested::Created { order_id, event_id } => Ok(Accepted::Created { order_id, event_id }),
        Ingested::Updated { order_id, event_id } => Ok(Accepted::Updated { order_id, event_id }),
        Ingested::Duplicate { order_id, event_id } => {
            Ok(Accepted::Duplicate { order_id, event_id })
        }
        Ingested::Conflict => Err(Rejection::IdempotencyConflict.into()),
    }
}

/// Steps up to and including signature verification. Every failure here counts against the
/// client IP.
async fn authenticate(
    state: &AppState,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: i64,
) -> AppResult<(Arc<MerchantKeys>, String)> {
    let h = signed(headers)?;
    let keys = state
        .keys
        .lookup(state, h.key_id)
        .await?
        .ok_or(Rejection::UnknownKeyId)?;
    let ts: i64 = h
        .timestamp
        .parse()
        .map_err(|_| Rejection::MalformedTimestamp)?;
    let tolerance = state.config.timestamp_tolerance.as_secs() as i64;
    if (now - ts).abs() > tolerance {
        return Err(Rejection::TimestampOutOfTolerance.into());
    }
    let verify = |key: &[u8]| signature::verify(key, h.id, h.timestamp, body, h.signature);
    if keys.kyc_status != KycStatus::Approved {
        // Verify first: a forger learns nothing about the merchant's standing.
        return Err(if keys.secrets.iter().any(|s| verify(&s.key)) {
            Rejection::KycNotApproved
        } else {
            Rejection::InvalidSignature
        }
        .into());
    }
    if keys
        .secrets
        .iter()
        .filter(|s| s.times.verifies_at(now))
        .any(|s| verify(&s.key))
    {
        return Ok((keys, h.id.to_string()));
    }
    let under_expired = keys.secrets.iter().any(|s| {
        matches!(
            s.times.state_at(now),
            SecretState::Expired | SecretState::Retired
        ) && verify(&s.key)
    });
    if under_expired {
        super::secrets::replace_expired(state, &keys.merchant_id, &keys.merchant_email).await?;
        return Err(Rejection::SecretExpired.into());
    }
    Err(Rejection::InvalidSignature.into())
}

/// The reason recorded with an authenticated but refused webhook.
fn reason_code(e: &Error) -> &'static str {
    match e {
        Error::Webhook(r) => r.code(),
        _ => "validation_failed",
    }
}

/// Note a request refused before authentication, for the merchant its key id names (none when
/// the key id is unknown or missing: then only admins see it). Never its body.
async fn note_refusal(state: &AppState, w: &Inbound<'_>, reason: &'static str) {
    refused_unread(state, w.ip, w.headers, &w.recorded_headers, reason).await;
}

/// Note a request refused before authentication, also one whose body was never read (too
/// large): the same record as a failed signature.
pub async fn refused_unread(
    state: &AppState,
    ip: IpAddr,
    headers: SignedHeaders<'_>,
    recorded_headers: &str,
    reason: &'static str,
) {
    let key_id = headers.key_id.filter(|k| !k.is_empty());
    // An unknown key id is cached as such, so an attacker's spray costs no read per request.
    let merchant = match key_id {
        Some(k) => state.keys.lookup(state, k).await.ok().flatten(),
        None => None,
    };
    super::failures::note(
        state,
        super::failures::Refused {
            merchant_id: merchant.as_ref().map(|m| m.merchant_id.as_str()),
            reason,
            client_ip: ip.to_string(),
            key_id,
            webhook_id: headers.webhook_id,
            headers: recorded_headers,
        },
    );
}

/// The answer already given to this `webhook-id`, when it came with the same body.
async fn earlier_duplicate(
    state: &AppState,
    merchant_id: &str,
    webhook_id: &str,
    body: &[u8],
) -> AppResult<Option<Accepted>> {
    let (mid, wid) = (merchant_id.to_string(), webhook_id.to_string());
    let earlier = state
        .store
        .read(move |c| store::orders::accepted_event(c, &mid, &wid))
        .await?;
    let hash = sha256(body);
    Ok(earlier
        .filter(|e| e.body_hash == hash)
        .map(|e| Accepted::Duplicate {
            order_id: e.order_id.unwrap_or_default(),
            event_id: e.event_id,
        }))
}

/// Keep an authenticated but refused webhook as an event before it is answered. A failure to
/// record is logged; the refusal stands either way.
async fn record_rejection(state: &AppState, incoming: IncomingWebhook, reason: &'static str) {
    if let Err(e) = state
        .store
        .write(move |c| store::orders::record_rejected(c, &incoming, reason))
        .await
    {
        tracing::warn!(error = %e, "could not record a rejected webhook");
    }
}
