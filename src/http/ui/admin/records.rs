//! Admin console: records.

use super::{
    Chrome, chrome,
    merchants::{EventRow, event_rows},
};
use crate::{
    app::{self, paging},
    http::{
        session::AdminSession,
        ui::{UiResult, page, query_escape, when, when_ms},
    },
    state::AppState,
};
use actix_web::web;
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "admin/events.html")]
struct EventsPage {
    chrome: Chrome,
    merchant_id: String,
    source: String,
    topic: String,
    status: String,
    since: String,
    events: Vec<EventRow>,
    next_cursor: Option<String>,
    next_link: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    merchant_id: Option<String>,
    source: Option<String>,
    topic: Option<String>,
    status: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
}

pub(super) async fn events(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<EventsQuery>,
) -> UiResult {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let (merchant_id, status, since, source, topic) = (
        text(&q.merchant_id),
        text(&q.status),
        text(&q.since),
        text(&q.source),
        text(&q.topic),
    );
    let page_request = paging::request(Some(50), q.cursor.as_deref())?;
    let next_link = format!(
        "/admin/events?merchant_id={}&status={}&since={}&source={}&topic={}",
        query_escape(&merchant_id),
        query_escape(&status),
        query_escape(&since),
        query_escape(&source),
        query_escape(&topic)
    );
    let (events, next_cursor, error) = match app::events::filter(
        Some(&merchant_id),
        Some(&status),
        Some(&since),
        Some(&source),
        Some(&topic),
    ) {
        Ok(filter) => {
            let found = app::events::list(&state, filter, page_request).await?;
            (found.items, found.next_cursor, None)
        }
        Err(app::Error::Invalid(violations)) => (
            Vec::new(),
            None,
            Some(
                violations
                    .iter()
                    .map(|v| format!("{} {}", v.field, v.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        Err(e) => return Err(e.into()),
    };
    page(&EventsPage {
        chrome: chrome(&state, &s, "events"),
        merchant_id,
        source,
        topic,
        status,
        since,
        events: event_rows(&events),
        next_cursor,
        next_link,
        error,
    })
}

struct EventView {
    event_id: String,
    source: String,
    merchant_id: String,
    webhook_id: String,
    topic: String,
    outcome: String,
    reason: String,
    received: String,
    client_ip: String,
    response: String,
    order_id: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/event.html")]
struct EventPage {
    chrome: Chrome,
    e: EventView,
    headers: Vec<(String, String)>,
    body: String,
    order_status: Option<String>,
    deliveries: Vec<super::destinations::DeliveryRow>,
}

pub(super) async fn event(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
) -> UiResult {
    let (e, order) = app::events::get(&state, &path).await?;
    let all = paging::PageRequest {
        limit: 100,
        cursor: None,
    };
    let deliveries = app::deliveries::list(&state, None, Some(e.id.clone()), None, all).await?;
    let raw = e.body.clone().unwrap_or_default();
    let body = serde_json::from_slice::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
    let headers = serde_json::from_str::<std::collections::BTreeMap<String, String>>(&e.headers)
        .unwrap_or_default()
        .into_iter()
        .collect();
    page(&EventPage {
        chrome: chrome(&state, &s, "events"),
        e: EventView {
            event_id: e.id.clone(),
            source: e.source.clone(),
            merchant_id: e.merchant_id.clone().unwrap_or_default(),
            webhook_id: e.webhook_id.clone(),
            topic: e.topic.clone(),
            outcome: e.outcome.clone(),
            reason: e.reason.clone(),
            received: when_ms(e.received_at_ms),
            client_ip: e.client_ip.clone(),
            response: format!("{:.2} ms", e.duration_us as f64 / 1000.0),
            order_id: e.order_id.clone(),
        },
        headers,
        body,
        order_status: order.map(|o| o.tracking_status),
        deliveries: deliveries
            .items
            .iter()
            .map(super::destinations::delivery_row)
            .collect(),
    })
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    items: Vec<AuditRow>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CursorQuery {
    cursor: Option<String>,
    to: Option<String>,
}

pub(super) async fn audit(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<CursorQuery>,
) -> UiResult {
    let entries =
        app::records::audit_log(&state, paging::request(Some(100), q.cursor.as_deref())?).await?;
    page(&AuditPage {
        chrome: chrome(&state, &s, "audit"),
        items: entries
            .items
            .into_iter()
            .map(|a| AuditRow {
                at: when(a.at),
                actor: a.actor,
                action: a.action,
                target: a.target,
                details: a.details.to_string(),
            })
            .collect(),
        next_cursor: entries.next_cursor,
    })
}

struct MailRow {
    to: String,
    subject: String,
    body: String,
    created: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    to: String,
    items: Vec<MailRow>,
    next_cursor: Option<String>,
}

pub(super) async fn outbox(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<CursorQuery>,
) -> UiResult {
    let page_request = paging::request(Some(50), q.cursor.as_deref())?;
    let to = q.to.clone().unwrap_or_default();
    let emails = app::records::outbox(&state, Some(to.trim().to_string()), page_request).await?;
    page(&OutboxPage {
        chrome: chrome(&state, &s, "outbox"),
        to,
        next_cursor: emails.next_cursor,
        items: emails
            .items
            .into_iter()
            .map(|m| MailRow {
                delivery: match (m.sent_at, &m.last_error) {
                    (Some(t), _) => format!("sent {}", when(t)),
                    (None, Some(e)) => {
                        format!("not sent yet ({} attempts; last error: {e})", m.attempts)
                    }
                    (None, None) => "in the outbox".into(),
                },
                to: m.to,
                subject: m.subject,
                body: m.body,
                created: when(m.created_at),
            })
            .collect(),
    })
}
