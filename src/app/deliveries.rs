//! The delivery log: list and show deliveries with their attempts.

use super::{
    AppResult, Error, Missing,
    paging::{Page, PageRequest},
};
use crate::{
    domain::Violation,
    state::AppState,
    store::deliveries::{self, AttemptRow, Delivery, Filter},
};

/// One page of deliveries, newest first.
pub async fn list(
    state: &AppState,
    destination_id: Option<String>,
    event_id: Option<String>,
    status: Option<&str>,
    page: PageRequest,
) -> AppResult<Page<Delivery>> {
    let status = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("pending" | "succeeded" | "failed" | "cancelled")) => Some(s.to_string()),
        Some(_) => {
            return Err(Error::Invalid(vec![Violation::new(
                "status",
                "must be pending, succeeded, failed or cancelled",
            )]));
        }
    };
    let PageRequest { limit, cursor } = page;
    let filter = Filter {
        destination_id: destination_id.filter(|d| !d.is_empty()),
        event_id: event_id.filter(|e| !e.is_empty()),
        status,
        before: cursor,
    };
    let rows = state
        .store
        .read(move |c| deliveries::list(c, &filter, limit + 1))
        .await?;
    let page = Page::from_overfetch(rows, limit, |(_, rowid)| rowid.to_string());
    Ok(Page {
        items: page.items.into_iter().map(|(d, _)| d).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One delivery with its attempts.
pub async fn get(state: &AppState, id: &str) -> AppResult<(Delivery, Vec<AttemptRow>)> {
    let id = id.to_string();
    state
        .store
        .read(move |c| {
            Ok(match deliveries::get(c, &id)? {
                Some(d) => Some((d, deliveries::attempts(c, &id)?)),
                None => None,
            })
        })
        .await?
        .ok_or(Error::NotFound(Missing::Delivery))
}
