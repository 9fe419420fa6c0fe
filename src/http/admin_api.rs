//! The admin JSON API (bearer admin token).

use super::{extract::AuthAdmin, optional_json};
use crate::{
    clock,
    domain::KycStatus,
    error::{ApiError, Violation},
    startup::AppState,
    store::{self, kyc as kyc_store, kyc::Decided, kyc::Decision},
};
use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use serde_json::json;

/// Routes under `/api/v1/admin`.
pub fn scope() -> actix_web::Scope {
    web::scope("/admin")
        .route("/kyc", web::get().to(list_kyc))
        .route("/kyc/{kyc_id}", web::get().to(get_kyc))
        .route("/kyc/{kyc_id}/document", web::get().to(document))
        .route("/kyc/{kyc_id}/approve", web::post().to(approve))
        .route("/kyc/{kyc_id}/reject", web::post().to(reject))
        .route(
            "/kyc/{kyc_id}/request-changes",
            web::post().to(request_changes),
        )
        .route("/merchants/{merchant_id}/revoke", web::post().to(revoke))
        .route("/outbox", web::get().to(outbox))
        .route("/audit", web::get().to(audit))
        .route("/events", web::get().to(events))
        .route("/events/{event_id}", web::get().to(event))
        .default_service(web::to(super::not_found))
}

/// Page size bounds for list endpoints.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Parse the `limit` of a list query.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::validation(vec![Violation::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )]));
    }
    Ok(limit)
}

/// Trim a page fetched with `limit + 1` rows down to `limit`; the cursor of the next page, if any.
pub fn next_page<T>(
    items: &mut Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> Option<String> {
    if items.len() <= limit as usize {
        return None;
    }
    items.truncate(limit as usize);
    items.last().map(cursor)
}

/// Parse `limit` and an id `cursor` of a list query.
pub fn page(limit: Option<u32>, cursor: Option<&str>) -> Result<(u32, Option<i64>), ApiError> {
    let mut v = Vec::new();
    let limit = page_limit(limit).unwrap_or_else(|e| {
        v.extend(e.violations);
        DEFAULT_LIMIT
    });
    let cursor = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match c.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                v.push(Violation::new(
                    "cursor",
                    "is not a cursor returned by this API",
                ));
                None
            }
        },
    };
    if !v.is_empty() {
        return Err(ApiError::validation(v));
    }
    Ok((limit, cursor))
}

#[derive(Deserialize)]
pub struct KycListQuery {
    status: Option<String>,
    limit: Option<u32>,
}

/// Parse an optional KYC status filter.
pub fn status_filter(raw: Option<&str>) -> Result<Option<KycStatus>, ApiError> {
    match raw.filter(|s| !s.is_empty() && *s != "all") {
        None => Ok(None),
        Some(s) => KycStatus::parse(s).map(Some).ok_or_else(|| {
            ApiError::validation(vec![Violation::new(
                "status",
                "must be one of pending, approved, rejected, changes_requested, revoked",
            )])
        }),
    }
}

