//! `POST /api/v1/webhooks/orders/`: Standard Webhooks verification on the raw bytes, replay and
//! rate protection, validation, idempotent durable storage, and only then the answer.
//!
//! Order of checks: body size → per-IP limit → signature headers → key id → KYC → timestamp →
//! signature (constant time, every verifying secret) → expired secret → per-merchant limit →
//! content type → JSON → payload → idempotency and write (group commit) → answer.

use super::extract::client_ip;
use super::keys::MerchantKeys;
use crate::{
    clock,
    crypto::sha256,
    domain::{KycStatus, order::OrderPayload, secret::SecretState, signature},
    emails,
    error::ApiError,
    metrics::Outcome,
    startup::AppState,
    store::{self, orders::IncomingWebhook, orders::Ingested},
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use futures_util::StreamExt;
use serde_json::json;
use std::{sync::Arc, time::Instant};

/// Longest accepted `webhook-id`.
const MAX_WEBHOOK_ID: usize = 256;

/// The handler: runs the pipeline, counts the outcome, answers.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let (outcome, response) = match pipeline(&state, &req, payload, started).await {
        Ok((outcome, response)) => (outcome, response),
        Err(e) => (
            Outcome::Rejected(e.code),
            actix_web::ResponseError::error_response(&e),
        ),
    };
    state
        .metrics
        .record(outcome, started.elapsed(), clock::now());
    response
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Read the body, refusing it as soon as it exceeds `max` (and before reading when the declared
/// length already does).
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The body exceeds the {max}-byte limit."),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(max));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::bad_request("invalid_body", "The body could not be read."))?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The signature headers, all present.
struct Signed<'a> {
    key_id: &'a str,
    id: &'a str,
    timestamp: &'a str,
    signature: &'a str,
}

fn signed_headers(req: &HttpRequest) -> Result<Signed<'_>, ApiError> {
    let names = [
        "X-API-Key",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ];
    let values: Vec<Option<&str>> = names.iter().map(|n| header_str(req, n)).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(unauthorized(
            "missing_signature",
            &format!("Missing header(s): {}.", missing.join(", ")),
        ));
    }
    let [key_id, id, timestamp, signature] =
        [values[0], values[1], values[2], values[3]].map(Option::unwrap_or_default);
    if id.len() > MAX_WEBHOOK_ID {
        return Err(unauthorized(
            "missing_signature",
            "webhook-id is longer than 256 characters.",
        ));
    }
    Ok(Signed {
        key_id,
        id,
        timestamp,
        signature,
    })
}

/// Steps up to and including signature verification. Every failure here counts against the
/// client IP.
async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    now: i64,
) -> Result<(Arc<MerchantKeys>, String), ApiError> {
    let h = signed_headers(req)?;
    let keys =
        state.keys.lookup(state, h.key_id).await?.ok_or_else(|| {
            unauthorized("invalid_api_key", "The X-API-Key is not a known key id.")
        })?;
    if keys.kyc_status != KycStatus::Approved {
        return Err(ApiError::forbidden(
            "kyc_not_approved",
            "This merchant's KYC is not approved; webhooks are refused.",
        ));
    }
    let ts: i64 = h.timestamp.parse().map_err(|_| {
        unauthorized(
            "timestamp_out_of_tolerance",
            "webhook-timestamp must be unix seconds.",
        )
    })?;
    let tolerance = state.config.timestamp_tolerance.as_secs() as i64;
    if (now - ts).abs() > tolerance {
        return Err(unauthorized(
            "timestamp_out_of_tolerance",
            "webhook-timestamp is outside the accepted window; check the sender's clock.",
        ));
    }
    let verify = |key: &[u8]| signature::verify(key, h.id, h.timestamp, body, h.signature);
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
        ensure_fresh_secret(state, &keys, now).await?;
        return Err(unauthorized(
            "secret_expired",
            "This webhook was signed with an expired secret; a new secret has been generated. \
             Fetch it from your dashboard or GET /api/v1/webhook/secret/ and sign with it.",
        ));
    }
    Err(unauthorized(
        "invalid_signature",
        "The webhook-signature does not match the body.",
    ))
}

