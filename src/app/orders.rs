//! A merchant's orders with their status history.

use super::{AppResult, Error, Missing, paging::Page};
use crate::{
    domain::{Violation, order::TrackingStatus},
    state::AppState,
    store::orders::{self, Order},
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