async fn list_kyc(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<KycListQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = status_filter(q.status.as_deref())?;
    let (limit, _) = page(q.limit, None)?;
    let items = state
        .store
        .read(move |c| kyc_store::queue(c, status, limit))
        .await?;
    let items: Vec<_> = items
        .into_iter()
        .map(|i| {
            json!({
                "kyc_id": i.kyc_id, "merchant_id": i.merchant_id, "business_name": i.business_name,
                "legal_name": i.legal_name, "country": i.country, "status": i.status,
                "submitted_at": clock::rfc3339(i.submitted_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

fn submission_json(s: &kyc_store::Submission) -> serde_json::Value {
    json!({
        "kyc_id": s.id,
        "merchant_id": s.merchant_id,
        "legal_name": s.details.legal_name,
        "registration_number": s.details.registration_number,
        "country": s.details.country,
        "address": s.details.address,
        "contact_phone": s.details.contact_phone,
        "document": {"content_type": s.document_type, "file_name": s.document_name, "size": s.document_size},
        "status": s.status.as_str(),
        "submitted_at": clock::rfc3339(s.submitted_at),
        "reviewed_at": s.reviewed_at.map(clock::rfc3339),
        "reviewed_by": s.reviewed_by,
        "review_note": s.review_note,
    })
}

fn no_kyc() -> ApiError {
    ApiError::not_found("kyc_not_found", "No KYC submission with this id.")
}

async fn get_kyc(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state
        .store
        .read(move |c| {
            let Some(sub) = kyc_store::get(c, &id)? else {
                return Ok(None);
            };
            let merchant = store::accounts::get(c, &sub.merchant_id)?;
            let history = kyc_store::history(c, &sub.merchant_id)?;
            Ok(Some((sub, merchant, history)))
        })
        .await?;
    let (sub, merchant, history) = found.ok_or_else(no_kyc)?;
    let mut body = submission_json(&sub);
    body["merchant"] = json!(merchant.map(|m| json!({
        "merchant_id": m.id, "email": m.email, "business_name": m.business_name,
        "kyc_status": m.kyc_status.as_str(), "key_id": m.key_id,
    })));
    body["history"] = history
        .iter()
        .filter(|h| h.id != sub.id)
        .map(submission_json)
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Decrypted document bytes with their type and a download name.
pub async fn load_document(
    state: &AppState,
    kyc_id: String,
) -> Result<(String, String, Vec<u8>), ApiError> {
    let id = kyc_id.clone();
    let (mime, name, sealed) = state
        .store
        .read(move |c| kyc_store::document(c, &id))
        .await?
        .ok_or_else(no_kyc)?;
    let bytes = state
        .crypto
        .open(&kyc_store::document_context(&kyc_id), &sealed)
        .map_err(|_| {
            tracing::error!(%kyc_id, "a stored document does not open with the master key");
            ApiError::internal()
        })?;
    Ok((mime, name, bytes))
}

/// `Content-Disposition` value for a document (attachment or inline), with a safe file name.
pub fn disposition(kind: &str, kyc_id: &str, mime: &str) -> String {
    let ext = crate::domain::kyc::DocumentKind::from_mime(mime).map_or("bin", |k| k.extension());
    format!("{kind}; filename=\"{kyc_id}.{ext}\"")
}

async fn document(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kyc_id = path.into_inner();
    let (mime, _name, bytes) = load_document(&state, kyc_id.clone()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            disposition("attachment", &kyc_id, &mime),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .body(bytes))
}

#[derive(Deserialize, Default)]
struct NoteBody {
    note: Option<String>,
    reason: Option<String>,
}

/// A required, bounded reason text.
pub fn required_reason(raw: Option<&str>) -> Result<String, ApiError> {
    let reason = raw.unwrap_or_default().trim();
    if reason.is_empty() {
        return Err(ApiError::validation(vec![Violation::new(
            "reason",
            "is required",
        )]));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiError::validation(vec![Violation::new(
            "reason",
            "must be at most 2000 characters",
        )]));
    }
    Ok(reason.to_string())
}

/// Apply an admin decision to a KYC submission.
pub async fn decide(
    state: &AppState,
    actor: &str,
    kyc_id: String,
    decision: Decision,
) -> Result<Decided, ApiError> {
    let actor = actor.to_string();
    let public_url = state.config.public_url.clone();
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let now = clock::now();
    let decided = state
        .store
        .write(move |c| {
            let ctx = kyc_store::DecisionContext {
                actor: &actor,
                now,
                secret_ttl_secs: ttl,
                public_url: &public_url,
            };
            kyc_store::decide(c, &kyc_id, &decision, &ctx)
        })
        .await?;
    match decided {
        Decided::NotFound => Err(no_kyc()),
        Decided::Refused(r) => Err(ApiError::conflict(r.code(), r.message())),
        done => {
            state.keys.invalidate();
            Ok(done)
        }
    }
}

/// A new public key id.
pub fn new_key_id(state: &AppState) -> String {
    format!("hgk_{}", hex::encode(state.crypto.random_bytes::<12>()))
}

async fn approve(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: NoteBody = optional_json(&body)?;
    let note = body
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let (_secret, new_secret) = super::secret::generate(&state);
    let decision = Decision::Approve {
        note,
        secret: new_secret,
        key_id: new_key_id(&state),
    };
    let Decided::Done { key_id, .. } =
        decide(&state, &admin.actor(), path.into_inner(), decision).await?
    else {
        return Err(ApiError::internal());
    };
    Ok(HttpResponse::Ok().json(json!({"status": "approved", "key_id": key_id})))
}

async fn reject(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: NoteBody = optional_json(&body)?;
    let reason = required_reason(body.reason.as_deref())?;
    decide(
        &state,
        &admin.actor(),
        path.into_inner(),
        Decision::Reject { reason },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "rejected"})))
}

async fn request_changes(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: NoteBody = optional_json(&body)?;
    let reason = required_reason(body.reason.as_deref())?;
    decide(
        &state,
        &admin.actor(),
        path.into_inner(),
        Decision::RequestChanges { reason },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "changes_requested"})))
}

