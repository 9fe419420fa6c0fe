//! Merchant pages for debugging an integration: every webhook received (paged both ways,
//! searchable by `webhook-id`), one event with its headers, body and every violation, and the
//! recent failures refused before authentication (never with a body).

use crate::{
    app::{self, paging},
    http::{
        session::MerchantSession,
        ui::{
            UiResult, csv, header_pairs, page, pager, pretty_body, query_escape, violations_text,
            when_ms, words,
        },
    },
    state::AppState,
    store::failures::FailureFilter,
};
use actix_web::web;
use askama::Template;
use serde::Deserialize;

/// How many events a page shows.
const PAGE: u32 = 20;

pub(super) struct EventRow {
    event_id: String,
    received: String,
    webhook_id: String,
    topic: String,
    outcome: &'static str,
    outcome_words: String,
    reason: String,
}

pub(super) struct FailureRow {
    last_seen: String,
    first_seen: String,
    reason: String,
    hint: &'static str,
    count: i64,
    client_ip: String,
    webhook_id: String,
}

#[derive(Template)]
#[template(path = "merchant/events.html")]
struct EventsPage {
    csv_link: String,
    csrf: String,
    business_name: String,
    q: String,
    status: String,
    error: Option<String>,
    events: Vec<EventRow>,
    older_link: Option<String>,
    newer_link: Option<String>,
    failures: Vec<FailureRow>,
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    q: Option<String>,
    status: Option<String>,
    older: Option<String>,
    newer: Option<String>,
}

/// What a refusal before authentication means, and what to check.
fn failure_hint(reason: &str) -> &'static str {
    match reason {
        "invalid_signature" => {
            "The signature does not match: sign \"webhook-id.webhook-timestamp.body\" over the \
             exact bytes you send, with your current secret."
        }
        "timestamp_out_of_tolerance" => {
            "webhook-timestamp is not unix seconds, or too far from our clock: check your \
             server's clock."
        }
        "missing_signature" => {
            "A signature header is missing or empty (webhook-id, webhook-timestamp, \
             webhook-signature), or webhook-id is longer than 256 characters."
        }
        "secret_expired" => {
            "Signed with an expired secret; a new one was issued. Reveal it on your dashboard."
        }
        "kyc_not_approved" => "Your verification is not approved; webhooks are refused.",
        "payload_too_large" => "The body is larger than this gateway accepts.",
        _ => "",
    }
}

/// The badge class of an outcome (a fixed word, whatever is stored).
fn outcome_class(outcome: &str) -> &'static str {
    if outcome == "accepted" {
        "accepted"
    } else {
        "rejected"
    }
}

pub(super) async fn events(
    state: web::Data<AppState>,
    s: MerchantSession,
    q: web::Query<EventsQuery>,
) -> UiResult {
    let merchant_id = s.merchant.id.clone();
    let (search, status) = (
        q.q.clone().unwrap_or_default(),
        q.status.clone().unwrap_or_default(),
    );
    let parsed = (|| {
        let window = paging::window(
            Some(PAGE),
            q.older.as_deref(),
            q.newer.as_deref(),
            paging::seq_cursor,
        )?;
        let mut filter = app::events::filter(Some(&merchant_id), Some(&status), None, None, None)?;
        filter.source = Some("orders".into());
        filter.webhook_id = app::events::webhook_id_search(Some(&search))?;
        Ok::<_, app::Error>((filter, window))
    })();
    let (events, error) = match parsed {
        Ok((filter, window)) => (Some(app::events::page(&state, filter, window).await?), None),
        Err(app::Error::Invalid(v)) => (None, Some(violations_text(&v))),
        Err(e) => return Err(e.into()),
    };
    let link = |side: &str, cursor: &str| {
        format!(
            "/events?q={}&status={}&{side}={}",
            query_escape(&search),
            query_escape(&status),
            query_escape(cursor)
        )
    };
    let failures = app::failures::list(
        &state,
        FailureFilter {
            merchant_id: Some(merchant_id.clone()),
            ..Default::default()
        },
        crate::store::failures::KEPT_PER_MERCHANT,
    )
    .await?;
    let (newer_link, older_link) = pager(events.as_ref(), link);
    let csv_link = format!(
        "/events.csv?q={}&status={}",
        query_escape(&search),
        query_escape(&status)
    );
    page(&EventsPage {
        csv_link,
        csrf: s.browser.csrf(&state),
        business_name: s.merchant.business_name.clone(),
        older_link,
        newer_link,
        events: events
            .map(|p| p.items)
            .unwrap_or_default()
            .iter()
            .map(|e| EventRow {
                event_id: e.id.clone(),
                received: when_ms(e.received_at_ms),
                webhook_id: e.webhook_id.clone(),
                topic: e.topic.clone(),
                outcome: outcome_class(&e.outcome),
                outcome_words: words(&e.outcome),
                reason: words(&e.reason),
            })
            .collect(),
        failures: failures
            .iter()
            .map(|f| FailureRow {
                last_seen: when_ms(f.last_at_ms),
                first_seen: when_ms(f.first_at_ms),
                reason: words(&f.reason),
                hint: failure_hint(&f.reason),
                count: f.count,
                client_ip: f.client_ip.clone(),
                webhook_id: f.webhook_id.clone(),
            })
            .collect(),
        q: search,
        status,
        error,
    })
}

struct ViolationRow {
    field: String,
    message: String,
}

#[derive(Template)]
#[template(path = "merchant/event.html")]
struct EventPage {
    csrf: String,
    business_name: String,
    event_id: String,
    webhook_id: String,
    topic: String,
    outcome: &'static str,
    outcome_words: String,
    reason: String,
    received: String,
    client_ip: String,
    response: String,
    order_id: Option<String>,
    violations: Vec<ViolationRow>,
    headers: Vec<(String, String)>,
    body: String,
}

pub(super) async fn event(
    state: web::Data<AppState>,
    s: MerchantSession,
    path: web::Path<String>,
) -> UiResult {
    let e = app::events::get_own(&state, &s.merchant.id, &path).await?;
    let body = pretty_body(e.body.as_deref().unwrap_or_default());
    let headers = header_pairs(&e.headers);
    let violations = e
        .violations
        .as_deref()
        .and_then(|v| serde_json::from_str::<Vec<serde_json::Value>>(v).ok())
        .unwrap_or_default()
        .iter()
        .map(|v| ViolationRow {
            field: v["field"].as_str().unwrap_or_default().to_string(),
            message: v["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    page(&EventPage {
        csrf: s.browser.csrf(&state),
        business_name: s.merchant.business_name.clone(),
        outcome: outcome_class(&e.outcome),
        outcome_words: words(&e.outcome),
        reason: words(&e.reason),
        received: when_ms(e.received_at_ms),
        response: format!("{:.2} ms", e.duration_us as f64 / 1000.0),
        event_id: e.id,
        webhook_id: e.webhook_id,
        topic: e.topic,
        client_ip: e.client_ip,
        order_id: e.order_id,
        violations,
        headers,
        body,
    })
}

/// The webhooks the page's filters select, all of them, as CSV.
pub(super) async fn events_csv(
    state: web::Data<AppState>,
    s: MerchantSession,
    q: web::Query<EventsQuery>,
) -> UiResult {
    let mut filter =
        app::events::filter(Some(&s.merchant.id), q.status.as_deref(), None, None, None)?;
    filter.source = Some("orders".into());
    filter.webhook_id = app::events::webhook_id_search(q.q.as_deref())?;
    Ok(csv::events(state, filter, "hookgate-webhooks.csv"))
}
