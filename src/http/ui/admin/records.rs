//! Admin console: records.

use super::{
    Chrome, chrome,
    merchants::{EventRow, event_rows},
};
use crate::{
    app::{self, paging},
    http::{
        session::AdminSession,
        ui::{
            UiResult, csv, header_pairs, page, pager, pretty_body, query_escape, violations_text,
            when, when_ms, words,
        },
    },
    state::AppState,
    store::failures::FailureFilter,
};
use actix_web::web;
use askama::Template;
use serde::Deserialize;

/// A row of requests refused before authentication, in the admin's event list.
struct FailureRow {
    last_seen: String,
    first_seen: String,
    merchant_id: String,
    key_id: String,
    reason: String,
    count: i64,
    client_ip: String,
    webhook_id: String,
}

#[derive(Template)]
#[template(path = "admin/events.html")]
struct EventsPage {
    chrome: Chrome,
    /// The merchant filter as typed (a name, an email or an id).
    merchant: String,
    /// (email, business name) of the merchants the picker offers.
    merchant_options: Vec<(String, String)>,
    /// `since`'s date, for the date picker.
    since_date: String,
    csv_link: String,
    source: String,
    topic: String,
    status: String,
    webhook_id: String,
    events: Vec<EventRow>,
    older_link: Option<String>,
    newer_link: Option<String>,
    /// Shown when the filters include the order webhooks' rejections.
    failures: Option<Vec<FailureRow>>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    /// A merchant's name, email or id (`merchant_id` is its earlier name, kept for bookmarks).
    merchant: Option<String>,
    merchant_id: Option<String>,
    source: Option<String>,
    topic: Option<String>,
    status: Option<String>,
    /// A date (`2026-01-31`, from the date picker: its start, UTC) or an RFC 3339 time.
    since: Option<String>,
    webhook_id: Option<String>,
    /// The older page's cursor (`cursor` is its earlier name, kept for bookmarks).
    older: Option<String>,
    cursor: Option<String>,
    newer: Option<String>,
}

impl EventsQuery {
    fn merchant(&self) -> String {
        self.merchant
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| self.merchant_id.clone())
            .unwrap_or_default()
    }

    /// The filter the query asks for, every violation at once.
    async fn filter(
        &self,
        state: &AppState,
    ) -> Result<crate::store::orders::EventFilter, app::Error> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let merchant = self.merchant();
        let mut violations = Vec::new();
        let merchant_id = if merchant.trim().is_empty() {
            None
        } else {
            match app::records::find_merchant(state, &merchant, "merchant").await {
                Ok(id) => Some(id),
                Err(app::Error::Invalid(v)) => {
                    violations.extend(v);
                    None
                }
                Err(e) => return Err(e),
            }
        };
        let since = text(&self.since);
        let since = match since.trim() {
            d if d.len() == 10 && d.as_bytes()[4] == b'-' => format!("{d}T00:00:00Z"),
            other => other.to_string(),
        };
        let built = app::events::filter(
            merchant_id.as_deref(),
            self.status.as_deref(),
            Some(&since),
            self.source.as_deref(),
            self.topic.as_deref(),
        )
        .and_then(|mut f| {
            f.webhook_id = app::events::webhook_id_search(self.webhook_id.as_deref())?;
            Ok(f)
        });
        match built {
            Ok(f) if violations.is_empty() => Ok(f),
            Ok(_) => Err(app::Error::Invalid(violations)),
            Err(app::Error::Invalid(v)) => {
                violations.extend(v);
                Err(app::Error::Invalid(violations))
            }
            Err(e) => Err(e),
        }
    }
}

/// How many failure rows the admin list shows: every merchant keeps at most
/// `KEPT_PER_MERCHANT`, and this many of the most recent are enough to act on.
const FAILURES_SHOWN: u32 = 500;

/// Merchants offered by the filter's picker.
const MERCHANTS_OFFERED: u32 = 500;

pub(super) async fn events(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<EventsQuery>,
) -> UiResult {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let (merchant, status, since, source, topic, webhook_id) = (
        q.merchant(),
        text(&q.status),
        text(&q.since),
        text(&q.source),
        text(&q.topic),
        text(&q.webhook_id),
    );
    let query = format!(
        "merchant={}&status={}&since={}&source={}&topic={}&webhook_id={}",
        query_escape(&merchant),
        query_escape(&status),
        query_escape(&since),
        query_escape(&source),
        query_escape(&topic),
        query_escape(&webhook_id),
    );
    let link =
        |side: &str, cursor: &str| format!("/admin/events?{query}&{side}={}", query_escape(cursor));
    let parsed = match q.filter(&state).await {
        Ok(filter) => {
            let older = q.older.as_deref().or(q.cursor.as_deref());
            paging::window(Some(50), older, q.newer.as_deref(), paging::seq_cursor)
                .map(|window| (filter, window))
        }
        Err(e) => Err(e),
    };
    let (found, filter, error) = match parsed {
        Ok((filter, window)) => (
            Some(app::events::page(&state, filter.clone(), window).await?),
            Some(filter),
            None,
        ),
        Err(app::Error::Invalid(violations)) => (None, None, Some(violations_text(&violations))),
        Err(e) => return Err(e.into()),
    };
    // Refusals before authentication are order webhooks' rejections: listed with the events
    // whenever the filters take those in (on the first page only: they have their own order).
    let failures = match &filter {
        Some(f)
            if f.outcome.as_deref() != Some("accepted")
                && f.source.as_deref().is_none_or(|s| s == "orders")
                && f.topic.as_deref().is_none_or(|t| t == "order.rejected")
                && q.older.is_none()
                && q.cursor.is_none()
                && q.newer.is_none() =>
        {
            let rows = app::failures::list(
                &state,
                FailureFilter {
                    merchant_id: f.merchant_id.clone(),
                    webhook_id: f.webhook_id.clone(),
                    since_ms: f.since_ms,
                    reason: None,
                },
                FAILURES_SHOWN,
            )
            .await?;
            Some(
                rows.into_iter()
                    .map(|r| FailureRow {
                        last_seen: when_ms(r.last_at_ms),
                        first_seen: when_ms(r.first_at_ms),
                        merchant_id: r.merchant_id.unwrap_or_default(),
                        key_id: r.key_id,
                        reason: r.reason,
                        count: r.count,
                        client_ip: r.client_ip,
                        webhook_id: r.webhook_id,
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    let (newer_link, older_link) = pager(found.as_ref(), link);
    page(&EventsPage {
        chrome: chrome(&state, &s, "events"),
        older_link,
        newer_link,
        events: event_rows(&found.map(|p| p.items).unwrap_or_default()),
        merchant_options: app::records::merchants(&state, None, MERCHANTS_OFFERED)
            .await?
            .into_iter()
            .map(|m| (m.email, m.business_name))
            .collect(),
        csv_link: format!("/admin/events.csv?{query}"),
        since_date: since.get(..10).unwrap_or_default().to_string(),
        merchant,
        source,
        topic,
        status,
        webhook_id,
        failures,
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
    let body = pretty_body(e.body.as_deref().unwrap_or_default());
    let headers = header_pairs(&e.headers);
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
                action: words(&a.action),
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

/// The events the page's filters select, all of them, as CSV.
pub(super) async fn events_csv(
    state: web::Data<AppState>,
    _s: AdminSession,
    q: web::Query<EventsQuery>,
) -> UiResult {
    let filter = q.filter(&state).await?;
    Ok(csv::events(state, filter, "hookgate-events.csv"))
}