/// Revoke a merchant's approval and every secret.
pub async fn revoke_merchant(
    state: &AppState,
    actor: &str,
    merchant_id: String,
    reason: String,
) -> Result<(), ApiError> {
    let actor = actor.to_string();
    let public_url = state.config.public_url.clone();
    let ttl = state.config.secret_ttl.as_secs() as i64;
    let now = clock::now();
    let decided = state
        .store
        .write(move |c| {
            let ctx = kyc_store::DecisionContext {
                actor: &actor,
                now,
                secret_ttl_secs: ttl,
                public_url: &public_url,
            };
            kyc_store::revoke_merchant(c, &merchant_id, &reason, &ctx)
        })
        .await?;
    match decided {
        Decided::NotFound => Err(ApiError::not_found(
            "merchant_not_found",
            "No merchant with this id.",
        )),
        Decided::Refused(r) => Err(ApiError::conflict(r.code(), r.message())),
        Decided::Done { .. } => {
            state.keys.invalidate();
            Ok(())
        }
    }
}

async fn revoke(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: NoteBody = optional_json(&body)?;
    let reason = required_reason(body.reason.as_deref())?;
    revoke_merchant(&state, &admin.actor(), path.into_inner(), reason).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "revoked"})))
}

#[derive(Deserialize)]
struct OutboxQuery {
    to: Option<String>,
    limit: Option<u32>,
}

async fn outbox(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, _) = page(q.limit, None)?;
    let to = q.to.clone().filter(|t| !t.is_empty());
    let emails = state
        .store
        .read(move |c| store::outbox::list(c, to.as_deref(), limit, None))
        .await?;
    let items: Vec<_> = emails
        .iter()
        .map(|e| json!({
            "to": e.to, "subject": e.subject, "body": e.body,
            "created_at": clock::rfc3339(e.created_at), "sent_at": e.sent_at.map(clock::rfc3339),
        }))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(items))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn audit(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    // Fetch one more than asked to know whether a next page exists.
    let mut items = state
        .store
        .read(move |c| store::audit::list(c, limit + 1, cursor, None))
        .await?;
    let next_cursor = next_page(&mut items, limit, |e| e.id.to_string());
    let items: Vec<_> = items
        .iter()
        .map(|e| {
            json!({
                "at": clock::rfc3339(e.at), "actor": e.actor, "action": e.action,
                "target": e.target, "details": e.details,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

#[derive(Deserialize)]
struct EventsQuery {
    merchant_id: Option<String>,
    status: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Parse the event filters of a query (shared with the admin pages).
pub fn event_filter(
    merchant_id: Option<&str>,
    status: Option<&str>,
    since: Option<&str>,
    cursor: Option<i64>,
) -> Result<store::orders::EventFilter, ApiError> {
    let mut v = Vec::new();
    let outcome = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("accepted" | "rejected")) => Some(s.to_string()),
        Some(_) => {
            v.push(Violation::new("status", "must be accepted or rejected"));
            None
        }
    };
    let since_ms = match since.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match clock::parse_time(s) {
            Some(t) => Some(t * 1000),
            None => {
                v.push(Violation::new(
                    "since",
                    "must be an RFC 3339 time or unix seconds",
                ));
                None
            }
        },
    };
    if !v.is_empty() {
        return Err(ApiError::validation(v));
    }
    Ok(store::orders::EventFilter {
        merchant_id: merchant_id.filter(|m| !m.is_empty()).map(str::to_string),
        outcome,
        since_ms,
        before_seq: cursor,
    })
}

/// The JSON shape of an event (without its body).
pub fn event_json(e: &store::orders::Event) -> serde_json::Value {
    json!({
        "event_id": e.id, "merchant_id": e.merchant_id, "webhook_id": e.webhook_id, "topic": e.topic,
        "received_at": clock::rfc3339_ms(e.received_at_ms), "client_ip": e.client_ip,
        "outcome": e.outcome, "reason": e.reason, "order_id": e.order_id,
        "response_ms": e.duration_us as f64 / 1000.0,
    })
}

async fn events(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let filter = event_filter(
        q.merchant_id.as_deref(),
        q.status.as_deref(),
        q.since.as_deref(),
        cursor,
    )?;
    let mut items = state
        .store
        .read(move |c| store::orders::list_events(c, &filter, limit + 1))
        .await?;
    let next_cursor = next_page(&mut items, limit, |e| e.seq.to_string());
    Ok(HttpResponse::Ok().json(json!({
        "items": items.iter().map(event_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

async fn event(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let e = state
        .store
        .read(move |c| store::orders::get_event(c, &id))
        .await?
        .ok_or_else(|| ApiError::not_found("event_not_found", "No event with this id."))?;
    let mut body = event_json(&e);
    let raw = e.body.as_deref().unwrap_or_default();
    body["body"] = serde_json::from_slice(raw)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(raw).into_owned()));
    Ok(HttpResponse::Ok().json(body))
}