/// Issue a replacement when the merchant's current secret has expired.
async fn ensure_fresh_secret(
    state: &AppState,
    keys: &MerchantKeys,
    now: i64,
) -> Result<(), ApiError> {
    let (_, new) = super::secret::generate(state);
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let email = emails::secret_replaced(&keys.merchant_email, &state.config.public_url);
    let merchant_id = keys.merchant_id.clone();
    let issued = state
        .store
        .write(move |c| store::secrets::replace_expired(c, &merchant_id, &new, ttl, &email, now))
        .await?;
    if issued {
        state.keys.invalidate();
    }
    Ok(())
}

fn is_json(req: &HttpRequest) -> bool {
    header_str(req, "content-type").is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or_default().trim();
        mime.eq_ignore_ascii_case("application/json")
            || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

async fn pipeline(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    started: Instant,
) -> Result<(Outcome, HttpResponse), ApiError> {
    let body = read_body(req, payload, state.config.max_body).await?;
    let ip = client_ip(req);
    state.limits.ip_blocked(ip)?;
    let now = clock::now();
    let (keys, webhook_id) = match authenticate(state, req, &body, now).await {
        Ok(ok) => ok,
        Err(e) => {
            state.limits.ip_failed(ip)?;
            return Err(e);
        }
    };
    super::limits::check(&state.limits.merchant, &keys.merchant_id)?;

    let incoming = IncomingWebhook {
        event_id: store::new_id("evt"),
        new_order_id: store::new_id("ord"),
        merchant_id: keys.merchant_id.clone(),
        business_name: keys.business_name.clone(),
        webhook_id,
        received_at_ms: clock::now_ms(),
        client_ip: ip.to_string(),
        body_hash: sha256(&body),
        body: body.to_vec(),
        duration_us: started.elapsed().as_micros() as i64,
        headers: recorded_headers(req),
    };
    let parsed = if !is_json(req) {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the webhook body as application/json.",
        ))
    } else {
        serde_json::from_slice::<serde_json::Value>(&body)
            .map_err(|_| ApiError::bad_request("invalid_json", "The body is not valid JSON."))
            .and_then(|v| OrderPayload::from_json(&v).map_err(ApiError::validation))
    };
    let order = match parsed {
        Ok(order) => order,
        Err(e) => {
            record_rejection(state, incoming, e.code);
            return Err(e);
        }
    };
    let confirmation = emails::order_status(
        &order.customer_email,
        &incoming.business_name,
        &incoming.new_order_id,
        order.tracking_status,
        true,
    );
    let stored = state
        .store
        .write(move |c| store::orders::ingest(c, &incoming, &order, &confirmation, clock::now()))
        .await?;
    Ok(match stored {
        Ingested::Created { order_id, event_id } => (
            Outcome::Created,
            HttpResponse::Created()
                .json(json!({"status": "success", "order_id": order_id, "event_id": event_id})),
        ),
        Ingested::Updated { order_id, event_id } => (
            Outcome::Updated,
            HttpResponse::Ok()
                .json(json!({"status": "updated", "order_id": order_id, "event_id": event_id})),
        ),
        Ingested::Duplicate { order_id, event_id } => (
            Outcome::Duplicate,
            HttpResponse::Ok()
                .json(json!({"status": "duplicate", "order_id": order_id, "event_id": event_id})),
        ),
        Ingested::Conflict => {
            return Err(ApiError::conflict(
                "idempotency_conflict",
                "This webhook-id was already used with a different body.",
            ));
        }
    })
}

/// Keep an authenticated but refused webhook as an event, without delaying the answer.
fn record_rejection(state: &AppState, incoming: IncomingWebhook, reason: &'static str) {
    let store = state.store.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = store
            .write(move |c| store::orders::record_rejected(c, &incoming, reason))
            .await
        {
            tracing::warn!(error = %e, "could not record a rejected webhook");
        }
    });
}

/// The request headers worth keeping with an event; signatures and credentials never are.
fn recorded_headers(req: &HttpRequest) -> String {
    const KEPT: [&str; 6] = [
        "content-type",
        "content-length",
        "user-agent",
        "x-api-key",
        "webhook-id",
        "webhook-timestamp",
    ];
    let map: serde_json::Map<String, serde_json::Value> = KEPT
        .iter()
        .filter_map(|name| {
            header_str(req, name).map(|v| {
                (
                    name.to_string(),
                    json!(v.chars().take(256).collect::<String>()),
                )
            })
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}
