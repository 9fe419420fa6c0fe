//! Admin API over what happened: the event log, the audit log and the email outbox.

use crate::{
    app::{self, paging},
    clock,
    error::ApiError,
    http::extract::AuthAdmin,
    state::AppState,
    store::orders::Event,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
struct PageBody<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Only emails to this address.
    to: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct EmailBody {
    to: String,
    subject: String,
    body: String,
    created_at: String,
    sent_at: Option<String>,
}

/// `GET /api/v1/admin/outbox?to=`
#[utoipa::path(
    get,
    path = "/api/v1/admin/outbox",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(OutboxQuery),
    responses((status = 200, description = "Every email the system produced, newest first", body = Vec<EmailBody>))
)]
pub async fn outbox(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging::request(q.limit, None)?;
    let emails = app::records::outbox(&state, q.to.clone(), page).await?;
    let items: Vec<EmailBody> = emails
        .items
        .into_iter()
        .map(|e| EmailBody {
            to: e.to,
            subject: e.subject,
            body: e.body,
            created_at: clock::rfc3339(e.created_at),
            sent_at: e.sent_at.map(clock::rfc3339),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(items))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AuditBody {
    at: String,
    actor: String,
    action: String,
    target: String,
    details: serde_json::Value,
}

/// `GET /api/v1/admin/audit`
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(CursorQuery),
    responses((status = 200, description = "Audit entries, newest first", body = PageBody<AuditBody>))
)]
pub async fn audit(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<CursorQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let entries = app::records::audit_log(&state, page).await?;
    Ok(HttpResponse::Ok().json(PageBody {
        items: entries
            .items
            .into_iter()
            .map(|e| AuditBody {
                at: clock::rfc3339(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                details: e.details,
            })
            .collect(),
        next_cursor: entries.next_cursor,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    merchant_id: Option<String>,
    source: Option<String>,
    topic: Option<String>,
    status: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The JSON shape of an event, with its body when asked for one.
#[derive(Serialize, ToSchema)]
struct EventBody<'a> {
    event_id: &'a str,
    source: &'a str,
    merchant_id: Option<&'a str>,
    webhook_id: &'a str,
    topic: &'a str,
    received_at: String,
    client_ip: &'a str,
    outcome: &'a str,
    reason: &'a str,
    order_id: Option<&'a str>,
    response_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<&'a str>,
    /// The request headers kept (never a signature or credential); on the single event only.
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<serde_json::Value>,
}

impl<'a> EventBody<'a> {
    fn of(e: &'a Event) -> Self {
        EventBody {
            event_id: &e.id,
            source: &e.source,
            merchant_id: e.merchant_id.as_deref(),
            webhook_id: &e.webhook_id,
            topic: &e.topic,
            received_at: clock::rfc3339_ms(e.received_at_ms),
            client_ip: &e.client_ip,
            outcome: &e.outcome,
            reason: &e.reason,
            order_id: e.order_id.as_deref(),
            response_ms: e.duration_us as f64 / 1000.0,
            sender: e.sender.as_deref(),
            headers: None,
            body: None,
        }
    }
}

/// `GET /api/v1/admin/events?merchant_id=&source=&topic=&status=&since=`
#[utoipa::path(
    get,
    path = "/api/v1/admin/events",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(EventsQuery),
    responses((status = 200, description = "Events, newest first", body = PageBody<EventBody>))
)]
pub async fn events(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let filter = app::events::filter(
        q.merchant_id.as_deref(),
        q.status.as_deref(),
        q.since.as_deref(),
        q.source.as_deref(),
        q.topic.as_deref(),
    )?;
    let events = app::events::list(&state, filter, page).await?;
    Ok(HttpResponse::Ok().json(PageBody {
        items: events.items.iter().map(EventBody::of).collect(),
        next_cursor: events.next_cursor,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/events/{event_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("event_id" = String, Path)),
    responses((status = 200, description = "The event with its kept headers and body", body = EventBody))
)]
/// `GET /api/v1/admin/events/{event_id}`: the event with its body (JSON when it parses).
pub async fn event(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (e, _order) = app::events::get(&state, &path).await?;
    let raw = e.body.as_deref().unwrap_or_default();
    let body = serde_json::from_slice(raw)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(raw).into_owned()));
    let mut shown = EventBody::of(&e);
    shown.body = Some(body);
    shown.headers = serde_json::from_str(&e.headers).ok();
    Ok(HttpResponse::Ok().json(shown))
}
