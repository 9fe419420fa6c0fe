//! A merchant's orders with their status history.

use super::{
    AppResult, Error, Missing,
    paging::{Page, Side, TwoWayPage, Window},
};
use crate::{
    domain::{Violation, order::TrackingStatus},
    state::AppState,
    store::orders::{self, Order, OrderFilter},
};

/// Parse an optional tracking-status filter (any case).
pub fn status_filter(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => TrackingStatus::parse(&s.to_ascii_uppercase())
            .map(|t| Some(t.as_str()))
            .ok_or_else(|| Violation::new("status", "is not a tracking status").into()),
    }
}

/// One page of a merchant's orders, newest first.
pub async fn list(
    state: &AppState,
    merchant_id: &str,
    status: Option<&'static str>,
    limit: u32,
    cursor: Option<String>,
) -> AppResult<Page<Order>> {
    let id = merchant_id.to_string();
    let items = state
        .store
        .read(move |c| orders::list(c, &id, status, limit + 1, cursor.as_deref()))
        .await?;
    Ok(Page::from_overfetch(items, limit, |o| o.id.clone()))
}

/// One of a merchant's orders.
pub async fn get(state: &AppState, merchant_id: &str, order_id: &str) -> AppResult<Order> {
    let (mid, oid) = (merchant_id.to_string(), order_id.to_string());
    state
        .store
        .read(move |c| orders::get(c, &mid, &oid))
        .await?
        .ok_or(Error::NotFound(Missing::Order))
}

/// An order id as a cursor: `ord_` and letters or digits, as `store::new_id` makes them.
pub fn order_cursor(c: &str) -> Option<String> {
    let rest = c.strip_prefix("ord_")?;
    (!rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| c.to_string())
}

/// Parse a search of the orders list (an order id, a reference or an email): at most 256
/// characters, empty for none.
pub fn search_text(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.len() <= 256 => Ok(Some(s.to_string())),
        Some(_) => Err(Violation::new("q", "must be at most 256 characters").into()),
    }
}

/// One page of a merchant's orders matching `filter`, older or newer than the window's cursor.
pub async fn page(
    state: &AppState,
    merchant_id: &str,
    mut filter: OrderFilter,
    w: Window<String>,
) -> AppResult<TwoWayPage<Order>> {
    match w.side {
        Side::Older => filter.before_id = w.cursor.clone(),
        Side::Newer => filter.after_id = w.cursor.clone(),
    }
    let (id, limit) = (merchant_id.to_string(), w.limit);
    let items = state
        .store
        .read(move |c| orders::search(c, &id, &filter, limit + 1))
        .await?;
    Ok(TwoWayPage::from_overfetch(items, &w, |o| o.id.clone()))
}
