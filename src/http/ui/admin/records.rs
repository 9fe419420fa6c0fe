//! Admin console: records.

use super::{
    Chrome, chrome,
    merchants::{EventRow, event_rows},
};
use crate::{
    app::{self, paging},
    http::{
        session::AdminSession,
        ui::{UiResult, csv, page, query_escape, when, when_ms},
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
    /// The target's name when it still exists, and its page when it has one.
    target_name: String,
    target_link: String,
    details: Vec<(String, String)>,
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

/// "kyc.changes_requested" as people say it: "Kyc changes requested".
fn action_words(action: &str) -> String {
    let words = action.replace(['.', '_'], " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The console page of a target, by the kind its id names.
fn target_link(target: &str) -> String {
    let page = match target.split_once('_').map(|(kind, _)| kind) {
        Some("mer") => "merchants",
        Some("dst") => "destinations",
        Some("src") => "sources",
        Some("evt") => "events",
        Some("dlv") => "deliveries",
        Some("kyc") => "kyc",
        _ => return String::new(),
    };
    format!("/admin/{page}/{target}")
}

/// An entry's details as label and value, unix times shown as dates.
fn detail_pairs(details: &serde_json::Value) -> Vec<(String, String)> {
    let serde_json::Value::Object(map) = details else {
        return match details {
            serde_json::Value::Null => Vec::new(),
            other => vec![(String::new(), other.to_string())],
        };
    };
    map.iter()
        .map(|(key, value)| {
            let is_time = key.ends_with("_at") || key.contains("until") || key.contains("expires");
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) if is_time => {
                    n.as_i64().map(when).unwrap_or_else(|| n.to_string())
                }
                other => other.to_string(),
            };
            (key.replace('_', " "), shown)
        })
        .collect()
}

pub(super) async fn audit(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<CursorQuery>,
) -> UiResult {
    let entries =
        app::records::audit_log(&state, paging::request(Some(100), q.cursor.as_deref())?).await?;
    let names = app::records::audit_target_names(&state, &entries.items).await?;
    page(&AuditPage {
        chrome: chrome(&state, &s, "audit"),
        items: entries
            .items
            .into_iter()
            .map(|a| AuditRow {
                at: when(a.at),
                actor: a
                    .actor
                    .strip_prefix("admin:")
                    .unwrap_or(&a.actor)
                    .to_string(),
                action: action_words(&a.action),
                target_name: names.get(&a.target).cloned().unwrap_or_default(),
                target_link: target_link(&a.target),
                target: a.target,
                details: detail_pairs(&a.details),
            })
            .collect(),
        next_cursor: entries.next_cursor,
    })
}

/// The whole audit log as CSV, newest first, streamed a page at a time.
pub(super) async fn audit_csv(state: web::Data<AppState>, _s: AdminSession) -> UiResult {
    Ok(csv::download(
        "hookgate-audit.csv",
        &["at", "actor", "action", "target", "details"],
        move |cursor| {
            let state = state.clone();
            async move {
                let entries =
                    app::records::audit_log(&state, paging::request(Some(500), cursor.as_deref())?)
                        .await?;
                let mut rows = String::new();
                for a in &entries.items {
                    let details = a.details.to_string();
                    csv::record(
                        &mut rows,
                        [
                            crate::clock::rfc3339(a.at).as_str(),
                            &a.actor,
                            &a.action,
                            &a.target,
                            &details,
                        ],
                    );
                }
                Ok((rows, entries.next_cursor))
            }
        },
    ))
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
