//! The event log: every accepted or authenticated-but-refused webhook, newest first.

use super::{
    AppResult, Error, Missing,
    paging::{Page, PageRequest, Side, TwoWayPage, Window},
};
use crate::{
    clock,
    domain::Violation,
    state::AppState,
    store::orders::{self, Event, EventFilter, Order},
};

/// Parse the event filters of a query; every violation at once.
pub fn filter(
    merchant_id: Option<&str>,
    status: Option<&str>,
    since: Option<&str>,
    source: Option<&str>,
    topic: Option<&str>,
) -> AppResult<EventFilter> {
    let mut v = Vec::new();
    let source = match source.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) if super::sources::valid_slug(s) => Some(s.to_string()),
        Some(_) => {
            v.push(Violation::new(
                "source",
                "must be orders or a source's slug (a-z, 0-9 and -)",
            ));
            None
        }
    };
    let topic = match topic.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) if t.len() <= 128 => Some(t.to_string()),
        Some(_) => {
            v.push(Violation::new("topic", "must be at most 128 characters"));
            None
        }
    };
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
            Some(t) => Some(t.saturating_mul(1000)),
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
        return Err(Error::Invalid(v));
    }
    Ok(EventFilter {
        merchant_id: merchant_id.filter(|m| !m.is_empty()).map(str::to_string),
        source,
        topic,
        outcome,
        since_ms,
        ..Default::default()
    })
}

/// One page of events matching `filter`.
pub async fn list(
    state: &AppState,
    mut filter: EventFilter,
    page: PageRequest,
) -> AppResult<Page<Event>> {
    filter.before_seq = page.cursor;
    let limit = page.limit;
    let items = state
        .store
        .read(move |c| orders::list_events(c, &filter, limit + 1))
        .await?;
    Ok(Page::from_overfetch(items, limit, |e| e.seq.to_string()))
}

/// One event with its body, and the order it touched (if any).
pub async fn get(state: &AppState, event_id: &str) -> AppResult<(Event, Option<Order>)> {
    let id = event_id.to_string();
    state
        .store
        .read(move |c| {
            let Some(e) = orders::get_event(c, &id)? else {
                return Ok(None);
            };
            let order = match &e.order_id {
                Some(o) => orders::get_any(c, o)?,
                None => None,
            };
            Ok(Some((e, order)))
        })
        .await?
        .ok_or(Error::NotFound(Missing::Event))
}

/// One page of events matching `filter`, older or newer than the window's cursor.
pub async fn page(
    state: &AppState,
    mut filter: EventFilter,
    w: Window<i64>,
) -> AppResult<TwoWayPage<Event>> {
    match w.side {
        Side::Older => filter.before_seq = w.cursor,
        Side::Newer => filter.after_seq = w.cursor,
    }
    let limit = w.limit;
    let items = state
        .store
        .read(move |c| orders::list_events(c, &filter, limit + 1))
        .await?;
    Ok(TwoWayPage::from_overfetch(items, &w, |e| e.seq.to_string()))
}

/// One of a merchant's own events with its body; another merchant's is not found.
pub async fn get_own(state: &AppState, merchant_id: &str, event_id: &str) -> AppResult<Event> {
    let id = event_id.to_string();
    let event = state.store.read(move |c| orders::get_event(c, &id)).await?;
    event
        .filter(|e| e.merchant_id.as_deref() == Some(merchant_id))
        .ok_or(Error::NotFound(Missing::Event))
}

/// Parse a `webhook-id` search: at most 256 characters, empty for none.
pub fn webhook_id_search(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.len() <= crate::domain::signature::MAX_WEBHOOK_ID => Ok(Some(s.to_string())),
        Some(_) => Err(Violation::new("webhook_id", "must be at most 256 characters").into()),
    }
}
